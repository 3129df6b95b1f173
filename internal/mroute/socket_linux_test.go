package mroute

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/igmp"
	"golang.org/x/sys/unix"
)

// labFamily is what the kernel tests of a Socket need to know about one
// address family; every test runs over testFamilies.
type labFamily struct {
	Family
	slot     string // what errors call a slot
	protocol string // the membership protocol the socket carries
	// headers is what the kernel counts per forwarded datagram beside the
	// UDP data: IPv4 counts its header and UDP's, IPv6 the payload only.
	headers uint64

	ra, rc, ar, cr netip.Prefix // the lab's addresses
	group, other   netip.Addr

	// The kernel's view of the table: /proc/net files and how they print
	// addresses.
	procVIF, procCache string
	procAddr           func(string) (netip.Addr, error)
	// threshold3 is how the cache shows an output whose slot has
	// threshold 3: IPv4 keeps it, ip6mr gives every output 1.
	threshold3   string
	mcForwarding string // the sysctl MRT_INIT raises

	query    []byte     // a general query, as the daemon sends it
	allHosts netip.Addr // where it goes
	// explicitSrc is a source Send is given rather than left to the kernel.
	explicitSrc func(l *lab) netip.Addr
	// peer are the options of a raw socket in C that sees the queries with
	// the control messages Read needs; peerCheck checks what Packet does
	// not say of one and makes its payload read as it was sent.
	peer      []sockopt
	peerCheck func(t *testing.T, b []byte, p *Packet)

	versionSysctl string // forces the membership protocol version of A's ar
	reports       []reportCase
}

// reportCase is a report (and possibly a leave) host A's kernel sends when
// an application on it joins group, and where Read must see it arrive.
type reportCase struct {
	name       string
	beforeJoin bool   // runs before JoinRouterGroups
	version    string // the forced protocol version
	group      netip.Addr
	report     byte       // message type of the report
	dst        netip.Addr // where the report goes
	silent     bool       // the report must not arrive
	leave      byte       // message type of the leave or done sent on closing; 0 for none
	leaveDst   netip.Addr
}

var testFamilies = []*labFamily{testIPv4, testIPv6}

var testIPv4 = &labFamily{
	Family: IPv4, slot: "vif", protocol: "IGMP", headers: 28,
	ra: netip.MustParsePrefix("192.0.2.1/24"), rc: netip.MustParsePrefix("198.51.100.1/24"),
	ar: netip.MustParsePrefix("192.0.2.2/24"), cr: netip.MustParsePrefix("198.51.100.2/24"),
	group: netip.MustParseAddr("239.1.2.3"), other: netip.MustParseAddr("239.1.2.4"),
	procVIF: "ip_mr_vif", procCache: "ip_mr_cache",
	// The kernel prints the raw big-endian address word with %08X, so the
	// digits read back as a host-order number.
	procAddr: func(s string) (netip.Addr, error) {
		v, err := strconv.ParseUint(s, 16, 32)
		return netip.AddrFrom4([4]byte(binary.NativeEndian.AppendUint32(nil, uint32(v)))), err
	},
	threshold3:   "1:3",
	mcForwarding: "ipv4/conf/all/mc_forwarding",
	query:        v2Query,
	allHosts:     netip.MustParseAddr("224.0.0.1"),
	explicitSrc:  func(*lab) netip.Addr { return netip.MustParseAddr("198.51.100.77") },
	peer:         []sockopt{intOpt("IP_PKTINFO", unix.IPPROTO_IP, unix.IP_PKTINFO, 1)},
	// The IPv4 header: TOS and the Router Alert option's length.
	peerCheck: func(t *testing.T, b []byte, p *Packet) {
		if b[1] != igmpTOS || len(b)-len(p.Payload) != igmpHeaderLen {
			t.Errorf("header: tos %#x, length %d", b[1], len(b)-len(p.Payload))
		}
	},

	versionSysctl: "ipv4/conf/ar/force_igmp_version",
	reports: []reportCase{
		{name: "v3 report to 224.0.0.22", version: "3", group: netip.MustParseAddr("239.1.2.3"),
			report: 0x22, dst: netip.MustParseAddr("224.0.0.22")},
		{name: "v2 report and leave", version: "2", group: netip.MustParseAddr("239.1.2.4"),
			report: 0x16, dst: netip.MustParseAddr("239.1.2.4"), leave: 0x17, leaveDst: netip.MustParseAddr("224.0.0.2")},
	},
}

