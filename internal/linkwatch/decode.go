package linkwatch

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"slices"
	"sort"

	"github.com/mcast-proxy/mcast-proxy/internal/format"
)

// Linux rtnetlink ABI numbers (linux/netlink.h, rtnetlink.h, if_link.h,
// if_addr.h, if.h). They are spelled out here, not taken from x/sys/unix, so
// the decoder and its tests build and run on any GOOS and GOARCH.
const (
	nlmsgHdrLen   = 16 // struct nlmsghdr
	ifinfomsgLen  = 16 // struct ifinfomsg
	ifaddrmsgLen  = 8  // struct ifaddrmsg
	rtattrHdrLen  = 4  // struct rtattr
	nlmsgError    = 2  // NLMSG_ERROR
	nlmsgDone     = 3  // NLMSG_DONE
	nlmFDumpIntr  = 0x10
	rtmNewLink    = 16
	rtmNewAddr    = 20
	iflaIfname    = 3
	ifaAddress    = 1
	ifaLocal      = 2
	afInet        = 2
	afInet6       = 10
	iffUp         = 0x1
	iffRunning    = 0x40
	nlmsgAlignTo  = 4
	nlmsgErrorLen = 4 // the errno that starts struct nlmsgerr
)

// errMalformed marks bytes that are not a well-formed netlink message.
var errMalformed = errors.New("linkwatch: malformed netlink message")

// errDumpInterrupted means the kernel's tables changed while it dumped them
// (NLM_F_DUMP_INTR), so the dump may be inconsistent and must be repeated.
var errDumpInterrupted = errors.New("linkwatch: dump interrupted by a change")

func align(n int) int { return (n + nlmsgAlignTo - 1) &^ (nlmsgAlignTo - 1) }

// message is one netlink message; data is its payload after the header.
type message struct {
	typ   uint16
	flags uint16
	seq   uint32
	pid   uint32
	data  []byte
}

// splitMessages cuts a datagram into netlink messages, honouring each
// header's length; a length that does not fit is an error, not a truncation.
func splitMessages(b []byte, order binary.ByteOrder) ([]message, error) {
	var msgs []message
	for len(b) > 0 {
		if len(b) < nlmsgHdrLen {
			return nil, format.Errorf("%w: %d bytes left, header needs %d", errMalformed, len(b), nlmsgHdrLen)
		}
		n := int(order.Uint32(b[0:4]))
		if n < nlmsgHdrLen || n > len(b) {
			return nil, format.Errorf("%w: length %d with %d bytes left", errMalformed, n, len(b))
		}
		msgs = append(msgs, message{
			typ:   order.Uint16(b[4:6]),
			flags: order.Uint16(b[6:8]),
			seq:   order.Uint32(b[8:12]),
			pid:   order.Uint32(b[12:16]),
			data:  b[nlmsgHdrLen:n],
		})
		// The last message of a datagram may lack its trailing padding.
		b = b[min(align(n), len(b)):]
	}
	return msgs, nil
}

// decodeError returns the errno of an NLMSG_ERROR payload; 0 is an ACK.
func decodeError(data []byte, order binary.ByteOrder) (int32, error) {
	if len(data) < nlmsgErrorLen {
		return 0, format.Errorf("%w: error message of %d bytes", errMalformed, len(data))
	}
	return -int32(order.Uint32(data[0:4])), nil
}

// attrs walks the rtattr list in b and calls f for each attribute.
func attrs(b []byte, order binary.ByteOrder, f func(typ uint16, val []byte)) error {
	for len(b) > 0 {
		if len(b) < rtattrHdrLen {
			return format.Errorf("%w: %d bytes left, attribute header needs %d", errMalformed, len(b), rtattrHdrLen)
		}
		n := int(order.Uint16(b[0:2]))
		if n < rtattrHdrLen || n > len(b) {
			return format.Errorf("%w: attribute length %d with %d bytes left", errMalformed, n, len(b))
		}
		// The top bits mark nested and network-order attributes.
		f(order.Uint16(b[2:4])&0x3fff, b[rtattrHdrLen:n])
		b = b[min(align(n), len(b)):]
	}
	return nil
}

// rawLink is what an RTM_NEWLINK message says about a link.
type rawLink struct {
	index int
	name  string
	flags uint32
}

// decodeLink parses the payload of an RTM_NEWLINK message.
func decodeLink(data []byte, order binary.ByteOrder) (rawLink, error) {
	if len(data) < ifinfomsgLen {
		return rawLink{}, format.Errorf("%w: ifinfomsg of %d bytes", errMalformed, len(data))
	}
	l := rawLink{
		index: int(int32(order.Uint32(data[4:8]))),
		flags: order.Uint32(data[8:12]),
	}
	err := attrs(data[ifinfomsgLen:], order, func(typ uint16, val []byte) {
		if typ == iflaIfname {
			// A NUL-terminated string.
			if i := slices.Index(val, 0); i >= 0 {
				val = val[:i]
			}
			l.name = string(val)
		}
	})
	if err != nil {
		return rawLink{}, err
	}
	if l.index <= 0 || l.name == "" {
		return rawLink{}, format.Errorf("%w: link without index or name (index %d, name %q)", errMalformed, l.index, l.name)
	}
	return l, nil
}

