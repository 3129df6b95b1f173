//go:build linux

package e2e

// The IPv6 (MLD) variant of the topology (newTopo with ipv6), with IPv4
// addresses as well so that one daemon can proxy both families:
//
//	src (2001:db8:1::2, ::3) ── up0 2001:db8:1::1 ┐
//	                                              router ┬ br-lan 2001:db8:2::1 ┬ rcv1 2001:db8:2::11
//	                                                     │                      └ rcv2 2001:db8:2::12
//	                                                     └ down2 2001:db8:3::1 ── rcv3 2001:db8:3::13
//
// Duplicate address detection is off in every namespace, so addresses, link-
// local ones included, are usable as soon as they exist.

import (
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/mcast-proxy/mcast-proxy/internal/netlab"
)

// IPv6 sources and groups. Each group has its own port: a receiver's socket
// is bound to the wildcard address and sees every joined group on its port.
var (
	s1v6 = netip.MustParseAddr("2001:db8:1::2")
	s2v6 = netip.MustParseAddr("2001:db8:1::3")
	// Global scope, any-source.
	g1v6 = netip.MustParseAddrPort("[ff0e::1:1]:5061")
	// Source-specific (ff3x::/32, RFC 4607).
	g2v6 = netip.MustParseAddrPort("[ff3e::1:2]:5062")
	// Global scope, never joined by anyone.
	g3v6 = netip.MustParseAddrPort("[ff0e::1:3]:5063")
)

// Addresses of the IPv6 topology.
var (
	rcv1v6       = netip.MustParseAddr("2001:db8:2::11")
	allNodes6    = netip.MustParseAddr("ff02::1")
	allMLDv2Rtrs = netip.MustParseAddr("ff02::16") // RFC 3810 §5.2.14
)

// ipv6Config proxies IPv6 only; dualConfig proxies both families.
const (
	ipv6Config = "ipv4 no\nipv6 yes\n" +
		"interface up0 { upstream }\n" +
		"interface br-lan { downstream; " + downstreamTimers + " }\n" +
		"interface down2 { downstream; " + downstreamTimers + " }\n"
	dualConfig = "ipv4 yes\nipv6 yes\n" +
		"interface up0 { upstream; source 10.0.0.0/24 }\n" +
		"interface br-lan { downstream; " + downstreamTimers + " }\n" +
		"interface down2 { downstream; " + downstreamTimers + " }\n"
)

// parseProc6Addr decodes the 32 hex digits the kernel prints for %pi6.
func parseProc6Addr(s string) (netip.Addr, bool) {
	if len(s) != 32 {
		return netip.Addr{}, false
	}
	var b [16]byte
	if _, err := hex.Decode(b[:], []byte(s)); err != nil {
		return netip.Addr{}, false
	}
	return netip.AddrFrom16(b), true
}

// parseIGMP6 reads /proc/net/igmp6 (net/ipv6/mcast.c), one membership a line:
//
//	2    up0             ff0e0000000000000000000000010001     1 00000004 0
func parseIGMP6(s string) map[string]map[netip.Addr]bool {
	out := make(map[string]map[netip.Addr]bool)
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		g, ok := parseProc6Addr(f[2])
		if !ok {
			continue
		}
		if out[f[1]] == nil {
			out[f[1]] = make(map[netip.Addr]bool)
		}
		out[f[1]][g] = true
	}
	return out
}

// forceMLD sets a host's MLD version (1 or 2) on its LAN interface, as an
// old set-top box would speak.
func (tp *topo) forceMLD(ns string, version int) {
	tp.t.Helper()
	tp.must(tp.lab.Sysctl(ns, "net/ipv6/conf/eth0/force_mld_version", strconv.Itoa(version)))
}

// solicitedNode is the solicited-node multicast address of a (RFC 4291 §2.7.1).
func solicitedNode(a netip.Addr) netip.Addr {
	b := a.As16()
	sn := netip.MustParseAddr("ff02::1:ff00:0").As16()
	copy(sn[13:], b[13:])
	return netip.AddrFrom16(sn)
}

// mldQueryFrom matches MLD general queries (v1 or v2) from src on the wire.
func mldQueryFrom(src netip.Addr, since time.Time) func(netlab.Packet) bool {
	return func(p netlab.Packet) bool {
		return p.Src == src && p.Proto == unix.IPPROTO_ICMPV6 && len(p.Payload) >= 24 &&
			p.Payload[0] == mldQueryType && netip.AddrFrom16([16]byte(p.Payload[8:24])).IsUnspecified() &&
			!p.At.Before(since)
	}
}

// addressQueryFrom matches multicast-address-specific MLD queries for group
// from src on the wire (RFC 3810 §5.1.3).
func addressQueryFrom(src, group netip.Addr, since time.Time) func(netlab.Packet) bool {
	return func(p netlab.Packet) bool {
		return p.Src == src && p.Proto == unix.IPPROTO_ICMPV6 && len(p.Payload) >= 24 &&
			p.Payload[0] == mldQueryType && netip.AddrFrom16([16]byte(p.Payload[8:24])) == group &&
			!p.At.Before(since)
	}
}