// How MLD reaches the IPv6 socket (docs/architecture.md): MLDv1 reports to a
// non-link-scope group arrive without any membership, MLDv2 reports and
// MLDv1 dones only after JoinRouterGroups; MLDv1 reports for link-scope
// groups never.
var testIPv6 = &labFamily{
	Family: IPv6, slot: "mif", protocol: "MLD", headers: 8,
	ra: netip.MustParsePrefix("2001:db8:a::1/64"), rc: netip.MustParsePrefix("2001:db8:c::1/64"),
	ar: netip.MustParsePrefix("2001:db8:a::2/64"), cr: netip.MustParsePrefix("2001:db8:c::2/64"),
	group: netip.MustParseAddr("ff3e::1:2"), other: netip.MustParseAddr("ff3e::1:5"),
	procVIF: "ip6_mr_vif", procCache: "ip6_mr_cache",
	procAddr:     netip.ParseAddr,
	threshold3:   "1:1",
	mcForwarding: "ipv6/conf/all/mc_forwarding",
	// MLDv2 general query (RFC 3810 §5.1), checksum left 0 for the kernel.
	query: []byte{
		icmp6TypeMLDQuery, 0, 0, 0, // type, code, checksum
		0x27, 0x10, 0, 0, // maximum response code 10000 ms, reserved
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // multicast address ::
		0x02, 125, 0, 0, // QRV 2, QQIC 125, no sources
	},
	allHosts:    netip.MustParseAddr("ff02::1"),
	explicitSrc: func(l *lab) netip.Addr { return l.rcSrc }, // MLD comes from the link-local address
	peer: []sockopt{
		intOpt("IPV6_RECVPKTINFO", unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1),
		intOpt("IPV6_RECVHOPLIMIT", unix.IPPROTO_IPV6, unix.IPV6_RECVHOPLIMIT, 1),
		intOpt("IPV6_RECVHOPOPTS", unix.IPPROTO_IPV6, unix.IPV6_RECVHOPOPTS, 1),
		{"icmpv6 filter", unix.IPPROTO_ICMPV6, icmp6FilterOpt, encodeICMP6Filter(binary.NativeEndian, []uint8{icmp6TypeMLDQuery})},
	},
	// The checksum the kernel computed verifies; zeroed, the payload reads
	// as sent.
	peerCheck: func(t *testing.T, b []byte, p *Packet) {
		if c := icmp6Checksum(p.Src, p.Dst, p.Payload); c != 0 {
			t.Errorf("checksum % x does not verify", p.Payload[2:4])
		}
		p.Payload[2], p.Payload[3] = 0, 0
	},

	versionSysctl: "ipv6/conf/ar/force_mld_version",
	reports: []reportCase{
		{name: "v1 report without router groups", beforeJoin: true, version: "1", group: netip.MustParseAddr("ff3e::1:3"),
			report: icmp6TypeMLDv1Rep, dst: netip.MustParseAddr("ff3e::1:3")},
		{name: "no v1 report to a link-scope group without router groups", beforeJoin: true, version: "1", group: netip.MustParseAddr("ff12::1:7"),
			report: icmp6TypeMLDv1Rep, silent: true},
		{name: "no v2 report without router groups", beforeJoin: true, version: "2", group: netip.MustParseAddr("ff3e::1:6"),
			report: icmp6TypeMLDv2Rep, silent: true},
		{name: "v2 report to ff02::16", version: "2", group: netip.MustParseAddr("ff3e::1:2"),
			report: icmp6TypeMLDv2Rep, dst: netip.MustParseAddr("ff02::16")},
		{name: "v1 report and done", version: "1", group: netip.MustParseAddr("ff3e::1:4"),
			report: icmp6TypeMLDv1Rep, dst: netip.MustParseAddr("ff3e::1:4"), leave: icmp6TypeMLDv1Done, leaveDst: netip.MustParseAddr("ff02::2")},
	},
}

// otherFamily is the family f is not.
func otherFamily(f *labFamily) *labFamily {
	if f == testIPv4 {
		return testIPv6
	}
	return testIPv4
}

// forFamilies runs test once per family.
func forFamilies(t *testing.T, test func(t *testing.T, f *labFamily)) {
	for _, f := range testFamilies {
		t.Run(f.String(), func(t *testing.T) { test(t, f) })
	}
}

// mrVIFs parses the kernel's slot table (/proc/net/ip_mr_vif or
// ip6_mr_vif) into slot -> interface name.
func (l *lab) mrVIFs(t *testing.T) map[int]string {
	t.Helper()
	vifs := make(map[int]string)
	lines := strings.Split(strings.TrimSpace(l.r.procNet(t, l.f.procVIF)), "\n")
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		vif, err := strconv.Atoi(f[0])
		if err != nil {
			t.Fatalf("%s line %q: %v", l.f.procVIF, line, err)
		}
		vifs[vif] = f[1]
	}
	return vifs
}

// mrEntry is one resolved line of the kernel's forwarding cache.
type mrEntry struct {
	iif  int
	oifs string // "slot:threshold ..." as the kernel prints it
}

// mrCache parses the kernel's forwarding cache (/proc/net/ip_mr_cache or
// ip6_mr_cache) into "S,G" -> entry, skipping unresolved entries (Iif -1).
func (l *lab) mrCache(t *testing.T) map[string]mrEntry {
	t.Helper()
	m := make(map[string]mrEntry)
	lines := strings.Split(strings.TrimSpace(l.r.procNet(t, l.f.procCache)), "\n")
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		grp, err1 := l.f.procAddr(f[0])
		src, err2 := l.f.procAddr(f[1])
		iif, err3 := strconv.Atoi(f[2])
		if err := errors.Join(err1, err2, err3); err != nil {
			t.Fatalf("%s line %q: %v", l.f.procCache, line, err)
		}
		if iif < 0 {
			continue
		}
		m[src.String()+","+grp.String()] = mrEntry{iif: iif, oifs: strings.Join(f[6:], " ")}
	}
	return m
}

