package upstream

import (
	"encoding/binary"
	"math/bits"
	"net/netip"

	"github.com/mcast-proxy/mcast-proxy/internal/rawsys"
)

// Linux ABI numbers (linux/socket.h, linux/in.h, linux/in6.h). They are the
// same on every Linux architecture and are spelled out here so the encoders
// and their tests build on any OS.
const (
	afInet  = 2
	afInet6 = 10

	levelIP   = 0  // IPPROTO_IP
	levelIPv6 = 41 // IPPROTO_IPV6

	optJoinGroup       = 42 // MCAST_JOIN_GROUP
	optLeaveGroup      = 45 // MCAST_LEAVE_GROUP
	optJoinSourceGroup = 46 // MCAST_JOIN_SOURCE_GROUP
	optMSFilter        = 48 // MCAST_MSFILTER

	fmodeExclude = 0 // MCAST_EXCLUDE
	fmodeInclude = 1 // MCAST_INCLUDE

	storageLen = 128 // sizeof(struct __kernel_sockaddr_storage)
)

// abi describes how the C structs are laid out on one architecture. The
// sockaddr_storage members are aligned like a pointer, so after the leading
// 32-bit interface index they start at offset 4 on 32-bit and 8 on 64-bit
// machines. Integer fields are in host byte order, addresses and ports in
// network order.
type abi struct {
	order binary.ByteOrder
	word  int // pointer size in bytes: 4 or 8
}

// nativeABI is the layout of the machine we run on.
var nativeABI = abi{order: binary.NativeEndian, word: bits.UintSize / 8}

// putSockaddr writes a sockaddr_in or sockaddr_in6 with port, flow info and
// scope id zero into b, which must hold storageLen bytes.
func (a abi) putSockaddr(b []byte, addr netip.Addr) {
	clear(b[:storageLen])
	if addr.Is4() {
		a.order.PutUint16(b[0:], afInet)
		ip := addr.As4()
		copy(b[4:8], ip[:]) // sin_addr after sin_port
		return
	}
	a.order.PutUint16(b[0:], afInet6)
	ip := addr.As16()
	copy(b[8:24], ip[:]) // sin6_addr after sin6_port and sin6_flowinfo
}

// storageOff is the offset of the first sockaddr_storage in group_req,
// group_source_req and group_filter.
func (a abi) storageOff() int { return a.word }

// groupReq encodes struct group_req for MCAST_JOIN_GROUP and
// MCAST_LEAVE_GROUP into buf (see rawsys.OptionValue).
func (a abi) groupReq(buf []byte, ifindex int, group netip.Addr) []byte {
	off := a.storageOff()
	b := rawsys.OptionValue(buf, off+storageLen)
	a.order.PutUint32(b, uint32(ifindex))
	a.putSockaddr(b[off:], group)
	return b
}

// groupSourceReq encodes struct group_source_req for the
// MCAST_{JOIN,LEAVE}_SOURCE_GROUP and MCAST_{BLOCK,UNBLOCK}_SOURCE options,
// into buf.
func (a abi) groupSourceReq(buf []byte, ifindex int, group, source netip.Addr) []byte {
	off := a.storageOff()
	b := rawsys.OptionValue(buf, off+2*storageLen)
	a.order.PutUint32(b, uint32(ifindex))
	a.putSockaddr(b[off:], group)
	a.putSockaddr(b[off+storageLen:], source)
	return b
}

// groupFilterHdr is GROUP_FILTER_SIZE(0): the header before gf_slist.
func (a abi) groupFilterHdr() int { return a.storageOff() + storageLen + 8 }

// groupFilter encodes struct group_filter for MCAST_MSFILTER, sized exactly
// GROUP_FILTER_SIZE(len(sources)) as the kernel checks, into buf.
func (a abi) groupFilter(buf []byte, ifindex int, group netip.Addr, mode Mode, sources []netip.Addr) []byte {
	hdr := a.groupFilterHdr()
	b := rawsys.OptionValue(buf, hdr+len(sources)*storageLen)
	a.order.PutUint32(b, uint32(ifindex))
	off := a.storageOff()
	a.putSockaddr(b[off:], group)
	fmode := uint32(fmodeInclude)
	if mode == Exclude {
		fmode = fmodeExclude
	}
	a.order.PutUint32(b[off+storageLen:], fmode)
	a.order.PutUint32(b[off+storageLen+4:], uint32(len(sources)))
	for i, s := range sources {
		a.putSockaddr(b[hdr+i*storageLen:], s)
	}
	return b
}
