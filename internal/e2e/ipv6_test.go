//go:build linux

package e2e

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/control"
	"github.com/mcast-proxy/mcast-proxy/internal/netlab"
)

// mldVersions are the host versions the MLD tests run with: MLDv1 hosts
// (RFC 2710, report suppression, Done) and MLDv2 hosts (RFC 3810).
var mldVersions = []int{1, 2}

// TestMLDJoinForwards: a host joining an IPv6 group gets the stream, only on
// its own LAN; a group nobody joined reaches no downstream wire. The
// daemon's status shows the group in the host's compatibility mode.
func TestMLDJoinForwards(t *testing.T) {
	t.Parallel()
	for _, v := range mldVersions {
		t.Run(fmt.Sprintf("MLDv%d", v), func(t *testing.T) {
			t.Parallel()
			tp := newTopo(t, topoOptions{ipv6: true})
			tp.forceMLD("rcv1", v)
			r1 := tp.receiver("rcv1", g1v6, netlab.AnySource)
			sn1, sn3 := tp.sniffer(fam6, "rcv1"), tp.sniffer(fam6, "rcv3")
			start := time.Now()
			tp.sender(s1v6, g1v6)
			tp.sender(s1v6, g3v6) // nobody joins g3v6
			at := tp.waitFlowing(r1, s1v6, start, 50, 5*time.Second)
			t.Logf("first datagram of %s reached rcv1 %v after the stream started", g1v6.Addr(), at.Sub(start).Round(time.Millisecond))

			// Let the unjoined stream run for a while, then look at the wire.
			time.Sleep(time.Second)
			tp.notOnWire(start,
				wireCheck{"rcv1 (br-lan)", sn1, g3v6.Addr()},
				wireCheck{"rcv3 (down2)", sn3, g3v6.Addr()},
				wireCheck{"rcv3 (down2, joined nothing)", sn3, g1v6.Addr()})
			if gaps := r1.GapsBetween(s1v6, at, time.Time{}); len(gaps) != 0 {
				t.Errorf("rcv1 lost datagrams while joined: %v", gaps)
			}

			tp.onlyOutputs(fam6, map[netip.Addr][]string{g3v6.Addr(): nil, g1v6.Addr(): {"br-lan"}})
			st := tp.status()
			if g, ok := groupOn(st, "br-lan", g1v6.Addr()); !ok {
				t.Errorf("status: %s not listed on br-lan (ipv6)", g1v6.Addr())
			} else if g.Compat != v {
				t.Errorf("status: %s on br-lan has compat %d, want MLDv%d (the host's version)", g1v6.Addr(), g.Compat, v)
			}
		})
	}
}

// TestMLDSecondDownstreamJoin: a second downstream joining an IPv6 stream
// that already flows gets it at once, and the first loses nothing.
func TestMLDSecondDownstreamJoin(t *testing.T) {
	t.Parallel()
	for _, v := range mldVersions {
		t.Run(fmt.Sprintf("MLDv%d", v), func(t *testing.T) {
			t.Parallel()
			tp := newTopo(t, topoOptions{ipv6: true})
			tp.forceMLD("rcv1", v)
			tp.forceMLD("rcv3", v)
			r1 := tp.receiver("rcv1", g1v6, netlab.AnySource)
			start := time.Now()
			tp.sender(s1v6, g1v6)
			tp.waitFlowing(r1, s1v6, start, 50, 5*time.Second)

			tp.secondJoin(r1, s1v6, g1v6, 2*joinLatencyLimit, fmt.Sprintf("MLDv%d: ", v))
		})
	}
}

