package proxy

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/membership"
)

// TestRestore: restored records subscribe upstream at once, under the
// rules reports go through.
func TestRestore(t *testing.T) {
	ssm := netip.MustParseAddr("232.1.1.1")
	ll := netip.MustParseAddr("224.0.0.251")
	ex := func(g netip.Addr, srcs ...membership.SavedSource) membership.Saved {
		return membership.Saved{Group: g, Mode: membership.Exclude, Compat: 3, Timer: 20 * time.Second, Sources: srcs}
	}
	in := func(g netip.Addr, srcs ...membership.SavedSource) membership.Saved {
		return membership.Saved{Group: g, Mode: membership.Include, Compat: 3, Sources: srcs}
	}
	run := func(a netip.Addr) membership.SavedSource {
		return membership.SavedSource{Addr: a, Timer: 20 * time.Second}
	}
	blocked := func(a netip.Addr) membership.SavedSource { return membership.SavedSource{Addr: a} }
	tests := []struct {
		name    string
		acl     Policy
		ifindex int
		recs    []membership.Saved
		want    []Subscribe
	}{{
		name: "any-source and source-specific joins", ifindex: lanIf,
		recs: []membership.Saved{ex(grp, blocked(s2)), in(ssm, run(s1))},
		want: []Subscribe{
			{Group: ssm, Sub: Subscription{Mode: membership.Include, Sources: []netip.Addr{s1}}},
			{Group: grp, Sub: Subscription{Mode: membership.Exclude, Sources: []netip.Addr{s2}}},
		},
	}, {
		name: "link-local groups and SSM any-source joins are left out", ifindex: lanIf,
		recs: []membership.Saved{ex(ll), ex(ssm, blocked(s2))},
	}, {
		name: "an SSM group in EXCLUDE keeps only its requested sources", ifindex: lanIf,
		recs: []membership.Saved{ex(ssm, blocked(s2), run(s1))},
		want: []Subscribe{{Group: ssm, Sub: Subscription{Mode: membership.Include, Sources: []netip.Addr{s1}}}},
	}, {
		name: "the access list as it is now applies", ifindex: lanIf,
		acl:  denyList{{grp, netip.Addr{}}, {ssm, s2}},
		recs: []membership.Saved{ex(grp), in(ssm, run(s1), run(s2))},
		want: []Subscribe{{Group: ssm, Sub: Subscription{Mode: membership.Include, Sources: []netip.Addr{s1}}}},
	}, {
		name: "not a downstream", ifindex: upIf,
		recs: []membership.Saved{ex(grp)},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := aclProxy(tt.acl, nil)
			got := only[Subscribe](p.Restore(t0, tt.ifindex, 0, tt.recs))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("subscriptions %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestSaveRestoreFlows: a restarted proxy that gets back its records and
// its flows forwards at once, to the same links.
func TestSaveRestoreFlows(t *testing.T) {
	a := testProxy()
	a.Report(t0, lanIf, host1, 2, join(grp))
	a.SourceActive(t0, upIf, s1, grp)
	now := t0.Add(5 * time.Second)
	saved, flows := a.Save(now, lanIf), a.FlowInputs()
	if want := []FlowInput{{Flow: Flow{Source: s1, Group: grp}, Input: upIf}}; !reflect.DeepEqual(flows, want) {
		t.Fatalf("FlowInputs %+v, want %+v", flows, want)
	}
	if a.Save(now, upIf) != nil {
		t.Errorf("Save of the upstream link is not nil")
	}

	b := testProxy()
	later := now.Add(time.Second)
	subs := only[Subscribe](b.Restore(later, lanIf, time.Second, saved))
	if len(subs) != 1 || subs[0].Group != grp || subs[0].Sub.Mode != membership.Exclude {
		t.Fatalf("restore subscribed %+v, want %s EXCLUDE{}", subs, grp)
	}
	var routes []SetRoute
	for _, f := range flows {
		routes = append(routes, only[SetRoute](b.SourceActive(later, f.Input, f.Source, f.Group))...)
	}
	if want := []SetRoute{{Source: s1, Group: grp, Input: upIf, Outputs: []int{lanIf}}}; !reflect.DeepEqual(routes, want) {
		t.Errorf("routes %+v, want %+v", routes, want)
	}
}
