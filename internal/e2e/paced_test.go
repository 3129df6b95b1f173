//go:build linux

package e2e

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mcast-proxy/mcast-proxy/internal/netlab"
)

// pacedSenderEnv, when set in the environment, makes the test binary a
// paced sender instead of running tests (see TestMain): "SRC IFNAME
// GROUP:PORT INTERVAL".
const pacedSenderEnv = "MCAST_E2E_PACED_SENDER"

// startPacedSender starts a stream from src on ifname in namespace ns to
// dst, one datagram every interval, in a process of its own at real-time
// priority (chrt -f). The in-process sender (netlab.NewSender) shares the
// test process with the sniffers and is paced by Go timers there, so on the
// emulated test VM its datagrams come with gaps of several milliseconds
// whenever the test or the proxy is busy; a latency measured with it is
// mostly that gap. A stream from a real head end does not wait for the
// router's processes: this one comes close. Its datagrams carry the
// in-process sender's magic and a sequence number (streamSeq reads it), so
// a test can tell which datagram the router forwarded, not only when.
func (tp *topo) startPacedSender(ns, ifname string, src netip.Addr, dst netip.AddrPort, interval time.Duration) *netlab.Proc {
	tp.t.Helper()
	spec := fmt.Sprintf("%s=%s %s %s %s", pacedSenderEnv, src, ifname, dst, interval)
	p, err := tp.lab.Start(ns, "env", spec, "GOMAXPROCS=1", "chrt", "-f", "50", os.Args[0])
	tp.must(err)
	tp.t.Cleanup(p.Kill)
	return p
}

// runPacedSender is the paced sender's process: it sends until killed. The
// sending thread sleeps to absolute deadlines (clock_nanosleep), so a late
// wake-up does not shift the datagrams after it.
func runPacedSender(spec string) error {
	f := strings.Fields(spec)
	if len(f) != 4 {
		return fmt.Errorf("%s=%q: want SRC IFNAME GROUP:PORT INTERVAL", pacedSenderEnv, spec)
	}
	src, err := netip.ParseAddr(f[0])
	if err != nil {
		return err
	}
	dst, err := netip.ParseAddrPort(f[2])
	if err != nil {
		return err
	}
	interval, err := time.ParseDuration(f[3])
	if err != nil {
		return err
	}
	ifi, err := net.InterfaceByName(f[1])
	if err != nil {
		return err
	}
	runtime.LockOSThread()
	if !src.Is4() || !dst.Addr().Is4() {
		return fmt.Errorf("paced sender: IPv4 only")
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return err
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: src.As4()}); err != nil {
		return err
	}
	if err := unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_IF, &unix.IPMreqn{Ifindex: int32(ifi.Index)}); err != nil {
		return err
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_TTL, netlab.SenderTTL); err != nil {
		return err
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP, 0); err != nil {
		return err
	}
	to := &unix.SockaddrInet4{Addr: dst.Addr().As4(), Port: int(dst.Port())}
	// The in-process sender's datagrams; the first is number 1.
	payload := make([]byte, netlab.DatagramLen)
	var seq uint64
	var next unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &next); err != nil {
		return err
	}
	for {
		seq++
		netlab.MarkDatagram(payload, seq, time.Now())
		// Errors (no route yet) lose a datagram, as on a real network.
		_ = unix.Sendto(fd, payload, 0, to)
		next = unix.NsecToTimespec(next.Nano() + interval.Nanoseconds())
		for {
			err := unix.ClockNanosleep(unix.CLOCK_MONOTONIC, unix.TIMER_ABSTIME, &next, nil)
			if err != unix.EINTR {
				break
			}
		}
	}
}

// streamSeq is the sequence number of a datagram of the in-process or the
// paced sender as a sniffer saw it (its payload starts with the UDP header);
// ok is false for any other packet.
func streamSeq(p netlab.Packet) (seq uint64, ok bool) {
	if p.Proto != 17 || len(p.Payload) < 8 {
		return 0, false
	}
	return netlab.DatagramSeq(p.Payload[8:])
}

// TestPacedSender: the paced sender's stream reaches a sniffer at its rate
// (the test VM's clock allowing): without it, the latency figure would
// measure nothing.
func TestPacedSender(t *testing.T) {
	tp := newTopo(t, topoOptions{noDaemon: true})
	grp := netip.MustParseAddr("239.10.9.9")
	at, err := tp.lab.NewSniffer("router", "up0")
	tp.must(err)
	tp.startPacedSender("src", "eth0", s1, netip.AddrPortFrom(grp, 5001), time.Millisecond)
	time.Sleep(time.Second)
	pkts := at.Packets(udpTo(grp))
	n := len(pkts)
	t.Logf("paced sender: %d datagrams in about 1 s at 1 ms", n)
	if n < 200 || n > 1100 {
		t.Errorf("%d datagrams in about a second, want about 1000 (at least 200 on a loaded VM)", n)
	}
	// Numbered upwards: the latency test tells datagrams apart by their
	// numbers.
	var last uint64
	for _, p := range pkts {
		seq, ok := streamSeq(p)
		if !ok || seq <= last {
			t.Fatalf("datagram after number %d: numbered %d (%v), want a number above it", last, seq, ok)
		}
		last = seq
	}
}
