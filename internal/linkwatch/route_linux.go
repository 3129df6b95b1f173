package linkwatch

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/mcast-proxy/mcast-proxy/internal/format"
)

// RouteIfindex asks the kernel which interface it would send a packet to
// dst out of (a route lookup, as "ip route get" does). The daemon uses it
// to tell whether reverse-path filtering will accept sources on the
// upstream.
func RouteIfindex(dst netip.Addr) (int, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return 0, format.Errorf("linkwatch: netlink socket: %w", err)
	}
	defer unix.Close(fd)
	tv := unix.Timeval{Sec: 2}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return 0, format.Errorf("linkwatch: route lookup: %w", err)
	}
	const seq = 1
	if err := unix.Sendto(fd, routeRequest(dst, seq, binary.NativeEndian), 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return 0, format.Errorf("linkwatch: route lookup: %w", err)
	}
	buf := make([]byte, 8192)
	var n int
	for {
		// A socket with a receive timeout is never restarted after a
		// signal (signal(7)), and the Go runtime signals its threads to
		// preempt goroutines: EINTR means try again.
		n, _, err = unix.Recvfrom(fd, buf, 0)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		return 0, format.Errorf("linkwatch: route lookup: %w", err)
	}
	oif, err := decodeRouteReply(buf[:n], seq, binary.NativeEndian)
	var errno errnoError
	if errors.As(err, &errno) {
		e := int32(errno)
		if e < 0 {
			e = -e
		}
		return 0, format.Errorf("linkwatch: route to %s: %w", dst, syscall.Errno(e))
	}
	return oif, err
}
