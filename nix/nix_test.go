// Package nix_test checks the Nix files of nix/ with the local Nix (Debian's
// nix-bin evaluates offline; nixpkgs is not needed): every file parses, the
// settings renderer produces the expected files, which the daemon accepts,
// its option table covers every keyword and default of the daemon, the
// firewall rules are as expected, and package.nix's vendorHash matches
// go.mod and go.sum.
package nix_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/mcast-proxy/mcast-proxy/internal/config"
)

var update = flag.Bool("update", false, "rewrite the expected files in testdata/ from the current output")

// needTool finds a program the test needs. Outside CI a missing tool skips
// the test; under CI=true it fails it, since CI installs every tool.
func needTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing; .ci/run installs it (Debian package nix-bin)", name)
		}
		t.Skipf("%s not installed", name)
	}
	return path
}

// eval evaluates a Nix expression in this directory with builtins only and
// returns its value as JSON. --readonly-mode: nothing is written to the
// store, so no Nix daemon or build users are needed.
func eval(t *testing.T, expr string) ([]byte, error) {
	t.Helper()
	bin := needTool(t, "nix-instantiate")
	cmd := exec.Command(bin, "--readonly-mode", "--eval", "--strict", "--json", "-E", expr)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%w: %s", err, nixErrors(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// nixErrors drops Nix's warnings about this machine's Nix setup.
func nixErrors(s string) string {
	var keep []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if !strings.HasPrefix(l, "warning: ") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

func evalString(t *testing.T, expr string) string {
	t.Helper()
	out, err := eval(t, expr)
	if err != nil {
		t.Fatal(err)
	}
	var s string
	if err := json.Unmarshal(out, &s); err != nil {
		t.Fatalf("%s: not a string: %v", out, err)
	}
	return s
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./nix -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test ./nix -update rewrites it):\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// daemon builds mcast-proxy once for the tests that run it.
var daemon = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "mcast-proxy-nix-")
	if err != nil {
		return "", err
	}
	buildDir = dir
	bin := filepath.Join(dir, "mcast-proxy")
	cmd := exec.Command("go", "build", "-o", bin, "../cmd/mcast-proxy")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	return bin, nil
})

var buildDir string

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// TestParse: nix-instantiate --parse accepts every .nix file of the
// repository.
func TestParse(t *testing.T) {
	bin := needTool(t, "nix-instantiate")
	var files []string
	err := filepath.WalkDir("..", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "bin") {
			return filepath.SkipDir
		}
		if strings.HasSuffix(path, ".nix") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		var stderr bytes.Buffer
		cmd := exec.Command(bin, "--readonly-mode", "--parse", f)
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			t.Errorf("%s: %v\n%s", f, err, nixErrors(stderr.String()))
		}
	}
	if len(files) < 8 {
		t.Errorf("found only %d .nix files: %v", len(files), files)
	}
}

// samples are the settings in testdata/*.settings.nix.
func samples(t *testing.T) []string {
	t.Helper()
	names, err := filepath.Glob("testdata/*.settings.nix")
	if err != nil || len(names) == 0 {
		t.Fatalf("no samples in testdata: %v", err)
	}
	for i, n := range names {
		names[i] = strings.TrimSuffix(filepath.Base(n), ".settings.nix")
	}
	return names
}

// TestRender: each sample renders to its expected file, and the daemon
// accepts that file (mcast-proxy -n, as the module does at build time).
func TestRender(t *testing.T) {
	for _, name := range samples(t) {
		t.Run(name, func(t *testing.T) {
			conf := evalString(t, fmt.Sprintf("(import ./settings.nix).render (import ./testdata/%s.settings.nix)", name))
			golden(t, name+".conf", conf)

			bin, err := daemon()
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), name+".conf")
			if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(bin, "-n", "-f", path).CombinedOutput(); err != nil {
				t.Errorf("mcast-proxy -n refuses the rendered file: %v\n%s\n%s", err, out, conf)
			}
		})
	}
}