// MLD message types (RFC 2710 §3, RFC 3810 §5).
const (
	mldQueryType    = 130
	mldV1ReportType = 131
	mldV1DoneType   = 132
	mldV2ReportType = 143
)

// MLDv2 record types (RFC 3810 §5.2.12).
const (
	mldIsInclude = 1
	mldIsExclude = 2
	mldToExclude = 4
)

// mldV1 builds an MLDv1 message (report, done, or query) for group. The
// kernel fills the ICMPv6 checksum of raw ICMPv6 sockets (RFC 3542 §3.1).
func mldV1(typ uint8, group netip.Addr) []byte {
	m := make([]byte, 24)
	m[0] = typ
	copy(m[8:], group.AsSlice())
	return m
}

// mldV2Report builds an MLDv2 report (RFC 3810 §5.2). The kernel fills
// the checksum.
func mldV2Report(recs ...v3Record) []byte { return v3Report(mldV2ReportType, recs) }

// mldV2GeneralQuery builds an MLDv2 general query (RFC 3810 §5.1) with the
// given maximum response delay, robustness and query interval (both small
// enough to be sent as plain values).
func mldV2GeneralQuery(maxResp time.Duration, qrv uint8, qqi time.Duration) []byte {
	m := make([]byte, 28)
	m[0] = mldQueryType
	binary.BigEndian.PutUint16(m[4:], uint16(maxResp.Milliseconds()))
	m[24] = qrv & 0x07
	m[25] = uint8(qqi / time.Second)
	return m
}

// mldPacket says how a raw MLD message is sent.
type mldPacket struct {
	src, dst    netip.Addr
	hopLimit    int
	routerAlert bool
	msg         []byte
}

// mldSender sends hand-built MLD messages out of one interface through a raw
// ICMPv6 socket, choosing source, hop limit and Router Alert per packet.
type mldSender struct {
	fd      int
	ifindex int
}

func newMLDSender(t *testing.T, lab *netlab.Lab, ns, ifname string) *mldSender {
	t.Helper()
	fd, ifindex := rawSocket(t, lab, ns, ifname, unix.AF_INET6, unix.IPPROTO_ICMPV6, nil)
	return &mldSender{fd: fd, ifindex: ifindex}
}

// routerAlertHopByHop is a hop-by-hop options header holding Router Alert
// with value 0, "MLD" (RFC 2711, RFC 3810 §5), padded to 8 octets. The
// kernel fills the next-header octet.
var routerAlertHopByHop = []byte{0, 0, 5, 2, 0, 0, 1, 0}

// cmsg6 builds one IPPROTO_IPV6 control message.
func cmsg6(typ int, data []byte) []byte {
	b := make([]byte, unix.CmsgSpace(len(data)))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level = unix.IPPROTO_IPV6
	h.Type = int32(typ)
	h.SetLen(unix.CmsgLen(len(data)))
	copy(b[unix.CmsgLen(0):], data)
	return b
}

func (ms *mldSender) send(t *testing.T, p mldPacket) {
	t.Helper()
	if err := ms.trySend(p); err != nil {
		t.Fatalf("send MLD message from %s to %s: %v", p.src, p.dst, err)
	}
}

// startMLDQuerier sends an MLDv2 general query from src (a link-local
// address of ifname) at once and then every interval until the test ends:
// a rival querier (RFC 3810 §7.6.2).
func startMLDQuerier(t *testing.T, lab *netlab.Lab, ns, ifname string, src netip.Addr, interval time.Duration) {
	t.Helper()
	ms := newMLDSender(t, lab, ns, ifname)
	q := mldPacket{src: src, dst: allNodes6, hopLimit: 1, routerAlert: true,
		msg: mldV2GeneralQuery(500*time.Millisecond, 2, interval)}
	ms.send(t, q)
	// A lost query shows as the router taking over again.
	repeat(t, interval, func() { _ = ms.trySend(q) })
}

// trySend sends p with its source and arrival interface in IPV6_PKTINFO, its
// hop limit in IPV6_HOPLIMIT and, if asked, Router Alert in IPV6_HOPOPTS.
func (ms *mldSender) trySend(p mldPacket) error {
	var pktinfo [20]byte // struct in6_pktinfo
	copy(pktinfo[:16], p.src.AsSlice())
	binary.NativeEndian.PutUint32(pktinfo[16:], uint32(ms.ifindex))
	var hops [4]byte
	binary.NativeEndian.PutUint32(hops[:], uint32(p.hopLimit))
	oob := append(cmsg6(unix.IPV6_PKTINFO, pktinfo[:]), cmsg6(unix.IPV6_HOPLIMIT, hops[:])...)
	if p.routerAlert {
		oob = append(oob, cmsg6(unix.IPV6_HOPOPTS, routerAlertHopByHop)...)
	}
	to := &unix.SockaddrInet6{Addr: p.dst.As16(), ZoneId: uint32(ms.ifindex)}
	return unix.Sendmsg(ms.fd, p.msg, oob, to, 0)
}
