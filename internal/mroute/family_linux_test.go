package mroute

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// routingSocket is the method set Socket and Socket6 share, so one scenario
// can be checked on both families.
type routingSocket interface {
	AddVIF(ifindex, threshold int) (int, error)
	SetRoute(Route) error
	Counters(src, grp netip.Addr) (Counters, error)
	Read([]byte) (Packet, error)
	Close() error
}

// famLab is the part of lab and lab6 the shared scenarios use.
type famLab struct {
	r, a, c        *node
	ra, rc, ar, cr int
	src            netip.Addr // A's address
	group, other   netip.Addr
	open           func(t *testing.T) routingSocket // table 0
	// sender sends multicast out of ifindex with the given TTL or hop limit.
	sender func(t *testing.T, ns *node, ifindex, ttl int) func(grp netip.Addr, payload string)
	join   func(t *testing.T, ns *node, ifindex int, grp netip.Addr) *net.UDPConn
}

// family is one address family of the shared kernel scenarios.
type family struct {
	name     string
	slot     string // what the kernel calls a slot, as errors name it
	protocol string // the group membership protocol the socket carries
	// headers is what the kernel counts per forwarded datagram beside the
	// UDP data: IPv4 counts its header and UDP's, IPv6 the payload only.
	headers uint64
	newLab  func(t *testing.T) famLab
}

var families = []family{
	{name: "ipv4", slot: "vif", protocol: "IGMP", headers: 28, newLab: func(t *testing.T) famLab {
		l := newLab(t)
		return famLab{
			r: l.r, a: l.a, c: l.c, ra: l.ra, rc: l.rc, ar: l.ar, cr: l.cr,
			src: l.aAddr, group: l.testGroup, other: l.otherGroup,
			open: func(t *testing.T) routingSocket { return l.open(t, 0) },
			sender: func(t *testing.T, ns *node, ifindex, ttl int) func(netip.Addr, string) {
				u := newUDPSender(t, ns, ifindex, ttl)
				return func(grp netip.Addr, payload string) { u.send(t, grp, payload) }
			},
			join: joinGroup,
		}
	}},
	{name: "ipv6", slot: "mif", protocol: "MLD", headers: 8, newLab: func(t *testing.T) famLab {
		l := newLab6(t)
		return famLab{
			r: l.r, a: l.a, c: l.c, ra: l.ra, rc: l.rc, ar: l.ar, cr: l.cr,
			src: l.aAddr, group: l.group, other: l.other,
			open: func(t *testing.T) routingSocket { return l.open6(t, 0) },
			sender: func(t *testing.T, ns *node, ifindex, hops int) func(netip.Addr, string) {
				u := newUDP6Sender(t, ns, ifindex, hops)
				return func(grp netip.Addr, payload string) { u.send(t, grp, payload) }
			},
			join: joinGroup6,
		}
	}},
}

func TestVIFLimit(t *testing.T) {
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			l := f.newLab(t)
			s := l.open(t)
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
}

// TestUpcallAndForwarding also pins down, for IPv6, that
// net.ipv6.conf.*.forwarding may stay 0: ip6mr forwards multicast on
// mc_forwarding alone, which MRT6_INIT and MRT6_ADD_MIF set.
func TestUpcallAndForwarding(t *testing.T) {
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			l := f.newLab(t)
			if f.name == "ipv6" {
				for _, p := range []string{"all", "ra", "rc"} {
					l.r.sysctl(t, "ipv6/conf/"+p+"/forwarding", "0")
				}
			}
			s := l.open(t)
			packets := reader(t, s)
			vifRA, err := s.AddVIF(l.ra, 1)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.AddVIF(l.rc, 1); err != nil {
				t.Fatal(err)
			}
			recv := l.join(t, l.c, l.cr, l.group)
			send := l.sender(t, l.a, l.ar, 8)

			// No route yet: the first packet raises NOCACHE.
			send(l.group, "first")
			p := await(t, packets, "NOCACHE upcall", func(p Packet) bool { return p.Upcall != nil })
			want := Upcall{Type: UpcallNoCache, VIF: vifRA, Ifindex: l.ra, Source: l.src, Group: l.group}
			if *p.Upcall != want {
				t.Fatalf("upcall %+v, want %+v", *p.Upcall, want)
			}
			if p.Ifindex != 0 || p.Src.IsValid() || p.Payload != nil {
				t.Errorf("upcall packet has %s fields set: %+v", f.protocol, p)
			}

			if err := s.SetRoute(Route{Source: l.src, Group: l.group, Input: l.ra, Outputs: []int{l.rc}}); err != nil {
				t.Fatal(err)
			}
			const n = 5
			for i := range n {
				send(l.group, fmt.Sprintf("data %d", i))
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
				if from.IP.String() != l.src.String() {
					t.Errorf("datagram from %v", from)
				}
				got[string(buf[:k])] = true
			}
			if !got["first"] {
				t.Error("the packet queued before the route was not forwarded")
			}

			c, err := s.Counters(l.src, l.group)
			if err != nil {
				t.Fatal(err)
			}
			if c.Packets < n || c.Bytes < n*(uint64(len("data 0"))+f.headers) {
				t.Errorf("counters %+v after %d packets", c, n)
			}
			// They keep growing with the stream.
			send(l.group, "more")
			for deadline := time.Now().Add(time.Second); ; time.Sleep(10 * time.Millisecond) {
				c2, err := s.Counters(l.src, l.group)
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
			if _, err := s.Counters(l.src, l.other); err == nil {
				t.Error("Counters of a route never installed succeeded")
			}
		})
	}
}
