package membership

import (
	"net/netip"
	"testing"
	"time"
)

// floodSources returns n distinct unicast sources, 10.128.x.y.
func floodSources(n int) []netip.Addr {
	out := make([]netip.Addr, n)
	for i := range out {
		out[i] = netip.AddrFrom4([4]byte{10, 128, byte(i >> 8), byte(i)})
	}
	return out
}

// TestHostSourceListKeepsNoSpareStorage: a record with more sources than
// MaxSources must not leave the host's list holding storage for all of
// them (the cut used to keep the slice's capacity: a 4096-source record
// pinned 4096 addresses per host and group).
func TestHostSourceListKeepsNoSpareStorage(t *testing.T) {
	for _, typ := range []RecordType{IsInclude, IsExclude, Allow} {
		t.Run(typ.String(), func(t *testing.T) {
			r := NewRouter(Config{MaxSources: 128}, addr("10.0.0.5"))
			r.Report(t0, addr(h1), 3, []Record{{Type: typ, Group: addr(G), Sources: floodSources(4096)}})
			g := r.groups[KeyOf(addr(G))]
			if g == nil || len(g.hosts) != 1 {
				t.Fatalf("want one tracked host, have group %v", g)
			}
			if h := g.hosts[0]; len(h.srcs) != 128 || cap(h.srcs) > 128 {
				t.Errorf("host list len %d cap %d, want 128 and no spare capacity", len(h.srcs), cap(h.srcs))
			}
		})
	}
}

// TestByteBudget: whatever a link sends, the state it holds stays within
// its byte budget and the shared total; refusals are counted; and the
// ledger returns to zero when the state expires, so the budget never leaks.
func TestByteBudget(t *testing.T) {
	const linkBytes = 256 << 10
	tests := []struct {
		name   string
		cfg    Config
		total  int64
		report func(r *Router, now time.Time, i int)
		n      int
	}{{
		name: "64 spoofed hosts, 128 sources each, 1024 groups (default limits)",
		cfg:  Config{MaxGroups: 1024, MaxSources: 128, MaxBytes: linkBytes},
		report: func(r *Router, now time.Time, i int) {
			srcs := floodSources(128)
			r.Report(now, hostAddr(1+i%64), 3, []Record{{Type: IsInclude, Group: groupAddr(i / 64), Sources: srcs}})
		},
		n: 64 * 1024,
	}, {
		name: "4096-source EXCLUDE records",
		cfg:  Config{MaxGroups: 1024, MaxSources: 1024, MaxBytes: linkBytes},
		report: func(r *Router, now time.Time, i int) {
			r.Report(now, hostAddr(1+i%64), 3, []Record{{Type: IsExclude, Group: groupAddr(i), Sources: floodSources(4096)}})
		},
		n: 2048,
	}, {
		name:  "the shared total is smaller than the link budget",
		cfg:   Config{MaxGroups: 65536, MaxBytes: linkBytes},
		total: 64 << 10,
		report: func(r *Router, now time.Time, i int) {
			r.Report(now, hostAddr(1+i%64), 2, []Record{{Type: IsExclude, Group: groupAddr(i)}})
		},
		n: 100000,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			total := NewBudget(tc.total)
			r := NewRouter(tc.cfg, addr("10.0.0.5"))
			r.ShareBudget(total)
			limit := int64(tc.cfg.MaxBytes)
			if tc.total > 0 {
				limit = min(limit, tc.total)
			}
			for i := range tc.n {
				tc.report(r, t0, i)
				if used := r.StateBytes(); used > limit {
					t.Fatalf("report %d: link holds %d bytes, budget %d", i, used, limit)
				}
			}
			if r.Stats().MemoryLimit == 0 {
				t.Errorf("no refusal counted: %+v", r.Stats())
			}
			if r.StateBytes() != total.Used() {
				t.Errorf("link charged %d bytes, total budget %d", r.StateBytes(), total.Used())
			}
			if got := r.StateBytes(); got != r.countedBytes() {
				t.Errorf("ledger %d bytes, state holds %d", got, r.countedBytes())
			}
			r.Advance(at(gmi + time.Second))
			if r.NumGroups() != 0 || r.StateBytes() != 0 || total.Used() != 0 {
				t.Errorf("after expiry: %d groups, link %d bytes, total %d bytes; want all zero", r.NumGroups(), r.StateBytes(), total.Used())
			}
		})
	}
}

