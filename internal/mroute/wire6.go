package mroute

import (
	"encoding/binary"
	"net/netip"

	"github.com/mcast-proxy/mcast-proxy/internal/format"
	"github.com/mcast-proxy/mcast-proxy/internal/rawsys"
)

const (
	sizeofMIF6Ctl      = 12
	sizeofMF6CCtl      = 92
	sizeofMRT6Msg      = 40
	sizeofSockaddrIn6  = 28
	sizeofPktinfo6     = 20  // struct in6_pktinfo: addr @0, ifindex u32 @16
	sizeofICMP6Filter  = 32  // struct icmp6_filter: 8 x u32
	ifSetWords         = 8   // struct if_set: IF_SETSIZE 256 bits in u32 words
	afInet6            = 10  // AF_INET6 on Linux, every architecture
	icmp6FilterOpt     = 1   // ICMPV6_FILTER at level IPPROTO_ICMPV6 (linux/icmpv6.h)
	hopOptRouterAlert  = 5   // RFC 2711 §2.1: option type 5, length 2
	hopOptPad1         = 0   // RFC 8200 §4.2: a single zero byte
	routerAlertMLD     = 0   // RFC 2711 §2.1: value 0, "datagram contains a Multicast Listener Discovery message"
	upcall6MbzByte     = 0   // mrt6msg.im6_mbz; ICMPv6 type 0 is reserved and our filter blocks it anyway
	icmp6TypeMLDQuery  = 130 // RFC 3810 §5.1 (and RFC 2710 §3.6)
	icmp6TypeMLDv1Rep  = 131 // RFC 2710 §3.7
	icmp6TypeMLDv1Done = 132 // RFC 2710 §3.8
	icmp6TypeMLDv2Rep  = 143 // RFC 3810 §5.2
)

// mldTypes are the ICMPv6 types the routing socket lets through its filter:
// everything the router side of MLD needs and nothing else (no ND, no echo).
// Kernel upcalls are queued straight onto the socket and bypass the filter.
var mldTypes = []uint8{icmp6TypeMLDQuery, icmp6TypeMLDv1Rep, icmp6TypeMLDv1Done, icmp6TypeMLDv2Rep}

// routerAlertHopByHop is the sticky hop-by-hop extension header for what we
// send: MLD messages must carry Router Alert (RFC 3810 §5, RFC 2710 §3) so
// routers that are not members still process them. Next header (the kernel
// fills it in), length 0 (8 bytes), Router Alert 05 02 00 00 (value 0: MLD),
// then PadN 01 00 to the 8-byte boundary (RFC 8200 §4.2).
var routerAlertHopByHop = [8]byte{0, 0, hopOptRouterAlert, 2, 0, routerAlertMLD, 1, 0}

// encodeMIF6Ctl builds struct mif6ctl for MRT6_ADD_MIF/MRT6_DEL_MIF: mifi u16
// @0, flags u8 @2 (0: a plain interface, not the PIM register MIF), threshold
// u8 @3, pifi u16 @4, padding, rate_limit u32 @8 (unused by Linux, left 0).
func encodeMIF6Ctl(order binary.ByteOrder, mif, threshold, ifindex int) []byte {
	b := make([]byte, sizeofMIF6Ctl)
	order.PutUint16(b[0:], uint16(mif))
	b[3] = uint8(threshold)
	order.PutUint16(b[4:], uint16(ifindex))
	return b
}

// putSockaddrIn6 writes struct sockaddr_in6 (family u16 in host order @0,
// port @2, flowinfo @4, address @8, scope id @24) with only family and
// address set: ip6mr keys its entries on the addresses alone.
func putSockaddrIn6(order binary.ByteOrder, b []byte, addr netip.Addr) {
	order.PutUint16(b[0:], afInet6)
	a := addr.As16()
	copy(b[8:24], a[:])
}

// encodeMF6CCtl builds struct mf6cctl for MRT6_ADD_MFC/MRT6_DEL_MFC: origin
// sockaddr_in6 @0, mcastgrp sockaddr_in6 @28, parent u16 @56, 2 bytes of
// padding, if_set @60. MIF n is bit n%32 of the host-order u32 word n/32 of
// if_set (IF_SET in linux/mroute6.h), so on a big-endian machine MIF 0 sits in
// the last byte of the first word. Unlike IPv4 there is no per-output TTL: the
// kernel gives every output a threshold of 1. It writes into b when b has
// room.
func encodeMF6CCtl(b []byte, order binary.ByteOrder, src, grp netip.Addr, parent int, outputs []int) ([]byte, error) {
	b = rawsys.OptionValue(b, sizeofMF6CCtl)
	putSockaddrIn6(order, b[0:], src)
	putSockaddrIn6(order, b[sizeofSockaddrIn6:], grp)
	order.PutUint16(b[56:], uint16(parent))
	var set [ifSetWords]uint32
	for _, mif := range outputs {
		if mif < 0 || mif >= ifSetWords*32 {
			return nil, format.Errorf("mroute: mf6cctl: mif %d outside if_set", mif)
		}
		set[mif/32] |= 1 << (mif % 32)
	}
	for i, w := range set {
		order.PutUint32(b[60+4*i:], w)
	}
	return b, nil
}

// encodeSGReq6 builds struct sioc_sg_req6 for SIOCGETSGCNT_IN6: sockaddr_in6
// src @0 and grp @28, then pktcnt, bytecnt and wrong_if as unsigned long @56,
// so the size is 68 bytes on 32-bit machines and 80 on 64-bit ones (56 is
// already 8-aligned, so no padding).
func encodeSGReq6(b []byte, order binary.ByteOrder, src, grp netip.Addr, wordSize int) []byte {
	b = rawsys.OptionValue(b, 2*sizeofSockaddrIn6+3*wordSize)
	putSockaddrIn6(order, b[0:], src)
	putSockaddrIn6(order, b[sizeofSockaddrIn6:], grp)
	return b
}

