//go:build linux

package e2e

// The operator's view and controls: mcast-proxy status, access lists,
// limits, fast leave that never cuts another viewer, leave and quick
// re-join, and reload through the client.

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/control"
	"github.com/mcast-proxy/mcast-proxy/internal/netlab"
)

// Addresses of the operator tests.
var (
	routerLAN = netip.MustParseAddr("192.168.1.1")
	rcv1Addr  = netip.MustParseAddr("192.168.1.11")
	rcv2Addr  = netip.MustParseAddr("192.168.1.12")
	// Each group of TestAccessLists has its own port: a Receiver's socket
	// is bound to the wildcard address (Go binds a multicast address as
	// 0.0.0.0), so it gets every group its host joined on its port.
	ssdp = netip.MustParseAddrPort("239.255.255.250:1900")
	g9   = netip.MustParseAddrPort("239.9.1.1:5009") // denied on br-lan by prefix
	g8   = netip.MustParseAddrPort("239.8.1.1:5008") // denied on up0
)

// Querier timers with a long last member query time (2 s × 2 = 4 s), so that
// a fast leave stands out from the normal one.
const (
	slowLMQTimers = "query-interval 10s; query-response-interval 1s; last-member-query-interval 2s; " +
		"last-member-query-count 2; robustness 2; startup-query-interval 500ms; startup-query-count 2"
	slowLMQInterval = 2 * time.Second
	slowLMQTime     = 2 * slowLMQInterval
)

// opConfig is the standard configuration with extra statements in the up0
// and br-lan blocks; br-lan gets the short test timers unless brLAN brings
// its own.
func opConfig(up0, brLAN []string) string {
	up := append([]string{"upstream", "source 10.0.0.0/24"}, up0...)
	lan := append([]string{"downstream"}, brLAN...)
	if !slices.ContainsFunc(brLAN, func(s string) bool { return strings.Contains(s, "query-interval") }) {
		lan = append(lan, downstreamTimers)
	}
	return "ipv4 yes\n" +
		"interface up0 {\n\t" + strings.Join(up, "\n\t") + "\n}\n" +
		"interface br-lan {\n\t" + strings.Join(lan, "\n\t") + "\n}\n" +
		"interface down2 { downstream; " + downstreamTimers + " }\n"
}

// wireGaps returns the sequence gaps of the stream (src, group) among the
// datagrams the sniffer saw arrive in [from, to]: what the router put on the
// wire, whether or not the host's socket was joined at the time.
func wireGaps(sn *netlab.Sniffer, src, group netip.Addr, from, to time.Time) []netlab.Gap {
	var seen []netlab.Arrival
	for _, p := range sn.Packets(netlab.UDPTo(group, src, from)) {
		if p.At.After(to) {
			break
		}
		if seq, ok := streamSeq(p); ok {
			seen = append(seen, netlab.Arrival{Seq: seq, At: p.At})
		}
	}
	gaps, _ := netlab.SeqGaps(seen)
	return gaps
}

// waitSent waits until s has sent n more datagrams than it had at the call:
// a watch window measured in the stream's own packets.
func (tp *topo) waitSent(s *netlab.Sender, n uint64, what string) {
	tp.t.Helper()
	target := s.Sent() + n
	tp.waitFor(time.Duration(n)*streamInterval*3+5*time.Second, what, func() bool { return s.Sent() >= target })
}

// stopAfter waits until the stream (src, group) has been quiet on sn's wire
// for quiet and returns how long after since its last datagram arrived.
func (tp *topo) stopAfter(sn *netlab.Sniffer, src, group netip.Addr, since time.Time, quiet, timeout time.Duration) time.Duration {
	tp.t.Helper()
	// A sniffer that saw nothing would measure a stop of 0.
	if sn.Count(netlab.UDPTo(group, src, since.Add(-500*time.Millisecond))) == 0 {
		tp.t.Fatalf("the sniffer saw no datagram of (%s, %s) in the 500 ms before the change", src, group)
	}
	last := tp.waitStopped(sn, netlab.UDPTo(group, src, since), quiet, timeout, "the stream of "+group.String())
	if last.IsZero() {
		return 0
	}
	return last.Sub(since)
}

