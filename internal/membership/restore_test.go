package membership

import (
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"
)

func saved(g string, mode FilterMode, compat int, timer time.Duration, srcs ...SavedSource) Saved {
	return Saved{Group: addr(g), Mode: mode, Compat: compat, Timer: timer, Sources: srcs}
}

func src(a string, d time.Duration) SavedSource { return SavedSource{Addr: addr(a), Timer: d} }

// TestSave: the saved form of a router's groups, with the time their
// timers have left.
func TestSave(t *testing.T) {
	r := NewRouter(Config{}, addr("10.0.0.1"))
	r.Start(t0)
	r.Report(t0, addr("10.0.0.100"), 3, []Record{rec(IsInclude, G, s2, s1)})
	r.Report(at(10*time.Second), addr("10.0.0.100"), 2, []Record{rec(IsExclude, "239.2.2.2")})
	r.Report(at(20*time.Second), addr("10.0.0.100"), 3, []Record{rec(IsExclude, "239.3.3.3", s3), rec(Allow, "239.3.3.3", s4)})
	got := r.Save(at(60 * time.Second))
	slices.SortFunc(got, func(a, b Saved) int { return a.Group.Compare(b.Group) })
	for _, s := range got {
		slices.SortFunc(s.Sources, func(a, b SavedSource) int { return a.Addr.Compare(b.Addr) })
	}
	want := []Saved{
		saved(G, Include, 3, 0, src(s1, gmi-60*time.Second), src(s2, gmi-60*time.Second)),
		saved("239.2.2.2", Exclude, 2, gmi-50*time.Second),
		saved("239.3.3.3", Exclude, 3, gmi-40*time.Second, src(s3, 0), src(s4, gmi-40*time.Second)),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Save:\n got %+v\nwant %+v", got, want)
	}
}

// TestRestore covers what a restart brings back and what it does not.
func TestRestore(t *testing.T) {
	type check struct {
		group   string
		mode    FilterMode
		include []string
		exclude []string
		expires time.Duration // after t0
		compat  int
	}
	tests := []struct {
		name    string
		cfg     Config
		have    []Record // reports before the restore, at t0
		age     time.Duration
		recs    []Saved
		changed []string
		want    []check
		stats   Stats
	}{{
		name:    "exclude group: timers less the age",
		age:     30 * time.Second,
		recs:    []Saved{saved(G, Exclude, 3, 200*time.Second, src(s1, 0), src(s2, 100*time.Second))},
		changed: []string{G},
		want:    []check{{group: G, mode: Exclude, include: []string{s2}, exclude: []string{s1}, expires: 170 * time.Second, compat: 3}},
	}, {
		name:    "timers never beyond one membership interval",
		recs:    []Saved{saved(G, Exclude, 2, time.Hour)},
		changed: []string{G},
		want:    []check{{group: G, mode: Exclude, expires: gmi, compat: 2}},
	}, {
		name:    "requested source that ran out moves to the exclude list",
		age:     50 * time.Second,
		recs:    []Saved{saved(G, Exclude, 3, 200*time.Second, src(s1, 40*time.Second))},
		changed: []string{G},
		want:    []check{{group: G, mode: Exclude, exclude: []string{s1}, expires: 150 * time.Second, compat: 3}},
	}, {
		name:    "group timer ran out: INCLUDE with the running sources",
		age:     100 * time.Second,
		recs:    []Saved{saved(G, Exclude, 3, 90*time.Second, src(s1, 0), src(s2, 150*time.Second))},
		changed: []string{G},
		want:    []check{{group: G, mode: Include, include: []string{s2}, expires: 50 * time.Second, compat: 3}},
	}, {
		name: "include group: expired sources dropped, all gone drops the group",
		age:  100 * time.Second,
		recs: []Saved{
			saved(G, Include, 3, 0, src(s1, 50*time.Second), src(s2, 150*time.Second)),
			saved("239.2.2.2", Include, 3, 0, src(s1, 50*time.Second)),
			saved("239.3.3.3", Exclude, 2, 99*time.Second),
		},
		changed: []string{G},
		want:    []check{{group: G, mode: Include, include: []string{s2}, expires: 50 * time.Second, compat: 3}},
	}, {
		name: "invalid groups and sources skipped",
		recs: []Saved{
			saved("10.0.0.1", Exclude, 3, 100*time.Second),
			saved(G, Include, 3, 0, src("224.0.0.5", 100*time.Second), src("0.0.0.0", time.Second), src(s1, 100*time.Second)),
		},
		changed: []string{G},
		want:    []check{{group: G, mode: Include, include: []string{s1}, expires: 100 * time.Second, compat: 3}},
		stats:   Stats{},
	}, {
		name:    "a group the link already has is left as it is",
		have:    []Record{rec(IsInclude, G, s3)},
		recs:    []Saved{saved(G, Exclude, 3, 100*time.Second)},
		changed: nil,
		want:    []check{{group: G, mode: Include, include: []string{s3}, expires: gmi, compat: 3}},
	}, {
		name: "max-groups holds",
		cfg:  Config{MaxGroups: 1},
		recs: []Saved{
			saved(G, Exclude, 3, 100*time.Second),
			saved("239.2.2.2", Exclude, 3, 100*time.Second),
		},
		changed: []string{G},
		want:    []check{{group: G, mode: Exclude, expires: 100 * time.Second, compat: 3}},
		stats:   Stats{GroupLimit: 1},
	}, {
		name:    "max-sources holds",
		cfg:     Config{MaxSources: 1},
		recs:    []Saved{saved(G, Include, 3, 0, src(s1, 100*time.Second), src(s2, 100*time.Second))},
		changed: []string{G},
		want:    []check{{group: G, mode: Include, include: []string{s1}, expires: 100 * time.Second, compat: 3}},
		stats:   Stats{SourceLimit: 1},
	}, {
		name: "the byte budget holds",
		cfg:  Config{MaxBytes: GroupBytes + SourceBytes},
		recs: []Saved{
			saved(G, Include, 3, 0, src(s1, 100*time.Second), src(s2, 100*time.Second)),
			saved("239.2.2.2", Exclude, 3, 100*time.Second),
		},
		changed: []string{G},
		want:    []check{{group: G, mode: Include, include: []string{s1}, expires: 100 * time.Second, compat: 3}},
		stats:   Stats{MemoryLimit: 2},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRouter(tt.cfg, addr("10.0.0.1"))
			r.Start(t0)
			if tt.have != nil {
				r.Report(t0, addr("10.0.0.100"), 3, tt.have)
			}
			var changed []string
			for _, a := range r.Restore(t0, tt.age, tt.recs) {
				if a.Kind == KindGroupChanged {
					changed = append(changed, a.GroupChanged.Group.String())
				}
			}
			if !reflect.DeepEqual(changed, tt.changed) {
				t.Errorf("changed groups %v, want %v", changed, tt.changed)
			}
			groups := r.Groups()
			if len(groups) != len(tt.want) {
				t.Fatalf("groups %+v, want %d", groups, len(tt.want))
			}
			for i, w := range tt.want {
				g := groups[i]
				if g.Group.String() != w.group || g.Mode != w.mode || !reflect.DeepEqual(g.Include, addrs(w.include...)) ||
					!reflect.DeepEqual(g.Exclude, addrs(w.exclude...)) || !g.Expires.Equal(at(w.expires)) || g.Compat != w.compat {
					t.Errorf("group %+v\nwant %+v (expires t0+%v)", g, w, w.expires)
				}
			}
			if st := r.Stats(); st != tt.stats {
				t.Errorf("stats %+v, want %+v", st, tt.stats)
			}
		})
	}
}

