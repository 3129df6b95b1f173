package proxy

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/membership"
)

// rule is a tiny access list for tests: deny entries, everything else
// allowed. An invalid source in a rule means "the any-source join".
type denyList []struct{ group, source netip.Addr }

func (d denyList) Permits(group, source netip.Addr) bool {
	for _, r := range d {
		if r.group == group && r.source == source {
			return false
		}
	}
	return true
}

func aclProxy(down, up Policy) *Proxy {
	mc := membership.Config{QueryInterval: 10 * time.Second, QueryResponseInterval: 2 * time.Second, Version: 3}
	p := newTestProxy(testSetup{
		Upstream:    Link{Ifindex: upIf, Name: "up0", Subnets: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")}},
		UpstreamACL: up,
		Downstreams: []Downstream{
			{Link: Link{Ifindex: lanIf, Name: "br-lan"}, Membership: mc, ACL: down},
			{Link: Link{Ifindex: lan2If, Name: "lan2"}, Membership: mc},
		},
	})
	p.Start(t0)
	return p
}

func TestDownstreamACL(t *testing.T) {
	ssdp := netip.MustParseAddr("239.255.255.250")
	p := aclProxy(denyList{{ssdp, netip.Addr{}}, {grp, s2}}, nil)

	if acts := p.Report(t0, lanIf, host1, 2, join(ssdp)); len(acts) != 0 {
		t.Fatalf("denied any-source join produced %+v", acts)
	}
	// INCLUDE{S1,S2}: S2 is denied, S1 kept.
	acts := p.Report(t0, lanIf, host1, 3, []membership.Record{{Type: membership.IsInclude, Group: grp, Sources: []netip.Addr{s1, s2}}})
	subs := only[Subscribe](acts)
	if len(subs) != 1 || !reflect.DeepEqual(subs[0].Sub.Sources, []netip.Addr{s1}) {
		t.Fatalf("subscription = %+v, want INCLUDE{S1}", subs)
	}
	if got := p.Stats().PolicyDenied; got != 2 {
		t.Fatalf("PolicyDenied = %d, want 2", got)
	}
	// An EXCLUDE join lets everything but its list through; forwarding
	// still honours the access list per (S,G).
	p.Report(t0, lanIf, host1, 3, []membership.Record{{Type: membership.ToExclude, Group: grp}})
	r1 := only[SetRoute](p.SourceActive(t0, upIf, s1, grp))
	r2 := only[SetRoute](p.SourceActive(t0, upIf, s2, grp))
	if !reflect.DeepEqual(r1[0].Outputs, []int{lanIf}) || len(r2[0].Outputs) != 0 {
		t.Fatalf("outputs S1 = %v, S2 = %v; want br-lan for S1 only", r1[0].Outputs, r2[0].Outputs)
	}
}

func TestUpstreamACL(t *testing.T) {
	p := aclProxy(nil, denyList{{grp, netip.Addr{}}, {grp, s2}})
	// Any-source join on the LAN: the upstream may not request the whole
	// group, so nothing is requested.
	acts := p.Report(t0, lanIf, host1, 2, join(grp))
	if subs := only[Subscribe](acts); len(subs) != 0 {
		t.Fatalf("denied upstream any-source request: %+v", subs)
	}
	// Source-specific joins are requested where permitted.
	acts = p.Report(t0, lan2If, host2, 3, []membership.Record{{Type: membership.IsInclude, Group: grp, Sources: []netip.Addr{s1, s2}}})
	subs := only[Subscribe](acts)
	if len(subs) != 1 || subs[0].Sub.Mode != membership.Include || !reflect.DeepEqual(subs[0].Sub.Sources, []netip.Addr{s1}) {
		t.Fatalf("subscription = %+v, want INCLUDE{S1}", subs)
	}
}

func TestReconfigureWithDenyDropsJoinedGroup(t *testing.T) {
	p := aclProxy(nil, nil)
	p.Report(t0, lanIf, host1, 2, join(grp))
	p.SourceActive(t0, upIf, s1, grp)
	mc := membership.Config{QueryInterval: 10 * time.Second, QueryResponseInterval: 2 * time.Second, Version: 3}
	acts := p.Reconfigure(t0.Add(time.Second), lanIf, mc, denyList{{grp, netip.Addr{}}})
	subs := only[Subscribe](acts)
	if len(subs) != 1 || subs[0].Sub.Subscribed() {
		t.Fatalf("subscriptions = %+v, want the group left upstream at once", subs)
	}
	if routes := only[SetRoute](acts); len(routes) != 1 || len(routes[0].Outputs) != 0 {
		t.Fatalf("routes = %+v, want the flow forwarded nowhere", routes)
	}
	r, _ := p.Router(lanIf)
	if _, ok := r.Group(grp); ok {
		t.Fatal("the denied group is still recorded on the link")
	}
}

func TestSSMIgnoresAnySourceJoins(t *testing.T) {
	p := testProxy()
	for _, g := range []string{"232.1.1.1", "ff3e::1:2", "ff35::8000:1"} {
		grp := netip.MustParseAddr(g)
		if acts := p.Report(t0, lanIf, host1, 2, join(grp)); len(acts) != 0 {
			t.Fatalf("any-source join of %s produced %+v", g, acts)
		}
		src := netip.MustParseAddr("10.0.0.2")
		if grp.Is6() {
			src = netip.MustParseAddr("2001:db8::2")
		}
		acts := p.Report(t0, lanIf, host1, 3, []membership.Record{{Type: membership.IsInclude, Group: grp, Sources: []netip.Addr{src}}})
		if subs := only[Subscribe](acts); len(subs) != 1 || subs[0].Sub.Mode != membership.Include {
			t.Fatalf("source-specific join of %s: %+v", g, subs)
		}
	}
	if got := p.Stats().SSMAnySource; got != 3 {
		t.Fatalf("SSMAnySource = %d, want 3", got)
	}
	for _, g := range []string{"239.1.1.1", "ff0e::1", "ff1e::1"} {
		if SourceSpecific(netip.MustParseAddr(g)) {
			t.Errorf("%s is not source-specific", g)
		}
	}
}
