package membership

import (
	"fmt"
	"net/netip"
	"reflect"
	"testing"
	"time"
)

func TestTimerExpiry(t *testing.T) {
	runCases(t, []routerCase{{
		name: "INCLUDE: expired source is deleted, then the empty group (§6.3)",
		steps: []step{
			{0, report(3, rec(IsInclude, G, s1)), acts(changed(G))},
			{100 * time.Second, report(3, rec(Allow, G, s2)), acts(changed(G))},
			{gmi - time.Second, advance(), nil},
			{gmi, advance(), acts(changed(G))},
			{100*time.Second + gmi, advance(), acts(changed(G))},
		},
		groups: []groupCheck{{group: G, absent: true}},
		check: func(t *testing.T, r *Router) {
			if d := r.NextDeadline(); !d.IsZero() {
				t.Errorf("NextDeadline = %v, want none", offset(d))
			}
		},
	}, {
		name: "EXCLUDE: group timer expiry without running sources deletes the group (§6.5)",
		steps: []step{
			{0, report(3, rec(IsExclude, G, s3)), acts(changed(G))},
			{gmi, advance(), acts(changed(G))},
		},
		groups: []groupCheck{{group: G, absent: true}},
	}, {
		name: "EXCLUDE: expired source timer moves the source to the exclude list (§6.3)",
		steps: []step{
			{0, report(3, rec(IsExclude, G), rec(Allow, G, s1)), acts(changed(G))},
			{100 * time.Second, report(3, rec(IsExclude, G, s1)), nil},
			{gmi, advance(), acts(changed(G))},
		},
		groups: []groupCheck{{group: G, mode: Exclude, exclude: []string{s1}, expires: 100*time.Second + gmi}},
	}})
}

func TestRetransmissions(t *testing.T) {
	lmqc3 := Config{LastMemberQueryCount: 3}
	runCases(t, []routerCase{{
		name: "Q(G,S): LMQC-1 retransmissions LMQI apart; a refreshed source moves to the S-set query (§6.6.3.2)",
		cfg:  lmqc3,
		steps: []step{
			{0, report(3, rec(IsInclude, G, s1, s2)), acts(changed(G))},
			{10 * time.Second, report(3, rec(Block, G, s1, s2)), acts(q(G, false, s1, s2))},
			{sec(10.5), report(3, rec(Allow, G, s1)), nil},
			{11 * time.Second, advance(), acts(q(G, true, s1), q(G, false, s2))},
			{12 * time.Second, advance(), acts(q(G, true, s1), q(G, false, s2))},
			{13 * time.Second, advance(), acts(changed(G))},
			{20 * time.Second, advance(), nil},
		},
		groups: []groupCheck{{group: G, mode: Include, include: []string{s1}, expires: sec(10.5) + gmi}},
	}, {
		name: "Q(G): LMQC-1 retransmissions, then the group expires after LMQT (§6.6.3.1)",
		cfg:  lmqc3,
		steps: []step{
			{0, report(3, rec(IsExclude, G)), acts(changed(G))},
			{10 * time.Second, report(3, rec(ToInclude, G)), acts(q(G, false))},
			{11 * time.Second, advance(), acts(q(G, false))},
			{12 * time.Second, advance(), acts(q(G, false))},
			{13 * time.Second, advance(), acts(changed(G))},
		},
		groups: []groupCheck{{group: G, absent: true}},
	}, {
		name: "second leave during retransmissions does not extend the group",
		steps: []step{
			{0, report(2, rec(IsExclude, G)), acts(changed(G))},
			{10 * time.Second, report(2, rec(ToInclude, G)), acts(q(G, false))},
			{sec(10.5), report(2, rec(ToInclude, G)), acts(q(G, false))},
			{sec(11.5), advance(), acts(q(G, false))},
			{12 * time.Second, advance(), acts(changed(G))},
			{13 * time.Second, advance(), nil},
		},
		groups: []groupCheck{{group: G, absent: true}},
	}})
}

