package mroute

import (
	"encoding/binary"
	"fmt"
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
}

func (r Rule) String() string {
	s := fmt.Sprintf("ipv%d", r.Family)
	if r.Iif != "" {
		s += " iif " + r.Iif
	}
	if r.Oif != "" {
		s += " oif " + r.Oif
	}
	return fmt.Sprintf("%s lookup %d pref %d", s, r.Table, r.Priority)
}

// Rule netlink numbers (linux/rtnetlink.h, fib_rules.h, netlink.h); spelled
// out so the encoder and its tests build on any GOOS.
const (
	rtmNewRule       = 32
	rtmDelRule       = 33
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
		return nil, fmt.Errorf("mroute: rule %s: family must be 4 or 6", r)
	}
	if r.Table == 0 {
		return nil, fmt.Errorf("mroute: rule %s: no table", r)
	}
	for _, name := range []string{r.Iif, r.Oif} {
		if len(name) >= ifNameSize {
			return nil, fmt.Errorf("mroute: rule %s: interface name %q too long", r, name)
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
	hdr := order.AppendUint32(nil, uint32(len(b)))
	hdr = order.AppendUint16(hdr, typ)
	hdr = order.AppendUint16(hdr, flags)
	hdr = order.AppendUint32(hdr, seq)
	hdr = order.AppendUint32(hdr, 0) // to the kernel
	copy(b, hdr)
	return b, nil
}
