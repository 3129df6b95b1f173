//go:build linux

package e2e

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/control"
	"github.com/mcast-proxy/mcast-proxy/internal/netlab"
)

// TestJoinForwards: a joined group reaches its receiver and only the LAN it
// was joined on; a group nobody joined is not forwarded anywhere.
func TestJoinForwards(t *testing.T) {
	t.Parallel()
	tp := newTopo(t, topoOptions{})
	r1 := tp.receiver("rcv1", g1, netlab.AnySource)
	r3 := tp.receiver("rcv3", g3, netlab.AnySource) // another group, on down2
	sn1, sn3 := tp.sniffer(fam4, "rcv1"), tp.sniffer(fam4, "rcv3")
	start := time.Now()
	tp.sender(s1, g1)
	tp.sender(s1, g2) // nobody joins g2
	at := tp.waitFlowing(r1, s1, start, 50, 5*time.Second)
	t.Logf("first datagram of %s reached rcv1 %v after the stream started", g1.Addr(), at.Sub(start).Round(time.Millisecond))

	// Let the unjoined stream run for a while, then look at the wire.
	time.Sleep(time.Second)
	tp.notOnWire(start,
		wireCheck{"rcv1 (br-lan)", sn1, g2.Addr()},
		wireCheck{"rcv3 (down2)", sn3, g2.Addr()},
		wireCheck{"rcv3 (down2, joined only " + g3.Addr().String() + ")", sn3, g1.Addr()})
	if n := r3.Total(); n != 0 {
		t.Errorf("rcv3 received %d datagrams on %s, which has no sender", n, g3)
	}
	tp.onlyOutputs(fam4, map[netip.Addr][]string{g2.Addr(): nil, g1.Addr(): {"br-lan"}})
}

// TestSecondDownstreamJoin: a second downstream joining a stream that already
// flows gets it at once (the forwarding entry is updated, not relearned).
func TestSecondDownstreamJoin(t *testing.T) {
	t.Parallel()
	tp := newTopo(t, topoOptions{})
	r1 := tp.receiver("rcv1", g1, netlab.AnySource)
	start := time.Now()
	tp.sender(s1, g1)
	tp.waitFlowing(r1, s1, start, 50, 5*time.Second)

	tp.secondJoin(r1, s1, g1, joinLatencyLimit, "")
}

// TestOneOfTwoLeaves: when one of two members on br-lan leaves, the other
// keeps receiving without a single lost datagram (no quick-leave cut).
func TestOneOfTwoLeaves(t *testing.T) {
	t.Parallel()
	tp := newTopo(t, topoOptions{})
	r1 := tp.receiver("rcv1", g1, netlab.AnySource)
	r2 := tp.receiver("rcv2", g1, netlab.AnySource)
	start := time.Now()
	tp.sender(s1, g1)
	tp.waitFlowing(r1, s1, start, 20, 5*time.Second)
	tp.waitFlowing(r2, s1, start, 20, 5*time.Second)

	tp.otherKeepsFlowing(r1, r2, s1)
}

// TestLastMemberLeaves: when the last member leaves, the stream stops within
// the last member query time (RFC 3376 §6.4.2) plus a margin.
func TestLastMemberLeaves(t *testing.T) {
	t.Parallel()
	tp := newTopo(t, topoOptions{})
	r1 := tp.receiver("rcv1", g1, netlab.AnySource)
	sn := tp.sniffer(fam4, "rcv1")
	start := time.Now()
	tp.sender(s1, g1)
	tp.waitFlowing(r1, s1, start, 20, 5*time.Second)

	tp.lastLeaves(r1, sn, s1, g1.Addr(), "")
}