// TestMLDOneOfTwoLeaves: when one of two listeners on br-lan leaves, the
// other keeps receiving without a single lost datagram: the router asks
// (multicast-address-specific queries, RFC 3810 §7.4.2) instead of cutting.
func TestMLDOneOfTwoLeaves(t *testing.T) {
	t.Parallel()
	for _, v := range mldVersions {
		t.Run(fmt.Sprintf("MLDv%d", v), func(t *testing.T) {
			t.Parallel()
			tp := newTopo(t, topoOptions{ipv6: true})
			tp.forceMLD("rcv1", v)
			tp.forceMLD("rcv2", v)
			sn2 := tp.sniffer(fam6, "rcv2")
			// rcv1 joins last, so that as an MLDv1 host it is the last
			// reporter and sends a Done (RFC 2710 §4).
			r2 := tp.receiver("rcv2", g1v6, netlab.AnySource)
			r1 := tp.receiver("rcv1", g1v6, netlab.AnySource)
			routerLL, err := tp.lab.WaitLinkLocal("router", "br-lan", time.Second)
			tp.must(err)
			start := time.Now()
			tp.sender(s1v6, g1v6)
			tp.waitFlowing(r1, s1v6, start, 20, 5*time.Second)
			tp.waitFlowing(r2, s1v6, start, 20, 5*time.Second)

			left, watch := tp.otherKeepsFlowing(r1, r2, s1v6)
			n := r2.CountSince(s1v6, left)
			queries := sn2.Count(addressQueryFrom(routerLL, g1v6.Addr(), left))
			t.Logf("MLDv%d: rcv2 received %d datagrams without a gap in the %v after rcv1 left; router sent %d queries for %s",
				v, n, watch, queries, g1v6.Addr())
			// An MLDv2 leave is always sent (TO_IN{}, RFC 3810 §6.1); an
			// MLDv1 host that heard another report may stay silent.
			if v == 2 && queries == 0 {
				t.Errorf("router sent no address-specific query for %s after rcv1's leave, so the test shows nothing", g1v6.Addr())
			}
		})
	}
}

// TestMLDLastListenerLeaves: when the last listener leaves (MLDv1 Done,
// MLDv2 TO_IN{}), the stream stops on the wire within the last listener
// query time (RFC 3810 §7.4.2, §9.14) plus a margin, and stays stopped.
func TestMLDLastListenerLeaves(t *testing.T) {
	t.Parallel()
	for _, v := range mldVersions {
		t.Run(fmt.Sprintf("MLDv%d", v), func(t *testing.T) {
			t.Parallel()
			tp := newTopo(t, topoOptions{ipv6: true})
			tp.forceMLD("rcv1", v)
			r1 := tp.receiver("rcv1", g1v6, netlab.AnySource)
			sn := tp.sniffer(fam6, "rcv1")
			start := time.Now()
			tp.sender(s1v6, g1v6)
			tp.waitFlowing(r1, s1v6, start, 20, 5*time.Second)

			tp.lastLeaves(r1, sn, s1v6, g1v6.Addr(), fmt.Sprintf("MLDv%d: ", v))
		})
	}
}

// TestMLDSourceFilters: MLDv2 source lists decide which of two senders
// reach the host, and the router does not forward the other at all once it
// knows the filter (the senders start then; see TestSourceFilters).
// INCLUDE is tried on the source-specific group ff3e::1:2; EXCLUDE, which
// has no meaning for source-specific groups (RFC 4607 §1), on ff0e::1:1.
func TestMLDSourceFilters(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name       string
		group      netip.AddrPort
		mode       netlab.FilterMode
		sources    []netip.Addr
		want, deny netip.Addr
	}{
		{"INCLUDE{S1} on ff3e::1:2", g2v6, netlab.Include, []netip.Addr{s1v6}, s1v6, s2v6},
		{"EXCLUDE{S2} on ff0e::1:1", g1v6, netlab.Exclude, []netip.Addr{s2v6}, s1v6, s2v6},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			tp := newTopo(t, topoOptions{ipv6: true})
			r1 := tp.receiver("rcv1", c.group, c.mode, c.sources...)
			sn := tp.sniffer(fam6, "rcv1")
			tp.waitFilter("br-lan", c.group.Addr(), c.mode, c.sources)
			start := time.Now()
			tp.sender(s1v6, c.group)
			tp.sender(s2v6, c.group)
			tp.waitFlowing(r1, c.want, start, 50, 5*time.Second)
			time.Sleep(500 * time.Millisecond)
			if n := r1.CountSince(c.deny, start); n != 0 {
				t.Errorf("host received %d datagrams from %s", n, c.deny)
			}
			if n := sn.Count(netlab.UDPTo(c.group.Addr(), c.deny, start)); n != 0 {
				t.Errorf("%d datagrams from %s on the wire of br-lan, want none", n, c.deny)
				tp.logProc("net/ip6_mr_cache")
			}
			t.Logf("%s: %d datagrams from %s, none from %s", c.name, r1.CountSince(c.want, start), c.want, c.deny)
		})
	}
}

