package mroute

import (
	"bytes"
	"encoding/binary"

	"github.com/mcast-proxy/mcast-proxy/internal/format"
)

// Rule is a multicast routing rule: traffic that arrives on Iif or leaves by
// Oif is routed with the multicast table Table instead of the default one. It
// is what `ip mrule add iif IFNAME lookup N` (Family 4) or `ip -6 mrule ...`
// (Family 6) installs, and lets mcast-proxy run on its own table beside
// smcroute or pimd owning the default table.
type Rule struct {
	Family int    // 4 or 6
	Iif    string // match the arrival interface; empty matches any
	Oif    string // match the departure interface; empty matches any
	Table  uint32 // the multicast routing table to use, not 0
	// Priority orders the rules, lowest first; the kernel's catch-all rule
	// for the default table sits at 32767. It is always sent, so adding the
	// same rule twice is recognised as a duplicate rather than stacked.
	Priority uint32
	// Protocol, when not 0, marks who installed the rule (FRA_PROTOCOL,
	// "proto N" in ip mrule), so that the owner finds its rules again
	// after a crash (Rules).
	Protocol uint8
}

func (r Rule) String() string {
	s := format.Sprintf("ipv%d", r.Family)
	if r.Iif != "" {
		s += " iif " + r.Iif
	}
	if r.Oif != "" {
		s += " oif " + r.Oif
	}
	s = format.Sprintf("%s lookup %d pref %d", s, r.Table, r.Priority)
	if r.Protocol != 0 {
		s += format.Sprintf(" proto %d", r.Protocol)
	}
	return s
}

// Rule netlink numbers (linux/rtnetlink.h, fib_rules.h, netlink.h); spelled
// out so the encoder and its tests build on any GOOS.
const (
	rtmNewRule       = 32
	rtmDelRule       = 33
	rtmGetRule       = 34
	nlmFDump         = 0x300
	nlmFRequest      = 0x1
	nlmFAck          = 0x4
	nlmFExcl         = 0x200
	nlmFCreate       = 0x400
	rtnlFamilyIPMR   = 128 // RTNL_FAMILY_IPMR
	rtnlFamilyIP6MR  = 129 // RTNL_FAMILY_IP6MR
	fraIifname       = 3
	fraPriority      = 6
	fraTable         = 15
	fraOifname       = 17
	fraProtocol      = 21
	frActToTbl       = 1
	fibRuleHdrLen    = 12 // struct fib_rule_hdr
	nlmsgHdrLen      = 16 // struct nlmsghdr
	rtTableMaxInHdr  = 255
	ifNameSize       = 16 // IFNAMSIZ, including the NUL
	rtattrHdrLen     = 4
	netlinkAlignment = 4
)

