//go:build linux

package e2e

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strings"
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
					groups, filters := tp.upstreamGroups(fam4)
					tp.logProc("net/igmp")
					tp.logProc("net/mcfilter")
					t.Fatalf("router's report for %s on up0: %s, want %s\n(up0 groups %v, filters %+v)",
						g1.Addr(), fmtRecords(got), fmtRecords([]v3Record{want}), groups, filters)
				}
			}
			groups, filters := tp.upstreamGroups(fam4)
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
// upstream querier, the router must answer every query, or the switch
// forgets its port (streams would die every membership interval). The switch queries every second and forgets a port after 2.5 s
// without a report; across five query intervals its table must always list
// the router's port and the stream must flow without a gap.
//
// On the kernels tried, a Linux bridge querying on its own still floods
// unknown multicast, so the stream alone would not reveal a lapse; the
// switch's table does.
func TestUpstreamQuerierRefresh(t *testing.T) {
	t.Parallel()
	tp := newTopo(t, topoOptions{upstreamQuerier: true})
	queries := newIGMPListener(t, tp.lab, "router", "up0")
	r1 := tp.receiver("rcv1", g1, netlab.AnySource)
	entry := "port p-router grp " + g1.Addr().String()
	mdb := func() string {
		out, err := tp.lab.Exec("sw", "bridge", "mdb", "show", "dev", "br0")
		tp.must(err)
		return string(out)
	}
	tp.waitFor(5*time.Second, "the switch to learn the router's membership of "+g1.Addr().String(), func() bool {
		return strings.Contains(mdb(), entry)
	})
	start := time.Now()
	tp.sender(s1, g1)
	tp.waitFlowing(r1, s1, start, 20, 5*time.Second)

	from := time.Now()
	for time.Since(from) < 5*time.Second {
		if tab := mdb(); !strings.Contains(tab, entry) {
			t.Fatalf("after %v the switch forgot the router's membership of %s; its table:\n%s",
				time.Since(from).Round(time.Millisecond), g1.Addr(), tab)
		}
		time.Sleep(250 * time.Millisecond)
	}
	n := len(queries.messages(from, func(m igmpMsg) bool {
		return len(m.Data) >= 8 && m.Data[0] == igmpQuery && binary.BigEndian.Uint32(m.Data[4:8]) == 0
	}))
	t.Logf("the switch sent %d general queries in 5 s; its table:\n%s", n, mdb())
	if n < 3 {
		t.Errorf("the switch sent %d general queries in 5 s, want at least 3 for the test to mean anything", n)
	}
	tp.stillFlowing(r1, s1, "rcv1 behind the querying switch")
	if gaps := r1.GapsBetween(s1, from, time.Time{}); len(gaps) != 0 {
		t.Errorf("stream interrupted while the upstream querier was asking: %v", gaps)
	}
}
