package mroute

import (
	"bytes"
	"encoding/binary"
	"errors"
	"maps"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/igmp"
	"github.com/mcast-proxy/mcast-proxy/internal/netns"
	"golang.org/x/sys/unix"
)

// lab6 is a router namespace between two hosts, IPv6 only:
//
//	A (ar 2001:db8:a::2) --- (ra 2001:db8:a::1) R (rc 2001:db8:c::1) --- (cr 2001:db8:c::2) C
type lab6 struct {
	r, a, c        *node
	ra, rc         int // router-side ifindexes
	ar, cr         int // host-side ifindexes
	aAddr, cAddr   netip.Addr
	aLL, rcLL      netip.Addr // link-local addresses of ar and rc
	group, other   netip.Addr
	group3, group4 netip.Addr
}

func newLab6(t *testing.T) *lab6 {
	t.Helper()
	netns.RequireRoot(t)
	l := &lab6{
		r: newNode(t), a: newNode(t), c: newNode(t),
		aAddr:  netip.MustParseAddr("2001:db8:a::2"),
		cAddr:  netip.MustParseAddr("2001:db8:c::2"),
		group:  netip.MustParseAddr("ff3e::1:2"),
		other:  netip.MustParseAddr("ff3e::1:5"),
		group3: netip.MustParseAddr("ff3e::1:3"),
		group4: netip.MustParseAddr("ff3e::1:4"),
	}
	for _, ns := range []*node{l.r, l.a, l.c} {
		// Without duplicate address detection addresses, link-local ones
		// included, are usable at once; "default" covers links made later.
		ns.sysctl(t, "ipv6/conf/all/accept_dad", "0")
		ns.sysctl(t, "ipv6/conf/default/accept_dad", "0")
	}
	l.r.IP(t, "link", "add", "ra", "type", "veth", "peer", "name", "ar", "netns", l.a.Name)
	l.r.IP(t, "link", "add", "rc", "type", "veth", "peer", "name", "cr", "netns", l.c.Name)
	l.r.IP(t, "addr", "add", "2001:db8:a::1/64", "dev", "ra", "nodad")
	l.r.IP(t, "addr", "add", "2001:db8:c::1/64", "dev", "rc", "nodad")
	l.a.IP(t, "addr", "add", "2001:db8:a::2/64", "dev", "ar", "nodad")
	l.c.IP(t, "addr", "add", "2001:db8:c::2/64", "dev", "cr", "nodad")
	for _, x := range []struct {
		ns  *node
		dev string
	}{{l.r, "ra"}, {l.r, "rc"}, {l.a, "ar"}, {l.c, "cr"}} {
		x.ns.IP(t, "link", "set", x.dev, "up")
	}
	l.ra, l.rc = l.r.ifindex(t, "ra"), l.r.ifindex(t, "rc")
	l.ar, l.cr = l.a.ifindex(t, "ar"), l.c.ifindex(t, "cr")
	l.aLL = linkLocal(t, l.a, "ar")
	l.rcLL = linkLocal(t, l.r, "rc")
	return l
}