func routesEqual(a, b []Route) bool {
	return slices.EqualFunc(a, b, func(x, y Route) bool {
		return x.Source == y.Source && x.Group == y.Group && x.Input == y.Input && slices.Equal(x.Outputs, y.Outputs)
	})
}

func TestOpenClose(t *testing.T) {
	forFamilies(t, func(t *testing.T, f *labFamily) {
		l := newLab(t, f)
		s, err := l.tryOpen(t, f.Family, 0)
		if err != nil {
			t.Fatal(err)
		}
		mcForwarding := func() string {
			var b []byte
			var err error
			l.r.Do(t, func() { b, err = os.ReadFile("/proc/sys/net/" + f.mcForwarding) })
			if err != nil {
				t.Fatal(err)
			}
			return strings.TrimSpace(string(b))
		}
		if got := mcForwarding(); got != "1" {
			t.Errorf("%s = %s while open, want 1", f.mcForwarding, got)
		}

		t.Run("second owner of the table", func(t *testing.T) {
			s2, err := l.tryOpen(t, f.Family, 0)
			if !errors.Is(err, ErrInUse) {
				if s2 != nil {
					s2.Close()
				}
				t.Fatalf("second Open(0) = %v, want ErrInUse", err)
			}
		})
		t.Run("table 10 beside the default owner", func(t *testing.T) {
			s10 := l.open(t, 10)
			if _, err := s10.AddVIF(l.ra, 1); err != nil {
				t.Fatal(err)
			}
			if _, err := l.tryOpen(t, f.Family, 10); !errors.Is(err, ErrInUse) {
				t.Fatalf("second Open(10) = %v, want ErrInUse", err)
			}
			if err := s10.Close(); err != nil {
				t.Fatal(err)
			}
		})
		t.Run("beside the other family's owner", func(t *testing.T) {
			other, err := l.tryOpen(t, otherFamily(f).Family, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := other.Close(); err != nil {
				t.Fatal(err)
			}
		})

		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if got := mcForwarding(); got != "0" {
			t.Errorf("%s = %s after Close, want 0", f.mcForwarding, got)
		}
		if _, err := s.AddVIF(l.ra, 1); !errors.Is(err, os.ErrClosed) {
			t.Errorf("AddVIF after Close = %v, want os.ErrClosed", err)
		}
		if err := s.SetRoute(Route{Source: l.aSrc, Group: l.group, Input: l.ra}); !errors.Is(err, os.ErrClosed) {
			t.Errorf("SetRoute after Close = %v, want os.ErrClosed", err)
		}
		if err := s.JoinRouterGroups(l.ra); !errors.Is(err, os.ErrClosed) {
			t.Errorf("JoinRouterGroups after Close = %v, want os.ErrClosed", err)
		}
		if _, err := s.Read(make([]byte, 1500)); !errors.Is(err, os.ErrClosed) {
			t.Errorf("Read after Close = %v, want os.ErrClosed", err)
		}
		// The table is free again.
		l.open(t, 0)
	})
}

// TestSetRouteAllocatesNothing: changing a known forwarding entry (here
// its input, so that every call goes to the kernel) allocates nothing; a
// burst of joins changes one entry per group.
func TestSetRouteAllocatesNothing(t *testing.T) {
	forFamilies(t, func(t *testing.T, f *labFamily) {
		l := newLab(t, f)
		s := l.openRouting(t)
		inputs := [2]int{l.ra, l.rc}
		calls := 0
		set := func() {
			calls++
			if err := s.SetRoute(Route{Source: l.aSrc, Group: l.group, Input: inputs[calls%2]}); err != nil {
				t.Fatal(err)
			}
		}
		set()
		if allocs := testing.AllocsPerRun(20, set); allocs != 0 {
			t.Errorf("changing an entry allocates %.1f times, want 0", allocs)
		}
		if got := s.Routes(); len(got) != 1 || got[0].Input != inputs[calls%2] {
			t.Errorf("routes %+v, want one with input %d", got, inputs[calls%2])
		}
	})
}

// TestCountersAllocatesNothing: the daemon reads every flow's counters at
// each ageing check and every route's for a status answer; a read takes
// no memory of its own (the request lives in the Socket).
func TestCountersAllocatesNothing(t *testing.T) {
	forFamilies(t, func(t *testing.T, f *labFamily) {
		l := newLab(t, f)
		s := l.openRouting(t)
		if err := s.SetRoute(Route{Source: l.aSrc, Group: l.group, Input: l.ra, Outputs: []int{l.rc}}); err != nil {
			t.Fatal(err)
		}
		read := func() {
			if _, err := s.Counters(l.aSrc, l.group); err != nil {
				t.Fatal(err)
			}
		}
		read()
		if allocs := testing.AllocsPerRun(20, read); allocs != 0 {
			t.Errorf("reading an entry's counters allocates %.1f times, want 0", allocs)
		}
	})
}

func TestVIFsAndRoutes(t *testing.T) {
	forFamilies(t, func(t *testing.T, f *labFamily) {
		l := newLab(t, f)
		s := l.open(t, 0)
		src, grp := l.aSrc, l.group

		vifRA, err := s.AddVIF(l.ra, 1)
		if err != nil || vifRA != 0 {
			t.Fatalf("AddVIF(ra) = %d, %v; want 0", vifRA, err)
		}
		vifRC, err := s.AddVIF(l.rc, 3)
		if err != nil || vifRC != 1 {
			t.Fatalf("AddVIF(rc) = %d, %v; want 1", vifRC, err)
		}
		if again, err := s.AddVIF(l.ra, 1); err != nil || again != vifRA {
			t.Fatalf("AddVIF(ra) again = %d, %v; want %d", again, err, vifRA)
		}
		if got, want := l.mrVIFs(t), map[int]string{0: "ra", 1: "rc"}; !maps.Equal(got, want) {
			t.Fatalf("%s = %v, want %v", f.procVIF, got, want)
		}
		if vif, ok := s.VIF(l.rc); !ok || vif != vifRC {
			t.Errorf("VIF(rc) = %d, %v", vif, ok)
		}
		if _, ok := s.VIF(9999); ok {
			t.Error("VIF of an unknown ifindex found")
		}
		if _, err := s.AddVIF(9999, 1); err == nil {
			t.Error("AddVIF of a missing interface succeeded")
		}

		if err := s.SetRoute(Route{Source: src, Group: grp, Input: l.ra, Outputs: []int{l.rc}}); err != nil {
			t.Fatal(err)
		}
		key := src.String() + "," + grp.String()
		if got, want := l.mrCache(t)[key], (mrEntry{iif: 0, oifs: f.threshold3}); got != want {
			t.Fatalf("%s %s = %+v, want %+v", f.procCache, key, got, want)
		}
		// The same route again is not re-installed; an update replaces in place.
		if err := s.SetRoute(Route{Source: src, Group: grp, Input: l.ra, Outputs: []int{l.rc, l.rc, l.ra}}); err != nil {
			t.Fatal(err)
		}
		if err := s.SetRoute(Route{Source: src, Group: grp, Input: l.ra}); err != nil {
			t.Fatal(err)
		}
		if got, want := l.mrCache(t)[key], (mrEntry{iif: 0, oifs: ""}); got != want {
			t.Fatalf("after update %s %s = %+v, want %+v", f.procCache, key, got, want)
		}
		// The source is normalised: IPv4 unmapped, IPv6 without zone, as
		// the kernel keys entries on bare addresses.
		otherKey := l.cAddr.String() + "," + l.other.String()
		unnormal := netip.AddrFrom16(l.cAddr.As16())
		if f.Family == IPv6 {
			unnormal = l.cAddr.WithZone("rc")
		}
		other := Route{Source: l.cAddr, Group: l.other, Input: l.rc, Outputs: []int{l.ra}}
		if err := s.SetRoute(Route{Source: unnormal, Group: l.other, Input: l.rc, Outputs: []int{l.ra}}); err != nil {
			t.Fatal(err)
		}
		if got, want := l.mrCache(t)[otherKey], (mrEntry{iif: 1, oifs: "0:1"}); got != want {
			t.Fatalf("%s %s = %+v, want %+v", f.procCache, otherKey, got, want)
		}
		want := []Route{
			{Source: src, Group: grp, Input: l.ra, Outputs: []int{}},
			other,
		}
		if got := s.Routes(); !routesEqual(got, want) {
			t.Errorf("Routes() = %+v, want %+v", got, want)
		}

		for name, r := range map[string]Route{
			"output without " + f.slot: {Source: src, Group: grp, Input: l.ra, Outputs: []int{9999}},
			"input without " + f.slot:  {Source: src, Group: grp, Input: 9999},
		} {
			t.Run(name, func(t *testing.T) {
				err := s.SetRoute(r)
				if err == nil || !strings.Contains(err.Error(), "9999") {
					t.Errorf("SetRoute = %v, want an error naming ifindex 9999", err)
				}
			})
		}
		invalid := map[string]Route{
			otherFamily(f).String() + " addresses": {Source: otherFamily(f).ar.Addr(), Group: otherFamily(f).group, Input: l.ra},
			"unicast group":                        {Source: src, Group: l.cAddr, Input: l.ra},
		}
		if f.Family == IPv6 {
			invalid["v4-mapped source"] = Route{Source: netip.MustParseAddr("::ffff:192.0.2.1"), Group: grp, Input: l.ra}
		}
		for name, r := range invalid {
			t.Run(name, func(t *testing.T) {
				if err := s.SetRoute(r); err == nil {
					t.Error("SetRoute accepted it")
				}
			})
		}
		if _, err := s.Counters(src, grp); err != nil {
			t.Errorf("Counters: %v", err)
		}

		for i := range 2 {
			if err := s.DelRoute(src, grp); err != nil {
				t.Fatalf("DelRoute #%d: %v", i+1, err)
			}
		}
		if _, ok := l.mrCache(t)[key]; ok {
			t.Errorf("route still in %s after DelRoute", f.procCache)
		}

		// Deleting rc drops the route arriving on it; the one arriving on
		// ra loses rc from its outputs.
		if err := s.SetRoute(Route{Source: src, Group: grp, Input: l.ra, Outputs: []int{l.rc}}); err != nil {
			t.Fatal(err)
		}
		if err := s.DelVIF(l.rc); err != nil {
			t.Fatal(err)
		}
		want = []Route{{Source: src, Group: grp, Input: l.ra, Outputs: []int{}}}
		if got := s.Routes(); !routesEqual(got, want) {
			t.Errorf("after DelVIF(rc) Routes() = %+v, want %+v", got, want)
		}
		cache := l.mrCache(t)
		if got := cache[key]; got != (mrEntry{iif: 0, oifs: ""}) {
			t.Errorf("after DelVIF(rc) %s %s = %+v, want no outputs", f.procCache, key, got)
		}
		if _, ok := cache[otherKey]; ok {
			t.Errorf("route arriving on rc still in %s after DelVIF(rc)", f.procCache)
		}
		if got, want := l.mrVIFs(t), map[int]string{0: "ra"}; !maps.Equal(got, want) {
			t.Errorf("%s = %v, want %v", f.procVIF, got, want)
		}
		if err := s.DelVIF(l.rc); err != nil {
			t.Errorf("second DelVIF: %v", err)
		}
		// The freed slot is reused.
		if vif, err := s.AddVIF(l.rc, 1); err != nil || vif != 1 {
			t.Errorf("AddVIF(rc) after delete = %d, %v; want 1", vif, err)
		}
		if err := s.SetRoute(Route{Source: src, Group: grp, Input: l.ra, Outputs: []int{l.rc}}); err != nil {
			t.Fatal(err)
		}

		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if got := l.mrVIFs(t); len(got) != 0 {
			t.Errorf("%ss left after Close: %v", f.slot, got)
		}
		if got := l.mrCache(t); len(got) != 0 {
			t.Errorf("routes left after Close: %v", got)
		}
		if got := s.Routes(); len(got) != 0 {
			t.Errorf("Routes() after Close = %v", got)
		}
	})
}

func TestVIFLimit(t *testing.T) {
	forFamilies(t, func(t *testing.T, f *labFamily) {
		l := newLab(t, f)
		s := l.open(t, 0)
		// Veth pairs with both ends in the router: 34 interfaces for 33 slots.
		var cmds []string
		for i := range (MaxVIFs + 2) / 2 {
			cmds = append(cmds, fmt.Sprintf("link add d%d type veth peer name d%d", 2*i, 2*i+1))
		}
		l.r.Batch(t, cmds...)
		for i := range MaxVIFs {
			if vif, err := s.AddVIF(l.r.ifindex(t, fmt.Sprintf("d%d", i)), 1); err != nil || vif != i {
				t.Fatalf("AddVIF #%d = %d, %v", i, vif, err)
			}
		}
		_, err := s.AddVIF(l.r.ifindex(t, fmt.Sprintf("d%d", MaxVIFs)), 1)
		if err == nil || !strings.Contains(err.Error(), "32") {
			t.Fatalf("AddVIF past the limit = %v, want an error about 32 %ss", err, f.slot)
		}
	})
}

// TestUpcallAndForwarding also pins down, for IPv6, that
// net.ipv6.conf.*.forwarding may stay 0: ip6mr forwards multicast on
// mc_forwarding alone, which MRT6_INIT and MRT6_ADD_MIF set.
func TestUpcallAndForwarding(t *testing.T) {
	forFamilies(t, func(t *testing.T, f *labFamily) {
		l := newLab(t, f)
		if f.Family == IPv6 {
			for _, p := range []string{"all", "ra", "rc"} {
				l.r.sysctl(t, "ipv6/conf/"+p+"/forwarding", "0")
			}
		}
		s := l.open(t, 0)
		packets := reader(t, s)
		vifRA, err := s.AddVIF(l.ra, 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.AddVIF(l.rc, 1); err != nil {
			t.Fatal(err)
		}
		recv := joinGroup(t, l.c, l.cr, l.group)
		sender := newUDPSender(t, l.a, f.Family, l.ar, 8)
		send := func(payload string) { sender.send(t, l.group, payload) }

		// No route yet: the first packet raises NOCACHE.
		send("first")
		p := await(t, packets, "NOCACHE upcall", func(p Packet) bool { return p.Upcall != nil })
		want := Upcall{Type: UpcallNoCache, VIF: vifRA, Ifindex: l.ra, Source: l.aSrc, Group: l.group}
		if *p.Upcall != want {
			t.Fatalf("upcall %+v, want %+v", *p.Upcall, want)
		}
		if p.Ifindex != 0 || p.Src.IsValid() || p.Payload != nil {
			t.Errorf("upcall packet has %s fields set: %+v", f.protocol, p)
		}

		if err := s.SetRoute(Route{Source: l.aSrc, Group: l.group, Input: l.ra, Outputs: []int{l.rc}}); err != nil {
			t.Fatal(err)
		}
		const n = 5
		for i := range n {
			send(fmt.Sprintf("data %d", i))
		}
		// The queued first packet goes out when the route resolves it.
		got := map[string]bool{}
		recv.SetReadDeadline(time.Now().Add(3 * time.Second))
		buf := make([]byte, 1500)
		for len(got) < n+1 {
			k, from, err := recv.ReadFromUDP(buf)
			if err != nil {
				t.Fatalf("C received %v, then: %v", got, err)
			}
			if from.IP.String() != l.aSrc.String() {
				t.Errorf("datagram from %v", from)
			}
			got[string(buf[:k])] = true
		}
		if !got["first"] {
			t.Error("the packet queued before the route was not forwarded")
		}

		c, err := s.Counters(l.aSrc, l.group)
		if err != nil {
			t.Fatal(err)
		}
		if c.Packets < n || c.Bytes < n*(uint64(len("data 0"))+f.headers) {
			t.Errorf("counters %+v after %d packets", c, n)
		}
		// They keep growing with the stream.
		send("more")
		for deadline := time.Now().Add(time.Second); ; time.Sleep(10 * time.Millisecond) {
			c2, err := s.Counters(l.aSrc, l.group)
			if err != nil {
				t.Fatal(err)
			}
			if c2.Packets > c.Packets && c2.Bytes > c.Bytes {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("counters %+v did not grow from %+v", c2, c)
			}
		}
		if _, err := s.Counters(l.aSrc, l.other); err == nil {
			t.Error("Counters of a route never installed succeeded")
		}
	})
}

// openPeer opens a raw socket of the lab's family in C, with the options of
// labFamily.peer, and returns a function that reads the next message and
// decodes it as Read decodes messages.
func openPeer(t *testing.T, l *lab, extra ...sockopt) func(t *testing.T) Packet {
	k := families[l.f.Family]
	var conn *os.File
	l.c.Do(t, func() {
		var err error
		if conn, err = openRaw(k.domain, k.protocol); err != nil {
			t.Fatal(err)
		}
	})
	t.Cleanup(func() { conn.Close() })
	raw, err := conn.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range append(slices.Clone(l.f.peer), extra...) {
		if err := setOption(raw, o.level, o.opt, o.val); err != nil {
			t.Fatalf("peer: set %s: %v", o.name, err)
		}
	}
	return func(t *testing.T) Packet {
		t.Helper()
		b, oob, from := peerRead(t, conn)
		p, err := k.parse(b, oob, 0, from)
		if err != nil {
			t.Fatalf("peer got a bad packet: %v", err)
		}
		l.f.peerCheck(t, b, &p)
		return p
	}
}

// peerRead reads one message with its control messages, failing after 3s.
func peerRead(t *testing.T, conn *os.File) (b, oob []byte, from netip.Addr) {
	t.Helper()
	raw, err := conn.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 1500)
	oob = make([]byte, 4096)
	var n, oobn int
	var sa unix.Sockaddr
	var rerr error
	err = raw.Read(func(fd uintptr) bool {
		n, oobn, _, sa, rerr = unix.Recvmsg(int(fd), buf, oob, 0)
		return rerr != unix.EAGAIN
	})
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		from = netip.AddrFrom4(sa.Addr)
	case *unix.SockaddrInet6:
		from = netip.AddrFrom16(sa.Addr)
	}
	if err == nil {
		err = rerr
	}
	if err != nil {
		t.Fatalf("peer read: %v", err)
	}
	return buf[:n], oob[:oobn], from
}