// encodeRule builds the RTM_NEWRULE or RTM_DELRULE request for r. Adding uses
// NLM_F_EXCL, so an identical rule already present is reported as EEXIST
// instead of being installed a second time.
func encodeRule(typ uint16, seq uint32, r Rule, order binary.AppendByteOrder) ([]byte, error) {
	var family byte
	switch r.Family {
	case 4:
		family = rtnlFamilyIPMR
	case 6:
		family = rtnlFamilyIP6MR
	default:
		return nil, format.Errorf("mroute: rule %s: family must be 4 or 6", r)
	}
	if r.Table == 0 {
		return nil, format.Errorf("mroute: rule %s: no table", r)
	}
	for _, name := range []string{r.Iif, r.Oif} {
		if len(name) >= ifNameSize {
			return nil, format.Errorf("mroute: rule %s: interface name %q too long", r, name)
		}
	}
	flags := uint16(nlmFRequest | nlmFAck)
	if typ == rtmNewRule {
		flags |= nlmFCreate | nlmFExcl
	}
	b := make([]byte, nlmsgHdrLen, 64)
	// fib_rule_hdr: family, dst_len, src_len, tos, table, res1, res2, action,
	// flags. Tables above 255 travel only in FRA_TABLE, as iproute2 does.
	var table byte
	if r.Table <= rtTableMaxInHdr {
		table = byte(r.Table)
	}
	b = append(b, family, 0, 0, 0, table, 0, 0, frActToTbl)
	b = order.AppendUint32(b, 0)
	attr := func(typ uint16, val []byte) {
		b = order.AppendUint16(b, uint16(rtattrHdrLen+len(val)))
		b = order.AppendUint16(b, typ)
		b = append(b, val...)
		for len(b)%netlinkAlignment != 0 {
			b = append(b, 0)
		}
	}
	if r.Iif != "" {
		attr(fraIifname, append([]byte(r.Iif), 0))
	}
	if r.Oif != "" {
		attr(fraOifname, append([]byte(r.Oif), 0))
	}
	attr(fraTable, order.AppendUint32(nil, r.Table))
	attr(fraPriority, order.AppendUint32(nil, r.Priority))
	if r.Protocol != 0 {
		attr(fraProtocol, []byte{r.Protocol})
	}
	hdr := order.AppendUint32(nil, uint32(len(b)))
	hdr = order.AppendUint16(hdr, typ)
	hdr = order.AppendUint16(hdr, flags)
	hdr = order.AppendUint32(hdr, seq)
	hdr = order.AppendUint32(hdr, 0) // to the kernel
	copy(b, hdr)
	return b, nil
}

// encodeRuleDump builds the RTM_GETRULE request that lists every rule of a
// family (4 or 6).
func encodeRuleDump(family int, seq uint32, order binary.AppendByteOrder) []byte {
	fam := byte(rtnlFamilyIPMR)
	if family == 6 {
		fam = rtnlFamilyIP6MR
	}
	b := order.AppendUint32(nil, nlmsgHdrLen+fibRuleHdrLen)
	b = order.AppendUint16(b, rtmGetRule)
	b = order.AppendUint16(b, nlmFRequest|nlmFDump)
	b = order.AppendUint32(b, seq)
	b = order.AppendUint32(b, 0)
	b = append(b, fam, 0, 0, 0, 0, 0, 0, 0)
	return order.AppendUint32(b, 0)
}

// decodeRule reads one rule of a dump: data is the message after its
// netlink header (a fib_rule_hdr and its attributes). ok is false for a
// message too short or malformed, or of another family than the multicast
// ones; attributes it does not know are skipped.
func decodeRule(data []byte, order binary.ByteOrder) (r Rule, ok bool) {
	if len(data) < fibRuleHdrLen {
		return Rule{}, false
	}
	switch data[0] {
	case rtnlFamilyIPMR:
		r.Family = 4
	case rtnlFamilyIP6MR:
		r.Family = 6
	default:
		return Rule{}, false
	}
	r.Table = uint32(data[4])
	for b := data[fibRuleHdrLen:]; len(b) >= rtattrHdrLen; {
		n := int(order.Uint16(b))
		if n < rtattrHdrLen || n > len(b) {
			return Rule{}, false
		}
		typ, val := order.Uint16(b[2:])&0x3fff, b[rtattrHdrLen:n]
		switch typ {
		case fraIifname, fraOifname:
			name := string(bytes.TrimRight(val, "\x00"))
			if typ == fraIifname {
				r.Iif = name
			} else {
				r.Oif = name
			}
		case fraTable:
			if len(val) >= 4 {
				r.Table = order.Uint32(val)
			}
		case fraPriority:
			if len(val) >= 4 {
				r.Priority = order.Uint32(val)
			}
		case fraProtocol:
			if len(val) >= 1 {
				r.Protocol = val[0]
			}
		}
		adv := (n + netlinkAlignment - 1) &^ (netlinkAlignment - 1)
		if adv > len(b) {
			break
		}
		b = b[adv:]
	}
	return r, true
}