// linkLocal returns the link-local address of an interface, without zone.
// The kernel adds it from a work queue after the link comes up, so on a slow
// (emulated) machine it may appear a moment after "ip link set up" returns.
func linkLocal(t *testing.T, ns *node, dev string) netip.Addr {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		f := strings.Fields(ns.IP(t, "-6", "-o", "addr", "show", "dev", dev, "scope", "link"))
		for i, w := range f {
			if w == "inet6" && i+1 < len(f) {
				p, err := netip.ParsePrefix(f[i+1])
				if err != nil {
					t.Fatal(err)
				}
				return p.Addr()
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s has no link-local address after 5s: %q", dev, f)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// open6 opens an IPv6 routing socket in the router namespace, closed at
// cleanup.
func (l *lab6) open6(t *testing.T, table uint32) *Socket6 { return openIn(t, l.r, Open6, table) }

// mr6MIFs parses /proc/net/ip6_mr_vif into mif -> interface name.
func mr6MIFs(t *testing.T, ns *node) map[int]string {
	t.Helper()
	mifs := make(map[int]string)
	lines := strings.Split(strings.TrimSpace(ns.procNet(t, "ip6_mr_vif")), "\n")
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		mif, err := strconv.Atoi(f[0])
		if err != nil {
			t.Fatalf("ip6_mr_vif line %q: %v", line, err)
		}
		mifs[mif] = f[1]
	}
	return mifs
}

// mr6Cache parses /proc/net/ip6_mr_cache into "S,G" -> entry, skipping
// unresolved entries (Iif -1).
func mr6Cache(t *testing.T, ns *node) map[string]mrEntry {
	t.Helper()
	m := make(map[string]mrEntry)
	lines := strings.Split(strings.TrimSpace(ns.procNet(t, "ip6_mr_cache")), "\n")
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		grp, err1 := netip.ParseAddr(f[0])
		src, err2 := netip.ParseAddr(f[1])
		iif, err3 := strconv.Atoi(f[2])
		if err := errors.Join(err1, err2, err3); err != nil {
			t.Fatalf("ip6_mr_cache line %q: %v", line, err)
		}
		if iif < 0 {
			continue
		}
		m[src.String()+","+grp.String()] = mrEntry{iif: iif, oifs: strings.Join(f[6:], " ")}
	}
	return m
}

func TestOpenClose6(t *testing.T) {
	l := newLab6(t)
	var s *Socket6
	var err error
	l.r.Do(t, func() { s, err = Open6(0) })
	if err != nil {
		t.Fatal(err)
	}
	mcForwarding := func() string {
		var b []byte
		var err error
		l.r.Do(t, func() { b, err = os.ReadFile("/proc/sys/net/ipv6/conf/all/mc_forwarding") })
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	if got := mcForwarding(); got != "1" {
		t.Errorf("ipv6 mc_forwarding = %s while open, want 1", got)
	}

	t.Run("second owner of the table", func(t *testing.T) {
		var s2 *Socket6
		var err error
		l.r.Do(t, func() { s2, err = Open6(0) })
		if !errors.Is(err, ErrInUse) {
			if s2 != nil {
				s2.Close()
			}
			t.Fatalf("second Open6(0) = %v, want ErrInUse", err)
		}
	})
	t.Run("table 10 beside the default owner", func(t *testing.T) {
		s10 := l.open6(t, 10)
		if _, err := s10.AddVIF(l.ra, 1); err != nil {
			t.Fatal(err)
		}
		var err error
		l.r.Do(t, func() { _, err = Open6(10) })
		if !errors.Is(err, ErrInUse) {
			t.Fatalf("second Open6(10) = %v, want ErrInUse", err)
		}
		if err := s10.Close(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("beside the ipv4 owner", func(t *testing.T) {
		var s4 *Socket
		var err error
		l.r.Do(t, func() { s4, err = Open(0) })
		if err != nil {
			t.Fatal(err)
		}
		if err := s4.Close(); err != nil {
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
		t.Errorf("ipv6 mc_forwarding = %s after Close, want 0", got)
	}
	if _, err := s.AddVIF(l.ra, 1); !errors.Is(err, net.ErrClosed) {
		t.Errorf("AddVIF after Close = %v, want net.ErrClosed", err)
	}
	if err := s.SetRoute(Route{Source: l.aAddr, Group: l.group, Input: l.ra}); !errors.Is(err, net.ErrClosed) {
		t.Errorf("SetRoute after Close = %v, want net.ErrClosed", err)
	}
	if _, err := s.Read(make([]byte, 1500)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Read after Close = %v, want net.ErrClosed", err)
	}
	// The table is free again.
	l.open6(t, 0)
}

func TestMIFsAndRoutes6(t *testing.T) {
	l := newLab6(t)
	s := l.open6(t, 0)
	src, grp := l.aAddr, l.group

	mifRA, err := s.AddVIF(l.ra, 1)
	if err != nil || mifRA != 0 {
		t.Fatalf("AddVIF(ra) = %d, %v; want 0", mifRA, err)
	}
	// Threshold 3 is kept by the kernel but not used for forwarding.
	mifRC, err := s.AddVIF(l.rc, 3)
	if err != nil || mifRC != 1 {
		t.Fatalf("AddVIF(rc) = %d, %v; want 1", mifRC, err)
	}
	if again, err := s.AddVIF(l.ra, 1); err != nil || again != mifRA {
		t.Fatalf("AddVIF(ra) again = %d, %v; want %d", again, err, mifRA)
	}
	if got, want := mr6MIFs(t, l.r), map[int]string{0: "ra", 1: "rc"}; !maps.Equal(got, want) {
		t.Fatalf("ip6_mr_vif = %v, want %v", got, want)
	}
	if mif, ok := s.VIF(l.rc); !ok || mif != mifRC {
		t.Errorf("VIF(rc) = %d, %v", mif, ok)
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
	// ip6mr gives every output threshold 1, whatever the MIF's.
	if got, want := mr6Cache(t, l.r)[key], (mrEntry{iif: 0, oifs: "1:1"}); got != want {
		t.Fatalf("ip6_mr_cache %s = %+v, want %+v", key, got, want)
	}
	// The same route again is not re-installed; an update replaces in place.
	if err := s.SetRoute(Route{Source: src, Group: grp, Input: l.ra, Outputs: []int{l.rc, l.rc, l.ra}}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetRoute(Route{Source: src, Group: grp, Input: l.ra}); err != nil {
		t.Fatal(err)
	}
	if got, want := mr6Cache(t, l.r)[key], (mrEntry{iif: 0, oifs: ""}); got != want {
		t.Fatalf("after update ip6_mr_cache %s = %+v, want %+v", key, got, want)
	}
	// A zone on the source is dropped: ip6mr keys on bare addresses.
	other := Route{Source: l.cAddr, Group: l.other, Input: l.rc, Outputs: []int{l.ra}}
	if err := s.SetRoute(Route{Source: l.cAddr.WithZone("rc"), Group: l.other, Input: l.rc, Outputs: []int{l.ra}}); err != nil {
		t.Fatal(err)
	}
	if got, want := mr6Cache(t, l.r)[l.cAddr.String()+","+l.other.String()], (mrEntry{iif: 1, oifs: "0:1"}); got != want {
		t.Fatalf("ip6_mr_cache other = %+v, want %+v", got, want)
	}
	want := []Route{
		{Source: src, Group: grp, Input: l.ra, Outputs: []int{}},
		other,
	}
	if got := s.Routes(); !routesEqual(got, want) {
		t.Errorf("Routes() = %+v, want %+v", got, want)
	}

	for name, r := range map[string]Route{
		"output without mif": {Source: src, Group: grp, Input: l.ra, Outputs: []int{9999}},
		"input without mif":  {Source: src, Group: grp, Input: 9999},
	} {
		t.Run(name, func(t *testing.T) {
			err := s.SetRoute(r)
			if err == nil || !strings.Contains(err.Error(), "9999") {
				t.Errorf("SetRoute = %v, want an error naming ifindex 9999", err)
			}
		})
	}
	for name, r := range map[string]Route{
		"ipv4 addresses":   {Source: netip.MustParseAddr("192.0.2.1"), Group: netip.MustParseAddr("239.1.2.3"), Input: l.ra},
		"unicast group":    {Source: src, Group: l.cAddr, Input: l.ra},
		"v4-mapped source": {Source: netip.MustParseAddr("::ffff:192.0.2.1"), Group: grp, Input: l.ra},
	} {
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
	if _, ok := mr6Cache(t, l.r)[key]; ok {
		t.Error("route still in ip6_mr_cache after DelRoute")
	}

	// Deleting rc drops the route arriving on it; the one arriving on ra
	// loses rc from its outputs.
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
	cache := mr6Cache(t, l.r)
	if got := cache[key]; got != (mrEntry{iif: 0, oifs: ""}) {
		t.Errorf("after DelVIF(rc) ip6_mr_cache %s = %+v, want no outputs", key, got)
	}
	if _, ok := cache[l.cAddr.String()+","+l.other.String()]; ok {
		t.Error("route arriving on rc still in ip6_mr_cache after DelVIF(rc)")
	}
	if got, want := mr6MIFs(t, l.r), map[int]string{0: "ra"}; !maps.Equal(got, want) {
		t.Errorf("ip6_mr_vif = %v, want %v", got, want)
	}
	if err := s.DelVIF(l.rc); err != nil {
		t.Errorf("second DelVIF: %v", err)
	}
	if mif, err := s.AddVIF(l.rc, 1); err != nil || mif != 1 {
		t.Errorf("AddVIF(rc) after delete = %d, %v; want 1", mif, err)
	}
	if err := s.SetRoute(Route{Source: src, Group: grp, Input: l.ra, Outputs: []int{l.rc}}); err != nil {
		t.Fatal(err)
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := mr6MIFs(t, l.r); len(got) != 0 {
		t.Errorf("MIFs left after Close: %v", got)
	}
	if got := mr6Cache(t, l.r); len(got) != 0 {
		t.Errorf("routes left after Close: %v", got)
	}
	if got := s.Routes(); len(got) != 0 {
		t.Errorf("Routes() after Close = %v", got)
	}
}

// udp6Sender is a host socket that sends multicast out of one interface.
type udp6Sender struct{ fd int }

func newUDP6Sender(t *testing.T, ns *node, ifindex, hops int) *udp6Sender {
	t.Helper()
	var fd int
	ns.Do(t, func() {
		var err error
		fd, err = unix.Socket(unix.AF_INET6, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_IF, ifindex); err != nil {
		t.Fatal(err)
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_HOPS, hops); err != nil {
		t.Fatal(err)
	}
	return &udp6Sender{fd: fd}
}

func (u *udp6Sender) send(t *testing.T, grp netip.Addr, payload string) {
	t.Helper()
	if err := unix.Sendto(u.fd, []byte(payload), 0, &unix.SockaddrInet6{Port: 5000, Addr: grp.As16()}); err != nil {
		t.Fatal(err)
	}
}

// joinGroup6 makes the host in ns a member of grp on ifindex, as an
// application would; its kernel then sends MLD reports. The returned socket
// receives the group's datagrams on port 5000.
func joinGroup6(t *testing.T, ns *node, ifindex int, grp netip.Addr) *net.UDPConn {
	t.Helper()
	var c *net.UDPConn
	ns.Do(t, func() {
		ifi, err := net.InterfaceByIndex(ifindex)
		if err != nil {
			t.Fatal(err)
		}
		c, err = net.ListenMulticastUDP("udp6", ifi, &net.UDPAddr{IP: grp.AsSlice(), Port: 5000})
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Cleanup(func() { c.Close() })
	return c
}

// icmp6Peer is a raw ICMPv6 socket in a host namespace that sees MLD with
// the same control messages the routing socket asks for.
type icmp6Peer struct {
	conn *net.IPConn
}

func newICMP6Peer(t *testing.T, ns *node) *icmp6Peer {
	t.Helper()
	var conn *net.IPConn
	ns.Do(t, func() {
		pc, err := net.ListenPacket("ip6:ipv6-icmp", "::")
		if err != nil {
			t.Fatal(err)
		}
		conn = pc.(*net.IPConn)
	})
	t.Cleanup(func() { conn.Close() })
	raw, err := conn.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		for _, o := range []int{unix.IPV6_RECVPKTINFO, unix.IPV6_RECVHOPLIMIT, unix.IPV6_RECVHOPOPTS} {
			if serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, o, 1); serr != nil {
				return
			}
		}
		serr = unix.SetsockoptString(int(fd), unix.IPPROTO_ICMPV6, icmp6FilterOpt, string(encodeICMP6Filter(binary.NativeEndian, []uint8{icmp6TypeMLDQuery})))
	}); err != nil {
		t.Fatal(err)
	}
	if serr != nil {
		t.Fatal(serr)
	}
	return &icmp6Peer{conn: conn}
}

// read returns the next MLD query, decoded as Socket6.Read decodes MLD.
func (p *icmp6Peer) read(t *testing.T) Packet {
	t.Helper()
	raw, err := p.conn.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	p.conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 1500)
	oob := make([]byte, 4096)
	var n, oobn int
	var from unix.Sockaddr
	var rerr error
	err = raw.Read(func(fd uintptr) bool {
		n, oobn, _, from, rerr = unix.Recvmsg(int(fd), buf, oob, 0)
		return rerr != unix.EAGAIN
	})
	if err == nil {
		err = rerr
	}
	if err != nil {
		t.Fatalf("peer read: %v", err)
	}
	pkt := Packet{Src: netip.AddrFrom16(from.(*unix.SockaddrInet6).Addr), Payload: buf[:n]}
	if err := parseControl6(oob[:oobn], &pkt); err != nil {
		t.Fatalf("peer control messages: %v", err)
	}
	return pkt
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

func TestSendMLD(t *testing.T) {
	l := newLab6(t)
	s := l.open6(t, 0)
	packets := reader(t, s)
	peer := newICMP6Peer(t, l.c)
	allNodes := netip.MustParseAddr("ff02::1")
	// MLDv2 general query (RFC 3810 §5.1), checksum left 0 for the kernel.
	query := []byte{
		130, 0, 0, 0, // type, code, checksum
		0x27, 0x10, 0, 0, // maximum response code 10000 ms, reserved
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // multicast address ::
		0x02, 125, 0, 0, // QRV 2, QQIC 125, no sources
	}

	for _, tc := range []struct {
		name string
		src  netip.Addr
	}{
		{"explicit link-local source", l.rcLL},
		{"kernel chooses the source", netip.Addr{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.Send(l.rc, tc.src, allNodes, query); err != nil {
				t.Fatal(err)
			}
			p := peer.read(t)
			if p.Src != l.rcLL || p.Dst != allNodes || p.Ifindex != l.cr || p.TTL != 1 || !p.RouterAlert {
				t.Errorf("peer got %s -> %s on %d, hop limit %d, router alert %v; want %s -> %s on %d, 1, true",
					p.Src, p.Dst, p.Ifindex, p.TTL, p.RouterAlert, l.rcLL, allNodes, l.cr)
			}
			if len(p.Payload) != len(query) || !bytes.Equal(p.Payload[4:], query[4:]) || !bytes.Equal(p.Payload[:2], query[:2]) {
				t.Fatalf("payload % x, want % x", p.Payload, query)
			}
			if c := icmp6Checksum(p.Src, p.Dst, p.Payload); c != 0 {
				t.Errorf("checksum % x does not verify", p.Payload[2:4])
			}
		})
	}

	// IPV6_MULTICAST_LOOP is off: our own queries never come back to Read.
	select {
	case p := <-packets:
		if p.Src == l.rcLL && len(p.Payload) > 0 && p.Payload[0] == icmp6TypeMLDQuery {
			t.Errorf("read our own query back: %+v", p)
		}
	case <-time.After(200 * time.Millisecond):
	}
	if err := s.Send(9999, netip.Addr{}, allNodes, query); err == nil {
		t.Error("Send on a missing interface succeeded")
	}
	if err := s.Send(l.rc, netip.Addr{}, netip.MustParseAddr("224.0.0.1"), query); err == nil {
		t.Error("Send to an ipv4 destination succeeded")
	}
}

// TestMLDReports6 shows how MLD reaches the routing socket (see Socket6):
// MLDv1 reports to a non-link-scope group arrive without any membership,
// MLDv2 reports and MLDv1 dones only after JoinRouterGroups.
func TestMLDReports6(t *testing.T) {
	l := newLab6(t)
	s := l.open6(t, 0)
	packets := reader(t, s)
	if _, err := s.AddVIF(l.ra, 1); err != nil {
		t.Fatal(err)
	}
	// fromA matches an MLD message of the given type from host A that names
	// grp (reports list their groups; A also reports its solicited-node
	// groups, and the router's own kernel reports loop back).
	fromA := func(typ byte, grp netip.Addr) func(Packet) bool {
		g := grp.As16()
		return func(p Packet) bool {
			return p.Upcall == nil && p.Src == l.aLL && len(p.Payload) > 0 && p.Payload[0] == typ && bytes.Contains(p.Payload, g[:])
		}
	}
	check := func(t *testing.T, p Packet, dst netip.Addr) {
		t.Helper()
		if p.Ifindex != l.ra || p.Src != l.aLL || p.Dst != dst || p.TTL != 1 || !p.RouterAlert {
			t.Errorf("packet %+v: want ifindex %d, %s -> %s, hop limit 1, router alert", p, l.ra, l.aLL, dst)
		}
	}
	mldVersion := func(t *testing.T, v string) {
		l.a.sysctl(t, "ipv6/conf/ar/force_mld_version", v)
	}

	t.Run("v1 report without router groups", func(t *testing.T) {
		mldVersion(t, "1")
		joinGroup6(t, l.a, l.ar, l.group3)
		p := await(t, packets, "MLDv1 report", fromA(icmp6TypeMLDv1Rep, l.group3))
		check(t, p, l.group3)
	})
	t.Run("nothing to link-scope groups without router groups", func(t *testing.T) {
		mldVersion(t, "1")
		linkScope := netip.MustParseAddr("ff12::1:7")
		joinGroup6(t, l.a, l.ar, linkScope)
		mldVersion(t, "2")
		g := netip.MustParseAddr("ff3e::1:6")
		joinGroup6(t, l.a, l.ar, g)
		v1, v2 := fromA(icmp6TypeMLDv1Rep, linkScope), fromA(icmp6TypeMLDv2Rep, g)
		deadline := time.After(300 * time.Millisecond)
	wait:
		for {
			select {
			case p := <-packets:
				if v1(p) || v2(p) {
					t.Fatalf("report to %s arrived without membership: %+v", p.Dst, p)
				}
			case <-deadline:
				break wait
			}
		}
	})

	if err := s.JoinRouterGroups(l.ra); err != nil {
		t.Fatal(err)
	}
	if err := s.JoinRouterGroups(l.ra); err != nil {
		t.Fatalf("second join: %v", err)
	}
	t.Run("v2 report to ff02::16", func(t *testing.T) {
		mldVersion(t, "2")
		joinGroup6(t, l.a, l.ar, l.group)
		p := await(t, packets, "MLDv2 report", fromA(icmp6TypeMLDv2Rep, l.group))
		check(t, p, netip.MustParseAddr("ff02::16"))
	})
	t.Run("v1 report and done", func(t *testing.T) {
		mldVersion(t, "1")
		c := joinGroup6(t, l.a, l.ar, l.group4)
		p := await(t, packets, "MLDv1 report", fromA(icmp6TypeMLDv1Rep, l.group4))
		check(t, p, l.group4)
		c.Close()
		p = await(t, packets, "MLDv1 done", fromA(icmp6TypeMLDv1Done, l.group4))
		check(t, p, netip.MustParseAddr("ff02::2"))
	})
	if err := s.LeaveRouterGroups(l.ra); err != nil {
		t.Fatal(err)
	}
	if err := s.LeaveRouterGroups(l.ra); err != nil {
		t.Fatalf("second leave: %v", err)
	}
}

func TestReadAfterClose6(t *testing.T) {
	l := newLab6(t)
	var s *Socket6
	var err error
	l.r.Do(t, func() { s, err = Open6(0) })
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		// The router's own MLD reports for its links may come first.
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
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("blocked Read returned %v, want net.ErrClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Read still blocked 2s after Close")
	}
}
