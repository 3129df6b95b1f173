package daemon

import (
	"net/netip"
	"testing"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/linkwatch"
	"github.com/mcast-proxy/mcast-proxy/internal/membership"
)

// TestStatusBoundsHostSources: status is built inside the event loop, so
// a host's long source list is cut to statusHostSources addresses, with
// the count of the others.
func TestStatusBoundsHostSources(t *testing.T) {
	var srcs []netip.Addr
	for i := range 128 {
		srcs = append(srcs, netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}))
	}
	now := time.Unix(1000, 0)
	g := membership.GroupState{Group: netip.MustParseAddr("232.1.1.1"), Mode: membership.Include, Include: srcs,
		Hosts: []membership.Host{{Addr: netip.MustParseAddr("192.168.1.11"), Mode: membership.Include, Sources: srcs, Expires: now.Add(time.Minute)}}}
	cg := groupStatus(g, nil, now)
	h := cg.Hosts[0]
	if len(h.Sources) != statusHostSources || h.SourcesOmitted != 128-statusHostSources || h.Sources[0] != "10.0.0.0" {
		t.Errorf("host sources: %d shown (first %q), %d omitted; want %d, 10.0.0.0, %d", len(h.Sources), h.Sources[0], h.SourcesOmitted, statusHostSources, 128-statusHostSources)
	}
	if len(cg.Sources) != 128 {
		t.Errorf("the group's own list shows %d sources, want all 128", len(cg.Sources))
	}
}

// TestStatusSocketOverflow: what the kernel dropped on a routing socket
// shows among the family's dropped counters, and nothing while it is zero.
func TestStatusSocketOverflow(t *testing.T) {
	r := newRig(t, wanConf, []linkwatch.Link{wanUp, lanUp})
	counters := func() map[string]uint64 {
		st := r.d.status(time.Now())
		if len(st.Counters) != 1 {
			t.Fatalf("%d families in status, want 1", len(st.Counters))
		}
		return st.Counters[0].Dropped
	}
	if n, ok := counters()["socket_overflow"]; ok {
		t.Errorf("socket_overflow = %d before any drop, want it absent", n)
	}
	r.fams["ipv4"].drops = 42
	if n := counters()["socket_overflow"]; n != 42 {
		t.Errorf("socket_overflow = %d, want 42", n)
	}
}
