package sdnotify

import (
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/mcast-proxy/mcast-proxy/internal/format"
)

// sendTo sends state as one datagram to the unix socket at addr, from an
// unbound socket of its own, as sd_notify(3) does.
func sendTo(addr, state string) error {
	name, err := socketName(addr)
	if err != nil {
		return err
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return format.Errorf("sdnotify: socket: %w", err)
	}
	defer unix.Close(fd)
	// A blocking send, as in systemd's own client: while the manager's
	// receive queue is full it waits rather than lose READY=1.
	if err := unix.Sendto(fd, []byte(state), unix.MSG_NOSIGNAL, &unix.SockaddrUnix{Name: name}); err != nil {
		return format.Errorf("sdnotify: send to %s: %w", addr, err)
	}
	return nil
}

// MonotonicUsec returns "MONOTONIC_USEC=" and the time of CLOCK_MONOTONIC
// in microseconds, which must come with RELOADING=1 under
// Type=notify-reload (systemd.service(5)), or "" if the clock cannot be
// read.
func MonotonicUsec() string {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return ""
	}
	return "MONOTONIC_USEC=" + strconv.FormatInt(ts.Nano()/1000, 10)
}