// TestStatus: with a member and a stream, "mcast-proxy status -j" shows the
// interfaces, the querier, the group and its host, the upstream
// subscription, the forwarding entry with its counters and rate, and the
// daemon's counters; the text form names the group and the route.
func TestStatus(t *testing.T) {
	t.Parallel()
	tp := newTopo(t, topoOptions{})
	r1 := tp.receiver("rcv1", g1, netlab.AnySource)
	start := time.Now()
	tp.sender(s1, g1)
	tp.waitFlowing(r1, s1, start, 20, 5*time.Second)

	st := tp.waitStatus(5*time.Second, "a forwarding entry with packets and a query sent", func(st control.Status) bool {
		r, ok := route(st, s1, g1.Addr())
		return ok && r.Packets > 0 && counters(st, control.FamilyIPv4).QueriesSent > 0
	})
	defer func() {
		if t.Failed() {
			tp.logStatus()
		}
	}()

	vifs := tp.vifs(fam4)
	for _, c := range []struct {
		name, role string
		addr       netip.Addr
	}{
		{"up0", control.RoleUpstream, netip.MustParseAddr("10.0.0.1")},
		{"br-lan", control.RoleDownstream, routerLAN},
		{"down2", control.RoleDownstream, netip.MustParseAddr("192.168.2.1")},
	} {
		i, ok := iface(st, c.name, control.FamilyIPv4)
		if !ok {
			t.Errorf("status lists no ipv4 interface %s", c.name)
			continue
		}
		if i.Role != c.role || i.State != control.StateActive {
			t.Errorf("%s: role %q state %q, want %q %q", c.name, i.Role, i.State, c.role, control.StateActive)
		}
		if want := tp.ifindex(c.name); i.Ifindex != want {
			t.Errorf("%s: ifindex %d, want %d", c.name, i.Ifindex, want)
		}
		if want, ok := vifs[c.name]; !ok || i.VIF != want {
			t.Errorf("%s: vif %d, want %d as in /proc/net/ip_mr_vif (%v)", c.name, i.VIF, want, vifs)
		}
		if !slices.Contains(i.Addresses, c.addr.String()) {
			t.Errorf("%s: addresses %v lack %s", c.name, i.Addresses, c.addr)
		}
	}

	lan, _ := iface(st, "br-lan", control.FamilyIPv4)
	if q := lan.Querier; q == nil || q.Address != routerLAN.String() || !q.Self || q.Version != 3 {
		t.Errorf("br-lan querier %+v, want this router %s with IGMPv3", q, routerLAN)
	}
	if g, ok := groupOn(st, "br-lan", g1.Addr()); !ok {
		t.Errorf("br-lan lists no group %s: %+v", g1.Addr(), lan.Groups)
	} else {
		if g.Mode != control.ModeExclude || g.Compat != 3 || g.ExpiresIn <= 0 {
			t.Errorf("group %s: mode %q compat %d expires_in %v, want exclude, 3, > 0", g1.Addr(), g.Mode, g.Compat, g.ExpiresIn)
		}
		if !slices.ContainsFunc(g.Hosts, func(h control.Host) bool { return h.Address == rcv1Addr }) {
			t.Errorf("group %s: hosts %+v lack rcv1 %s", g1.Addr(), g.Hosts, rcv1Addr)
		}
	}
	if s, ok := subscription(st, g1.Addr()); !ok || s.Interface != "up0" || s.Mode != control.ModeExclude {
		t.Errorf("upstream subscription of %s: %+v (found %v), want exclude on up0", g1.Addr(), s, ok)
	}
	r, _ := route(st, s1, g1.Addr())
	if r.Input != "up0" || !slices.Equal(r.Outputs, []string{"br-lan"}) || r.Packets == 0 || r.Bytes == 0 {
		t.Errorf("route (%s, %s) = %+v, want up0 -> [br-lan] with packets", s1, g1.Addr(), r)
	}
	c := counters(st, control.FamilyIPv4)
	if c.Received["igmpv3_report"] == 0 || c.QueriesSent == 0 || c.Upcalls == 0 || c.RoutesAdded == 0 {
		t.Errorf("ipv4 counters %+v, want igmpv3_report, queries_sent, upcalls and routes_added > 0", c)
	}
	t.Logf("route %s -> %v: %d packets; received %v, queries_sent %d", r.Input, r.Outputs, r.Packets, c.Received, c.QueriesSent)

	// The rate is taken between two readings.
	st2 := tp.waitStatus(5*time.Second, "a non-zero packet rate", func(st control.Status) bool {
		r, ok := route(st, s1, g1.Addr())
		return ok && r.PacketsPerSecond > 0
	})
	r2, _ := route(st2, s1, g1.Addr())
	t.Logf("second reading: %d packets, %.1f packets/s, %.0f bit/s (the stream sends %.0f/s)",
		r2.Packets, r2.PacketsPerSecond, r2.BitsPerSecond, float64(time.Second/streamInterval))
	if r2.Packets <= r.Packets || r2.BitsPerSecond <= 0 {
		t.Errorf("second reading: packets %d (before %d), bits_per_second %v", r2.Packets, r.Packets, r2.BitsPerSecond)
	}

	// The text form.
	res := runClientCmd(t, "status", "-s", tp.sock)
	if res.code != 0 {
		t.Fatalf("mcast-proxy status: exit %d\n%s", res.code, indent(res.stderr))
	}
	routeLine := false
	for _, line := range strings.Split(res.stdout, "\n") {
		f := strings.Fields(line)
		if len(f) >= 5 && f[0] == s1.String() && f[1] == g1.Addr().String() && f[2] == "up0" && strings.Contains(line, "br-lan") {
			routeLine = true
		}
	}
	if !routeLine || !strings.Contains(res.stdout, "Groups on br-lan") || !strings.Contains(res.stdout, rcv1Addr.String()) {
		t.Errorf("text status lacks the group on br-lan with rcv1, or the route %s %s up0 -> br-lan:\n%s", s1, g1.Addr(), indent(res.stdout))
	}
}

