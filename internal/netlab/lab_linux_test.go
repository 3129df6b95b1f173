//go:build linux

package netlab

import (
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"
)

func newLab(t *testing.T) *Lab {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("netlab tests need root (network namespaces); CI must run as root")
		}
		t.Skip("needs root for network namespaces")
	}
	l, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("close lab: %v", err)
		}
	})
	return l
}

// TestSameLink sends a stream across one veth: the receiver's join shows in
// the namespace's /proc/net/igmp and the datagrams arrive in order.
func TestSameLink(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(l.AddNS("a", "b"))
	must(l.Link("a", "eth0", "b", "eth0"))
	must(l.Addr("a", "eth0", "10.9.0.1/24"))
	must(l.Addr("a", "eth0", "10.9.0.3/24"))
	must(l.Addr("b", "eth0", "10.9.0.2/24"))
	group := netip.MustParseAddrPort("239.9.9.9:5000")
	src1, src2 := netip.MustParseAddr("10.9.0.1"), netip.MustParseAddr("10.9.0.3")
	r, err := l.NewReceiver("b", "eth0", group, Include, src1)
	must(err)
	igmp, err := l.ReadProc("b", "net/igmp")
	must(err)
	if !strings.Contains(igmp, "090909EF") {
		t.Errorf("group 239.9.9.9 not in b's /proc/net/igmp:\n%s", igmp)
	}
	sn, err := l.NewSniffer("b", "eth0")
	must(err)
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
	if n := sn.Count(UDPTo(group.Addr(), src2, start)); n == 0 {
		t.Errorf("sniffer saw no datagrams from %s on the wire", src2)
	}
	if g := r.GapsBetween(src1, start, time.Time{}); len(g) != 0 {
		t.Errorf("gaps: %v", g)
	}
	if err := r.Leave(); err != nil {
		t.Fatal(err)
	}
	if err := l.Sysctl("b", "net.ipv4.conf.eth0.force_igmp_version", "2"); err != nil {
		t.Fatal(err)
	}
	p, err := l.Start("b", "sh", "-c", "cat /proc/sys/net/ipv4/conf/eth0/force_igmp_version; exit 3")
	must(err)
	code, ok := p.Wait(5 * time.Second)
	if !ok || code != 3 || strings.TrimSpace(p.Stdout()) != "2" {
		t.Errorf("Start: exit %d (exited %v), stdout %q; want 3 and \"2\"", code, ok, p.Stdout())
	}
}
