//go:build linux

package e2e

// The daemon as its systemd unit and OpenWrt's procd run it: a user that is
// not root, holding only CAP_NET_ADMIN and CAP_NET_RAW, its control socket
// in a directory the service manager made for it, and (under systemd) the
// sd_notify protocol with a watchdog.

import (
	"fmt"
	"io"
	"net"
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

// unprivUID is the user the daemon runs as: "nobody", present everywhere.
const unprivUID = 65534

// The two capabilities, as bits of /proc/PID/status's Cap* masks
// (linux/capability.h: CAP_NET_ADMIN 12, CAP_NET_RAW 13).
const netCaps = 1<<12 | 1<<13

// unprivRun is what startUnprivileged prepared.
type unprivRun struct {
	dir    string      // 0755 directory with the binary and the configuration
	notify chan string // sd_notify messages, one per datagram; nil without
}

// startUnprivileged starts the daemon in the router namespace as user
// nobody with only CAP_NET_ADMIN and CAP_NET_RAW (ambient, inheritable and
// bounding sets), as systemd's AmbientCapabilities= and
// CapabilityBoundingSet= leave it. With watchdog > 0 it also plays systemd's
// notification socket and sets WATCHDOG_USEC.
func (tp *topo) startUnprivileged(cfg string, notify bool, watchdog time.Duration) *unprivRun {
	t := tp.t
	t.Helper()
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Fatalf("setpriv (util-linux) is needed to drop privileges: %v", err)
	}
	// t.TempDir and the build directory are 0700 root: the daemon's user
	// could neither run the binary nor read the configuration there.
	dir, err := os.MkdirTemp("", "mcast-proxy-unpriv-")
	tp.must(err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	tp.must(os.Chmod(dir, 0o755))
	bin := filepath.Join(dir, "mcast-proxy")
	tp.must(copyFile(daemonBin, bin, 0o755))
	tp.conf = filepath.Join(dir, "mcast-proxy.conf")
	tp.must(os.WriteFile(tp.conf, []byte(cfg), 0o644))
	// The service manager's job (RuntimeDirectory=): a directory the user owns.
	run := filepath.Join(dir, "run")
	tp.must(os.Mkdir(run, 0o755))
	tp.must(os.Chown(run, unprivUID, unprivUID))
	tp.sock = filepath.Join(run, "mcast-proxy.sock")

	u := &unprivRun{dir: dir}
	env := []string{"env"}
	if notify {
		path := filepath.Join(dir, "notify")
		conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
		tp.must(err)
		t.Cleanup(func() { conn.Close() })
		tp.must(os.Chmod(path, 0o666)) // sending needs write permission
		u.notify = make(chan string, 1024)
		go func() {
			buf := make([]byte, 4096)
			for {
				n, err := conn.Read(buf)
				if err != nil {
					return
				}
				select {
				case u.notify <- string(buf[:n]):
				default:
				}
			}
		}()
		env = append(env, "NOTIFY_SOCKET="+path)
		if watchdog > 0 {
			env = append(env, "WATCHDOG_USEC="+strconv.FormatInt(watchdog.Microseconds(), 10))
		}
	}
	caps := "-all,+net_admin,+net_raw"
	id := strconv.Itoa(unprivUID)
	args := append(env, "setpriv", "--reuid="+id, "--regid="+id, "--clear-groups",
		"--inh-caps="+caps, "--ambient-caps="+caps, "--bounding-set="+caps,
		bin, "-v", "-f", tp.conf, "-s", tp.sock)
	p, err := tp.lab.Start("router", args...)
	tp.must(err)
	tp.watchDaemon(p, "daemon")
	return u
}

func copyFile(from, to string, mode os.FileMode) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// procStatus reads the fields of /proc/PID/status.
func procStatus(t *testing.T, pid int) map[string]string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			fields[k] = strings.TrimSpace(v)
		}
	}
	return fields
}

