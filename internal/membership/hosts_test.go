package membership

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

const (
	h1 = "10.0.0.101"
	h2 = "10.0.0.102"
	h3 = "10.0.0.103"
)

// general is a general query from a router below us, which makes us a
// non-querier: tables then show host tracking without our own queries.
var general = Query{Version: 3, MaxResp: 10 * time.Second, QRV: 2, QQI: 125 * time.Second}

func TestHostTracking(t *testing.T) {
	runCases(t, []routerCase{{
		name: "IGMPv2 reports are EXCLUDE{} per host; a host expires a GMI after its last report",
		steps: []step{
			{0, reportFrom(h1, 2, rec(IsExclude, G)), acts(changed(G))},
			{100 * time.Second, reportFrom(h2, 2, rec(IsExclude, G)), nil},
			{gmi - time.Second, advance(), nil},
			{gmi, advance(), nil},
		},
		groups: []groupCheck{{group: G, mode: Exclude, compat: 2, expires: 100*time.Second + gmi,
			hosts: []Host{hst(h2, Exclude, 100*time.Second+gmi)}}},
	}, {
		name: "every report from a host refreshes its entry",
		steps: []step{
			{0, reportFrom(h1, 3, rec(IsInclude, G, s1)), acts(changed(G))},
			{100 * time.Second, reportFrom(h1, 3, rec(Allow, G, s1)), nil},
		},
		groups: []groupCheck{{group: G, mode: Include, include: []string{s1}, expires: 100*time.Second + gmi,
			hosts: []Host{hst(h1, Include, 100*time.Second+gmi, s1)}}},
	}, {
		name: "IGMPv3 records edit each host's own filter state",
		steps: []step{
			{0, query("10.0.0.1", general), nil},
			{1 * time.Second, reportFrom(h1, 3, rec(IsInclude, G, s2, s1, s2)), acts(changed(G))},
			{2 * time.Second, reportFrom(h1, 3, rec(Allow, G, s3)), acts(changed(G))},
			{3 * time.Second, reportFrom(h1, 3, rec(Block, G, s1)), nil},
			{4 * time.Second, reportFrom(h2, 3, rec(ToExclude, G, s3)), acts(changed(G))},
			{5 * time.Second, reportFrom(h2, 3, rec(Block, G, s5, s4)), nil},
			{6 * time.Second, reportFrom(h2, 3, rec(Allow, G, s4)), nil},
			{7 * time.Second, reportFrom(h3, 3, rec(Allow, G, s1)), nil},
			// TO_IN{} is INCLUDE{}: the host no longer counts.
			{8 * time.Second, reportFrom(h1, 3, rec(ToInclude, G)), nil},
		},
		groups: []groupCheck{{group: G, mode: Exclude, include: []string{s1, s3, s4, s5}, expires: 4*time.Second + gmi,
			hosts: []Host{hst(h2, Exclude, 6*time.Second+gmi, s3, s5), hst(h3, Include, 7*time.Second+gmi, s1)}}},
	}, {
		name: "IS_EX replaces an INCLUDE list; IS_IN replaces an EXCLUDE list",
		steps: []step{
			{0, query("10.0.0.1", general), nil},
			{time.Second, reportFrom(h1, 3, rec(IsInclude, G, s1, s2)), acts(changed(G))},
			{2 * time.Second, reportFrom(h1, 3, rec(IsExclude, G, s3)), acts(changed(G))},
			{3 * time.Second, reportFrom(h2, 3, rec(IsExclude, G, s4)), acts(changed(G))},
			{4 * time.Second, reportFrom(h2, 3, rec(IsInclude, G, s5)), nil},
		},
		groups: []groupCheck{{group: G, mode: Exclude, include: []string{s4, s5}, expires: 3*time.Second + gmi,
			hosts: []Host{hst(h1, Exclude, 2*time.Second+gmi, s3), hst(h2, Include, 4*time.Second+gmi, s5)}}},
	}, {
		name: "a BLOCK or leave from an unknown host creates no entry",
		steps: []step{
			{0, reportFrom(h1, 3, rec(IsExclude, G)), acts(changed(G))},
			{time.Second, reportFrom(h2, 3, rec(Block, G, s1)), acts(q(G, false, s1))},
			{time.Second, reportFrom(h3, 2, rec(ToInclude, G)), acts(q(G, false))},
		},
		groups: []groupCheck{{group: G, mode: Exclude, include: []string{s1}, expires: time.Second + lmqt,
			hosts: []Host{hst(h1, Exclude, gmi)}}},
	}, {
		name: "IGMPv2 leave removes the host; without fast leave the RFC procedure runs",
		steps: []step{
			{0, reportFrom(h1, 2, rec(IsExclude, G)), acts(changed(G))},
			{time.Second, reportFrom(h2, 2, rec(IsExclude, G)), nil},
			{10 * time.Second, reportFrom(h1, 2, rec(ToInclude, G)), acts(q(G, false))},
		},
		groups: []groupCheck{{group: G, mode: Exclude, compat: 2, expires: 10*time.Second + lmqt,
			hosts: []Host{hst(h2, Exclude, time.Second+gmi)}}},
	}, {
		name: "IGMPv1 report: untracked member, no host entry",
		steps: []step{
			{0, reportFrom(h1, 1, rec(IsExclude, G)), acts(changed(G))},
		},
		groups: []groupCheck{{group: G, mode: Exclude, compat: 1, expires: gmi, hosts: noHosts, untracked: true}},
	}, {
		name: "report from 0.0.0.0 (RFC 3376 §4.2.13): untracked member until a GMI after it",
		steps: []step{
			{0, reportFrom("0.0.0.0", 3, rec(IsExclude, G)), acts(changed(G))},
			{100 * time.Second, reportFrom(h1, 3, rec(IsExclude, G)), nil},
			{gmi, advance(), nil},
		},
		groups: []groupCheck{{group: G, mode: Exclude, expires: 100*time.Second + gmi,
			hosts: []Host{hst(h1, Exclude, 100*time.Second+gmi)}}},
	}, {
		name: "a leave from 0.0.0.0 marks nothing",
		steps: []step{
			{0, reportFrom(h1, 3, rec(IsExclude, G)), acts(changed(G))},
			{time.Second, reportFrom("0.0.0.0", 3, rec(IsInclude, G)), nil},
		},
		groups: []groupCheck{{group: G, mode: Exclude, expires: gmi, hosts: []Host{hst(h1, Exclude, gmi)}}},
	}, {
		name: "MLD hosts are tracked by their IPv6 address",
		self: "fe80::5",
		steps: []step{
			{0, reportFrom("fe80::2", 2, rec(IsExclude, "ff3e::1")), acts(changed("ff3e::1"))},
			{time.Second, reportFrom("fe80::1", 3, rec(IsInclude, "ff3e::1", "2001:db8::1")), nil},
		},
		groups: []groupCheck{{group: "ff3e::1", mode: Exclude, include: []string{"2001:db8::1"}, compat: 2, expires: gmi,
			hosts: []Host{hst("fe80::1", Include, time.Second+gmi, "2001:db8::1"), hst("fe80::2", Exclude, gmi)}}},
	}})
}

