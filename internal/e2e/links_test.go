//go:build linux

package e2e

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/control"
	"github.com/mcast-proxy/mcast-proxy/internal/netlab"
)

// Links that are missing at start, go down, vanish and come back, upstream
// failover and reloads: the daemon follows all of it without a restart, a
// PPPoE upstream without an address at boot, a vanished interface and a
// reload included, and untouched streams keep flowing.

// recoveryLimit bounds how long a stream may take to flow again after a
// link became usable. The daemon coalesces link notifications for 50 ms
// and hosts answer queries within query-response-interval (1 s), so about
// 0.1 to 1 s is expected; the bound leaves room for a loaded machine.
const recoveryLimit = 3 * time.Second

// TestUpstreamAppearsLater: the upstream (a PPPoE link at boot) does not
// exist when the daemon starts. The daemon starts, says once that it waits
// for it, keeps the downstream joins, and forwards as soon as the link
// appears with its address.
func TestUpstreamAppearsLater(t *testing.T) {
	t.Parallel()
	tp := newTopo(t, topoOptions{noDaemon: true})
	tp.must(tp.lab.IP("router", "link", "del", "up0")) // takes src's eth0 with it
	tp.startDaemon(testConfig)
	tp.waitVIFs(fam4, "br-lan", "down2")
	st := tp.waitAnswering()
	if up, ok := ifState(st, "up0", "ipv4"); !ok || up.State != control.StateWaiting || up.VIF != -1 {
		t.Errorf("status of the missing upstream: %+v (found %v), want state %q and VIF -1", up, ok, control.StateWaiting)
	}

	// A host joins while there is no upstream: the join is kept.
	r1 := tp.receiver("rcv1", g1, netlab.AnySource)
	tp.waitFor(5*time.Second, "rcv1's join of "+g1.Addr().String()+" in the status of br-lan", func() bool {
		st, _ := tp.queryStatus()
		i, _ := ifState(st, "br-lan", "ipv4")
		for _, g := range i.Groups {
			if g.Group == g1.Addr() {
				return true
			}
		}
		return false
	})
	if tp.daemon.Exited() {
		t.Fatalf("daemon exited with code %d without its upstream", tp.daemon.ExitCode())
	}
	// Said once, however many link changes (the host's join, two
	// downstreams) were reconciled meanwhile.
	waiting := regexp.MustCompile(`level=WARN msg="no upstream interface exists yet; waiting for it".*\bup0\b`)
	if n := tp.logMatches(waiting); n != 1 {
		t.Errorf("%d log lines say the daemon waits for up0, want exactly 1:\n%s", n, indent(tp.daemon.Stderr()))
	}

	created := tp.linkUp0([]string{"10.0.0.2/24", "10.0.0.3/24"}, "10.0.0.1/24")
	tp.sender(s1, g1)
	at := tp.waitFlowing(r1, s1, created, 10, 10*time.Second)
	t.Logf("upstream link created and addressed -> first datagram at rcv1: %v", at.Sub(created).Round(time.Millisecond))
	if d := at.Sub(created); d > recoveryLimit {
		t.Errorf("first datagram %v after the upstream appeared, want within %v", d.Round(time.Millisecond), recoveryLimit)
	}
	if !tp.joinedOn("up0")[g1.Addr()] {
		t.Errorf("router's /proc/net/igmp does not list %s on up0: the subscription was not replayed", g1.Addr())
		tp.logProc("net/igmp")
	}
	if up, ok := ifState(tp.waitAnswering(), "up0", "ipv4"); !ok || up.State != control.StateActive || up.Ifindex != tp.indexOf("router", "up0") {
		t.Errorf("status of up0 after it appeared: %+v, want active with ifindex %d", up, tp.indexOf("router", "up0"))
	}
}

