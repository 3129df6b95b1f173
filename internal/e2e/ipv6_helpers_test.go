//go:build linux

package e2e

// The IPv6 (MLD) variant of the topology, with IPv4 addresses as well so
// that one daemon can proxy both families:
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
	"encoding/json"
	"net"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/mcast-proxy/mcast-proxy/internal/control"
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

// topo6Options vary the IPv6 topology.
type topo6Options struct {
	// config replaces ipv6Config.
	config string
	// down2LinkLocal replaces the router's generated link-local address
	// on down2 ("fe80::100/64"), for the querier election.
	down2LinkLocal string
}

// newTopo6 builds the dual-stack network, starts the daemon and waits until
// it has set up its MIFs (and VIFs, when the configuration proxies IPv4).
func newTopo6(t *testing.T, o topo6Options) *topo {
	t.Helper()
	needRoot(t)
	lab, err := netlab.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := lab.Close(); err != nil {
			t.Errorf("remove lab: %v", err)
		}
	})
	tp := &topo{t: t, lab: lab}
	tp.build6(o)
	cfg := o.config
	if cfg == "" {
		cfg = ipv6Config
	}
	tp.startDaemon(cfg)
	tp.waitMIFs("up0", "br-lan", "down2")
	if strings.Contains(cfg, "ipv4 yes") {
		tp.waitVIFs("up0", "br-lan", "down2")
	}
	return tp
}

func (tp *topo) build6(o topo6Options) {
	l := tp.lab
	hosts := []string{"src", "router", "rcv1", "rcv2", "rcv3"}
	tp.must(l.AddNS(hosts...))
	// Before any link exists, so that every interface inherits it.
	tp.must(l.DisableDAD(hosts...))

	tp.must(l.Link("src", "eth0", "router", "up0"))
	tp.must(l.Link("router", "lan1", "rcv1", "eth0"))
	tp.must(l.Link("router", "lan2", "rcv2", "eth0"))
	tp.must(l.Bridge("router", "br-lan", []string{"lan1", "lan2"}, "mcast_snooping", "0"))
	tp.must(l.Link("router", "down2", "rcv3", "eth0"))
	if o.down2LinkLocal != "" {
		tp.must(l.SetLinkLocal("router", "down2", o.down2LinkLocal))
	}

	for _, a := range []struct{ ns, ifname, v4, v6 string }{
		{"src", "eth0", "10.0.0.2/24", "2001:db8:1::2/64"},
		{"src", "eth0", "10.0.0.3/24", "2001:db8:1::3/64"},
		{"router", "up0", "10.0.0.1/24", "2001:db8:1::1/64"},
		{"router", "br-lan", "192.168.1.1/24", "2001:db8:2::1/64"},
		{"rcv1", "eth0", "192.168.1.11/24", "2001:db8:2::11/64"},
		{"rcv2", "eth0", "192.168.1.12/24", "2001:db8:2::12/64"},
		{"router", "down2", "192.168.2.1/24", "2001:db8:3::1/64"},
		{"rcv3", "eth0", "192.168.2.13/24", "2001:db8:3::13/64"},
	} {
		tp.must(l.Addr(a.ns, a.ifname, a.v4))
		tp.must(l.AddrNoDAD(a.ns, a.ifname, a.v6))
	}
	for _, ns := range hosts {
		for _, key := range []string{"all", "default"} {
			tp.must(l.Sysctl(ns, "net/ipv4/conf/"+key+"/rp_filter", "0"))
		}
	}
	for _, ifname := range []string{"up0", "br-lan", "down2"} {
		tp.must(l.Sysctl("router", "net/ipv4/conf/"+ifname+"/rp_filter", "0"))
	}
	// MLD is sent from link-local addresses (RFC 3810 §5.1.14, §5.2.13):
	// wait until every stack that speaks it has one.
	for _, w := range []struct{ ns, ifname string }{
		{"router", "up0"}, {"router", "br-lan"}, {"router", "down2"},
		{"src", "eth0"}, {"rcv1", "eth0"}, {"rcv2", "eth0"}, {"rcv3", "eth0"},
	} {
		_, err := l.WaitLinkLocal(w.ns, w.ifname, 10*time.Second)
		tp.must(err)
	}
}

// waitMIFs waits until the router's /proc/net/ip6_mr_vif lists the interfaces.
func (tp *topo) waitMIFs(names ...string) {
	tp.t.Helper()
	tp.waitSlots("net/ip6_mr_vif", "MIFs", names)
}

// mifs maps interface names in the router's /proc/net/ip6_mr_vif to MIF
// numbers.
func (tp *topo) mifs() map[string]int {
	tp.t.Helper()
	return tp.slots("net/ip6_mr_vif")
}

// mfc6 returns the router's /proc/net/ip6_mr_cache entries.
func (tp *topo) mfc6() []mfcEntry {
	tp.t.Helper()
	s, err := tp.lab.ReadProc("router", "net/ip6_mr_cache")
	tp.must(err)
	return parseMFC6(s)
}

