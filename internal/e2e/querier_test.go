//go:build linux

package e2e

import (
	"net/netip"
	"testing"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/netlab"
)

// TestQuerierElection: on down2 a second querier with a lower address wins
// the election (RFC 3376 §6.6.2); the router stops sending general queries
// and forwarding goes on, fed by the reports the hosts send in answer to the
// other querier. The rival is played by the test from rcv3's namespace.
func TestQuerierElection(t *testing.T) {
	t.Parallel()
	tp := newTopo(t, topoOptions{down2Querier: true})
	router := netip.MustParseAddr("192.168.2.10")
	rival := netip.MustParseAddr("192.168.2.2")
	queries := newIGMPListener(t, tp.lab, "rcv3", "eth0")
	r3 := tp.receiver("rcv3", g1, netlab.AnySource)
	start := time.Now()
	tp.sender(s1, g1)
	tp.waitFlowing(r3, s1, start, 20, 5*time.Second)

	// Without a rival the router is the querier.
	tp.waitFor(queryInterval+time.Second, "a general query from the router on down2", func() bool {
		return len(queries.messages(start, generalQueryFrom(router))) > 0
	})

	rivalStart := time.Now()
	startQuerier(t, tp.lab, "rcv3", "eth0", rival, time.Second)
	// A query the router had already scheduled may still go out; after
	// that it must stay quiet for more than its own query interval.
	settle := rivalStart.Add(500 * time.Millisecond)
	watch := 2*queryInterval + 500*time.Millisecond
	time.Sleep(time.Until(settle) + watch)
	if qs := queries.messages(settle, generalQueryFrom(router)); len(qs) != 0 {
		t.Errorf("router sent %d general queries in the %v after a lower-addressed querier appeared, want 0 (first at %s, rival since %s)",
			len(qs), watch, qs[0].At.Format("15:04:05.000"), rivalStart.Format("15:04:05.000"))
	}
	tp.stillFlowing(r3, s1, "rcv3 after the election")
	if gaps := r3.GapsBetween(s1, rivalStart, time.Time{}); len(gaps) != 0 {
		t.Errorf("stream interrupted while another querier was elected: %v", gaps)
	}
}

