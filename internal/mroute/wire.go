package mroute

import (
	"encoding/binary"
	"errors"
	"net/netip"

	"github.com/mcast-proxy/mcast-proxy/internal/format"
	"github.com/mcast-proxy/mcast-proxy/internal/igmp"
	"github.com/mcast-proxy/mcast-proxy/internal/rawsys"
)

const (
	// viffUseIfindex makes vifctl carry an ifindex instead of a local address,
	// so interfaces without an IPv4 address can still be VIFs.
	viffUseIfindex = 0x8

	sizeofVIFCtl  = 16 // the kernel requires exactly this option length
	sizeofMFCCtl  = 60 // likewise
	sizeofIGMPMsg = 20
	sizeofPktinfo = 12 // struct in_pktinfo

	ipProtoIGMP     = 2
	ipOptEOL        = 0
	ipOptNOP        = 1
	ipOptRouterAlt  = 148 // RFC 2113 §2.1: copied flag set, class 0, number 20
	ipHeaderLen     = 20
	igmpHeaderLen   = ipHeaderLen + 4 // with the 4-byte Router Alert option
	igmpTTL         = 1               // RFC 3376 §4: IGMP messages are sent with TTL 1
	igmpTOS         = 0xc0            // internetwork control precedence, as other IGMP routers send
	upcallProtoByte = 0               // the kernel zeroes the protocol byte (igmpmsg.im_mbz) of upcalls
)

// encodeVIFCtl builds struct vifctl for MRT_ADD_VIF/MRT_DEL_VIF with
// VIFF_USE_IFINDEX: vifi u16 @0, flags u8 @2, threshold u8 @3, rate_limit u32
// @4 (unused by Linux, left 0), lcl_ifindex int @8, rmt_addr @12 (unused).
func encodeVIFCtl(order binary.ByteOrder, vif, threshold, ifindex int) []byte {
	b := make([]byte, sizeofVIFCtl)
	order.PutUint16(b[0:], uint16(vif))
	b[2] = viffUseIfindex
	b[3] = uint8(threshold)
	order.PutUint32(b[8:], uint32(int32(ifindex)))
	return b
}

// encodeMFCCtl builds struct mfcctl for MRT_ADD_MFC/MRT_DEL_MFC: origin @0,
// mcastgrp @4 (network order), parent u16 @8, ttls[32] @10, then padding and
// counters the kernel ignores on input. ttls[v] is the TTL a packet must exceed
// to leave on VIF v; 0 means not forwarded there. It writes into b when b
// has room (the routing socket reuses one buffer for every entry).
func encodeMFCCtl(b []byte, order binary.ByteOrder, src, grp netip.Addr, parent int, ttls *[MaxVIFs]uint8) []byte {
	b = rawsys.OptionValue(b, sizeofMFCCtl)
	s, g := src.As4(), grp.As4()
	copy(b[0:4], s[:])
	copy(b[4:8], g[:])
	order.PutUint16(b[8:], uint16(parent))
	copy(b[10:10+MaxVIFs], ttls[:])
	return b
}

// encodeSGReq builds struct sioc_sg_req for SIOCGETSGCNT: src @0, grp @4, then
// pktcnt, bytecnt and wrong_if as unsigned long, so the size depends on the
// word size (4 or 8 bytes).
func encodeSGReq(b []byte, src, grp netip.Addr, wordSize int) []byte {
	b = rawsys.OptionValue(b, 8+3*wordSize)
	s, g := src.As4(), grp.As4()
	copy(b[0:4], s[:])
	copy(b[4:8], g[:])
	return b
}

// decodeSGReq reads the counters the kernel filled into a sioc_sg_req.
func decodeSGReq(order binary.ByteOrder, wordSize int, b []byte) (Counters, error) {
	if wordSize != 4 && wordSize != 8 {
		return Counters{}, format.Errorf("mroute: sioc_sg_req: word size %d", wordSize)
	}
	if len(b) != 8+3*wordSize {
		return Counters{}, format.Errorf("mroute: sioc_sg_req: %d bytes, want %d", len(b), 8+3*wordSize)
	}
	word := func(i int) uint64 {
		off := 8 + i*wordSize
		if wordSize == 4 {
			return uint64(order.Uint32(b[off:]))
		}
		return order.Uint64(b[off:])
	}
	return Counters{Packets: word(0), Bytes: word(1), WrongIf: word(2)}, nil
}

// decodeUpcall reads struct igmpmsg, which the kernel writes over a copy of
// the packet's IP header: msgtype in the TTL byte @8, mbz in the protocol byte
// @9, vif @10 in the checksum, src @12, dst @16. Every field is a byte or an
// address, so no host byte order is involved.
//
// Byte 11 is vif_hi only since Linux 5.10; before (OpenWrt 21.02 runs 5.4)
// it is unused3 and keeps the low byte of the original checksum. VIF
// numbers are below MAXVIFS (32) on every kernel, so vif_hi is zero where
// it exists and byte 11 is never read.
func decodeUpcall(b []byte) (Upcall, error) {
	if len(b) < sizeofIGMPMsg {
		return Upcall{}, format.Errorf("%w: upcall of %d bytes, want at least %d", ErrMalformed, len(b), sizeofIGMPMsg)
	}
	if b[9] != upcallProtoByte {
		return Upcall{}, format.Errorf("%w: upcall with non-zero mbz %d", ErrMalformed, b[9])
	}
	t := int(b[8])
	if t < UpcallNoCache || t > UpcallWrVIFWhole {
		return Upcall{}, format.Errorf("%w: unknown upcall type %d", ErrMalformed, t)
	}
	if b[10] >= MaxVIFs {
		return Upcall{}, format.Errorf("%w: upcall for vif %d, beyond MAXVIFS %d", ErrMalformed, b[10], MaxVIFs)
	}
	return Upcall{
		Type:   t,
		VIF:    int(b[10]),
		Source: netip.AddrFrom4([4]byte(b[12:16])),
		Group:  netip.AddrFrom4([4]byte(b[16:20])),
	}, nil
}