// TestStatusNoDaemon: with nothing listening on the socket, the client exits
// 2 and names the socket.
func TestStatusNoDaemon(t *testing.T) {
	t.Parallel()
	needRoot(t) // only for the binary TestMain builds
	sock := filepath.Join(t.TempDir(), "nobody.sock")
	for _, args := range [][]string{{"status", "-s", sock}, {"status", "-j", "-s", sock}, {"reload", "-s", sock}} {
		res := runClientCmd(t, args...)
		t.Logf("mcast-proxy %s: exit %d, stderr %q", strings.Join(args, " "), res.code, res.stderr)
		if res.code != 2 || !strings.Contains(res.stderr, sock) || res.stdout != "" {
			t.Errorf("mcast-proxy %s: exit %d, stdout %q, stderr %q; want exit 2 and a message naming %s",
				strings.Join(args, " "), res.code, res.stdout, res.stderr, sock)
		}
	}
}

// TestAccessLists: groups denied on br-lan (SSDP, a /16) are neither
// forwarded there nor joined upstream, and are counted; a group denied on up0
// is not joined upstream; an allowed group flows.
func TestAccessLists(t *testing.T) {
	t.Parallel()
	tp := newTopo(t, topoOptions{config: opConfig(
		[]string{"deny group 239.8.0.0/16"},
		[]string{"deny group 239.255.255.250", "deny group 239.9.0.0/16"})})
	sn := tp.sniffer(fam4, "rcv1")
	denied := []netip.AddrPort{ssdp, g9}
	var rs []*netlab.Receiver
	for _, g := range denied {
		rs = append(rs, tp.receiver("rcv1", g, netlab.AnySource))
	}
	r8 := tp.receiver("rcv1", g8, netlab.AnySource)
	r1 := tp.receiver("rcv1", g1, netlab.AnySource) // last: when it flows, the others were heard
	start := time.Now()
	var senders []*netlab.Sender
	for _, g := range append(denied, g8, g1) {
		senders = append(senders, tp.sender(s1, g))
	}
	tp.waitFlowing(r1, s1, start, 20, 5*time.Second)
	st := tp.waitStatus(5*time.Second, "dropped policy > 0 and the allowed groups on br-lan", func(st control.Status) bool {
		_, ok1 := groupOn(st, "br-lan", g1.Addr())
		_, ok8 := groupOn(st, "br-lan", g8.Addr())
		return counters(st, control.FamilyIPv4).Dropped["policy"] > 0 && ok1 && ok8
	})
	// Let the denied streams run for 100 more datagrams each.
	tp.waitSent(senders[0], 100, "100 more datagrams of the denied streams")
	defer func() {
		if t.Failed() {
			tp.logStatus()
			tp.logProc("net/ip_mr_cache")
			tp.logProc("net/igmp")
		}
	}()

	vifs := tp.vifs(fam4)
	mfc := tp.mfc(fam4)
	upGroups, _ := tp.upstreamGroups(fam4)
	for i, g := range denied {
		if n := rs[i].Total(); n != 0 {
			t.Errorf("rcv1 received %d datagrams of %s, denied on br-lan", n, g)
		}
		if n := sn.Count(netlab.UDPTo(g.Addr(), netip.Addr{}, start)); n != 0 {
			t.Errorf("%d datagrams of %s on br-lan's wire, want none", n, g.Addr())
		}
		for _, e := range mfc {
			if _, ok := e.Oifs[vifs["br-lan"]]; ok && e.Group == g.Addr() {
				t.Errorf("ip_mr_cache: (%s, %s) goes out on br-lan", e.Origin, e.Group)
			}
		}
		if upGroups[g.Addr()] {
			t.Errorf("%s, denied on br-lan, is joined on up0 (/proc/net/igmp)", g.Addr())
		}
		if _, ok := subscription(st, g.Addr()); ok {
			t.Errorf("status shows an upstream subscription of %s, denied on br-lan", g.Addr())
		}
		if _, ok := groupOn(st, "br-lan", g.Addr()); ok {
			t.Errorf("status shows %s on br-lan although it is denied there", g.Addr())
		}
	}
	if upGroups[g8.Addr()] {
		t.Errorf("%s, denied on up0, is joined on up0 (/proc/net/igmp)", g8.Addr())
	}
	if _, ok := subscription(st, g8.Addr()); ok {
		t.Errorf("status shows an upstream subscription of %s, denied on up0", g8.Addr())
	}
	if !upGroups[g1.Addr()] {
		t.Errorf("%s is not joined on up0", g1.Addr())
	}
	if gaps := r1.GapsBetween(s1, time.Now().Add(-time.Second), time.Time{}); len(gaps) != 0 {
		t.Errorf("allowed group %s lost datagrams: %v", g1.Addr(), gaps)
	}
	t.Logf("dropped policy %d; rcv1 got %d datagrams of %s; %s (allowed on br-lan, denied on up0, sender on up0's link) reached rcv1 %d times",
		counters(st, control.FamilyIPv4).Dropped["policy"], r1.Total(), g1.Addr(), g8.Addr(), r8.Total())
}

