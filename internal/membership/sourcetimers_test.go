package membership

import (
	"net/netip"
	"testing"
	"time"
)

func TestSourceTimers(t *testing.T) {
	t0 := time.Unix(1000, 0)
	g := netip.MustParseAddr("232.1.1.1")
	s1, s2 := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	r := NewRouter(Config{QueryInterval: 10 * time.Second, QueryResponseInterval: 2 * time.Second}, netip.MustParseAddr("192.168.1.1"))
	r.Start(t0)
	if r.SourceTimers(g) != nil {
		t.Fatal("timers for an unknown group")
	}
	r.Report(t0, netip.MustParseAddr("192.168.1.5"), 3, []Record{{Type: IsInclude, Group: g, Sources: []netip.Addr{s1}}})
	r.Report(t0.Add(5*time.Second), netip.MustParseAddr("192.168.1.5"), 3, []Record{{Type: Allow, Group: g, Sources: []netip.Addr{s2}}})
	// GMI = 2 × 10 s + 2 s = 22 s after each report (RFC 3376 §6.4.1, §6.4.2).
	got := r.SourceTimers(g)
	want := map[netip.Addr]time.Time{s1: t0.Add(22 * time.Second), s2: t0.Add(27 * time.Second)}
	if len(got) != len(want) || !got[s1].Equal(want[s1]) || !got[s2].Equal(want[s2]) {
		t.Fatalf("SourceTimers = %v, want %v", got, want)
	}
}

func TestForget(t *testing.T) {
	t0 := time.Unix(1000, 0)
	g := netip.MustParseAddr("239.1.1.1")
	r := NewRouter(Config{}, netip.MustParseAddr("192.168.1.1"))
	r.Start(t0)
	r.Report(t0, netip.MustParseAddr("192.168.1.5"), 2, []Record{{Type: IsExclude, Group: g}})
	acts := r.Forget(t0.Add(time.Second), g)
	if len(acts) != 1 || acts[0].Kind != KindGroupChanged || acts[0].GroupChanged.Group != g {
		t.Fatalf("Forget actions = %v, want one GroupChanged", acts)
	}
	if _, ok := r.Group(g); ok || r.NumGroups() != 0 {
		t.Fatal("group still present after Forget")
	}
	if dl := r.NextDeadline(); dl.IsZero() {
		t.Fatal("the general query schedule was lost")
	}
	if acts := r.Forget(t0.Add(2*time.Second), g); len(acts) != 0 {
		t.Fatalf("forgetting an unknown group: %v", acts)
	}
}
