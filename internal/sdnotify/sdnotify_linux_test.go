package sdnotify

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// listen opens a unix datagram socket where a service manager would listen
// (a path, or an abstract name given as "@name") and returns a function that
// returns the next datagram to arrive.
func listen(t *testing.T, addr string) func() string {
	t.Helper()
	// package net maps a leading '@' to the abstract namespace itself,
	// which checks our own mapping independently.
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return func() string {
		t.Helper()
		buf := make([]byte, 4096)
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("nothing arrived on %s: %v", addr, err)
		}
		return string(buf[:n])
	}
}

func TestSend(t *testing.T) {
	tests := []struct {
		name  string
		addr  func(t *testing.T) string
		state string
	}{
		{
			name:  "path",
			addr:  func(t *testing.T) string { return filepath.Join(t.TempDir(), "notify") },
			state: Ready + "\nSTATUS=2 of 2 interfaces active",
		},
		{
			name: "abstract",
			addr: func(t *testing.T) string {
				return fmt.Sprintf("@mcast-proxy-test/%d/%d", os.Getpid(), time.Now().UnixNano())
			},
			state: Watchdog,
		},
		{
			name:  "large",
			addr:  func(t *testing.T) string { return filepath.Join(t.TempDir(), "notify") },
			state: "STATUS=" + strings.Repeat("x", 2000),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := tt.addr(t)
			recv := listen(t, addr)
			t.Setenv("NOTIFY_SOCKET", addr)
			for range 2 {
				sent, err := Send(tt.state)
				if !sent || err != nil {
					t.Fatalf("Send = %v, %v; want true, nil", sent, err)
				}
				if got := recv(); got != tt.state {
					t.Fatalf("received %q, want %q", got, tt.state)
				}
			}
			if got := os.Getenv("NOTIFY_SOCKET"); got != addr {
				t.Fatalf("NOTIFY_SOCKET is now %q, want it kept (%q)", got, addr)
			}
		})
	}
}

func TestSendErrors(t *testing.T) {
	tests := []struct {
		name    string
		addr    func(t *testing.T) string
		wantErr error  // matched with errors.Is, if set
		wantMsg string // a part of the message
	}{
		{
			name:    "no socket",
			addr:    func(t *testing.T) string { return filepath.Join(t.TempDir(), "gone") },
			wantErr: syscall.ENOENT,
			wantMsg: "sdnotify: send to /",
		},
		{
			name: "socket nobody reads",
			addr: func(t *testing.T) string {
				path := filepath.Join(t.TempDir(), "dead")
				c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
				if err != nil {
					t.Fatal(err)
				}
				c.Close() // a datagram socket leaves its file behind
				return path
			},
			wantErr: syscall.ECONNREFUSED,
			wantMsg: "sdnotify: send to /",
		},
		{
			name:    "relative path",
			addr:    func(t *testing.T) string { return "notify" },
			wantMsg: `NOTIFY_SOCKET="notify": not an absolute path`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("NOTIFY_SOCKET", tt.addr(t))
			sent, err := Send(Ready)
			if sent || err == nil || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("Send = %v, %v; want false and an error containing %q", sent, err, tt.wantMsg)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("Send error %v is not %v", err, tt.wantErr)
			}
		})
	}
}

func TestSendWithoutManager(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	if sent, err := Send(Ready); sent || err != nil {
		t.Fatalf("Send = %v, %v; want false, nil", sent, err)
	}
}

func TestWatchdogIntervalEnvironment(t *testing.T) {
	t.Setenv("WATCHDOG_USEC", "5000000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	if got, err := WatchdogInterval(); got != 5*time.Second || err != nil {
		t.Fatalf("WatchdogInterval = %v, %v; want 5s", got, err)
	}
	if os.Getenv("WATCHDOG_USEC") != "5000000" || os.Getenv("WATCHDOG_PID") == "" {
		t.Fatal("WatchdogInterval changed the environment")
	}
}

// MONOTONIC_USEC is CLOCK_MONOTONIC, read between two readings of ours.
func TestMonotonicUsec(t *testing.T) {
	now := func() int64 {
		var ts unix.Timespec
		if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
			t.Fatal(err)
		}
		return ts.Nano() / 1000
	}
	before := now()
	s := MonotonicUsec()
	after := now()
	v, ok := strings.CutPrefix(s, "MONOTONIC_USEC=")
	n, err := strconv.ParseInt(v, 10, 64)
	if !ok || err != nil || n < before || n > after {
		t.Fatalf("MonotonicUsec = %q, want MONOTONIC_USEC= between %d and %d", s, before, after)
	}
}