// TestSourceAccessList: "deny group G source S" on br-lan keeps S's datagrams
// off br-lan for a host with an any-source join of G, while another source
// of G reaches it and S still reaches a member on down2.
func TestSourceAccessList(t *testing.T) {
	t.Parallel()
	tp := newTopo(t, topoOptions{config: opConfig(nil, []string{"deny group 239.1.1.1 source 10.0.0.3"})})
	r1 := tp.receiver("rcv1", g1, netlab.AnySource)
	r3 := tp.receiver("rcv3", g1, netlab.AnySource)
	sn := tp.sniffer(fam4, "rcv1")
	start := time.Now()
	tp.sender(s1, g1)
	snd2 := tp.sender(s2, g1)
	tp.waitFlowing(r1, s1, start, 20, 5*time.Second)
	tp.waitFlowing(r3, s2, start, 20, 5*time.Second)
	tp.waitSent(snd2, 100, "100 more datagrams from "+s2.String())

	if n := r1.CountSince(s2, start); n != 0 {
		t.Errorf("rcv1 received %d datagrams from denied source %s", n, s2)
	}
	if n := sn.Count(netlab.UDPTo(g1.Addr(), s2, start)); n != 0 {
		t.Errorf("%d datagrams from %s on br-lan's wire, want none", n, s2)
	}
	st := tp.status()
	if r, ok := route(st, s2, g1.Addr()); !ok || slices.Contains(r.Outputs, "br-lan") || !slices.Contains(r.Outputs, "down2") {
		t.Errorf("route (%s, %s) = %+v (found %v), want down2 and not br-lan", s2, g1.Addr(), r, ok)
	}
	if r, ok := route(st, s1, g1.Addr()); !ok || !slices.Contains(r.Outputs, "br-lan") {
		t.Errorf("route (%s, %s) = %+v (found %v), want br-lan among the outputs", s1, g1.Addr(), r, ok)
	}
	t.Logf("rcv1 got %d from %s and %d from %s; rcv3 on down2 got %d from %s",
		r1.CountSince(s1, start), s1, r1.CountSince(s2, start), s2, r3.CountSince(s2, start), s2)
	if t.Failed() {
		tp.logStatus()
	}
}

