//go:build linux

package e2e

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mcast-proxy/mcast-proxy/internal/rawsys"
)

// wakeReaderEnv, when set in the environment, makes the test binary one of
// TestReadWakeFloor's readers instead of running tests (see TestMain):
// "MODE N".
const wakeReaderEnv = "MCAST_E2E_WAKE_READER"

// wakeReaderCEnv names the C reader (testdata/wakereader.c, built by make
// bench-e2e where a C compiler is at hand); without it the C figure is left
// out.
const wakeReaderCEnv = "MCAST_E2E_WAKE_READER_C"

// TestReadWakeFloor measures the floor under the daemon's report path: how
// long a process takes from the kernel's receipt of an IGMP report (the
// socket's receive timestamp) to its recvmsg returning, on the router of the
// standard topology while a 1 datagram/ms stream crosses it, for a reader
// that does nothing else. Three readers, each in a process of its own at
// GOMAXPROCS 1: the daemon's way (a non-blocking socket waited for by the
// Go runtime's poller), a Go thread blocking in recvmsg, and a C program
// blocking in recvmsg as igmpproxy does. What the daemon takes beyond the
// poller's figure is its own work; what the poller takes beyond C's is the
// Go runtime's. It logs its numbers and asserts only that every reader
// got its reports.
func TestReadWakeFloor(t *testing.T) {
	const samples = 100
	tp := newTopo(t, topoOptions{noDaemon: true})
	// The kernel delivers a report to raw sockets only on a link where
	// the host is a member of its destination (or forwards multicast):
	// join the IGMPv3 reports' group on down2, as a proxy does.
	var member int
	tp.must(tp.lab.Do("router", func() error {
		ifi, err := net.InterfaceByName("down2")
		if err != nil {
			return err
		}
		member, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		return unix.SetsockoptIPMreqn(member, unix.IPPROTO_IP, unix.IP_ADD_MEMBERSHIP,
			&unix.IPMreqn{Multiaddr: [4]byte{224, 0, 0, 22}, Ifindex: int32(ifi.Index)})
	}))
	t.Cleanup(func() { unix.Close(member) })
	// The load of TestJoinLatency: the stream, and sniffers on the
	// router's links.
	for _, ifname := range []string{"up0", "down2"} {
		_, err := tp.lab.NewSniffer("router", ifname)
		tp.must(err)
	}
	tp.startPacedSender("src", "eth0", s1, netip.AddrPortFrom(netip.MustParseAddr("239.10.9.1"), 5001), time.Millisecond)

	readers := [][]string{
		{"go-poller", "env", wakeReaderEnv + "=go-poller " + strconv.Itoa(samples), "GOMAXPROCS=1", os.Args[0]},
		{"go-thread", "env", wakeReaderEnv + "=go-thread " + strconv.Itoa(samples), "GOMAXPROCS=1", os.Args[0]},
	}
	if c := os.Getenv(wakeReaderCEnv); c != "" {
		readers = append(readers, []string{"c", c, strconv.Itoa(samples)})
	} else {
		t.Logf("%s not set: the C reader's figure is left out (make bench-e2e builds it)", wakeReaderCEnv)
	}
	for _, r := range readers {
		name, cmd := r[0], r[1:]
		p, err := tp.lab.Start("router", cmd...)
		tp.must(err)
		time.Sleep(300 * time.Millisecond) // the reader's socket open before the first report
		stop := make(chan struct{})
		joined := make(chan error, 1)
		go func() { joined <- tp.joinAndLeave("rcv3", stop) }()
		code, exited := p.Wait(30 * time.Second)
		close(stop)
		if err := <-joined; err != nil {
			t.Fatalf("rcv3's joins: %v", err)
		}
		if !exited || code != 0 {
			p.Kill()
			t.Errorf("%s reader: exit code %d (exited: %v): %s", name, code, exited, p.Stderr())
			continue
		}
		var ds []time.Duration
		for _, f := range strings.Fields(p.Stdout()) {
			ns, err := strconv.ParseInt(f, 10, 64)
			if err != nil {
				t.Fatalf("%s reader: %q: %v", name, f, err)
			}
			ds = append(ds, time.Duration(ns))
		}
		if len(ds) != samples {
			t.Errorf("%s reader: %d samples, want %d", name, len(ds), samples)
			continue
		}
		p50, p90, maxd := percentiles(ds)
		t.Logf("%s reader: report received by the kernel -> recvmsg returned, %d reports: min %s ms, p50 %s ms, p90 %s ms, max %s ms",
			name, samples, ms(minDuration(ds)), ms(p50), ms(p90), ms(maxd))
	}
}