// TestDownstreamAppearsLater: a downstream missing at start is put in
// service when it appears: its host hears the startup query, joins and
// receives the stream.
func TestDownstreamAppearsLater(t *testing.T) {
	t.Parallel()
	tp := newTopo(t, topoOptions{noDaemon: true})
	tp.must(tp.lab.IP("router", "link", "del", "down2"))
	tp.startDaemon(testConfig)
	tp.waitVIFs(fam4, "up0", "br-lan")
	tp.waitAnswering()
	tp.sender(s1, g1)

	// The listener is not bound to an interface, so it exists before the
	// link and hears the very first query.
	l := newIGMPListener(t, tp.lab, "rcv3", "eth0")
	created := time.Now()
	tp.must(tp.lab.Link("router", "down2", "rcv3", "eth0"))
	tp.must(tp.lab.Addr("router", "down2", "192.168.2.1/24"))
	tp.must(tp.lab.Addr("rcv3", "eth0", "192.168.2.13/24"))
	usable := time.Now()
	routerAddr := netip.MustParseAddr("192.168.2.1")
	tp.waitFor(5*time.Second, "a general query from 192.168.2.1 on the new down2", func() bool {
		return len(l.messages(created, generalQueryFrom(routerAddr))) > 0
	})
	q := l.messages(created, generalQueryFrom(routerAddr))[0]
	t.Logf("down2 created -> first general query heard by rcv3: %v (addressed and up after %v)",
		q.At.Sub(created).Round(time.Millisecond), usable.Sub(created).Round(time.Millisecond))
	tp.waitVIFs(fam4, "up0", "br-lan", "down2")

	r3 := tp.receiver("rcv3", g1, netlab.AnySource)
	joined := time.Now()
	at := tp.waitFlowing(r3, s1, joined, 20, 5*time.Second)
	t.Logf("rcv3 joined -> first datagram: %v", at.Sub(joined).Round(time.Millisecond))
}

// TestDownstreamDownUp: while a downstream link is down nothing is
// forwarded to it, for longer than the membership timeout; when it comes
// back up the router queries at once, the host that is still joined
// answers and gets the stream again.
func TestDownstreamDownUp(t *testing.T) {
	t.Parallel()
	tp := newTopo(t, topoOptions{})
	l := newIGMPListener(t, tp.lab, "rcv3", "eth0")
	r3 := tp.receiver("rcv3", g1, netlab.AnySource)
	sn3 := tp.sniffer(fam4, "rcv3")
	start := time.Now()
	tp.sender(s1, g1)
	tp.waitFlowing(r3, s1, start, 20, 5*time.Second)
	down2 := tp.vifs(fam4)["down2"]

	tp.must(tp.lab.IP("router", "link", "set", "down2", "down"))
	wentDown := time.Now()
	tp.waitFor(5*time.Second, "down2 (VIF "+fmt.Sprint(down2)+") to leave the outputs of the forwarding entry", func() bool {
		for _, e := range tp.mfcFor(s1, g1.Addr()) {
			if _, ok := e.Oifs[down2]; ok {
				return false
			}
		}
		return true
	})
	t.Logf("down2 down -> removed from the forwarding entry: %v", time.Since(wentDown).Round(time.Millisecond))
	outBefore := tp.vifPktsOut("down2")
	// Stay down past the membership timeout, so that only a fresh report
	// can bring the stream back.
	time.Sleep(membershipTime + stopMargin)
	if n := tp.vifPktsOut("down2") - outBefore; n != 0 {
		t.Errorf("the router sent %d datagrams out of down2's VIF while it was down", n)
	}
	if n := sn3.Count(netlab.UDPTo(g1.Addr(), s1, wentDown.Add(100*time.Millisecond))); n != 0 {
		t.Errorf("%d datagrams of %s on rcv3's wire while down2 was down", n, g1.Addr())
	}
	if tp.daemon.Exited() {
		t.Fatalf("daemon exited with code %d after a downstream went down", tp.daemon.ExitCode())
	}

	tp.must(tp.lab.IP("router", "link", "set", "down2", "up"))
	up := time.Now()
	at := tp.waitFlowing(r3, s1, up, 20, 10*time.Second)
	t.Logf("down2 up -> stream back at rcv3 (still joined): %v", at.Sub(up).Round(time.Millisecond))
	if d := at.Sub(up); d > recoveryLimit {
		t.Errorf("stream back %v after down2 came up, want within %v", d.Round(time.Millisecond), recoveryLimit)
	}
	qs := l.messages(up, generalQueryFrom(netip.MustParseAddr("192.168.2.1")))
	if len(qs) == 0 {
		t.Fatalf("rcv3 heard no general query after down2 came up")
	}
	t.Logf("down2 up -> first general query at rcv3: %v", qs[0].At.Sub(up).Round(time.Millisecond))
	// A startup query, not the next regular one (every 2 s).
	if d := qs[0].At.Sub(up); d > queryInterval/2+500*time.Millisecond {
		t.Errorf("first general query %v after down2 came up: no startup query", d.Round(time.Millisecond))
	}
}