// TestMLDUpstreamMergedMembership: two downstreams asking for different
// sources of one group make the router subscribe to both on up0 (RFC 4605
// §4.1), as the kernel's own MLD state shows; each LAN gets only its source.
// Link-local groups the hosts join (solicited-node, mDNS) are never proxied
// (RFC 4291 §2.7): up0 has no link-scope group beyond those the router's
// own stack had before any host joined anything.
func TestMLDUpstreamMergedMembership(t *testing.T) {
	t.Parallel()
	tp := newTopo(t, topoOptions{ipv6: true})
	baseline, _ := tp.upstreamGroups(fam6)

	mdns := netip.MustParseAddrPort("[ff02::fb]:5064")
	tp.receiver("rcv2", mdns, netlab.AnySource)
	r1 := tp.receiver("rcv1", g2v6, netlab.Include, s1v6)
	r3 := tp.receiver("rcv3", g2v6, netlab.Include, s2v6)
	sn1, sn3 := tp.sniffer(fam6, "rcv1"), tp.sniffer(fam6, "rcv3")
	start := time.Now()
	tp.sender(s1v6, g2v6)
	tp.sender(s2v6, g2v6)
	tp.waitFlowing(r1, s1v6, start, 20, 5*time.Second)
	tp.waitFlowing(r3, s2v6, start, 20, 5*time.Second)

	merged := func() bool {
		groups, filters := tp.upstreamGroups(fam6)
		if !groups[g2v6.Addr()] {
			return false
		}
		var srcs []netip.Addr
		for _, f := range filters {
			if f.Group == g2v6.Addr() && f.Include > 0 && f.Exclude == 0 {
				srcs = append(srcs, f.Source)
			}
		}
		return slices.Contains(srcs, s1v6) && slices.Contains(srcs, s2v6) && len(srcs) == 2
	}
	tp.waitFor(3*time.Second, fmt.Sprintf("up0 to include %s from %s and %s", g2v6.Addr(), s1v6, s2v6), merged)

	// Hosts report every group they are in when queried, solicited-node
	// ones included: give them a query interval and response time.
	time.Sleep(queryInterval + queryResponse + 500*time.Millisecond)
	st := tp.status()
	dropped := counters(st, control.FamilyIPv6).Dropped
	t.Logf("ipv6 dropped counters: %v", dropped)
	// Proof that the hosts' link-local reports reached the daemon, or the
	// checks below would show nothing.
	if dropped["link_local_group"] == 0 {
		t.Errorf("status: ipv6 dropped link_local_group = 0; the daemon never saw the hosts' link-local groups")
	}

	groups, filters := tp.upstreamGroups(fam6)
	if !merged() {
		t.Errorf("up0 lost the merged subscription: groups %v, filters %+v", slices.Collect(maps.Keys(groups)), filters)
	}
	for g := range groups {
		if g.IsLinkLocalMulticast() && !baseline[g] {
			t.Errorf("link-local group %s joined on up0; only the router's own %v were there before", g, slices.Collect(maps.Keys(baseline)))
		}
	}
	// The hosts' solicited-node groups specifically.
	for _, ns := range []string{"rcv1", "rcv2", "rcv3"} {
		ll, _, err := tp.lab.LinkLocal(ns, "eth0")
		tp.must(err)
		if sn := solicitedNode(ll); groups[sn] {
			t.Errorf("%s's solicited-node group %s is joined on up0", ns, sn)
		}
	}
	if groups[mdns.Addr()] {
		t.Errorf("%s (mDNS, joined by rcv2) is joined on up0", mdns.Addr())
	}
	if n := sn1.Count(netlab.UDPTo(g2v6.Addr(), s2v6, start)); n != 0 {
		t.Errorf("%d datagrams from %s on br-lan, which asked only for %s", n, s2v6, s1v6)
	}
	if n := sn3.Count(netlab.UDPTo(g2v6.Addr(), s1v6, start)); n != 0 {
		t.Errorf("%d datagrams from %s on down2, which asked only for %s", n, s1v6, s2v6)
	}
	if t.Failed() {
		tp.logProc("net/igmp6")
		tp.logProc("net/mcfilter6")
	}
}

