package mroute

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/mcast-proxy/mcast-proxy/internal/format"
)

// receiveBuffer is the receive buffer asked for on a routing socket (the
// kernel doubles it for its bookkeeping). The default (net.core.rmem_default,
// 208 KiB) holds about 200 reports: a host joining 1000 groups at once
// sends them faster than a slow router's daemon reads them, and what does
// not fit is lost until the next query round. 1 MiB holds a few thousand;
// it is kernel memory, used only while reports wait to be read.
const receiveBuffer = 1 << 20

// setReceiveBuffer enlarges a socket's receive buffer. SO_RCVBUFFORCE
// passes net.core.rmem_max and needs CAP_NET_ADMIN, which a routing socket
// needs anyway; without it SO_RCVBUF gets what rmem_max allows.
func setReceiveBuffer(raw syscall.RawConn, n int) error {
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, n)
		if serr != nil {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, n)
		}
	}); err != nil {
		return err
	}
	if serr != nil {
		return format.Errorf("mroute: set receive buffer: %w", serr)
	}
	return nil
}

// socketDrops is the kernel's count of packets it dropped on a socket's
// receive queue, mostly because the buffer was full (sk_drops, the drops
// column of /proc/net/raw and raw6), read with SO_MEMINFO (Linux 4.12).
// The kernel keeps it in 32 bits.
func socketDrops(raw syscall.RawConn) (uint64, error) {
	var (
		info [unix.SK_MEMINFO_VARS]uint32
		serr error
	)
	if err := raw.Control(func(fd uintptr) {
		// GetsockoptString would stop at the first zero byte.
		size := uint32(unsafe.Sizeof(info))
		_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, fd, unix.SOL_SOCKET, unix.SO_MEMINFO,
			uintptr(unsafe.Pointer(&info)), uintptr(unsafe.Pointer(&size)), 0)
		if e != 0 {
			serr = e
		} else if size < uint32(unsafe.Sizeof(info)) {
			serr = format.Errorf("SO_MEMINFO: %d bytes", size)
		}
	}); err != nil {
		return 0, err
	}
	if serr != nil {
		return 0, format.Errorf("mroute: read socket drops: %w", serr)
	}
	return uint64(info[unix.SK_MEMINFO_DROPS]), nil
}

// Drops is the number of packets (IGMP or MLD messages and upcalls) the
// kernel dropped because the socket's receive buffer was full.
func (s *Socket) Drops() (uint64, error) { return socketDrops(s.raw) }
