package mroute

import (
	"bytes"
	"encoding/binary"
	"errors"
	"maps"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// mrVIFs parses /proc/net/ip_mr_vif into vif -> interface name.
func mrVIFs(t *testing.T, ns *node) map[int]string {
	t.Helper()
	vifs := make(map[int]string)
	lines := strings.Split(strings.TrimSpace(ns.procNet(t, "ip_mr_vif")), "\n")
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		vif, err := strconv.Atoi(f[0])
		if err != nil {
			t.Fatalf("ip_mr_vif line %q: %v", line, err)
		}
		vifs[vif] = f[1]
	}
	return vifs
}

// mrEntry is one resolved line of /proc/net/ip_mr_cache.
type mrEntry struct {
	iif  int
	oifs string // "vif:ttl ..." as the kernel prints it
}

// mrCache parses /proc/net/ip_mr_cache into "S,G" -> entry, skipping
// unresolved entries (Iif -1).
func mrCache(t *testing.T, ns *node) map[string]mrEntry {
	t.Helper()
	m := make(map[string]mrEntry)
	// The kernel prints the raw big-endian address word with %08X, so the
	// digits read back as a host-order number.
	addr := func(s string) netip.Addr {
		v, err := strconv.ParseUint(s, 16, 32)
		if err != nil {
			t.Fatalf("ip_mr_cache address %q: %v", s, err)
		}
		return netip.AddrFrom4([4]byte(binary.NativeEndian.AppendUint32(nil, uint32(v))))
	}
	lines := strings.Split(strings.TrimSpace(ns.procNet(t, "ip_mr_cache")), "\n")
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		iif, err := strconv.Atoi(f[2])
		if err != nil {
			t.Fatalf("ip_mr_cache line %q: %v", line, err)
		}
		if iif < 0 {
			continue
		}
		m[addr(f[1]).String()+","+addr(f[0]).String()] = mrEntry{iif: iif, oifs: strings.Join(f[6:], " ")}
	}
	return m
}

func TestOpenClose(t *testing.T) {
	l := newLab(t)
	var s *Socket
	var err error
	l.r.Do(t, func() { s, err = Open(0) })
	if err != nil {
		t.Fatal(err)
	}
	var mcf []byte
	l.r.Do(t, func() { mcf, err = os.ReadFile("/proc/sys/net/ipv4/conf/all/mc_forwarding") })
	if got := strings.TrimSpace(string(mcf)); err != nil || got != "1" {
		t.Errorf("mc_forwarding = %s while open, want 1", got)
	}

	t.Run("second owner of the table", func(t *testing.T) {
		var s2 *Socket
		var err error
		l.r.Do(t, func() { s2, err = Open(0) })
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
		var err error
		l.r.Do(t, func() { _, err = Open(10) })
		if !errors.Is(err, ErrInUse) {
			t.Fatalf("second Open(10) = %v, want ErrInUse", err)
		}
		if err := s10.Close(); err != nil {
			t.Fatal(err)
		}
	})

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.AddVIF(l.ra, 1); !errors.Is(err, net.ErrClosed) {
		t.Errorf("AddVIF after Close = %v, want net.ErrClosed", err)
	}
	// The table is free again.
	l.open(t, 0)
}