// TestMLDQuerierElection: on down2 a rival MLD querier with a lower
// link-local address wins (RFC 3810 §7.6.2): the router stops sending
// general queries there, and the stream goes on without a gap, kept alive by
// the reports the host sends in answer to the rival.
func TestMLDQuerierElection(t *testing.T) {
	t.Parallel()
	router := netip.MustParseAddr("fe80::100")
	rival := netip.MustParseAddr("fe80::2")
	tp := newTopo(t, topoOptions{ipv6: true, down2LinkLocal: "fe80::100/64"})
	tp.must(tp.lab.AddrNoDAD("rcv3", "eth0", rival.String()+"/64"))
	sn3 := tp.sniffer(fam6, "rcv3")
	r3 := tp.receiver("rcv3", g1v6, netlab.AnySource)
	start := time.Now()
	tp.sender(s1v6, g1v6)
	tp.waitFlowing(r3, s1v6, start, 20, 5*time.Second)

	tp.waitFor(queryInterval+time.Second, "a general query from the router's fe80::100 on down2", func() bool {
		return sn3.Count(mldQueryFrom(router, start)) > 0
	})
	if q := querierOn(tp.status(), "down2", control.FamilyIPv6); q == nil || !q.Self || q.Address != router.String() {
		t.Errorf("before the rival: down2 querier %+v, want this router at %s", q, router)
	}

	rivalStart := time.Now()
	startMLDQuerier(t, tp.lab, "rcv3", "eth0", rival, time.Second)
	// A query the router had already scheduled may still go out; after
	// that it must stay quiet for more than its own query interval.
	settle := rivalStart.Add(500 * time.Millisecond)
	watch := 2*queryInterval + 500*time.Millisecond
	time.Sleep(time.Until(settle) + watch)
	if qs := sn3.Packets(mldQueryFrom(router, settle)); len(qs) != 0 {
		t.Errorf("router sent %d general queries in the %v after a lower-addressed querier appeared, want 0 (first at %s, rival since %s)",
			len(qs), watch, qs[0].At.Format("15:04:05.000"), rivalStart.Format("15:04:05.000"))
	}
	before := sn3.Count(mldQueryFrom(router, start)) - sn3.Count(mldQueryFrom(router, rivalStart))
	t.Logf("router general queries on down2: %d before the rival, %d in the %v after it settled", before, sn3.Count(mldQueryFrom(router, settle)), watch)
	st := tp.status()
	if q := querierOn(st, "down2", control.FamilyIPv6); q == nil || q.Self || q.Address != rival.String() {
		t.Errorf("with the rival: down2 querier %+v, want %s, not self", q, rival)
	}
	tp.stillFlowing(r3, s1v6, "rcv3 after the election")
	if gaps := r3.GapsBetween(s1v6, rivalStart, time.Time{}); len(gaps) != 0 {
		t.Errorf("stream interrupted while another querier was elected: %v", gaps)
	}
}

