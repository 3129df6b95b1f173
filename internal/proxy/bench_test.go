package proxy

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/membership"
)

// Benchmarks of the brain at scale: a join must not take seconds to be
// routed once many groups are present. The proxy is built
// as a router would run it: one upstream, four downstreams, groups spread
// over them and a forwarding entry for each group.

const benchDowns = 4

var benchSrc = netip.MustParseAddr("10.0.0.2")

// benchGroup is the i-th test group, 239.x.y.z.
func benchGroup(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{239, byte(i >> 16), byte(i >> 8), byte(i)})
}

// benchHost is the reporting host on downstream d.
func benchHost(d int) netip.Addr {
	return netip.AddrFrom4([4]byte{192, 168, byte(d), 10})
}

// benchProxy returns a started proxy whose downstreams (ifindexes 3 to 6)
// hold groups 0 to n-1, group i on downstream i%4, each group with one flow
// from the upstream, up to MaxFlows flows in all.
func benchProxy(b *testing.B, n int) *Proxy {
	b.Helper()
	mc := membership.Config{Version: 3, FastLeave: true}
	cfg := testSetup{
		Upstream: Link{Ifindex: upIf, Name: "wan", Addr: netip.MustParseAddr("10.0.0.1"), Subnets: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}},
	}
	for d := range benchDowns {
		cfg.Downstreams = append(cfg.Downstreams, Downstream{
			Link:       Link{Ifindex: 3 + d, Name: fmt.Sprintf("lan%d", d), Addr: netip.AddrFrom4([4]byte{192, 168, byte(d), 1})},
			Membership: mc,
		})
	}
	p := newTestProxy(cfg)
	p.Start(t0)
	for i := range n {
		d := i % benchDowns
		p.Report(t0, 3+d, benchHost(d), 3, join(benchGroup(i)))
		if p.nflow < MaxFlows-1 {
			p.SourceActive(t0, upIf, benchSrc, benchGroup(i))
		}
	}
	if p.nsub != n {
		b.Fatalf("setup: %d upstream subscriptions, want %d", p.nsub, n)
	}
	return p
}

// BenchmarkReportJoin measures a report that joins one more group on a
// downstream, with the flow of that group already present (traffic arrived
// before the join), so the join yields an upstream subscription and an
// updated forwarding entry. To keep the state the same from one iteration
// to the next, each iteration is the join followed by the host's fast
// leave: one op is two reports.
func BenchmarkReportJoin(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("groups=%d", n), func(b *testing.B) {
			p := benchProxy(b, n)
			extra := benchGroup(n)
			p.SourceActive(t0, upIf, benchSrc, extra)
			joinRec := []membership.Record{{Type: membership.ToExclude, Group: extra}}
			leaveRec := []membership.Record{{Type: membership.ToInclude, Group: extra}}
			host := benchHost(0)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				// Time moves on by 1µs an iteration, far from any expiry.
				now := t0.Add(time.Duration(i) * time.Microsecond)
				if acts := p.Report(now, 3, host, 3, joinRec); len(only[SetRoute](acts)) != 1 {
					b.Fatalf("join: %+v, want one forwarding change", acts)
				}
				if acts := p.Report(now, 3, host, 3, leaveRec); len(only[SetRoute](acts)) != 1 {
					b.Fatalf("leave: %+v, want one forwarding change", acts)
				}
			}
		})
	}
}

// BenchmarkSourceActive measures a kernel upcall for a new flow of a
// joined group while many flows are installed. Each iteration also forgets
// the new flow again (a map delete), so the flow count stays fixed.
func BenchmarkSourceActive(b *testing.B) {
	for _, n := range []int{1000, 8000} {
		b.Run(fmt.Sprintf("flows=%d", n), func(b *testing.B) {
			p := benchProxy(b, n)
			if p.nflow != n {
				b.Fatalf("setup: %d flows, want %d", p.nflow, n)
			}
			src := netip.MustParseAddr("10.0.0.3")
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				grp := benchGroup(i % n)
				if acts := p.SourceActive(t0, upIf, src, grp); len(acts) != 1 {
					b.Fatalf("upcall: %+v, want one forwarding entry", acts)
				}
				p.forget(src, grp)
			}
		})
	}
}

