//go:build linux && systemdvm

package e2e

// The shipped systemd unit under a real systemd: `make test-systemd` boots
// the test VM with the host's systemd as init (mcast-testvm -systemd) and
// runs this test as a service of it. The unit is installed as shipped, only
// /usr/bin/mcast-proxy is this build. The daemon runs in the VM's own
// network namespace, wired by veth pairs to a sender and a receiver in
// namespaces of their own.

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/netlab"
)

// systemctl runs systemctl and returns its output; a failure is returned,
// not fatal, for the commands expected to fail.
func systemctl(args ...string) (string, error) {
	out, err := exec.Command("systemctl", append([]string{"--no-pager"}, args...)...).CombinedOutput()
	return string(out), err
}

// unitProps reads properties of mcast-proxy.service.
func unitProps(t *testing.T, names ...string) map[string]string {
	t.Helper()
	out, err := systemctl("show", "mcast-proxy.service", "-p", strings.Join(names, ","))
	if err != nil {
		t.Fatalf("systemctl show: %v\n%s", err, out)
	}
	props := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			props[k] = v
		}
	}
	return props
}

// journal returns the unit's journal since a time, with extra journalctl
// arguments such as a priority.
func journal(t *testing.T, since time.Time, args ...string) string {
	t.Helper()
	args = append([]string{"--no-pager", "-o", "cat", "-u", "mcast-proxy.service",
		"--since", since.Add(-time.Second).Format("2006-01-02 15:04:05")}, args...)
	out, err := exec.Command("journalctl", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("journalctl: %v\n%s", err, out)
	}
	return string(out)
}