// TestUpstreamRecreated: a PPPoE reconnect deletes the upstream and creates
// it again under the same name, with a new index and perhaps a new subnet.
// Forwarding resumes without a restart and nothing stale stays in the
// kernel.
func TestUpstreamRecreated(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name       string
		srcCIDR    string
		routerCIDR string
		// atOnce recreates the link without waiting for the daemon to
		// see it gone: one snapshot may show only a new index.
		atOnce bool
	}{
		{"same addresses", "10.0.0.2/24", "10.0.0.1/24", false},
		{"same addresses at once", "10.0.0.2/24", "10.0.0.1/24", true},
		// The router gets a new subnet; the sender stays accepted through
		// the configured 'source 10.0.0.0/24'.
		{"new subnet", "10.0.0.2/24", "10.9.0.1/24", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			tp := newTopo(t, topoOptions{})
			var r1 *netlab.Receiver
			var renewed *netlab.Sender
			t.Cleanup(func() {
				// The kernel's and the daemon's view when the stream did
				// not come back: which VIFs exist, with their packet
				// counters, the entries with theirs (packets, wrong
				// interface), the daemon's routes and br-lan's groups.
				if t.Failed() {
					tp.logProc("net/ip_mr_vif")
					tp.logProc("net/ip_mr_cache")
					tp.logStatus()
					if renewed != nil {
						last, _ := r1.Last(s1)
						t.Logf("the new sender handed %d datagrams to its kernel; rcv1's last datagram from %s arrived at %s", renewed.Sent(), s1, last.Format(time.RFC3339Nano))
					}
					out, err := tp.lab.IPOutput("router", "-d", "addr", "show", "up0")
					t.Logf("ip -d addr show up0 (%v):\n%s", err, indent(out))
				}
			})
			r1 = tp.receiver("rcv1", g1, netlab.AnySource)
			start := time.Now()
			old := tp.sender(s1, g1)
			tp.waitFlowing(r1, s1, start, 20, 5*time.Second)
			oldIndex := tp.indexOf("router", "up0")

			tp.must(tp.lab.IP("router", "link", "del", "up0"))
			old.Stop() // its interface is gone
			if !c.atOnce {
				tp.waitFor(5*time.Second, "up0's VIF to go", func() bool { return len(tp.vifLines("up0")) == 0 })
			}

			usable := tp.linkUp0([]string{c.srcCIDR}, c.routerCIDR)
			newIndex := tp.indexOf("router", "up0")
			renewed = tp.sender(s1, g1)
			at := tp.waitFlowing(r1, s1, usable, 20, 10*time.Second)
			t.Logf("up0 recreated (ifindex %d -> %d), usable -> stream at rcv1: %v", oldIndex, newIndex, at.Sub(usable).Round(time.Millisecond))
			if d := at.Sub(usable); d > recoveryLimit {
				t.Errorf("stream back %v after up0 was usable again, want within %v", d.Round(time.Millisecond), recoveryLimit)
			}

			// Nothing stale: one VIF for up0, on the new index; entries
			// come in through it; the old source's entry is gone.
			if lines := tp.vifLines("up0"); len(lines) != 1 {
				t.Errorf("/proc/net/ip_mr_vif has %d lines for up0, want 1: %q", len(lines), lines)
			}
			st := tp.waitAnswering()
			if up, _ := ifState(st, "up0", "ipv4"); up.Ifindex != newIndex || up.State != control.StateActive {
				t.Errorf("status of up0: ifindex %d state %q, want %d active", up.Ifindex, up.State, newIndex)
			}
			upVIF := tp.vifs(fam4)["up0"]
			for _, e := range tp.mfc(fam4) {
				if e.Iif != upVIF {
					t.Errorf("forwarding entry (%s, %s) comes in on VIF %d, want up0's VIF %d", e.Origin, e.Group, e.Iif, upVIF)
				}
			}
			for _, r := range st.Routes {
				if r.Input != "up0" {
					t.Errorf("status route (%s, %s) input %q, want up0", r.Source, r.Group, r.Input)
				}
			}
			mroute := tp.ipOut("router", "mroute", "show")
			t.Logf("ip mroute show after the reconnect:\n%s", indent(mroute))
			for _, line := range strings.Split(strings.TrimSpace(mroute), "\n") {
				if line != "" && !strings.Contains(line, "Iif: up0") {
					t.Errorf("ip mroute entry not coming in on up0: %s", line)
				}
			}
			if !tp.joinedOn("up0")[g1.Addr()] {
				t.Errorf("router's /proc/net/igmp does not list %s on the new up0", g1.Addr())
				tp.logProc("net/igmp")
			}
		})
	}
}