// TestMalformedPackets: damaged and out-of-spec IGMP messages from a LAN host
// change nothing: the flowing stream continues without a gap, a group named
// only in them is not forwarded or joined upstream, and the daemon runs on.
func TestMalformedPackets(t *testing.T) {
	t.Parallel()
	tp := newTopo(t, topoOptions{})
	bad := netip.MustParseAddr("239.5.5.5")
	r2 := tp.receiver("rcv2", g1, netlab.AnySource)
	sn2 := tp.sniffer(fam4, "rcv2")
	start := time.Now()
	tp.sender(s1, g1)
	tp.sender(s1, netip.AddrPortFrom(bad, g1.Port()))
	tp.waitFlowing(r2, s1, start, 20, 5*time.Second)

	host := netip.MustParseAddr("192.168.1.11")
	routerLAN := netip.MustParseAddr("192.168.1.1")
	join := igmpV3Report(v3Record{Type: toExclude, Group: bad})
	corrupt := func(m []byte) []byte {
		c := append([]byte(nil), m...)
		c[2] ^= 0x5a
		return c
	}
	truncRec := igmpV3Report(v3Record{Type: toExclude, Group: bad, Sources: []netip.Addr{s1}})
	truncRec[9] = 5 // claims five sources (RFC 3376 §4.2.6) ...
	truncRec = withChecksum(truncRec[:len(truncRec)-2])
	manyRecs := withChecksum(append(append([]byte(nil), join[:6]...), 0xff, 0xff))
	bigAux := igmpV3Report(v3Record{Type: toExclude, Group: bad})
	bigAux[9] = 0xff // aux data length far beyond the message
	bigAux = withChecksum(bigAux)
	badType := igmpV3Report(v3Record{Type: 9, Group: bad})
	garbage := func(typ uint8) []byte { return igmpV2(typ, 0, bad) }

	cases := []struct {
		name string
		pkt  []byte
	}{
		{"v2 report, bad checksum", ipv4Packet(host, bad, 1, true, corrupt(igmpV2(igmpV2Report, 0, bad)))},
		{"v3 report, bad checksum", ipv4Packet(host, allV3Rtrs, 1, true, corrupt(join))},
		{"v3 report, truncated source list", ipv4Packet(host, allV3Rtrs, 1, true, truncRec)},
		{"v3 report, 65535 records claimed", ipv4Packet(host, allV3Rtrs, 1, true, manyRecs)},
		{"v3 report, aux data past the end", ipv4Packet(host, allV3Rtrs, 1, true, bigAux)},
		{"v3 report, unknown record type", ipv4Packet(host, allV3Rtrs, 1, true, badType)},
		{"v3 report, TTL 2", ipv4Packet(host, allV3Rtrs, 2, true, join)},
		{"v3 report, no router alert", ipv4Packet(host, allV3Rtrs, 1, false, join)},
		{"v2 leave for the flowing group, bad checksum", ipv4Packet(host, netip.MustParseAddr("224.0.0.2"), 1, true, corrupt(igmpV2(igmpV2Leave, 0, g1.Addr())))},
		{"3-byte message", ipv4Packet(host, allV3Rtrs, 1, true, []byte{igmpV3ReportType, 0, 0})},
		{"empty message", ipv4Packet(host, allV3Rtrs, 1, true, nil)},
		{"type 0x00", ipv4Packet(host, allV3Rtrs, 1, true, garbage(0x00))},
		{"type 0x99", ipv4Packet(host, allV3Rtrs, 1, true, garbage(0x99))},
		{"type 0xff", ipv4Packet(host, allV3Rtrs, 1, true, garbage(0xff))},
		{"unicast v3 report, bad checksum", ipv4Packet(host, routerLAN, 1, true, corrupt(join))},
		{"query from a lower address, bad checksum", ipv4Packet(netip.MustParseAddr("192.168.1.0"), allHosts, 1, true, corrupt(igmpV3GeneralQuery(10)))},
	}
	raw := newRawSender(t, tp.lab, "rcv1", "eth0")
	tp.sendMalformed(len(cases), func(i int) string {
		raw.send(t, cases[i].pkt)
		return cases[i].name
	}, r2, s1)
	if n := sn2.Count(netlab.UDPTo(bad, netip.Addr{}, start)); n != 0 {
		t.Errorf("%d datagrams of %s forwarded to br-lan; only malformed packets named it", n, bad)
	}
	for _, e := range tp.mfc(fam4) {
		if e.Group == bad && len(e.Oifs) != 0 {
			t.Errorf("ip_mr_cache: (%s, %s) has output interfaces %v, want none", e.Origin, e.Group, e.Oifs)
		}
	}
	if groups, _ := tp.upstreamGroups(fam4); groups[bad] {
		t.Errorf("router joined %s upstream because of malformed packets", bad)
	}
	if groups, _ := tp.upstreamGroups(fam4); !groups[g1.Addr()] {
		t.Errorf("router no longer member of %s upstream", g1.Addr())
	}
}

// malformedRounds is how often sendMalformed sends every packet.
const malformedRounds = 3

// sendMalformed sends n malformed packets (send sends the i-th and names it)
// malformedRounds times, 50 ms apart, and watches past a last-member query
// time and a query interval. The daemon must still run and the stream from
// src must have reached r without a gap meanwhile. It returns when the
// first round began.
func (tp *topo) sendMalformed(n int, send func(i int) string, r *netlab.Receiver, src netip.Addr) time.Time {
	t := tp.t
	t.Helper()
	sent := time.Now()
	for round := range malformedRounds {
		for i := range n {
			name := send(i)
			if round == 0 {
				t.Logf("sent: %s", name)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(queryInterval + 500*time.Millisecond)

	if tp.daemon.Exited() {
		t.Fatalf("daemon exited (code %d) after the malformed packets", tp.daemon.ExitCode())
	}
	if gaps := r.GapsBetween(src, sent.Add(-100*time.Millisecond), time.Time{}); len(gaps) != 0 {
		t.Errorf("flowing stream interrupted: %v", gaps)
	}
	return sent
}
