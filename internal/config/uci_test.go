package config

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/uci")

// formatUCI writes c in the UCI syntax the uci tool writes, every default
// spelled out: the mirror of Format, for tests.
func formatUCI(c *Config) []byte {
	var b strings.Builder
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
	write := func(o *option, v any) {
		words := formatValue(v)
		stmt := "option"
		if o.kind == kindPrefix || o.kind == kindRule {
			stmt = "list"
		}
		for _, w := range words {
			switch w {
			case "yes":
				w = "1"
			case "no":
				w = "0"
			}
			b.WriteString("\t" + stmt + " " + o.uciName() + " " + q(w) + "\n")
		}
	}
	for _, in := range append([]*Config{c}, c.Proxies...) {
		name := in.Name
		if name == "" {
			name = "main"
		}
		b.WriteString("\nconfig proxy " + q(name) + "\n")
		for _, o := range globalOptions {
			if v, ok := o.value(in, nil); ok {
				write(o, v)
			}
		}
	}
	for _, in := range append([]*Config{c}, c.Proxies...) {
		formatUCIInterfaces(&b, in, write)
	}
	return []byte(b.String())
}

// formatUCIInterfaces writes the interface sections of one instance.
func formatUCIInterfaces(b *strings.Builder, c *Config, write func(*option, any)) {
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
	for _, i := range c.Interfaces {
		b.WriteString("\nconfig interface\n")
		if c.Name != "" {
			b.WriteString("\toption proxy " + q(c.Name) + "\n")
		}
		if i.Network != "" {
			b.WriteString("\toption network " + q(i.Network) + "\n")
		} else {
			b.WriteString("\toption device " + q(i.Name) + "\n")
		}
		for _, o := range interfaceOptions {
			if v, ok := o.value(c, &i); ok && o.allowedOn(i.Role) {
				write(o, v)
			}
		}
	}
}

// checkUCIRoundTrip checks that c survives formatUCI and ParseUCI.
func checkUCIRoundTrip(t *testing.T, c *Config) {
	t.Helper()
	text := formatUCI(c)
	again, err := ParseUCI(c.File, text)
	if err != nil {
		t.Fatalf("formatUCI() does not parse: %v\n%s", err, text)
	}
	if a, b := withoutPos(c), withoutPos(again); !reflect.DeepEqual(a, b) {
		t.Fatalf("formatUCI() round trip differs\n got: %+v\nwant: %+v\n%s", b, a, text)
	}
}

func TestUCILexer(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want [][]string
		errs []string
	}{
		{"written by uci", "\nconfig interface 'lan'\n\toption device 'br-lan'\n",
			[][]string{{"config", "interface", "lan"}, {"option", "device", "br-lan"}}, nil},
		{"uci's quote escaping", `option description 'it'\''s mine'`,
			[][]string{{"option", "description", "it's mine"}}, nil},
		{"empty value", "option empty ''", [][]string{{"option", "empty", ""}}, nil},
		{"double quotes", `option a "say \"hi\" \\ $x" ; option b "it's"`,
			[][]string{{"option", "a", `say "hi" \ $x`}, {"option", "b", "it's"}}, nil},
		{"unquoted and backslash", `option a b\ c\'d`, [][]string{{"option", "a", "b c'd"}}, nil},
		{"adjacent parts", `option a x'y z'"w"v`, [][]string{{"option", "a", "xy zwv"}}, nil},
		{"comments", "# top\nconfig proxy # trailing\n\t# indented\noption a 'b#c' #c\noption x y#z\n",
			[][]string{{"config", "proxy"}, {"option", "a", "b#c"}, {"option", "x", "y"}}, nil},
		{"semicolons", "config proxy; option ipv6 1;;option table 5",
			[][]string{{"config", "proxy"}, {"option", "ipv6", "1"}, {"option", "table", "5"}}, nil},
		{"continued line", "option rule \\\n 'deny group any'\noption a \"b\\\nc\"",
			[][]string{{"option", "rule", "deny group any"}, {"option", "a", "bc"}}, nil},
		{"crlf", "config proxy\r\n\toption ipv6 '1'\r\n", [][]string{{"config", "proxy"}, {"option", "ipv6", "1"}}, nil},
		{"unterminated single", "option a 'b\noption c d",
			[][]string{{"option", "a", "b"}, {"option", "c", "d"}}, []string{"t.conf:1:10: unterminated ' quote"}},
		{"unterminated double", `option a "b`, [][]string{{"option", "a", "b"}}, []string{`t.conf:1:10: unterminated " quote`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var errs Errors
			l := &uciLexer{file: testFile, data: []byte(tt.in), line: 1, col: 1, errs: &errs}
			var got [][]string
			for {
				words, ok := l.statement()
				if !ok {
					break
				}
				var ws []string
				for _, w := range words {
					ws = append(ws, w.text)
				}
				got = append(got, ws)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("words = %q, want %q", got, tt.want)
			}
			var gotErrs []string
			for _, e := range errs {
				gotErrs = append(gotErrs, e.Error())
			}
			if !slices.Equal(gotErrs, tt.errs) {
				t.Errorf("errors = %q, want %q", gotErrs, tt.errs)
			}
		})
	}
}