// hostAddr returns the i-th test host, 10.0.x.y.
func hostAddr(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
}

func TestHostLimit(t *testing.T) {
	r := NewRouter(Config{FastLeave: true}, addr("10.0.0.5"))
	for i := range maxHosts + 1 {
		r.Report(t0, hostAddr(i+1), 2, []Record{rec(IsExclude, G)})
	}
	st, _ := r.Group(addr(G))
	if len(st.Hosts) != maxHosts || !st.Untracked || r.Stats().HostLimit != 1 {
		t.Fatalf("%d hosts, untracked %v, %+v; want %d, true, HostLimit 1", len(st.Hosts), st.Untracked, r.Stats(), maxHosts)
	}
	// With a member it could not track, fast leave falls back to the
	// last-member query even when every tracked host has left.
	for i := range maxHosts {
		if got := r.Report(at(time.Second), hostAddr(i+1), 2, []Record{rec(ToInclude, G)}); i == 0 && fmtActions(got) != fmtActions(acts(q(G, false))) {
			t.Fatalf("first leave: %s, want the last-member query", fmtActions(got))
		}
	}
	if st, ok := r.Group(addr(G)); !ok || len(st.Hosts) != 0 {
		t.Fatalf("after every tracked host left: %+v, %v; want the group kept", st, ok)
	}
}