// rawAddr is what an RTM_NEWADDR message says about an address.
type rawAddr struct {
	index  int
	prefix netip.Prefix
}

// decodeAddr parses the payload of an RTM_NEWADDR message. IFA_LOCAL is the
// interface's own address; IFA_ADDRESS is the peer's on point-to-point links
// (PPPoE) and the own address otherwise, so it is only the fallback. ok is
// false for families other than IPv4 and IPv6.
func decodeAddr(data []byte, order binary.ByteOrder) (a rawAddr, ok bool, err error) {
	if len(data) < ifaddrmsgLen {
		return rawAddr{}, false, format.Errorf("%w: ifaddrmsg of %d bytes", errMalformed, len(data))
	}
	family, bits := data[0], int(data[1])
	index := int(order.Uint32(data[4:8]))
	var size int
	switch family {
	case afInet:
		size = 4
	case afInet6:
		size = 16
	default:
		return rawAddr{}, false, nil
	}
	var local, address []byte
	err = attrs(data[ifaddrmsgLen:], order, func(typ uint16, val []byte) {
		switch typ {
		case ifaLocal:
			local = val
		case ifaAddress:
			address = val
		}
	})
	if err != nil {
		return rawAddr{}, false, err
	}
	raw := local
	if raw == nil {
		raw = address
	}
	if len(raw) != size {
		return rawAddr{}, false, format.Errorf("%w: family %d address of %d bytes", errMalformed, family, len(raw))
	}
	ip, _ := netip.AddrFromSlice(raw)
	if bits > ip.BitLen() {
		return rawAddr{}, false, format.Errorf("%w: prefix length %d for %s", errMalformed, bits, ip)
	}
	return rawAddr{index: index, prefix: netip.PrefixFrom(ip, bits)}, true, nil
}

// dumpReader collects the messages of one netlink dump, answering to request
// seq. The socket is unicast only, so every reply is to this socket.
type dumpReader struct {
	seq  uint32
	done bool
	msgs []message
}

// add takes one datagram of the reply; it reports an NLMSG_ERROR as an errno
// and NLM_F_DUMP_INTR as errDumpInterrupted.
func (d *dumpReader) add(b []byte, order binary.ByteOrder) error {
	msgs, err := splitMessages(b, order)
	if err != nil {
		return err
	}
	for _, m := range msgs {
		if m.seq != d.seq {
			// A late reply to an earlier, abandoned request.
			continue
		}
		if m.flags&nlmFDumpIntr != 0 {
			return errDumpInterrupted
		}
		switch m.typ {
		case nlmsgDone:
			d.done = true
			return nil
		case nlmsgError:
			errno, err := decodeError(m.data, order)
			if err != nil {
				return err
			}
			if errno != 0 {
				return errnoError(errno)
			}
			d.done = true
			return nil
		default:
			d.msgs = append(d.msgs, m)
		}
	}
	return nil
}

// errnoError is a kernel error number from an NLMSG_ERROR reply; the linux
// file turns it into a syscall.Errno so errors.Is works.
type errnoError int32

func (e errnoError) Error() string { return format.Sprintf("linkwatch: netlink error %d", int32(e)) }

// buildSnapshot joins the messages of a link dump and an address dump. An
// address whose link is not in the link dump (created between the two dumps)
// is left out: its notification triggers the next snapshot.
func buildSnapshot(linkMsgs, addrMsgs []message, order binary.ByteOrder) (Snapshot, error) {
	byIndex := make(map[int]*Link)
	for _, m := range linkMsgs {
		if m.typ != rtmNewLink {
			continue
		}
		l, err := decodeLink(m.data, order)
		if err != nil {
			return nil, err
		}
		byIndex[l.index] = &Link{
			Index: l.index,
			Name:  l.name,
			Up:    l.flags&(iffUp|iffRunning) == iffUp|iffRunning,
			Flags: l.flags,
		}
	}
	for _, m := range addrMsgs {
		if m.typ != rtmNewAddr {
			continue
		}
		a, ok, err := decodeAddr(m.data, order)
		if err != nil {
			return nil, err
		}
		if l := byIndex[a.index]; ok && l != nil {
			l.Addrs = append(l.Addrs, a.prefix)
		}
	}
	s := make(Snapshot, len(byIndex))
	for _, l := range byIndex {
		sort.Slice(l.Addrs, func(i, j int) bool { return comparePrefix(l.Addrs[i], l.Addrs[j]) < 0 })
		s[l.Name] = *l
	}
	return s, nil
}
