//go:build linux

package e2e

// Steps the IGMP tests and their MLD twins share: the same scenario, with
// the family's sources and groups.

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/netlab"
)

// wireCheck names a group that must not appear on a sniffed wire.
type wireCheck struct {
	name  string
	sn    *netlab.Sniffer
	group netip.Addr
}

// notOnWire fails the test for every check whose group was seen on its wire
// since start.
func (tp *topo) notOnWire(start time.Time, checks ...wireCheck) {
	tp.t.Helper()
	for _, c := range checks {
		if n := c.sn.Count(netlab.UDPTo(c.group, netip.Addr{}, start)); n != 0 {
			tp.t.Errorf("%s: %d datagrams of %s on the wire, want none", c.name, n, c.group)
		}
	}
}

// onlyOutputs checks the router's forwarding entries of f: those of each
// group in want forward out of exactly the named interfaces (none for an
// empty list). It logs the kernel's tables if the test failed.
func (tp *topo) onlyOutputs(f *family, want map[netip.Addr][]string) {
	tp.t.Helper()
	vifs := tp.vifs(f)
	for _, e := range tp.mfc(f) {
		names, ok := want[e.Group]
		if !ok {
			continue
		}
		outs := make(map[int]bool)
		for _, n := range names {
			outs[vifs[n]] = true
		}
		match := len(e.Oifs) == len(outs)
		for o := range e.Oifs {
			match = match && outs[o]
		}
		if !match {
			tp.t.Errorf("%s: (%s, %s) has output interfaces %v, want %v (%s %v)", f.mfcProc, e.Origin, e.Group, e.Oifs, names, f.slot, outs)
		}
	}
	if tp.t.Failed() {
		tp.logProc(f.vifProc)
		tp.logProc(f.mfcProc)
	}
}

// secondJoin has rcv3 on down2 join group while its stream from src already
// flows to r1: rcv3 must get it within limit, and r1 lose nothing.
func (tp *topo) secondJoin(r1 *netlab.Receiver, src netip.Addr, group netip.AddrPort, limit time.Duration, label string) {
	t := tp.t
	t.Helper()
	joined := time.Now()
	r3 := tp.receiver("rcv3", group, netlab.AnySource)
	first := tp.waitFlowing(r3, src, joined, 1, 3*time.Second)
	latency := first.Sub(joined)
	t.Logf("%srcv3 on down2 got the flowing stream %v after joining (limit %v)", label, latency.Round(time.Millisecond), limit)
	if latency > limit {
		t.Errorf("join latency %v, want under %v", latency, limit)
	}
	if gaps := r1.GapsBetween(src, joined, time.Time{}); len(gaps) != 0 {
		t.Errorf("rcv1 lost datagrams while rcv3 joined: %v", gaps)
	}
}

// otherKeepsFlowing has r1 leave while r2 on the same LAN receives the
// stream from src: r2 must go on without a gap past the last member queries
// and a full query interval. It returns when r1 left and how long it
// watched.
func (tp *topo) otherKeepsFlowing(r1, r2 *netlab.Receiver, src netip.Addr) (left time.Time, watch time.Duration) {
	t := tp.t
	t.Helper()
	left = time.Now()
	tp.must(r1.Leave())
	watch = lastMemberTime + queryInterval + 500*time.Millisecond
	time.Sleep(watch)
	tp.stillFlowing(r2, src, fmt.Sprintf("rcv2 %v after rcv1 left", watch))
	if gaps := r2.GapsBetween(src, left.Add(-200*time.Millisecond), time.Time{}); len(gaps) != 0 {
		t.Errorf("rcv2 lost datagrams after rcv1 left: %v", gaps)
	}
	return left, watch
}

// lastLeaves has r1, the last member on br-lan, leave: the stream from src
// seen by sn must stop within the last member (listener) query time (RFC
// 3376 §6.4.2, RFC 3810 §7.4.2) plus a margin, and stay stopped.
func (tp *topo) lastLeaves(r1 *netlab.Receiver, sn *netlab.Sniffer, src netip.Addr, group netip.Addr, label string) {
	t := tp.t
	t.Helper()
	left := time.Now()
	tp.must(r1.Leave())
	stream := netlab.UDPTo(group, src, left)
	limit := lastMemberTime + stopMargin
	last := tp.waitStopped(sn, stream, 500*time.Millisecond, limit+2*time.Second, "the stream of "+group.String()+" on br-lan")
	stop := last.Sub(left)
	if last.IsZero() {
		stop = 0
	}
	t.Logf("%sstream stopped %v after the last member left (limit %v)", label, stop.Round(time.Millisecond), limit)
	if stop > limit {
		t.Errorf("stream stopped %v after the leave, want within %v (last member query time %v plus %v)", stop, limit, lastMemberTime, stopMargin)
	}
	time.Sleep(time.Second)
	if n := sn.Count(netlab.UDPTo(group, src, last.Add(time.Millisecond))); n != 0 {
		t.Errorf("%d datagrams arrived after the stream had stopped", n)
	}
}