// TestJoinWinsOverLeave: a leave followed by a quick re-join (a channel
// changed back) must never lose the group to the aging of the leave.
func TestJoinWinsOverLeave(t *testing.T) {
	runCases(t, []routerCase{{
		name: "IGMPv2 leave then report before the retransmission: S flag set, group kept",
		steps: []step{
			{0, report(2, rec(IsExclude, G)), acts(changed(G))},
			{10 * time.Second, report(2, rec(ToInclude, G)), acts(q(G, false))},
			{sec(10.5), report(2, rec(IsExclude, G)), nil},
			{11 * time.Second, advance(), acts(q(G, true))},
			{12 * time.Second, advance(), nil},
			{30 * time.Second, advance(), nil},
		},
		groups: []groupCheck{{group: G, mode: Exclude, compat: 2, expires: sec(10.5) + gmi}},
	}, {
		name: "IGMPv3 TO_IN{} then TO_EX{} after the retransmission: group kept",
		steps: []step{
			{0, report(3, rec(ToExclude, G)), acts(changed(G))},
			{10 * time.Second, report(3, rec(ToInclude, G)), acts(q(G, false))},
			{11 * time.Second, advance(), acts(q(G, false))},
			{sec(11.9), report(3, rec(ToExclude, G)), nil},
			{12 * time.Second, advance(), nil},
		},
		groups: []groupCheck{{group: G, mode: Exclude, expires: sec(11.9) + gmi}},
	}, {
		name: "source leave then re-allow: source kept",
		steps: []step{
			{0, report(3, rec(IsInclude, G, s1)), acts(changed(G))},
			{10 * time.Second, report(3, rec(Block, G, s1)), acts(q(G, false, s1))},
			{sec(10.1), report(3, rec(Allow, G, s1)), nil},
			{11 * time.Second, advance(), acts(q(G, true, s1))},
			{12 * time.Second, advance(), nil},
		},
		groups: []groupCheck{{group: G, mode: Include, include: []string{s1}, expires: sec(10.1) + gmi}},
	}})
}

func TestGeneralQueries(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		until time.Duration
		want  []time.Duration // when general queries go out
	}{{
		name:  "defaults: 2 startup queries QI/4 apart, then every QI (§8.6, §8.7)",
		until: 500 * time.Second,
		want:  []time.Duration{0, sec(31.25), sec(156.25), sec(281.25), sec(406.25)},
	}, {
		name:  "3 startup queries 10s apart",
		cfg:   Config{StartupQueryCount: 3, StartupQueryInterval: 10 * time.Second, QueryInterval: 60 * time.Second},
		until: 200 * time.Second,
		want:  []time.Duration{0, 10 * time.Second, 20 * time.Second, 80 * time.Second, 140 * time.Second, 200 * time.Second},
	}, {
		name:  "one startup query",
		cfg:   Config{StartupQueryCount: 1},
		until: 300 * time.Second,
		want:  []time.Duration{0, 125 * time.Second, 250 * time.Second},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRouter(tc.cfg, addr("10.0.0.5"))
			cfg := tc.cfg.WithDefaults()
			want := SendQuery{Version: 3, MaxResp: cfg.QueryResponseInterval, QRV: cfg.Robustness, QQI: cfg.QueryInterval}.Action()
			var got []time.Duration
			check := func(as []Action, now time.Time) {
				for _, a := range as {
					if !reflect.DeepEqual(a, want) {
						t.Fatalf("at %v: action %s, want general query %s", offset(now), fmtActions([]Action{a}), fmtActions([]Action{want}))
					}
					got = append(got, now.Sub(t0))
				}
			}
			check(r.Start(t0), t0)
			for {
				d := r.NextDeadline()
				if d.IsZero() || d.After(at(tc.until)) {
					break
				}
				check(r.Advance(d), d)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("queries at %v, want %v", got, tc.want)
			}
		})
	}
}

func TestLateAdvanceDoesNotBurst(t *testing.T) {
	r := NewRouter(Config{StartupQueryCount: 1}, addr("10.0.0.5"))
	r.Start(t0)
	got := r.Advance(at(1000 * time.Second))
	if !reflect.DeepEqual(got, acts(gq())) {
		t.Fatalf("late Advance = %s, want one general query", fmtActions(got))
	}
	if d := r.NextDeadline(); !d.Equal(at(1125 * time.Second)) {
		t.Errorf("NextDeadline = %v, want +1125s", offset(d))
	}
}

func querier(t *testing.T, r *Router, wantAddr string, wantSelf bool) {
	t.Helper()
	a, self := r.Querier()
	if a != addr(wantAddr) || self != wantSelf {
		t.Errorf("Querier() = %v, %v; want %v, %v", a, self, wantAddr, wantSelf)
	}
}