// TestMLDMalformedPackets: damaged and out-of-spec MLD messages from a LAN
// host (RFC 3810 §5.1.14, §5.2.13: link-local source, hop limit 1, Router
// Alert) change nothing: the flowing stream goes on without a gap, no
// address-specific query follows a forged Done, a group named only in them
// is not forwarded or joined upstream, the router stays querier, the daemon
// runs on and counts the drops.
func TestMLDMalformedPackets(t *testing.T) {
	t.Parallel()
	tp := newTopo(t, topoOptions{ipv6: true})
	bad := netip.MustParseAddrPort("[ff0e::5:5]:5065")
	host, _, err := tp.lab.LinkLocal("rcv1", "eth0")
	tp.must(err)
	lower := netip.MustParseAddr("fe80::1") // below any generated link-local address
	tp.must(tp.lab.AddrNoDAD("rcv1", "eth0", lower.String()+"/64"))
	r2 := tp.receiver("rcv2", g1v6, netlab.AnySource)
	sn2 := tp.sniffer(fam6, "rcv2")
	start := time.Now()
	tp.sender(s1v6, g1v6)
	tp.sender(s1v6, bad)
	tp.waitFlowing(r2, s1v6, start, 20, 5*time.Second)
	routerLL, err := tp.lab.WaitLinkLocal("router", "br-lan", time.Second)
	tp.must(err)
	before := counters(tp.status(), control.FamilyIPv6).Dropped

	join := mldV2Report(v3Record{Type: mldToExclude, Group: bad.Addr()})
	trunc := mldV2Report(v3Record{Type: mldIsInclude, Group: bad.Addr(), Sources: []netip.Addr{s1v6}})
	trunc[11] = 5 // claims five sources, carries one
	cut := join[:len(join)-3]
	unknownRec := mldV2Report(v3Record{Type: 9, Group: bad.Addr()}) // ignored record (RFC 3810 §5.2.12)
	done := mldV1(mldV1DoneType, g1v6.Addr())
	ok := func(src, dst netip.Addr, msg []byte) mldPacket {
		return mldPacket{src: src, dst: dst, hopLimit: 1, routerAlert: true, msg: msg}
	}
	cases := []struct {
		name string
		pkt  mldPacket
		drop string // the drop counter it must raise; "" for none
	}{
		{"v2 report, truncated source list", ok(host, allMLDv2Rtrs, trunc), "truncated"},
		{"v2 report, record cut short", ok(host, allMLDv2Rtrs, cut), "truncated"},
		{"v2 report, hop limit 2", mldPacket{host, allMLDv2Rtrs, 2, true, join}, "ttl"},
		{"v2 report, no router alert", mldPacket{host, allMLDv2Rtrs, 1, false, join}, "router_alert"},
		{"v2 report, global source", ok(rcv1v6, allMLDv2Rtrs, join), "bad_source"},
		{"v2 report, unknown record type", ok(host, allMLDv2Rtrs, unknownRec), ""},
		{"v1 report for a unicast address", ok(host, allNodes6, mldV1(mldV1ReportType, s1v6)), "malformed"},
		{"v1 report, hop limit 255", mldPacket{host, bad.Addr(), 255, true, mldV1(mldV1ReportType, bad.Addr())}, "ttl"},
		{"v1 done for the flowing group, hop limit 2", mldPacket{host, allNodes6, 2, true, done}, "ttl"},
		{"v1 done for the flowing group, no router alert", mldPacket{host, allNodes6, 1, false, done}, "router_alert"},
		{"v1 done for the flowing group, global source", ok(rcv1v6, allNodes6, done), "bad_source"},
		// The shortest the kernel sends: it puts the checksum in octets 2-3.
		{"4-byte message", ok(host, allMLDv2Rtrs, []byte{mldV2ReportType, 0, 0, 0}), "truncated"},
		// Not MLD: the routing socket's ICMPv6 filter keeps it out.
		{"ICMPv6 type 200", ok(host, allMLDv2Rtrs, []byte{200, 0, 0, 0, 1, 2, 3, 4}), ""},
		{"query of 25 bytes from a lower address", ok(lower, allNodes6, append(mldV1(mldQueryType, netip.IPv6Unspecified()), 0)), "malformed"},
		{"v2 query from a lower address, hop limit 2", mldPacket{lower, allNodes6, 2, true, mldV2GeneralQuery(time.Second, 2, 2*time.Second)}, "ttl"},
		{"v2 query from a global address", ok(rcv1v6, allNodes6, mldV2GeneralQuery(time.Second, 2, 2*time.Second)), "bad_source"},
	}
	ms := newMLDSender(t, tp.lab, "rcv1", "eth0")
	sent := tp.sendMalformed(len(cases), func(i int) string {
		ms.send(t, cases[i].pkt)
		return cases[i].name
	}, r2, s1v6)
	// A Done the router believed would make it query the group (RFC 3810
	// §7.4.2); rcv2 answers, so the stream alone would not show it.
	if n := sn2.Count(addressQueryFrom(routerLL, g1v6.Addr(), sent)); n != 0 {
		t.Errorf("router sent %d address-specific queries for %s after forged Done messages", n, g1v6.Addr())
	}
	if n := sn2.Count(netlab.UDPTo(bad.Addr(), netip.Addr{}, start)); n != 0 {
		t.Errorf("%d datagrams of %s forwarded to br-lan; only malformed packets named it", n, bad.Addr())
	}
	for _, e := range tp.mfc(fam6) {
		if e.Group == bad.Addr() && len(e.Oifs) != 0 {
			t.Errorf("ip6_mr_cache: (%s, %s) has output interfaces %v, want none", e.Origin, e.Group, e.Oifs)
		}
	}
	groups, _ := tp.upstreamGroups(fam6)
	if groups[bad.Addr()] {
		t.Errorf("router joined %s upstream because of malformed packets", bad.Addr())
	}
	if !groups[g1v6.Addr()] {
		t.Errorf("router no longer listens to %s upstream", g1v6.Addr())
	}
	st := tp.status()
	if q := querierOn(st, "br-lan", control.FamilyIPv6); q == nil || !q.Self {
		t.Errorf("br-lan querier %+v after invalid queries from %s, want this router", q, lower)
	}
	after := counters(st, control.FamilyIPv6).Dropped
	t.Logf("ipv6 dropped counters before %v, after %v", before, after)
	want := map[string]uint64{}
	for _, c := range cases {
		if c.drop != "" {
			want[c.drop] += malformedRounds
		}
	}
	for reason, n := range want {
		if got := after[reason] - before[reason]; got < n {
			t.Errorf("status: ipv6 dropped %q rose by %d, want at least %d (%d malformedRounds of the packets above)", reason, got, n, malformedRounds)
		}
	}
}

