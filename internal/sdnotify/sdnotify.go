// Package sdnotify speaks systemd's service notification protocol
// (sd_notify(3)) without linking package net: a service manager that starts
// a service with Type=notify passes the address of a unix datagram socket in
// NOTIFY_SOCKET, and the service sends newline-separated VAR=value
// assignments there, one datagram per notification.
package sdnotify

import (
	"os"
	"strconv"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/format"
)

// States a service sends (sd_notify(3)).
const (
	Ready     = "READY=1"     // start-up or reload finished
	Reloading = "RELOADING=1" // reloading the configuration; Ready follows
	Stopping  = "STOPPING=1"  // shutting down
	Watchdog  = "WATCHDOG=1"  // still alive, resets the watchdog timer
)

// Send sends state to the socket named by NOTIFY_SOCKET. It reports false
// and no error when NOTIFY_SOCKET is unset or empty: the service was not
// started by a service manager that wants notifications. NOTIFY_SOCKET is
// left in the environment, so that every later notification goes out too.
func Send(state string) (bool, error) {
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		return false, nil
	}
	if err := sendTo(addr, state); err != nil {
		return false, err
	}
	return true, nil
}

// socketName checks the address in NOTIFY_SOCKET and returns the name to
// bind to in the kernel's unix socket namespace. systemd accepts an
// absolute path, or a name starting with '@' for a socket in the abstract
// namespace, where the '@' stands for the leading NUL byte (unix(7)).
func socketName(addr string) (string, error) {
	switch {
	case len(addr) > 1 && addr[0] == '@':
		return "\x00" + addr[1:], nil
	case len(addr) > 0 && addr[0] == '/':
		return addr, nil
	}
	return "", format.Errorf("sdnotify: NOTIFY_SOCKET=%q: not an absolute path or an abstract socket name (@name)", addr)
}

// WatchdogInterval returns how often the service manager wants WATCHDOG=1,
// from WATCHDOG_USEC and WATCHDOG_PID, which it sets when the unit has
// WatchdogSec= (sd_watchdog_enabled(3)). It returns 0 and no error when
// WATCHDOG_USEC is unset or empty, or when WATCHDOG_PID names another
// process: the watchdog then belongs to that process, not to us. A value
// that is not a number in range is an error. Both variables are left in
// the environment.
func WatchdogInterval() (time.Duration, error) {
	return watchdogInterval(os.Getenv("WATCHDOG_USEC"), os.Getenv("WATCHDOG_PID"), os.Getpid())
}

// maxWatchdogUsec is the longest interval a time.Duration holds, in
// microseconds.
const maxWatchdogUsec = uint64(1<<63-1) / 1000

func watchdogInterval(usec, pid string, self int) (time.Duration, error) {
	if usec == "" {
		return 0, nil
	}
	// WATCHDOG_USEC is an unsigned 64-bit count of microseconds: parsed
	// as a plain int it would overflow on 32-bit routers beyond 35 min.
	u, err := strconv.ParseUint(usec, 10, 64)
	if err != nil {
		return 0, format.Errorf("sdnotify: WATCHDOG_USEC=%q: not a number of microseconds", usec)
	}
	if u == 0 || u > maxWatchdogUsec {
		return 0, format.Errorf("sdnotify: WATCHDOG_USEC=%q: out of range (1 to %d)", usec, maxWatchdogUsec)
	}
	interval := time.Duration(u) * time.Microsecond
	if pid == "" {
		return interval, nil
	}
	p, err := strconv.Atoi(pid)
	if err != nil || p <= 0 {
		return 0, format.Errorf("sdnotify: WATCHDOG_PID=%q: not a process ID", pid)
	}
	if p != self {
		return 0, nil
	}
	return interval, nil
}
