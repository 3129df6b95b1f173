// Package netns gives privileged tests network namespaces of their own, so
// they can create links, addresses and multicast routing tables without
// touching the host's, and clean up after themselves. It is imported only by
// _test.go files and never ends up in the daemon.
//
// New makes a named namespace (ip netns add) that lives as long as the test;
// its Do runs a function on a thread switched into it, and IP and Batch run
// ip commands in it. Enter moves the test goroutine itself into a fresh
// anonymous namespace. RequireRoot is the gate every kernel test passes
// first: it skips for an unprivileged developer and fails under CI=true.
package netns

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// RequireRoot skips a kernel test for an unprivileged developer, but fails it
// in CI (CI=true), where a missing capability means the run proves nothing and
// a misconfigured runner must not pass by skipping.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("kernel test needs root (CI=true)")
	}
	t.Skip("kernel test needs root")
}

// Run runs a command and returns its combined output, failing the test if it
// fails. It runs in the namespace of the calling thread.
func Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}
