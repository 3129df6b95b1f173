package mroute

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/netns"
	"golang.org/x/sys/unix"
)

// node is one namespace of a test lab, with loopback up.
type node struct{ *netns.NS }

func newNode(t *testing.T) *node {
	t.Helper()
	n := &node{netns.New(t)}
	n.IP(t, "link", "set", "lo", "up")
	return n
}

// sysctl writes a /proc/sys/net value inside the namespace.
func (ns *node) sysctl(t *testing.T, path, value string) {
	t.Helper()
	ns.Do(t, func() {
		if err := os.WriteFile("/proc/sys/net/"+path, []byte(value), 0o644); err != nil {
			t.Fatal(err)
		}
	})
}

// procNet reads /proc/net/<file> of the namespace; /proc/net follows the
// thread group leader, /proc/thread-self/net the switched thread.
func (ns *node) procNet(t *testing.T, file string) string {
	t.Helper()
	var b []byte
	ns.Do(t, func() {
		var err error
		b, err = os.ReadFile("/proc/thread-self/net/" + file)
		if err != nil {
			t.Fatal(err)
		}
	})
	return string(b)
}

func (ns *node) ifindex(t *testing.T, name string) int {
	t.Helper()
	var idx int
	ns.Do(t, func() {
		ifi, err := net.InterfaceByName(name)
		if err != nil {
			t.Fatal(err)
		}
		idx = ifi.Index
	})
	return idx
}

// lab is a router namespace between two hosts, for one address family:
//
//	A (ar) --- (ra) R (rc) --- (cr) C
//
// with the addresses of labFamily: 192.0.2.0/24 and 198.51.100.0/24 for
// IPv4, 2001:db8:a::/64 and 2001:db8:c::/64 for IPv6.
type lab struct {
	f       *labFamily
	r, a, c *node
	ra, rc  int // router-side ifindexes
	ar, cr  int // host-side ifindexes
	// aSrc is what A's multicast comes from and aReports what A's reports
	// come from (its link-local address for MLD); rcSrc is what R's queries
	// on rc come from when the kernel chooses.
	aSrc, aReports, rcSrc netip.Addr
	cAddr                 netip.Addr
	group, other          netip.Addr
}

