// Command mcast-proxy is an IGMP/MLD multicast proxy (RFC 4605) for Linux
// routers, IPv4 and IPv6. It never forks: run it under procd, systemd or with -d.
package main

import (
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"

	"github.com/mcast-proxy/mcast-proxy/internal/config"
	"github.com/mcast-proxy/mcast-proxy/internal/control"
	"github.com/mcast-proxy/mcast-proxy/internal/daemon"
	"github.com/mcast-proxy/mcast-proxy/internal/format"
	"github.com/mcast-proxy/mcast-proxy/internal/logx"
	"github.com/mcast-proxy/mcast-proxy/internal/netifd"
	"github.com/mcast-proxy/mcast-proxy/internal/sorted"
)

// version is set at build time with -ldflags '-X main.version=...'.
var version = "devel"

// Exit codes: 1 for configuration errors, 2 for runtime errors.
const (
	exitConfig  = 1
	exitRuntime = 2
)

// defaultMemoryLimit is the runtime's soft memory limit unless GOMEMLIMIT
// is set (see docs/mcast-proxy.8.md).
const defaultMemoryLimit = 16 << 20

// defaultGCPercent is the runtime's GOGC unless the environment sets it: the
// live heap is small (under 2 MB with 1000 groups), so collecting at 1.5
// times it rather than twice costs little CPU and keeps garbage out of RSS.
const defaultGCPercent = 50