func TestQuerierElection(t *testing.T) {
	general := Query{Version: 3, MaxResp: 10 * time.Second, QRV: 2, QQI: 125 * time.Second}
	const oqpi = 255 * time.Second // 2*125s + 10s/2 (§8.5)
	runCases(t, []routerCase{{
		name: "lower address wins; we resume after the other querier present interval (§6.6.2)",
		steps: []step{
			{0, start(), acts(gq())},
			{time.Second, query("10.0.0.1", general), nil},
			{sec(31.25), advance(), nil},
			{time.Second + oqpi - 1, advance(), nil},
			{time.Second + oqpi, advance(), acts(gq())},
			{time.Second + oqpi + 125*time.Second, advance(), acts(gq())},
		},
		check: func(t *testing.T, r *Router) { querier(t, r, "10.0.0.5", true) },
	}, {
		name: "each query from the querier restarts the other querier present timer",
		steps: []step{
			{0, start(), acts(gq())},
			{time.Second, query("10.0.0.1", general), nil},
			{100 * time.Second, query("10.0.0.1", general), nil},
			{time.Second + oqpi, advance(), nil},
			{100*time.Second + oqpi, advance(), acts(gq())},
		},
	}, {
		name: "still non-querier while the lower router keeps querying",
		steps: []step{
			{0, start(), acts(gq())},
			{time.Second, query("10.0.0.1", general), nil},
		},
		check: func(t *testing.T, r *Router) { querier(t, r, "10.0.0.1", false) },
	}, {
		name: "higher address is ignored",
		steps: []step{
			{0, start(), acts(gq())},
			{time.Second, query("10.0.0.9", general), nil},
			{sec(31.25), advance(), acts(gq())},
		},
		check: func(t *testing.T, r *Router) { querier(t, r, "10.0.0.5", true) },
	}, {
		name: "unspecified source (snooping switch) and our own query are ignored",
		steps: []step{
			{0, start(), acts(gq())},
			{time.Second, query("0.0.0.0", general), nil},
			{time.Second, query("10.0.0.5", general), nil},
			{sec(31.25), advance(), acts(gq())},
		},
		check: func(t *testing.T, r *Router) { querier(t, r, "10.0.0.5", true) },
	}, {
		name: "without an address of our own any querier wins",
		self: "invalid",
		steps: []step{
			{0, start(), []Action{gq()}},
			{time.Second, query("10.0.0.9", general), nil},
			{sec(31.25), advance(), nil},
		},
		check: func(t *testing.T, r *Router) { querier(t, r, "10.0.0.9", false) },
	}, {
		name: "getting an address lower than the querier's makes us querier",
		steps: []step{
			{0, start(), acts(gq())},
			{time.Second, query("10.0.0.3", general), nil},
			{2 * time.Second, setAddress("10.0.0.4"), nil},
			{3 * time.Second, setAddress("10.0.0.2"), acts(gq())},
			{128 * time.Second, advance(), acts(gq())},
		},
		check: func(t *testing.T, r *Router) { querier(t, r, "10.0.0.2", true) },
	}, {
		name: "non-querier adopts QRV and QQI; resuming restores our own (§4.1.6, §4.1.7)",
		steps: []step{
			{0, start(), acts(gq())},
			// OQPI becomes 3*60s + 5s.
			{time.Second, query("10.0.0.1", Query{Version: 3, QRV: 3, QQI: 60 * time.Second}), nil},
			// GMI becomes 3*60s + 10s.
			{2 * time.Second, report(3, rec(IsExclude, G)), acts(changed(G))},
			{186 * time.Second, advance(), acts(gq())},
			// The group (timer +192s) expired and comes back.
			{200 * time.Second, report(3, rec(IsExclude, G, s1)), acts(changed(G))},
		},
		groups: []groupCheck{{group: G, mode: Exclude, exclude: []string{s1}, expires: 200*time.Second + gmi}},
	}, {
		name: "zero QRV and QQI are not adopted",
		steps: []step{
			{0, start(), acts(gq())},
			{time.Second, query("10.0.0.1", Query{Version: 2, MaxResp: 10 * time.Second}), nil},
			{2 * time.Second, report(3, rec(IsExclude, G)), acts(changed(G))},
		},
		groups: []groupCheck{{group: G, mode: Exclude, expires: 2*time.Second + gmi}},
	}})
}

