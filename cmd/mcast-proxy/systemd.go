package main

import (
	"os"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/logx"
	"github.com/mcast-proxy/mcast-proxy/internal/sdnotify"
)

// notifier tells systemd what the daemon is doing over the sd_notify
// protocol (sd_notify(3)): READY=1, RELOADING=1, STOPPING=1, STATUS= and
// WATCHDOG=1. It implements daemon.Supervisor.
type notifier struct {
	log    *logx.Logger
	failed bool // a send failed and was logged; later failures are not
}

// newNotifier returns a notifier and the watchdog interval when systemd
// (or another service manager speaking sd_notify) started us with
// NOTIFY_SOCKET set, and nil otherwise.
func newNotifier(log *logx.Logger) (*notifier, time.Duration) {
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