// TestFastLeave: cut only after the last tracked host leaves (another TV on
// the LAN keeps its stream), and a join always wins.
func TestFastLeave(t *testing.T) {
	fast := Config{FastLeave: true}
	runCases(t, []routerCase{{
		name: "IGMPv2: one host leaves, another still watches: nothing cut, no query",
		cfg:  fast,
		steps: []step{
			{0, reportFrom(h1, 2, rec(IsExclude, G)), acts(changed(G))},
			{time.Second, reportFrom(h2, 2, rec(IsExclude, G)), nil},
			{10 * time.Second, reportFrom(h1, 2, rec(ToInclude, G)), nil},
			{20 * time.Second, advance(), nil},
		},
		groups: []groupCheck{{group: G, mode: Exclude, compat: 2, expires: time.Second + gmi,
			hosts: []Host{hst(h2, Exclude, time.Second+gmi)}}},
	}, {
		name: "IGMPv2: the last host leaves: group deleted at once, one query, no retransmission",
		cfg:  fast,
		steps: []step{
			{0, reportFrom(h1, 2, rec(IsExclude, G)), acts(changed(G))},
			{time.Second, reportFrom(h2, 2, rec(IsExclude, G)), nil},
			{10 * time.Second, reportFrom(h1, 2, rec(ToInclude, G)), nil},
			{11 * time.Second, reportFrom(h2, 2, rec(ToInclude, G)), acts(q(G, false), changed(G))},
			{12 * time.Second, advance(), nil},
			{20 * time.Second, advance(), nil},
		},
		groups: []groupCheck{{group: G, absent: true}},
	}, {
		name: "IGMPv3: TO_IN{} with another host in EXCLUDE: nothing cut",
		cfg:  fast,
		steps: []step{
			{0, reportFrom(h1, 3, rec(ToExclude, G)), acts(changed(G))},
			{time.Second, reportFrom(h2, 3, rec(IsExclude, G)), nil},
			{10 * time.Second, reportFrom(h1, 3, rec(ToInclude, G)), nil},
		},
		groups: []groupCheck{{group: G, mode: Exclude, expires: time.Second + gmi,
			hosts: []Host{hst(h2, Exclude, time.Second+gmi)}}},
	}, {
		name: "IGMPv3: the last host's TO_IN{}: group deleted at once",
		cfg:  fast,
		steps: []step{
			{0, reportFrom(h1, 3, rec(ToExclude, G)), acts(changed(G))},
			{10 * time.Second, reportFrom(h1, 3, rec(ToInclude, G)), acts(q(G, false), changed(G))},
		},
		groups: []groupCheck{{group: G, absent: true}},
	}, {
		name: "MLDv1 done from the last host",
		cfg:  fast,
		self: "fe80::5",
		steps: []step{
			{0, reportFrom("fe80::1", 2, rec(IsExclude, "ff3e::1")), acts(changed("ff3e::1"))},
			{10 * time.Second, reportFrom("fe80::1", 2, rec(ToInclude, "ff3e::1")), acts(q("ff3e::1", false), changed("ff3e::1"))},
		},
		groups: []groupCheck{{group: "ff3e::1", absent: true}},
	}, {
		name: "IGMPv1 member present: leaves ignored as without fast leave (§7.3.2)",
		cfg:  fast,
		steps: []step{
			{0, reportFrom(h1, 1, rec(IsExclude, G)), acts(changed(G))},
			{time.Second, reportFrom(h2, 2, rec(IsExclude, G)), nil},
			{10 * time.Second, reportFrom(h2, 2, rec(ToInclude, G)), nil},
		},
		groups: []groupCheck{{group: G, mode: Exclude, compat: 1, expires: time.Second + gmi, hosts: noHosts, untracked: true}},
	}, {
		name: "untracked member (0.0.0.0): fall back to the last-member query",
		cfg:  fast,
		steps: []step{
			{0, reportFrom("0.0.0.0", 2, rec(IsExclude, G)), acts(changed(G))},
			{time.Second, reportFrom(h1, 2, rec(IsExclude, G)), nil},
			{10 * time.Second, reportFrom(h1, 2, rec(ToInclude, G)), acts(q(G, false))},
			{11 * time.Second, advance(), acts(q(G, false))},
			{12 * time.Second, advance(), acts(changed(G))},
		},
		groups: []groupCheck{{group: G, absent: true}},
	}, {
		name: "untracked member expired: fast leave again",
		cfg:  fast,
		steps: []step{
			{0, reportFrom("0.0.0.0", 2, rec(IsExclude, G)), acts(changed(G))},
			{100 * time.Second, reportFrom(h1, 2, rec(IsExclude, G)), nil},
			{gmi + time.Second, reportFrom(h1, 2, rec(ToInclude, G)), acts(q(G, false), changed(G))},
		},
		groups: []groupCheck{{group: G, absent: true}},
	}, {
		name: "source-level: INCLUDE{s1,s2} hosts; a source goes when its last host blocks it",
		cfg:  fast,
		steps: []step{
			{0, reportFrom(h1, 3, rec(IsInclude, G, s1, s2)), acts(changed(G))},
			{time.Second, reportFrom(h2, 3, rec(IsInclude, G, s1, s2)), nil},
			{10 * time.Second, reportFrom(h1, 3, rec(Block, G, s2)), nil},
			{11 * time.Second, reportFrom(h2, 3, rec(Block, G, s2)), acts(q(G, false, s2), changed(G))},
			{12 * time.Second, reportFrom(h1, 3, rec(ToInclude, G)), nil},
			// TO_IN that drops s1 for s3.
			{14 * time.Second, reportFrom(h2, 3, rec(ToInclude, G, s3)), acts(q(G, false, s1), changed(G))},
			{20 * time.Second, advance(), nil},
		},
		groups: []groupCheck{{group: G, mode: Include, include: []string{s3}, expires: 14*time.Second + gmi,
			hosts: []Host{hst(h2, Include, 14*time.Second+gmi, s3)}}},
		check: func(t *testing.T, r *Router) {
			if r.Wants(addr(G), addr(s1)) || r.Wants(addr(G), addr(s2)) || !r.Wants(addr(G), addr(s3)) {
				t.Error("Wants disagrees with the cut")
			}
		},
	}, {
		name: "source-level in EXCLUDE mode: blocked by every host, the source is excluded at once",
		cfg:  fast,
		steps: []step{
			{0, reportFrom(h1, 3, rec(IsExclude, G)), acts(changed(G))},
			{time.Second, reportFrom(h2, 3, rec(IsExclude, G)), nil},
			{10 * time.Second, reportFrom(h1, 3, rec(Block, G, s1)), nil},
			{11 * time.Second, reportFrom(h2, 3, rec(Block, G, s1, s2)), acts(q(G, false, s1), changed(G))},
		},
		groups: []groupCheck{{group: G, mode: Exclude, exclude: []string{s1}, expires: time.Second + gmi,
			hosts: []Host{hst(h1, Exclude, 10*time.Second+gmi, s1), hst(h2, Exclude, 11*time.Second+gmi, s1, s2)}}},
	}, {
		name: "last EXCLUDE host leaves while an INCLUDE host stays: INCLUDE at once (§6.5)",
		cfg:  fast,
		steps: []step{
			{0, reportFrom(h1, 3, rec(IsExclude, G, s2)), acts(changed(G))},
			{time.Second, reportFrom(h2, 3, rec(IsInclude, G, s1)), nil},
			{10 * time.Second, reportFrom(h1, 3, rec(ToInclude, G)), acts(q(G, false), changed(G))},
		},
		groups: []groupCheck{{group: G, mode: Include, include: []string{s1}, expires: time.Second + gmi,
			hosts: []Host{hst(h2, Include, time.Second+gmi, s1)}}},
	}, {
		name: "leave then quick re-join: the join re-creates the group at once (#9)",
		cfg:  fast,
		steps: []step{
			{0, reportFrom(h1, 2, rec(IsExclude, G)), acts(changed(G))},
			{10 * time.Second, reportFrom(h1, 2, rec(ToInclude, G)), acts(q(G, false), changed(G))},
			{sec(10.3), reportFrom(h1, 2, rec(IsExclude, G)), acts(changed(G))},
			{11 * time.Second, advance(), nil},
			{12 * time.Second, advance(), nil},
		},
		groups: []groupCheck{{group: G, mode: Exclude, compat: 2, expires: sec(10.3) + gmi,
			hosts: []Host{hst(h1, Exclude, sec(10.3)+gmi)}}},
	}, {
		name: "non-querier: cuts at once but leaves the query to the querier (§6.6.1)",
		cfg:  fast,
		steps: []step{
			{0, query("10.0.0.1", general), nil},
			{time.Second, reportFrom(h1, 2, rec(IsExclude, G)), acts(changed(G))},
			{10 * time.Second, reportFrom(h1, 2, rec(ToInclude, G)), acts(changed(G))},
		},
		groups: []groupCheck{{group: G, absent: true}},
	}, {
		name: "router version 2: the source cut by a TO_IN asks with Q(G)",
		cfg:  Config{FastLeave: true, Version: 2},
		steps: []step{
			{0, reportFrom(h1, 3, rec(IsInclude, G, s1, s2)), acts(changed(G))},
			{10 * time.Second, reportFrom(h1, 3, rec(ToInclude, G, s1)), acts(
				SendQuery{Version: 2, Group: addr(G), MaxResp: time.Second, QRV: 2, QQI: 125 * time.Second}.Action(), changed(G))},
		},
		groups: []groupCheck{{group: G, mode: Include, include: []string{s1}, compat: 2, expires: 10*time.Second + gmi}},
	}})
}