func TestNonQuerier(t *testing.T) {
	general := Query{Version: 3, MaxResp: 10 * time.Second, QRV: 2, QQI: 125 * time.Second}
	specific := func(s bool, srcs ...string) Query {
		return Query{Version: 3, Group: addr(G), Sources: addrs(srcs...), SuppressRouterSide: s,
			MaxResp: time.Second, QRV: 2, QQI: 125 * time.Second}
	}
	runCases(t, []routerCase{{
		name: "sends no queries; lowers the group timer on the querier's Q(G) with S clear (§6.6.1)",
		steps: []step{
			{0, query("10.0.0.1", general), nil},
			{time.Second, report(2, rec(IsExclude, G)), acts(changed(G))},
			{10 * time.Second, report(2, rec(ToInclude, G)), nil},
			{sec(10.2), query("10.0.0.1", specific(false)), nil},
			{sec(11.2), query("10.0.0.1", specific(true)), nil},
			{sec(12.2), advance(), acts(changed(G))},
		},
		groups: []groupCheck{{group: G, absent: true}},
	}, {
		name: "Q(G) with S set leaves timers alone",
		steps: []step{
			{0, query("10.0.0.1", general), nil},
			{time.Second, report(2, rec(IsExclude, G)), acts(changed(G))},
			{10 * time.Second, query("10.0.0.1", specific(true)), nil},
			{20 * time.Second, advance(), nil},
		},
		groups: []groupCheck{{group: G, mode: Exclude, compat: 2, expires: time.Second + gmi}},
	}, {
		name: "Q(G,S) with S clear lowers the listed source timers",
		steps: []step{
			{0, query("10.0.0.1", general), nil},
			{time.Second, report(3, rec(IsInclude, G, s1, s2)), acts(changed(G))},
			{10 * time.Second, report(3, rec(Block, G, s1)), nil},
			{sec(10.1), query("10.0.0.1", specific(false, s1)), nil},
		},
		groups: []groupCheck{{group: G, mode: Include, include: []string{s1, s2}, expires: time.Second + gmi,
			timers: map[string]time.Duration{s1: sec(10.1) + lmqt, s2: time.Second + gmi}}},
	}, {
		name: "a querier with a longer LMQI is followed",
		steps: []step{
			{0, query("10.0.0.1", general), nil},
			{time.Second, report(2, rec(IsExclude, G)), acts(changed(G))},
			{10 * time.Second, query("10.0.0.1", Query{Version: 2, Group: addr(G), MaxResp: 3 * time.Second}), nil},
		},
		groups: []groupCheck{{group: G, mode: Exclude, compat: 2, expires: 16 * time.Second}},
	}, {
		name: "specific query from a router that is not the querier is ignored",
		steps: []step{
			{0, query("10.0.0.1", general), nil},
			{time.Second, report(2, rec(IsExclude, G)), acts(changed(G))},
			{10 * time.Second, query("10.0.0.7", specific(false)), nil},
		},
		groups: []groupCheck{{group: G, mode: Exclude, compat: 2, expires: time.Second + gmi}},
	}, {
		name: "pending source retransmissions stop when we lose the election",
		steps: []step{
			{0, report(3, rec(IsInclude, G, s1)), acts(changed(G))},
			{10 * time.Second, report(3, rec(Block, G, s1)), acts(q(G, false, s1))},
			{sec(10.5), query("10.0.0.1", general), nil},
			{sec(10.6), query("10.0.0.1", Query{Version: 3, Group: addr("239.7.7.7"), MaxResp: time.Second}), nil},
			{11 * time.Second, advance(), nil},
			{12 * time.Second, advance(), acts(changed(G))},
		},
		groups: []groupCheck{{group: G, absent: true}},
	}, {
		name: "pending retransmissions stop when we lose the election",
		steps: []step{
			{0, report(3, rec(IsExclude, G)), acts(changed(G))},
			{10 * time.Second, report(3, rec(ToInclude, G)), acts(q(G, false))},
			{sec(10.5), query("10.0.0.1", general), nil},
			{11 * time.Second, advance(), nil},
			{12 * time.Second, advance(), acts(changed(G))},
		},
		groups: []groupCheck{{group: G, absent: true}},
	}})
}