// icmp6Checksum is the ICMPv6 checksum over the pseudo-header (RFC 8200
// §8.1); over a message that carries a correct checksum it yields 0.
func icmp6Checksum(src, dst netip.Addr, msg []byte) uint16 {
	s, d := src.As16(), dst.As16()
	b := append(append([]byte{}, s[:]...), d[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(msg)))
	b = append(b, 0, 0, 0, 58)
	return igmp.Checksum(append(b, msg...))
}

func TestSend(t *testing.T) {
	forFamilies(t, func(t *testing.T, f *labFamily) {
		l := newLab(t, f)
		s := l.open(t, 0)
		packets := reader(t, s)
		peer := openPeer(t, l)

		for _, tc := range []struct {
			name    string
			src     netip.Addr
			wantSrc netip.Addr
		}{
			{"kernel chooses the source", netip.Addr{}, l.rcSrc},
			{"explicit source", f.explicitSrc(l), f.explicitSrc(l)},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if err := s.Send(l.rc, tc.src, f.allHosts, f.query); err != nil {
					t.Fatal(err)
				}
				var p Packet
				for {
					p = peer(t)
					// Skip what C's own kernel sends.
					if p.Dst == f.allHosts && len(p.Payload) > 0 && p.Payload[0] == f.query[0] {
						break
					}
				}
				if p.Src != tc.wantSrc || p.Ifindex != l.cr || p.TTL != 1 || !p.RouterAlert {
					t.Errorf("peer got %s -> %s on %d, ttl %d, router alert %v; want %s -> %s on %d, 1, true",
						p.Src, p.Dst, p.Ifindex, p.TTL, p.RouterAlert, tc.wantSrc, f.allHosts, l.cr)
				}
				if !bytes.Equal(p.Payload, f.query) {
					t.Errorf("payload % x, want % x", p.Payload, f.query)
				}
			})
		}

		// Multicast loop is off: our own queries never come back to Read.
		deadline := time.After(200 * time.Millisecond)
	wait:
		for {
			select {
			case p := <-packets:
				if p.Src == l.rcSrc && len(p.Payload) > 0 && p.Payload[0] == f.query[0] {
					t.Errorf("read our own query back: %+v", p)
				}
			case <-deadline:
				break wait
			}
		}
		if err := s.Send(9999, netip.Addr{}, f.allHosts, f.query); err == nil {
			t.Error("Send on a missing interface succeeded")
		}
		if err := s.Send(l.rc, netip.Addr{}, otherFamily(f).allHosts, f.query); err == nil {
			t.Errorf("Send to an %s destination succeeded", otherFamily(f))
		}
	})
}