// TestLimits: max-groups bounds the groups a flooding host can create (and
// the daemon's memory), without disturbing a group joined before;
// max-sources bounds a source list.
func TestLimits(t *testing.T) {
	t.Parallel()
	t.Run("max-groups", func(t *testing.T) {
		t.Parallel()
		const maxGroups, flood = 50, 5000
		tp := newTopo(t, topoOptions{config: opConfig(nil, []string{fmt.Sprintf("max-groups %d", maxGroups)})})
		r1 := tp.receiver("rcv1", g1, netlab.AnySource)
		start := time.Now()
		tp.sender(s1, g1)
		tp.waitFlowing(r1, s1, start, 20, 5*time.Second)
		tp.waitStatus(5*time.Second, "group "+g1.Addr().String()+" on br-lan", func(st control.Status) bool {
			_, ok := groupOn(st, "br-lan", g1.Addr())
			return ok
		})
		rss0, err := rssKiB(tp.daemon.Pid())
		tp.must(err)

		// rcv2's address, sent by a raw socket on rcv2: 150 records a report.
		floodAt := time.Now()
		pkts := tp.joinFlood("rcv2", "eth0", rcv2Addr, floodGroups(flood), 150)
		t.Logf("sent %d IGMPv3 reports joining %d groups in %v", pkts, flood, time.Since(floodAt).Round(time.Millisecond))
		tp.waitStatus(10*time.Second, "dropped limit > 0", func(st control.Status) bool {
			return counters(st, control.FamilyIPv4).Dropped["limit"] > 0
		})
		// Let the daemon finish the queue: the count of dropped and
		// kept records stops changing.
		var prev uint64
		st := tp.waitStatus(10*time.Second, "the limit counter to settle", func(st control.Status) bool {
			n := counters(st, control.FamilyIPv4).Dropped["limit"]
			settled := n == prev
			prev = n
			return settled
		})
		// Memory after the flood, and after the stream has kept flowing.
		tp.waitFlowing(r1, s1, time.Now(), 50, 5*time.Second)
		rss1, err := rssKiB(tp.daemon.Pid())
		tp.must(err)

		lan, _ := iface(st, "br-lan", control.FamilyIPv4)
		_, upN := tp.groupsOnUp0()
		c := counters(st, control.FamilyIPv4)
		t.Logf("after the flood: %d groups on br-lan, %d joined on up0, dropped %v; RSS %d KiB before, %d KiB after",
			len(lan.Groups), upN, c.Dropped, rss0, rss1)
		if len(lan.Groups) > maxGroups {
			t.Errorf("%d groups on br-lan, want at most %d", len(lan.Groups), maxGroups)
		}
		if upN > maxGroups {
			t.Errorf("%d groups joined on up0, want at most %d", upN, maxGroups)
		}
		if c.Dropped["limit"] == 0 {
			t.Errorf("dropped limit is 0 after %d joins with max-groups %d", flood, maxGroups)
		}
		if _, ok := groupOn(st, "br-lan", g1.Addr()); !ok {
			t.Errorf("the earlier group %s is gone from br-lan", g1.Addr())
		}
		const rssLimit = 64 << 10 // KiB
		if rss1 > rssLimit {
			t.Errorf("daemon RSS %d KiB after the flood, want below %d KiB", rss1, rssLimit)
		}
		if gaps := r1.GapsBetween(s1, floodAt, time.Time{}); len(gaps) != 0 {
			t.Errorf("%s lost datagrams during the flood: %v", g1.Addr(), gaps)
		}
	})
	t.Run("max-sources", func(t *testing.T) {
		t.Parallel()
		const maxSources = 4
		tp := newTopo(t, topoOptions{config: opConfig(nil, []string{fmt.Sprintf("max-sources %d", maxSources)})})
		gs := netip.MustParseAddrPort("239.4.4.4:5001")
		var srcs []netip.Addr
		for i := range 10 {
			srcs = append(srcs, netip.AddrFrom4([4]byte{10, 0, 0, byte(10 + i)}))
		}
		tp.receiver("rcv1", gs, netlab.Include, srcs...)
		st := tp.waitStatus(5*time.Second, "group "+gs.Addr().String()+" on br-lan and dropped limit > 0", func(st control.Status) bool {
			_, ok := groupOn(st, "br-lan", gs.Addr())
			return ok && counters(st, control.FamilyIPv4).Dropped["limit"] > 0
		})
		g, _ := groupOn(st, "br-lan", gs.Addr())
		sub, _ := subscription(st, gs.Addr())
		t.Logf("INCLUDE of %d sources: br-lan group %s mode %s sources %v hosts %+v; upstream %v; dropped %v",
			len(srcs), g.Group, g.Mode, g.Sources, g.Hosts, sub.Sources, counters(st, control.FamilyIPv4).Dropped)
		if len(g.Sources) == 0 || len(g.Sources) > maxSources {
			t.Errorf("%d sources for %s on br-lan, want 1 to %d", len(g.Sources), gs.Addr(), maxSources)
		}
		if len(sub.Sources) > maxSources {
			t.Errorf("upstream subscription of %s has %d sources, want at most %d", gs.Addr(), len(sub.Sources), maxSources)
		}
		for _, h := range g.Hosts {
			if len(h.Sources) > maxSources {
				t.Errorf("host %s has %d sources, want at most %d", h.Address, len(h.Sources), maxSources)
			}
		}
	})
}

