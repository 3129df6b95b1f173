//go:build linux

package netlab

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// namePrefix starts the name of every namespace a Lab creates. The full
// prefix is namePrefix, the creating process id, "x" and a random tag, then a
// dash and the short name: "mpl4711xa1b2-router".
const namePrefix = "mpl"

// leftover matches namespaces of earlier labs and captures their owner's pid.
var leftover = regexp.MustCompile(`^` + namePrefix + `([0-9]+)x[0-9a-f]{4}-`)

// Lab is a set of network namespaces with the links, processes and sockets
// created in them. Its methods may be called from several goroutines.
type Lab struct {
	prefix string

	// Logf, when set, is told every command the lab runs.
	Logf func(format string, args ...any)

	mu      sync.Mutex // guards the fields below
	ns      []string   // short names, in creation order
	procs   []*Proc
	closers []io.Closer
	closed  bool
}

// New returns an empty lab. It first removes namespaces left behind by labs
// of processes that no longer run (crashed earlier runs); namespaces of live
// processes, such as parallel test runs, are left alone.
func New() (*Lab, error) {
	if err := removeLeftovers(); err != nil {
		return nil, err
	}
	tag := make([]byte, 2)
	if _, err := rand.Read(tag); err != nil {
		return nil, fmt.Errorf("netlab: random tag: %w", err)
	}
	return &Lab{prefix: fmt.Sprintf("%s%dx%s", namePrefix, os.Getpid(), hex.EncodeToString(tag))}, nil
}

func removeLeftovers() error {
	names, err := listNamespaces()
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range names {
		m := leftover.FindStringSubmatch(name)
		if m == nil {
			continue
		}
		pid, _ := strconv.Atoi(m[1])
		if pid == os.Getpid() || processAlive(pid) {
			continue
		}
		killNamespacePids(name)
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("netlab: remove leftover namespace %s: %w: %s", name, err, bytes.TrimSpace(out)))
		}
	}
	return errors.Join(errs...)
}

