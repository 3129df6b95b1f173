package mroute

import (
	"encoding/binary"
	"errors"
	"math"
	"net/netip"

	"golang.org/x/sys/unix"

	"github.com/mcast-proxy/mcast-proxy/internal/format"
)

// family is what differs between the IPv4 and IPv6 multicast routing
// sockets: the protocol and option level, the kernel structs, which socket
// options Open sets, and how a message is read and built. Everything else is
// Socket's, shared.
type family struct {
	Family
	slot    string // what the kernel calls a slot: "vif" or "mif"
	proto   string // the membership protocol carried: "igmp" or "mld"
	kconfig string // the kernel option that provides multicast routing

	domain, protocol int // of the raw socket
	level            int // of the MRT_* options
	// early options are set before MRT_INIT, options after it.
	early, options []sockopt

	maxIfindex   int // the largest ifindex the slot struct can carry
	routerGroups [2]netip.Addr
	joinDomain   int // AF_INET or AF_INET6: the membership sockets
	// joinSockets is how many membership sockets share the MaxVIFs
	// interfaces, each holding the router groups of MaxVIFs/joinSockets.
	joinSockets int
	membership  func(fd int, join bool, grp netip.Addr, ifindex int) error

	// routeAddrs checks and normalises the addresses of an (S,G).
	routeAddrs func(src, grp netip.Addr) (netip.Addr, netip.Addr, bool)
	vifctl     func(order binary.ByteOrder, slot, threshold, ifindex int) []byte
	mfcctl     func(b []byte, order binary.ByteOrder, src, grp netip.Addr, parent int, ttls *[MaxVIFs]uint8) ([]byte, error) // into b when it has room
	sgReq      func(b []byte, order binary.ByteOrder, src, grp netip.Addr, wordSize int) []byte
	sgCounters func(order binary.ByteOrder, wordSize int, b []byte) (Counters, error)

	oobLen   int                 // control message space Read needs
	isUpcall func(b []byte) bool // tells a kernel upcall from a message
	upcall   func(order binary.ByteOrder, b []byte) (Upcall, error)
	// parse reads a message that is not an upcall.
	parse func(b, oob []byte, flags int, from netip.Addr) (Packet, error)
	// message builds what Send passes to sendmsg.
	message func(ifindex int, src, dst netip.Addr, payload []byte) (pkt, oob []byte, to unix.Sockaddr, err error)
}

// sockopt is one socket option with its byte-encoded value.
type sockopt struct {
	name       string
	level, opt int
	val        []byte
}

// intOpt is a socket option taking a C int.
func intOpt(name string, level, opt, v int) sockopt {
	return sockopt{name, level, opt, binary.NativeEndian.AppendUint32(nil, uint32(int32(v)))}
}

var families = map[Family]*family{IPv4: ipv4, IPv6: ipv6}

