package mroute

import (
	"errors"
	"net/netip"
	"reflect"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/mcast-proxy/mcast-proxy/internal/memtest"
)

// failingTable is a kernel table whose VIF removal fails with err.
type failingTable struct{ err error }

func (f failingTable) addVIF(slot, ifindex, threshold int) error { return nil }
func (f failingTable) delVIF(slot, ifindex int) error            { return f.err }
func (f failingTable) addMFC(src, grp netip.Addr, parent int, ttls *[MaxVIFs]uint8) error {
	return nil
}
func (f failingTable) delMFC(src, grp netip.Addr) error { return nil }

// TestFailedVIFRemovalKeepsTheSlot: when the kernel refuses to remove a VIF
// it may still hold it, so the record must not hand the slot to another
// interface. When the kernel already dropped it (EADDRNOTAVAIL), the slot
// is free.
func TestFailedVIFRemovalKeepsTheSlot(t *testing.T) {
	for _, tc := range []struct {
		name     string
		err      error
		wantKept bool
	}{
		{"refused", unix.EBUSY, true},
		{"already gone", unix.EADDRNOTAVAIL, false},
		{"done", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecord(failingTable{tc.err}, "vif")
			if _, err := rec.addVIF(7, 1); err != nil {
				t.Fatal(err)
			}
			err := rec.delVIF(7)
			if tc.wantKept != (err != nil) || (err != nil && !errors.Is(err, tc.err)) {
				t.Fatalf("delVIF error %v, want one wrapping %v only when refused", err, tc.err)
			}
			slot, err := rec.addVIF(8, 1)
			if err != nil {
				t.Fatal(err)
			}
			if _, kept := rec.lookup(7); kept != tc.wantKept || (tc.wantKept && slot == 0) || (!tc.wantKept && slot != 0) {
				t.Errorf("after delVIF: ifindex 7 kept %v, ifindex 8 got slot %d; want kept %v", kept, slot, tc.wantKept)
			}
		})
	}
}

// countingTable is a kernel table that counts the forwarding entries added.
type countingTable struct{ adds *int }

func (c countingTable) addVIF(slot, ifindex, threshold int) error { return nil }
func (c countingTable) delVIF(slot, ifindex int) error            { return nil }
func (c countingTable) addMFC(src, grp netip.Addr, parent int, ttls *[MaxVIFs]uint8) error {
	*c.adds++
	return nil
}
func (c countingTable) delMFC(src, grp netip.Addr) error { return nil }

// TestNoCacheUpcallReinstalls: setting the same route twice is one kernel
// call, but once a "no cache" upcall shows the kernel without the entry, the
// same SetRoute installs it again; other flows stay recorded.
func TestNoCacheUpcallReinstalls(t *testing.T) {
	adds := 0
	rec := newRecord(countingTable{&adds}, "vif")
	for _, ifindex := range []int{2, 3} {
		if _, err := rec.addVIF(ifindex, 1); err != nil {
			t.Fatal(err)
		}
	}
	src, other := netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.3")
	grp := netip.MustParseAddr("239.1.1.1")
	set := func(s netip.Addr) {
		t.Helper()
		if err := rec.setRoute(Route{Source: s, Group: grp, Input: 2, Outputs: []int{3}}); err != nil {
			t.Fatal(err)
		}
	}
	set(src)
	set(other)
	set(src)
	if adds != 2 {
		t.Fatalf("%d entries added for two routes, one set twice; want 2", adds)
	}
	rec.kernelHasNoRoute(src, grp)
	set(src)
	set(other)
	if adds != 3 {
		t.Errorf("%d entries added after the upcall; want 3 (only the flow the kernel lacks again)", adds)
	}
}