func TestCompatibility(t *testing.T) {
	q2 := func(g string) Action {
		return SendQuery{Version: 2, Group: addr(g), MaxResp: time.Second, QRV: 2, QQI: 125 * time.Second}.Action()
	}
	runCases(t, []routerCase{{
		name: "v1 host present: leaves, TO_IN and BLOCK ignored, TO_EX(x) is TO_EX({}) (§7.3.2)",
		steps: []step{
			{0, report(1, rec(IsExclude, G)), acts(changed(G))},
			{10 * time.Second, report(2, rec(ToInclude, G)), nil},
			{10 * time.Second, report(3, rec(ToInclude, G, s1)), nil},
			{10 * time.Second, report(3, rec(Block, G, s1)), nil},
			{10 * time.Second, report(3, rec(ToExclude, G, s1)), nil},
			{20 * time.Second, advance(), nil},
		},
		groups: []groupCheck{{group: G, mode: Exclude, compat: 1, expires: 10*time.Second + gmi}},
	}, {
		name: "v2 host present: BLOCK ignored, TO_EX(x) is TO_EX({}), leave queried (§7.3.2)",
		steps: []step{
			{0, report(2, rec(IsExclude, G)), acts(changed(G))},
			{10 * time.Second, report(3, rec(ToExclude, G, s1)), nil},
			{10 * time.Second, report(3, rec(Block, G, s1)), nil},
			{20 * time.Second, report(2, rec(ToInclude, G)), acts(q(G, false))},
		},
		groups: []groupCheck{{group: G, mode: Exclude, compat: 2, expires: 20*time.Second + lmqt}},
	}, {
		name: "v1 and v2 hosts: the oldest wins",
		steps: []step{
			{0, report(2, rec(IsExclude, G)), acts(changed(G))},
			{time.Second, report(1, rec(IsExclude, G)), nil},
			{2 * time.Second, report(2, rec(ToInclude, G)), nil},
		},
		groups: []groupCheck{{group: G, mode: Exclude, compat: 1, expires: time.Second + gmi}},
	}, {
		name: "older host present timer expiry returns the group to v3",
		steps: []step{
			{0, report(2, rec(IsExclude, G)), acts(changed(G))},
			{100 * time.Second, report(3, rec(IsExclude, G)), nil},
			{gmi, advance(), nil},
			{gmi + time.Second, report(3, rec(Block, G, s1)), acts(q(G, false, s1))},
		},
		groups: []groupCheck{{group: G, mode: Exclude, include: []string{s1}, expires: 100*time.Second + gmi,
			timers: map[string]time.Duration{s1: gmi + time.Second + lmqt}}},
	}, {
		name: "expired older host timer counts even before Advance",
		steps: []step{
			{0, report(1, rec(IsExclude, G)), acts(changed(G))},
			{100 * time.Second, report(3, rec(IsExclude, G)), nil},
			{gmi + time.Second, report(3, rec(ToInclude, G)), acts(q(G, false))},
		},
		groups: []groupCheck{{group: G, mode: Exclude, expires: gmi + time.Second + lmqt}},
	}, {
		name: "router version 2: v2 queries, no S flag, source queries become Q(G)",
		cfg:  Config{Version: 2},
		steps: []step{
			{0, start(), acts(SendQuery{Version: 2, MaxResp: 10 * time.Second, QRV: 2, QQI: 125 * time.Second}.Action())},
			{time.Second, report(3, rec(IsExclude, G), rec(Allow, G, s1)), acts(changed(G))},
			{10 * time.Second, report(3, rec(ToInclude, G)), acts(q2(G))},
			{11 * time.Second, advance(), acts(q2(G))},
			{12 * time.Second, advance(), acts(changed(G))},
		},
		groups: []groupCheck{{group: G, absent: true}},
	}, {
		name: "router version 2: INCLUDE TO_IN asks with Q(G) and keeps the group timer out of it",
		cfg:  Config{Version: 2},
		steps: []step{
			{0, report(3, rec(IsInclude, G, s1, s2)), acts(changed(G))},
			{10 * time.Second, report(3, rec(ToInclude, G, s2)), acts(q2(G))},
			{11 * time.Second, advance(), acts(q2(G))},
			{12 * time.Second, advance(), acts(changed(G))},
		},
		groups: []groupCheck{{group: G, mode: Include, include: []string{s2}, compat: 2, expires: 10*time.Second + gmi}},
	}, {
		name: "router version 1: v1 general queries, leaves ignored, no group-specific queries",
		cfg:  Config{Version: 1},
		steps: []step{
			{0, start(), acts(SendQuery{Version: 1, MaxResp: 10 * time.Second, QRV: 2, QQI: 125 * time.Second}.Action())},
			{time.Second, report(2, rec(IsExclude, G)), acts(changed(G))},
			{10 * time.Second, report(2, rec(ToInclude, G)), nil},
		},
		groups: []groupCheck{{group: G, mode: Exclude, compat: 1, expires: time.Second + gmi}},
	}})
}