// leaveResult is what one fast-leave case measured.
type leaveResult struct {
	fast bool
	stop time.Duration
}

// TestFastLeave: with fast-leave, one of two members leaving does not cut
// the other (another TV on the LAN keeps watching), and the last one leaving stops the stream at
// once instead of after the last member query time (4 s here), which the
// case without fast-leave shows.
func TestFastLeave(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex // guards results
	results := map[string]leaveResult{}
	t.Run("cases", func(t *testing.T) {
		for _, c := range []struct {
			name    string
			version int
			fast    bool
			mode    netlab.FilterMode
		}{
			{"IGMPv3", 3, true, netlab.AnySource},
			{"IGMPv3 INCLUDE", 3, true, netlab.Include},
			{"IGMPv2", 2, true, netlab.AnySource},
			{"IGMPv3 without fast-leave", 3, false, netlab.AnySource},
		} {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				lan := []string{slowLMQTimers}
				if c.fast {
					lan = append(lan, "fast-leave yes")
				}
				tp := newTopo(t, topoOptions{config: opConfig(nil, lan)})
				for _, ns := range []string{"rcv1", "rcv2"} {
					tp.must(tp.lab.Sysctl(ns, "net/ipv4/conf/eth0/force_igmp_version", fmt.Sprint(c.version)))
				}
				if c.version == 2 {
					// IGMPv2 hosts that hear each other's reports suppress
					// theirs, and then send no leave (RFC 2236 §3, §6).
					// Isolated ports, as with one set-top box per port,
					// keep both reporting, so both are tracked.
					for _, port := range []string{"lan1", "lan2"} {
						tp.must(tp.lab.IP("router", "link", "set", "dev", port, "type", "bridge_slave", "isolated", "on"))
					}
				}
				var srcs []netip.Addr
				if c.mode == netlab.Include {
					srcs = []netip.Addr{s1}
				}
				r1 := tp.receiver("rcv1", g1, c.mode, srcs...)
				r2 := tp.receiver("rcv2", g1, c.mode, srcs...)
				sn := tp.sniffer(fam4, "rcv2")
				start := time.Now()
				snd := tp.sender(s1, g1)
				tp.waitFlowing(r1, s1, start, 20, 5*time.Second)
				tp.waitFlowing(r2, s1, start, 20, 5*time.Second)
				tp.waitStatus(5*time.Second, "both hosts tracked for "+g1.Addr().String(), func(st control.Status) bool {
					g, _ := groupOn(st, "br-lan", g1.Addr())
					return len(g.Hosts) == 2
				})
				defer func() {
					if t.Failed() {
						tp.logStatus()
					}
				}()

				// One of two leaves: the other keeps every datagram, past
				// the last member queries when there are any.
				left1 := time.Now()
				tp.must(r1.Leave())
				watch := 1500 * time.Millisecond
				if !c.fast {
					watch = slowLMQTime + 500*time.Millisecond
				}
				tp.waitSent(snd, uint64(watch/streamInterval), fmt.Sprintf("%v of the stream after rcv1 left", watch))
				tp.waitFlowing(r2, s1, time.Now(), 5, 2*time.Second)
				if gaps := r2.GapsBetween(s1, left1.Add(-200*time.Millisecond), time.Time{}); len(gaps) != 0 {
					t.Errorf("rcv2 lost datagrams after rcv1 left: %v", gaps)
				}
				st := tp.status()
				g, _ := groupOn(st, "br-lan", g1.Addr())
				if c.fast && slices.ContainsFunc(g.Hosts, func(h control.Host) bool { return h.Address == rcv1Addr }) {
					t.Errorf("rcv1 still tracked after its leave: %+v (its leave was not heard, the test proves nothing)", g.Hosts)
				}
				if c.version == 2 && counters(st, control.FamilyIPv4).Received["igmpv2_leave"] == 0 {
					t.Errorf("no IGMPv2 leave received: %v", counters(st, control.FamilyIPv4).Received)
				}

				// The last member leaves.
				left2 := time.Now()
				tp.must(r2.Leave())
				stop := tp.stopAfter(sn, s1, g1.Addr(), left2, 500*time.Millisecond, slowLMQTime+5*time.Second)
				t.Logf("%s, fast-leave %v: stream stopped on br-lan's wire %v after the last member left (LMQ time %v)",
					c.name, c.fast, stop.Round(time.Millisecond), slowLMQTime)
				if c.fast && stop >= time.Second {
					t.Errorf("with fast-leave the stream stopped %v after the last leave, want under 1 s", stop)
				}
				if !c.fast && (stop < slowLMQInterval || stop > slowLMQTime+stopMargin) {
					t.Errorf("without fast-leave the stream stopped %v after the last leave, want about %v (%v to %v)",
						stop, slowLMQTime, slowLMQInterval, slowLMQTime+stopMargin)
				}
				mu.Lock()
				results[c.name] = leaveResult{fast: c.fast, stop: stop}
				mu.Unlock()
			})
		}
	})
	fast, slow := results["IGMPv3"], results["IGMPv3 without fast-leave"]
	t.Logf("last leave to stop on the wire: with fast-leave IGMPv3 %v, IGMPv3 INCLUDE %v, IGMPv2 %v; IGMPv3 without fast-leave %v",
		fast.stop.Round(time.Millisecond), results["IGMPv3 INCLUDE"].stop.Round(time.Millisecond),
		results["IGMPv2"].stop.Round(time.Millisecond), slow.stop.Round(time.Millisecond))
	if len(results) == 4 && fast.stop >= slow.stop {
		t.Errorf("fast leave (%v) is not faster than the normal leave (%v)", fast.stop, slow.stop)
	}
}