// TestByteBudgetLedger replays edits that grow and shrink state (hosts
// leaving, sources blocked, mode changes, fast leave) and checks after each
// that the ledger matches the state it accounts for.
func TestByteBudgetLedger(t *testing.T) {
	total := NewBudget(0)
	r := NewRouter(Config{FastLeave: true, MaxBytes: 1 << 20}, addr("10.0.0.5"))
	r.ShareBudget(total)
	many := floodSources(40)
	steps := []struct {
		from string
		rec  Record
	}{
		{h1, Record{Type: IsInclude, Group: addr(G), Sources: many}},
		{h2, Record{Type: IsExclude, Group: addr(G), Sources: many[:10]}},
		{h1, Record{Type: Block, Group: addr(G), Sources: many[5:30]}},
		{h2, Record{Type: Allow, Group: addr(G), Sources: many[:3]}},
		{h3, Record{Type: ToExclude, Group: addr("239.1.1.2"), Sources: many}},
		{h3, Record{Type: ToInclude, Group: addr("239.1.1.2")}},
		{h2, Record{Type: ToInclude, Group: addr(G)}},
		{h1, Record{Type: ToInclude, Group: addr(G)}},
	}
	for i, s := range steps {
		r.Report(at(time.Duration(i)*time.Second), addr(s.from), 3, []Record{s.rec})
		if r.StateBytes() != r.countedBytes() || total.Used() != r.StateBytes() {
			t.Fatalf("step %d: ledger %d, total %d, state holds %d", i, r.StateBytes(), total.Used(), r.countedBytes())
		}
	}
	r.Advance(at(gmi + time.Minute))
	if r.StateBytes() != 0 || total.Used() != 0 {
		t.Errorf("after expiry: link %d bytes, total %d; want 0", r.StateBytes(), total.Used())
	}
}

// countedBytes is what the router's groups hold by the charging rules,
// recounted from the state itself.
func (r *Router) countedBytes() int64 {
	var n int64
	for _, g := range r.groups {
		n += GroupBytes + int64(len(g.sources))*SourceBytes + int64(cap(g.hosts))*HostBytes
		for _, h := range g.hosts {
			n += int64(cap(h.srcs)) * HostSourceBytes
		}
	}
	return n
}

// TestBudgetWithin: two instances' budgets inside one total. Each link is
// refused by its own instance's budget or by the total, whichever is
// reached first, and what a link gives back returns to both.
func TestBudgetWithin(t *testing.T) {
	join := func(r *Router, g string) {
		r.Report(at(0), addr(h1), 2, []Record{{Type: IsExclude, Group: addr(g)}})
	}
	probe := NewRouter(Config{MaxBytes: 1 << 20}, addr("10.0.0.5"))
	join(probe, "239.0.0.1")
	group := probe.StateBytes() // one group with its one host
	total := NewBudget(3*group + group/2)
	a := NewBudgetWithin(2*group+group/2, total)
	b := NewBudgetWithin(0, total)
	ra := NewRouter(Config{MaxBytes: 1 << 20}, addr("10.0.0.5"))
	rb := NewRouter(Config{MaxBytes: 1 << 20}, addr("10.0.1.5"))
	ra.ShareBudget(a)
	rb.ShareBudget(b)
	for _, g := range []string{"239.1.1.1", "239.1.1.2", "239.1.1.3"} {
		join(ra, g)
	}
	if got := len(ra.Groups()); got != 2 || ra.Stats().MemoryLimit == 0 {
		t.Fatalf("instance a holds %d groups (refusals %d); want 2, its own budget reached", got, ra.Stats().MemoryLimit)
	}
	for _, g := range []string{"239.2.1.1", "239.2.1.2"} {
		join(rb, g)
	}
	if got := len(rb.Groups()); got != 1 || rb.Stats().MemoryLimit == 0 {
		t.Fatalf("instance b holds %d groups (refusals %d); want 1, the total reached", got, rb.Stats().MemoryLimit)
	}
	if total.Used() != a.Used()+b.Used() || total.Used() != 3*group {
		t.Errorf("total %d, instances %d + %d", total.Used(), a.Used(), b.Used())
	}
	ra.ShareBudget(nil)
	if a.Used() != 0 || total.Used() != b.Used() {
		t.Errorf("after instance a let go: a %d, total %d, b %d", a.Used(), total.Used(), b.Used())
	}
}