// decodeSGReq6 reads the counters the kernel filled into a sioc_sg_req6.
func decodeSGReq6(order binary.ByteOrder, wordSize int, b []byte) (Counters, error) {
	if wordSize != 4 && wordSize != 8 {
		return Counters{}, format.Errorf("mroute: sioc_sg_req6: word size %d", wordSize)
	}
	const off = 2 * sizeofSockaddrIn6
	if len(b) != off+3*wordSize {
		return Counters{}, format.Errorf("mroute: sioc_sg_req6: %d bytes, want %d", len(b), off+3*wordSize)
	}
	word := func(i int) uint64 {
		at := off + i*wordSize
		if wordSize == 4 {
			return uint64(order.Uint32(b[at:]))
		}
		return order.Uint64(b[at:])
	}
	return Counters{Packets: word(0), Bytes: word(1), WrongIf: word(2)}, nil
}

// decodeUpcall6 reads struct mrt6msg: mbz @0 (0, which tells it from an
// ICMPv6 message), msgtype @1, mif u16 in host order @2, padding @4, src @8,
// dst @24. For MRT6MSG_WHOLEPKT the packet follows; the header is all we use.
func decodeUpcall6(order binary.ByteOrder, b []byte) (Upcall, error) {
	if len(b) < sizeofMRT6Msg {
		return Upcall{}, format.Errorf("%w: mrt6msg of %d bytes, want at least %d", ErrMalformed, len(b), sizeofMRT6Msg)
	}
	if b[0] != upcall6MbzByte {
		return Upcall{}, format.Errorf("%w: mrt6msg with non-zero mbz %d", ErrMalformed, b[0])
	}
	t := int(b[1])
	if t < UpcallNoCache || t > UpcallWrVIFWhole {
		return Upcall{}, format.Errorf("%w: unknown mrt6msg type %d", ErrMalformed, t)
	}
	return Upcall{
		Type:   t,
		VIF:    int(order.Uint16(b[2:4])),
		Source: netip.AddrFrom16([16]byte(b[8:24])),
		Group:  netip.AddrFrom16([16]byte(b[24:40])),
	}, nil
}

// encodeICMP6Filter builds struct icmp6_filter passing only the given types.
// Linux's filter is a block list: ICMPv6 type t is dropped when bit t%32 of
// host-order u32 word t/32 is set (icmpv6_filter in net/ipv6/raw.c), so start
// from all ones and clear the bits of the types to pass.
func encodeICMP6Filter(order binary.ByteOrder, pass []uint8) []byte {
	var words [sizeofICMP6Filter / 4]uint32
	for i := range words {
		words[i] = ^uint32(0)
	}
	for _, t := range pass {
		words[t/32] &^= 1 << (t % 32)
	}
	b := make([]byte, sizeofICMP6Filter)
	for i, w := range words {
		order.PutUint32(b[4*i:], w)
	}
	return b
}

// decodePktinfo6 reads struct in6_pktinfo: the destination address @0 and the
// arrival ifindex u32 @16.
func decodePktinfo6(order binary.ByteOrder, b []byte) (dst netip.Addr, ifindex int, err error) {
	if len(b) < sizeofPktinfo6 {
		return netip.Addr{}, 0, format.Errorf("mroute: in6_pktinfo of %d bytes, want %d", len(b), sizeofPktinfo6)
	}
	return netip.AddrFrom16([16]byte(b[0:16])), int(order.Uint32(b[16:20])), nil
}

// decodeHopLimit reads the int of an IPV6_HOPLIMIT control message.
func decodeHopLimit(order binary.ByteOrder, b []byte) (int, error) {
	if len(b) < 4 {
		return 0, format.Errorf("mroute: ipv6 hop limit of %d bytes, want 4", len(b))
	}
	v := int(int32(order.Uint32(b)))
	if v < 0 || v > 255 {
		return 0, format.Errorf("mroute: ipv6 hop limit %d", v)
	}
	return v, nil
}

// scanHopByHop walks the hop-by-hop options header of an IPV6_HOPOPTS control
// message (RFC 8200 §4.3: next header, length in 8-byte units past the first
// 8, then options) and reports whether Router Alert (RFC 2711) is among them.
func scanHopByHop(b []byte) (routerAlert bool, err error) {
	if len(b) < 8 {
		return false, format.Errorf("mroute: hop-by-hop header of %d bytes", len(b))
	}
	n := (int(b[1]) + 1) * 8
	if n > len(b) {
		return false, format.Errorf("mroute: hop-by-hop header claims %d bytes, has %d", n, len(b))
	}
	opts := b[2:n]
	for i := 0; i < len(opts); {
		if opts[i] == hopOptPad1 {
			i++
			continue
		}
		if i+1 >= len(opts) {
			return false, format.Errorf("mroute: hop-by-hop option %d without length", opts[i])
		}
		l := int(opts[i+1])
		if i+2+l > len(opts) {
			return false, format.Errorf("mroute: hop-by-hop option %d with length %d past the header", opts[i], l)
		}
		if opts[i] == hopOptRouterAlert {
			if l != 2 {
				return false, format.Errorf("mroute: router alert option with length %d", l)
			}
			routerAlert = true
		}
		i += 2 + l
	}
	return routerAlert, nil
}