// TestRenderCoversEveryKeyword: the sample with every option uses every
// keyword of the daemon's native format, so the renderer cannot lack one.
// The renderer refuses options it does not know, so the sample could not
// set one it lacks either.
func TestRenderCoversEveryKeyword(t *testing.T) {
	conf := evalString(t, "(import ./settings.nix).render (import ./testdata/all.settings.nix)")
	used := map[string]bool{}
	for _, line := range strings.Split(conf, "\n") {
		if f := strings.Fields(line); len(f) > 0 && !strings.HasPrefix(f[0], "#") {
			used[f[0]] = true
		}
	}
	global, iface := config.Keywords()
	for _, kw := range append(global, iface...) {
		if !used[kw] {
			t.Errorf("keyword %q of mcast-proxy.conf(5) is not in the rendered testdata/all.settings.nix: add the option to nix/options.nix and the sample", kw)
		}
	}
}

// option is an entry of nix/options.nix.
type option struct {
	Type    string   `json:"type"`
	Min     *int64   `json:"min"`
	Max     *int64   `json:"max"`
	Except  []int64  `json:"except"`
	Default any      `json:"default"`
	Roles   []string `json:"roles"`
	Desc    string   `json:"description"`
}

func optionTable(t *testing.T) (global, iface map[string]option) {
	t.Helper()
	out, err := eval(t, "import ./options.nix")
	if err != nil {
		t.Fatal(err)
	}
	var tab struct {
		Global    map[string]option `json:"global"`
		Interface map[string]option `json:"interface"`
	}
	if err := json.Unmarshal(out, &tab); err != nil {
		t.Fatal(err)
	}
	return tab.Global, tab.Interface
}

// keywordsOf maps the table's option names to the daemon's keywords: the
// role's values and the rule actions are keywords of their own.
func keywordsOf(opts map[string]option) []string {
	var kws []string
	for name, o := range opts {
		switch o.Type {
		case "role":
			kws = append(kws, "upstream", "downstream", "disabled")
		case "rules":
			kws = append(kws, "allow", "deny")
		default:
			kws = append(kws, name)
		}
	}
	sort.Strings(kws)
	return kws
}

// TestOptionTable: the option table names exactly the daemon's keywords
// (interface blocks are the "interfaces" attribute set), and every entry
// is complete.
func TestOptionTable(t *testing.T) {
	global, iface := optionTable(t)
	wantGlobal, wantIface := config.Keywords()
	wantGlobal = slices.DeleteFunc(wantGlobal, func(k string) bool { return k == "interface" || k == "proxy" })
	sort.Strings(wantGlobal)
	sort.Strings(wantIface)
	if got := keywordsOf(global); !slices.Equal(got, wantGlobal) {
		t.Errorf("global options of nix/options.nix map to %q; the daemon's are %q", got, wantGlobal)
	}
	if got := keywordsOf(iface); !slices.Equal(got, wantIface) {
		t.Errorf("interface options of nix/options.nix map to %q; the daemon's are %q", got, wantIface)
	}
	for name, o := range mergeTables(global, iface) {
		if o.Desc == "" {
			t.Errorf("%s has no description", name)
		}
		if o.Type == "int" && (o.Min == nil || o.Max == nil) {
			t.Errorf("%s: an int needs min and max", name)
		}
	}
}

func mergeTables(global, iface map[string]option) map[string]option {
	all := map[string]option{}
	for n, o := range global {
		all["global "+n] = o
	}
	for n, o := range iface {
		all["interface "+n] = o
	}
	return all
}