func TestWants(t *testing.T) {
	const other = "239.9.9.9"
	r := NewRouter(Config{}, addr("10.0.0.5"))
	r.Report(t0, addr("10.0.0.100"), 3, []Record{
		rec(IsInclude, G, s1),
		rec(IsExclude, "239.2.2.2", s3), rec(Allow, "239.2.2.2", s1),
		rec(IsExclude, "239.3.3.3"),
	})
	tests := []struct {
		group, source string
		want          bool
	}{
		{G, s1, true},            // INCLUDE, listed
		{G, s2, false},           // INCLUDE, not listed
		{"239.2.2.2", s1, true},  // EXCLUDE, requested
		{"239.2.2.2", s2, true},  // EXCLUDE, unlisted
		{"239.2.2.2", s3, false}, // EXCLUDE, excluded
		{"239.3.3.3", s4, true},  // EXCLUDE({}): any source
		{other, s1, false},       // no record
	}
	for _, tc := range tests {
		if got := r.Wants(addr(tc.group), addr(tc.source)); got != tc.want {
			t.Errorf("Wants(%s, %s) = %v, want %v", tc.group, tc.source, got, tc.want)
		}
	}
}

func TestGroupChangedOnlyOnChange(t *testing.T) {
	const G2 = "239.0.0.9"
	runCases(t, []routerCase{{
		name: "refreshes are silent",
		steps: []step{
			{0, report(3, rec(IsExclude, G, s3)), acts(changed(G))},
			{time.Second, report(3, rec(IsExclude, G, s3)), nil},
			{2 * time.Second, report(3, rec(Allow, G, s1)), nil},
			{3 * time.Second, report(3, rec(IsInclude, G, s1)), nil},
			{4 * time.Second, report(2, rec(IsExclude, G)), acts(changed(G))},
		},
	}, {
		name: "one GroupChanged per group per call, sorted",
		steps: []step{
			{0, report(3, rec(IsInclude, G, s1), rec(IsInclude, G2, s1), rec(Allow, G, s2), rec(Block, G, s4)), acts(changed(G2), changed(G))},
			{time.Second, report(3, rec(IsInclude, G, s1), rec(IsInclude, G2, s1)), nil},
		},
	}, {
		name: "ignored records: not multicast, bad version, nothing to block, empty include",
		steps: []step{
			{0, report(3, rec(IsInclude, "10.9.9.9", s1)), nil},
			{0, report(4, rec(IsInclude, G, s1)), nil},
			{0, report(3, rec(Block, G, s1), rec(ToInclude, G), rec(IsInclude, G), rec(Allow, G)), nil},
		},
		groups: []groupCheck{{group: G, absent: true}},
	}, {
		name: "sources of the wrong family or invalid are dropped",
		steps: []step{
			{0, report(3, Record{Type: IsInclude, Group: addr(G), Sources: []netip.Addr{addr("2001:db8::1"), {}, addr(s1)}}), acts(changed(G))},
		},
		groups: []groupCheck{{group: G, mode: Include, include: []string{s1}, expires: gmi}},
	}})
}

func TestIPv6(t *testing.T) {
	const (
		G6 = "ff3e::8000:1"
		a1 = "2001:db8::1"
		a2 = "2001:db8::2"
		a3 = "2001:db8::3"
	)
	q6 := func(s bool, srcs ...string) Action { return q(G6, s, srcs...) }
	runCases(t, []routerCase{{
		name: "MLDv2 records run the same tables",
		self: "fe80::5",
		steps: []step{
			{0, report6(rec(IsInclude, G6, a1, a2)), acts(changed(G6))},
			{10 * time.Second, report6(rec(ToExclude, G6, a2, a3)), acts(q6(false, a2), changed(G6))},
			{11 * time.Second, advance(), acts(q6(false, a2))},
			{12 * time.Second, advance(), acts(changed(G6))},
			// A new requested source in EXCLUDE mode was already forwarded.
			{13 * time.Second, report6(rec(ToInclude, G6, a1)), acts(q6(false))},
		},
		groups: []groupCheck{{group: G6, mode: Exclude, include: []string{a1}, exclude: []string{a2, a3},
			expires: 13*time.Second + lmqt, timers: map[string]time.Duration{a1: 13*time.Second + gmi}}},
		check: func(t *testing.T, r *Router) {
			if !r.Wants(addr(G6), addr(a1)) || r.Wants(addr(G6), addr(a2)) {
				t.Error("Wants disagrees with the state")
			}
		},
	}, {
		name: "querier election compares IPv6 addresses",
		self: "fe80::5",
		steps: []step{
			{0, start(), acts(gq())},
			{time.Second, query("fe80::9", Query{Version: 3}), nil},
			{2 * time.Second, query("fe80::1", Query{Version: 3}), nil},
			{sec(31.25), advance(), nil},
			{2*time.Second + 255*time.Second, advance(), acts(gq())},
		},
		check: func(t *testing.T, r *Router) { querier(t, r, "fe80::5", true) },
	}})
}