// TestSetRouteWithOutputsAllocatesNothing: a join or leave changes an
// entry's outputs; recording the change takes no memory of its own (the
// outputs are slot bits, not a copy of the caller's list).
func TestSetRouteWithOutputsAllocatesNothing(t *testing.T) {
	adds := 0
	rec := newRecord(countingTable{&adds}, "vif")
	for _, ifindex := range []int{2, 3, 4} {
		if _, err := rec.addVIF(ifindex, 1); err != nil {
			t.Fatal(err)
		}
	}
	src, grp := netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("239.1.1.1")
	outputs := [][]int{{3}, {4, 3}, {4}}
	calls := 0
	set := func() {
		calls++
		if err := rec.setRoute(Route{Source: src, Group: grp, Input: 2, Outputs: outputs[calls%len(outputs)]}); err != nil {
			t.Fatal(err)
		}
	}
	set()
	if allocs := testing.AllocsPerRun(30, set); allocs != 0 {
		t.Errorf("changing an entry's outputs allocates %.1f times, want 0", allocs)
	}
	if adds != calls {
		t.Errorf("%d entries added for %d changes", adds, calls)
	}
}

// mfcLog is a kernel table that records the forwarding entries added and
// deleted, the outputs as ifindexes through the record's slots.
type mfcLog struct {
	rec  *record
	adds []Route
	dels []Route
}

func (l *mfcLog) addVIF(slot, ifindex, threshold int) error { return nil }
func (l *mfcLog) delVIF(slot, ifindex int) error            { return nil }
func (l *mfcLog) addMFC(src, grp netip.Addr, parent int, ttls *[MaxVIFs]uint8) error {
	r := Route{Source: src, Group: grp, Input: l.rec.slots[parent].ifindex}
	for slot, ttl := range ttls {
		if ttl > 0 {
			r.Outputs = append(r.Outputs, l.rec.slots[slot].ifindex)
		}
	}
	l.adds = append(l.adds, r)
	return nil
}
func (l *mfcLog) delMFC(src, grp netip.Addr) error {
	l.dels = append(l.dels, Route{Source: src, Group: grp})
	return nil
}