// TestLimits bounds the state a link can create (Config.MaxGroups,
// Config.MaxSources, maxHosts).
func TestLimits(t *testing.T) {
	const (
		G2 = "239.1.1.2"
		G3 = "239.1.1.3"
	)
	stats := func(want Stats) func(*testing.T, *Router) {
		return func(t *testing.T, r *Router) {
			if got := r.Stats(); got != want {
				t.Errorf("Stats = %+v, want %+v", got, want)
			}
		}
	}
	runCases(t, []routerCase{{
		name: "MaxGroups: a record creating a group past the limit is ignored and counted",
		cfg:  Config{MaxGroups: 2},
		steps: []step{
			{0, report(3, rec(IsExclude, G), rec(IsInclude, G2, s1)), acts(changed(G), changed(G2))},
			{time.Second, report(3, rec(IsExclude, G3)), nil},
			{time.Second, report(3, rec(Allow, G3, s1)), nil},
			// Records that would create nothing are not refusals.
			{time.Second, report(3, rec(Block, G3, s1), rec(ToInclude, G3)), nil},
			// Existing groups still take reports.
			{2 * time.Second, report(3, rec(Allow, G2, s2)), acts(changed(G2))},
		},
		groups: []groupCheck{{group: G3, absent: true}},
		check:  stats(Stats{GroupLimit: 2}),
	}, {
		name: "MaxGroups: room again once a group expires",
		cfg:  Config{MaxGroups: 1},
		steps: []step{
			{0, report(3, rec(IsExclude, G)), acts(changed(G))},
			{time.Second, report(3, rec(IsExclude, G2)), nil},
			{gmi + time.Second, report(3, rec(IsExclude, G2)), acts(changed(G), changed(G2))},
		},
		groups: []groupCheck{{group: G, absent: true}, {group: G2, mode: Exclude, expires: gmi + time.Second + gmi}},
		check:  stats(Stats{GroupLimit: 1}),
	}, {
		name: "MaxSources in INCLUDE mode: existing sources kept, new ones in record order",
		cfg:  Config{MaxSources: 2},
		steps: []step{
			{0, report(3, rec(Allow, G, s3, s1, s2)), acts(changed(G))},
			{time.Second, report(3, rec(Allow, G, s1, s4)), nil},
		},
		groups: []groupCheck{{group: G, mode: Include, include: []string{s1, s3}, expires: time.Second + gmi}},
		// s2 then s4 refused by the group; s3 then s4 trimmed from the
		// host's sorted INCLUDE list (which marks the group untracked).
		check: stats(Stats{SourceLimit: 4}),
	}, {
		name: "MaxSources in EXCLUDE mode: a refused excluded source stays forwarded",
		cfg:  Config{MaxSources: 2},
		steps: []step{
			{0, reportFrom("0.0.0.0", 3, rec(IsExclude, G, s1, s2, s3)), acts(changed(G))},
			{time.Second, reportFrom("0.0.0.0", 3, rec(Allow, G, s4)), nil},
		},
		groups: []groupCheck{{group: G, mode: Exclude, exclude: []string{s1, s2}, expires: gmi}},
		check: func(t *testing.T, r *Router) {
			stats(Stats{SourceLimit: 2})(t, r)
			if !r.Wants(addr(G), addr(s3)) || !r.Wants(addr(G), addr(s4)) || r.Wants(addr(G), addr(s1)) {
				t.Error("Wants: refused sources must stay forwarded")
			}
		},
	}, {
		name: "MaxSources trims a host's INCLUDE list and marks the group untracked",
		cfg:  Config{MaxSources: 2, FastLeave: true},
		steps: []step{
			{0, reportFrom(h1, 3, rec(IsInclude, G, s1, s2, s3)), acts(changed(G))},
			// Untracked, so the leave runs the RFC procedure.
			{time.Second, reportFrom(h1, 3, rec(Block, G, s1)), acts(q(G, false, s1))},
		},
		groups: []groupCheck{{group: G, mode: Include, include: []string{s1, s2}, expires: gmi,
			hosts: []Host{hst(h1, Include, time.Second+gmi, s2)}, untracked: true}},
		check: stats(Stats{SourceLimit: 2}),
	}, {
		name: "MaxSources trims a host's EXCLUDE list without marking the group",
		cfg:  Config{MaxSources: 1},
		steps: []step{
			{0, reportFrom(h1, 3, rec(IsExclude, G, s1, s2)), acts(changed(G))},
		},
		groups: []groupCheck{{group: G, mode: Exclude, exclude: []string{s1}, expires: gmi,
			hosts: []Host{hst(h1, Exclude, gmi, s1)}}},
		check: stats(Stats{SourceLimit: 2}),
	}})
}