func TestReadReports(t *testing.T) {
	forFamilies(t, func(t *testing.T, f *labFamily) {
		l := newLab(t, f)
		s := l.open(t, 0)
		packets := reader(t, s)
		if _, err := s.AddVIF(l.ra, 1); err != nil {
			t.Fatal(err)
		}
		// fromA matches a message of the given type from host A that names
		// grp: A also reports other groups (MLD: its solicited-node
		// groups), and the router's own kernel reports loop back.
		fromA := func(typ byte, grp netip.Addr) func(Packet) bool {
			g := grp.AsSlice()
			return func(p Packet) bool {
				return p.Upcall == nil && p.Src == l.aReports && len(p.Payload) > 0 && p.Payload[0] == typ && bytes.Contains(p.Payload, g)
			}
		}
		check := func(t *testing.T, p Packet, dst netip.Addr) {
			t.Helper()
			if p.Ifindex != l.ra || p.Src != l.aReports || p.Dst != dst || p.TTL != 1 || !p.RouterAlert {
				t.Errorf("packet %+v: want ifindex %d, %s -> %s, TTL 1, router alert", p, l.ra, l.aReports, dst)
			}
		}
		run := func(tc reportCase) {
			t.Run(tc.name, func(t *testing.T) {
				l.a.sysctl(t, f.versionSysctl, tc.version)
				c := joinGroup(t, l.a, l.ar, tc.group)
				if tc.silent {
					deadline := time.After(300 * time.Millisecond)
					for {
						select {
						case p := <-packets:
							if fromA(tc.report, tc.group)(p) {
								t.Fatalf("report to %s arrived without membership: %+v", p.Dst, p)
							}
						case <-deadline:
							return
						}
					}
				}
				p := await(t, packets, "report", fromA(tc.report, tc.group))
				check(t, p, tc.dst)
				if tc.leave != 0 {
					c.Close()
					p = await(t, packets, "leave", fromA(tc.leave, tc.group))
					check(t, p, tc.leaveDst)
				}
			})
		}
		for _, tc := range f.reports {
			if tc.beforeJoin {
				run(tc)
			}
		}
		if err := s.JoinRouterGroups(l.ra); err != nil {
			t.Fatal(err)
		}
		if err := s.JoinRouterGroups(l.ra); err != nil {
			t.Fatalf("second join: %v", err)
		}
		for _, tc := range f.reports {
			if !tc.beforeJoin {
				run(tc)
			}
		}
		if err := s.LeaveRouterGroups(l.ra); err != nil {
			t.Fatal(err)
		}
		if err := s.LeaveRouterGroups(l.ra); err != nil {
			t.Fatalf("second leave: %v", err)
		}
	})
}