// ipv4 is the raw IGMP socket. Its router-group memberships are spread over
// four sockets: one socket may hold only net.ipv4.igmp_max_memberships groups
// (20 by default), and 32 VIFs need 64.
var ipv4 = &family{
	Family:   IPv4,
	slot:     "vif",
	proto:    "igmp",
	kconfig:  "CONFIG_IP_MROUTE",
	domain:   unix.AF_INET,
	protocol: ipProtoIGMP,
	level:    unix.IPPROTO_IP,
	options: []sockopt{
		intOpt("IP_PKTINFO", unix.IPPROTO_IP, unix.IP_PKTINFO, 1),               // arrival ifindex of every packet
		intOpt("IP_HDRINCL", unix.IPPROTO_IP, unix.IP_HDRINCL, 1),               // we build the header for TTL, TOS and Router Alert
		intOpt("IP_MULTICAST_LOOP", unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP, 0), // do not read our own queries back
	},
	maxIfindex: math.MaxInt32, // vifctl.vifc_lcl_ifindex is an int
	// IGMPv2 leaves go to all-routers (RFC 2236 §3), IGMPv3 reports to
	// 224.0.0.22 (RFC 3376 §4.2.14): link-local, so not handed to multicast
	// routing, and delivered only where joined.
	routerGroups: [2]netip.Addr{netip.AddrFrom4([4]byte{224, 0, 0, 2}), netip.AddrFrom4([4]byte{224, 0, 0, 22})},
	joinDomain:   unix.AF_INET,
	joinSockets:  4,
	membership: func(fd int, join bool, grp netip.Addr, ifindex int) error {
		op := unix.IP_DROP_MEMBERSHIP
		if join {
			op = unix.IP_ADD_MEMBERSHIP
		}
		return unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, op, &unix.IPMreqn{Multiaddr: grp.As4(), Ifindex: int32(ifindex)})
	},
	routeAddrs: func(src, grp netip.Addr) (netip.Addr, netip.Addr, bool) {
		src, grp = src.Unmap(), grp.Unmap()
		return src, grp, src.Is4() && grp.Is4() && grp.IsMulticast()
	},
	vifctl: encodeVIFCtl,
	mfcctl: func(b []byte, order binary.ByteOrder, src, grp netip.Addr, parent int, ttls *[MaxVIFs]uint8) ([]byte, error) {
		return encodeMFCCtl(b, order, src, grp, parent, ttls), nil
	},
	sgReq: func(b []byte, _ binary.ByteOrder, src, grp netip.Addr, wordSize int) []byte {
		return encodeSGReq(b, src, grp, wordSize)
	},
	sgCounters: decodeSGReq,
	oobLen:     unix.CmsgSpace(sizeofPktinfo),
	// Upcalls carry the protocol byte 0 in the copied IP header, IGMP
	// carries 2.
	isUpcall: func(b []byte) bool { return len(b) >= ipHeaderLen && b[9] == upcallProtoByte },
	upcall:   func(_ binary.ByteOrder, b []byte) (Upcall, error) { return decodeUpcall(b) },
	parse:    parseIGMP,
	message:  igmpMessage,
}

// parseIGMP reads an IGMP message with the IPv4 header the raw socket keeps.
func parseIGMP(b, oob []byte, _ int, _ netip.Addr) (Packet, error) {
	h, err := parseIPv4Header(b, true)
	if err != nil {
		return Packet{}, err
	}
	if h.protocol != ipProtoIGMP {
		return Packet{}, format.Errorf("%w: ip protocol %d on the igmp socket", ErrMalformed, h.protocol)
	}
	ifindex, err := pktinfoIfindex(oob)
	if err != nil {
		return Packet{}, err
	}
	return Packet{
		Ifindex:     ifindex,
		Src:         h.src,
		Dst:         h.dst,
		TTL:         h.ttl,
		RouterAlert: h.routerAlert,
		Payload:     b[h.headerLen:h.totalLen],
	}, nil
}

// pktinfoIfindex finds the IP_PKTINFO control message; without it the
// arrival interface is unknown, and guessing from the source would be wrong.
func pktinfoIfindex(oob []byte) (int, error) {
	for len(oob) > 0 {
		h, data, rest, err := unix.ParseOneSocketControlMessage(oob)
		if err != nil {
			return 0, format.Errorf("%w: control messages: %w", ErrMalformed, err)
		}
		if h.Level == unix.IPPROTO_IP && h.Type == unix.IP_PKTINFO {
			ifindex, err := decodePktinfo(binary.NativeEndian, data)
			if err != nil {
				return 0, format.Errorf("%w: %w", ErrMalformed, err)
			}
			return ifindex, nil
		}
		oob = rest
	}
	return 0, format.Errorf("%w: no ip_pktinfo control message", ErrMalformed)
}

// igmpMessage puts our own IP header on an IGMP message (TTL 1, TOS 0xc0,
// Router Alert). An invalid or unspecified src leaves the source zero, which
// the kernel fills with the interface's address.
func igmpMessage(ifindex int, src, dst netip.Addr, payload []byte) ([]byte, []byte, unix.Sockaddr, error) {
	src, dst = src.Unmap(), dst.Unmap()
	pkt, err := buildIGMPPacket(src, dst, payload)
	if err != nil {
		return nil, nil, nil, err
	}
	oob := unix.PktInfo4(&unix.Inet4Pktinfo{Ifindex: int32(ifindex)})
	return pkt, oob, &unix.SockaddrInet4{Addr: dst.As4()}, nil
}