// newLab builds the lab for f.
func newLab(t *testing.T, f *labFamily) *lab {
	t.Helper()
	netns.RequireRoot(t)
	l := &lab{f: f, r: newNode(t), a: newNode(t), c: newNode(t), group: f.group, other: f.other}
	if f.Family == IPv6 {
		for _, ns := range []*node{l.r, l.a, l.c} {
			// Without duplicate address detection addresses, link-local
			// ones included, are usable at once; "default" covers links
			// made later.
			ns.sysctl(t, "ipv6/conf/all/accept_dad", "0")
			ns.sysctl(t, "ipv6/conf/default/accept_dad", "0")
		}
	}
	l.r.IP(t, "link", "add", "ra", "type", "veth", "peer", "name", "ar", "netns", l.a.Name)
	l.r.IP(t, "link", "add", "rc", "type", "veth", "peer", "name", "cr", "netns", l.c.Name)
	for _, x := range []struct {
		ns   *node
		dev  string
		addr netip.Prefix
	}{{l.r, "ra", f.ra}, {l.r, "rc", f.rc}, {l.a, "ar", f.ar}, {l.c, "cr", f.cr}} {
		if f.Family == IPv4 {
			// Strict reverse-path filtering would drop multicast from the
			// other side's subnet; the effective value is the larger of
			// all and dev.
			x.ns.sysctl(t, "ipv4/conf/all/rp_filter", "0")
			x.ns.sysctl(t, "ipv4/conf/"+x.dev+"/rp_filter", "0")
			x.ns.IP(t, "addr", "add", x.addr.String(), "dev", x.dev)
		} else {
			x.ns.IP(t, "addr", "add", x.addr.String(), "dev", x.dev, "nodad")
		}
		x.ns.IP(t, "link", "set", x.dev, "up")
	}
	l.ra, l.rc = l.r.ifindex(t, "ra"), l.r.ifindex(t, "rc")
	l.ar, l.cr = l.a.ifindex(t, "ar"), l.c.ifindex(t, "cr")
	l.aSrc, l.cAddr = f.ar.Addr(), f.cr.Addr()
	if f.Family == IPv4 {
		l.a.IP(t, "route", "add", "default", "via", f.ra.Addr().String())
		l.c.IP(t, "route", "add", "default", "via", f.rc.Addr().String())
		l.aReports, l.rcSrc = l.aSrc, f.rc.Addr()
	} else {
		l.aReports, l.rcSrc = linkLocal(t, l.a, "ar"), linkLocal(t, l.r, "rc")
	}
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

// tryOpen opens a routing socket of fam in the router namespace.
func (l *lab) tryOpen(t *testing.T, fam Family, table uint32) (*Socket, error) {
	t.Helper()
	var s *Socket
	var err error
	l.r.Do(t, func() { s, err = Open(fam, table) })
	return s, err
}

// openRouting opens the default table's socket with a VIF (MIF) on ra
// and one on rc, ready for routes between them.
func (l *lab) openRouting(t *testing.T) *Socket {
	t.Helper()
	s := l.open(t, 0)
	for _, ifi := range []int{l.ra, l.rc} {
		if _, err := s.AddVIF(ifi, 1); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// open opens a routing socket of the lab's family in the router namespace,
// closed at cleanup.
func (l *lab) open(t *testing.T, table uint32) *Socket {
	t.Helper()
	s, err := l.tryOpen(t, l.f.Family, table)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

// reader reads a Socket in a goroutine until it is closed, and
// checks that Read returns once Close has run; Read errors other than
// ErrMalformed fail the test.
func reader(t *testing.T, s *Socket) <-chan Packet {
	t.Helper()
	ch := make(chan Packet, 256)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			buf := make([]byte, 2048)
			p, err := s.Read(buf)
			switch {
			case errors.Is(err, os.ErrClosed):
				return
			case errors.Is(err, ErrMalformed):
				t.Logf("read: %v", err)
				continue
			case err != nil:
				t.Errorf("read: %v", err)
				return
			}
			select {
			case ch <- p:
			default:
			}
		}
	}()
	t.Cleanup(func() {
		s.Close()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			t.Error("Read did not return after Close")
		}
	})
	return ch
}

// await returns the first packet that satisfies match, failing after a few
// seconds. Packets that do not match (other IGMP on the links) are skipped.
func await(t *testing.T, ch <-chan Packet, what string, match func(Packet) bool) Packet {
	t.Helper()
	deadline := time.After(3 * time.Second)
	for {
		select {
		case p := <-ch:
			if match(p) {
				return p
			}
		case <-deadline:
			t.Fatalf("no %s within 3s", what)
		}
	}
}

// udpSender is a host socket that sends multicast out of one interface.
type udpSender struct {
	fd int
}

func newUDPSender(t *testing.T, ns *node, fam Family, ifindex, ttl int) *udpSender {
	t.Helper()
	domain := unix.AF_INET
	if fam == IPv6 {
		domain = unix.AF_INET6
	}
	var fd int
	ns.Do(t, func() {
		var err error
		fd, err = unix.Socket(domain, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Cleanup(func() { unix.Close(fd) })
	var err error
	if fam == IPv4 {
		err = errors.Join(
			unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_IF, &unix.IPMreqn{Ifindex: int32(ifindex)}),
			unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_TTL, ttl))
	} else {
		err = errors.Join(
			unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_IF, ifindex),
			unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_HOPS, ttl))
	}
	if err != nil {
		t.Fatal(err)
	}
	return &udpSender{fd: fd}
}

func (u *udpSender) send(t *testing.T, grp netip.Addr, payload string) {
	t.Helper()
	var to unix.Sockaddr = &unix.SockaddrInet6{Port: 5000, Addr: grp.As16()}
	if grp.Is4() {
		to = &unix.SockaddrInet4{Port: 5000, Addr: grp.As4()}
	}
	if err := unix.Sendto(u.fd, []byte(payload), 0, to); err != nil {
		t.Fatal(err)
	}
}

// joinGroup makes the host in ns a member of grp on ifindex, as an
// application would; its kernel then sends IGMP or MLD reports. The returned
// socket receives the group's datagrams on port 5000.
func joinGroup(t *testing.T, ns *node, ifindex int, grp netip.Addr) *net.UDPConn {
	t.Helper()
	network := "udp6"
	if grp.Is4() {
		network = "udp4"
	}
	var c *net.UDPConn
	ns.Do(t, func() {
		ifi, err := net.InterfaceByIndex(ifindex)
		if err != nil {
			t.Fatal(err)
		}
		c, err = net.ListenMulticastUDP(network, ifi, &net.UDPAddr{IP: grp.AsSlice(), Port: 5000})
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Cleanup(func() { c.Close() })
	return c
}