// TestOptionDefaults: each default the table states is the daemon's: a
// file that sets the option to it parses to the same configuration as a
// file without it. The files are rendered by settings.nix, on an
// interface of a role the option is allowed on.
func TestOptionDefaults(t *testing.T) {
	global, iface := optionTable(t)
	// One expression renders every case: the base, and per option the base
	// with the option set to its stated default.
	expr := `
let
  s = import ./settings.nix;
  base = { interfaces.up.role = "upstream"; interfaces.down.role = "downstream"; };
  ifc = s.options.interface;
  on = name: if builtins.elem "downstream" (ifc.${name}.roles or [ "downstream" ]) then "down" else "up";
  scalar = o: o.default != null && o.default != [ ];
in {
  base = s.render base;
  global = builtins.mapAttrs (name: o: s.render (base // { ${name} = o.default; }))
    (builtins.removeAttrs s.options.global (builtins.filter (n: !(scalar s.options.global.${n})) (builtins.attrNames s.options.global)));
  interface = builtins.mapAttrs (name: o: s.render (base // {
      interfaces = base.interfaces // { ${on name} = base.interfaces.${on name} // { ${name} = o.default; }; };
    }))
    (builtins.removeAttrs ifc (builtins.filter (n: !(scalar ifc.${n})) (builtins.attrNames ifc)));
}`
	out, err := eval(t, expr)
	if err != nil {
		t.Fatal(err)
	}
	var files struct {
		Base      string            `json:"base"`
		Global    map[string]string `json:"global"`
		Interface map[string]string `json:"interface"`
	}
	if err := json.Unmarshal(out, &files); err != nil {
		t.Fatal(err)
	}
	base, err := config.Parse("base", []byte(files.Base))
	if err != nil {
		t.Fatalf("base file: %v\n%s", err, files.Base)
	}
	same := func(a, b *config.Config) bool {
		return a.IPv4 == b.IPv4 && a.IPv6 == b.IPv6 && a.Table == b.Table &&
			slices.EqualFunc(a.Interfaces, b.Interfaces, config.Interface.Equal)
	}
	checked := 0
	for kind, set := range map[string]map[string]string{"global": files.Global, "interface": files.Interface} {
		for name, text := range set {
			cfg, err := config.Parse(name, []byte(text))
			if err != nil {
				t.Errorf("%s %s: the stated default is refused: %v\n%s", kind, name, err, text)
				continue
			}
			if !same(base, cfg) {
				t.Errorf("%s %s: the stated default is not the daemon's: setting it changes the configuration\n%s", kind, name, text)
			}
			checked++
		}
	}
	// Every option with a scalar default was checked.
	want := 0
	for _, o := range mergeTables(global, iface) {
		if o.Default != nil && o.Type != "prefixes" && o.Type != "rules" {
			want++
		}
	}
	if checked != want || checked == 0 {
		t.Errorf("checked %d defaults, the table states %d", checked, want)
	}
}