func minDuration(ds []time.Duration) time.Duration {
	m := ds[0]
	for _, d := range ds {
		m = min(m, d)
	}
	return m
}

// joinAndLeave makes the host in ns join a new group every 40 ms and leave
// it 20 ms later, each change sending reports, until stop is closed.
func (tp *topo) joinAndLeave(ns string, stop <-chan struct{}) error {
	return tp.lab.Do(ns, func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		for i := 0; ; i++ {
			mreq := &unix.IPMreqn{Multiaddr: [4]byte{239, 7, byte(i / 250 % 250), byte(i%250 + 1)}, Ifindex: int32(ifi.Index)}
			for _, opt := range []int{unix.IP_ADD_MEMBERSHIP, unix.IP_DROP_MEMBERSHIP} {
				if err := unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, opt, mreq); err != nil {
					return err
				}
				select {
				case <-stop:
					return nil
				case <-time.After(20 * time.Millisecond):
				}
			}
		}
	})
}

// runWakeReader is a Go reader of TestReadWakeFloor: it prints, one line
// per report and in nanoseconds, the time from the kernel's receive
// timestamp to recvmsg returning, and returns after n reports.
func runWakeReader(spec string) error {
	mode, count, _ := strings.Cut(spec, " ")
	n, err := strconv.Atoi(count)
	if err != nil {
		return fmt.Errorf("%s=%q: want MODE N", wakeReaderEnv, spec)
	}
	flags := unix.SOCK_RAW | unix.SOCK_CLOEXEC
	if mode == "go-poller" {
		flags |= unix.SOCK_NONBLOCK
	}
	fd, err := unix.Socket(unix.AF_INET, flags, unix.IPPROTO_IGMP)
	if err != nil {
		return err
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		return err
	}
	buf, oob := make([]byte, 2048), make([]byte, 256)
	var read func() (oobn int, err error)
	switch mode {
	case "go-poller":
		// As mroute.Socket reads: the runtime's poller waits, the
		// read itself is a raw system call.
		rc, err := os.NewFile(uintptr(fd), "raw").SyscallConn()
		if err != nil {
			return err
		}
		var from unix.RawSockaddrAny
		read = func() (oobn int, err error) {
			if perr := rc.Read(func(fd uintptr) bool {
				_, oobn, _, err = rawsys.Recvmsg(int(fd), buf, oob, &from)
				return err != unix.EAGAIN
			}); perr != nil {
				return 0, perr
			}
			return oobn, err
		}
	case "go-thread":
		runtime.LockOSThread()
		read = func() (oobn int, err error) {
			_, oobn, _, _, err = unix.Recvmsg(fd, buf, oob, 0)
			return oobn, err
		}
	default:
		return fmt.Errorf("%s: unknown mode %q", wakeReaderEnv, mode)
	}
	for i := 0; i < n; {
		oobn, err := read()
		now := time.Now()
		if err != nil {
			return err
		}
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SO_TIMESTAMPNS && len(m.Data) >= 16 {
				// struct timespec: two native longs (the kernel tests
				// run on 64-bit machines).
				rx := time.Unix(int64(binary.NativeEndian.Uint64(m.Data)), int64(binary.NativeEndian.Uint64(m.Data[8:])))
				fmt.Println(now.Sub(rx).Nanoseconds())
				i++
			}
		}
	}
	return nil
}
