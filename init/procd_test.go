package init_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// The procd init script is run by busybox ash, as on OpenWrt, with small
// stand-ins for what rc.common, functions.sh, procd.sh and jshn.sh provide:
// config_* read a configuration the test describes, procd_* and json_*
// print what they are given, fw4 answers zone queries. The tests check the
// instance, the triggers and the firewall data the script declares.

// stubs are the stand-ins, sourced before the init script.
const stubs = `
config_load() { [ "$1" = mcast-proxy ] || echo "config_load of $1"; }
config_foreach() {
	local fn="$1" type="$2" s t
	shift 2
	for s in $SECTIONS; do
		eval "t=\$TYPE_$s"
		[ "$t" = "$type" ] && "$fn" "$s" "$@"
	done
	return 0
}
config_get() {
	local __cg
	eval "__cg=\${OPT_$2_$3-\$4}"
	eval "$1=\$__cg"
}
config_get_bool() {
	local __v
	config_get __v "$2" "$3" "$4"
	case "$__v" in
	1|on|true|yes|enabled) __v=1 ;;
	0|off|false|no|disabled) __v=0 ;;
	*) __v="$4" ;;
	esac
	eval "$1=\$__v"
}
procd_open_instance() { echo "instance"; }
procd_set_param() { echo "param $*"; }
procd_close_instance() { echo "end instance"; }
procd_add_reload_trigger() { echo "trigger config $*"; }
procd_add_reload_interface_trigger() { echo "trigger interface $*"; }
procd_running() { [ "$RUNNING" = 1 ]; }
procd_send_signal() { echo "signal $*"; }
json_add_array() { echo "array $*"; }
json_close_array() { echo "end array"; }
json_add_object() { echo "object"; }
json_close_object() { echo "end object"; }
json_add_string() { echo "string ${1:-\"\"} $2"; }
fw4() {
	[ "$1" = -q ] && shift
	eval "echo \${ZONE_$1_$2}"
}
mkdir() { echo "mkdir $*"; }
chown() { echo "chown $*"; }
chmod() { echo "chmod $*"; }
# rc.common with USE_PROCD: start sends the service with its instance,
# triggers and data.
start() { echo "service"; start_service; service_triggers; service_data; echo "end service"; }
`

// section is one UCI section for the stand-ins.
type section struct {
	name, typ string
	opts      map[string]string
}

// runInit runs the init script's action with the given configuration, as
// OpenWrt's rc.common would, and returns its output lines.
func runInit(t *testing.T, action string, running bool, zones map[string]string, sections ...section) []string {
	t.Helper()
	sh, err := exec.LookPath("busybox")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("busybox is not installed; CI installs busybox-static")
		}
		t.Skip("busybox not installed")
	}
	var b strings.Builder
	b.WriteString(stubs)
	var names []string
	for _, s := range sections {
		names = append(names, s.name)
		fmt.Fprintf(&b, "TYPE_%s=%s\n", s.name, s.typ)
		keys := make([]string, 0, len(s.opts))
		for k := range s.opts {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "OPT_%s_%s='%s'\n", s.name, k, s.opts[k])
		}
	}
	fmt.Fprintf(&b, "SECTIONS='%s'\n", strings.Join(names, " "))
	for k, z := range zones {
		fmt.Fprintf(&b, "ZONE_%s='%s'\n", k, z)
	}
	if running {
		b.WriteString("RUNNING=1\n")
	}
	b.WriteString(". ./mcast-proxy.init\n" + action + "\n")
	script := filepath.Join(t.TempDir(), "run.sh")
	if err := os.WriteFile(script, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sh, "sh", script).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", action, err, out)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// defaultSections are the shipped /etc/config/mcast-proxy.
var defaultSections = []section{
	{"main", "proxy", map[string]string{"enabled": "1", "firewall": "1", "ipv4": "1", "ipv6": "1"}},
	{"wan", "interface", map[string]string{"network": "wan", "role": "upstream"}},
	{"lan", "interface", map[string]string{"network": "lan", "role": "downstream"}},
}

var defaultZones = map[string]string{"network_wan": "wan", "network_lan": "lan", "device_eth0_7": "wan"}

// has checks that want occurs in got as a contiguous run of lines.
func has(t *testing.T, got []string, want ...string) {
	t.Helper()
	for i := 0; i+len(want) <= len(got); i++ {
		if equal(got[i:i+len(want)], want) {
			return
		}
	}
	t.Errorf("output lacks\n\t%s\nin\n\t%s", strings.Join(want, "\n\t"), strings.Join(got, "\n\t"))
}