// TestUnprivileged: as user nobody with only CAP_NET_ADMIN and CAP_NET_RAW
// the daemon opens its routing sockets, installs the rules of its own
// table, forwards, answers status and reload on its socket, and on SIGTERM
// removes every VIF, forwarding entry and rule.
func TestUnprivileged(t *testing.T) {
	t.Parallel()
	tp := newTopo(t, topoOptions{noDaemon: true})
	// Its own table: the rules it installs need CAP_NET_ADMIN too. The
	// VIFs of table 10 are not in /proc/net/ip_mr_vif (default table
	// only), so the status and ip mroute tell what the daemon holds.
	cfg := "table 10\n" + testConfig
	tp.startUnprivileged(cfg, false, 0)
	tp.waitAnswering()

	st := procStatus(t, tp.daemon.Pid())
	for _, k := range []string{"Uid", "Gid"} {
		want := strings.Repeat(strconv.Itoa(unprivUID)+"\t", 4)
		if st[k]+"\t" != want {
			t.Errorf("%s: %q, want %d for real, effective, saved and file system ids", k, st[k], unprivUID)
		}
	}
	for _, k := range []string{"CapEff", "CapPrm", "CapBnd"} {
		v, err := strconv.ParseUint(st[k], 16, 64)
		if err != nil || v != netCaps {
			t.Errorf("%s: %s, want %016x (CAP_NET_ADMIN and CAP_NET_RAW only)", k, st[k], netCaps)
		}
	}

	rules := regexp.MustCompile(`(iif|oif) (up0|br-lan|down2) lookup 10\b`)
	tp.waitFor(5*time.Second, "the daemon's six rules in 'ip mrule show'", func() bool {
		return len(rules.FindAllString(tp.ipOut("router", "mrule", "show"), -1)) == 6
	})
	r1 := tp.receiver("rcv1", g1, netlab.AnySource)
	start := time.Now()
	tp.sender(s1, g1)
	at := tp.waitFlowing(r1, s1, start, 20, 5*time.Second)
	t.Logf("unprivileged: first datagram at rcv1 %v after the stream started", at.Sub(start).Round(time.Millisecond))

	// The socket is the daemon's: root's client reaches it, and a reload
	// that drops down2 is applied.
	fi, err := os.Stat(tp.sock)
	tp.must(err)
	if sys, ok := fi.Sys().(*syscall.Stat_t); !ok || sys.Uid != unprivUID {
		t.Errorf("control socket owned by %v, want uid %d", fi.Sys(), unprivUID)
	}
	tp.must(os.WriteFile(tp.conf, []byte("table 10\n"+
		"interface up0 { upstream; source 10.0.0.0/24 }\n"+
		"interface br-lan { downstream; "+downstreamTimers+" }\n"), 0o644))
	if code, out, errOut := tp.runCLI("reload"); code != 0 {
		t.Fatalf("mcast-proxy reload: exit %d\n%s%s", code, indent(out), indent(errOut))
	}
	if _, ok := ifState(tp.status(), "down2", "ipv4"); ok {
		t.Errorf("down2 still in the status after a reload that removed it")
	}
	since := time.Now()
	tp.waitFlowing(r1, s1, since, 20, 5*time.Second)

	tp.must(tp.daemon.Signal(syscall.SIGTERM))
	if code, ok := tp.daemon.Wait(5 * time.Second); !ok || code != 0 {
		t.Fatalf("daemon after SIGTERM: exited %v, code %d; want exit 0", ok, code)
	}
	// The kernel keeps the emptied table; an error means it is gone, which
	// is as clean.
	if s, err := tp.lab.IPOutput("router", "mroute", "show", "table", "10"); err == nil && strings.TrimSpace(s) != "" {
		t.Errorf("forwarding entries left in table 10:\n%s", indent(s))
	}
	if r := tp.ipOut("router", "mrule", "show"); rules.MatchString(r) {
		t.Errorf("rules left after exit:\n%s", indent(r))
	}
	if _, err := os.Lstat(tp.sock); err == nil {
		t.Errorf("control socket %s left after exit", tp.sock)
	}
}