// TestDualStack: one daemon forwards an IPv4 and an IPv6 stream to the same
// host at once; leaving either leaves the other untouched.
func TestDualStack(t *testing.T) {
	t.Parallel()
	tp := newTopo(t, topoOptions{ipv6: true, config: dualConfig})
	r4 := tp.receiver("rcv1", g1, netlab.AnySource)
	r6 := tp.receiver("rcv1", g1v6, netlab.AnySource)
	sn4, sn6 := tp.sniffer(fam4, "rcv1"), tp.sniffer(fam6, "rcv1")
	start := time.Now()
	tp.sender(s1, g1)
	tp.sender(s1v6, g1v6)
	at4 := tp.waitFlowing(r4, s1, start, 50, 5*time.Second)
	at6 := tp.waitFlowing(r6, s1v6, start, 50, 5*time.Second)
	t.Logf("both streams reach rcv1: IPv4 after %v, IPv6 after %v", at4.Sub(start).Round(time.Millisecond), at6.Sub(start).Round(time.Millisecond))

	limit := lastMemberTime + stopMargin
	leave := func(name string, leaving, staying *netlab.Receiver, sn *netlab.Sniffer, group netip.AddrPort, src netip.Addr, other netip.Addr) {
		t.Helper()
		left := time.Now()
		tp.must(leaving.Leave())
		last := tp.waitStopped(sn, netlab.UDPTo(group.Addr(), src, left), 500*time.Millisecond, limit+2*time.Second, "the "+name+" stream")
		stop := last.Sub(left)
		if last.IsZero() {
			stop = 0
		}
		t.Logf("%s stream stopped %v after the leave (limit %v)", name, stop.Round(time.Millisecond), limit)
		if stop > limit {
			t.Errorf("%s stream stopped %v after the leave, want within %v", name, stop, limit)
		}
		tp.stillFlowing(staying, other, "the other family's stream after "+name+" was left")
		if gaps := staying.GapsBetween(other, left.Add(-100*time.Millisecond), time.Time{}); len(gaps) != 0 {
			t.Errorf("the other family's stream lost datagrams when %s was left: %v", name, gaps)
		}
	}
	leave("IPv6", r6, r4, sn6, g1v6, s1v6, s1)

	rejoined := time.Now()
	tp.must(r6.Join())
	tp.waitFlowing(r6, s1v6, rejoined, 20, 5*time.Second)
	leave("IPv4", r4, r6, sn4, g1, s1, s1v6)
}

// TestMLDSIGTERMCleansUp: with IPv6 forwarding active, SIGTERM makes the
// daemon exit 0, leaving no MIFs, no IPv6 forwarding entries and no
// upstream IPv6 membership.
func TestMLDSIGTERMCleansUp(t *testing.T) {
	t.Parallel()
	tp := newTopo(t, topoOptions{ipv6: true})
	r1 := tp.receiver("rcv1", g1v6, netlab.AnySource)
	start := time.Now()
	tp.sender(s1v6, g1v6)
	tp.waitFlowing(r1, s1v6, start, 20, 5*time.Second)
	if groups, _ := tp.upstreamGroups(fam6); !groups[g1v6.Addr()] {
		t.Fatalf("before SIGTERM: %s not joined on up0", g1v6.Addr())
	}
	if len(tp.mfc(fam6)) == 0 {
		t.Fatalf("before SIGTERM: no entries in ip6_mr_cache")
	}

	tp.must(tp.daemon.Signal(syscall.SIGTERM))
	sent := time.Now()
	code, ok := tp.daemon.Wait(3 * time.Second)
	if !ok {
		t.Fatalf("daemon still running 3 s after SIGTERM")
	}
	t.Logf("daemon exited %v after SIGTERM", time.Since(sent).Round(time.Millisecond))
	if code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0", code)
	}
	if mifs := tp.vifs(fam6); len(mifs) != 0 {
		t.Errorf("MIFs left in /proc/net/ip6_mr_vif: %v", mifs)
	}
	if mfc := tp.mfc(fam6); len(mfc) != 0 {
		t.Errorf("forwarding entries left in /proc/net/ip6_mr_cache: %+v", mfc)
	}
	if groups, _ := tp.upstreamGroups(fam6); groups[g1v6.Addr()] {
		t.Errorf("%s still joined on up0 after exit", g1v6.Addr())
	}
	if t.Failed() {
		tp.logProc("net/igmp6")
	}
}
