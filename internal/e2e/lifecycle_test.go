//go:build linux

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/netlab"
)

// TestSIGTERMCleansUp: SIGTERM makes the daemon exit 0 within a second,
// leaving no VIFs, no forwarding entries and no upstream memberships.
func TestSIGTERMCleansUp(t *testing.T) {
	t.Parallel()
	tp := newTopo(t, topoOptions{})
	r1 := tp.receiver("rcv1", g1, netlab.AnySource)
	start := time.Now()
	tp.sender(s1, g1)
	tp.waitFlowing(r1, s1, start, 20, 5*time.Second)
	if groups, _ := tp.upstreamGroups(fam4); !groups[g1.Addr()] {
		t.Fatalf("before SIGTERM: %s not joined on up0", g1.Addr())
	}

	tp.must(tp.daemon.Signal(syscall.SIGTERM))
	sent := time.Now()
	code, ok := tp.daemon.Wait(time.Second)
	if !ok {
		t.Fatalf("daemon still running 1 s after SIGTERM")
	}
	t.Logf("daemon exited %v after SIGTERM", time.Since(sent).Round(time.Millisecond))
	if code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0", code)
	}
	if vifs := tp.vifs(fam4); len(vifs) != 0 {
		t.Errorf("VIFs left in /proc/net/ip_mr_vif: %v", vifs)
	}
	if mfc := tp.mfc(fam4); len(mfc) != 0 {
		t.Errorf("forwarding entries left in /proc/net/ip_mr_cache: %+v", mfc)
	}
	groups, _ := tp.upstreamGroups(fam4)
	for g := range groups {
		if g != allHosts {
			t.Errorf("group %s still joined on up0 after exit", g)
		}
	}
}

// TestConfigCheck: -n reports errors as file:line:col and exits 1, and exits
// 0 for a good file. It needs no privileges.
func TestConfigCheck(t *testing.T) {
	t.Parallel()
	needRoot(t) // only for the binary TestMain builds
	dir := t.TempDir()
	for _, c := range []struct {
		name, conf string
		code       int
		want       *regexp.Regexp
	}{
		{"good", testConfig, 0, nil},
		{"misspelled option", "ipv4 yes\ninterface up0 { upstrem }\ninterface br-lan { downstream }\n", 1,
			regexp.MustCompile(`(?m)bad\.conf:2:17: .+`)},
		{"querier timer on upstream", "ipv4 yes\ninterface up0 { upstream; query-interval 2s }\ninterface br-lan { downstream }\n", 1,
			regexp.MustCompile(`(?m)bad\.conf:2:\d+: .+`)},
	} {
		t.Run(c.name, func(t *testing.T) {
			name := "good.conf"
			if c.code != 0 {
				name = "bad.conf"
			}
			path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-"), name)
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(c.conf), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(daemonBin, "-n", "-f", path).CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			t.Logf("mcast-proxy -n -f %s: exit %d\n%s", name, code, out)
			if code != c.code {
				t.Errorf("exit code %d, want %d", code, c.code)
			}
			if c.want != nil && !c.want.Match(out) {
				t.Errorf("output does not match %q", c.want)
			}
		})
	}
}

// TestMRTInitClash: when another program owns the multicast routing table,
// the daemon exits 2 and says that another multicast routing daemon runs.
func TestMRTInitClash(t *testing.T) {
	t.Parallel()
	tp := newTopo(t, topoOptions{noDaemon: true})
	holdMRTInit(t, tp.lab, "router")
	tp.startDaemon(testConfig)
	code, ok := tp.daemon.Wait(5 * time.Second)
	if !ok {
		t.Fatalf("daemon still running 5 s after start although the routing table is taken")
	}
	stderr := tp.daemon.Stderr()
	t.Logf("daemon exit %d, stderr:\n%s", code, indent(stderr))
	if code != 2 {
		t.Errorf("exit code %d, want 2", code)
	}
	lower := strings.ToLower(stderr)
	if !strings.Contains(lower, "igmpproxy") && !strings.Contains(lower, "smcroute") && !strings.Contains(lower, "pimd") {
		t.Errorf("message names no other multicast routing daemon (igmpproxy, smcroute, pimd)")
	}
}
