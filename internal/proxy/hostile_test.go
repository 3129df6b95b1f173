package proxy

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/membership"
)

// TestLANFlowsCannotStarveUpstreamFlows: a LAN host sending to thousands of
// groups must not use up the forwarding entries upstream streams need (a
// new IPTV channel must still start).
func TestLANFlowsCannotStarveUpstreamFlows(t *testing.T) {
	p := testProxy()
	for i := range MaxFlows + 100 {
		g := netip.AddrFrom4([4]byte{239, 3, byte(i >> 8), byte(i)})
		p.SourceActive(t0, lanIf, host1, g)
	}
	p.Report(t0, lanIf, host1, 2, join(grp))
	routes := only[SetRoute](p.SourceActive(t0.Add(time.Second), upIf, s1, grp))
	want := []SetRoute{{Source: s1, Group: grp, Input: upIf, Outputs: []int{lanIf}}}
	if !reflect.DeepEqual(routes, want) {
		t.Fatalf("upstream flow after a LAN flood: %+v, want %+v", routes, want)
	}
}

// TestLANFlowsChargeTheLinkBudget: flows sent from a LAN are state the LAN
// creates: they are bounded by its byte budget and counted when refused,
// and their charge is given back when they go.
func TestLANFlowsChargeTheLinkBudget(t *testing.T) {
	mc := membership.Config{MaxBytes: 100 * FlowBytes}
	p := newTestProxy(testSetup{
		Upstream:    Link{Ifindex: upIf, Subnets: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")}},
		Downstreams: []Downstream{{Link: Link{Ifindex: lanIf}, Membership: mc}},
	})
	p.Start(t0)
	for i := range 1000 {
		p.SourceActive(t0, lanIf, host1, netip.AddrFrom4([4]byte{239, 3, byte(i >> 8), byte(i)}))
	}
	r, _ := p.Router(lanIf)
	if n := len(p.Flows()); n != 100 || r.Stats().MemoryLimit != 900 {
		t.Fatalf("%d flows, %d refused; want 100 and 900", n, r.Stats().MemoryLimit)
	}
	p.Advance(t0.Add(30 * time.Second))
	p.Counters(t0.Add(30*time.Second), nil)
	if n := len(p.Flows()); n != 0 || r.StateBytes() != 0 || p.Budget().Used() != 0 {
		t.Fatalf("after ageing: %d flows, link %d bytes, total %d; want all 0", n, r.StateBytes(), p.Budget().Used())
	}
}

// TestUpstreamACLAppliesToLANSenders: traffic a LAN host sends is forwarded
// upstream only where the upstream access list permits it: a LAN device's
// SSDP NOTIFY must not leave on the WAN when the upstream denies the group.
func TestUpstreamACLAppliesToLANSenders(t *testing.T) {
	ssdp := netip.MustParseAddr("239.255.255.250")
	p := aclProxy(nil, denyList{{group: ssdp, source: host1}, {group: ssdp}})
	routes := only[SetRoute](p.SourceActive(t0, lanIf, host1, ssdp))
	if len(routes) != 1 || len(routes[0].Outputs) != 0 {
		t.Fatalf("LAN SSDP sender: %+v, want an entry with no outputs", routes)
	}
	routes = only[SetRoute](p.SourceActive(t0, lanIf, host1, grp))
	if len(routes) != 1 || !reflect.DeepEqual(routes[0].Outputs, []int{upIf}) {
		t.Fatalf("LAN sender to a permitted group: %+v, want the upstream", routes)
	}
}

// TestForwardOnlyWhereQuerier is RFC 4605 §4.2: two proxies on one LAN
// must not both deliver. Where another router is the querier, we stop
// forwarding a flow once the kernel sees it arrive from there too (as fast
// as on its input); a querier that does not forward (a rogue host) cuts
// nothing. When the copies stop, or the other querier goes away, we forward
// again at once.
func TestForwardOnlyWhereQuerier(t *testing.T) {
	p := testProxy()
	p.SetAddress(t0, lanIf, netip.MustParseAddr("192.168.1.1"), []netip.Prefix{netip.MustParsePrefix("192.168.1.0/24")})
	p.Report(t0, lanIf, host1, 2, join(grp))
	p.SourceActive(t0, upIf, s1, grp)
	f := Flow{Source: s1, Group: grp}
	other := netip.MustParseAddr("192.168.1.0")
	q := membership.Query{Version: 3, MaxResp: 2 * time.Second, QRV: 2, QQI: 10 * time.Second}
	if routes := only[SetRoute](p.Query(t0.Add(time.Second), lanIf, other, q)); len(routes) != 0 {
		t.Fatalf("another querier alone changed forwarding: %+v", routes)
	}
	check := func(at time.Duration, packets, wrongIf uint64, want []SetRoute) {
		t.Helper()
		now := t0.Add(at)
		routes := only[SetRoute](p.Duplicates(now, map[Flow]uint64{f: packets}, map[Flow]uint64{f: wrongIf}))
		p.Counters(now, map[Flow]uint64{f: packets})
		if !reflect.DeepEqual(routes, want) {
			t.Fatalf("+%v: packets %d, wrong interface %d: routes %+v, want %+v", at, packets, wrongIf, routes, want)
		}
	}
	check(2*time.Second, 100, 0, nil)
	// A few spoofed copies are not another router's delivery.
	check(3*time.Second, 200, 5, nil)
	// As many copies as packets: the querier delivers it.
	check(4*time.Second, 300, 105, []SetRoute{{Source: s1, Group: grp, Input: upIf}})
	check(5*time.Second, 400, 205, nil)
	// The copies stop: forward again.
	check(6*time.Second, 500, 205, []SetRoute{{Source: s1, Group: grp, Input: upIf, Outputs: []int{lanIf}}})
	check(7*time.Second, 600, 305, []SetRoute{{Source: s1, Group: grp, Input: upIf}})
	p.Report(t0.Add(20*time.Second), lanIf, host1, 2, join(grp))
	// The other querier goes quiet (Other Querier Present Interval: 2*10s
	// + 1s after its query): we are the querier again and forward.
	routes := only[SetRoute](p.Advance(t0.Add(23 * time.Second)))
	if len(routes) != 1 || !reflect.DeepEqual(routes[0].Outputs, []int{lanIf}) {
		t.Fatalf("other querier gone: %+v, want the flow forwarded again", routes)
	}
}

// TestIPv6SSMRangeIsSlash32: only ff3x::/32 is the SSM range (RFC 4607 §1);
// other RFC 3306 prefix-based groups (ff3x:0040:...) take any-source joins.
func TestIPv6SSMRangeIsSlash32(t *testing.T) {
	for _, tc := range []struct {
		group string
		want  bool
	}{
		{"ff3e::1234", true},
		{"ff35::8000:1", true},
		{"ff3e:40:2001:db8::1234", false},
		{"ff3e:1::1", false},
		{"ff0e::1", false},
		{"232.1.1.1", true},
		{"239.1.1.1", false},
	} {
		if got := SourceSpecific(netip.MustParseAddr(tc.group)); got != tc.want {
			t.Errorf("SourceSpecific(%s) = %v, want %v", tc.group, got, tc.want)
		}
	}
}

// TestKnownFlowOnAnotherInput: a flow the kernel reports again on another
// input gets outputs for that input: never its own input, and the upstream
// when it now comes from a downstream.
func TestKnownFlowOnAnotherInput(t *testing.T) {
	p := testProxy()
	p.Report(t0, lanIf, host1, 2, join(grp))
	p.Report(t0, lan2If, host2, 2, join(grp))
	p.SourceActive(t0, upIf, s1, grp)
	routes := only[SetRoute](p.SourceActive(t0.Add(time.Second), lanIf, s1, grp))
	want := []SetRoute{{Source: s1, Group: grp, Input: lanIf, Outputs: []int{upIf, lan2If}}}
	if !reflect.DeepEqual(routes, want) {
		t.Fatalf("flow moved to a downstream: %+v, want %+v", routes, want)
	}
}

// TestDownLinkLeavesTheUpstreamMerge: a downstream that goes down stops
// pulling its groups from the upstream at once, not a membership interval
// later.
func TestDownLinkLeavesTheUpstreamMerge(t *testing.T) {
	p := testProxy()
	p.Report(t0, lanIf, host1, 2, join(grp))
	subs := only[Subscribe](p.SetLinkUp(t0.Add(time.Second), lanIf, false))
	if len(subs) != 1 || subs[0].Sub.Subscribed() {
		t.Fatalf("link down: %+v, want the group unsubscribed", subs)
	}
	subs = only[Subscribe](p.SetLinkUp(t0.Add(2*time.Second), lanIf, true))
	if len(subs) != 1 || !subs[0].Sub.Subscribed() {
		t.Fatalf("link up again: %+v, want the group subscribed", subs)
	}
}

// TestOffLinkQueriesAreIgnored: RFC 3376 §9.1: a query from an address not
// on the link's subnets (IPv4) or not link-local (IPv6, RFC 3810 §5.1.14)
// cannot take part in the querier election, so a rogue host cannot silence
// our queries, stop our forwarding (RFC 4605 §4.2) or shrink our timers
// with it. It is counted.
func TestOffLinkQueriesAreIgnored(t *testing.T) {
	p := testProxy()
	p.SetAddress(t0, lanIf, netip.MustParseAddr("192.168.1.1"), []netip.Prefix{netip.MustParsePrefix("192.168.1.0/24")})
	q := membership.Query{Version: 3, MaxResp: 2 * time.Second, QRV: 1, QQI: time.Second}
	for _, from := range []string{"10.9.9.9", "192.168.2.0", "0.0.0.0"} {
		p.Query(t0.Add(time.Second), lanIf, netip.MustParseAddr(from), q)
	}
	r, _ := p.Router(lanIf)
	if _, self := r.Querier(); !self {
		t.Fatal("an off-link query took the querier role")
	}
	if n := p.Stats().QueryOffLink; n != 2 {
		t.Errorf("QueryOffLink = %d, want 2 (the unspecified source is the router's business)", n)
	}
	p.Query(t0.Add(2*time.Second), lanIf, netip.MustParseAddr("192.168.1.0"), q)
	if _, self := r.Querier(); self {
		t.Fatal("an on-link query from a lower address did not win the election")
	}
}

func TestOffLinkQueriesAreIgnoredIPv6(t *testing.T) {
	mc := membership.Config{Version: 3}
	p := newTestProxy(testSetup{
		Upstream:    Link{Ifindex: upIf},
		Downstreams: []Downstream{{Link: Link{Ifindex: lanIf, Addr: netip.MustParseAddr("fe80::5")}, Membership: mc}},
	})
	p.Start(t0)
	q := membership.Query{Version: 3, MaxResp: 2 * time.Second}
	p.Query(t0, lanIf, netip.MustParseAddr("2001:db8::1"), q)
	r, _ := p.Router(lanIf)
	if _, self := r.Querier(); !self || p.Stats().QueryOffLink != 1 {
		t.Fatalf("global-address MLD query: querier self %v, QueryOffLink %d; want true, 1", self, p.Stats().QueryOffLink)
	}
}
