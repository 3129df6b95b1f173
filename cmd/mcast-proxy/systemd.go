package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/sdnotify"
)

// notifier tells systemd what the daemon is doing over the sd_notify
// protocol (sd_notify(3)): READY=1, RELOADING=1, STOPPING=1, STATUS= and
// WATCHDOG=1. It implements daemon.Supervisor.
type notifier struct {
	log    *slog.Logger
	failed bool // a send failed and was logged; later failures are not
}

// newNotifier returns a notifier and the watchdog interval when systemd
// (or another service manager speaking sd_notify) started us with
// NOTIFY_SOCKET set, and nil otherwise.
func newNotifier(log *slog.Logger) (*notifier, time.Duration) {
	if os.Getenv("NOTIFY_SOCKET") == "" {
		return nil, 0
	}
	n := &notifier{log: log}
	// WATCHDOG_USEC comes with WatchdogSec=; WATCHDOG_PID, when set, must
	// be ours, or the watchdog belongs to another process.
	wd, err := sdnotify.WatchdogInterval()
	if err != nil {
		log.Warn("systemd watchdog settings ignored", "err", err)
		wd = 0
	}
	return n, wd
}

func (n *notifier) send(state string) {
	_, err := sdnotify.Send(state)
	if err == nil {
		n.failed = false
		return
	}
	if !n.failed {
		n.log.Warn("cannot notify systemd", "err", err)
		n.failed = true
	}
}

func (n *notifier) Ready(status string) { n.send(sdnotify.Ready + "\nSTATUS=" + status) }

// Reloading carries MONOTONIC_USEC, which Type=notify-reload requires and
// plain Type=notify accepts.
func (n *notifier) Reloading() { n.send(sdnotify.Reloading + "\n" + sdnotify.MonotonicUsec()) }

func (n *notifier) Stopping()            { n.send(sdnotify.Stopping + "\nSTATUS=stopping") }
func (n *notifier) Status(status string) { n.send("STATUS=" + status) }
func (n *notifier) Alive()               { n.send(sdnotify.Watchdog) }

// journalHandler writes text records as slog.TextHandler does, each line
// prefixed with its syslog priority ("<3>" error, "<4>" warning, "<6>"
// info, "<7>" debug). systemd reads the prefix of lines on a service's
// stderr (SyslogLevelPrefix=, sd-daemon(3)) and files the entry under that
// priority, so `journalctl -p warning -u mcast-proxy` shows the problems.
type journalHandler struct {
	inner slog.Handler
	out   *priorityWriter
}

// priorityWriter prefixes each write, which slog.TextHandler makes once per
// record, with the priority of the record being written. The mutex spans
// setting the priority and the write.
type priorityWriter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
	buf    []byte
}

func (p *priorityWriter) Write(b []byte) (int, error) {
	p.buf = append(append(p.buf[:0], p.prefix...), b...)
	if _, err := p.w.Write(p.buf); err != nil {
		return 0, err
	}
	return len(b), nil
}

func newJournalHandler(w io.Writer, opts *slog.HandlerOptions) *journalHandler {
	out := &priorityWriter{w: w}
	return &journalHandler{inner: slog.NewTextHandler(out, opts), out: out}
}

func (h *journalHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *journalHandler) Handle(ctx context.Context, r slog.Record) error {
	h.out.mu.Lock()
	defer h.out.mu.Unlock()
	switch {
	case r.Level >= slog.LevelError:
		h.out.prefix = "<3>"
	case r.Level >= slog.LevelWarn:
		h.out.prefix = "<4>"
	case r.Level >= slog.LevelInfo:
		h.out.prefix = "<6>"
	default:
		h.out.prefix = "<7>"
	}
	return h.inner.Handle(ctx, r)
}

func (h *journalHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &journalHandler{inner: h.inner.WithAttrs(attrs), out: h.out}
}

func (h *journalHandler) WithGroup(name string) slog.Handler {
	return &journalHandler{inner: h.inner.WithGroup(name), out: h.out}
}
