// Package init_test checks the packaging files of init/ with the tools that
// read them: systemd-analyze for the systemd unit.
package init_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// needTool finds a program the test needs. Outside CI a missing tool skips
// the test; under CI=true it fails it, since CI installs every tool.
func needTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing; .ci/run installs it", name)
		}
		t.Skipf("%s not installed", name)
	}
	return path
}

// buildOnce builds the daemon once for every test of the package, in
// buildDir.
var (
	buildDir  string
	buildOnce = sync.OnceValues(func() (string, error) {
		dir, err := os.MkdirTemp("", "mcast-proxy-init-")
		if err != nil {
			return "", err
		}
		buildDir = dir
		bin := filepath.Join(dir, "mcast-proxy")
		build := exec.Command("go", "build", "-o", bin, "../cmd/mcast-proxy")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			return "", fmt.Errorf("go build: %w\n%s", err, out)
		}
		return bin, nil
	})
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// unitWithBinary writes the shipped unit into a directory with
// /usr/bin/mcast-proxy replaced by a freshly built binary, since
// systemd-analyze verify checks that the commands exist.
func unitWithBinary(t *testing.T) string {
	t.Helper()
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	unit, err := os.ReadFile("mcast-proxy.service")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "mcast-proxy.service")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(string(unit), "/usr/bin/mcast-proxy", bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestUnitVerify: systemd-analyze verify finds nothing to say about the unit.
func TestUnitVerify(t *testing.T) {
	sa := needTool(t, "systemd-analyze")
	out, err := exec.Command(sa, "verify", "--man=no", unitWithBinary(t)).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// exposureInDocs is how docs/systemd.md states the figure.
var exposureInDocs = regexp.MustCompile("exposure level of \\*\\*(\\d+\\.\\d)\\*\\*")

// TestUnitSecurity: the unit's exposure by systemd-analyze security is 2.0
// or lower, and docs/systemd.md states the figure measured.
func TestUnitSecurity(t *testing.T) {
	sa := needTool(t, "systemd-analyze")
	// --threshold is the exposure times ten: fail above 2.0.
	out, err := exec.Command(sa, "security", "--offline=true", "--threshold=20", "--no-pager", unitWithBinary(t)).CombinedOutput()
	m := regexp.MustCompile(`Overall exposure level for mcast-proxy\.service: (\d+\.\d)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no overall exposure in the output of systemd-analyze security (%v):\n%s", err, out)
	}
	got := string(m[1])
	if err != nil {
		t.Errorf("exposure %s is above 2.0 (%v):\n%s", got, err, out)
	}
	doc, err := os.ReadFile("../docs/systemd.md")
	if err != nil {
		t.Fatal(err)
	}
	if d := exposureInDocs.FindSubmatch(doc); d == nil || string(d[1]) != got {
		t.Errorf("docs/systemd.md states exposure %q, systemd-analyze measures %s: update the docs", d, got)
	}
	t.Logf("systemd-analyze security: exposure %s", got)
}

// TestUnitCapabilities: the unit grants exactly the two capabilities the
// daemon needs, runs without root, and reloads through the daemon's own
// reload command.
func TestUnitCapabilities(t *testing.T) {
	b, err := os.ReadFile("mcast-proxy.service")
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string][]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			keys[k] = append(keys[k], v)
		}
	}
	want := map[string]string{
		"Type":                     "notify",
		"DynamicUser":              "yes",
		"AmbientCapabilities":      "CAP_NET_ADMIN CAP_NET_RAW",
		"CapabilityBoundingSet":    "CAP_NET_ADMIN CAP_NET_RAW",
		"RuntimeDirectory":         "mcast-proxy",
		"RuntimeDirectoryPreserve": "restart",
		"ExecReload":               "/usr/bin/mcast-proxy reload -s /run/mcast-proxy/mcast-proxy.sock",
	}
	for k, v := range want {
		if got := keys[k]; len(got) != 1 || got[0] != v {
			t.Errorf("%s=%q, want exactly %q", k, got, v)
		}
	}
	if s := keys["ExecStart"]; len(s) != 1 || !strings.Contains(s[0], "-s /run/mcast-proxy/mcast-proxy.sock") {
		t.Errorf("ExecStart=%q does not put the socket in the RuntimeDirectory", s)
	}
}