func TestWithDefaults(t *testing.T) {
	got := Config{Robustness: 3, QueryInterval: 60 * time.Second, Version: 7}.WithDefaults()
	want := Config{
		Robustness: 3, QueryInterval: 60 * time.Second, QueryResponseInterval: 10 * time.Second,
		StartupQueryInterval: 15 * time.Second, StartupQueryCount: 3,
		LastMemberQueryInterval: time.Second, LastMemberQueryCount: 3, Version: 3,
	}
	if got != want {
		t.Errorf("WithDefaults = %+v, want %+v", got, want)
	}
}

func TestStrings(t *testing.T) {
	tests := []struct{ got, want string }{
		{Include.String(), "include"},
		{Exclude.String(), "exclude"},
		{FilterMode(9).String(), "FilterMode(9)"},
		{IsInclude.String(), "IS_IN"},
		{Block.String(), "BLOCK"},
		{RecordType(0).String(), "RecordType(0)"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestManyGroups(t *testing.T) {
	r := NewRouter(Config{}, addr("10.0.0.5"))
	// Reported out of address order; they expire in report order.
	order := []string{"239.0.0.3", "239.0.0.1", "239.0.0.4", "239.0.0.2", "ff3e::1"}
	for i, g := range order {
		r.Report(at(time.Duration(i)*time.Second), addr("10.0.0.100"), 3, []Record{rec(IsExclude, g)})
	}
	if n := r.NumGroups(); n != len(order) {
		t.Fatalf("NumGroups = %d, want %d", n, len(order))
	}
	var listed []string
	for _, st := range r.Groups() {
		listed = append(listed, st.Group.String())
	}
	if want := []string{"239.0.0.1", "239.0.0.2", "239.0.0.3", "239.0.0.4", "ff3e::1"}; !reflect.DeepEqual(listed, want) {
		t.Errorf("Groups() order %v, want %v", listed, want)
	}
	var expired []string
	for _, a := range drain(r, at(time.Hour)) {
		if a.Kind != KindGroupChanged {
			t.Fatalf("expiry: %s, want only changed groups", fmtActions([]Action{a}))
		}
		expired = append(expired, a.GroupChanged.Group.String())
	}
	if !reflect.DeepEqual(expired, order) {
		t.Errorf("expiry order %v, want %v", expired, order)
	}
	if n := r.NumGroups(); n != 0 {
		t.Errorf("NumGroups after expiry = %d, want 0", n)
	}
}

func TestLongSourceLists(t *testing.T) {
	var many []string
	for i := range 12 {
		many = append(many, fmt.Sprintf("10.2.0.%d", i+10))
	}
	runCases(t, []routerCase{{
		name: "INCLUDE(A) IS_EX(B) with more sources than the scan limit",
		steps: []step{
			{0, report(3, rec(IsInclude, G, s1, many[0])), acts(changed(G))},
			{time.Second, report(3, rec(IsExclude, G, many...)), acts(changed(G))},
		},
		groups: []groupCheck{{group: G, mode: Exclude, include: many[:1], exclude: many[1:], expires: time.Second + gmi}},
	}})
}

func TestLargeRobustnessSendsQRVZero(t *testing.T) {
	r := NewRouter(Config{Robustness: 8}, addr("10.0.0.5"))
	got := r.Start(t0)
	want := acts(SendQuery{Version: 3, MaxResp: 10 * time.Second, QRV: 0, QQI: 125 * time.Second}.Action())
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Start = %s, want %s (§4.1.6: QRV 0 above 7)", fmtActions(got), fmtActions(want))
	}
}
