package luci_test

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mcast-proxy/mcast-proxy/internal/config"
)

const settingsView = "mcast-proxy/settings"

func section(typ string, index int, opts map[string]any) map[string]any {
	s := map[string]any{".type": typ, ".anonymous": false, ".index": index}
	for k, v := range opts {
		s[k] = v
	}
	return s
}

// routerUCI is /etc/config/mcast-proxy of an IPTV router, as the uci stand-in
// holds it.
func routerUCI() map[string]any {
	return map[string]any{
		"main": section("proxy", 0, map[string]any{"enabled": "1", "firewall": "1", "ipv4": "1", "ipv6": "1"}),
		"wan": section("interface", 1, map[string]any{"network": "wan", "role": "upstream",
			"source": []any{"198.51.100.0/24", "203.0.113.0/26"}}),
		"lan": section("interface", 2, map[string]any{"network": "lan", "role": "downstream",
			"rule": []any{"deny group 239.255.255.250", "deny group ff05::c"}}),
		"tv": section("interface", 3, map[string]any{"network": "tv", "role": "downstream", "igmp_version": "2",
			"fast_leave": "1", "last_member_query_interval": "0.5", "last_member_query_count": "2"}),
		"guest": section("interface", 4, map[string]any{"device": "br-guest", "role": "disabled", "threshold": "2"}),
	}
}

var routerNetworks = []network{
	{"lan", "br-lan"}, {"wan", "pppoe-wan"}, {"wan6", "pppoe-wan"}, {"tv", "br-tv"}, {"guest", "br-guest"},
}

// daemonOptions lists the UCI option names the daemon knows, read from its
// own option table (internal/config/options.go): the global options (proxy
// section) and the interface options.
func daemonOptions(t *testing.T) (global, iface []string) {
	t.Helper()
	dir := filepath.Join(repoDir, "internal", "config")
	fset := token.NewFileSet()
	if _, err := os.Stat(filepath.Join(dir, "options.go")); err == nil {
		return tableOptions(t, fset, filepath.Join(dir, "options.go"))
	}
	// Before the option table: the keyword lists of the native parser.
	f, err := parser.ParseFile(fset, filepath.Join(dir, "native.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	lists := map[string][]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, name := range vs.Names {
			if i < len(vs.Values) {
				lists[name.Name] = stringLits(vs.Values[i])
			}
		}
		return false
	})
	uci := func(words []string) []string {
		var out []string
		for _, w := range words {
			switch w {
			case "interface":
				continue // a section, not an option
			case "upstream", "downstream", "disabled":
				w = "role"
			case "allow", "deny":
				w = "rule"
			}
			w = strings.ReplaceAll(w, "-", "_")
			if !slices.Contains(out, w) {
				out = append(out, w)
			}
		}
		return out
	}
	if len(lists["globalKeywords"]) == 0 || len(lists["interfaceKeywords"]) == 0 {
		t.Fatal("no option table and no keyword lists found in internal/config")
	}
	return uci(lists["globalKeywords"]), uci(lists["interfaceKeywords"])
}

// proxyOnlyOptions lists the options of the proxy section that the init
// script reads rather than the daemon (uciProxyOnly in internal/config/
// uci.go): enabled and firewall.
func proxyOnlyOptions(t *testing.T) []string {
	t.Helper()
	path := filepath.Join(repoDir, "internal", "config", "uci.go")
	if _, err := os.Stat(path); err != nil {
		return []string{"enabled", "firewall"} // before the UCI reader
	}
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		if vs, ok := n.(*ast.ValueSpec); ok && len(vs.Names) == 1 && vs.Names[0].Name == "uciProxyOnly" && len(vs.Values) == 1 {
			out = stringLits(vs.Values[0])
		}
		return true
	})
	if len(out) == 0 {
		t.Fatalf("%s: uciProxyOnly not found", path)
	}
	return out
}