// TestLeaveRejoin: a host that leaves and joins again within 100 ms keeps
// its stream (a channel change back and forth): a join always wins over the aging of the
// leave, with and without fast leave.
func TestLeaveRejoin(t *testing.T) {
	t.Parallel()
	for _, fast := range []bool{false, true} {
		t.Run(fmt.Sprintf("fast-leave=%v", fast), func(t *testing.T) {
			t.Parallel()
			var lan []string
			if fast {
				lan = append(lan, "fast-leave yes")
			}
			tp := newTopo(t, topoOptions{config: opConfig(nil, lan)})
			r1 := tp.receiver("rcv1", g1, netlab.AnySource)
			sn := tp.sniffer(fam4, "rcv1")
			start := time.Now()
			tp.sender(s1, g1)
			tp.waitFlowing(r1, s1, start, 20, 5*time.Second)

			left := time.Now()
			tp.must(r1.Leave())
			time.Sleep(50 * time.Millisecond) // the quick re-join is the scenario
			tp.must(r1.Join())
			rejoined := time.Now()
			t.Logf("re-joined %v after leaving", rejoined.Sub(left).Round(time.Millisecond))

			// Well past the last member query time (400 ms) and the
			// leave's retransmissions: still flowing 3 s later.
			later := rejoined.Add(3 * time.Second)
			tp.waitFor(10*time.Second, "3 s after the re-join", func() bool { return time.Now().After(later) })
			tp.waitFlowing(r1, s1, later, 50, 5*time.Second)

			gaps := wireGaps(sn, s1, g1.Addr(), left.Add(-200*time.Millisecond), time.Now())
			var lost uint64
			for _, g := range gaps {
				lost += g.Missing()
			}
			t.Logf("fast-leave %v: %d datagrams missing on the wire around the leave and re-join: %v", fast, lost, gaps)
			if !fast && len(gaps) != 0 {
				t.Errorf("without fast-leave the stream has gaps on the wire although the host re-joined within the last member query time: %v", gaps)
			}
			if late := wireGaps(sn, s1, g1.Addr(), rejoined.Add(time.Second), time.Now()); len(late) != 0 {
				t.Errorf("gaps on the wire more than 1 s after the re-join: %v", late)
			}
			if lost > 100 {
				t.Errorf("%d datagrams (%v of stream) missing around the re-join, want the stream back at once", lost, time.Duration(lost)*streamInterval)
			}
			if t.Failed() {
				tp.logStatus()
			}
		})
	}
}

