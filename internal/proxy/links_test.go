package proxy

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/membership"
)

func TestAddAndRemoveDownstream(t *testing.T) {
	p := testProxy()
	p.Report(t0, lanIf, host1, 2, join(grp))
	p.SourceActive(t0, upIf, s1, grp)

	const lan3If = 7
	acts := p.AddDownstream(t0.Add(time.Second), Downstream{Link: Link{Ifindex: lan3If, Name: "lan3", Addr: netip.MustParseAddr("192.168.3.1")}})
	if qs := only[SendQuery](acts); len(qs) != 1 || qs[0].Ifindex != lan3If {
		t.Fatalf("new downstream: queries = %+v, want one startup query on it", qs)
	}
	routes := only[SetRoute](p.Report(t0.Add(2*time.Second), lan3If, netip.MustParseAddr("192.168.3.5"), 2, join(grp)))
	if len(routes) != 1 || !reflect.DeepEqual(routes[0].Outputs, []int{lanIf, lan3If}) {
		t.Fatalf("join on the new link: routes = %+v", routes)
	}

	acts = p.RemoveDownstream(t0.Add(3*time.Second), lanIf)
	routes = only[SetRoute](acts)
	if len(routes) != 1 || !reflect.DeepEqual(routes[0].Outputs, []int{lan3If}) {
		t.Fatalf("after removing br-lan: routes = %+v, want only lan3", routes)
	}
	if subs := only[Subscribe](acts); len(subs) != 0 {
		t.Fatalf("lan3 still wants the group, yet the subscription changed: %+v", subs)
	}
	acts = p.RemoveDownstream(t0.Add(4*time.Second), lan3If)
	if subs := only[Subscribe](acts); len(subs) != 1 || subs[0].Sub.Subscribed() {
		t.Fatalf("no downstream left: subscriptions = %+v, want one unsubscribe", subs)
	}
}

func TestLinkDownStopsQueriesAndForwarding(t *testing.T) {
	p := testProxy()
	p.Report(t0, lanIf, host1, 2, join(grp))
	p.SourceActive(t0, upIf, s1, grp)

	routes := only[SetRoute](p.SetLinkUp(t0.Add(time.Second), lanIf, false))
	if len(routes) != 1 || len(routes[0].Outputs) != 0 {
		t.Fatalf("link down: routes = %+v, want the flow with no outputs", routes)
	}
	// While down, periodic queries for the link are suppressed.
	for now := t0.Add(time.Second); now.Before(t0.Add(8 * time.Second)); now = now.Add(500 * time.Millisecond) {
		for _, q := range only[SendQuery](p.Advance(now)) {
			if q.Ifindex == lanIf {
				t.Fatalf("query sent on a link that is down at %v", now.Sub(t0))
			}
		}
	}
	acts := p.SetLinkUp(t0.Add(8*time.Second), lanIf, true)
	if qs := only[SendQuery](acts); len(qs) != 1 || qs[0].Ifindex != lanIf {
		t.Fatalf("link up: queries = %+v, want a startup query", qs)
	}
	if routes := only[SetRoute](acts); len(routes) != 1 || !reflect.DeepEqual(routes[0].Outputs, []int{lanIf}) {
		t.Fatalf("link up with membership still alive: routes = %+v", routes)
	}
}

func TestSetUpstreamRehomesFlows(t *testing.T) {
	p := testProxy()
	p.Report(t0, lanIf, host1, 2, join(grp))
	p.SourceActive(t0, upIf, s1, grp)
	p.SourceActive(t0, lanIf, host1, grp)

	const newUp = 9
	acts := p.SetUpstream(t0.Add(time.Second), Link{Ifindex: newUp, Name: "up1", Subnets: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")}}, nil, nil)
	// The upstream flow moves its input; the flow from the downstream source
	// now goes out on the new upstream (RFC 4605 §4.2).
	want := []SetRoute{
		{Source: s1, Group: grp, Input: newUp, Outputs: []int{lanIf}},
		{Source: host1, Group: grp, Input: lanIf, Outputs: []int{newUp}},
	}
	if got := only[SetRoute](acts); !reflect.DeepEqual(got, want) {
		t.Fatalf("re-homed routes = %+v, want %+v", got, want)
	}
	acts = p.SetUpstream(t0.Add(2*time.Second), Link{}, nil, nil)
	if dels := only[DelRoute](acts); len(dels) != 1 || dels[0].Source != s1 {
		t.Fatalf("no upstream: deletes = %+v, want the upstream flow removed", dels)
	}
}

func TestReconfigureKeepsMembership(t *testing.T) {
	p := testProxy()
	p.Report(t0, lanIf, host1, 2, join(grp))
	p.SourceActive(t0, upIf, s1, grp)
	acts := p.Reconfigure(t0.Add(time.Second), lanIf, membership.Config{QueryInterval: 2 * time.Second, QueryResponseInterval: time.Second, Version: 3}, nil)
	if len(only[SetRoute](acts))+len(only[Subscribe](acts)) != 0 {
		t.Fatalf("reconfigure disturbed forwarding: %+v", acts)
	}
	r, _ := p.Router(lanIf)
	if _, ok := r.Group(grp); !ok {
		t.Fatal("membership lost on reconfigure")
	}
	// The shorter query interval applies: the next general query is due
	// within 2 s, not the old 10 s.
	var sent bool
	for now := t0.Add(time.Second); now.Before(t0.Add(3500*time.Millisecond)) && !sent; now = now.Add(100 * time.Millisecond) {
		for _, q := range only[SendQuery](p.Advance(now)) {
			if q.Ifindex == lanIf && !q.Query.Group.IsValid() {
				sent = true
			}
		}
	}
	if !sent {
		t.Fatal("no general query within the new query interval")
	}
}
