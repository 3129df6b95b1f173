//go:build linux

package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/control"
	"github.com/mcast-proxy/mcast-proxy/internal/netlab"
)

// fakeUbus writes dir/ubus, a stand-in for OpenWrt's ubus tool that answers
// "ubus call network.interface.NAME status" the way netifd does: up with
// its l3_device when the file dir/NAME holds a device name, down when it
// does not exist. The test plays netifd by writing those files.
func fakeUbus(t *testing.T, dir string) (set func(network, device string)) {
	t.Helper()
	script := `#!/bin/sh
[ "$1" = call ] && [ "$3" = status ] || { echo "Command failed: Invalid argument" >&2; exit 2; }
net=${2#network.interface.}
if [ -s "` + dir + `/$net" ]; then
	printf '{"up": true, "pending": false, "available": true, "l3_device": "%s", "proto": "pppoe"}\n' "$(cat "` + dir + `/$net")"
else
	printf '{"up": false, "pending": true, "available": true, "proto": "pppoe"}\n'
fi
`
	if err := os.WriteFile(filepath.Join(dir, "ubus"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	set = func(network, device string) {
		t.Helper()
		p := filepath.Join(dir, network)
		if device == "" {
			if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			return
		}
		if err := os.WriteFile(p+".new", []byte(device), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(p+".new", p); err != nil {
			t.Fatal(err)
		}
	}
	return set
}

// networkConfig is an OpenWrt configuration that names both sides by their
// netifd network.
const networkConfig = `config proxy 'main'
	option ipv4 '1'

config interface 'wan'
	option network 'wan'
	option role 'upstream'
	list source '10.0.0.0/24'

config interface 'lan'
	option network 'lan'
	option role 'downstream'
	option query_interval '2s'
	option query_response_interval '1s'
	option last_member_query_interval '200ms'
	option startup_query_interval '500ms'
`

// TestNetworkFollowed plays what netifd and procd do on an OpenWrt router
// whose WAN is PPPoE: the daemon starts while wan is still down, wan comes
// up, the PPPoE session comes back on a device of another name (ifindex
// and name change), and "ifdown wan; ifup wan". After each change procd's
// interface trigger reloads the service, here a SIGHUP as procd sends it;
// the daemon resolves the networks again through ubus (a stand-in
// answering like netifd) and moves to the new device. The stream reaches
// the LAN after every "up", and the daemon never restarts. Last, netifd
// gives the LAN network another device, and the proxy serves that one.
func TestNetworkFollowed(t *testing.T) {
	t.Parallel()
	tp := newTopo(t, topoOptions{noDaemon: true})
	// At boot, wan has no device yet: its PPPoE session is not up.
	tp.must(tp.lab.IP("router", "link", "del", "up0"))
	dir := t.TempDir()
	setNetwork := fakeUbus(t, dir)
	setNetwork("lan", "br-lan")

	tp.conf = filepath.Join(t.TempDir(), "mcast-proxy")
	tp.sock = filepath.Join(t.TempDir(), "mcast-proxy.sock")
	tp.must(os.WriteFile(tp.conf, []byte(networkConfig), 0o644))
	p, err := tp.lab.Start("router", "env", "PATH="+dir+":"+os.Getenv("PATH"),
		daemonBin, "-d", "-v", "-f", tp.conf, "-s", tp.sock)
	tp.must(err)
	tp.watchDaemon(p, "daemon")
	// Starting means two ubus calls, each a shell script in the
	// stand-in: slow in an emulated VM on a busy host, so wait longer than
	// waitVIFs does.
	tp.waitFor(30*time.Second, "the VIF of br-lan, lan's device", func() bool { return len(tp.vifLines("br-lan")) == 1 })
	st := tp.waitAnswering()
	if up, ok := ifState(st, "@wan", "ipv4"); !ok || up.State == control.StateActive {
		t.Errorf("status of @wan while wan is down: %+v (found %v), want it listed and not active", up, ok)
	}
	tp.waitLog(regexp.MustCompile(`waiting for a network.*network \\"wan\\": network is not up`), 1, 5*time.Second)

	r1 := tp.receiver("rcv1", g1, netlab.AnySource)
	reloads := 0
	reload := func() {
		t.Helper()
		reloads++
		tp.must(p.Signal(syscall.SIGHUP))
		tp.waitLog(regexp.MustCompile(`msg="configuration reloaded"`), reloads, 5*time.Second)
	}
	// wanUp brings the PPPoE session up on device dev, tells netifd's
	// stand-in, reloads, and waits for the stream.
	wanUp := func(dev, what string) {
		t.Helper()
		tp.must(tp.lab.Link("src", "eth0", "router", dev))
		tp.must(tp.lab.Addr("src", "eth0", "10.0.0.2/24"))
		tp.must(tp.lab.Addr("router", dev, "10.0.0.1/24"))
		tp.must(tp.lab.Sysctl("router", "net/ipv4/conf/"+dev+"/rp_filter", "0"))
		setNetwork("wan", dev)
		at := time.Now()
		reload()
		tp.waitVIFs(fam4, dev, "br-lan")
		snd := tp.sender(s1, g1)
		got := tp.waitFlowing(r1, s1, at, 20, 10*time.Second)
		t.Logf("%s: reload -> stream at rcv1 via %s: %v", what, dev, got.Sub(at).Round(time.Millisecond))
		if up, ok := ifState(tp.waitAnswering(), dev, "ipv4"); !ok || up.State != control.StateActive {
			t.Errorf("%s: status of %s: %+v (found %v), want active", what, dev, up, ok)
		}
		snd.Stop()
	}
	wanDown := func(dev string) {
		t.Helper()
		setNetwork("wan", "")
		tp.must(tp.lab.IP("router", "link", "del", dev))
		reload()
		tp.waitFor(5*time.Second, dev+"'s VIF to go", func() bool { return len(tp.vifLines(dev)) == 0 })
	}

	wanUp("pppoe-wan", "wan up after boot")
	// The PPPoE session drops and comes back on a device of another name.
	wanDown("pppoe-wan")
	wanUp("pppoe-wan2", "PPPoE reconnect on a new device")
	// ifdown wan; ifup wan: the same device name, a new ifindex.
	wanDown("pppoe-wan2")
	wanUp("pppoe-wan2", "ifdown wan; ifup wan")

	// The LAN is reconfigured: netifd gives lan another device (down2,
	// where rcv3 is). The proxy moves its downstream there.
	setNetwork("lan", "down2")
	r3 := tp.receiver("rcv3", g1, netlab.AnySource)
	snd := tp.sender(s1, g1)
	at := time.Now()
	reload()
	tp.waitVIFs(fam4, "pppoe-wan2", "down2")
	got := tp.waitFlowing(r3, s1, at, 20, 10*time.Second)
	t.Logf("lan moved to down2: reload -> stream at rcv3: %v", got.Sub(at).Round(time.Millisecond))
	tp.waitFor(5*time.Second, "br-lan's VIF to go", func() bool { return len(tp.vifLines("br-lan")) == 0 })
	snd.Stop()

	if p.Exited() {
		t.Fatalf("the daemon exited (code %d); it must follow the network without a restart", p.ExitCode())
	}
	if n := tp.logMatches(regexp.MustCompile(`msg=starting`)); n != 1 {
		t.Errorf("the daemon started %d times, want once", n)
	}
}
