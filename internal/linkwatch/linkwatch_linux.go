package linkwatch

import (
	"encoding/binary"
	"errors"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mcast-proxy/mcast-proxy/internal/format"
)

// dumpAttempts bounds the retries of a snapshot whose dumps the kernel
// flagged as interrupted by a concurrent change.
const dumpAttempts = 5

// retryAfter is how long the watcher waits before retrying a snapshot that
// failed; it only runs after a failure, so an idle watcher stays idle.
const retryAfter = time.Second

// dumpTimeout bounds the wait for each datagram of a dump reply.
const dumpTimeout = 5 * time.Second

// defaultSettle is used when Watch is given no settle time.
const defaultSettle = 50 * time.Millisecond

// dumper is a NETLINK_ROUTE socket for request/reply dumps. The socket
// belongs to the network namespace of the thread that opened it.
type dumper struct {
	fd  int
	seq uint32
	buf []byte
}

func openDumper() (*dumper, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, format.Errorf("linkwatch: netlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, format.Errorf("linkwatch: bind netlink socket: %w", err)
	}
	// A dump takes milliseconds; the timeout only keeps a lost reply from
	// hanging the daemon.
	tv := unix.NsecToTimeval(dumpTimeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, format.Errorf("linkwatch: netlink receive timeout: %w", err)
	}
	// The kernel sizes dump datagrams to the reader's buffer up to 32 KiB.
	return &dumper{fd: fd, buf: make([]byte, 64<<10)}, nil
}

func (d *dumper) close() error { return unix.Close(d.fd) }

