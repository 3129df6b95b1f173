package membership

import (
	"net/netip"
	"reflect"
	"testing"
	"time"
)

// TestBogusSourcesAreDropped: the unspecified address, multicast, loopback
// and link-local addresses are never sources of routed traffic. They are
// dropped from the record and counted; the rest of the record still counts
// (they used to reach the merged upstream filter, which then refused the
// whole group and froze its subscription).
func TestBogusSourcesAreDropped(t *testing.T) {
	runCases(t, []routerCase{{
		name: "INCLUDE record",
		steps: []step{
			{0, report(3, rec(IsInclude, G, "0.0.0.0", s1, "239.9.9.9", "127.0.0.1", "169.254.1.1", "255.255.255.255")), acts(changed(G))},
		},
		groups: []groupCheck{{group: G, mode: Include, include: []string{s1}, expires: gmi}},
		check: func(t *testing.T, r *Router) {
			if n := r.Stats().BadSources; n != 5 {
				t.Errorf("BadSources = %d, want 5", n)
			}
		},
	}, {
		name: "INCLUDE record of bogus sources only: no group, all counted",
		steps: []step{
			{0, report(3, rec(IsInclude, G, "0.0.0.0", "239.9.9.9", "127.0.0.1")), nil},
		},
		groups: []groupCheck{{group: G, absent: true}},
		check: func(t *testing.T, r *Router) {
			if n := r.Stats().BadSources; n != 3 {
				t.Errorf("BadSources = %d, want 3", n)
			}
		},
	}, {
		name: "a new group refused by max-groups: its sources are not read",
		cfg:  Config{MaxGroups: 1},
		steps: []step{
			{0, report(3, rec(IsExclude, "239.1.1.2")), acts(changed("239.1.1.2"))},
			{time.Second, report(3, rec(IsInclude, G, s1, "0.0.0.0")), nil},
		},
		groups: []groupCheck{{group: G, absent: true}},
		check: func(t *testing.T, r *Router) {
			if st := r.Stats(); st.GroupLimit != 1 || st.BadSources != 0 {
				t.Errorf("GroupLimit %d, BadSources %d; want 1, 0", st.GroupLimit, st.BadSources)
			}
		},
	}, {
		name: "EXCLUDE record",
		steps: []step{
			{0, report(3, rec(IsExclude, G, "0.0.0.0", s2)), acts(changed(G))},
		},
		groups: []groupCheck{{group: G, mode: Exclude, exclude: []string{s2}, expires: gmi}},
	}, {
		name: "IPv6",
		steps: []step{
			{0, report6(rec(IsInclude, "ff3e::1", "::", "ff02::1", "fe80::1", "2001:db8::1", "::1")), acts(changed("ff3e::1"))},
		},
		groups: []groupCheck{{group: "ff3e::1", mode: Include, include: []string{"2001:db8::1"}, expires: gmi}},
	}})
}

// TestSpecificQueriesAreRateLimited: one report with 1024 TO_IN{} records
// used to make 2048 group-specific queries within a second. Past the burst
// a leave does not start the last-member procedure at all (its timers stay
// as they were, so nobody's membership is cut without a query); leaves
// within the rate still do.
func TestSpecificQueriesAreRateLimited(t *testing.T) {
	r := NewRouter(Config{}, addr("10.0.0.5"))
	r.Start(t0)
	var joins, leaves []Record
	for i := range 1024 {
		joins = append(joins, Record{Type: IsExclude, Group: groupAddr(i)})
		leaves = append(leaves, Record{Type: ToInclude, Group: groupAddr(i)})
	}
	r.Report(t0, addr(h1), 3, joins)
	queries := 0
	count := func(acts []Action) {
		for _, a := range acts {
			if a.Kind == KindSendQuery && a.SendQuery.Group.IsValid() {
				queries++
			}
		}
	}
	count(r.Report(at(time.Second), addr(h1), 3, leaves))
	for d := time.Second; d <= 5*time.Second; d += 100 * time.Millisecond {
		count(r.Advance(at(d)))
	}
	if limit := specificQueryBurst * 2; queries > limit {
		t.Errorf("%d specific queries in 4 s, want at most %d", queries, limit)
	}
	if r.Stats().QueryLimit == 0 {
		t.Error("no suppressed procedure counted")
	}
	if n := r.NumGroups(); n != 1024-specificQueryBurst {
		t.Errorf("%d groups left, want the %d whose leave was not queried", n, 1024-specificQueryBurst)
	}
	// Tokens come back: a real leave later is queried again.
	queries = 0
	count(r.Report(at(time.Minute), addr(h1), 3, leaves[1000:1001]))
	if queries != 1 {
		t.Errorf("a leave a minute later sent %d queries, want 1", queries)
	}
}

// TestOlderVersionQuerierIsNoted: RFC 3376 §7.3.1 and RFC 3810 §8.3.1 want
// a warning when a querier of an older version is heard; the router notes
// it so the daemon can log it.
func TestOlderVersionQuerierIsNoted(t *testing.T) {
	r := NewRouter(Config{}, addr("10.0.0.5"))
	r.Query(t0, addr("10.0.0.9"), Query{Version: 2, MaxResp: 10 * time.Second})
	r.Query(t0, addr("10.0.0.9"), Query{Version: 3, MaxResp: 10 * time.Second, QRV: 2, QQI: 125 * time.Second})
	st := r.Stats()
	if st.OlderQuerier != 1 {
		t.Errorf("OlderQuerier = %d, want 1", st.OlderQuerier)
	}
	if a, v := r.LastOlderQuerier(); a != netip.MustParseAddr("10.0.0.9") || v != 2 {
		t.Errorf("LastOlderQuerier = %v v%d, want 10.0.0.9 v2", a, v)
	}
}