// configWithDown2 adds down2 to configBrLanOnly and slows br-lan's
// queries from 2 s to 3 s.
var slowerQueries = strings.Replace(downstreamTimers, "query-interval 2s", "query-interval 3s", 1)

var (
	configBrLanOnly = "ipv4 yes\n" +
		"interface up0 { upstream; source 10.0.0.0/24 }\n" +
		"interface br-lan { downstream; " + downstreamTimers + " }\n"
	configWithDown2 = "ipv4 yes\n" +
		"interface up0 { upstream; source 10.0.0.0/24 }\n" +
		"interface br-lan { downstream; " + slowerQueries + " }\n" +
		"interface down2 { downstream; " + downstreamTimers + " }\n"
)

// TestReloadKeepsStreams: a reload (SIGHUP, then 'mcast-proxy reload')
// that adds a downstream and changes a timer on another applies the
// difference: the new downstream is served, and a stream counted packet by
// packet on the untouched path loses nothing.
func TestReloadKeepsStreams(t *testing.T) {
	t.Parallel()
	tp := newTopo(t, topoOptions{noDaemon: true})
	tp.startDaemon(configBrLanOnly)
	tp.waitVIFs(fam4, "up0", "br-lan")
	tp.waitAnswering()
	r1 := tp.receiver("rcv1", g1, netlab.AnySource)
	start := time.Now()
	tp.sender(s1, g1) // 100 datagrams per second
	tp.waitFlowing(r1, s1, start, 50, 5*time.Second)
	if _, ok := tp.vifs(fam4)["down2"]; ok {
		t.Fatalf("down2 has a VIF before it is configured")
	}

	// SIGHUP with down2 added and br-lan's query interval changed.
	reloaded := regexp.MustCompile(`msg="configuration reloaded"`)
	from := time.Now()
	tp.writeConfig(configWithDown2)
	tp.must(tp.daemon.Signal(syscall.SIGHUP))
	tp.waitLog(reloaded, 1, 5*time.Second)
	tp.waitVIFs(fam4, "up0", "br-lan", "down2")
	if n := tp.logMatches(regexp.MustCompile(`downstream reconfigured.*interface=br-lan`)); n != 1 {
		t.Errorf("%d 'downstream reconfigured' log lines for br-lan, want 1", n)
	}
	r3 := tp.receiver("rcv3", g1, netlab.AnySource)
	joined := time.Now()
	at := tp.waitFlowing(r3, s1, joined, 20, 5*time.Second)
	t.Logf("after SIGHUP: rcv3 on the new down2 joined -> first datagram: %v", at.Sub(joined).Round(time.Millisecond))
	time.Sleep(500 * time.Millisecond) // a window after the reload as well
	tp.noGaps(r1, s1, from, time.Now(), "rcv1 across the SIGHUP reload")

	// The same through the control socket, back to the first timers.
	from = time.Now()
	tp.writeConfig(strings.Replace(configWithDown2, slowerQueries, downstreamTimers, 1))
	code, out, errOut := tp.runCLI("reload")
	t.Logf("mcast-proxy reload: exit %d, stdout %q, stderr %q", code, out, errOut)
	if code != 0 {
		t.Errorf("mcast-proxy reload exit code %d, want 0", code)
	}
	tp.waitLog(reloaded, 2, 5*time.Second)
	time.Sleep(500 * time.Millisecond)
	now := time.Now()
	tp.noGaps(r1, s1, from, now, "rcv1 across 'mcast-proxy reload'")
	tp.noGaps(r3, s1, from, now, "rcv3 across 'mcast-proxy reload'")
	if n := r1.CountSince(s1, from); n < 25 {
		t.Errorf("rcv1 received only %d datagrams around the second reload", n)
	}
}

