package mroute

import (
	"errors"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
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