// tableOptions reads the name fields of globalOptions and interfaceOptions.
func tableOptions(t *testing.T, fset *token.FileSet, path string) (global, iface []string) {
	f, err := parser.ParseFile(fset, path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	tables := map[string][]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || len(vs.Names) != 1 || len(vs.Values) != 1 {
			return true
		}
		lit, ok := vs.Values[0].(*ast.CompositeLit)
		if !ok {
			return false
		}
		for _, el := range lit.Elts {
			entry, ok := el.(*ast.CompositeLit)
			if !ok {
				continue
			}
			var name, kind string
			for _, kv := range entry.Elts {
				kv, ok := kv.(*ast.KeyValueExpr)
				if !ok {
					continue
				}
				switch fmt.Sprint(kv.Key) {
				case "name":
					if s := stringLits(kv.Value); len(s) == 1 {
						name = s[0]
					}
				case "kind":
					kind = fmt.Sprint(kv.Value)
				}
			}
			switch kind {
			case "kindRole":
				name = "role"
			case "kindRule":
				name = "rule"
			}
			if name != "" {
				tables[vs.Names[0].Name] = append(tables[vs.Names[0].Name], strings.ReplaceAll(name, "-", "_"))
			}
		}
		return false
	})
	if len(tables["globalOptions"]) == 0 || len(tables["interfaceOptions"]) == 0 {
		t.Fatalf("%s: globalOptions or interfaceOptions not found", path)
	}
	return tables["globalOptions"], tables["interfaceOptions"]
}

func stringLits(e ast.Expr) []string {
	var out []string
	ast.Inspect(e, func(n ast.Node) bool {
		if b, ok := n.(*ast.BasicLit); ok && b.Kind == token.STRING {
			if s, err := strconv.Unquote(b.Value); err == nil {
				out = append(out, s)
			}
		}
		return true
	})
	return out
}

// renderedOptions maps section id to the option names the view rendered.
func renderedOptions(html string) map[string][]string {
	out := map[string][]string{}
	for _, part := range strings.Split(html, `id="cbi-mcast-proxy-`)[1:] {
		end := strings.Index(part, `"`)
		rest := part[end:]
		i := strings.Index(rest, `data-name="`)
		if i < 0 || strings.Index(rest, ">") < i {
			continue
		}
		id := part[:end]
		name := rest[i+len(`data-name="`):]
		name = name[:strings.Index(name, `"`)]
		sid := strings.TrimSuffix(id, "-"+name)
		out[sid] = append(out[sid], name)
	}
	return out
}