// TestGroupViewsBoundHostSources: status asks for a few sources per host
// (a flood's hosts hold hundreds of thousands), and the proxy's merge needs
// no hosts at all.
func TestGroupViewsBoundHostSources(t *testing.T) {
	r := NewRouter(Config{}, addr("10.0.0.5"))
	r.Report(t0, addr(h1), 3, []Record{{Type: IsInclude, Group: addr(G), Sources: floodSources(100)}})
	st := r.GroupsWithHostSources(16)
	if len(st) != 1 || len(st[0].Hosts) != 1 || len(st[0].Hosts[0].Sources) != 16 || st[0].Hosts[0].SourceCount != 100 || len(st[0].Include) != 100 {
		t.Fatalf("GroupsWithHostSources(16) = %+v", st)
	}
	f, ok := r.Filter(addr(G))
	if !ok || f.Hosts != nil || len(f.Include) != 100 {
		t.Fatalf("Filter = %+v, %v; want the 100 sources and no hosts", f, ok)
	}
	if full, _ := r.Group(addr(G)); len(full.Hosts[0].Sources) != 100 {
		t.Fatalf("Group lists %d host sources, want all 100", len(full.Hosts[0].Sources))
	}
}

// TestGroupInRoom: views read into a room are the views Group gives, each
// list its own (appending to one cannot overwrite the next), and once the
// room has grown a page of views allocates nothing.
func TestGroupInRoom(t *testing.T) {
	r := NewRouter(Config{}, addr("10.0.0.5"))
	var groups []netip.Addr
	for i := range 40 {
		g := netip.AddrFrom4([4]byte{239, 1, 0, byte(i)})
		groups = append(groups, g)
		recs := []Record{{Type: IsExclude, Group: g}}
		if i%3 == 0 {
			recs = []Record{{Type: IsInclude, Group: g, Sources: floodSources(1 + i%5)}}
		}
		r.Report(t0, addr(h1), 3, recs)
		r.Report(t0, addr("10.0.0.7"), 3, recs)
	}
	// A group in exclude mode with sources on both lists.
	r.Report(t0, addr(h1), 3, []Record{{Type: ToExclude, Group: groups[9], Sources: floodSources(6)[4:]}})
	if v, _ := r.Group(groups[9]); len(v.Include) == 0 || len(v.Exclude) == 0 {
		t.Fatalf("group %s: %+v, want sources on both lists", groups[9], v)
	}
	var room StateRoom
	for round := range 3 {
		room.Reset()
		views := make([]GroupState, 0, len(groups))
		for _, g := range groups {
			v, ok := r.GroupInRoom(g, 16, &room)
			if !ok {
				t.Fatalf("round %d: no view of %s", round, g)
			}
			views = append(views, v)
		}
		for i, v := range views {
			want, _ := r.Group(groups[i])
			if !reflect.DeepEqual(v, want) {
				t.Fatalf("round %d: view of %s in a room\n %+v\nwant %+v", round, groups[i], v, want)
			}
			if len(v.Include) > 0 {
				_ = append(v.Include, addr("10.255.255.255"))
			}
			if len(v.Hosts) > 0 {
				_ = append(v.Hosts, Host{})
			}
		}
		for i, v := range views {
			if want, _ := r.Group(groups[i]); !reflect.DeepEqual(v, want) {
				t.Fatalf("round %d: view of %s changed by an append to another", round, groups[i])
			}
		}
	}
	allocs := testing.AllocsPerRun(10, func() {
		room.Reset()
		for _, g := range groups {
			r.GroupInRoom(g, 16, &room)
		}
	})
	if allocs != 0 {
		t.Errorf("reading %d views into a grown room allocated %.0f times, want 0", len(groups), allocs)
	}
}

// TestActionRoomIsBounded: a call that makes many actions (a thousand
// groups expiring at once) hands them over in room the router does not
// keep; a report's few reuse the router's room.
func TestActionRoomIsBounded(t *testing.T) {
	r := NewRouter(Config{}, addr("10.0.0.1"))
	r.Start(t0)
	var recs []Record
	for i := range 1000 {
		recs = append(recs, Record{Type: IsExclude, Group: groupAddr(i)})
	}
	r.Report(t0, addr(h1), 3, recs)
	expired := drain(r, at(time.Hour))
	if n := countKind(expired, KindGroupChanged); n != 1000 {
		t.Fatalf("%d groups expired, want 1000", n)
	}
	if cap(r.acts) > keptActions {
		t.Errorf("room for %d actions kept after 1000 expiries, want at most %d", cap(r.acts), keptActions)
	}
}

func countKind(acts []Action, k ActionKind) int {
	n := 0
	for _, a := range acts {
		if a.Kind == k {
			n++
		}
	}
	return n
}
