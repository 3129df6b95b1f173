package linkwatch

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// requireRoot skips a kernel test for an unprivileged developer, but fails it
// in CI, where a missing capability means the run proves nothing.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("kernel test needs root (CI=true)")
	}
	t.Skip("kernel test needs root")
}

var nsCounter atomic.Int64

// netns is a named network namespace that lives as long as its test.
type netns struct {
	name string
}

func newNetns(t *testing.T) *netns {
	t.Helper()
	requireRoot(t)
	name := fmt.Sprintf("linkwatch%dt%d", os.Getpid(), nsCounter.Add(1))
	run(t, "ip", "netns", "add", name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	return &netns{name: name}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// ip runs the ip command inside the namespace.
func (ns *netns) ip(t *testing.T, args ...string) {
	t.Helper()
	run(t, "ip", append([]string{"-n", ns.name}, args...)...)
}

// batch runs several ip commands in one process, so they reach the kernel
// within a millisecond or so: one burst.
func (ns *netns) batch(t *testing.T, cmds ...string) {
	t.Helper()
	c := exec.Command("ip", "-n", ns.name, "-batch", "-")
	c.Stdin = strings.NewReader(strings.Join(cmds, "\n") + "\n")
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("ip -batch: %v: %s", err, out)
	}
}

// do runs f on a thread switched into the namespace, so sockets f creates
// belong to it, and switches back. If switching back fails the thread stays
// locked and dies with the goroutine rather than leak into other tests.
func (ns *netns) do(t *testing.T, f func()) {
	t.Helper()
	runtime.LockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	defer orig.Close()
	target, err := os.Open("/var/run/netns/" + ns.name)
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("setns %s: %v", ns.name, err)
	}
	defer func() {
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			t.Errorf("setns back from %s: %v", ns.name, err)
			return
		}
		runtime.UnlockOSThread()
	}()
	f()
}
