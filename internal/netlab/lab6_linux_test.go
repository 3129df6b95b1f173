//go:build linux

package netlab

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestSameLink6 is TestSameLink for IPv6: with duplicate address detection
// off the addresses are usable at once, the receiver's MLDv2 report shows on
// the wire with hop limit 1 and Router Alert, and an INCLUDE join keeps the
// other source out.
func TestSameLink6(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(l.AddNS("a", "b"))
	must(l.DisableDAD("a", "b"))
	must(l.Link("a", "eth0", "b", "eth0"))
	must(l.AddrNoDAD("a", "eth0", "2001:db8:9::1/64"))
	must(l.AddrNoDAD("a", "eth0", "2001:db8:9::3/64"))
	must(l.AddrNoDAD("b", "eth0", "2001:db8:9::2/64"))
	must(l.SetLinkLocal("a", "eth0", "fe80::a/64"))
	if ll, err := l.WaitLinkLocal("a", "eth0", 5*time.Second); err != nil || ll != netip.MustParseAddr("fe80::a") {
		t.Fatalf("WaitLinkLocal(a) = %v, %v; want fe80::a", ll, err)
	}
	llB, err := l.WaitLinkLocal("b", "eth0", 5*time.Second)
	must(err)
	sn, err := l.NewSniffer6("a", "eth0")
	must(err)

	group := netip.MustParseAddrPort("[ff3e::9:9]:5000")
	src1, src2 := netip.MustParseAddr("2001:db8:9::1"), netip.MustParseAddr("2001:db8:9::3")
	joined := time.Now()
	r, err := l.NewReceiver("b", "eth0", group, Include, src1)
	must(err)
	igmp6, err := l.ReadProc("b", "net/igmp6")
	must(err)
	if !strings.Contains(igmp6, "ff3e0000000000000000000000090009") {
		t.Errorf("group %s not in b's /proc/net/igmp6:\n%s", group.Addr(), igmp6)
	}
	start := time.Now()
	s1, err := l.NewSender("a", "eth0", src1, group, 5*time.Millisecond)
	must(err)
	s2, err := l.NewSender("a", "eth0", src2, group, 5*time.Millisecond)
	must(err)
	deadline := time.Now().Add(3 * time.Second)
	for r.CountSince(src1, start) < 20 {
		if time.Now().After(deadline) {
			t.Fatalf("got %d datagrams from %s in 3s, want 20", r.CountSince(src1, start), src1)
		}
		time.Sleep(10 * time.Millisecond)
	}
	s1.Stop()
	s2.Stop()
	if n := r.CountSince(src2, start); n != 0 {
		t.Errorf("got %d datagrams from excluded source %s", n, src2)
	}
	if g := r.GapsBetween(src1, start, time.Time{}); len(g) != 0 {
		t.Errorf("gaps: %v", g)
	}
	// b's MLDv2 report (type 143) arrived at a, as MLD must be sent.
	reports := sn.Packets(func(p Packet) bool {
		return p.Src == llB && p.Proto == 58 && len(p.Payload) > 0 && p.Payload[0] == 143 && !p.At.Before(joined)
	})
	if len(reports) == 0 {
		t.Fatalf("no MLDv2 report from %s on a's wire", llB)
	}
	if p := reports[0]; p.TTL != 1 || !p.RouterAlert || p.Dst != netip.MustParseAddr("ff02::16") {
		t.Errorf("MLDv2 report: hop limit %d, router alert %v, to %s; want 1, true, ff02::16", p.TTL, p.RouterAlert, p.Dst)
	}
	must(l.Sysctl("b", "net/ipv6/conf/eth0/force_mld_version", "1"))
}
