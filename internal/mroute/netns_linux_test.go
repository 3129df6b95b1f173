package mroute

import (
	"errors"
	"net"
	"net/netip"
	"os"
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

// lab is a router namespace between two hosts:
//
//	A (ar 192.0.2.2) --- (ra 192.0.2.1) R (rc 198.51.100.1) --- (cr 198.51.100.2) C
type lab struct {
	r, a, c    *node
	ra, rc     int // router-side ifindexes
	ar, cr     int // host-side ifindexes
	aAddr      netip.Addr
	raAddr     netip.Addr
	rcAddr     netip.Addr
	cAddr      netip.Addr
	testGroup  netip.Addr
	otherGroup netip.Addr
}

func newLab(t *testing.T) *lab {
	t.Helper()
	netns.RequireRoot(t)
	l := &lab{
		r: newNode(t), a: newNode(t), c: newNode(t),
		aAddr:      netip.MustParseAddr("192.0.2.2"),
		raAddr:     netip.MustParseAddr("192.0.2.1"),
		rcAddr:     netip.MustParseAddr("198.51.100.1"),
		cAddr:      netip.MustParseAddr("198.51.100.2"),
		testGroup:  netip.MustParseAddr("239.1.2.3"),
		otherGroup: netip.MustParseAddr("239.1.2.4"),
	}
	l.r.IP(t, "link", "add", "ra", "type", "veth", "peer", "name", "ar", "netns", l.a.Name)
	l.r.IP(t, "link", "add", "rc", "type", "veth", "peer", "name", "cr", "netns", l.c.Name)
	l.r.IP(t, "addr", "add", "192.0.2.1/24", "dev", "ra")
	l.r.IP(t, "addr", "add", "198.51.100.1/24", "dev", "rc")
	l.a.IP(t, "addr", "add", "192.0.2.2/24", "dev", "ar")
	l.c.IP(t, "addr", "add", "198.51.100.2/24", "dev", "cr")
	for _, x := range []struct {
		ns  *node
		dev string
	}{{l.r, "ra"}, {l.r, "rc"}, {l.a, "ar"}, {l.c, "cr"}} {
		// Strict reverse-path filtering would drop multicast from the other
		// side's subnet; the effective value is the larger of all and dev.
		x.ns.sysctl(t, "ipv4/conf/all/rp_filter", "0")
		x.ns.sysctl(t, "ipv4/conf/"+x.dev+"/rp_filter", "0")
		x.ns.IP(t, "link", "set", x.dev, "up")
	}
	l.a.IP(t, "route", "add", "default", "via", "192.0.2.1")
	l.c.IP(t, "route", "add", "default", "via", "198.51.100.1")
	l.ra, l.rc = l.r.ifindex(t, "ra"), l.r.ifindex(t, "rc")
	l.ar, l.cr = l.a.ifindex(t, "ar"), l.c.ifindex(t, "cr")
	return l
}

// open opens a routing socket in the router namespace, closed at cleanup.
func (l *lab) open(t *testing.T, table uint32) *Socket { return openIn(t, l.r, Open, table) }

// openIn opens a Socket or Socket6 in ns, closed at cleanup.
func openIn[S interface{ Close() error }](t *testing.T, ns *node, open func(uint32) (S, error), table uint32) S {
	t.Helper()
	var s S
	var err error
	ns.Do(t, func() { s, err = open(table) })
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

// reader reads a Socket or Socket6 in a goroutine until it is closed, and
// checks that Read returns once Close has run; Read errors other than
// ErrMalformed fail the test.
func reader(t *testing.T, s interface {
	Read([]byte) (Packet, error)
	Close() error
}) <-chan Packet {
	t.Helper()
	ch := make(chan Packet, 256)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			buf := make([]byte, 2048)
			p, err := s.Read(buf)
			switch {
			case errors.Is(err, net.ErrClosed):
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

func newUDPSender(t *testing.T, ns *node, ifindex, ttl int) *udpSender {
	t.Helper()
	var fd int
	ns.Do(t, func() {
		var err error
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_IF, &unix.IPMreqn{Ifindex: int32(ifindex)}); err != nil {
		t.Fatal(err)
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_TTL, ttl); err != nil {
		t.Fatal(err)
	}
	return &udpSender{fd: fd}
}

func (u *udpSender) send(t *testing.T, grp netip.Addr, payload string) {
	t.Helper()
	if err := unix.Sendto(u.fd, []byte(payload), 0, &unix.SockaddrInet4{Port: 5000, Addr: grp.As4()}); err != nil {
		t.Fatal(err)
	}
}

// joinGroup makes the host in ns a member of grp on ifindex, as an
// application would; its kernel then sends IGMP reports. The returned socket
// receives the group's datagrams on port 5000.
func joinGroup(t *testing.T, ns *node, ifindex int, grp netip.Addr) *net.UDPConn {
	t.Helper()
	var c *net.UDPConn
	ns.Do(t, func() {
		ifi, err := net.InterfaceByIndex(ifindex)
		if err != nil {
			t.Fatal(err)
		}
		c, err = net.ListenMulticastUDP("udp4", ifi, &net.UDPAddr{IP: grp.AsSlice(), Port: 5000})
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Cleanup(func() { c.Close() })
	return c
}