// TestReadAllocatesNothing: reading a report allocates nothing; in a burst
// of joins every allocation per read would be garbage the heap grows into.
// Host A joins groups with nothing reading the socket, so their reports
// wait in its queue, and each measured read finds one.
func TestReadAllocatesNothing(t *testing.T) {
	forFamilies(t, func(t *testing.T, f *labFamily) {
		l := newLab(t, f)
		s := l.open(t, 0)
		if _, err := s.AddVIF(l.ra, 1); err != nil {
			t.Fatal(err)
		}
		if err := s.JoinRouterGroups(l.ra); err != nil {
			t.Fatal(err)
		}
		// IGMPv2 and MLDv1 send a report for each join; the later
		// versions gather the joins of a moment into one report.
		version := "2"
		if f.group.Is6() {
			version = "1"
		}
		l.a.sysctl(t, f.versionSysctl, version)
		const groups = 30
		for i := range groups {
			g := f.group.AsSlice()
			g[len(g)-1] = byte(100 + i)
			grp, _ := netip.AddrFromSlice(g)
			joinGroup(t, l.a, l.ar, grp)
		}
		// A read that finds nothing would block: closing the socket
		// turns that into a failure.
		guard := time.AfterFunc(10*time.Second, func() { s.Close() })
		defer guard.Stop()
		buf := make([]byte, 2048)
		read := func() {
			if _, err := s.Read(buf); err != nil {
				t.Fatalf("read: %v", err)
			}
		}
		read() // the first report is there: the others follow within microseconds
		time.Sleep(100 * time.Millisecond)
		// AllocsPerRun reads once more to warm up: groups/2+1 reads of
		// at least one report per join.
		if allocs := testing.AllocsPerRun(groups/2, read); allocs != 0 {
			t.Errorf("a read allocates %.1f times, want 0", allocs)
		}
		// ReadWaiting, as the daemon's loop reads: the same without
		// allocating, then "none waiting" on the empty socket instead of
		// blocking, then the poller's error once closed.
		if s.Descriptor() < 0 {
			t.Fatal("no descriptor for an open socket")
		}
		readWaiting := func() {
			if _, ok, err := s.ReadWaiting(buf); err != nil || !ok {
				t.Fatalf("read waiting: %v, a message read %v", err, ok)
			}
		}
		if allocs := testing.AllocsPerRun(groups/4, readWaiting); allocs != 0 {
			t.Errorf("a read of a waiting message allocates %.1f times, want 0", allocs)
		}
		for {
			_, ok, err := s.ReadWaiting(buf)
			if err != nil {
				t.Fatalf("read waiting: %v", err)
			}
			if !ok {
				break
			}
		}
		s.Close()
		if _, _, err := s.ReadWaiting(buf); !errors.Is(err, os.ErrClosed) {
			t.Errorf("read waiting after close: %v, want %v", err, os.ErrClosed)
		}
		if fd := s.Descriptor(); fd != -1 {
			t.Errorf("descriptor after close %d, want -1", fd)
		}
	})
}