func TestSettingsView(t *testing.T) {
	b := newBrowser(t)

	t.Run("every daemon option has a field", func(t *testing.T) {
		t.Parallel()
		sc := scenario{View: settingsView, UCI: routerUCI(), Networks: routerNetworks}
		rep := b.run(t, "settings", sc)
		global, iface := daemonOptions(t)
		global = append(global, proxyOnlyOptions(t)...)
		// An interface section names a network or a device, and the
		// proxy instance it belongs to.
		iface = append(iface, "network", "device", "proxy")

		got := renderedOptions(rep.HTML)
		if !slices.Equal(sorted(got["main"]), sorted(global)) {
			t.Errorf("global section: the view has %v, the daemon knows %v", sorted(got["main"]), sorted(global))
		}
		for _, sid := range []string{"wan", "lan", "tv", "guest"} {
			if !slices.Equal(sorted(got[sid]), sorted(iface)) {
				t.Errorf("interface %s: the view has %v, the daemon knows %v", sid, sorted(got[sid]), sorted(iface))
			}
		}
		mustContain(t, "settings", rep.HTML,
			"Global settings", "Interfaces", "General", "Access lists", "Limits", "Advanced",
			"Add interface", "Network", "Role", "Accepted sources", "Rules", "Fast leave",
			"Query interval", "Last member query interval")
		mustContain(t, "network picker", rep.HTML, `value="tv"`, "wan (pppoe-wan)")
		// Values from UCI are shown.
		mustContain(t, "values", rep.HTML, "198.51.100.0/24", "deny group 239.255.255.250", `value="0.5"`)
		b.screenshot(t, "settings", sc, rep, "luci-settings.png")
	})

	t.Run("proxy instances", func(t *testing.T) {
		t.Parallel()
		u := routerUCI()
		u["iptv"] = section("proxy", 5, map[string]any{"table": "120"})
		u["vlan7"] = section("interface", 6, map[string]any{"device": "eth0.7", "role": "upstream", "proxy": "iptv"})
		u["tv"].(map[string]any)["proxy"] = "iptv"
		rep := b.run(t, "settings-instances", scenario{View: settingsView, UCI: u, Networks: routerNetworks,
			Steps: []step{
				// A table already in use is refused.
				{JS: "setValue", Args: map[string]any{"sid": "iptv", "option": "table", "value": "120"}},
				{JS: "setValue", Args: map[string]any{"sid": "main", "option": "table", "value": "120"}},
				{JS: "saveApply"},
				{JS: "setValue", Args: map[string]any{"sid": "main", "option": "table", "value": ""}},
				// Moving the instance's only upstream to the default
				// instance leaves the instance without one.
				{JS: "setValue", Args: map[string]any{"sid": "vlan7", "option": "proxy", "value": ""}},
				{JS: "saveApply"},
				{JS: "setValue", Args: map[string]any{"sid": "vlan7", "option": "proxy", "value": "iptv"}},
				{JS: "saveApply"},
			}})
		global, _ := daemonOptions(t)
		got := renderedOptions(rep.HTML)
		if !slices.Equal(sorted(got["iptv"]), sorted(global)) {
			t.Errorf("instance section: the view has %v, want the daemon's instance settings %v", sorted(got["iptv"]), sorted(global))
		}
		if slices.Contains(got["main"], "table") && slices.Contains(got["iptv"], "enabled") {
			t.Errorf("the instance shows the daemon's own settings")
		}
		mustContain(t, "instances", rep.HTML, "Proxy instances", "Add proxy instance", "Proxy instance", `value="iptv"`)
		mustContain(t, "table clash", rep.Steps[2].Text, "refused", "already the table of")
		mustContain(t, "no upstream", rep.Steps[5].Text, "refused", "No interface of proxy instance iptv is upstream")
		mustContain(t, "valid", rep.Steps[7].Text, "saved")
		if v := rep.UCI["vlan7"].(map[string]any); v["proxy"] != "iptv" {
			t.Errorf("vlan7 after save: %v", v)
		}
		checkDaemonAccepts(t, rep.UCI)
		c, err := config.ParseUCI("/etc/config/mcast-proxy", []byte(uciText(t, rep.UCI)))
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Proxies) != 1 || c.Proxies[0].Name != "iptv" || c.Proxies[0].Table != 120 || len(c.Proxies[0].Interfaces) != 2 {
			t.Errorf("the daemon reads instances %+v", c.Proxies)
		}
	})

	t.Run("advanced tab", func(t *testing.T) {
		t.Parallel()
		sc := scenario{View: settingsView, UCI: routerUCI(), Networks: routerNetworks,
			Steps: []step{{JS: "showTab", Args: "advanced"}}}
		rep := b.run(t, "settings-advanced", sc)
		b.screenshot(t, "settings-advanced", sc, rep, "luci-settings-advanced.png")
	})

	t.Run("no global section", func(t *testing.T) {
		t.Parallel()
		u := routerUCI()
		delete(u, "main")
		// IPv6 is off by default: keep lan's rules IPv4.
		u["lan"].(map[string]any)["rule"] = []any{"deny group 239.255.255.250"}
		rep := b.run(t, "settings-noglobal", scenario{View: settingsView, UCI: u, Networks: routerNetworks,
			Steps: []step{{JS: "saveApply"}}})
		mustContain(t, "fields", rep.HTML, `data-name="enabled"`, `data-name="table"`)
		mustContain(t, "save", rep.Steps[0].Text, "saved")
		if s, ok := rep.UCI["main"].(map[string]any); !ok || s[".type"] != "proxy" {
			t.Errorf("no proxy section after save: %v", rep.UCI)
		}
		checkDaemonAccepts(t, rep.UCI)
	})

	t.Run("save and apply", func(t *testing.T) {
		t.Parallel()
		rep := b.run(t, "settings-save", scenario{View: settingsView, UCI: routerUCI(), Networks: routerNetworks,
			Steps: []step{
				// An invalid value refuses the save: nothing is applied.
				{JS: "setValue", Args: map[string]any{"sid": "tv", "option": "max_groups", "value": "0"}},
				{JS: "saveApply"},
				{JS: "setValue", Args: map[string]any{"sid": "tv", "option": "max_groups", "value": ""}},
				{JS: "setValue", Args: map[string]any{"sid": "lan", "option": "max_groups", "value": "64"}},
				// Switching tv to upstream drops its downstream-only
				// settings, which the daemon refuses on an upstream.
				{JS: "setValue", Args: map[string]any{"sid": "tv", "option": "role", "value": "upstream"}},
				{JS: "saveApply"},
			}})
		if len(rep.Steps) != 6 {
			t.Fatalf("steps: %d", len(rep.Steps))
		}
		mustContain(t, "invalid save", rep.Steps[1].Text, "refused", "out of range 1 to 65536")
		for _, c := range rep.UCIChanges {
			if fmt.Sprint(c) == "[set tv max_groups 0]" {
				t.Errorf("the refused value was written to UCI: %v", c)
			}
		}
		mustContain(t, "valid save", rep.Steps[5].Text, "saved")
		if rep.Applied != 1 {
			t.Errorf("applied %d times, want once (after the valid save)", rep.Applied)
		}
		if lan := rep.UCI["lan"].(map[string]any); lan["max_groups"] != "64" || lan["role"] != "downstream" {
			t.Errorf("lan after save: %v", lan)
		}
		tv := rep.UCI["tv"].(map[string]any)
		if tv["role"] != "upstream" || tv["network"] != "tv" {
			t.Errorf("tv after save: %v", tv)
		}
		for _, k := range []string{"igmp_version", "fast_leave", "last_member_query_interval", "last_member_query_count", "max_groups"} {
			if v, ok := tv[k]; ok {
				t.Errorf("tv is upstream now but keeps %s %v", k, v)
			}
		}
		for _, c := range rep.RPCCalls {
			t.Errorf("settings called ubus %s; Save & Apply must go through UCI only (procd reloads)", c.Call)
		}
		checkDaemonAccepts(t, rep.UCI)
	})
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// uciText writes the sections held by the uci stand-in as
// /etc/config/mcast-proxy, the way the uci tool writes a file.
func uciText(t *testing.T, u map[string]any) string {
	t.Helper()
	var names []string
	for name := range u {
		names = append(names, name)
	}
	index := func(n string) float64 {
		switch v := u[n].(map[string]any)[".index"].(type) {
		case float64:
			return v
		case int:
			return float64(v)
		}
		return 0
	}
	slices.SortFunc(names, func(a, b string) int { return int(index(a) - index(b)) })
	quote := func(v any) string {
		return "'" + strings.ReplaceAll(fmt.Sprint(v), "'", `'\''`) + "'"
	}
	var sb strings.Builder
	for _, name := range names {
		s := u[name].(map[string]any)
		fmt.Fprintf(&sb, "config %s %s\n", s[".type"], quote(name))
		for _, k := range sortedKeys(s) {
			switch v := s[k].(type) {
			case []any:
				for _, e := range v {
					fmt.Fprintf(&sb, "\tlist %s %s\n", k, quote(e))
				}
			case nil:
			default:
				fmt.Fprintf(&sb, "\toption %s %s\n", k, quote(v))
			}
		}
		sb.WriteString("\n")
	}
	return sb.String()
}