// decodePktinfo reads ipi_ifindex from struct in_pktinfo (ifindex int @0,
// spec_dst @4, addr @8).
func decodePktinfo(order binary.ByteOrder, b []byte) (int, error) {
	if len(b) < sizeofPktinfo {
		return 0, format.Errorf("mroute: in_pktinfo of %d bytes, want %d", len(b), sizeofPktinfo)
	}
	return int(int32(order.Uint32(b[0:4]))), nil
}

// ipHeader is what Read needs from a received IPv4 header.
type ipHeader struct {
	src, dst    netip.Addr
	ttl         int
	protocol    int
	routerAlert bool
	headerLen   int // IHL in bytes, options included
	totalLen    int
}

// parseIPv4Header checks and reads an IPv4 header with its options. The
// checksum is verified unless the header is an upcall, whose checksum bytes
// the kernel reuses for the VIF number.
func parseIPv4Header(b []byte, verifyChecksum bool) (ipHeader, error) {
	if len(b) < ipHeaderLen {
		return ipHeader{}, format.Errorf("%w: %d bytes, shorter than an ip header", ErrMalformed, len(b))
	}
	if v := b[0] >> 4; v != 4 {
		return ipHeader{}, format.Errorf("%w: ip version %d", ErrMalformed, v)
	}
	hl := int(b[0]&0x0f) * 4
	if hl < ipHeaderLen || hl > len(b) {
		return ipHeader{}, format.Errorf("%w: ip header length %d with %d bytes read", ErrMalformed, hl, len(b))
	}
	total := int(binary.BigEndian.Uint16(b[2:4]))
	if total < hl || total > len(b) {
		return ipHeader{}, format.Errorf("%w: ip total length %d, header %d, %d bytes read", ErrMalformed, total, hl, len(b))
	}
	if verifyChecksum && igmp.Checksum(b[:hl]) != 0 {
		return ipHeader{}, format.Errorf("%w: bad ip header checksum", ErrMalformed)
	}
	ra, err := scanOptions(b[ipHeaderLen:hl])
	if err != nil {
		return ipHeader{}, err
	}
	return ipHeader{
		src:         netip.AddrFrom4([4]byte(b[12:16])),
		dst:         netip.AddrFrom4([4]byte(b[16:20])),
		ttl:         int(b[8]),
		protocol:    int(b[9]),
		routerAlert: ra,
		headerLen:   hl,
		totalLen:    total,
	}, nil
}

// scanOptions walks IPv4 options (RFC 791 §3.1) and reports whether Router
// Alert (RFC 2113) is among them.
func scanOptions(opts []byte) (routerAlert bool, err error) {
	for i := 0; i < len(opts); {
		switch opts[i] {
		case ipOptEOL:
			return routerAlert, nil
		case ipOptNOP:
			i++
			continue
		}
		if i+1 >= len(opts) {
			return false, format.Errorf("%w: ip option %d without length", ErrMalformed, opts[i])
		}
		n := int(opts[i+1])
		if n < 2 || i+n > len(opts) {
			return false, format.Errorf("%w: ip option %d with length %d", ErrMalformed, opts[i], n)
		}
		if opts[i] == ipOptRouterAlt {
			// RFC 2113 §2.1: length 4, value 0 means "examine packet".
			if n != 4 {
				return false, format.Errorf("%w: router alert option with length %d", ErrMalformed, n)
			}
			routerAlert = true
		}
		i += n
	}
	return routerAlert, nil
}

// buildIGMPPacket prepends our own IPv4 header to an IGMP message: TTL 1,
// TOS 0xc0, protocol 2, the Router Alert option (RFC 2113; RFC 3376 §4 and
// RFC 2236 §2 require it on IGMP) and a header checksum. An invalid or
// unspecified src leaves the source zero, which the kernel fills with the
// egress interface's address.
func buildIGMPPacket(src, dst netip.Addr, payload []byte) ([]byte, error) {
	if !dst.Is4() {
		return nil, format.Errorf("mroute: igmp destination %s is not ipv4", dst)
	}
	if src.IsValid() && !src.Is4() {
		return nil, format.Errorf("mroute: igmp source %s is not ipv4", src)
	}
	total := igmpHeaderLen + len(payload)
	if total > 0xffff {
		return nil, errors.New("mroute: igmp message too long")
	}
	b := make([]byte, total)
	b[0] = 4<<4 | igmpHeaderLen/4
	b[1] = igmpTOS
	binary.BigEndian.PutUint16(b[2:], uint16(total))
	// Identification 0 asks the kernel to pick one; no fragmentation flags.
	b[8] = igmpTTL
	b[9] = ipProtoIGMP
	if src.IsValid() {
		s := src.As4()
		copy(b[12:16], s[:])
	}
	d := dst.As4()
	copy(b[16:20], d[:])
	copy(b[20:24], []byte{ipOptRouterAlt, 4, 0, 0})
	binary.BigEndian.PutUint16(b[10:], igmp.Checksum(b[:igmpHeaderLen]))
	copy(b[igmpHeaderLen:], payload)
	return b, nil
}