// TestOwnReportsNotRead: the reports the router's own kernel sends (for a
// membership of a socket on the router, as the upstream subscription is)
// loop back to the host, and the socket's filter keeps them from Read. C
// receives the report, so it was sent. Without the filter the IPv6 case
// fails (6.1: the MLD report reaches the raw ICMPv6 socket); IPv4's looped
// back report does not reach the socket either way, and its case checks
// that this stays so.
func TestOwnReportsNotRead(t *testing.T) {
	forFamilies(t, func(t *testing.T, f *labFamily) {
		l := newLab(t, f)
		s := l.open(t, 0)
		packets := reader(t, s)
		// Version 3 reports and version 2 listener reports go to the
		// routers' group, which C joins to see them.
		reports := netip.MustParseAddr("224.0.0.22")
		var extra []sockopt
		if f.Family == IPv6 {
			reports = netip.MustParseAddr("ff02::16")
			// The peer's filter passes queries only; let reports through.
			extra = append(extra, sockopt{"icmpv6 filter", unix.IPPROTO_ICMPV6, icmp6FilterOpt, encodeICMP6Filter(binary.NativeEndian, mldTypes)})
		}
		peer := openPeer(t, l, extra...)
		joinGroup(t, l.c, l.cr, reports)
		// rc routes multicast, as the upstream interface does.
		if _, err := s.AddVIF(l.rc, 1); err != nil {
			t.Fatal(err)
		}
		joinGroup(t, l.r, l.rc, l.group)
		g := l.group.AsSlice()
		for {
			if p := peer(t); bytes.Contains(p.Payload, g) {
				break
			}
		}
		deadline := time.After(500 * time.Millisecond)
		for {
			select {
			case p := <-packets:
				if p.Upcall == nil && bytes.Contains(p.Payload, g) {
					t.Fatalf("read the router's own report: %s -> %s on ifindex %d", p.Src, p.Dst, p.Ifindex)
				}
			case <-deadline:
				return
			}
		}
	})
}