// tuneRuntime sets the Go runtime for a router; GOMAXPROCS, GOGC and
// GOMEMLIMIT in the environment override each choice.
func tuneRuntime() {
	if os.Getenv("GOMAXPROCS") == "" {
		// One goroutine owns all state, so a second processor buys
		// little but costs memory: each P has its own allocation caches,
		// and more of them keep more threads. Measured in the test VM:
		// 4.6 MB RSS at start with one, 6.4 MB with two
		// (docs/performance.md).
		runtime.GOMAXPROCS(1)
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// The Go runtime's soft memory limit, suited to a router with
		// 64-128 MB: the daemon's state is bounded by its byte budgets,
		// and this keeps garbage from piling up to twice the live heap
		// under a flood.
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
}

func main() {
	tuneRuntime() // first, before anything allocates
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	if code, handled := runClient(args, os.Stdout, stderr); handled {
		return code
	}
	var (
		file        = "/etc/mcast-proxy.conf"
		socket      = control.DefaultSocket
		foreground  bool
		checkOnly   bool
		showVersion bool
		verbose     int
	)
	options := []option{
		{letter: 'd', usage: "debug mode: log with timestamps to stderr", set: func(string) { foreground = true }},
		{letter: 'f', arg: "file", usage: "configuration file, native or UCI (told by its first word)", set: func(v string) { file = v }, def: file},
		{letter: 'n', usage: "only check the configuration file, print every error, and exit", set: func(string) { checkOnly = true }},
		{letter: 's', arg: "socket", usage: "control socket for 'mcast-proxy status' and 'reload'", set: func(v string) { socket = v }, def: socket},
		{letter: 'v', usage: "log at debug level too", set: func(string) { verbose++ }},
		{letter: 'V', usage: "print the version and exit", set: func(string) { showVersion = true }},
	}
	usage := func() {
		io.WriteString(stderr, "usage: mcast-proxy [-dnvV] [-f file] [-s socket]\n"+
			"       mcast-proxy status [-j] [-s socket]\n"+
			"       mcast-proxy reload [-s socket]\n")
		printOptions(stderr, options)
	}
	rest, err := parseOptions(options, args, stderr, usage)
	if errors.Is(err, errHelp) {
		return 0
	}
	if err != nil {
		return exitConfig
	}
	if len(rest) > 0 {
		io.WriteString(stderr, "mcast-proxy: unexpected argument "+strconv.Quote(rest[0])+"\n")
		usage()
		return exitConfig
	}
	if showVersion {
		format.Fprintln(os.Stdout, "mcast-proxy", version)
		return 0
	}

	cfg, err := config.Load(file)
	if err != nil {
		printConfigErrors(stderr, err)
		return exitConfig
	}
	if checkOnly {
		format.Fprintf(stderr, "%s: configuration OK\n", file)
		return 0
	}

	log := newLogger(stderr, foreground, verbose)
	// Interfaces named by a netifd network are resolved to their device at
	// start and on every reload (procd reloads us when netifd changes one).
	nets := &networks{l3: netifd.Ubus{}.L3Device, log: log}
	load := func(path string) (*config.Config, error) {
		c, err := config.Load(path)
		if err != nil {
			return nil, err
		}
		return nets.resolve(c), nil
	}
	cfg = nets.resolve(cfg)
	// SIGTERM and SIGINT stop the daemon. SIGHUP reloads the
	// configuration; signals that arrive while a reload is pending fold
	// into it. (One goroutine for all three: signal.NotifyContext links a
	// context type of its own and signal.Stop, 6 KB of code on MIPS.)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	reload := make(chan struct{}, 1)
	go func() {
		for sig := range sigs {
			if sig != syscall.SIGHUP {
				cancel()
				continue
			}
			select {
			case reload <- struct{}{}:
			default:
			}
		}
	}()

	log.Info("starting", "version", version, "config", file)
	opts := daemon.Options{Version: version, Reload: reload, ControlSocket: socket, Load: load}
	// Under systemd (Type=notify) the daemon reports readiness, reloads,
	// shutdown and a status line, and feeds the watchdog from its loop.
	if n, wd := newNotifier(log); n != nil {
		opts.Supervisor, opts.WatchdogInterval = n, wd
	}
	if err := daemon.Run(ctx, cfg, opts, log); err != nil {
		log.Error(err.Error())
		return exitRuntime
	}
	return 0
}

// networks gives interfaces that follow a netifd network the name of the
// network's device. One that cannot be resolved waits under its "@network"
// name; that is logged, never fatal. Only changes are logged: procd reloads
// on every event of a network, DHCP renewals included.
type networks struct {
	l3   func(network string) (string, error)
	log  *logx.Logger
	last map[string]string // network -> its device, or why it waits
}

func (n *networks) resolve(c *config.Config) *config.Config {
	r, errs := c.Resolve(n.l3)
	now := map[string]string{}
	for _, in := range r.Instances() {
		for _, i := range in.Interfaces {
			if i.Network != "" && !strings.HasPrefix(i.Name, "@") {
				now[i.Network] = i.Name
			}
		}
	}
	waiting := map[string]bool{}
	for _, err := range errs {
		var ne *config.NetworkError
		if errors.As(err, &ne) {
			now[ne.Network], waiting[ne.Network] = err.Error(), true
		}
	}
	for _, net := range sorted.Keys(now) {
		switch {
		case n.last[net] == now[net]:
		case waiting[net]:
			n.log.Warn("waiting for a network", "reason", now[net])
		default:
			n.log.Info("network", "network", net, "device", now[net])
		}
	}
	n.last = now
	return r
}

// printConfigErrors prints every configuration problem on its own line, as
// file:line:col: message.
func printConfigErrors(w io.Writer, err error) {
	var errs config.Errors
	if errors.As(err, &errs) {
		for _, e := range errs {
			format.Fprintln(w, e.Error())
		}
		return
	}
	format.Fprintln(w, "mcast-proxy:", err)
}

// newLogger logs to stderr. Under procd or systemd (no -d) the supervisor
// adds timestamps, so we leave them out; when stderr is systemd's journal
// each line also carries its syslog priority ("<3>" error, "<4>" warning,
// "<6>" info, "<7>" debug), which systemd reads from the lines on a
// service's stderr (SyslogLevelPrefix=, sd-daemon(3)) to file the entry
// under that priority, so `journalctl -p warning -u mcast-proxy` shows the
// problems.
func newLogger(w io.Writer, foreground bool, verbose int) *logx.Logger {
	opts := logx.Options{Level: logx.LevelInfo, NoTime: !foreground}
	if verbose > 0 {
		opts.Level = logx.LevelDebug
	}
	opts.Priority = !foreground && os.Getenv("JOURNAL_STREAM") != ""
	return logx.New(w, opts)
}