// parseMFC6 reads /proc/net/ip6_mr_cache (net/ipv6/ip6mr.c):
//
//	Group                            Origin                           Iif      Pkts  Bytes     Wrong  Oifs
//	ff0e:0000:0000:0000:0000:0000:0001:0001 2001:0db8:0001:0000:0000:0000:0000:0002 0        12      576        0  1:1
//
// Unresolved entries show zero counters and no outputs.
func parseMFC6(s string) []mfcEntry {
	var out []mfcEntry
	for _, line := range strings.Split(s, "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 6 {
			continue
		}
		g, err1 := netip.ParseAddr(f[0])
		o, err2 := netip.ParseAddr(f[1])
		iif, err3 := strconv.Atoi(f[2])
		if err1 != nil || err2 != nil || err3 != nil {
			continue
		}
		pkts, _ := strconv.ParseUint(f[3], 10, 64)
		e := mfcEntry{Group: g, Origin: o, Iif: iif, Pkts: pkts, Oifs: make(map[int]int)}
		for _, oif := range f[6:] {
			vif, ttl, ok := strings.Cut(oif, ":")
			if !ok {
				continue
			}
			v, err1 := strconv.Atoi(vif)
			th, err2 := strconv.Atoi(ttl)
			if err1 == nil && err2 == nil {
				e.Oifs[v] = th
			}
		}
		out = append(out, e)
	}
	return out
}

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

// mcfilter6Entry is a line of /proc/net/mcfilter6.
type mcfilter6Entry struct {
	Dev           string
	Group, Source netip.Addr
	Include       int // sockets including the source
	Exclude       int // sockets excluding it
}

// parseMcfilter6 reads /proc/net/mcfilter6:
//
//	Idx Device                Multicast Address                   Source Address    INC    EXC
//	  2    up0 ff3e0000000000000000000000010002 20010db8000100000000000000000002      1      0
func parseMcfilter6(s string) []mcfilter6Entry {
	var out []mcfilter6Entry
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) < 6 {
			continue
		}
		g, ok1 := parseProc6Addr(f[2])
		src, ok2 := parseProc6Addr(f[3])
		inc, err1 := strconv.Atoi(f[4])
		exc, err2 := strconv.Atoi(f[5])
		if !ok1 || !ok2 || err1 != nil || err2 != nil {
			continue
		}
		out = append(out, mcfilter6Entry{Dev: f[1], Group: g, Source: src, Include: inc, Exclude: exc})
	}
	return out
}

// upstreamGroups6 returns the IPv6 groups the router's host stack has
// joined on up0 (/proc/net/igmp6) and the source filters there
// (/proc/net/mcfilter6).
func (tp *topo) upstreamGroups6() (map[netip.Addr]bool, []mcfilter6Entry) {
	tp.t.Helper()
	igmp6, err := tp.lab.ReadProc("router", "net/igmp6")
	tp.must(err)
	mcf, err := tp.lab.ReadProc("router", "net/mcfilter6")
	tp.must(err)
	var filters []mcfilter6Entry
	for _, e := range parseMcfilter6(mcf) {
		if e.Dev == "up0" {
			filters = append(filters, e)
		}
	}
	return parseIGMP6(igmp6)["up0"], filters
}

// sniffer6 records the IPv6 packets arriving on a host's LAN interface.
func (tp *topo) sniffer6(ns string) *netlab.Sniffer {
	tp.t.Helper()
	s, err := tp.lab.NewSniffer6(ns, "eth0")
	tp.must(err)
	return s
}

// forceMLD sets a host's MLD version (1 or 2) on its LAN interface, as an
// old set-top box would speak.
func (tp *topo) forceMLD(ns string, version int) {
	tp.t.Helper()
	tp.must(tp.lab.Sysctl(ns, "net/ipv6/conf/eth0/force_mld_version", strconv.Itoa(version)))
}

// statusJSON6 runs "mcast-proxy status -j" against the test's daemon.
func (tp *topo) statusJSON6() control.Status {
	tp.t.Helper()
	out, err := exec.Command(daemonBin, "status", "-j", "-s", tp.sock).Output()
	if err != nil {
		tp.t.Fatalf("mcast-proxy status -j -s %s: %v", tp.sock, err)
	}
	var st control.Status
	if err := json.Unmarshal(out, &st); err != nil {
		tp.t.Fatalf("status -j is not the documented JSON: %v\n%s", err, out)
	}
	return st
}

// familyCounters6 returns the counters of one family from a status.
func familyCounters6(st control.Status, family string) control.FamilyCounters {
	for _, c := range st.Counters {
		if c.Family == family {
			return c
		}
	}
	return control.FamilyCounters{}
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

// mldV2Record is one multicast address record of an MLDv2 report.
type mldV2Record struct {
	Type    uint8
	Group   netip.Addr
	Sources []netip.Addr
}

// mldV2Report builds an MLDv2 report (RFC 3810 §5.2).
func mldV2Report(recs ...mldV2Record) []byte {
	m := make([]byte, 8)
	m[0] = mldV2ReportType
	binary.BigEndian.PutUint16(m[6:], uint16(len(recs)))
	for _, r := range recs {
		h := make([]byte, 4, 20)
		h[0] = r.Type
		binary.BigEndian.PutUint16(h[2:], uint16(len(r.Sources)))
		m = append(append(m, h...), r.Group.AsSlice()...)
		for _, s := range r.Sources {
			m = append(m, s.AsSlice()...)
		}
	}
	return m
}

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
	ms := &mldSender{fd: -1}
	err := lab.Do(ns, func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMPV6)
		if err != nil {
			return err
		}
		ms.fd, ms.ifindex = fd, ifi.Index
		return nil
	})
	if err != nil {
		t.Fatalf("raw ICMPv6 socket in %s: %v", ns, err)
	}
	t.Cleanup(func() { unix.Close(ms.fd) })
	return ms
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
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				// t.Fatal is not allowed off the test goroutine; a lost
				// query shows as the router taking over again.
				_ = ms.trySend(q)
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
	})
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
