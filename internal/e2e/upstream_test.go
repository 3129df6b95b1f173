//go:build linux

package e2e

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/netlab"
)

// TestUpstreamMergedMembership: the router's host stack on up0 reports the
// merge of all downstream memberships (RFC 4605 §4.1): a union of INCLUDE
// lists stays INCLUDE; any EXCLUDE makes it EXCLUDE of the sources every
// EXCLUDE list blocks and no INCLUDE list asks for. The test plays the
// upstream querier: it sends IGMPv3 general queries from src and reads the
// router's current-state report.
func TestUpstreamMergedMembership(t *testing.T) {
	t.Parallel()
	type join struct {
		mode    netlab.FilterMode
		sources []netip.Addr
	}
	for _, c := range []struct {
		name       string
		rcv1, rcv3 join
		wantType   uint8
		wantSrc    []netip.Addr
	}{
		{"IN{S1}+IN{S2}=IN{S1,S2}", join{netlab.Include, []netip.Addr{s1}}, join{netlab.Include, []netip.Addr{s2}}, modeIsInclude, []netip.Addr{s1, s2}},
		{"IN{S1}+EX{S2}=EX{S2}", join{netlab.Include, []netip.Addr{s1}}, join{netlab.Exclude, []netip.Addr{s2}}, modeIsExclude, []netip.Addr{s2}},
		{"EX{S1,S2}+EX{S2}=EX{S2}", join{netlab.Exclude, []netip.Addr{s1, s2}}, join{netlab.Exclude, []netip.Addr{s2}}, modeIsExclude, []netip.Addr{s2}},
		{"ASM+IN{S2}=EX{}", join{netlab.AnySource, nil}, join{netlab.Include, []netip.Addr{s2}}, modeIsExclude, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			tp := newTopo(t, topoOptions{})
			reports := newIGMPListener(t, tp.lab, "src", "eth0", allV3Rtrs)
			querier := newRawSender(t, tp.lab, "src", "eth0")
			tp.receiver("rcv1", g1, c.rcv1.mode, c.rcv1.sources...)
			tp.receiver("rcv3", g1, c.rcv3.mode, c.rcv3.sources...)

			want := v3Record{Type: c.wantType, Group: g1.Addr(), Sources: c.wantSrc}
			var got []v3Record
			deadline := time.Now().Add(8 * time.Second)
			for {
				asked := time.Now()
				// Max Resp Code 10: the router answers within 1 s.
				querier.send(t, ipv4Packet(s1, allHosts, 1, true, igmpV3GeneralQuery(10)))
				time.Sleep(1200 * time.Millisecond)
				got = currentState(reports, asked, g1.Addr())
				if len(got) == 1 && sameRecord(got[0], want) {
					break
				}
				if time.Now().After(deadline) {
					groups, filters := tp.upstreamGroups()
					tp.logProc("net/igmp")
					tp.logProc("net/mcfilter")
					t.Fatalf("router's report for %s on up0: %s, want %s\n(up0 groups %v, filters %+v)",
						g1.Addr(), fmtRecords(got), fmtRecords([]v3Record{want}), groups, filters)
				}
			}
			groups, filters := tp.upstreamGroups()
			if !groups[g1.Addr()] {
				t.Errorf("/proc/net/igmp does not list %s on up0", g1.Addr())
			}
			if c.wantType == modeIsInclude {
				for _, s := range c.wantSrc {
					if !slices.ContainsFunc(filters, func(f mcfilterEntry) bool {
						return f.Group == g1.Addr() && f.Source == s && f.Include > 0
					}) {
						t.Errorf("/proc/net/mcfilter has no INCLUDE entry for (%s, %s) on up0: %+v", s, g1.Addr(), filters)
					}
				}
			}
			t.Logf("router reports %s upstream", fmtRecords(got))
		})
	}
}

// currentState returns the current-state records for group in the reports
// from the router since t.
func currentState(l *igmpListener, since time.Time, group netip.Addr) []v3Record {
	var out []v3Record
	for _, m := range l.messages(since, func(m igmpMsg) bool { return m.Src == netip.MustParseAddr("10.0.0.1") }) {
		recs, ok := parseV3Report(m.Data)
		if !ok {
			continue
		}
		for _, r := range recs {
			if r.Group == group && (r.Type == modeIsInclude || r.Type == modeIsExclude) {
				out = append(out, r)
			}
		}
	}
	return out
}

func sameRecord(a, b v3Record) bool {
	return a.Type == b.Type && a.Group == b.Group && slices.Equal(a.Sources, b.Sources)
}

func fmtRecords(rs []v3Record) string {
	if len(rs) == 0 {
		return "no record"
	}
	s := ""
	for i, r := range rs {
		if i > 0 {
			s += ", "
		}
		mode := fmt.Sprintf("type%d", r.Type)
		switch r.Type {
		case modeIsInclude:
			mode = "IS_IN"
		case modeIsExclude:
			mode = "IS_EX"
		}
		s += fmt.Sprintf("%s %s%v", r.Group, mode, r.Sources)
	}
	return s
}

// TestUpstreamQuerierRefresh: behind a snooping switch that is also the
// upstream querier, the stream keeps flowing only if the router answers the
// queries. It must flow without a gap across several query intervals and
// membership intervals of the switch.
func TestUpstreamQuerierRefresh(t *testing.T) {
	t.Parallel()
	tp := newTopo(t, topoOptions{upstreamQuerier: true})
	r1 := tp.receiver("rcv1", g1, netlab.AnySource)
	start := time.Now()
	tp.sender(s1, g1)
	tp.waitFlowing(r1, s1, start, 20, 5*time.Second)

	// The switch queries every 1 s and forgets a port after 2.5 s without
	// a report; watch 5 query intervals (two membership intervals).
	from := time.Now()
	time.Sleep(5 * time.Second)
	if gaps := r1.GapsBetween(s1, from, time.Time{}); len(gaps) != 0 {
		t.Errorf("stream interrupted while the upstream querier was asking: %v", gaps)
	}
	if n := r1.CountSince(s1, time.Now().Add(-500*time.Millisecond)); n == 0 {
		t.Errorf("stream stopped within 5 s behind the querying switch")
	}
	mdb, err := tp.lab.Exec("sw", "bridge", "mdb", "show")
	tp.must(err)
	t.Logf("switch mdb:\n%s", mdb)
}