// TestReportAllocatesOnlyState holds the report path to what the issue of a
// slow router asks of it: a report allocates nothing but the state it adds.
// Actions are handed over in reused room, unboxed, and a flow's outputs are
// worked out in scratch room and copied only when they change.
func TestReportAllocatesOnlyState(t *testing.T) {
	mc := membership.Config{Version: 3, FastLeave: true}
	p := newTestProxy(testSetup{
		Upstream:    Link{Ifindex: upIf, Name: "wan", Addr: netip.MustParseAddr("10.0.0.1"), Subnets: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")}},
		Downstreams: []Downstream{{Link: Link{Ifindex: lanIf, Name: "lan", Addr: netip.MustParseAddr("192.168.1.1")}, Membership: mc}},
	})
	p.Start(t0)
	if routes := only[SetRoute](p.SourceActive(t0, upIf, s1, grp)); len(routes) != 1 || len(routes[0].Outputs) != 0 {
		t.Fatalf("upcall: %+v, want the flow with no outputs", routes)
	}
	joinRec := []membership.Record{{Type: membership.ToExclude, Group: grp}}
	leaveRec := []membership.Record{{Type: membership.ToInclude, Group: grp}}
	now := t0
	report := func(recs []membership.Record, wantOutputs int) {
		now = now.Add(time.Millisecond)
		routes := only[SetRoute](p.Report(now, lanIf, host1, 3, recs))
		if len(routes) != 1 || len(routes[0].Outputs) != wantOutputs {
			t.Fatalf("%v: routes %+v, want one with %d outputs", recs[0].Type, routes, wantOutputs)
		}
	}
	// only copies what it finds; the reports are what is measured.
	joinLeave := func() {
		now = now.Add(time.Millisecond)
		if acts := p.Report(now, lanIf, host1, 3, joinRec); len(acts) != 2 || acts[0].Kind != KindSetRoute {
			t.Fatalf("join: %d actions, want the forwarding entry first and the subscription", len(acts))
		}
		now = now.Add(time.Millisecond)
		// A leave may also send a group-specific query, as many as the
		// link's query budget allows.
		if acts := p.Report(now, lanIf, host1, 3, leaveRec); len(acts) < 2 || acts[len(acts)-2].Kind != KindSetRoute {
			t.Fatalf("leave: %+v, want the forwarding entry and the subscription", acts)
		}
	}
	report(joinRec, 1)
	report(leaveRec, 0)
	// A join adds the group's record, its host list and the flow's new
	// outputs; the leave (fast leave) drops them again.
	if allocs := testing.AllocsPerRun(100, joinLeave); allocs > 3 {
		t.Errorf("a join and a leave allocate %v times, want at most 3 (the new state)", allocs)
	}
	// A repeated report of a joined host changes no state.
	report(joinRec, 1)
	current := []membership.Record{{Type: membership.IsExclude, Group: grp}}
	refresh := func() {
		now = now.Add(time.Millisecond)
		if acts := p.Report(now, lanIf, host1, 3, current); len(acts) != 0 {
			t.Fatalf("refresh: %d actions, want none", len(acts))
		}
	}
	if allocs := testing.AllocsPerRun(100, refresh); allocs != 0 {
		t.Errorf("a repeated report allocates %v times, want none", allocs)
	}
}

// TestActionRoomIsBounded: the room Report reuses for its actions stays
// small; a report of many records hands its actions over in room of their
// own, which is not kept.
func TestActionRoomIsBounded(t *testing.T) {
	p := testProxy()
	var recs []membership.Record
	for i := range 3 * keptActions {
		recs = append(recs, membership.Record{Type: membership.IsExclude, Group: benchGroup(i + 1)})
	}
	acts := p.Report(t0, lanIf, host1, 3, recs)
	if len(acts) != 3*keptActions {
		t.Fatalf("%d actions for %d joins, want one subscription each", len(acts), len(recs))
	}
	if cap(p.out) > keptActions {
		t.Errorf("room for %d actions kept after a report of %d records, want at most %d", cap(p.out), len(recs), keptActions)
	}
	// The next report must not write over the actions handed out.
	p.Report(t0.Add(time.Second), lanIf, host1, 2, join(grp))
	if subs := only[Subscribe](acts); len(subs) != len(recs) || subs[0].Group != benchGroup(1) {
		t.Errorf("the earlier report's actions changed: %d subscriptions, the first %v", len(subs), subs[0].Group)
	}
}