// TestRenderRefuses: bad settings are evaluation errors that say where.
func TestRenderRefuses(t *testing.T) {
	const ok = `interfaces.wan.role = "upstream"; interfaces.lan.role = "downstream";`
	tests := []struct {
		name, settings, want string
	}{
		{"unknown global", `ipv7 = true; ` + ok, `settings: unknown option "ipv7"`},
		{"unknown interface option", `interfaces.lan = { role = "downstream"; query-intervall = 3; }; interfaces.wan.role = "upstream";`,
			`settings.interfaces.lan: unknown option "query-intervall"`},
		{"no role", `interfaces.lan.threshold = 2;`, `settings.interfaces.lan: every interface needs a role`},
		{"bad role", `interfaces.lan.role = "downlink";`, `role must be "upstream", "downstream" or "disabled"`},
		{"bool as string", `ipv6 = "yes"; ` + ok, `settings.ipv6: expected true or false, got string`},
		{"int out of range", `interfaces.lan = { role = "downstream"; robustness = 8; }; interfaces.wan.role = "upstream";`,
			`settings.interfaces.lan.robustness: 8 is out of range 1-7`},
		{"table 253", `table = 253; ` + ok, `settings.table: 253 is not allowed`},
		{"bad duration", `interfaces.lan = { role = "downstream"; query-interval = "2 minutes"; }; interfaces.wan.role = "upstream";`,
			`settings.interfaces.lan.query-interval: expected seconds as an integer`},
		{"source not a list", `interfaces.wan = { role = "upstream"; source = "10.0.0.0/8"; }; interfaces.lan.role = "downstream";`,
			`settings.interfaces.wan.source: expected a list of prefixes`},
		{"bad rule action", `interfaces.lan = { role = "downstream"; rules = [ { action = "permit"; group = "any"; } ]; }; interfaces.wan.role = "upstream";`,
			`settings.interfaces.lan.rules.0: action must be "allow" or "deny"`},
		{"unknown rule attribute", `interfaces.lan = { role = "downstream"; rules = [ { action = "deny"; group = "any"; sources = "x"; } ]; }; interfaces.wan.role = "upstream";`,
			`unknown rule attribute "sources"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := eval(t, "(import ./settings.nix).render { "+tt.settings+" }")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestFirewall: the rules of openFirewall for each sample, both backends.
func TestFirewall(t *testing.T) {
	for _, name := range samples(t) {
		t.Run(name, func(t *testing.T) {
			out, err := eval(t, fmt.Sprintf("(import ./firewall.nix).rules (import ./testdata/%s.settings.nix)", name))
			if err != nil {
				t.Fatal(err)
			}
			var r map[string]string
			if err := json.Unmarshal(out, &r); err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for _, k := range []string{"iptables", "nftablesInput", "nftablesForward", "nftablesReversePath"} {
				fmt.Fprintf(&b, "## %s\n%s", k, r[k])
				delete(r, k)
			}
			if len(r) != 0 {
				t.Errorf("unexpected outputs %v", r)
			}
			golden(t, name+".firewall", b.String())
		})
	}
}

// TestVendorHash: package.nix's vendorHash is the hash of `go mod vendor`
// of this go.mod and go.sum, as buildGoModule computes it.
func TestVendorHash(t *testing.T) {
	nix := needTool(t, "nix")
	pkg, err := os.ReadFile("package.nix")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`vendorHash = "(sha256-[A-Za-z0-9+/=]+)";`).FindSubmatch(pkg)
	if m == nil {
		t.Fatal("no vendorHash in package.nix")
	}
	dir := filepath.Join(t.TempDir(), "vendor")
	vendor := exec.Command("go", "mod", "vendor", "-o", dir)
	vendor.Dir = ".."
	if out, err := vendor.CombinedOutput(); err != nil {
		t.Fatalf("go mod vendor: %v\n%s", err, out)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(nix, "--extra-experimental-features", "nix-command", "hash", "path", dir)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("nix hash path: %v\n%s", err, nixErrors(stderr.String()))
	}
	if got := strings.TrimSpace(string(out)); got != string(m[1]) {
		t.Errorf("vendorHash in package.nix is %s, go mod vendor hashes to %s: update package.nix", m[1], got)
	}
}

// moduleResult is what testdata/module-eval.nix reports of module.nix.
type moduleResult struct {
	Enabled          bool                    `json:"enabled"`
	EtcSource        *string                 `json:"etcSource"`
	CheckScript      *string                 `json:"checkScript"`
	ConfigText       *string                 `json:"configText"`
	ExecStart        []string                `json:"execStart"`
	ExecReload       []string                `json:"execReload"`
	ReloadTriggers   []string                `json:"reloadTriggers"`
	OverrideStrategy *string                 `json:"overrideStrategy"`
	StopIfChanged    *bool                   `json:"stopIfChanged"`
	WantedBy         []string                `json:"wantedBy"`
	UnitPackages     []string                `json:"unitPackages"`
	Firewall         map[string]string       `json:"firewall"`
	FailedAssertions []string                `json:"failedAssertions"`
	GlobalOptions    map[string]moduleOption `json:"globalOptions"`
	InterfaceOptions map[string]moduleOption `json:"interfaceOptions"`
}

type moduleOption struct {
	Type    string `json:"type"`
	Elem    string `json:"elem"`
	Min     *int64 `json:"min"`
	Max     *int64 `json:"max"`
	Default any    `json:"default"`
}

func evalModule(t *testing.T, user string, nftables bool) moduleResult {
	t.Helper()
	out, err := eval(t, fmt.Sprintf("import ./testdata/module-eval.nix { user = { %s }; nftables = %v; }", user, nftables))
	if err != nil {
		t.Fatal(err)
	}
	var r moduleResult
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return r
}

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// firewallSection returns one section of a testdata/*.firewall file.
func firewallSection(t *testing.T, name, section string) string {
	t.Helper()
	text := readTestdata(t, name+".firewall")
	_, rest, ok := strings.Cut(text, "## "+section+"\n")
	if !ok {
		t.Fatalf("%s.firewall has no section %s", name, section)
	}
	if i := strings.Index(rest, "## "); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// TestModule evaluates module.nix with stand-ins for nixpkgs' lib and pkgs
// (testdata/module-eval.nix) and checks what it sets: the checked file in
// /etc, the command lines, reloads on a new file, and the firewall of the
// backend in use.
func TestModule(t *testing.T) {
	const minimal = `enable = true; settings.interfaces = { wan.role = "upstream"; lan.role = "downstream"; };`
	const pkg = "/nix/store/0000-mcast-proxy"
	const rendered = "/nix/store/0001-mcast-proxy.conf"
	const checked = "/nix/store/0002-checked-mcast-proxy.conf"

	t.Run("iptables", func(t *testing.T) {
		r := evalModule(t, minimal+` openFirewall = true; extraArgs = [ "-v" ];`, false)
		if !r.Enabled || r.EtcSource == nil || *r.EtcSource != checked {
			t.Fatalf("/etc/mcast-proxy.conf from %v, want the checked file %s", r.EtcSource, checked)
		}
		if r.CheckScript == nil || !strings.Contains(*r.CheckScript, pkg+"/bin/mcast-proxy -n -f "+rendered+"\n") {
			t.Errorf("the build does not check the file with mcast-proxy -n: %v", r.CheckScript)
		}
		wantStart := []string{"", pkg + "/bin/mcast-proxy -f /etc/mcast-proxy.conf -s /run/mcast-proxy/mcast-proxy.sock '-v'"}
		if !slices.Equal(r.ExecStart, wantStart) {
			t.Errorf("ExecStart = %q, want %q", r.ExecStart, wantStart)
		}
		wantReload := []string{"", pkg + "/bin/mcast-proxy reload -s /run/mcast-proxy/mcast-proxy.sock"}
		if !slices.Equal(r.ExecReload, wantReload) {
			t.Errorf("ExecReload = %q, want %q", r.ExecReload, wantReload)
		}
		if !slices.Equal(r.ReloadTriggers, []string{checked}) {
			t.Errorf("reloadTriggers = %q, want the checked file", r.ReloadTriggers)
		}
		if r.OverrideStrategy == nil || *r.OverrideStrategy != "asDropin" || !slices.Equal(r.UnitPackages, []string{pkg}) {
			t.Errorf("the shipped unit is not used: overrideStrategy %v, systemd.packages %q", r.OverrideStrategy, r.UnitPackages)
		}
		if r.StopIfChanged == nil || *r.StopIfChanged {
			t.Errorf("stopIfChanged = %v, want false: a switch must restart the unit, which keeps /run/mcast-proxy and its state snapshot", r.StopIfChanged)
		}
		if !slices.Equal(r.WantedBy, []string{"multi-user.target"}) {
			t.Errorf("wantedBy = %q", r.WantedBy)
		}
		want := map[string]string{"extraCommands": firewallSection(t, "minimal", "iptables")}
		if !mapsEqual(r.Firewall, want) {
			t.Errorf("firewall = %q, want %q", r.Firewall, want)
		}
	})
	t.Run("nftables", func(t *testing.T) {
		r := evalModule(t, minimal+` openFirewall = true;`, true)
		want := map[string]string{
			"extraInputRules":             firewallSection(t, "minimal", "nftablesInput"),
			"extraForwardRules":           firewallSection(t, "minimal", "nftablesForward"),
			"extraReversePathFilterRules": firewallSection(t, "minimal", "nftablesReversePath"),
		}
		if !mapsEqual(r.Firewall, want) {
			t.Errorf("firewall = %q, want %q", r.Firewall, want)
		}
		if !slices.Equal(r.ExecStart[1:], []string{pkg + "/bin/mcast-proxy -f /etc/mcast-proxy.conf -s /run/mcast-proxy/mcast-proxy.sock "}) {
			t.Errorf("ExecStart = %q", r.ExecStart)
		}
	})
	t.Run("closed firewall", func(t *testing.T) {
		if r := evalModule(t, minimal, false); len(r.Firewall) != 0 {
			t.Errorf("firewall = %q without openFirewall", r.Firewall)
		}
	})
	t.Run("settings rendered", func(t *testing.T) {
		// The module system hands the renderer every option, unset ones
		// as null: the file is the same as from the bare sample.
		r := evalModule(t, minimal+` checkConfig = false;`, false)
		if r.EtcSource == nil || *r.EtcSource != rendered || r.ConfigText == nil {
			t.Fatalf("/etc/mcast-proxy.conf from %v, want the unchecked %s", r.EtcSource, rendered)
		}
		if want := readTestdata(t, "minimal.conf"); *r.ConfigText != want {
			t.Errorf("rendered file:\n%s\nwant:\n%s", *r.ConfigText, want)
		}
	})
	t.Run("configFile", func(t *testing.T) {
		r := evalModule(t, `enable = true; configFile = "/srv/hand.conf";`, false)
		if r.CheckScript == nil || !strings.Contains(*r.CheckScript, "-n -f /srv/hand.conf\n") {
			t.Errorf("configFile is not the file checked and used: %v", r.CheckScript)
		}
		if r := evalModule(t, `enable = true; configFile = "/srv/hand.conf"; openFirewall = true;`, false); len(r.FailedAssertions) != 1 {
			t.Errorf("openFirewall with configFile: failed assertions %q, want one", r.FailedAssertions)
		}
	})
	t.Run("disabled", func(t *testing.T) {
		if r := evalModule(t, `settings.interfaces.wan.role = "upstream";`, false); r.Enabled {
			t.Errorf("the module sets things without enable: %+v", r)
		}
	})
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestModuleOptions: the module declares one NixOS option per entry of the
// table, with its type and range, null (the daemon's default) as default
// for scalars, an empty list for lists, and a role that must be set.
func TestModuleOptions(t *testing.T) {
	global, iface := optionTable(t)
	r := evalModule(t, "", false)
	check := func(kind string, table map[string]option, declared map[string]moduleOption) {
		if len(table) != len(declared) {
			t.Errorf("%s: the module declares %d options, the table has %d", kind, len(declared), len(table))
		}
		for name, o := range table {
			d, ok := declared[name]
			if !ok {
				t.Errorf("%s %s: not declared by the module", kind, name)
				continue
			}
			var want moduleOption
			switch o.Type {
			case "role":
				want = moduleOption{Type: "enum", Default: "required"}
			case "prefixes", "rules":
				want = moduleOption{Type: "listOf", Elem: map[string]string{"prefixes": "str", "rules": "submodule"}[o.Type], Default: []any{}}
			case "int":
				want = moduleOption{Type: "nullOr", Elem: "between", Min: o.Min, Max: o.Max}
			case "bool":
				want = moduleOption{Type: "nullOr", Elem: "bool"}
			case "duration":
				want = moduleOption{Type: "nullOr", Elem: "either"}
			}
			if d.Type != want.Type || d.Elem != want.Elem || !ptrEqual(d.Min, want.Min) || !ptrEqual(d.Max, want.Max) ||
				fmt.Sprint(d.Default) != fmt.Sprint(want.Default) {
				t.Errorf("%s %s: declared %+v, want %+v", kind, name, d, want)
			}
		}
	}
	check("global", global, r.GlobalOptions)
	check("interface", iface, r.InterfaceOptions)
}

func ptrEqual(a, b *int64) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}