// TestReloadInvalidConfig: a broken configuration changes nothing. The
// daemon logs the error with its position and keeps running on the old
// configuration, the stream continues without a gap, and 'mcast-proxy
// reload' exits 1 printing the error.
func TestReloadInvalidConfig(t *testing.T) {
	t.Parallel()
	tp := newTopo(t, topoOptions{})
	r1 := tp.receiver("rcv1", g1, netlab.AnySource)
	start := time.Now()
	tp.sender(s1, g1)
	tp.waitFlowing(r1, s1, start, 50, 5*time.Second)

	from := time.Now()
	// Line 2, column 17 is the misspelled "upstrem".
	tp.writeConfig("ipv4 yes\ninterface up0 { upstrem }\ninterface br-lan { downstream }\n")
	tp.must(tp.daemon.Signal(syscall.SIGHUP))
	logged := regexp.MustCompile(`level=ERROR .*mcast-proxy\.conf:2:17: `)
	tp.waitLog(logged, 1, 5*time.Second)
	code, out, errOut := tp.runCLI("reload")
	t.Logf("mcast-proxy reload: exit %d, stdout %q, stderr %q", code, out, errOut)
	if code != 1 {
		t.Errorf("mcast-proxy reload exit code %d, want 1", code)
	}
	if !regexp.MustCompile(`(?m)^\S*mcast-proxy\.conf:2:17: .+$`).MatchString(errOut) {
		t.Errorf("mcast-proxy reload stderr has no 'file:2:17: message' line:\n%s", errOut)
	}
	time.Sleep(time.Second)
	if tp.daemon.Exited() {
		t.Fatalf("daemon exited with code %d after an invalid reload", tp.daemon.ExitCode())
	}
	tp.noGaps(r1, s1, from, time.Now(), "rcv1 across two rejected reloads")
	if n := r1.CountSince(s1, from); n < 50 {
		t.Errorf("rcv1 received only %d datagrams in the %v around the rejected reloads", n, time.Since(from).Round(time.Millisecond))
	}
	// Still the old configuration: down2 keeps its VIF and serves rcv3.
	tp.waitVIFs(fam4, "up0", "br-lan", "down2")
	r3 := tp.receiver("rcv3", g1, netlab.AnySource)
	tp.waitFlowing(r3, s1, time.Now(), 20, 5*time.Second)
}