func listNamespaces() ([]string, error) {
	entries, err := os.ReadDir("/run/netns")
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("netlab: list namespaces: %w", err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names, nil
}

func processAlive(pid int) bool {
	err := unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}

// killNamespacePids kills the processes still running inside a lab namespace,
// which would otherwise keep it alive after "ip netns del".
func killNamespacePids(full string) {
	out, err := exec.Command("ip", "netns", "pids", full).Output()
	if err != nil {
		return
	}
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil && pid != os.Getpid() {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
	}
}

// Prefix is the name prefix of this lab's namespaces.
func (l *Lab) Prefix() string { return l.prefix }

// NS returns the full name of the lab's namespace called short, as used with
// "ip -n" or "ip netns exec".
func (l *Lab) NS(short string) string { return l.prefix + "-" + short }

func (l *Lab) logf(format string, args ...any) {
	if l.Logf != nil {
		l.Logf(format, args...)
	}
}

// run executes a command in the root namespace and returns its stdout.
func (l *Lab) run(name string, args ...string) ([]byte, error) {
	l.logf("netlab: %s %s", name, strings.Join(args, " "))
	cmd := exec.Command(name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("netlab: %s %s: %w: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return out, nil
}

// AddNS creates namespaces with the given short names and brings their
// loopback interfaces up.
func (l *Lab) AddNS(names ...string) error {
	for _, n := range names {
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			return errors.New("netlab: lab is closed")
		}
		l.mu.Unlock()
		if _, err := l.run("ip", "netns", "add", l.NS(n)); err != nil {
			return err
		}
		l.mu.Lock()
		l.ns = append(l.ns, n)
		l.mu.Unlock()
		if err := l.IP(n, "link", "set", "lo", "up"); err != nil {
			return err
		}
	}
	return nil
}

// IP runs "ip -n NS args...".
func (l *Lab) IP(ns string, args ...string) error {
	_, err := l.run("ip", append([]string{"-n", l.NS(ns)}, args...)...)
	return err
}

// IPOutput runs "ip -n NS args..." and returns what it printed.
func (l *Lab) IPOutput(ns string, args ...string) (string, error) {
	out, err := l.run("ip", append([]string{"-n", l.NS(ns)}, args...)...)
	return string(out), err
}

// Link connects interface ifA in namespace nsA to interface ifB in nsB with a
// veth pair and brings both ends up.
func (l *Lab) Link(nsA, ifA, nsB, ifB string) error {
	if err := l.IP(nsA, "link", "add", ifA, "type", "veth", "peer", "name", ifB, "netns", l.NS(nsB)); err != nil {
		return err
	}
	if err := l.IP(nsA, "link", "set", ifA, "up"); err != nil {
		return err
	}
	return l.IP(nsB, "link", "set", ifB, "up")
}

// Bridge creates bridge br in namespace ns with the given extra "ip link"
// bridge options (for example "mcast_snooping", "1"), enslaves ports to it
// and brings it up.
func (l *Lab) Bridge(ns, br string, ports []string, opts ...string) error {
	args := append([]string{"link", "add", "name", br, "type", "bridge"}, opts...)
	if err := l.IP(ns, args...); err != nil {
		return err
	}
	for _, p := range ports {
		if err := l.IP(ns, "link", "set", p, "master", br); err != nil {
			return err
		}
	}
	return l.IP(ns, "link", "set", br, "up")
}

// Addr adds an address in CIDR form ("192.168.1.1/24") to an interface and
// brings the interface up.
func (l *Lab) Addr(ns, ifname, cidr string) error {
	if err := l.IP(ns, "addr", "add", cidr, "dev", ifname); err != nil {
		return err
	}
	return l.IP(ns, "link", "set", ifname, "up")
}

// Route adds a route ("default", "via", "10.0.0.1" and so on).
func (l *Lab) Route(ns string, args ...string) error {
	return l.IP(ns, append([]string{"route", "add"}, args...)...)
}

// Sysctl writes value to the sysctl key ("net/ipv4/conf/eth0/rp_filter" or
// "net.ipv4.conf.eth0.rp_filter") inside the namespace.
func (l *Lab) Sysctl(ns, key, value string) error {
	key = strings.TrimPrefix(key, "/proc/sys/")
	if !strings.Contains(key, "/") {
		key = strings.ReplaceAll(key, ".", "/")
	}
	path := filepath.Join("/proc/sys", key)
	l.logf("netlab: %s: %s = %s", ns, path, value)
	return l.Do(ns, func() error {
		if err := os.WriteFile(path, []byte(value), 0o644); err != nil {
			return fmt.Errorf("netlab: sysctl %s in %s: %w", key, ns, err)
		}
		return nil
	})
}

// ReadProc reads a per-namespace proc file, for example "net/ip_mr_vif" or
// "net/igmp", as seen from inside the namespace.
func (l *Lab) ReadProc(ns, name string) (string, error) {
	var data []byte
	err := l.Do(ns, func() error {
		var err error
		// /proc/self/net follows the process's main thread; thread-self
		// follows the thread that Do moved into the namespace.
		data, err = os.ReadFile(filepath.Join("/proc/thread-self", name))
		return err
	})
	if err != nil {
		return "", fmt.Errorf("netlab: read %s in %s: %w", name, ns, err)
	}
	return string(data), nil
}

// Do runs fn on a locked OS thread that has been switched into the
// namespace. Sockets fn creates belong to that namespace and stay there. The
// thread never returns to the Go scheduler: it ends with its goroutine, so
// no other code ever runs in the wrong namespace.
func (l *Lab) Do(ns string, fn func() error) error {
	path := filepath.Join("/run/netns", l.NS(ns))
	errc := make(chan error, 1)
	go func() {
		// Not unlocked on purpose: the thread exits with this goroutine.
		runtime.LockOSThread()
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("netlab: open namespace %s: %w", ns, err)
			return
		}
		err = unix.Setns(fd, unix.CLONE_NEWNET)
		unix.Close(fd)
		if err != nil {
			errc <- fmt.Errorf("netlab: enter namespace %s: %w", ns, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// Exec runs a command inside the namespace ("ip netns exec") and returns its
// combined output.
func (l *Lab) Exec(ns string, cmd ...string) ([]byte, error) {
	args := append([]string{"netns", "exec", l.NS(ns)}, cmd...)
	l.logf("netlab: ip %s", strings.Join(args, " "))
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("netlab: %s in %s: %w: %s", strings.Join(cmd, " "), ns, err, bytes.TrimSpace(out))
	}
	return out, nil
}

// Start starts a command inside the namespace. Its stdout and stderr are
// collected in the Proc; Close kills it if it still runs.
func (l *Lab) Start(ns string, cmd ...string) (*Proc, error) {
	args := append([]string{"netns", "exec", l.NS(ns)}, cmd...)
	l.logf("netlab: start ip %s", strings.Join(args, " "))
	c := exec.Command("ip", args...)
	p := &Proc{cmd: c, done: make(chan struct{})}
	c.Stdout = &p.stdout
	c.Stderr = &p.stderr
	// "ip netns exec" execs the command, so the pid is the command's. No
	// Pdeathsig: it follows the forking OS thread, which Do may end at any
	// time; Close and the leftover sweep of New kill what is left instead.
	if err := c.Start(); err != nil {
		return nil, fmt.Errorf("netlab: start %s in %s: %w", strings.Join(cmd, " "), ns, err)
	}
	go func() {
		p.err = c.Wait()
		close(p.done)
	}()
	l.mu.Lock()
	l.procs = append(l.procs, p)
	l.mu.Unlock()
	return p, nil
}

// track registers something for Close to close.
func (l *Lab) track(c io.Closer) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closers = append(l.closers, c)
}

// Close kills the lab's processes, closes its sockets and deletes its
// namespaces (and with them every interface inside). It may be called more
// than once.
func (l *Lab) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	procs, closers, names := l.procs, l.closers, l.ns
	l.mu.Unlock()

	var errs []error
	for _, p := range procs {
		p.Kill()
	}
	for _, c := range closers {
		if err := c.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
			errs = append(errs, err)
		}
	}
	for i := len(names) - 1; i >= 0; i-- {
		full := l.NS(names[i])
		killNamespacePids(full)
		if _, err := l.run("ip", "netns", "del", full); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Proc is a process started in a namespace.
type Proc struct {
	cmd    *exec.Cmd
	stdout syncBuffer
	stderr syncBuffer
	done   chan struct{}
	err    error // set before done is closed
}

// Pid is the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Stdout returns what the process has printed on stdout so far.
func (p *Proc) Stdout() string { return p.stdout.String() }

// Stderr returns what the process has printed on stderr so far.
func (p *Proc) Stderr() string { return p.stderr.String() }

// Signal sends sig to the process.
func (p *Proc) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Wait waits up to timeout for the process to exit and returns its exit
// code. ok is false if it still runs after timeout.
func (p *Proc) Wait(timeout time.Duration) (code int, ok bool) {
	select {
	case <-p.done:
	case <-time.After(timeout):
		return 0, false
	}
	return p.ExitCode(), true
}

// ExitCode is the exit code of an exited process: -1 if it was killed by a
// signal or has not exited.
func (p *Proc) ExitCode() int {
	if !p.Exited() {
		return -1
	}
	return p.cmd.ProcessState.ExitCode()
}

// Kill kills the process if it still runs and waits for it.
func (p *Proc) Kill() {
	if p.Exited() {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
