package mroute

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// openRaw opens a raw socket of family (AF_INET or AF_INET6) for protocol
// proto, non-blocking, as an os.File: the runtime's poller waits for it, and
// Close unblocks a pending Read with os.ErrClosed. A socket from the net
// package would do the same, but links about 140 KB more into the binary
// on MIPS (net.ListenPacket's address parsing alone brings the DNS
// resolver).
func openRaw(family, proto int) (*os.File, error) {
	fd, err := unix.Socket(family, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	return os.NewFile(uintptr(fd), "raw"), nil
}

// rawConn is f's descriptor for socket options, ioctls and messages. A
// call on a closed os.File fails with an error of the poller's own that
// does not match os.ErrClosed; with no deadlines set on these sockets,
// closing is the only way such a call fails, so it reports os.ErrClosed,
// which tells the plane's reader to stop.
func rawConn(f *os.File) (syscall.RawConn, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	return closedAsErrClosed{rc}, nil
}

type closedAsErrClosed struct{ rc syscall.RawConn }

func (c closedAsErrClosed) Control(f func(fd uintptr)) error   { return asErrClosed(c.rc.Control(f)) }
func (c closedAsErrClosed) Read(f func(fd uintptr) bool) error { return asErrClosed(c.rc.Read(f)) }
func (c closedAsErrClosed) Write(f func(fd uintptr) bool) error {
	return asErrClosed(c.rc.Write(f))
}

func asErrClosed(err error) error {
	if err != nil {
		return os.ErrClosed
	}
	return nil
}