// TestUpstreamFailover: two upstreams, each from its own sender. The
// stream comes through up0 (priority 10); when up0 goes down the daemon
// moves the subscription to up1 (priority 20) and forwards from there; when
// up0 comes back everything returns to it.
func TestUpstreamFailover(t *testing.T) {
	t.Parallel()
	tp := newTopo(t, topoOptions{noDaemon: true})
	tp.must(tp.lab.Link("src", "eth1", "router", "up1"))
	tp.must(tp.lab.Addr("src", "eth1", "10.0.1.2/24"))
	tp.must(tp.lab.Addr("router", "up1", "10.0.1.1/24"))
	tp.must(tp.lab.Sysctl("router", "net/ipv4/conf/up1/rp_filter", "0"))
	viaUp1 := netip.MustParseAddr("10.0.1.2")
	tp.startDaemon("ipv4 yes\n" +
		"interface up0 { upstream; priority 10 }\n" +
		"interface up1 { upstream; priority 20 }\n" +
		"interface br-lan { downstream; " + downstreamTimers + " }\n")
	tp.waitVIFs(fam4, "up0", "br-lan")

	r1 := tp.receiver("rcv1", g1, netlab.AnySource)
	sn1 := tp.sniffer(fam4, "rcv1")
	start := time.Now()
	tp.sender(s1, g1)
	_, err := tp.lab.NewSender("src", "eth1", viaUp1, g1, streamInterval) // the lab stops it
	tp.must(err)
	tp.waitFlowing(r1, s1, start, 20, 5*time.Second)
	if n := r1.CountSince(viaUp1, start); n != 0 {
		t.Errorf("rcv1 got %d datagrams from %s through the standby upstream up1", n, viaUp1)
	}
	if st, _ := ifState(tp.waitAnswering(), "up1", "ipv4"); st.State != control.StateStandby {
		t.Errorf("status of up1 while up0 is in use: %q, want %q", st.State, control.StateStandby)
	}

	switched := regexp.MustCompile(`msg="upstream switched" from=up0 to=up1`)
	tp.must(tp.lab.IP("router", "link", "set", "up0", "down"))
	down := time.Now()
	at := tp.waitFlowing(r1, viaUp1, down, 20, 10*time.Second)
	t.Logf("up0 down -> stream through up1 at rcv1: %v", at.Sub(down).Round(time.Millisecond))
	if d := at.Sub(down); d > recoveryLimit {
		t.Errorf("stream through up1 %v after up0 went down, want within %v", d.Round(time.Millisecond), recoveryLimit)
	}
	tp.waitLog(switched, 1, 5*time.Second)
	if !tp.joinedOn("up1")[g1.Addr()] {
		t.Errorf("router's /proc/net/igmp does not list %s on up1 after the switch", g1.Addr())
		tp.logProc("net/igmp")
	}
	if n, m := len(tp.vifLines("up1")), len(tp.vifLines("up0")); n != 1 || m != 0 {
		t.Errorf("after the switch: %d VIFs for up1 and %d for up0, want 1 and 0", n, m)
	}
	st := tp.waitAnswering()
	if u0, _ := ifState(st, "up0", "ipv4"); u0.State != control.StateWaiting {
		t.Errorf("status of up0 while down: %q, want %q", u0.State, control.StateWaiting)
	}
	if u1, _ := ifState(st, "up1", "ipv4"); u1.State != control.StateActive {
		t.Errorf("status of up1 after the switch: %q, want %q", u1.State, control.StateActive)
	}
	for _, sub := range st.Upstream {
		if sub.Interface != "up1" {
			t.Errorf("status: subscription to %s on %q, want up1", sub.Group, sub.Interface)
		}
	}

	tp.must(tp.lab.IP("router", "link", "set", "up0", "up"))
	back := time.Now()
	at = tp.waitFlowing(r1, s1, back, 20, 10*time.Second)
	t.Logf("up0 up -> stream through up0 again at rcv1: %v", at.Sub(back).Round(time.Millisecond))
	tp.waitLog(regexp.MustCompile(`msg="upstream switched" from=up1 to=up0`), 1, 5*time.Second)
	last := tp.waitStopped(sn1, netlab.UDPTo(g1.Addr(), viaUp1, back), time.Second, 5*time.Second, "the stream through up1")
	t.Logf("up0 up -> last datagram through up1 on rcv1's wire: %v", last.Sub(back).Round(time.Millisecond))
	if !tp.joinedOn("up0")[g1.Addr()] {
		t.Errorf("router's /proc/net/igmp does not list %s on up0 after the switch back", g1.Addr())
	}
	if tp.joinedOn("up1")[g1.Addr()] {
		t.Errorf("router's /proc/net/igmp still lists %s on up1 after the switch back", g1.Addr())
	}
	mroute := tp.ipOut("router", "mroute", "show")
	t.Logf("ip mroute show after the switch back:\n%s", indent(mroute))
	if !regexp.MustCompile(`\(10\.0\.0\.2, ?239\.1\.1\.1\)\s+Iif: up0\s`).MatchString(mroute) {
		t.Errorf("ip mroute has no (10.0.0.2, 239.1.1.1) entry coming in on up0")
	}
}

