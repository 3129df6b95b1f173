package mroute

import (
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// openRaw opens a raw socket of family (AF_INET or AF_INET6) for protocol
// proto and hands it to net's poller, so that Close unblocks a pending Read
// with net.ErrClosed. net.ListenPacket would do the same, but its address
// parsing links the DNS resolver into the binary (about 300 KB on MIPS).
func openRaw(family, proto int) (*net.IPConn, error) {
	fd, err := unix.Socket(family, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	f := os.NewFile(uintptr(fd), "raw")
	// FilePacketConn works on a duplicate of the descriptor.
	pc, err := net.FilePacketConn(f)
	f.Close()
	if err != nil {
		return nil, err
	}
	conn, ok := pc.(*net.IPConn)
	if !ok {
		pc.Close()
		return nil, fmt.Errorf("raw socket is a %T", pc)
	}
	return conn, nil
}