// TestSystemdNotify: run unprivileged as systemd's Type=notify unit runs it,
// the daemon says READY=1 only once its VIFs exist, feeds a 1 s watchdog
// from its loop, keeps STATUS= current, wraps good and bad reloads in
// RELOADING=1 and READY=1, and says STOPPING=1 on SIGTERM.
func TestSystemdNotify(t *testing.T) {
	t.Parallel()
	tp := newTopo(t, topoOptions{noDaemon: true})
	u := tp.startUnprivileged(testConfig, true, time.Second)

	// Generous: the first message comes after the daemon started, which
	// takes seconds in an emulated test VM.
	next := func(what string, match func(string) bool) string {
		t.Helper()
		deadline := time.After(15 * time.Second)
		for {
			select {
			case m := <-u.notify:
				if match(m) {
					return m
				}
			case <-deadline:
				t.Fatalf("no %s notification within 15s (daemon exited: %v)", what, tp.daemon.Exited())
			}
		}
	}
	has := func(line string) func(string) bool {
		return func(m string) bool {
			for _, l := range strings.Split(m, "\n") {
				if l == line || (strings.HasSuffix(line, "=") && strings.HasPrefix(l, line)) {
					return true
				}
			}
			return false
		}
	}

	first := next("first", func(string) bool { return true })
	if !has("READY=1")(first) || !has("STATUS=")(first) {
		t.Fatalf("first notification %q, want READY=1 with a STATUS=", first)
	}
	vifs := tp.vifs(fam4)
	for _, n := range []string{"up0", "br-lan", "down2"} {
		if _, ok := vifs[n]; !ok {
			t.Errorf("READY=1 sent before the VIF of %s existed: %v", n, vifs)
		}
	}
	t.Logf("ready: %q", first)

	// Half the watchdog interval: about four pings in two seconds.
	pings := 0
	end := time.After(2 * time.Second)
count:
	for {
		select {
		case m := <-u.notify:
			if has("WATCHDOG=1")(m) {
				pings++
			}
		case <-end:
			break count
		}
	}
	if pings < 3 {
		t.Errorf("%d WATCHDOG=1 in 2s with WatchdogSec=1s, want at least 3", pings)
	}

	r1 := tp.receiver("rcv1", g1, netlab.AnySource)
	start := time.Now()
	tp.sender(s1, g1)
	tp.waitFlowing(r1, s1, start, 20, 5*time.Second)
	withFlow := regexp.MustCompile(`(?m)^STATUS=3 of 3 interfaces active, upstream up0, [1-9]\d* groups, [1-9]\d* flows$`)
	status := next("STATUS= with the group and its flow", withFlow.MatchString)
	t.Logf("status: %q", status)

	// A good reload and a refused one: each RELOADING=1 then READY=1.
	pid := tp.daemon.Pid()
	tp.must(os.WriteFile(tp.conf, []byte(testConfig+"# touched\n"), 0o644))
	if code, out, errOut := tp.runCLI("reload"); code != 0 {
		t.Fatalf("mcast-proxy reload: exit %d\n%s%s", code, indent(out), indent(errOut))
	}
	next("RELOADING=1", has("RELOADING=1"))
	next("READY=1 after the reload", has("READY=1"))
	tp.must(os.WriteFile(tp.conf, []byte(testConfig+"interface br-lan { downstream }\n"), 0o644))
	code, _, errOut := tp.runCLI("reload")
	if code != 1 || !regexp.MustCompile(`mcast-proxy\.conf:5:\d+: `).MatchString(errOut) {
		t.Errorf("reload of a broken file: exit %d, stderr %q; want exit 1 and a file:line:col error", code, errOut)
	}
	next("RELOADING=1", has("RELOADING=1"))
	next("READY=1 after the refused reload", has("READY=1"))
	if tp.daemon.Exited() || tp.daemon.Pid() != pid {
		t.Fatalf("the daemon did not survive the reloads")
	}

	tp.must(tp.daemon.Signal(syscall.SIGTERM))
	next("STOPPING=1", has("STOPPING=1"))
	if code, ok := tp.daemon.Wait(5 * time.Second); !ok || code != 0 {
		t.Fatalf("daemon after SIGTERM: exited %v, code %d; want exit 0", ok, code)
	}
	if v := tp.vifs(fam4); len(v) != 0 {
		t.Errorf("VIFs left after exit: %v", v)
	}
}