func TestUCIInvalid(t *testing.T) {
	const ok = "config interface 'wan'\n\toption network 'wan'\n\toption role 'upstream'\n" +
		"config interface 'lan'\n\toption network 'lan'\n\toption role 'downstream'\n"
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"unknown option", ok + "\toption fast-leave '1'\n\toption fastleave '1'\n", []string{
			`t.conf:7:9: option name "fast-leave" may hold only letters, digits and "_"; did you mean "fast_leave"?`,
			`t.conf:8:9: unknown option "fastleave"; did you mean "fast_leave"?`,
		}},
		{"bad values", ok + "\toption fast_leave 'maybe'\n\toption query_interval '5x'\n\toption role 'up'\n", []string{
			`t.conf:7:20: fast_leave: expected '1' or '0', found "maybe"`,
			`t.conf:8:24: query_interval: "5x" is not a duration (seconds, or a number with ms, s or m)`,
			`t.conf:9:14: role: expected 'upstream', 'downstream' or 'disabled', found "up"`,
		}},
		{"range in the user's words", ok + "\toption robustness '9'\n", []string{
			`t.conf:7:20: robustness 9 is out of range 1..7 (QRV is a 3-bit field, RFC 3376 §4.1.6)`,
		}},
		{"placement in the user's words", ok + "config interface\n\toption device 'eth9'\n\toption role 'upstream'\n\toption fast_leave '1'\n\tlist source '10.0.0.0/8'\n", []string{
			`t.conf:10:9: fast_leave is only meaningful on a downstream interface`,
		}},
		{"duplicates", ok + "\toption threshold 2\n\toption threshold 3\n", []string{
			`t.conf:8:9: duplicate option "threshold" (first at 7:9)`,
		}},
		{"list of a single value", ok + "\tlist threshold 2\n", []string{
			`t.conf:7:7: threshold is a single value; write option, not list`,
		}},
		{"no network or device", ok + "config interface 'x'\n\toption role 'downstream'\n", []string{
			`t.conf:7:1: interface section "x" needs option network (a netifd network, like 'wan') or option device (like 'eth0.7')`,
		}},
		{"network and device", ok + "config interface\n\toption network 'x'\n\toption device 'eth1'\n\toption role 'disabled'\n", []string{
			`t.conf:9:9: option device and option network (at 8:9) both name the interface; keep one`,
		}},
		{"bad network", ok + "config interface\n\toption network 'wan-2'\n\toption role 'disabled'\n", []string{
			`t.conf:8:17: network name "wan-2" may hold only letters, digits and "_"`,
		}},
		{"section declared twice", ok + "config interface 'lan'\n\toption device 'eth1'\n\toption role 'disabled'\n", []string{
			`t.conf:7:1: interface section "lan" is declared twice (first at 4:1); uci merges the two, so give each its own name`,
		}},
		{"duplicate network", ok + "config interface\n\toption network 'wan'\n\toption role 'disabled'\n", []string{
			`t.conf:7:1: duplicate interface "@wan" (first at 1:1)`,
		}},
		{"wrong section", "config proxy\n\toption role 'upstream'\n\toption network 'wan'\nconfig interface\n\toption table '5'\n\toption enabled '1'\n", []string{
			`t.conf:2:9: "role" belongs in an interface section`,
			`t.conf:3:9: "network" belongs in an interface section`,
			`t.conf:4:1: interface section "@interface[0]" needs option network (a netifd network, like 'wan') or option device (like 'eth0.7')`,
			`t.conf:5:9: "table" belongs in the proxy section`,
			`t.conf:6:9: "enabled" belongs in the proxy section`,
		}},
		{"unknown section and statement", ok + "config proxi 'x'\n\toption foo 'bar'\nsection x\n", []string{
			`t.conf:7:8: unknown section type "proxi"; expected "proxy" or "interface"; did you mean "proxy"?`,
			`t.conf:9:1: unknown statement "section"; expected config, option or list`,
		}},
		{"two proxies", "config proxy 'a'\nconfig proxy 'b'\n" + ok, []string{
			`t.conf:2:1: no upstream interface in proxy "b"; at least one interface needs "upstream"`,
			`t.conf:2:1: no downstream interface in proxy "b"; at least one interface needs "downstream"`,
		}},
		{"option first", "option ipv6 '1'\n" + ok, []string{
			`t.conf:1:8: option before the first config section`,
		}},
		{"bad rule", ok + "\tlist rule 'allow group 10.0.0.0/8'\n\tlist rule 'permit any'\n\tlist rule 'deny group any extra'\n", []string{
			`t.conf:7:25: group 10.0.0.0/8 is not a multicast prefix; groups lie in 224.0.0.0/4 and ff00::/8, or write "any"`,
			`t.conf:8:12: rule: expected a rule like 'allow group 239.0.0.0/8' or 'deny group any', found "permit any"`,
			`t.conf:9:28: unexpected "extra" in deny rule; expected "source" or the end of the statement`,
		}},
		{"enabled not a boolean", "config proxy\n\toption enabled 'sure'\n" + ok, []string{
			`t.conf:2:17: enabled: expected '1' or '0', found "sure"`,
		}},
		{"no roles", "config interface\n\toption device 'eth0'\n", []string{
			`t.conf:1:1: interface "eth0" has no role (upstream, downstream or disabled)`,
			`t.conf:2:2: no upstream interface; at least one interface needs "upstream"`,
			`t.conf:2:2: no downstream interface; at least one interface needs "downstream"`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseUCI(testFile, []byte(tt.in))
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("err = %v, want Errors", err)
			}
			var got []string
			for _, e := range es {
				got = append(got, e.Error())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestUCIGolden parses the files in testdata/uci, written the way the uci
// tool and LuCI write them, and compares the result, the configuration
// formatted in the native syntax or the errors, with NAME.golden.
func TestUCIGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/uci/*.uci")
	if err != nil || len(files) < 4 {
		t.Fatalf("golden inputs: %v (%d files)", err, len(files))
	}
	for _, in := range files {
		t.Run(filepath.Base(in), func(t *testing.T) {
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			if DetectSyntax(data) != SyntaxUCI {
				t.Errorf("DetectSyntax does not see UCI")
			}
			var got []byte
			c, err := ParseAuto(filepath.Base(in), data)
			if err != nil {
				got = []byte(err.Error() + "\n")
			} else {
				got = c.Format()
				checkRoundTrip(t, c)
				checkUCIRoundTrip(t, c)
			}
			golden := strings.TrimSuffix(in, ".uci") + ".golden"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Errorf("got:\n%s\nwant (%s):\n%s", got, golden, want)
			}
		})
	}
}

// TestShippedUCIConfig checks the default /etc/config/mcast-proxy of the
// OpenWrt package: it parses, follows wan and lan by network, and turns
// IPv6 on.
func TestShippedUCIConfig(t *testing.T) {
	data, err := os.ReadFile("../../files/mcast-proxy.config")
	if err != nil {
		t.Fatalf("default config not found: %v", err)
	}
	c, err := ParseAuto("mcast-proxy.config", data)
	if err != nil {
		t.Fatal(err)
	}
	up, downs := c.Upstream(), c.Downstreams()
	if up == nil || up.Network != "wan" || len(downs) != 1 || downs[0].Network != "lan" {
		t.Errorf("upstream %+v, downstreams %+v; want network wan upstream and lan downstream", up, downs)
	}
	if !c.IPv4 || !c.IPv6 {
		t.Errorf("ipv4 %v, ipv6 %v; want both on", c.IPv4, c.IPv6)
	}
}

func TestDetectSyntax(t *testing.T) {
	tests := []struct {
		in   string
		want Syntax
	}{
		{"", SyntaxNative},
		{"# only a comment\n\n", SyntaxNative},
		{"interface wan { upstream }", SyntaxNative},
		{"ipv6 yes\n", SyntaxNative},
		{"config proxy", SyntaxUCI},
		{"# c\n\n\tconfig interface 'x'", SyntaxUCI},
		{"package mcast-proxy\n\nconfig proxy\n", SyntaxUCI},
		{"configure", SyntaxNative},
		{"c proxy", SyntaxUCI},
	}
	for _, tt := range tests {
		if got := DetectSyntax([]byte(tt.in)); got != tt.want {
			t.Errorf("DetectSyntax(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
	// No native keyword can be mistaken for the start of a UCI file.
	for _, kw := range slices.Concat(globalKeywords, interfaceKeywords) {
		if c := command(kw); c == "config" || c == "package" {
			t.Errorf("native keyword %q would make DetectSyntax see UCI", kw)
		}
	}
}

// FuzzParseUCI checks that ParseUCI never panics, that every error points
// into the input, and that a configuration that parses survives both
// formats' round trips.
func FuzzParseUCI(f *testing.F) {
	files, _ := filepath.Glob("testdata/uci/*.uci")
	for _, in := range files {
		data, err := os.ReadFile(in)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("config proxy\n\toption ipv6 '1'\nconfig interface\n\toption device 'it'\\''s'\n\toption role upstream\n" +
		"config interface 'lan'\n\toption network \"lan\"; option role 'downstream'\n\tlist rule 'deny group any source 10.0.0.0/8'\n"))
	f.Add([]byte("c proxy\no table '\nl rule \"x\\\n\" \\\n\nconfig interface\n\toption device ''\n#"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseUCI(testFile, data)
		if err != nil {
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("error %v is not a non-empty Errors", err)
			}
			lines := strings.Count(string(data), "\n") + 1
			for _, e := range es {
				if e.Pos.File != testFile || e.Pos.Line < 1 || e.Pos.Line > lines || e.Pos.Col < 1 || e.Msg == "" {
					t.Fatalf("error with a bad position or no message: %q (input has %d lines)", e.Error(), lines)
				}
			}
			return
		}
		checkRoundTrip(t, c)
		checkUCIRoundTrip(t, c)
	})
}

// TestDocUCITable checks that mcast-proxy.conf(5) lists the UCI spelling of
// every option of the table next to its native keyword.
func TestDocUCITable(t *testing.T) {
	doc, err := os.ReadFile("../../docs/mcast-proxy.conf.5.md")
	if err != nil {
		t.Fatalf("manual not found: %v", err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(string(doc), "\n") {
		if strings.HasPrefix(line, "| `") {
			cells := strings.Split(line, "|")
			rows[strings.TrimSpace(cells[2])] = cells[1]
		}
	}
	for _, o := range slices.Concat(globalOptions, interfaceOptions) {
		found := false
		for uci, native := range rows {
			if strings.Contains(uci, " "+o.uciName()+" '") && (o.kind == kindRole || o.kind == kindRule || strings.Contains(native, "`"+o.name+" ")) {
				found = true
			}
		}
		if !found {
			t.Errorf("the UCI table of mcast-proxy.conf(5) has no row for %s (option %s)", o.name, o.uciName())
		}
	}
}

// BenchmarkParseUCI parses the richest golden file, as a reload does.
func BenchmarkParseUCI(b *testing.B) {
	data, err := os.ReadFile("testdata/uci/luci.uci")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for range b.N {
		if _, err := ParseUCI("luci.uci", data); err != nil {
			b.Fatal(err)
		}
	}
}