// dump sends a dump request of type typ with the fixed header hdr and
// collects the reply.
func (d *dumper) dump(typ uint16, hdr []byte) ([]message, error) {
	d.seq++
	req := make([]byte, nlmsgHdrLen+len(hdr))
	order := binary.NativeEndian
	order.PutUint32(req[0:4], uint32(len(req)))
	order.PutUint16(req[4:6], typ)
	order.PutUint16(req[6:8], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	order.PutUint32(req[8:12], d.seq)
	copy(req[nlmsgHdrLen:], hdr)
	if err := unix.Sendto(d.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, err
	}
	r := dumpReader{seq: d.seq}
	for !r.done {
		n, _, flags, _, err := unix.Recvmsg(d.fd, d.buf, nil, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if flags&unix.MSG_TRUNC != 0 {
			return nil, format.Errorf("%w: datagram larger than %d bytes", errMalformed, len(d.buf))
		}
		// The messages keep pointing into the datagram, so each gets its own.
		if err := r.add(slices.Clone(d.buf[:n]), order); err != nil {
			var errno errnoError
			if errors.As(err, &errno) {
				return nil, syscall.Errno(-errno)
			}
			return nil, err
		}
	}
	return r.msgs, nil
}

// snapshot dumps links, then addresses of both families, repeating both if
// the kernel flags either as interrupted.
func (d *dumper) snapshot() (Snapshot, error) {
	var err error
	for range dumpAttempts {
		var links, addrs []message
		links, err = d.dump(unix.RTM_GETLINK, make([]byte, ifinfomsgLen))
		if errors.Is(err, errDumpInterrupted) {
			continue
		}
		if err != nil {
			return nil, format.Errorf("linkwatch: dump links: %w", err)
		}
		addrs, err = d.dump(unix.RTM_GETADDR, make([]byte, ifaddrmsgLen))
		if errors.Is(err, errDumpInterrupted) {
			continue
		}
		if err != nil {
			return nil, format.Errorf("linkwatch: dump addresses: %w", err)
		}
		return buildSnapshot(links, addrs, binary.NativeEndian)
	}
	return nil, err
}

// Take returns a snapshot of all links and addresses of the calling thread's
// network namespace.
func Take() (Snapshot, error) {
	d, err := openDumper()
	if err != nil {
		return nil, err
	}
	defer d.close()
	return d.snapshot()
}

// Watcher reports link and address changes. One goroutine reads the
// subscription socket and passes hints on; another coalesces them, takes
// snapshots and delivers the differences, and owns all watcher state.
type Watcher struct {
	settle time.Duration
	sub    *os.File // subscription socket, in the poller so Close unblocks reads
	dump   *dumper  // used only by the run goroutine once Watch returns
	hints  chan struct{}
	c      chan Change
	done   chan struct{}
	wg     sync.WaitGroup
	once   sync.Once
}

// Watch subscribes to link and address notifications, then takes the first
// snapshot, so nothing that happens between the two is missed. The sockets
// live in the calling thread's network namespace for the watcher's whole
// life. Bursts of notifications are coalesced: the watcher snapshots settle
// after the last notification, but at most five settle periods after the
// first. A non-positive settle means 50 ms. An interface deleted and
// recreated under the same name within one burst (a PPPoE reconnect) is
// reported as a LinkChange with a new Index; when the two steps fall into
// separate bursts, as a removal followed by an addition.
func Watch(settle time.Duration) (*Watcher, Snapshot, error) {
	if settle <= 0 {
		settle = defaultSettle
	}
	sub, err := openSubscription()
	if err != nil {
		return nil, nil, err
	}
	d, err := openDumper()
	if err != nil {
		sub.Close()
		return nil, nil, err
	}
	first, err := d.snapshot()
	if err != nil {
		sub.Close()
		d.close()
		return nil, nil, err
	}
	w := &Watcher{
		settle: settle,
		sub:    sub,
		dump:   d,
		hints:  make(chan struct{}, 1),
		c:      make(chan Change, 1),
		done:   make(chan struct{}),
	}
	w.wg.Add(2)
	go w.read()
	go w.run(first)
	return w, first, nil
}

func openSubscription() (*os.File, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, format.Errorf("linkwatch: netlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, format.Errorf("linkwatch: bind netlink socket: %w", err)
	}
	for _, g := range []int{unix.RTNLGRP_LINK, unix.RTNLGRP_IPV4_IFADDR, unix.RTNLGRP_IPV6_IFADDR} {
		if err := unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_ADD_MEMBERSHIP, g); err != nil {
			unix.Close(fd)
			return nil, format.Errorf("linkwatch: join rtnetlink group %d: %w", g, err)
		}
	}
	return os.NewFile(uintptr(fd), "rtnetlink"), nil
}

// C delivers each non-empty change. When the consumer is slow, changes merge:
// the next one is always the difference to the last snapshot delivered. C is
// closed after Close.
func (w *Watcher) C() <-chan Change { return w.c }

// Close stops the goroutines, closes the sockets and then C. It is safe to
// call more than once.
func (w *Watcher) Close() error {
	var err error
	w.once.Do(func() {
		close(w.done)
		err = w.sub.Close()
		w.wg.Wait()
		if cerr := w.dump.close(); err == nil {
			err = cerr
		}
		if err != nil {
			err = format.Errorf("linkwatch: close: %w", err)
		}
	})
	return err
}

// read blocks on the subscription socket and turns every datagram, and every
// lost one (ENOBUFS), into a hint. The content does not matter: the snapshot
// is the truth.
func (w *Watcher) read() {
	defer w.wg.Done()
	rc, err := w.sub.SyscallConn()
	if err != nil {
		return
	}
	buf := make([]byte, 64<<10)
	readLoop(func() error {
		var rerr error
		err := rc.Read(func(fd uintptr) bool {
			_, _, rerr = unix.Recvfrom(int(fd), buf, 0)
			return !errors.Is(rerr, unix.EAGAIN)
		})
		if err != nil {
			return err
		}
		return rerr
	}, w.hint, w.done, sleepUnless(w.done))
}

func (w *Watcher) hint() {
	select {
	case w.hints <- struct{}{}:
	default: // a hint is already pending; one is enough
	}
}

// run owns the delivered snapshot and the coalescing state.
func (w *Watcher) run(delivered Snapshot) {
	defer w.wg.Done()
	defer close(w.c)
	timer := time.NewTimer(0)
	timer.Stop()
	var (
		first, last time.Time // of the current burst; first is zero when none
		pending     Change    // difference of current to delivered, undelivered
		current     Snapshot
		out         chan Change // w.c while pending is not empty, else nil
	)
	for {
		select {
		case <-w.done:
			timer.Stop()
			return
		case <-w.hints:
			now := time.Now()
			if first.IsZero() {
				first = now
			}
			last = now
			timer.Reset(time.Until(flushAt(first, last, w.settle)))
		case <-timer.C:
			first = time.Time{}
			s, err := w.dump.snapshot()
			if err != nil {
				// A failed dump leaves the delivered state standing; try
				// again later rather than report a half-read table.
				timer.Reset(retryAfter)
				continue
			}
			current = s
			pending = Diff(delivered, current)
			out = nil
			if !pending.Empty() {
				out = w.c
			}
		case out <- pending:
			delivered, pending, out = current, Change{}, nil
		}
	}
}