// TestOwnTable: another program owns the default multicast routing table;
// with 'table 10' the daemon starts beside it, installs its rules,
// forwards, and removes the rules when it stops.
func TestOwnTable(t *testing.T) {
	t.Parallel()
	tp := newTopo(t, topoOptions{noDaemon: true})
	holdMRTInit(t, tp.lab, "router")
	tp.startDaemon("table 10\n" + testConfig)
	tp.waitAnswering()
	rulesFor := regexp.MustCompile(`lookup 10\b`)
	var rules string
	tp.waitFor(5*time.Second, "the daemon's rules in 'ip mrule show'", func() bool {
		rules = tp.ipOut("router", "mrule", "show")
		for _, ifname := range []string{"up0", "br-lan", "down2"} {
			for _, dir := range []string{"iif", "oif"} {
				if !regexp.MustCompile(dir + ` ` + ifname + ` lookup 10\b`).MatchString(rules) {
					return false
				}
			}
		}
		return true
	})
	t.Logf("ip mrule show:\n%s", indent(rules))

	r1 := tp.receiver("rcv1", g1, netlab.AnySource)
	start := time.Now()
	tp.sender(s1, g1)
	at := tp.waitFlowing(r1, s1, start, 20, 5*time.Second)
	t.Logf("table 10: first datagram at rcv1 %v after the stream started", at.Sub(start).Round(time.Millisecond))
	t.Logf("ip mroute show table 10:\n%s", indent(tp.ipOut("router", "mroute", "show", "table", "10")))

	tp.must(tp.daemon.Signal(syscall.SIGTERM))
	if code, ok := tp.daemon.Wait(5 * time.Second); !ok || code != 0 {
		t.Fatalf("daemon after SIGTERM: exited %v, code %d; want exit 0", ok, code)
	}
	if rules := tp.ipOut("router", "mrule", "show"); rulesFor.MatchString(rules) {
		t.Errorf("rules left after exit:\n%s", indent(rules))
	}
}

// TestStatusWaitingActive: status shows a missing downstream as waiting,
// and as active with its index and VIF once it appears.
func TestStatusWaitingActive(t *testing.T) {
	t.Parallel()
	tp := newTopo(t, topoOptions{noDaemon: true})
	tp.must(tp.lab.IP("router", "link", "del", "down2"))
	tp.startDaemon(testConfig)
	tp.waitVIFs(fam4, "up0", "br-lan")
	st := tp.waitAnswering()
	d, ok := ifState(st, "down2", "ipv4")
	if !ok || d.State != control.StateWaiting || d.Ifindex != 0 || d.VIF != -1 || d.Role != "downstream" {
		t.Errorf("status of the missing down2: %+v (found %v), want downstream, waiting, ifindex 0, VIF -1", d, ok)
	}
	if b, _ := ifState(st, "br-lan", "ipv4"); b.State != control.StateActive {
		t.Errorf("status of br-lan: %q, want %q", b.State, control.StateActive)
	}
	code, text, _ := tp.runCLI("status")
	if code != 0 || !regexp.MustCompile(`(?m)^\s+down2\s+ipv4\s+downstream\s+waiting\b`).MatchString(text) {
		t.Errorf("mcast-proxy status (exit %d) does not show down2 waiting:\n%s", code, text)
	}

	tp.must(tp.lab.Link("router", "down2", "rcv3", "eth0"))
	tp.must(tp.lab.Addr("router", "down2", "192.168.2.1/24"))
	created := time.Now()
	idx := tp.indexOf("router", "down2")
	tp.waitFor(5*time.Second, "down2 active in the status", func() bool {
		st, _ := tp.queryStatus()
		d, _ = ifState(st, "down2", "ipv4")
		return d.State == control.StateActive
	})
	t.Logf("down2 created -> active in the status: %v", time.Since(created).Round(time.Millisecond))
	if d.Ifindex != idx || d.VIF < 0 || len(d.Addresses) != 1 || d.Addresses[0] != "192.168.2.1" {
		t.Errorf("status of down2 after it appeared: %+v, want ifindex %d, a VIF and address 192.168.2.1", d, idx)
	}
}
