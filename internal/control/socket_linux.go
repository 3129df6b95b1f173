package control

import (
	"os"

	"golang.org/x/sys/unix"

	"github.com/mcast-proxy/mcast-proxy/internal/format"
)

// The control socket is an AF_UNIX stream socket made with x/sys/unix and
// wrapped in an os.File, not a net.UnixListener/UnixConn: package net
// costs the binary a few hundred KB on MIPS, and os.File gives what the
// server needs just the same. A non-blocking descriptor handed to os.NewFile
// joins the runtime's poller, so Read and Write park the goroutine instead
// of a thread, SetReadDeadline/SetWriteDeadline work, and Close wakes a
// goroutine blocked in Read or in accept.

// listenUnix creates a stream socket bound at path and listening, with the
// socket file's mode from the umask (the caller sets it).
func listenUnix(path string) (*os.File, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("bind", err)
	}
	// The kernel caps the backlog at net.core.somaxconn.
	if err := unix.Listen(fd, unix.SOMAXCONN); err != nil {
		unix.Close(fd)
		os.Remove(path)
		return nil, os.NewSyscallError("listen", err)
	}
	return os.NewFile(uintptr(fd), path), nil
}

// acceptUnix waits until a client connects to ln and returns the
// connection, non-blocking and close-on-exec like ln. Closing ln makes it
// return an error.
func acceptUnix(ln *os.File) (*os.File, error) {
	rc, err := ln.SyscallConn()
	if err != nil {
		return nil, err
	}
	nfd := -1
	var aerr error
	err = rc.Read(func(fd uintptr) bool {
		for {
			nfd, _, aerr = unix.Accept4(int(fd), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
			switch aerr {
			case unix.EINTR, unix.ECONNABORTED:
				// Interrupted, or a client that left before we
				// took it: try again at once.
				continue
			case unix.EAGAIN:
				return false // wait for the poller
			}
			return true
		}
	})
	if err != nil {
		return nil, err
	}
	if aerr != nil {
		return nil, os.NewSyscallError("accept4", aerr)
	}
	return os.NewFile(uintptr(nfd), ln.Name()), nil
}

// dial connects to the unix socket at path. Connecting to a unix socket
// never waits: a socket nobody listens on is refused (ECONNREFUSED) and a
// full backlog fails with EAGAIN at once, so there is nothing to time out.
// Errors read as package net's did ("dial unix PATH: connect: ..."), which
// the OpenWrt rpcd plugin passes on to LuCI.
func dial(path string) (*os.File, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, format.Errorf("dial unix %s: %w", path, os.NewSyscallError("socket", err))
	}
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		unix.Close(fd)
		return nil, format.Errorf("dial unix %s: %w", path, os.NewSyscallError("connect", err))
	}
	return os.NewFile(uintptr(fd), path), nil
}

// closeWrite shuts down the writing half of the connection: the peer reads
// the end of the stream, and can still send.
func closeWrite(conn *os.File) error {
	rc, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Shutdown(int(fd), unix.SHUT_WR) }); err != nil {
		return err
	}
	return os.NewSyscallError("shutdown", serr)
}