// TestForcedVersions: hosts speaking IGMPv1, v2 and v3 can join and leave.
// IGMPv1 has no leave, so its stream stops only when the membership times
// out (group membership interval, RFC 3376 §8.4).
func TestForcedVersions(t *testing.T) {
	t.Parallel()
	for _, v := range []int{1, 2, 3} {
		t.Run(fmt.Sprintf("IGMPv%d", v), func(t *testing.T) {
			t.Parallel()
			tp := newTopo(t, topoOptions{})
			tp.must(tp.lab.Sysctl("rcv1", "net/ipv4/conf/eth0/force_igmp_version", fmt.Sprint(v)))
			r1 := tp.receiver("rcv1", g1, netlab.AnySource)
			sn := tp.sniffer(fam4, "rcv1")
			start := time.Now()
			tp.sender(s1, g1)
			tp.waitFlowing(r1, s1, start, 20, 5*time.Second)
			// Still flowing across a full query interval: the host's
			// answers keep the membership alive.
			time.Sleep(queryInterval + 500*time.Millisecond)
			checked := time.Now()
			if gaps := r1.GapsBetween(s1, start, checked); len(gaps) != 0 {
				t.Errorf("datagrams lost while joined: %v", gaps)
			}

			left := time.Now()
			tp.must(r1.Leave())
			limit := lastMemberTime + stopMargin
			if v == 1 {
				limit = membershipTime + stopMargin
			}
			last := tp.waitStopped(sn, netlab.UDPTo(g1.Addr(), s1, left), 500*time.Millisecond, limit+2*time.Second, "the stream")
			stop := last.Sub(left)
			if last.IsZero() {
				stop = 0
			}
			t.Logf("IGMPv%d host: stream stopped %v after leaving (limit %v)", v, stop.Round(time.Millisecond), limit)
			if stop > limit {
				t.Errorf("stream stopped %v after the leave, want within %v", stop, limit)
			}
		})
	}
}

// TestSourceFilters: IGMPv3 INCLUDE and EXCLUDE source lists decide which of
// two sources sending to the same group reach the host, and the router does
// not put the denied source on the LAN at all once it knows the filter. The
// senders start only then: a host joins EXCLUDE{S2} with two socket
// operations and so two reports (EXCLUDE{}, then BLOCK{S2}), and in between
// the router rightly forwards every source.
func TestSourceFilters(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name       string
		mode       netlab.FilterMode
		sources    []netip.Addr
		want, deny netip.Addr
	}{
		{"INCLUDE{S1}", netlab.Include, []netip.Addr{s1}, s1, s2},
		{"EXCLUDE{S2}", netlab.Exclude, []netip.Addr{s2}, s1, s2},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			tp := newTopo(t, topoOptions{})
			r1 := tp.receiver("rcv1", g1, c.mode, c.sources...)
			sn := tp.sniffer(fam4, "rcv1")
			tp.waitFilter("br-lan", g1.Addr(), c.mode, c.sources)
			start := time.Now()
			tp.sender(s1, g1)
			tp.sender(s2, g1)
			tp.waitFlowing(r1, c.want, start, 50, 5*time.Second)
			time.Sleep(500 * time.Millisecond)
			if n := r1.CountSince(c.deny, start); n != 0 {
				t.Errorf("host received %d datagrams from %s", n, c.deny)
			}
			// The router must not forward the denied source at all, not
			// merely rely on the host's filter.
			if n := sn.Count(netlab.UDPTo(g1.Addr(), c.deny, start)); n != 0 {
				t.Errorf("%d datagrams from %s on the wire of br-lan, want none", n, c.deny)
				tp.logProc("net/ip_mr_cache")
			}
		})
	}
}

// waitFilter waits until the daemon's status shows group on the downstream
// ifname in mode with exactly sources: forwarded ones in include mode,
// blocked ones in exclude mode. A host's filter may take more than one
// report to arrive; until the last, the router forwards what the earlier
// ones asked for.
func (tp *topo) waitFilter(ifname string, group netip.Addr, mode netlab.FilterMode, sources []netip.Addr) {
	tp.t.Helper()
	want := map[netip.Addr]bool{}
	for _, s := range sources {
		want[s] = true
	}
	same := func(have []netip.Addr) bool {
		if len(have) != len(want) {
			return false
		}
		for _, a := range have {
			if !want[a] {
				return false
			}
		}
		return true
	}
	tp.waitStatus(10*time.Second, fmt.Sprintf("%s %v%v on %s", group, mode, sources, ifname), func(st control.Status) bool {
		g, ok := groupOn(st, ifname, group)
		if !ok {
			return false
		}
		switch mode {
		case netlab.Include:
			var fwd []netip.Addr
			for _, s := range g.Sources {
				fwd = append(fwd, s.Address)
			}
			return g.Mode == control.ModeInclude && same(fwd)
		case netlab.Exclude:
			return g.Mode == control.ModeExclude && same(g.Excluded)
		}
		return g.Mode == control.ModeExclude && len(g.Excluded) == 0
	})
}