func rootIP(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestSystemdUnit: start reaches active (running) through READY=1; the
// process has a non-root user and exactly CAP_NET_ADMIN and CAP_NET_RAW; a
// stream flows; the status line and the watchdog pings reach systemd;
// `systemctl reload` applies a changed file without a new PID and refuses
// a broken one with its file:line:col errors in the journal; a halted daemon
// is restarted by the watchdog; `systemctl stop` leaves no forwarding
// entries, rules or socket.
func TestSystemdUnit(t *testing.T) {
	if b, _ := os.ReadFile("/proc/1/comm"); strings.TrimSpace(string(b)) != "systemd" {
		t.Fatalf("PID 1 is %q, not systemd: run this test with make test-systemd", strings.TrimSpace(string(b)))
	}
	if buildErr != nil {
		t.Fatalf("cannot build the daemon: %v", buildErr)
	}

	// Install the unit as shipped and this build as /usr/bin/mcast-proxy.
	// The VM's root is an overlay in memory: nothing reaches the host.
	// go test runs the test in its package directory.
	unit, err := os.ReadFile(filepath.Join("..", "..", "init", "mcast-proxy.service"))
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile("/etc/systemd/system/mcast-proxy.service", unit, 0o644))
	must(copyFile(daemonBin, "/usr/bin/mcast-proxy.new", 0o755))
	must(os.Rename("/usr/bin/mcast-proxy.new", "/usr/bin/mcast-proxy"))

	// The network: up0 towards a sender, lan0 towards a receiver.
	lab, err := netlab.New()
	must(err)
	t.Cleanup(func() { lab.Close() })
	must(lab.AddNS("src", "rcv"))
	rootIP(t, "link", "add", "up0", "type", "veth", "peer", "name", "eth0", "netns", lab.NS("src"))
	rootIP(t, "link", "add", "lan0", "type", "veth", "peer", "name", "eth0", "netns", lab.NS("rcv"))
	t.Cleanup(func() {
		exec.Command("ip", "link", "del", "up0").Run()
		exec.Command("ip", "link", "del", "lan0").Run()
	})
	rootIP(t, "addr", "add", "10.0.0.1/24", "dev", "up0")
	rootIP(t, "addr", "add", "192.168.1.1/24", "dev", "lan0")
	rootIP(t, "link", "set", "up0", "up")
	rootIP(t, "link", "set", "lan0", "up")
	must(lab.Addr("src", "eth0", "10.0.0.2/24"))
	must(lab.Addr("rcv", "eth0", "192.168.1.11/24"))
	must(lab.Route("src", "default", "via", "10.0.0.1"))
	must(lab.Route("rcv", "default", "via", "192.168.1.1"))
	for _, key := range []string{"all", "default", "up0", "lan0"} {
		must(os.WriteFile("/proc/sys/net/ipv4/conf/"+key+"/rp_filter", []byte("0"), 0o644))
	}

	const conf = "table 10\n" +
		"interface up0 { upstream }\n" +
		"interface lan0 { downstream; query-interval 2s; query-response-interval 1s; startup-query-interval 500ms }\n"
	must(os.WriteFile("/etc/mcast-proxy.conf", []byte(conf), 0o644))

	if out, err := systemctl("daemon-reload"); err != nil {
		t.Fatalf("daemon-reload: %v\n%s", err, out)
	}
	start := time.Now()
	if out, err := systemctl("start", "mcast-proxy.service"); err != nil {
		t.Fatalf("systemctl start: %v\n%s\n%s", err, out, journal(t, start))
	}
	t.Logf("systemctl start returned after %v (Type=notify: after READY=1)", time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("journal:\n%s", indent(journal(t, start)))
		}
	})
	p := unitProps(t, "ActiveState", "SubState", "MainPID", "Type", "StatusText", "NRestarts", "WatchdogUSec")
	if p["ActiveState"] != "active" || p["SubState"] != "running" || p["Type"] != "notify" {
		t.Fatalf("after start: %v, want active (running), Type=notify", p)
	}
	pid, err := strconv.Atoi(p["MainPID"])
	must(err)
	t.Logf("active (running), pid %d, status %q, watchdog %s", pid, p["StatusText"], p["WatchdogUSec"])
	if !strings.Contains(p["StatusText"], "interfaces active") {
		t.Errorf("StatusText %q is not the daemon's summary", p["StatusText"])
	}

	st := procStatus(t, pid)
	if uid := strings.Fields(st["Uid"]); len(uid) != 4 || slicesContain(uid, "0") {
		t.Errorf("Uid %q: the daemon runs as root", st["Uid"])
	}
	for _, k := range []string{"CapEff", "CapPrm", "CapBnd", "CapAmb"} {
		v, err := strconv.ParseUint(st[k], 16, 64)
		if err != nil || v != netCaps {
			t.Errorf("%s: %s, want %016x (CAP_NET_ADMIN and CAP_NET_RAW only)", k, st[k], netCaps)
		}
	}
	if st["NoNewPrivs"] != "1" {
		t.Errorf("NoNewPrivs: %q, want 1", st["NoNewPrivs"])
	}

	// A stream from src reaches the receiver that joined on lan0.
	g := netip.MustParseAddrPort("239.1.1.1:5001")
	src := netip.MustParseAddr("10.0.0.2")
	r, err := lab.NewReceiver("rcv", "eth0", g, netlab.AnySource)
	must(err)
	t0 := time.Now()
	_, err = lab.NewSender("src", "eth0", src, g, 10*time.Millisecond)
	must(err)
	deadline := time.Now().Add(20 * time.Second)
	for r.CountSince(src, t0) < 20 {
		if time.Now().After(deadline) {
			t.Fatalf("no stream at the receiver after 20s; ip mroute show table 10:\n%s", rootIP(t, "mroute", "show", "table", "10"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if out := rootIP(t, "mroute", "show", "table", "10"); !strings.Contains(out, "239.1.1.1") {
		t.Errorf("no forwarding entry in table 10:\n%s", out)
	}
	if out := rootIP(t, "mrule", "show"); !regexp.MustCompile(`iif up0 lookup 10`).MatchString(out) {
		t.Errorf("no rule for up0 in ip mrule show:\n%s", out)
	}

	// The status line follows: a group and a flow, within the 10 s refresh.
	deadline = time.Now().Add(25 * time.Second)
	for !regexp.MustCompile(`upstream up0, [1-9]\d* groups, [1-9]\d* flows`).MatchString(unitProps(t, "StatusText")["StatusText"]) {
		if time.Now().After(deadline) {
			t.Fatalf("StatusText still %q", unitProps(t, "StatusText")["StatusText"])
		}
		time.Sleep(500 * time.Millisecond)
	}

	// The watchdog is fed: systemd records a newer ping (every 15 s).
	first := unitProps(t, "WatchdogTimestampMonotonic")["WatchdogTimestampMonotonic"]
	deadline = time.Now().Add(40 * time.Second)
	for unitProps(t, "WatchdogTimestampMonotonic")["WatchdogTimestampMonotonic"] == first {
		if time.Now().After(deadline) {
			t.Fatalf("no watchdog ping recorded in 40s (WatchdogTimestampMonotonic stays %s)", first)
		}
		time.Sleep(time.Second)
	}

	// The control socket: root reaches it at its default path.
	if out, err := exec.Command("/usr/bin/mcast-proxy", "status").CombinedOutput(); err != nil {
		t.Errorf("mcast-proxy status: %v\n%s", err, out)
	}

	// A good reload: applied, same PID.
	reloadAt := time.Now()
	must(os.WriteFile("/etc/mcast-proxy.conf", []byte(strings.Replace(conf, "query-interval 2s", "query-interval 3s", 1)), 0o644))
	if out, err := systemctl("reload", "mcast-proxy.service"); err != nil {
		t.Errorf("systemctl reload of a good file: %v\n%s", err, out)
	}
	if j := journal(t, reloadAt); !strings.Contains(j, "configuration reloaded") {
		t.Errorf("no 'configuration reloaded' in the journal:\n%s", j)
	}
	// A broken file: refused, with its position, same PID, still running.
	reloadAt = time.Now()
	must(os.WriteFile("/etc/mcast-proxy.conf", []byte(conf+"interface lan0 { downstream }\n"), 0o644))
	if out, err := systemctl("reload", "mcast-proxy.service"); err == nil {
		t.Errorf("systemctl reload of a broken file succeeded:\n%s", out)
	}
	// At error priority: the daemon prefixes its lines with "<3>".
	if j := journal(t, reloadAt, "-p", "err"); !regexp.MustCompile(`/etc/mcast-proxy\.conf:4:\d+: `).MatchString(j) {
		t.Errorf("the journal lacks the file:line:col error of the broken file at priority err:\n%s\nall priorities:\n%s", j, journal(t, reloadAt))
	}
	p = unitProps(t, "ActiveState", "SubState", "MainPID", "NRestarts")
	if p["MainPID"] != strconv.Itoa(pid) || p["ActiveState"] != "active" || p["SubState"] != "running" || p["NRestarts"] != "0" {
		t.Errorf("after the reloads: %v, want the same PID %d, active (running), no restart", p, pid)
	}
	if r.CountSince(src, time.Now().Add(-time.Second)) == 0 {
		t.Errorf("the stream stopped during the reloads")
	}

	// A daemon that stops serving: SIGSTOP halts its loop with everything
	// else, the pings stop, and after WatchdogSec systemd kills it and
	// starts a new one, which takes the stream up again.
	must(os.WriteFile("/etc/mcast-proxy.conf", []byte(conf), 0o644))
	stuckAt := time.Now()
	must(syscall.Kill(pid, syscall.SIGSTOP))
	deadline = time.Now().Add(90 * time.Second)
	for {
		p = unitProps(t, "ActiveState", "SubState", "MainPID", "NRestarts")
		if p["NRestarts"] == "1" && p["ActiveState"] == "active" && p["SubState"] == "running" && p["MainPID"] != strconv.Itoa(pid) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no restart by the watchdog within 90s: %v", p)
		}
		time.Sleep(time.Second)
	}
	t.Logf("watchdog: restarted as pid %s %v after the stop", p["MainPID"], time.Since(stuckAt).Round(time.Second))
	if j := journal(t, stuckAt); !strings.Contains(j, "Watchdog timeout") {
		t.Errorf("the journal does not say the watchdog fired:\n%s", j)
	}
	// RuntimeDirectoryPreserve=restart kept /run/mcast-proxy over the
	// restart: the new daemon found the old one's state snapshot, readable
	// under its (possibly new) dynamic user, and rightly found it too old
	// after the watchdog's 30 s to restore.
	if j := journal(t, stuckAt); !strings.Contains(j, "state snapshot ignored: older than the group membership interval") {
		t.Errorf("the restarted daemon did not find the stuck one's state snapshot in /run/mcast-proxy:\n%s", j)
	}
	pid, err = strconv.Atoi(p["MainPID"])
	must(err)
	t0 = time.Now()
	deadline = time.Now().Add(30 * time.Second)
	for r.CountSince(src, t0) < 20 {
		if time.Now().After(deadline) {
			t.Fatalf("no stream at the receiver within 30s of the restart")
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Stop: nothing left in the kernel, no socket.
	if out, err := systemctl("stop", "mcast-proxy.service"); err != nil {
		t.Fatalf("systemctl stop: %v\n%s", err, out)
	}
	if p := unitProps(t, "ActiveState", "Result"); p["ActiveState"] != "inactive" || p["Result"] != "success" {
		t.Errorf("after stop: %v, want inactive, success", p)
	}
	if out := rootIP(t, "mroute", "show", "table", "10"); strings.TrimSpace(out) != "" {
		t.Errorf("forwarding entries left after stop:\n%s", out)
	}
	if out := rootIP(t, "mrule", "show"); strings.Contains(out, "lookup 10") {
		t.Errorf("rules left after stop:\n%s", out)
	}
	if _, err := os.Stat("/run/mcast-proxy"); err == nil {
		t.Errorf("/run/mcast-proxy left after stop")
	}
	fmt.Fprintf(os.Stderr, "systemd unit: start, status, watchdog, reloads and stop checked under %s\n", systemdVersion())
}

func slicesContain(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func systemdVersion() string {
	out, err := exec.Command("systemctl", "--version").Output()
	if err != nil {
		return "systemd"
	}
	return strings.SplitN(string(out), "\n", 2)[0]
}
