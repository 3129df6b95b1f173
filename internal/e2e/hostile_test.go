//go:build linux

package e2e

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mcast-proxy/mcast-proxy/internal/control"
	"github.com/mcast-proxy/mcast-proxy/internal/netlab"
)

// Figures of the flood: 64 spoofed hosts, each reporting every group with
// the largest source list that fits in one 1500-byte frame, for
// floodHostileGroups groups of each family. IGMPv3: 24 bytes of IP header
// with Router Alert, 8 of report header, 8 of record header: 365 sources.
// MLDv2: 40 bytes of IPv6 header, 8 of hop-by-hop options, 8 of report
// header, 20 of record header: 89 sources. That is the attack this test
// stands for (131,072 IGMPv3 reports once took the daemon to 104 MB).
const (
	floodHosts         = 64
	floodSources       = (1500 - 24 - 8 - 8) / 4
	floodSources6      = (1500 - 40 - 8 - 8 - 20) / 16
	floodHostileGroups = 2048
	floodMaxDuration   = 30 * time.Second
	// floodRSSLimit is the peak resident memory the daemon may reach with
	// the default limits, in KiB (docs/performance.md).
	floodRSSLimit = 24 << 10
)

// TestHostileFlood: one LAN namespace floods IGMPv3 and MLDv2 reports from
// 64 spoofed addresses each, with the largest source lists that fit, for
// thousands of groups, as fast as it can. With the default limits the
// daemon's peak RSS stays under floodRSSLimit, a stream joined before the
// flood by a real host keeps flowing without a gap, and status answers
// throughout.
func TestHostileFlood(t *testing.T) {
	t.Parallel()
	tp := newTopo(t, topoOptions{ipv6: true, config: dualConfig})
	// The spoofed link-local sources of the MLD flood are not rcv2's own.
	tp.must(tp.lab.Sysctl("rcv2", "net/ipv6/ip_nonlocal_bind", "1"))
	r1 := tp.receiver("rcv1", g1, netlab.AnySource)
	start := time.Now()
	tp.sender(s1, g1)
	tp.waitFlowing(r1, s1, start, 50, 5*time.Second)
	rss0, err := rssKiB(tp.daemon.Pid())
	tp.must(err)
	t.Logf("before the flood: %s", tp.resources())

	// status, polled all along from another goroutine: every call must
	// answer (exit 0) within the client's own 2 s.
	var (
		mu           sync.Mutex
		polls, fails int
		heldPolls    int // answers that said expiry was held on a link
		failure      string
	)
	stopPoll, pollDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(pollDone)
		for {
			select {
			case <-stopPoll:
				return
			case <-time.After(500 * time.Millisecond):
			}
			out, err := exec.Command(daemonBin, "status", "-s", tp.sock).CombinedOutput()
			mu.Lock()
			polls++
			if err != nil {
				fails++
				failure = fmt.Sprintf("%v: %s", err, out)
			}
			if strings.Contains(string(out), ", expiry held ") {
				heldPolls++
			}
			mu.Unlock()
		}
	}()

	sources := make([]netip.Addr, floodSources)
	for i := range sources {
		sources[i] = netip.AddrFrom4([4]byte{10, 200, byte(i >> 8), byte(i)})
	}
	sources6 := make([]netip.Addr, floodSources6)
	for i := range sources6 {
		sources6[i] = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0xf1, 0x00, 14: byte(i >> 8), 15: byte(i)})
	}
	rs := newRawSender(t, tp.lab, "rcv2", "eth0")
	ms := newMLDSender(t, tp.lab, "rcv2", "eth0")
	// What the flood makes the router send its provider: membership
	// reports on the upstream link.
	up4, up6 := tp.sniffer(fam4, "src"), tp.sniffer(fam6, "src")
	floodAt := time.Now()
	var sent4, sent6 int
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for _, grp := range floodGroups(floodHostileGroups) {
			report := igmpV3Report(v3Record{Type: modeIsInclude, Group: grp, Sources: sources})
			for h := range floodHosts {
				if time.Since(floodAt) > floodMaxDuration {
					return
				}
				host := netip.AddrFrom4([4]byte{192, 168, 1, byte(100 + h)})
				pkt := ipv4Packet(host, allV3Rtrs, 1, true, report)
				// The socket buffer fills faster than the wire drains:
				// ENOBUFS is the flood's own back-pressure, not a failure.
				if err := unix.Sendto(rs.fd, pkt, 0, &unix.SockaddrInet4{Addr: allV3Rtrs.As4()}); err == nil {
					sent4++
				}
			}
		}
	}()
	go func() {
		defer wg.Done()
		for i := range floodHostileGroups {
			grp := netip.AddrFrom16([16]byte{0xff, 0x0e, 12: 0xf1, 13: byte(i >> 16), 14: byte(i >> 8), 15: byte(i)})
			report := mldV2Report(v3Record{Type: mldIsInclude, Group: grp, Sources: sources6})
			for h := range floodHosts {
				if time.Since(floodAt) > floodMaxDuration {
					return
				}
				host := netip.AddrFrom16([16]byte{0xfe, 0x80, 14: 0xf1, 15: byte(h)})
				if ms.trySend(mldPacket{src: host, dst: allMLDv2Rtrs, hopLimit: 1, routerAlert: true, msg: report}) == nil {
					sent6++
				}
			}
		}
	}()
	wg.Wait()
	floodTime := time.Since(floodAt)
	t.Logf("the flood sent: %s", tp.resources())
	t.Logf("in %v sent %d IGMPv3 reports of %d sources and %d MLDv2 reports of %d sources, from %d addresses each (%.0f reports/s)",
		floodTime.Round(time.Millisecond), sent4, floodSources, sent6, floodSources6, floodHosts, float64(sent4+sent6)/floodTime.Seconds())
	if sent6 == 0 {
		t.Errorf("no MLDv2 report could be sent")
	}

	// Let the daemon drain its queue: the refusal counters stop moving.
	var prev string
	st := tp.waitStatus(60*time.Second, "the refusal counters to settle", func(st control.Status) bool {
		c, c6 := counters(st, control.FamilyIPv4).Dropped, counters(st, control.FamilyIPv6).Dropped
		now := fmt.Sprint(c["limit"], c["memory"], c["socket_overflow"], c6["limit"], c6["memory"], c6["socket_overflow"])
		settled := now == prev
		prev = now
		return settled
	})
	close(stopPoll)
	<-pollDone
	t.Logf("its queue read: %s", tp.resources())
	upIGMP := up4.Count(func(p netlab.Packet) bool { return p.Proto == unix.IPPROTO_IGMP && !p.At.Before(floodAt) })
	upMLD := up6.Count(func(p netlab.Packet) bool {
		return p.Proto == unix.IPPROTO_ICMPV6 && len(p.Payload) > 0 && p.Payload[0] == 143 && !p.At.Before(floodAt)
	})
	t.Logf("on the upstream link since the flood began: %d IGMP messages, %d MLDv2 reports (%.0f/s)",
		upIGMP, upMLD, float64(upIGMP+upMLD)/time.Since(floodAt).Seconds())
	tp.waitFlowing(r1, s1, time.Now(), 50, 5*time.Second)
	peak, err := procStatusKiB(tp.daemon.Pid(), "VmHWM")
	tp.must(err)
	rss1, err := rssKiB(tp.daemon.Pid())
	tp.must(err)

	lan, _ := iface(st, "br-lan", control.FamilyIPv4)
	c := counters(st, control.FamilyIPv4)
	lan6, _ := iface(st, "br-lan", control.FamilyIPv6)
	t.Logf("RSS %d KiB before, %d KiB after, peak %d KiB; br-lan IPv4: %d groups, state %d bytes; IPv6: %d groups, state %d bytes; dropped %v, IPv6 %v",
		rss0, rss1, peak, len(lan.Groups), lan.Counters["state_bytes"], len(lan6.Groups), lan6.Counters["state_bytes"], c.Dropped, counters(st, control.FamilyIPv6).Dropped)
	mu.Lock()
	t.Logf("status polled %d times during the flood, %d failed; %d said expiry was held on a link (reports lost or waiting)", polls, fails, heldPolls)
	if fails > 0 {
		t.Errorf("status failed %d of %d times during the flood; last: %s", fails, polls, failure)
	}
	// A lost report holds expiry for a query interval and a response
	// interval (3 s here), longer than the polls' spacing: a flood that
	// overflowed the socket shows in status.
	if lost := c.Dropped["socket_overflow"] + counters(st, control.FamilyIPv6).Dropped["socket_overflow"]; lost > 0 && heldPolls == 0 {
		t.Errorf("%d reports were lost to the socket's overflow, but no status answer said expiry was held", lost)
	}
	mu.Unlock()
	if peak > floodRSSLimit {
		t.Errorf("daemon peak RSS %d KiB, want under %d KiB", peak, floodRSSLimit)
	}
	if c.Dropped["memory"]+c.Dropped["limit"] == 0 {
		t.Errorf("no IPv4 refusal counted after the flood: dropped %v", c.Dropped)
	}
	// The MLDv2 reports carry fewer sources than max-sources, so they
	// need not hit a limit; they must have reached the daemon.
	if c6 := counters(st, control.FamilyIPv6); c6.Received["mldv2_report"] == 0 {
		t.Errorf("no MLDv2 report received: %+v", c6)
	}
	if _, ok := groupOn(st, "br-lan", g1.Addr()); !ok {
		t.Errorf("the group %s joined before the flood is gone from br-lan", g1.Addr())
	}
	if gaps := r1.GapsBetween(s1, floodAt, time.Time{}); len(gaps) != 0 {
		t.Errorf("%s lost datagrams during the flood: %v", g1.Addr(), gaps)
	}
	if tp.daemon.Exited() {
		t.Fatalf("daemon exited (code %d) during the flood", tp.daemon.ExitCode())
	}
	if t.Failed() {
		tp.logStatus()
	}
}