func TestReadAfterClose(t *testing.T) {
	forFamilies(t, func(t *testing.T, f *labFamily) {
		l := newLab(t, f)
		s, err := l.tryOpen(t, f.Family, 0)
		if err != nil {
			t.Fatal(err)
		}
		errc := make(chan error, 1)
		go func() {
			// The router's own reports for its links may come first.
			for {
				if _, err := s.Read(make([]byte, 1500)); err != nil {
					errc <- err
					return
				}
			}
		}()
		time.Sleep(50 * time.Millisecond) // let Read block in the poller
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-errc:
			if !errors.Is(err, os.ErrClosed) {
				t.Errorf("blocked Read returned %v, want os.ErrClosed", err)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("Read still blocked 2s after Close")
		}
		if _, err := s.Read(make([]byte, 1500)); !errors.Is(err, os.ErrClosed) {
			t.Errorf("Read after Close = %v, want os.ErrClosed", err)
		}
	})
}

// An interface that vanishes takes its slot and memberships with it in the
// kernel; cleaning up our record afterwards is drift, not an error.
func TestInterfaceVanishes(t *testing.T) {
	forFamilies(t, func(t *testing.T, f *labFamily) {
		l := newLab(t, f)
		s := l.open(t, 0)
		l.r.IP(t, "link", "add", "gone0", "type", "veth", "peer", "name", "gone1")
		l.r.IP(t, "link", "set", "gone0", "up")
		gone := l.r.ifindex(t, "gone0")
		if _, err := s.AddVIF(l.ra, 1); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AddVIF(gone, 1); err != nil {
			t.Fatal(err)
		}
		if err := s.JoinRouterGroups(gone); err != nil {
			t.Fatal(err)
		}
		if err := s.SetRoute(Route{Source: l.aSrc, Group: l.group, Input: l.ra, Outputs: []int{gone}}); err != nil {
			t.Fatal(err)
		}
		l.r.IP(t, "link", "del", "gone0")

		if err := s.LeaveRouterGroups(gone); err != nil {
			t.Errorf("LeaveRouterGroups after the link went: %v", err)
		}
		if err := s.DelVIF(gone); err != nil {
			t.Errorf("DelVIF after the link went: %v", err)
		}
		want := []Route{{Source: l.aSrc, Group: l.group, Input: l.ra, Outputs: []int{}}}
		if got := s.Routes(); !routesEqual(got, want) {
			t.Errorf("Routes() = %+v, want %+v", got, want)
		}
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
}