const (
	mldHopLimit       = 1    // RFC 3810 §5 and RFC 2710 §3: MLD is sent with hop limit 1
	icmp6HeaderLen    = 4    // type, code, checksum
	maxHopByHopHeader = 2048 // RFC 8200 §4.3: (255+1) x 8 bytes
)

// ipv6 is the raw ICMPv6 socket. How MLD reaches it and why forwarding needs
// no sysctl is told in docs/architecture.md; TestReadReports and
// TestUpcallAndForwarding check both.
var ipv6 = &family{
	Family:   IPv6,
	slot:     "mif",
	proto:    "mld",
	kconfig:  "CONFIG_IPV6_MROUTE",
	domain:   unix.AF_INET6,
	protocol: unix.IPPROTO_ICMPV6,
	level:    unix.IPPROTO_IPV6,
	// The filter goes first so as little as possible that is not MLD is
	// queued before it.
	early: []sockopt{{"icmpv6 filter", unix.IPPROTO_ICMPV6, icmp6FilterOpt, encodeICMP6Filter(binary.NativeEndian, mldTypes)}},
	options: []sockopt{
		intOpt("IPV6_RECVPKTINFO", unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1),   // arrival ifindex and destination
		intOpt("IPV6_RECVHOPLIMIT", unix.IPPROTO_IPV6, unix.IPV6_RECVHOPLIMIT, 1), // MLD must arrive with hop limit 1
		intOpt("IPV6_RECVHOPOPTS", unix.IPPROTO_IPV6, unix.IPV6_RECVHOPOPTS, 1),   // to see Router Alert
		intOpt("IPV6_MULTICAST_HOPS", unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_HOPS, mldHopLimit),
		intOpt("IPV6_MULTICAST_LOOP", unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_LOOP, 0), // do not read our own queries back
		{"router alert hop-by-hop option", unix.IPPROTO_IPV6, unix.IPV6_HOPOPTS, routerAlertHopByHop[:]},
	},
	maxIfindex: 0xffff, // mif6ctl.mif6c_pifi is a u16
	// MLDv1 dones go to all-routers (RFC 2710 §4), MLDv2 reports to
	// all-MLDv2-routers (RFC 3810 §5.2.14): link-scope, delivered only where
	// joined.
	routerGroups: [2]netip.Addr{netip.MustParseAddr("ff02::2"), netip.MustParseAddr("ff02::16")},
	joinDomain:   unix.AF_INET6,
	// IPv6 has no per-socket membership limit like igmp_max_memberships
	// (only socket option memory, net.core.optmem_max, far above 64
	// entries).
	joinSockets: 1,
	membership: func(fd int, join bool, grp netip.Addr, ifindex int) error {
		op := unix.IPV6_LEAVE_GROUP
		if join {
			op = unix.IPV6_JOIN_GROUP
		}
		return unix.SetsockoptIPv6Mreq(fd, unix.IPPROTO_IPV6, op, &unix.IPv6Mreq{Multiaddr: grp.As16(), Interface: uint32(ifindex)})
	},
	// Zones are dropped, since ip6mr keys entries on the bare addresses.
	routeAddrs: func(src, grp netip.Addr) (netip.Addr, netip.Addr, bool) {
		src, grp = src.WithZone(""), grp.WithZone("")
		return src, grp, src.Is6() && !src.Is4In6() && grp.Is6() && grp.IsMulticast()
	},
	vifctl: encodeMIF6Ctl,
	// Only which MIFs are outputs is passed: ip6mr gives each a threshold
	// of 1 whatever the MIF says.
	mfcctl: func(b []byte, order binary.ByteOrder, src, grp netip.Addr, parent int, ttls *[MaxVIFs]uint8) ([]byte, error) {
		var outputs [MaxVIFs]int // on the stack: no allocation per entry
		mifs := outputs[:0]
		for mif, ttl := range ttls {
			if ttl > 0 {
				mifs = append(mifs, mif)
			}
		}
		return encodeMF6CCtl(b, order, src, grp, parent, mifs)
	},
	sgReq:      encodeSGReq6,
	sgCounters: decodeSGReq6,
	oobLen:     unix.CmsgSpace(sizeofPktinfo6) + unix.CmsgSpace(4) + unix.CmsgSpace(maxHopByHopHeader),
	// A raw ICMPv6 socket returns the message without the IPv6 header, so
	// the first byte is the ICMPv6 type for MLD and mrt6msg.im6_mbz (0) for
	// an upcall. No ICMPv6 message can start with 0: type 0 is reserved
	// (IANA), and the filter passes only the MLD types, while
	// ip6mr_cache_report queues upcalls with sock_queue_rcv_skb, past the
	// filter.
	isUpcall: func(b []byte) bool { return len(b) > 0 && b[0] == upcall6MbzByte },
	upcall:   decodeUpcall6,
	parse:    parseMLD,
	message:  mldMessage,
}

