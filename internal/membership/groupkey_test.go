package membership

import (
	"net/netip"
	"testing"
	"time"
)

// TestGroupKey: a group's key gives the group back, keys are equal only
// for equal groups, and they order as the addresses do.
func TestGroupKey(t *testing.T) {
	groups := []string{"224.0.0.1", "239.1.2.3", "239.255.255.255", "ff02::1", "ff05::1:3", "ff3e::8000:1", "ff3e:30:2001:db8::1"}
	for i, s := range groups {
		g := netip.MustParseAddr(s)
		if got := KeyOf(g).Addr(); got != g {
			t.Errorf("KeyOf(%s).Addr() = %s", g, got)
		}
		for j, o := range groups {
			h := netip.MustParseAddr(o)
			if (KeyOf(g) == KeyOf(h)) != (i == j) {
				t.Errorf("keys of %s and %s equal: %v", g, h, KeyOf(g) == KeyOf(h))
			}
			if want := g.Compare(h) < 0; KeyOf(g).Less(KeyOf(h)) != want {
				t.Errorf("KeyOf(%s).Less(KeyOf(%s)) = %v, want %v", g, h, !want, want)
			}
		}
	}
}

// TestMappedGroupRefused: an IPv4-mapped IPv6 address, which netip calls
// multicast and whose key is the IPv4 group's, is no group of a router,
// from a report or a snapshot.
func TestMappedGroupRefused(t *testing.T) {
	mapped := netip.MustParseAddr("::ffff:239.1.1.1")
	now := time.Unix(1_800_000_000, 0)
	r := NewRouter(Config{}, netip.MustParseAddr("fe80::1"))
	r.Report(now, netip.MustParseAddr("fe80::2"), 3, []Record{{Type: ToExclude, Group: mapped}})
	r.Restore(now, 0, []Saved{{Group: mapped, Mode: Exclude, Compat: 3, Timer: time.Minute}})
	if n := r.NumGroups(); n != 0 {
		t.Errorf("%d groups after a report and a snapshot of %s, want none", n, mapped)
	}
	r.Report(now, netip.MustParseAddr("fe80::2"), 3, []Record{{Type: ToExclude, Group: netip.MustParseAddr("ff3e::1")}})
	if n := r.NumGroups(); n != 1 {
		t.Errorf("%d groups after a report of ff3e::1, want 1", n)
	}
}
