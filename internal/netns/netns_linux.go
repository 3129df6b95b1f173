package netns

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

var counter atomic.Int64

// NS is a named network namespace that lives as long as its test.
type NS struct {
	Name string // for ip -n and "netns" arguments
}

// New creates a namespace, deleted when the test ends. Its loopback stays
// down, as the kernel makes it. New calls RequireRoot first.
func New(t testing.TB) *NS {
	t.Helper()
	RequireRoot(t)
	prog := strings.TrimSuffix(filepath.Base(os.Args[0]), ".test")
	name := fmt.Sprintf("%s-%d-%d", prog, os.Getpid(), counter.Add(1))
	Run(t, "ip", "netns", "add", name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	return &NS{Name: name}
}

// IP runs the ip command inside the namespace and returns its output.
func (ns *NS) IP(t testing.TB, args ...string) string {
	t.Helper()
	return Run(t, "ip", append([]string{"-n", ns.Name}, args...)...)
}

// Batch runs several ip commands (without the leading "ip") in one process,
// so they reach the kernel within a millisecond or so: one burst.
func (ns *NS) Batch(t testing.TB, cmds ...string) {
	t.Helper()
	c := exec.Command("ip", "-n", ns.Name, "-batch", "-")
	c.Stdin = strings.NewReader(strings.Join(cmds, "\n") + "\n")
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("ip -batch: %v: %s", err, out)
	}
}

// Do runs f on a thread switched into the namespace, so sockets f creates
// belong to it, and switches back. If switching back fails the thread stays
// locked and dies with the goroutine rather than leak into other tests.
func (ns *NS) Do(t testing.TB, f func()) {
	t.Helper()
	runtime.LockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	defer orig.Close()
	target, err := os.Open("/var/run/netns/" + ns.Name)
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("setns %s: %v", ns.Name, err)
	}
	defer func() {
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			t.Errorf("setns back from %s: %v", ns.Name, err)
			return
		}
		runtime.UnlockOSThread()
	}()
	f()
}

// Enter moves the test goroutine's thread into a new network namespace for
// the rest of the test; its loopback is brought up. The thread is never
// unlocked, so the runtime discards it when the test goroutine ends and the
// namespace goes with it. Commands started from this goroutine (Run) inherit
// the namespace. Enter calls RequireRoot first.
func Enter(t testing.TB) {
	t.Helper()
	RequireRoot(t)
	runtime.LockOSThread()
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		t.Fatalf("unshare netns: %v", err)
	}
	Run(t, "ip", "link", "set", "lo", "up")
}