// TestRestoreUntrackedUntilAnswered: fast leave does not cut a restored
// group before its hosts have answered the startup queries, and does
// afterwards once they are tracked again.
func TestRestoreUntrackedUntilAnswered(t *testing.T) {
	r := NewRouter(Config{FastLeave: true}, addr("10.0.0.1"))
	r.Start(t0)
	r.Restore(t0, 0, []Saved{saved(G, Exclude, 3, 200*time.Second)})
	// Host A answers the first startup query; host B, also a member, is
	// slower. A leaving must not cut B.
	r.Report(at(time.Second), addr("10.0.0.100"), 3, []Record{rec(IsExclude, G)})
	r.Report(at(2*time.Second), addr("10.0.0.100"), 3, []Record{rec(ToInclude, G)})
	if g := r.Groups(); len(g) != 1 || g[0].Mode != Exclude || !g[0].Untracked {
		t.Fatalf("after a leave right after the restore: %+v, want the group kept, untracked", g)
	}
	// The startup queries have been answered (31.25 s + 10 s): B is
	// tracked, and its leave is the last.
	now := at(45 * time.Second)
	r.Report(now, addr("10.0.0.101"), 3, []Record{rec(IsExclude, G)})
	r.Report(now, addr("10.0.0.101"), 3, []Record{rec(ToInclude, G)})
	if g := r.Groups(); len(g) != 0 {
		t.Errorf("after the last tracked host left: %+v, want no group (fast leave)", g)
	}
}

// TestSaveRestoreRoundTrip: what one router saves, another restores with
// the same state.
func TestSaveRestoreRoundTrip(t *testing.T) {
	a := NewRouter(Config{}, addr("10.0.0.1"))
	a.Start(t0)
	a.Report(t0, addr("10.0.0.100"), 3, []Record{rec(IsExclude, G, s1), rec(Allow, G, s2), rec(IsInclude, "239.2.2.2", s3)})
	a.Report(at(10*time.Second), addr("10.0.0.100"), 2, []Record{rec(IsExclude, "239.3.3.3")})
	now := at(20 * time.Second)
	b := NewRouter(Config{}, addr("10.0.0.1"))
	b.Start(now)
	b.Restore(now, 0, a.Save(now))
	// Hosts are not saved; the untracked mark stands in for them.
	ga, gb := a.Groups(), b.Groups()
	for i := range ga {
		ga[i].Hosts, ga[i].Untracked = nil, true
	}
	for i := range gb {
		gb[i].Hosts = nil
	}
	if !reflect.DeepEqual(ga, gb) {
		t.Errorf("restored\n%+v\nwant\n%+v", gb, ga)
	}
	for _, g := range []netip.Addr{addr(G), addr("239.2.2.2")} {
		if !reflect.DeepEqual(a.SourceTimers(g), b.SourceTimers(g)) {
			t.Errorf("%s source timers %v, want %v", g, b.SourceTimers(g), a.SourceTimers(g))
		}
	}
}