// TestFloodIsBounded sends floods of distinct groups, hosts and sources:
// state stays at the limits and every refusal is counted.
func TestFloodIsBounded(t *testing.T) {
	tests := []struct {
		name   string
		cfg    Config
		report func(r *Router, i int)
		n      int
		check  func(r *Router) (got, want string)
	}{{
		name: "100000 distinct groups from one host",
		cfg:  Config{MaxGroups: 1024},
		report: func(r *Router, i int) {
			r.Report(t0, addr(h1), 3, []Record{{Type: IsExclude, Group: groupAddr(i)}})
		},
		n: 100000,
		check: func(r *Router) (string, string) {
			return fmt.Sprint(r.NumGroups(), r.Stats()), fmt.Sprint(1024, Stats{GroupLimit: 98976})
		},
	}, {
		name: "10000 distinct hosts on one group",
		report: func(r *Router, i int) {
			r.Report(t0, hostAddr(i+1), 2, []Record{rec(IsExclude, G)})
		},
		n: 10000,
		check: func(r *Router) (string, string) {
			st, _ := r.Group(addr(G))
			return fmt.Sprint(len(st.Hosts), st.Untracked, r.Stats()), fmt.Sprint(maxHosts, true, Stats{HostLimit: 10000 - maxHosts})
		},
	}, {
		name: "10000 distinct sources from one host",
		cfg:  Config{MaxSources: 100},
		report: func(r *Router, i int) {
			r.Report(t0, addr(h1), 3, []Record{{Type: Allow, Group: addr(G), Sources: []netip.Addr{hostAddr(i)}}})
		},
		n: 10000,
		check: func(r *Router) (string, string) {
			st, _ := r.Group(addr(G))
			// Each refused source is counted by the group and by the
			// host's INCLUDE list.
			return fmt.Sprint(len(st.Include), len(st.Hosts[0].Sources), r.Stats()),
				fmt.Sprint(100, 100, Stats{SourceLimit: 2 * (10000 - 100)})
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRouter(tc.cfg, addr("10.0.0.5"))
			for i := range tc.n {
				tc.report(r, i)
			}
			if got, want := tc.check(r); got != want {
				t.Errorf("got %s, want %s", got, want)
			}
		})
	}
}