// procStatusKiB reads one "Key: N kB" line of /proc/PID/status.
func procStatusKiB(pid int, key string) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			f := strings.Fields(v)
			if len(f) != 2 || f[1] != "kB" {
				return 0, fmt.Errorf("unexpected %s line %q", key, line)
			}
			return strconv.ParseUint(f[0], 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", key, pid)
}

// TestLANSenderRespectsUpstreamACL: with "deny group 239.255.255.250" on
// the upstream (the SSDP example of mcast-proxy.conf(5)), a LAN device's
// SSDP NOTIFY must not leave on the upstream, while a permitted group sent
// from the LAN does. Captured on the upstream link.
func TestLANSenderRespectsUpstreamACL(t *testing.T) {
	t.Parallel()
	tp := newTopo(t, topoOptions{config: opConfig([]string{"deny group 239.255.255.250"}, nil)})
	ssdp := netip.MustParseAddrPort("239.255.255.250:1900")
	other := netip.MustParseAddrPort("239.4.4.4:5001")
	up := tp.sniffer(fam4, "src")
	lanHost := netip.MustParseAddr("192.168.1.11")
	start := time.Now()
	for _, g := range []netip.AddrPort{ssdp, other} {
		_, err := tp.lab.NewSender("rcv1", "eth0", lanHost, g, streamInterval)
		tp.must(err)
	}
	tp.waitFor(5*time.Second, "the permitted LAN stream on the upstream", func() bool {
		return up.Count(netlab.UDPTo(other.Addr(), lanHost, start)) >= 20
	})
	time.Sleep(time.Second)
	if n := up.Count(netlab.UDPTo(ssdp.Addr(), netip.Addr{}, start)); n != 0 {
		t.Errorf("%d SSDP datagrams from the LAN left on the upstream, want none", n)
	}
}