func equal(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func count(got []string, line string) int {
	n := 0
	for _, l := range got {
		if l == line {
			n++
		}
	}
	return n
}

func TestInitStart(t *testing.T) {
	out := runInit(t, "start", false, defaultZones, defaultSections...)
	has(t, out,
		"instance",
		"param command /usr/sbin/mcast-proxy -f /etc/config/mcast-proxy -s /var/run/mcast-proxy/mcast-proxy.sock",
		"param respawn",
		"param stderr 1",
		"param user mcast-proxy",
		"param group mcast-proxy",
		"param capabilities /etc/capabilities/mcast-proxy.json",
		"param no_new_privs 1",
		"end instance")
	has(t, out, "mkdir -p /var/run/mcast-proxy", "chown mcast-proxy:mcast-proxy /var/run/mcast-proxy")
	has(t, out, "trigger config mcast-proxy")
	has(t, out, "trigger interface lan", "trigger interface wan")
	has(t, out,
		"array firewall",
		"object",
		"string type rule",
		"string name mcast-proxy: IGMP from wan",
		"string family ipv4",
		"string proto igmp",
		"string src wan",
		"string target ACCEPT",
		"end object",
		"object",
		"string type rule",
		"string name mcast-proxy: MLD from wan",
		"string family ipv6",
		"string proto icmp",
		"string src wan",
		"string target ACCEPT",
		"string src_ip fe80::/10",
		"array icmp_type",
		`string "" 130/0`,
		`string "" 131/0`,
		`string "" 132/0`,
		`string "" 143/0`,
		"end array",
		"end object")
	has(t, out,
		"string name mcast-proxy: IPv4 multicast wan to lan",
		"string family ipv4",
		"string proto udp",
		"string src wan",
		"string dest lan",
		"string dest_ip 224.0.0.0/4",
		"string target ACCEPT")
	has(t, out,
		"string name mcast-proxy: IPv6 multicast wan to lan",
		"string family ipv6",
		"string proto udp",
		"string src wan",
		"string dest lan",
		"string dest_ip ff00::/8")
}

func TestInitDisabled(t *testing.T) {
	sections := append([]section{{"main", "proxy", map[string]string{"enabled": "0"}}}, defaultSections[1:]...)
	out := runInit(t, "start", false, defaultZones, sections...)
	if n := count(out, "instance"); n != 0 {
		t.Errorf("enabled '0' still declares %d instances:\n%s", n, strings.Join(out, "\n"))
	}
	if n := count(out, "array firewall"); n != 0 {
		t.Errorf("enabled '0' still opens the firewall")
	}
	// The reload trigger stays, so that enabling it again starts it.
	has(t, out, "trigger config mcast-proxy")
}

// TestInitDisabledWithInstances: a further proxy section is a proxy
// instance without 'enabled'; the first section's 'enabled 0' still stops
// the service.
func TestInitDisabledWithInstances(t *testing.T) {
	sections := append([]section{{"main", "proxy", map[string]string{"enabled": "0"}}, {"tv", "proxy", map[string]string{"table": "120"}}}, defaultSections[1:]...)
	out := runInit(t, "start", false, defaultZones, sections...)
	if n := count(out, "instance"); n != 0 {
		t.Errorf("enabled '0' on the first proxy section, then an instance section: %d instances declared:\n%s", n, strings.Join(out, "\n"))
	}
}

func TestInitFirewallOff(t *testing.T) {
	sections := append([]section{{"main", "proxy", map[string]string{"firewall": "0"}}}, defaultSections[1:]...)
	out := runInit(t, "start", false, defaultZones, sections...)
	if count(out, "instance") != 1 || count(out, "array firewall") != 0 {
		t.Errorf("firewall '0': want an instance and no firewall data:\n%s", strings.Join(out, "\n"))
	}
}

// TestInitDevicesAndNetworks: an upstream named by its device finds its
// zone through fw4 too; each network gets one trigger; an upstream and a
// downstream in the same zone need no forwarding rule; no proxy section
// means the defaults.
func TestInitDevicesAndNetworks(t *testing.T) {
	out := runInit(t, "start", false, defaultZones,
		section{"iptv", "interface", map[string]string{"device": "eth0_7", "role": "upstream"}},
		section{"lan", "interface", map[string]string{"network": "lan", "role": "downstream"}},
		section{"lan_b", "interface", map[string]string{"network": "lan", "role": "downstream"}},
		section{"wan", "interface", map[string]string{"network": "wan", "role": "downstream"}},
	)
	if count(out, "instance") != 1 {
		t.Errorf("no instance without a proxy section")
	}
	if n := count(out, "trigger interface lan"); n != 1 {
		t.Errorf("%d triggers for lan, want 1", n)
	}
	if n := count(out, "trigger interface eth0_7"); n != 0 {
		t.Errorf("a device got an interface trigger")
	}
	has(t, out, "string name mcast-proxy: IGMP from wan")
	has(t, out, "string name mcast-proxy: IPv4 multicast wan to lan")
	if n := count(out, "string name mcast-proxy: IPv4 multicast wan to wan"); n != 0 {
		t.Errorf("a forwarding rule from a zone to itself")
	}
}

// TestInitReload: a reload sends the service again (triggers and firewall
// follow the file) and, when the daemon runs, SIGHUP so that it applies
// the difference itself; a daemon that is not running is only started,
// never signalled before it can catch the signal.
func TestInitReload(t *testing.T) {
	out := runInit(t, "reload_service", true, defaultZones, defaultSections...)
	if count(out, "instance") != 1 || out[len(out)-1] != "signal mcast-proxy * HUP" {
		t.Errorf("reload of a running daemon: want the service sent again, then SIGHUP:\n%s", strings.Join(out, "\n"))
	}
	out = runInit(t, "reload_service", false, defaultZones, defaultSections...)
	if count(out, "instance") != 1 || count(out, "signal mcast-proxy * HUP") != 0 {
		t.Errorf("reload of a stopped daemon: want a start and no signal:\n%s", strings.Join(out, "\n"))
	}
}

// TestShellcheck keeps the shell of the package busybox-ash clean.
func TestShellcheck(t *testing.T) {
	sc, err := exec.LookPath("shellcheck")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("shellcheck is not installed; CI installs it")
		}
		t.Skip("shellcheck not installed")
	}
	// Every shell script of the packaging: init/ and files/.
	var files []string
	for _, pattern := range []string{"*", "../files/*"} {
		matches, _ := filepath.Glob(pattern)
		for _, m := range matches {
			if b, err := os.ReadFile(m); err == nil && strings.HasPrefix(string(b), "#!/bin/sh") {
				files = append(files, m)
			}
		}
	}
	if len(files) < 3 {
		t.Fatalf("found only %q to check", files)
	}
	for _, f := range files {
		if out, err := exec.Command(sc, "-s", "sh", f).CombinedOutput(); err != nil {
			t.Errorf("shellcheck -s sh %s: %v\n%s", f, err, out)
		}
	}
}