func TestReconfigureLowerLimitsEvictNothing(t *testing.T) {
	r := NewRouter(Config{}, addr("10.0.0.5"))
	r.Report(t0, addr(h1), 3, []Record{rec(IsExclude, G), rec(IsExclude, "239.1.1.2")})
	r.Reconfigure(at(time.Second), Config{MaxGroups: 1})
	got := r.Report(at(2*time.Second), addr(h1), 3, []Record{rec(IsExclude, "239.1.1.3"), rec(IsExclude, G)})
	if got != nil || r.NumGroups() != 2 || r.Stats() != (Stats{GroupLimit: 1}) {
		t.Errorf("after lowering MaxGroups: %s, %d groups, %+v; want nothing, 2, GroupLimit 1", fmtActions(got), r.NumGroups(), r.Stats())
	}
}

// TestRefreshAllocatesNothing: a report that only refreshes a tracked host
// reuses its storage (the benchmarks show the same with -benchmem).
func TestRefreshAllocatesNothing(t *testing.T) {
	r := NewRouter(Config{FastLeave: true, MaxGroups: 10, MaxSources: 10}, addr("10.0.0.5"))
	inc := []Record{rec(IsInclude, G, s1, s2)}
	exc := []Record{rec(IsExclude, "239.1.1.2", s3)}
	for _, h := range []string{h1, h2, h3} {
		r.Report(t0, addr(h), 3, inc)
		r.Report(t0, addr(h), 3, exc)
	}
	now := t0
	allocs := testing.AllocsPerRun(100, func() {
		now = now.Add(time.Millisecond)
		r.Report(now, addr(h2), 3, inc)
		r.Report(now, addr(h2), 3, exc)
	})
	if allocs != 0 {
		t.Errorf("refresh allocates %v times, want 0", allocs)
	}
}