// TestNonQuerierYieldsToDeliveringQuerier is RFC 4605 §4.2: on down2 a
// router with a lower address is the querier and forwards the stream onto
// down2 itself; the proxy stops forwarding it there, so hosts do not get
// every packet twice. When the other router stops forwarding, the proxy
// forwards again. (A querier that forwards nothing cuts nothing:
// TestQuerierElection.) The other router is played by the test from rcv3's
// namespace: queries, and copies of the stream with TTL 200.
func TestNonQuerierYieldsToDeliveringQuerier(t *testing.T) {
	t.Parallel()
	tp := newTopo(t, topoOptions{down2Querier: true})
	rival := netip.MustParseAddr("192.168.2.2")
	r3 := tp.receiver("rcv3", g1, netlab.AnySource)
	sn := tp.sniffer(fam4, "rcv3")
	start := time.Now()
	tp.sender(s1, g1)
	tp.waitFlowing(r3, s1, start, 20, 5*time.Second)
	startQuerier(t, tp.lab, "rcv3", "eth0", rival, time.Second)

	// The rival's copies of (s1, g1), sent as fast as the stream.
	rs := newRawSender(t, tp.lab, "rcv3", "eth0")
	copyPkt := udpPacket(s1, g1, 200, []byte("copy from the querier"))
	stopCopies := repeat(t, streamInterval, func() {
		_ = unix.Sendto(rs.fd, copyPkt, 0, &unix.SockaddrInet4{Addr: g1.Addr().As4()})
	})

	// Ours arrive with the sender's TTL less one.
	ours := func(p netlab.Packet) bool {
		return netlab.UDPTo(g1.Addr(), s1, start)(p) && p.TTL == netlab.SenderTTL-1
	}
	defer func() {
		if t.Failed() {
			for _, r := range tp.status().Routes {
				t.Logf("forwarding entry %s %s in %s out %v: packets %d, wrong interface %d", r.Source, r.Group, r.Input, r.Outputs, r.Packets, r.WrongIf)
			}
		}
	}()
	// The daemon reads the kernel's counters every 30 s and needs two
	// readings to see the copies.
	stopped := tp.waitStopped(sn, ours, 2*time.Second, 80*time.Second, "the proxy's own copies on down2")
	t.Logf("the proxy stopped forwarding onto down2 %v after the other querier started delivering", stopped.Sub(start).Round(time.Second))

	stopCopies()
	resumeFrom := time.Now()
	tp.waitFor(45*time.Second, "the proxy to forward onto down2 again", func() bool {
		return sn.Count(func(p netlab.Packet) bool { return ours(p) && p.At.After(resumeFrom) }) > 0
	})
}

// udpPacket builds an IPv4 UDP datagram with an IP header for a raw
// IP_HDRINCL socket; the UDP checksum is left out (zero, RFC 768).
func udpPacket(src netip.Addr, dst netip.AddrPort, ttl uint8, payload []byte) []byte {
	udp := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint16(udp[0:], dst.Port())
	binary.BigEndian.PutUint16(udp[2:], dst.Port())
	binary.BigEndian.PutUint16(udp[4:], uint16(8+len(payload)))
	udp = append(udp, payload...)
	pkt := ipv4Packet(src, dst.Addr(), ttl, false, udp)
	pkt[9] = unix.IPPROTO_UDP
	pkt[1] = 0
	pkt[10], pkt[11] = 0, 0
	binary.BigEndian.PutUint16(pkt[10:], inetChecksum(pkt[:20]))
	return pkt
}
