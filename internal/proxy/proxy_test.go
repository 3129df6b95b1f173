package proxy

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/membership"
)

var (
	t0    = time.Unix(1000, 0)
	grp   = netip.MustParseAddr("239.1.1.1")
	s1    = netip.MustParseAddr("10.0.0.2")
	s2    = netip.MustParseAddr("10.0.0.3")
	alien = netip.MustParseAddr("172.16.0.9")
	host1 = netip.MustParseAddr("192.168.1.11")
	host2 = netip.MustParseAddr("192.168.2.13")
)

const (
	upIf   = 2
	lanIf  = 3
	lan2If = 4
)

func testProxy() *Proxy {
	mc := membership.Config{QueryInterval: 10 * time.Second, QueryResponseInterval: 2 * time.Second, LastMemberQueryInterval: time.Second, Version: 3}
	p := newTestProxy(testSetup{
		Upstream: Link{Ifindex: upIf, Name: "up0", Addr: netip.MustParseAddr("10.0.0.1"), Subnets: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")}},
		Downstreams: []Downstream{
			{Link: Link{Ifindex: lanIf, Name: "br-lan", Addr: netip.MustParseAddr("192.168.1.1")}, Membership: mc},
			{Link: Link{Ifindex: lan2If, Name: "lan2", Addr: netip.MustParseAddr("192.168.2.1")}, Membership: mc},
		},
		Config: Config{FlowCheck: 30 * time.Second},
	})
	p.Start(t0)
	return p
}

func join(g netip.Addr) []membership.Record {
	return []membership.Record{{Type: membership.IsExclude, Group: g}}
}

func leave(g netip.Addr) []membership.Record {
	return []membership.Record{{Type: membership.ToInclude, Group: g}}
}

// only returns the actions of one kind, in order.
func only[T SendQuery | Subscribe | SetRoute | DelRoute | ReadCounters](acts []Action) []T {
	var out []T
	for _, a := range acts {
		if x, ok := payload(a).(T); ok {
			out = append(out, x)
		}
	}
	return out
}

// payload is the field of a that its kind names.
func payload(a Action) any {
	switch a.Kind {
	case KindSendQuery:
		return a.SendQuery
	case KindSubscribe:
		return a.Subscribe
	case KindSetRoute:
		return a.SetRoute
	case KindDelRoute:
		return a.DelRoute
	case KindReadCounters:
		return a.ReadCounters
	}
	return nil
}

func TestJoinSubscribesUpstreamAndRoutesFlow(t *testing.T) {
	p := testProxy()
	acts := p.Report(t0.Add(time.Second), lanIf, host1, 2, join(grp))
	subs := only[Subscribe](acts)
	if len(subs) != 1 || subs[0].Group != grp || subs[0].Sub.Mode != membership.Exclude || len(subs[0].Sub.Sources) != 0 {
		t.Fatalf("subscribe actions = %+v, want one EXCLUDE{} for %v", subs, grp)
	}
	// A second report for the same state changes nothing upstream.
	if subs := only[Subscribe](p.Report(t0.Add(2*time.Second), lanIf, host1, 2, join(grp))); len(subs) != 0 {
		t.Fatalf("refresh produced %+v", subs)
	}
	routes := only[SetRoute](p.SourceActive(t0.Add(3*time.Second), upIf, s1, grp))
	want := []SetRoute{{Source: s1, Group: grp, Input: upIf, Outputs: []int{lanIf}}}
	if !reflect.DeepEqual(routes, want) {
		t.Fatalf("routes = %+v, want %+v", routes, want)
	}
	// A second downstream joining a flowing stream updates the entry at once.
	routes = only[SetRoute](p.Report(t0.Add(4*time.Second), lan2If, host2, 2, join(grp)))
	want = []SetRoute{{Source: s1, Group: grp, Input: upIf, Outputs: []int{lanIf, lan2If}}}
	if !reflect.DeepEqual(routes, want) {
		t.Fatalf("after second join routes = %+v, want %+v", routes, want)
	}
}

func TestFlowBeforeJoinIsDroppedThenForwarded(t *testing.T) {
	p := testProxy()
	routes := only[SetRoute](p.SourceActive(t0, upIf, s1, grp))
	if len(routes) != 1 || len(routes[0].Outputs) != 0 {
		t.Fatalf("unwanted flow: routes = %+v, want one entry with no outputs", routes)
	}
	routes = only[SetRoute](p.Report(t0.Add(time.Second), lanIf, host1, 3, []membership.Record{{Type: membership.IsInclude, Group: grp, Sources: []netip.Addr{s1}}}))
	if len(routes) != 1 || !reflect.DeepEqual(routes[0].Outputs, []int{lanIf}) {
		t.Fatalf("after INCLUDE{S1} join: routes = %+v", routes)
	}
}

func TestSourceFiltersPerInterface(t *testing.T) {
	p := testProxy()
	p.Report(t0, lanIf, host1, 3, []membership.Record{{Type: membership.IsInclude, Group: grp, Sources: []netip.Addr{s1}}})
	acts := p.Report(t0, lan2If, host2, 3, []membership.Record{{Type: membership.IsExclude, Group: grp, Sources: []netip.Addr{s1}}})
	subs := only[Subscribe](acts)
	if len(subs) != 1 || subs[0].Sub.Mode != membership.Exclude || len(subs[0].Sub.Sources) != 0 {
		t.Fatalf("merged subscription = %+v, want EXCLUDE{} (S1 is wanted by br-lan)", subs)
	}
	r1 := only[SetRoute](p.SourceActive(t0, upIf, s1, grp))
	r2 := only[SetRoute](p.SourceActive(t0, upIf, s2, grp))
	if !reflect.DeepEqual(r1[0].Outputs, []int{lanIf}) {
		t.Errorf("S1 outputs = %v, want only br-lan (lan2 excludes S1)", r1[0].Outputs)
	}
	if !reflect.DeepEqual(r2[0].Outputs, []int{lan2If}) {
		t.Errorf("S2 outputs = %v, want only lan2 (br-lan includes only S1)", r2[0].Outputs)
	}
}

func TestSourceNotAcceptedOnUpstream(t *testing.T) {
	p := testProxy()
	p.Report(t0, lanIf, host1, 2, join(grp))
	routes := only[SetRoute](p.SourceActive(t0, upIf, alien, grp))
	if len(routes) != 1 || len(routes[0].Outputs) != 0 {
		t.Fatalf("alien source: routes %+v, want one entry that forwards nowhere", routes)
	}
	// The upstream gets an address covering the source: it is forwarded at
	// once, without waiting for another upcall.
	up := Link{Ifindex: upIf, Name: "up0", Subnets: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24"), netip.MustParsePrefix("172.16.0.0/24")}}
	routes = only[SetRoute](p.SetUpstream(t0.Add(time.Second), up, nil, nil))
	if len(routes) != 1 || routes[0].Source != alien || !reflect.DeepEqual(routes[0].Outputs, []int{lanIf}) {
		t.Fatalf("after the address change: routes %+v, want the source forwarded to br-lan", routes)
	}
	if p.Stats().SourceNotAccepted != 1 {
		t.Fatalf("SourceNotAccepted = %d, want 1", p.Stats().SourceNotAccepted)
	}
}

func TestSourceOnDownstreamGoesUpstreamAndToOtherDownstreams(t *testing.T) {
	p := testProxy()
	p.Report(t0, lanIf, host1, 2, join(grp))
	p.Report(t0, lan2If, host2, 2, join(grp))
	routes := only[SetRoute](p.SourceActive(t0, lanIf, host1, grp))
	if len(routes) != 1 || !reflect.DeepEqual(routes[0].Outputs, []int{upIf, lan2If}) {
		t.Fatalf("routes = %+v, want outputs upstream and lan2, never the input", routes)
	}
}

func TestLinkLocalAndUpstreamReportsIgnored(t *testing.T) {
	p := testProxy()
	if acts := p.Report(t0, lanIf, host1, 2, join(netip.MustParseAddr("224.0.0.251"))); len(acts) != 0 {
		t.Fatalf("link-local join produced %+v", acts)
	}
	if acts := p.Report(t0, upIf, s1, 2, join(grp)); len(acts) != 0 {
		t.Fatalf("report on upstream produced %+v", acts)
	}
	if acts := p.Report(t0, 99, host1, 2, join(grp)); len(acts) != 0 {
		t.Fatalf("report on unknown link produced %+v", acts)
	}
	st := p.Stats()
	if st.LinkLocalGroups != 1 || st.ReportsOnUpstream != 1 || st.ReportsUnknownLink != 1 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestLastLeaveUnsubscribesAndStopsForwarding(t *testing.T) {
	p := testProxy()
	p.Report(t0, lanIf, host1, 2, join(grp))
	p.SourceActive(t0, upIf, s1, grp)
	now := t0.Add(time.Second)
	p.Report(now, lanIf, host1, 2, leave(grp))
	// The group lives on for the last member query time (LMQI*LMQC = 2 s),
	// then the group timer expires.
	var subs []Subscribe
	var routes []SetRoute
	for i := 0; i < 100; i++ {
		dl := p.NextDeadline()
		if dl.IsZero() || dl.After(now.Add(5*time.Second)) {
			break
		}
		acts := p.Advance(dl)
		subs = append(subs, only[Subscribe](acts)...)
		routes = append(routes, only[SetRoute](acts)...)
	}
	if len(subs) != 1 || subs[0].Sub.Subscribed() {
		t.Fatalf("subscriptions after leave = %+v, want one unsubscribe", subs)
	}
	if len(routes) != 1 || len(routes[0].Outputs) != 0 {
		t.Fatalf("routes after leave = %+v, want one with no outputs", routes)
	}
}

func TestIdleFlowsAgeOutByCounters(t *testing.T) {
	p := testProxy()
	p.SourceActive(t0, upIf, s1, grp)
	p.SourceActive(t0, upIf, s2, grp)
	f1, f2 := Flow{Source: s1, Group: grp}, Flow{Source: s2, Group: grp}

	var rc []ReadCounters
	for now := t0; len(rc) == 0 && now.Before(t0.Add(time.Minute)); now = p.NextDeadline() {
		rc = only[ReadCounters](p.Advance(now))
	}
	if len(rc) != 1 || len(rc[0].Flows) != 2 {
		t.Fatalf("ReadCounters = %+v, want both flows", rc)
	}
	if acts := p.Counters(t0, map[Flow]uint64{f1: 10, f2: 10}); len(acts) != 0 {
		t.Fatalf("first reading removed %+v", acts)
	}
	// S1 keeps sending, S2 went silent: only S2 is removed.
	acts := p.Counters(t0, map[Flow]uint64{f1: 20, f2: 10})
	want := []Action{DelRoute{Source: s2, Group: grp}.Action()}
	if !reflect.DeepEqual(acts, want) {
		t.Fatalf("second reading = %+v, want %+v", acts, want)
	}
	// An entry the kernel no longer has is forgotten too.
	acts = p.Counters(t0, map[Flow]uint64{})
	want = []Action{DelRoute{Source: s1, Group: grp}.Action()}
	if !reflect.DeepEqual(acts, want) {
		t.Fatalf("missing entry = %+v, want %+v", acts, want)
	}
	if len(p.Flows()) != 0 {
		t.Fatalf("flows left: %v", p.Flows())
	}
}

func TestFlowLimit(t *testing.T) {
	p := testProxy()
	for i := 0; i < MaxFlows+10; i++ {
		src := netip.AddrFrom4([4]byte{10, 0, 0, byte(i%200 + 2)})
		g := netip.AddrFrom4([4]byte{239, 2, byte(i >> 8), byte(i)})
		p.SourceActive(t0, upIf, src, g)
	}
	if n := len(p.Flows()); n != MaxFlows {
		t.Fatalf("flows = %d, want %d", n, MaxFlows)
	}
	if p.Stats().FlowLimit != 10 {
		t.Fatalf("FlowLimit = %d, want 10", p.Stats().FlowLimit)
	}
}