// TestHostListStorage: a group's host list starts with room for the one
// member most groups have and doubles from there, and the budget charges
// what the list holds room for; a group without sources keeps no source
// list at all until one is reported.
func TestHostListStorage(t *testing.T) {
	grp := netip.MustParseAddr(G)
	for _, tt := range []struct {
		hosts       int
		wantCap     int
		wantSources bool // a source list exists
		record      Record
	}{
		{hosts: 1, wantCap: 1, record: rec(IsExclude, G)},
		{hosts: 2, wantCap: 2, record: rec(IsExclude, G)},
		{hosts: 3, wantCap: 4, record: rec(IsExclude, G)},
		{hosts: 5, wantCap: 8, record: rec(IsExclude, G)},
		{hosts: 1, wantCap: 1, wantSources: true, record: rec(IsInclude, G, s1)},
		{hosts: 2, wantCap: 2, wantSources: true, record: rec(IsExclude, G, s1)},
	} {
		t.Run(fmt.Sprintf("%d hosts %v with %d sources", tt.hosts, tt.record.Type, len(tt.record.Sources)), func(t *testing.T) {
			r := NewRouter(Config{}, netip.MustParseAddr("10.0.0.5"))
			for i := range tt.hosts {
				r.Report(t0, hostAddr(i+1), 3, []Record{tt.record})
			}
			g := r.groups[KeyOf(grp)]
			if g == nil {
				t.Fatal("no group")
			}
			if len(g.hosts) != tt.hosts || cap(g.hosts) != tt.wantCap {
				t.Errorf("%d hosts in room for %d, want %d in room for %d", len(g.hosts), cap(g.hosts), tt.hosts, tt.wantCap)
			}
			if (g.sources != nil) != tt.wantSources {
				t.Errorf("source list made: %v, want %v", g.sources != nil, tt.wantSources)
			}
			want := int64(GroupBytes + tt.wantCap*HostBytes + len(g.sources)*SourceBytes + g.hostAddrs*HostSourceBytes)
			if got := r.StateBytes(); got != want {
				t.Errorf("charged %d bytes, want %d", got, want)
			}
		})
	}
}
