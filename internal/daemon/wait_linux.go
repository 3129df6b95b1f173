package daemon

import (
	"encoding/binary"
	"errors"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/mcast-proxy/mcast-proxy/internal/format"
	"github.com/mcast-proxy/mcast-proxy/internal/rawsys"
)

// waitSet is what the loop blocks on: the routing sockets of every plane
// and a bell that the goroutine handing over everything else rings. The
// loop itself waits for the sockets and reads them, so a report goes from
// the kernel to the forwarding change in one goroutine, with no hand-over
// and no copy.
//
// It is an epoll instance of its own (sockets level-triggered, the bell
// edge-triggered, so it is never read), registered with the Go runtime's
// poller like any socket: the loop parks as a goroutine, not as a thread
// in a system call, and the other goroutines keep their P meanwhile.
type waitSet struct {
	epfd int
	bell int // an eventfd
	file *os.File
	raw  syscall.RawConn

	ready   [8]unix.EpollEvent    // what EpollReady fills; only its count is used
	checked bool                  // this wait has asked the epoll instance
	poll    func(fd uintptr) bool // bound once: waiting allocates nothing
}

func newWaitSet() (*waitSet, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, format.Errorf("epoll: %w", err)
	}
	bell, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, format.Errorf("eventfd: %w", err)
	}
	w := &waitSet{epfd: epfd, bell: bell}
	w.poll = w.pollReady
	err = unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, bell, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLET, Fd: int32(bell)})
	if err == nil {
		// Non-blocking, so that os.NewFile hands it to the runtime's poller.
		err = unix.SetNonblock(epfd, true)
	}
	if err != nil {
		unix.Close(bell)
		unix.Close(epfd)
		return nil, format.Errorf("epoll: %w", err)
	}
	w.file = os.NewFile(uintptr(epfd), "waitset")
	if w.raw, err = w.file.SyscallConn(); err != nil {
		w.close()
		return nil, err
	}
	return w, nil
}

// add makes the loop wake when fd is readable.
func (w *waitSet) add(fd int) error {
	return unix.EpollCtl(w.epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)})
}

// remove forgets fd; call it before fd is closed.
func (w *waitSet) remove(fd int) error {
	return unix.EpollCtl(w.epfd, unix.EPOLL_CTL_DEL, fd, nil)
}

// ring wakes the loop from any goroutine.
func (w *waitSet) ring() {
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	for {
		_, err := unix.Write(w.bell, one[:])
		// EAGAIN: the counter is full, so the bell is ringing anyway.
		if !errors.Is(err, unix.EINTR) {
			return
		}
	}
}

// wait blocks until a registered socket is readable or the bell has rung
// since the last wait. It does not say which: the caller tries each socket
// (a non-blocking read of an empty one costs one system call), and asking
// the epoll instance again after a wake-up would put a system call between
// a report's arrival and its handling.
func (w *waitSet) wait() error {
	w.checked = false
	return w.raw.Read(w.poll)
}

// pollReady is called by the runtime's poller: first at once, then each
// time the epoll instance became readable while the loop was parked.
func (w *waitSet) pollReady(fd uintptr) bool {
	if w.checked {
		return true // woken
	}
	w.checked = true
	// EINTR cannot happen without a timeout; any other error is waited
	// out like nothing ready.
	n, err := rawsys.EpollReady(int(fd), w.ready[:])
	return err == nil && n > 0
}

func (w *waitSet) close() {
	if w.file != nil {
		w.file.Close() // closes epfd
	} else {
		unix.Close(w.epfd)
	}
	unix.Close(w.bell)
}