// TestRecordRoutes: the record keeps what it installed, normalised, skips
// a SetRoute that changes nothing, lists its routes sorted, and when an
// interface goes it deletes the routes coming in on it and reinstalls
// those going out on it without it.
func TestRecordRoutes(t *testing.T) {
	a := netip.MustParseAddr
	s1, s2 := a("10.0.0.2"), a("10.0.0.3")
	g1, g2 := a("239.1.1.1"), a("239.1.1.2")
	for _, tt := range []struct {
		name     string
		set      []Route
		delVIF   int // 0: none
		wantAdds []Route
		wantDels []Route
		wantList []Route
	}{{
		name: "outputs are normalised, the same route again is no kernel call",
		set: []Route{
			{Source: s1, Group: g1, Input: 2, Outputs: []int{4, 3, 4, 2}},
			{Source: s1, Group: g1, Input: 2, Outputs: []int{3, 4}},
		},
		wantAdds: []Route{{Source: s1, Group: g1, Input: 2, Outputs: []int{3, 4}}},
		wantList: []Route{{Source: s1, Group: g1, Input: 2, Outputs: []int{3, 4}}},
	}, {
		name: "a changed route is installed again; the list is sorted by group, then source",
		set: []Route{
			{Source: s2, Group: g2, Input: 2},
			{Source: s2, Group: g1, Input: 2, Outputs: []int{3}},
			{Source: s1, Group: g1, Input: 2},
			{Source: s2, Group: g2, Input: 2, Outputs: []int{4}},
		},
		wantAdds: []Route{
			{Source: s2, Group: g2, Input: 2},
			{Source: s2, Group: g1, Input: 2, Outputs: []int{3}},
			{Source: s1, Group: g1, Input: 2},
			{Source: s2, Group: g2, Input: 2, Outputs: []int{4}},
		},
		wantList: []Route{
			{Source: s1, Group: g1, Input: 2},
			{Source: s2, Group: g1, Input: 2, Outputs: []int{3}},
			{Source: s2, Group: g2, Input: 2, Outputs: []int{4}},
		},
	}, {
		name: "a removed interface takes the routes coming in on it and leaves the others' outputs",
		set: []Route{
			{Source: s1, Group: g1, Input: 3, Outputs: []int{4}},
			{Source: s1, Group: g2, Input: 2, Outputs: []int{3, 4}},
			{Source: s2, Group: g2, Input: 2, Outputs: []int{4}},
		},
		delVIF: 3,
		wantAdds: []Route{
			{Source: s1, Group: g1, Input: 3, Outputs: []int{4}},
			{Source: s1, Group: g2, Input: 2, Outputs: []int{3, 4}},
			{Source: s2, Group: g2, Input: 2, Outputs: []int{4}},
			{Source: s1, Group: g2, Input: 2, Outputs: []int{4}},
		},
		wantDels: []Route{{Source: s1, Group: g1}},
		wantList: []Route{
			{Source: s1, Group: g2, Input: 2, Outputs: []int{4}},
			{Source: s2, Group: g2, Input: 2, Outputs: []int{4}},
		},
	}} {
		t.Run(tt.name, func(t *testing.T) {
			l := &mfcLog{}
			rec := newRecord(l, "vif")
			l.rec = &rec
			for _, ifindex := range []int{2, 3, 4} {
				if _, err := rec.addVIF(ifindex, 1); err != nil {
					t.Fatal(err)
				}
			}
			for _, r := range tt.set {
				if err := rec.setRoute(r); err != nil {
					t.Fatal(err)
				}
			}
			if tt.delVIF != 0 {
				if err := rec.delVIF(tt.delVIF); err != nil {
					t.Fatal(err)
				}
			}
			if !reflect.DeepEqual(l.adds, tt.wantAdds) {
				t.Errorf("entries added:\n%v\nwant\n%v", l.adds, tt.wantAdds)
			}
			if !reflect.DeepEqual(l.dels, tt.wantDels) {
				t.Errorf("entries deleted: %v, want %v", l.dels, tt.wantDels)
			}
			if got := rec.list(); !reflect.DeepEqual(got, tt.wantList) {
				t.Errorf("list:\n%v\nwant\n%v", got, tt.wantList)
			}
			// The same routes by key, their outputs in one room; a
			// room with space enough makes a lookup allocate nothing.
			keys := rec.keys()
			if len(keys) != len(tt.wantList) {
				t.Fatalf("keys %v, want those of %v", keys, tt.wantList)
			}
			room := make([]int, 0, MaxVIFs)
			for i, k := range keys {
				got, ok := rec.lookupRoute(k, room[:0])
				if !ok || !reflect.DeepEqual(got, tt.wantList[i]) {
					t.Errorf("lookupRoute(%v) = %v, %v; want %v", k, got, ok, tt.wantList[i])
				}
				if n := testing.AllocsPerRun(5, func() { rec.lookupRoute(k, room[:0]) }); n != 0 {
					t.Errorf("lookupRoute(%v) allocated %.0f times", k, n)
				}
			}
			if _, ok := rec.lookupRoute(Key{Source: netip.MustParseAddr("192.0.2.250"), Group: netip.MustParseAddr("239.9.9.9")}, nil); ok {
				t.Error("lookupRoute found a route never installed")
			}
		})
	}
}

// BenchmarkRecordHeap is the live heap the record holds for 1000 routes,
// one source each, as for TestThousandGroups in internal/e2e: each
// installed with no outputs when its traffic arrives, then with one when a
// host joins. It reports bytes per route (run with -benchtime=1x).
func BenchmarkRecordHeap(b *testing.B) {
	const routes = 1000
	src := netip.MustParseAddr("10.0.0.2")
	var perRoute float64
	for range b.N {
		before := memtest.LiveHeap()
		adds := 0
		rec := newRecord(countingTable{&adds}, "vif")
		for _, ifindex := range []int{2, 3} {
			if _, err := rec.addVIF(ifindex, 1); err != nil {
				b.Fatal(err)
			}
		}
		for _, outs := range [][]int{nil, {3}} {
			for i := range routes {
				grp := netip.AddrFrom4([4]byte{239, 20, byte(i >> 8), byte(i)})
				if err := rec.setRoute(Route{Source: src, Group: grp, Input: 2, Outputs: outs}); err != nil {
					b.Fatal(err)
				}
			}
		}
		perRoute = float64(memtest.LiveHeap()-before) / routes
		runtime.KeepAlive(&rec)
	}
	b.ReportMetric(perRoute, "heapB/route")
	b.ReportMetric(0, "ns/op")
}