// TestRPCDPlugin runs the rpcd plugin the way rpcd does ("list", then
// "call METHOD" with the arguments on stdin), with a stand-in for the
// mcast-proxy command, and checks that every answer is a JSON object.
func TestRPCDPlugin(t *testing.T) {
	sh, err := exec.LookPath("busybox")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("busybox is not installed; CI installs busybox-static")
		}
		t.Skip("busybox not installed")
	}
	dir := t.TempDir()
	plugin, err := os.ReadFile("../files/mcast-proxy.rpcd")
	if err != nil {
		t.Fatal(err)
	}
	fake := filepath.Join(dir, "mcast-proxy")
	script := filepath.Join(dir, "plugin")
	if err := os.WriteFile(script, []byte(strings.Replace(string(plugin), "PROG=/usr/sbin/mcast-proxy", "PROG="+fake, 1)), 0o755); err != nil {
		t.Fatal(err)
	}
	run := func(fakeBody string, args ...string) map[string]any {
		t.Helper()
		if err := os.WriteFile(fake, []byte("#!/bin/sh\necho \"$@\" > "+filepath.Join(dir, "args")+"\n"+fakeBody), 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(sh, append([]string{"sh", script}, args...)...)
		cmd.Stdin = strings.NewReader("{}")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("plugin %v: %v\n%s", args, err, out)
		}
		var v map[string]any
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatalf("plugin %v printed no JSON object: %v\n%s", args, err, out)
		}
		return v
	}
	args := func() string {
		b, _ := os.ReadFile(filepath.Join(dir, "args"))
		return strings.TrimSpace(string(b))
	}
	if v := run("", "list"); v["status"] == nil || v["reload"] == nil || len(v) != 2 {
		t.Errorf("list = %v, want status and reload", v)
	}
	v := run(`echo '{"version": 1, "interfaces": []}'`, "call", "status")
	if v["version"] != float64(1) || args() != "status -j -s /var/run/mcast-proxy/mcast-proxy.sock" {
		t.Errorf("status = %v (mcast-proxy %s), want the daemon's JSON", v, args())
	}
	v = run("echo 'mcast-proxy: cannot reach the daemon' >&2; exit 2", "call", "status")
	if errs, _ := v["errors"].([]any); len(errs) != 1 {
		t.Errorf("status of a stopped daemon = %v, want one error", v)
	}
	v = run("echo reloaded", "call", "reload")
	if v["reloaded"] != true || args() != "reload -s /var/run/mcast-proxy/mcast-proxy.sock" {
		t.Errorf("reload = %v (mcast-proxy %s), want reloaded", v, args())
	}
	v = run(`printf '%s\n' 'mcast-proxy: reload: rejected' '/etc/config/mcast-proxy:7:20: fast_leave: expected '\''1'\'' or '\''0'\'', found "maybe"	x\y' >&2; exit 1`, "call", "reload")
	errs, _ := v["errors"].([]any)
	if v["reloaded"] != false || len(errs) != 2 || errs[1] != `/etc/config/mcast-proxy:7:20: fast_leave: expected '1' or '0', found "maybe"`+"\t"+`x\y` {
		t.Errorf("failed reload = %#v, want both lines as errors", v)
	}
}