func sortedKeys(m map[string]any) []string {
	var out []string
	for k := range m {
		if !strings.HasPrefix(k, ".") {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// checkDaemonAccepts parses what the view saved with the daemon's UCI reader.
func checkDaemonAccepts(t *testing.T, u map[string]any) {
	t.Helper()
	text := uciText(t, u)
	if _, err := config.ParseUCI("/etc/config/mcast-proxy", []byte(text)); err != nil {
		t.Errorf("the daemon refuses what the view saved:\n%v\n%s", err, text)
	}
}

// validationUCI is a small valid configuration for the validation cases:
// IPv4 and IPv6 on, one upstream, one downstream.
func validationUCI() map[string]any {
	return map[string]any{
		"main":  section("proxy", 0, map[string]any{"ipv4": "1", "ipv6": "1"}),
		"up0":   section("interface", 1, map[string]any{"device": "eth0", "role": "upstream"}),
		"down0": section("interface", 2, map[string]any{"device": "eth1", "role": "downstream"}),
	}
}

type validationCase struct {
	SID    string         `json:"sid"`
	Option string         `json:"option"`
	Value  any            `json:"value"`
	Set    map[string]any `json:"set,omitempty"`
}

// TestSettingsValidationMatchesDaemon gives the same values to the view's
// checks and to the daemon's UCI reader and expects the same verdict.
func TestSettingsValidationMatchesDaemon(t *testing.T) {
	b := newBrowser(t)
	d, u := "down0", "up0"
	one := func(sid, opt string, vals ...any) []validationCase {
		var out []validationCase
		for _, v := range vals {
			out = append(out, validationCase{SID: sid, Option: opt, Value: v})
		}
		return out
	}
	with := func(c validationCase, set map[string]any) validationCase { c.Set = set; return c }

	var cases []validationCase
	cases = append(cases, one("main", "table", "1", "100", "253", "0", "4294967295", "4294967296", "1x", "-1", "007")...)
	cases = append(cases, one(d, "threshold", "1", "255", "0", "256", "2.5")...)
	cases = append(cases, one(u, "priority", "0", "65535", "65536", "x")...)
	cases = append(cases, one(d, "robustness", "1", "7", "0", "8")...)
	cases = append(cases, one(d, "max_groups", "1", "65536", "0", "65537")...)
	cases = append(cases, one(d, "max_sources", "1", "1024", "1025")...)
	cases = append(cases, one(d, "last_member_query_count", "1", "10", "11", "0")...)
	cases = append(cases, one(d, "startup_query_count", "10", "11")...)
	cases = append(cases, one(d, "query_interval", "125", "1", "31744", "31745", "0.5", "1.5s", "2m", "100ms", "1000ms", "529m", "1e3", "5 s", "+5", ".5", "5.", "10h")...)
	cases = append(cases, one(d, "query_response_interval", "10", "0.1", "100ms", "150ms", "0.05", "3174.4", "124", "125", "0", "1.25s")...)
	cases = append(cases, one(d, "last_member_query_interval", "1", "0.5", "200ms", "0.25", "3174.5")...)
	cases = append(cases, one(d, "startup_query_interval", "0.1", "31744", "150ms", "50ms", "31745")...)
	cases = append(cases,
		with(validationCase{SID: d, Option: "query_response_interval", Value: "30"}, map[string]any{d + ".igmp_version": "2"}),
		with(validationCase{SID: d, Option: "query_response_interval", Value: "25.5"}, map[string]any{d + ".igmp_version": "2"}),
		with(validationCase{SID: d, Option: "query_response_interval", Value: "5"}, map[string]any{d + ".igmp_version": "1"}),
		with(validationCase{SID: d, Option: "query_response_interval", Value: "10"}, map[string]any{d + ".igmp_version": "1"}),
		with(validationCase{SID: d, Option: "last_member_query_interval", Value: "70"}, map[string]any{d + ".mld_version": "1"}),
		with(validationCase{SID: d, Option: "last_member_query_interval", Value: "70"}, map[string]any{d + ".mld_version": "1", d + ".ipv6": "0"}),
		with(validationCase{SID: d, Option: "query_response_interval", Value: "20"}, map[string]any{d + ".query_interval": "20"}),
		with(validationCase{SID: d, Option: "query_response_interval", Value: "19.9"}, map[string]any{d + ".query_interval": "20"}),
	)
	for _, v := range []string{"10.0.0.0/8", "10.0.0.1/8", "192.0.2.1", "2001:db8::/32", "2001:db8::1/32",
		"::ffff:10.0.0.0/104", "fe80::1%eth0", "10.0.0.0/33", "10.0.0.0/08", "010.0.0.0/8", "1.2.3", "::",
		"0.0.0.0/0", "1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:8:9", "1::2::3", "::1.2.3.4", "1:2:3:4:5:6:1.2.3.4", "gggg::"} {
		cases = append(cases, validationCase{SID: u, Option: "source", Value: []any{v}})
	}
	cases = append(cases,
		validationCase{SID: u, Option: "source", Value: []any{"10.0.0.0/8", "10.0.0.0/8"}},
		with(validationCase{SID: u, Option: "source", Value: []any{"2001:db8::/32"}}, map[string]any{u + ".ipv6": "0"}),
	)
	for _, v := range []string{"deny group 239.0.0.0/8", "allow group 232.0.0.0/8 source 192.0.2.0/24", "deny group any",
		"deny group ff05::c", "allow group any source 2001:db8::/32", "deny group 10.0.0.0/8", "deny group 239.1.0.0/8",
		"deny group 224.0.0.0/3", "allow group 232.0.0.0/8 source 239.0.0.0/8", "allow group 232.0.0.0/8 source 2001:db8::/32",
		"permit group any", "deny 239.0.0.0/8", "deny group", "deny group any source", "deny group any extra words",
		"deny group 239.0.0.0/8 src 10.0.0.0/8", "  deny   group   239.0.0.0/8  "} {
		cases = append(cases, validationCase{SID: d, Option: "rule", Value: []any{v}})
	}
	cases = append(cases,
		validationCase{SID: d, Option: "rule", Value: []any{"deny group 239.0.0.0/8", "allow group 239.255.255.250"}},
		validationCase{SID: d, Option: "rule", Value: []any{"allow group 239.255.255.250", "deny group 239.0.0.0/8"}},
		validationCase{SID: d, Option: "rule", Value: []any{"deny group any", "deny group ff05::c"}},
		validationCase{SID: d, Option: "rule", Value: []any{"allow group 232.0.0.0/8 source 192.0.2.0/24", "deny group 232.0.0.0/8"}},
		validationCase{SID: d, Option: "rule", Value: []any{"deny group 232.0.0.0/8", "allow group 232.0.0.0/8 source 192.0.2.0/24"}},
		validationCase{SID: d, Option: "rule", Value: []any{"deny group 239.0.0.0/8", "deny group 239.0.0.0/8"}},
		with(validationCase{SID: d, Option: "rule", Value: []any{"deny group ff05::c"}}, map[string]any{d + ".ipv6": "0"}),
		with(validationCase{SID: d, Option: "rule", Value: []any{"deny group ff05::c"}}, map[string]any{"main.ipv6": "0"}),
		with(validationCase{SID: d, Option: "rule", Value: []any{"deny group ff05::c"}}, map[string]any{"main.ipv6": "0", d + ".ipv6": "1"}),
	)
	cases = append(cases,
		with(validationCase{SID: d, Option: "ipv4", Value: "0"}, map[string]any{d + ".ipv6": "0"}),
		validationCase{SID: d, Option: "ipv4", Value: "0"},
		with(validationCase{SID: "main", Option: "ipv6", Value: "0"}, map[string]any{"main.ipv4": "0"}),
		validationCase{SID: d, Option: "role", Value: "upstream"},
		validationCase{SID: u, Option: "role", Value: "downstream"},
		validationCase{SID: d, Option: "role", Value: "disabled"},
		validationCase{SID: d, Option: "device", Value: "eth1.100"},
		validationCase{SID: d, Option: "device", Value: "abcdefghijklmnop"},
		validationCase{SID: d, Option: "device", Value: "eth0:1"},
		validationCase{SID: d, Option: "device", Value: "br lan"},
		with(validationCase{SID: d, Option: "device", Value: "eth1"}, map[string]any{d + ".network": "lan"}),
		with(validationCase{SID: d, Option: "device", Value: ""}, map[string]any{d + ".network": "lan"}),
		validationCase{SID: d, Option: "device", Value: ""},
	)

	rep := b.run(t, "settings-validate", scenario{
		View: settingsView, UCI: validationUCI(), Networks: []network{{"lan", "br-lan"}},
		Steps: []step{{JS: "validate", Args: cases}},
	})
	if len(rep.Steps) != 1 {
		t.Fatalf("no validation result")
	}
	var verdicts []any
	if err := json.Unmarshal([]byte(rep.Steps[0].Text), &verdicts); err != nil || len(verdicts) != len(cases) {
		t.Fatalf("validation results %q: %v", rep.Steps[0].Text, err)
	}
	for i, c := range cases {
		u := validationUCI()
		for k, v := range c.Set {
			sid, opt, _ := strings.Cut(k, ".")
			u[sid].(map[string]any)[opt] = v
		}
		u[c.SID].(map[string]any)[c.Option] = c.Value
		js, _ := json.Marshal(u)
		var uu map[string]any
		_ = json.Unmarshal(js, &uu)
		text := uciText(t, dropEmpty(uu))
		_, err := config.ParseUCI("/etc/config/mcast-proxy", []byte(text))
		view := verdicts[i]
		viewOK := view == true
		if viewOK != (err == nil) {
			t.Errorf("%s.%s = %v: the view says %v, the daemon says %v", c.SID, c.Option, c.Value, view, err)
		}
	}
}

// dropEmpty removes options set to "" (left at their default).
func dropEmpty(u map[string]any) map[string]any {
	for _, s := range u {
		for k, v := range s.(map[string]any) {
			if v == "" {
				delete(s.(map[string]any), k)
			}
		}
	}
	return u
}

// readUCI reads a file in the simple form the uci tool writes (config,
// option and list lines, values in single quotes) into the uci stand-in's
// sections.
func readUCI(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	unquote := func(s string) string { return strings.ReplaceAll(strings.Trim(s, "'"), `'\''`, "'") }
	out := map[string]any{}
	var cur map[string]any
	for n, line := range strings.Split(string(data), "\n") {
		f := strings.SplitN(strings.TrimSpace(line), " ", 3)
		switch {
		case len(f) == 3 && f[0] == "config":
			cur = section(f[1], len(out), nil)
			out[unquote(f[2])] = cur
		case len(f) == 3 && f[0] == "option" && cur != nil:
			cur[f[1]] = unquote(f[2])
		case len(f) == 3 && f[0] == "list" && cur != nil:
			l, _ := cur[f[1]].([]any)
			cur[f[1]] = append(l, unquote(f[2]))
		case len(f) == 1 && f[0] == "":
		default:
			t.Fatalf("%s:%d: cannot read %q", path, n+1, line)
		}
	}
	return out
}

// TestSettingsKeepValidFiles: a file the daemon accepts (its UCI reader's
// test file with every option set) loads without a complaint and saves
// without a change.
func TestSettingsKeepValidFiles(t *testing.T) {
	path := filepath.Join(repoDir, "internal", "config", "testdata", "uci", "luci.uci")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := config.ParseUCI(path, data); err != nil {
		t.Fatalf("the daemon refuses %s: %v", path, err)
	}
	b := newBrowser(t)
	rep := b.run(t, "settings-keep", scenario{View: settingsView, UCI: readUCI(t, path),
		Networks: []network{{"wan", "pppoe-wan"}, {"wwan", "wwan0"}, {"lan", "br-lan"}},
		Steps:    []step{{JS: "saveApply"}}})
	mustContain(t, "save", rep.Steps[0].Text, "saved")
	if len(rep.UCIChanges) != 0 {
		t.Errorf("saving an unchanged valid file changed it: %v", rep.UCIChanges)
	}
}