// parseMLD reads an MLD message. The kernel has verified the ICMPv6
// checksum: raw ICMPv6 sockets always checksum, and recvmsg drops a message
// that fails.
func parseMLD(b, oob []byte, flags int, from netip.Addr) (Packet, error) {
	if len(b) < icmp6HeaderLen {
		return Packet{}, format.Errorf("%w: icmpv6 message of %d bytes", ErrMalformed, len(b))
	}
	if flags&unix.MSG_CTRUNC != 0 {
		return Packet{}, format.Errorf("%w: control messages truncated", ErrMalformed)
	}
	if !from.Is6() {
		return Packet{}, format.Errorf("%w: icmpv6 message without an ipv6 sender", ErrMalformed)
	}
	p := Packet{Src: from, Payload: b}
	if err := parseControl6(oob, &p); err != nil {
		return Packet{}, format.Errorf("%w: %w", ErrMalformed, err)
	}
	return p, nil
}

// parseControl6 fills the arrival interface, destination, hop limit and
// Router Alert of p from the control messages. Pktinfo and hop limit are
// required: without them the arrival interface or the hop-limit check of RFC
// 3810 §5 would be guessed.
func parseControl6(oob []byte, p *Packet) error {
	var havePktinfo, haveHopLimit bool
	for len(oob) > 0 {
		h, data, rest, err := unix.ParseOneSocketControlMessage(oob)
		if err != nil {
			return format.Errorf("control messages: %w", err)
		}
		oob = rest
		if h.Level != unix.IPPROTO_IPV6 {
			continue
		}
		switch h.Type {
		case unix.IPV6_PKTINFO:
			if p.Dst, p.Ifindex, err = decodePktinfo6(binary.NativeEndian, data); err != nil {
				return err
			}
			havePktinfo = true
		case unix.IPV6_HOPLIMIT:
			if p.TTL, err = decodeHopLimit(binary.NativeEndian, data); err != nil {
				return err
			}
			haveHopLimit = true
		case unix.IPV6_HOPOPTS:
			if p.RouterAlert, err = scanHopByHop(data); err != nil {
				return err
			}
		}
	}
	if !havePktinfo {
		return errors.New("no ipv6_pktinfo control message")
	}
	if !haveHopLimit {
		return errors.New("no ipv6_hoplimit control message")
	}
	return nil
}

// mldMessage sends MLD as it is: hop limit 1 and the Router Alert
// hop-by-hop option are set on the socket. src should be our link-local
// address on ifindex (RFC 3810 §5: MLD is sent from a link-local address).
// The kernel computes the ICMPv6 checksum: it always does on raw ICMPv6
// sockets (RFC 3542 §3.1; Linux even refuses IPV6_CHECKSUM on them), whatever
// the checksum field of payload holds.
func mldMessage(ifindex int, src, dst netip.Addr, payload []byte) ([]byte, []byte, unix.Sockaddr, error) {
	if !dst.Is6() || dst.Is4In6() || !dst.IsMulticast() {
		return nil, nil, nil, format.Errorf("mroute: send mld: destination %s is not ipv6 multicast", dst)
	}
	if src.IsValid() && (!src.Is6() || src.Is4In6()) {
		return nil, nil, nil, format.Errorf("mroute: send mld: source %s is not ipv6", src)
	}
	info := &unix.Inet6Pktinfo{Ifindex: uint32(ifindex)}
	if src.IsValid() {
		info.Addr = src.As16()
	}
	return payload, unix.PktInfo6(info), &unix.SockaddrInet6{Addr: dst.As16(), ZoneId: uint32(ifindex)}, nil
}