// TestReloadDeniesFlowingGroup: "mcast-proxy reload" of a broken file exits
// 1 and changes nothing; with a new access list that denies a flowing group
// it stops the group on br-lan, while another group keeps flowing without a
// gap: a reload applies the difference only.
func TestReloadDeniesFlowingGroup(t *testing.T) {
	t.Parallel()
	tp := newTopo(t, topoOptions{config: opConfig(nil, nil)})
	r1 := tp.receiver("rcv1", g1, netlab.AnySource)
	r2 := tp.receiver("rcv2", g2, netlab.AnySource)
	sn := tp.sniffer(fam4, "rcv1")
	start := time.Now()
	snd1 := tp.sender(s1, g1)
	tp.sender(s1, g2)
	tp.waitFlowing(r1, s1, start, 20, 5*time.Second)
	tp.waitFlowing(r2, s1, start, 20, 5*time.Second)

	// A broken file is refused with its position and changes nothing.
	tp.must(os.WriteFile(tp.conf, []byte(opConfig(nil, []string{"deny group 239.1.0.0/8"})), 0o644))
	refused := time.Now()
	res := runClientCmd(t, "reload", "-s", tp.sock)
	t.Logf("reload of a broken file: exit %d, stderr:\n%s", res.code, indent(res.stderr))
	if res.code != 1 || !strings.Contains(res.stderr, tp.conf+":") {
		t.Errorf("reload of a broken file: exit %d, stderr %q; want exit 1 and file:line:col", res.code, res.stderr)
	}
	tp.waitSent(snd1, 50, "50 datagrams after the refused reload")
	if gaps := r1.GapsBetween(s1, refused.Add(-200*time.Millisecond), time.Time{}); len(gaps) != 0 || r1.CountSince(s1, refused) < 40 {
		t.Errorf("%s after the refused reload: %d datagrams, gaps %v", g1.Addr(), r1.CountSince(s1, refused), gaps)
	}

	tp.must(os.WriteFile(tp.conf, []byte(opConfig(nil, []string{"deny group 239.1.1.1"})), 0o644))
	reloaded := time.Now()
	res = runClientCmd(t, "reload", "-s", tp.sock)
	t.Logf("mcast-proxy reload: exit %d in %v, stdout %q, stderr %q", res.code, time.Since(reloaded).Round(time.Millisecond), res.stdout, res.stderr)
	if res.code != 0 || strings.TrimSpace(res.stdout) != "reloaded" {
		t.Fatalf("mcast-proxy reload: exit %d, stdout %q, want 0 and \"reloaded\"", res.code, res.stdout)
	}
	defer func() {
		if t.Failed() {
			tp.logStatus()
		}
	}()
	stop := tp.stopAfter(sn, s1, g1.Addr(), reloaded, 500*time.Millisecond, 5*time.Second)
	t.Logf("%s stopped on br-lan's wire %v after the reload", g1.Addr(), stop.Round(time.Millisecond))
	if stop > 2*time.Second {
		t.Errorf("%s stopped %v after the reload, want at once", g1.Addr(), stop)
	}
	tp.waitFlowing(r2, s1, time.Now(), 20, 5*time.Second)
	if gaps := r2.GapsBetween(s1, reloaded.Add(-200*time.Millisecond), time.Time{}); len(gaps) != 0 {
		t.Errorf("%s, untouched by the reload, lost datagrams: %v", g2.Addr(), gaps)
	}
	st := tp.status()
	if r, ok := route(st, s1, g1.Addr()); ok && slices.Contains(r.Outputs, "br-lan") {
		t.Errorf("route (%s, %s) still goes out on br-lan: %+v", s1, g1.Addr(), r)
	}
}

// TestReloadUpstreamDeny: a reload that denies a joined group on the upstream
// leaves it there at once.
func TestReloadUpstreamDeny(t *testing.T) {
	t.Parallel()
	tp := newTopo(t, topoOptions{config: opConfig(nil, nil)})
	r1 := tp.receiver("rcv1", g1, netlab.AnySource)
	start := time.Now()
	tp.sender(s1, g1)
	tp.waitFlowing(r1, s1, start, 20, 5*time.Second)
	if groups, _ := tp.upstreamGroups(fam4); !groups[g1.Addr()] {
		t.Fatalf("%s not joined on up0 before the reload", g1.Addr())
	}
	tp.must(os.WriteFile(tp.conf, []byte(opConfig([]string{"deny group 239.1.1.1"}, nil)), 0o644))
	reloaded := time.Now()
	if res := runClientCmd(t, "reload", "-s", tp.sock); res.code != 0 {
		t.Fatalf("mcast-proxy reload: exit %d, stderr %q", res.code, res.stderr)
	}
	tp.waitFor(3*time.Second, g1.Addr().String()+" to be left on up0 (/proc/net/igmp)", func() bool {
		groups, _ := tp.upstreamGroups(fam4)
		return !groups[g1.Addr()]
	})
	t.Logf("%s left on up0 %v after the reload", g1.Addr(), time.Since(reloaded).Round(time.Millisecond))
	if _, ok := subscription(tp.status(), g1.Addr()); ok {
		t.Errorf("status still shows the upstream subscription of %s", g1.Addr())
	}
}