func TestVIFsAndRoutes(t *testing.T) {
	l := newLab(t)
	s := l.open(t, 0)
	src, grp := l.aAddr, l.testGroup

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
	if got, want := mrVIFs(t, l.r), map[int]string{0: "ra", 1: "rc"}; !maps.Equal(got, want) {
		t.Fatalf("ip_mr_vif = %v, want %v", got, want)
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

	// rc's threshold 3 is the TTL a packet must exceed to leave there.
	if err := s.SetRoute(Route{Source: src, Group: grp, Input: l.ra, Outputs: []int{l.rc}}); err != nil {
		t.Fatal(err)
	}
	key := src.String() + "," + grp.String()
	if got, want := mrCache(t, l.r)[key], (mrEntry{iif: 0, oifs: "1:3"}); got != want {
		t.Fatalf("ip_mr_cache %s = %+v, want %+v", key, got, want)
	}
	// The same route again is not re-installed; an update replaces in place.
	if err := s.SetRoute(Route{Source: src, Group: grp, Input: l.ra, Outputs: []int{l.rc, l.rc, l.ra}}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetRoute(Route{Source: src, Group: grp, Input: l.ra}); err != nil {
		t.Fatal(err)
	}
	if got, want := mrCache(t, l.r)[key], (mrEntry{iif: 0, oifs: ""}); got != want {
		t.Fatalf("after update ip_mr_cache %s = %+v, want %+v", key, got, want)
	}
	other := Route{Source: src, Group: l.otherGroup, Input: l.rc, Outputs: []int{l.ra}}
	if err := s.SetRoute(other); err != nil {
		t.Fatal(err)
	}
	want := []Route{
		{Source: src, Group: grp, Input: l.ra, Outputs: []int{}},
		other,
	}
	if got := s.Routes(); !routesEqual(got, want) {
		t.Errorf("Routes() = %+v, want %+v", got, want)
	}

	for name, r := range map[string]Route{
		"output without vif": {Source: src, Group: grp, Input: l.ra, Outputs: []int{9999}},
		"input without vif":  {Source: src, Group: grp, Input: 9999},
	} {
		t.Run(name, func(t *testing.T) {
			err := s.SetRoute(r)
			if err == nil || !strings.Contains(err.Error(), "9999") {
				t.Errorf("SetRoute = %v, want an error naming ifindex 9999", err)
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
	if _, ok := mrCache(t, l.r)[key]; ok {
		t.Error("route still in ip_mr_cache after DelRoute")
	}

	// Deleting rc drops the route arriving on it; deleting ra later
	// strips ra from outputs.
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
	cache := mrCache(t, l.r)
	if got := cache[key]; got != (mrEntry{iif: 0, oifs: ""}) {
		t.Errorf("after DelVIF(rc) ip_mr_cache %s = %+v, want no outputs", key, got)
	}
	if _, ok := cache[src.String()+","+l.otherGroup.String()]; ok {
		t.Error("route arriving on rc still in ip_mr_cache after DelVIF(rc)")
	}
	if got, want := mrVIFs(t, l.r), map[int]string{0: "ra"}; !maps.Equal(got, want) {
		t.Errorf("ip_mr_vif = %v, want %v", got, want)
	}
	if err := s.DelVIF(l.rc); err != nil {
		t.Errorf("second DelVIF: %v", err)
	}
	// The freed slot is reused.
	if vif, err := s.AddVIF(l.rc, 1); err != nil || vif != 1 {
		t.Errorf("AddVIF(rc) after delete = %d, %v; want 1", vif, err)
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := mrVIFs(t, l.r); len(got) != 0 {
		t.Errorf("VIFs left after Close: %v", got)
	}
	if got := mrCache(t, l.r); len(got) != 0 {
		t.Errorf("routes left after Close: %v", got)
	}
	if got := s.Routes(); len(got) != 0 {
		t.Errorf("Routes() after Close = %v", got)
	}
}

func TestSendIGMP(t *testing.T) {
	l := newLab(t)
	s := l.open(t, 0)
	packets := reader(t, s)

	var peer *net.IPConn
	l.c.Do(t, func() {
		pc, err := net.ListenPacket("ip4:2", "0.0.0.0")
		if err != nil {
			t.Fatal(err)
		}
		peer = pc.(*net.IPConn)
	})
	t.Cleanup(func() { peer.Close() })
	raw, err := peer.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	allHosts := netip.MustParseAddr("224.0.0.1")

	for _, tc := range []struct {
		name    string
		src     netip.Addr
		wantSrc netip.Addr
	}{
		{"kernel fills source", netip.Addr{}, l.rcAddr},
		{"explicit source", netip.MustParseAddr("198.51.100.77"), netip.MustParseAddr("198.51.100.77")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.Send(l.rc, tc.src, allHosts, v2Query); err != nil {
				t.Fatal(err)
			}
			peer.SetReadDeadline(time.Now().Add(3 * time.Second))
			buf := make([]byte, 1500)
			for {
				var n int
				var rerr error
				err := raw.Read(func(fd uintptr) bool {
					n, _, rerr = unix.Recvfrom(int(fd), buf, 0)
					return rerr != unix.EAGAIN
				})
				if err == nil {
					err = rerr
				}
				if err != nil {
					t.Fatalf("peer read: %v", err)
				}
				h, err := parseIPv4Header(buf[:n], true)
				if err != nil {
					t.Fatalf("peer got a bad packet: %v", err)
				}
				if h.dst != allHosts || h.src != tc.wantSrc {
					continue // the peer's own reports
				}
				if h.ttl != 1 || !h.routerAlert || buf[1] != igmpTOS || h.headerLen != igmpHeaderLen {
					t.Errorf("header: ttl %d, router alert %v, tos %#x, length %d", h.ttl, h.routerAlert, buf[1], h.headerLen)
				}
				if p := buf[h.headerLen:h.totalLen]; !bytes.Equal(p, v2Query) {
					t.Errorf("payload % x, want % x", p, v2Query)
				}
				return
			}
		})
	}

	// IP_MULTICAST_LOOP is off: our own queries never come back to Read.
	select {
	case p := <-packets:
		if p.Src == l.rcAddr {
			t.Errorf("read our own query back: %+v", p)
		}
	case <-time.After(200 * time.Millisecond):
	}
	if err := s.Send(9999, netip.Addr{}, allHosts, v2Query); err == nil {
		t.Error("Send on a missing interface succeeded")
	}
}

func TestReadReports(t *testing.T) {
	l := newLab(t)
	s := l.open(t, 0)
	packets := reader(t, s)
	if _, err := s.AddVIF(l.ra, 1); err != nil {
		t.Fatal(err)
	}
	if err := s.JoinRouterGroups(l.ra); err != nil {
		t.Fatal(err)
	}
	if err := s.JoinRouterGroups(l.ra); err != nil {
		t.Fatalf("second join: %v", err)
	}
	// The router's own kernel reports the router groups, and those reports
	// loop back to the raw socket too; only the host's count here.
	igmpType := func(p Packet) byte {
		if len(p.Payload) == 0 || p.Src != l.aAddr {
			return 0
		}
		return p.Payload[0]
	}
	check := func(t *testing.T, p Packet, dst netip.Addr) {
		t.Helper()
		if p.Ifindex != l.ra || p.Src != l.aAddr || p.Dst != dst || p.TTL != 1 || !p.RouterAlert {
			t.Errorf("packet %+v: want ifindex %d, %s -> %s, TTL 1, router alert", p, l.ra, l.aAddr, dst)
		}
	}

	t.Run("v3 report to 224.0.0.22", func(t *testing.T) {
		l.a.sysctl(t, "ipv4/conf/ar/force_igmp_version", "3")
		joinGroup(t, l.a, l.ar, l.testGroup)
		p := await(t, packets, "IGMPv3 report", func(p Packet) bool { return igmpType(p) == 0x22 })
		check(t, p, netip.MustParseAddr("224.0.0.22"))
	})
	t.Run("v2 report and leave", func(t *testing.T) {
		l.a.sysctl(t, "ipv4/conf/ar/force_igmp_version", "2")
		c := joinGroup(t, l.a, l.ar, l.otherGroup)
		p := await(t, packets, "IGMPv2 report", func(p Packet) bool { return igmpType(p) == 0x16 })
		check(t, p, l.otherGroup)
		c.Close()
		p = await(t, packets, "IGMPv2 leave", func(p Packet) bool { return igmpType(p) == 0x17 })
		check(t, p, netip.MustParseAddr("224.0.0.2"))
	})
	if err := s.LeaveRouterGroups(l.ra); err != nil {
		t.Fatal(err)
	}
	if err := s.LeaveRouterGroups(l.ra); err != nil {
		t.Fatalf("second leave: %v", err)
	}
}

func TestReadAfterClose(t *testing.T) {
	l := newLab(t)
	var s *Socket
	var err error
	l.r.Do(t, func() { s, err = Open(0) })
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := s.Read(make([]byte, 1500))
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond) // let Read block in the poller
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("blocked Read returned %v, want net.ErrClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Read still blocked 2s after Close")
	}
	if _, err := s.Read(make([]byte, 1500)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Read after Close = %v, want net.ErrClosed", err)
	}
}

func routesEqual(a, b []Route) bool {
	return slices.EqualFunc(a, b, func(x, y Route) bool {
		return x.Source == y.Source && x.Group == y.Group && x.Input == y.Input && slices.Equal(x.Outputs, y.Outputs)
	})
}

// An interface that vanishes takes its VIF and memberships with it in the
// kernel; cleaning up our record afterwards is drift, not an error.
func TestInterfaceVanishes(t *testing.T) {
	l := newLab(t)
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
	if err := s.SetRoute(Route{Source: l.aAddr, Group: l.testGroup, Input: l.ra, Outputs: []int{gone}}); err != nil {
		t.Fatal(err)
	}
	l.r.IP(t, "link", "del", "gone0")

	if err := s.LeaveRouterGroups(gone); err != nil {
		t.Errorf("LeaveRouterGroups after the link went: %v", err)
	}
	if err := s.DelVIF(gone); err != nil {
		t.Errorf("DelVIF after the link went: %v", err)
	}
	want := []Route{{Source: l.aAddr, Group: l.testGroup, Input: l.ra, Outputs: []int{}}}
	if got := s.Routes(); !routesEqual(got, want) {
		t.Errorf("Routes() = %+v, want %+v", got, want)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}
