//go:build linux

package e2e

import (
	"encoding/json"
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

// TestOpenWrtService runs the daemon the way the OpenWrt package does: the
// shipped /etc/config/mcast-proxy unchanged (wan upstream, lan downstream,
// by netifd network), the command line of init/mcast-proxy.init, as a user
// that is not root with only CAP_NET_ADMIN and CAP_NET_RAW (procd's user
// and capabilities), its socket in a directory that user owns, and ubus (a
// stand-in answering like netifd) asked as that user. The rpcd plugin,
// run as rpcd runs it, answers status and reload from the running daemon.
func TestOpenWrtService(t *testing.T) {
	t.Parallel()
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatalf("busybox runs the rpcd plugin: %v", err)
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Fatalf("setpriv (util-linux) is needed to drop privileges: %v", err)
	}
	tp := newTopo(t, topoOptions{noDaemon: true})

	// Everything the daemon's user must read or run is in a 0755 directory.
	dir, err := os.MkdirTemp("", "mcast-proxy-openwrt-")
	tp.must(err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	tp.must(os.Chmod(dir, 0o755))
	bin := filepath.Join(dir, "mcast-proxy")
	tp.must(copyFile(daemonBin, bin, 0o755))
	cfg, err := os.ReadFile("../../files/mcast-proxy.config")
	tp.must(err)
	tp.conf = filepath.Join(dir, "config")
	tp.must(os.WriteFile(tp.conf, cfg, 0o644))
	ubusDir := filepath.Join(dir, "bin")
	tp.must(os.Mkdir(ubusDir, 0o755))
	setNetwork := fakeUbus(t, ubusDir)
	setNetwork("wan", "up0")
	setNetwork("lan", "br-lan")
	// What the init script does before starting: the socket's directory.
	run := filepath.Join(dir, "run")
	tp.must(os.Mkdir(run, 0o755))
	tp.must(os.Chown(run, unprivUID, unprivUID))
	tp.sock = filepath.Join(run, "mcast-proxy.sock")

	caps := "-all,+net_admin,+net_raw"
	id := strconv.Itoa(unprivUID)
	p, err := tp.lab.Start("router", "env", "PATH="+ubusDir+":"+os.Getenv("PATH"),
		"setpriv", "--reuid="+id, "--regid="+id, "--clear-groups",
		"--inh-caps="+caps, "--ambient-caps="+caps, "--bounding-set="+caps,
		bin, "-f", tp.conf, "-s", tp.sock)
	tp.must(err)
	tp.watchDaemon(p, "daemon")
	tp.waitFor(30*time.Second, "the VIFs of up0 and br-lan, the networks' devices", func() bool {
		v := tp.vifs(fam4)
		_, up := v["up0"]
		_, down := v["br-lan"]
		return up && down
	})
	st := procStatus(t, p.Pid())
	if v, err := strconv.ParseUint(st["CapEff"], 16, 64); err != nil || v != netCaps || !strings.HasPrefix(st["Uid"], id+"\t") {
		t.Errorf("daemon runs as uid %q with CapEff %s, want %d with CAP_NET_ADMIN and CAP_NET_RAW only", st["Uid"], st["CapEff"], unprivUID)
	}

	r1 := tp.receiver("rcv1", g1, netlab.AnySource)
	start := time.Now()
	tp.sender(s1, g1)
	tp.waitFlowing(r1, s1, start, 20, 10*time.Second)

	// The rpcd plugin, with the paths of this test.
	plugin, err := os.ReadFile("../../files/mcast-proxy.rpcd")
	tp.must(err)
	script := filepath.Join(dir, "rpcd-plugin")
	text := strings.Replace(string(plugin), "PROG=/usr/sbin/mcast-proxy", "PROG="+bin, 1)
	text = strings.Replace(text, "SOCKET=/var/run/mcast-proxy/mcast-proxy.sock", "SOCKET="+tp.sock, 1)
	tp.must(os.WriteFile(script, []byte(text), 0o755))
	call := func(method string) map[string]any {
		t.Helper()
		cmd := exec.Command(busybox, "sh", script, "call", method)
		cmd.Stdin = strings.NewReader("{}")
		out, err := cmd.CombinedOutput()
		var v map[string]any
		if err != nil || json.Unmarshal(out, &v) != nil {
			t.Fatalf("ubus call mcast-proxy %s: %v\n%s", method, err, out)
		}
		return v
	}
	status := call("status")
	var names []string
	ifaces, _ := status["interfaces"].([]any)
	for _, i := range ifaces {
		if m, ok := i.(map[string]any); ok {
			names = append(names, m["name"].(string)+"/"+m["family"].(string)+"/"+m["state"].(string))
		}
	}
	joined := strings.Join(names, " ")
	if !strings.Contains(joined, "up0/ipv4/active") || !strings.Contains(joined, "br-lan/ipv4/active") {
		t.Errorf("ubus call mcast-proxy status: interfaces %s, want up0 and br-lan active for IPv4", joined)
	}

	// A change through UCI, then ubus's reload: applied, same process.
	tp.writeConfig(strings.Replace(string(cfg), "\toption role 'downstream'\n", "\toption role 'downstream'\n\toption fast_leave '1'\n", 1))
	if v := call("reload"); v["reloaded"] != true {
		t.Errorf("ubus call mcast-proxy reload = %v, want reloaded", v)
	}
	// A mistake is reported with its position and changes nothing.
	tp.writeConfig(string(cfg) + "\toption fast_leave 'maybe'\n")
	v := call("reload")
	errs, _ := v["errors"].([]any)
	if v["reloaded"] != false || !regexp.MustCompile(`/config:\d+:\d+: fast_leave: expected '1' or '0', found "maybe"`).MatchString(toString(errs)) {
		t.Errorf("reload of a broken file = %v, want the error with its position", v)
	}
	from := time.Now()
	time.Sleep(500 * time.Millisecond)
	tp.noGaps(r1, s1, from, time.Now(), "rcv1 after the reloads")
	if p.Exited() {
		t.Fatalf("the daemon exited (code %d)", p.ExitCode())
	}
	tp.must(p.Signal(syscall.SIGTERM))
	if code, ok := p.Wait(10 * time.Second); !ok || code != 0 {
		t.Errorf("after SIGTERM: exit code %d (exited %v), want 0", code, ok)
	}
}

func toString(v []any) string {
	var b strings.Builder
	for _, e := range v {
		s, _ := e.(string)
		b.WriteString(s + "\n")
	}
	return b.String()
}
