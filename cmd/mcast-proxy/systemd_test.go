package main

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/logx"
)

// notifySocket listens where a service manager would and returns what it
// receives, one datagram per call.
func notifySocket(t *testing.T) func() string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	return func() string {
		t.Helper()
		buf := make([]byte, 4096)
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("no notification: %v", err)
		}
		return string(buf[:n])
	}
}

func TestNotifierMessages(t *testing.T) {
	recv := notifySocket(t)
	t.Setenv("WATCHDOG_USEC", "3000000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	n, wd := newNotifier(logx.New(io.Discard, logx.Options{}))
	if n == nil || wd != 3*time.Second {
		t.Fatalf("newNotifier = %v, %v; want a notifier and 3s", n, wd)
	}
	n.Ready("1 of 2 interfaces active")
	if got, want := recv(), "READY=1\nSTATUS=1 of 2 interfaces active"; got != want {
		t.Errorf("Ready sent %q, want %q", got, want)
	}
	n.Reloading()
	got := recv()
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != 2 || lines[0] != "RELOADING=1" || !strings.HasPrefix(lines[1], "MONOTONIC_USEC=") {
		t.Errorf("Reloading sent %q, want RELOADING=1 and MONOTONIC_USEC=", got)
	} else if us, err := strconv.ParseInt(strings.TrimPrefix(lines[1], "MONOTONIC_USEC="), 10, 64); err != nil || us <= 0 {
		t.Errorf("Reloading sent a bad MONOTONIC_USEC: %q", lines[1])
	}
	n.Status("2 of 2 interfaces active")
	if got, want := recv(), "STATUS=2 of 2 interfaces active"; got != want {
		t.Errorf("Status sent %q, want %q", got, want)
	}
	n.Alive()
	if got, want := recv(), "WATCHDOG=1"; got != want {
		t.Errorf("Alive sent %q, want %q", got, want)
	}
	n.Stopping()
	if got, want := recv(), "STOPPING=1\nSTATUS=stopping"; got != want {
		t.Errorf("Stopping sent %q, want %q", got, want)
	}
}

func TestNotifierEnvironment(t *testing.T) {
	log := logx.New(io.Discard, logx.Options{})
	t.Run("no NOTIFY_SOCKET", func(t *testing.T) {
		t.Setenv("NOTIFY_SOCKET", "")
		t.Setenv("WATCHDOG_USEC", "3000000")
		if n, wd := newNotifier(log); n != nil || wd != 0 {
			t.Errorf("newNotifier = %v, %v; want nil, 0", n, wd)
		}
	})
	t.Run("watchdog of another process", func(t *testing.T) {
		notifySocket(t)
		t.Setenv("WATCHDOG_USEC", "3000000")
		t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()+1))
		if n, wd := newNotifier(log); n == nil || wd != 0 {
			t.Errorf("newNotifier = %v, %v; want a notifier without watchdog", n, wd)
		}
	})
	t.Run("no watchdog", func(t *testing.T) {
		notifySocket(t)
		t.Setenv("WATCHDOG_USEC", "")
		if n, wd := newNotifier(log); n == nil || wd != 0 {
			t.Errorf("newNotifier = %v, %v; want a notifier without watchdog", n, wd)
		}
	})
	t.Run("bad watchdog", func(t *testing.T) {
		notifySocket(t)
		t.Setenv("WATCHDOG_USEC", "soon")
		if n, wd := newNotifier(log); n == nil || wd != 0 {
			t.Errorf("newNotifier = %v, %v; want a notifier without watchdog", n, wd)
		}
	})
}

// A vanished notification socket is logged once, not on every message.
func TestNotifierSendFailureLoggedOnce(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "gone"))
	var b strings.Builder
	n, _ := newNotifier(logx.New(&b, logx.Options{}))
	n.Alive()
	n.Alive()
	n.Status("x")
	if c := strings.Count(b.String(), "cannot notify systemd"); c != 1 {
		t.Errorf("logged %d times, want once:\n%s", c, b.String())
	}
}

// On the journal's stream each line starts with its syslog priority, and
// loggers derived with With keep it; elsewhere lines are plain.
func TestJournalPriorities(t *testing.T) {
	var b strings.Builder
	t.Setenv("JOURNAL_STREAM", "8:12345")
	log := newLogger(&b, false, 1)
	log.Debug("packet dropped")
	log.Info("starting")
	log.With("family", "ipv4").Warn("limit reached")
	log.WithGroup("g").Error("reload failed", "err", "x")
	want := "<7>level=DEBUG msg=\"packet dropped\"\n" +
		"<6>level=INFO msg=starting\n" +
		"<4>level=WARN msg=\"limit reached\" family=ipv4\n" +
		"<3>level=ERROR msg=\"reload failed\" g.err=x\n"
	if b.String() != want {
		t.Errorf("journal lines:\n%s\nwant:\n%s", b.String(), want)
	}

	b.Reset()
	newLogger(&b, true, 0).Warn("foreground")
	if strings.HasPrefix(b.String(), "<") {
		t.Errorf("-d adds a priority prefix: %q", b.String())
	}
	b.Reset()
	t.Setenv("JOURNAL_STREAM", "")
	newLogger(&b, false, 0).Warn("procd")
	if got, want := b.String(), "level=WARN msg=procd\n"; got != want {
		t.Errorf("without the journal: %q, want %q", got, want)
	}
}
