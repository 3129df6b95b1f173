package luci_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var viewDir = filepath.Join(appDir, "htdocs", "luci-static", "resources", "view", "mcast-proxy")

func viewSources(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(viewDir, "*.js"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no views in %s: %v", viewDir, err)
	}
	out := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = string(b)
	}
	return out
}

// stripStringsAndComments blanks out the contents of string literals and
// comments, so that code patterns are not found inside text.
func stripStringsAndComments(src string) string {
	var b strings.Builder
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '/' && i+1 < len(src) && src[i+1] == '/':
			for i < len(src) && src[i] != '\n' {
				i++
			}
			b.WriteByte('\n')
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return b.String()
			}
			b.WriteString(strings.Repeat("\n", strings.Count(src[i:i+2+end+2], "\n")))
			i += 2 + end + 1
		case c == '\'' || c == '"':
			b.WriteByte(c)
			for i++; i < len(src) && src[i] != c; i++ {
				if src[i] == '\\' {
					i++
				}
			}
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// TestViewsAreLuCIStyleES5: the views are LuCI client modules ('use strict',
// then 'require' lines) in ES5, as LuCI's own apps are written.
func TestViewsAreLuCIStyleES5(t *testing.T) {
	es6 := []struct {
		re   *regexp.Regexp
		what string
	}{
		{regexp.MustCompile(`=>`), "arrow function"},
		{regexp.MustCompile("`"), "template literal"},
		{regexp.MustCompile(`(^|[;{}\s])(let|const|class)\s`), "let, const or class"},
		{regexp.MustCompile(`\.\.\.`), "spread or rest"},
		{regexp.MustCompile(`\bfor\s*\([^)]*\bof\b`), "for...of"},
	}
	for name, src := range viewSources(t) {
		lines := strings.Split(src, "\n")
		if lines[0] != "'use strict';" {
			t.Errorf("%s: first line %q, want 'use strict';", name, lines[0])
		}
		if !strings.HasPrefix(lines[1], "'require view';") {
			t.Errorf("%s: second line %q, want 'require view';", name, lines[1])
		}
		if !strings.Contains(src, "return view.extend({") {
			t.Errorf("%s: does not return view.extend({...})", name)
		}
		code := stripStringsAndComments(src)
		for _, c := range es6 {
			if loc := c.re.FindStringIndex(code); loc != nil {
				line := strings.Count(code[:loc[0]], "\n") + 1
				t.Errorf("%s:%d: %s is not ES5", name, line, c.what)
			}
		}
	}
}

// TestViewsInsertTextNotHTML: E() parses a bare string child as HTML
// (LuCI's dom.append), so every child must be an element, an array or
// nothing; and text in those arrays is translatable.
func TestViewsInsertTextNotHTML(t *testing.T) {
	// E('tag', {...}, X) where X is certainly a string: a literal, _(),
	// .format() or String(). Variables are checked at run time (the
	// hostile-names test of the status page).
	bare := regexp.MustCompile(`E\('[a-z0-9]+',\s*\{[^{}]*\},\s*(['"]|_\(|[A-Za-z_.]*format\(|String\()`)
	// E('tag', X) where X is a string or a call other than E(.
	bare2 := regexp.MustCompile(`E\('[a-z0-9]+',\s*(['"_]|[a-zA-Z]+\()`)
	// A literal word as a child: user-visible text that is not translated.
	literal := regexp.MustCompile(`E\('[a-z0-9]+',\s*\{[^{}]*\},\s*\[\s*'[A-Za-z]`)
	for name, src := range viewSources(t) {
		for _, re := range []*regexp.Regexp{bare, bare2} {
			for _, m := range re.FindAllStringIndex(src, -1) {
				t.Errorf("%s:%d: E() child that is not an array: %q", name, strings.Count(src[:m[0]], "\n")+1, src[m[0]:m[1]])
			}
		}
		for _, m := range literal.FindAllStringIndex(src, -1) {
			t.Errorf("%s:%d: untranslated text: %q", name, strings.Count(src[:m[0]], "\n")+1, src[m[0]:m[1]])
		}
		if strings.Contains(src, "innerHTML") || strings.Contains(src, "E('<") {
			t.Errorf("%s: builds markup from strings", name)
		}
	}
}

// TestMenuAndACL: the menu entry is under Services and points at existing
// views; the ACL grants exactly the ubus calls the views make, read of the
// UCI package and write of the UCI package.
func TestMenuAndACL(t *testing.T) {
	var menu map[string]struct {
		Title  string `json:"title"`
		Action struct {
			Type string `json:"type"`
			Path string `json:"path"`
		} `json:"action"`
		Depends struct {
			ACL []string `json:"acl"`
		} `json:"depends"`
	}
	readJSON(t, filepath.Join(appDir, "root/usr/share/luci/menu.d/luci-app-mcast-proxy.json"), &menu)
	top, ok := menu["admin/services/mcast-proxy"]
	if !ok {
		t.Fatalf("no admin/services/mcast-proxy entry: %v", menu)
	}
	if !slices.Contains(top.Depends.ACL, "luci-app-mcast-proxy") {
		t.Errorf("menu does not depend on the app's ACL")
	}
	views := 0
	for path, e := range menu {
		if e.Action.Type != "view" {
			continue
		}
		views++
		if _, err := os.Stat(filepath.Join(appDir, "htdocs/luci-static/resources/view", e.Action.Path+".js")); err != nil {
			t.Errorf("menu %s: view %s: %v", path, e.Action.Path, err)
		}
	}
	if views != 2 {
		t.Errorf("menu has %d views, want status and settings", views)
	}

	type grants struct {
		Ubus map[string][]string `json:"ubus"`
		UCI  []string            `json:"uci"`
	}
	var acl map[string]struct {
		Read  grants `json:"read"`
		Write grants `json:"write"`
	}
	readJSON(t, filepath.Join(appDir, "root/usr/share/rpcd/acl.d/luci-app-mcast-proxy.json"), &acl)
	a, ok := acl["luci-app-mcast-proxy"]
	if !ok {
		t.Fatalf("no luci-app-mcast-proxy ACL")
	}
	if !slices.Equal(a.Read.UCI, []string{"mcast-proxy"}) || !slices.Equal(a.Write.UCI, []string{"mcast-proxy"}) {
		t.Errorf("UCI grants read %v write %v, want mcast-proxy for both", a.Read.UCI, a.Write.UCI)
	}
	if len(a.Write.Ubus) != 0 {
		t.Errorf("the app may not call ubus methods that change anything: %v", a.Write.Ubus)
	}
	declared := regexp.MustCompile(`rpc\.declare\(\{\s*object:\s*'([^']+)',\s*method:\s*'([^']+)'`)
	used := map[string][]string{}
	for _, src := range viewSources(t) {
		for _, m := range declared.FindAllStringSubmatch(src, -1) {
			used[m[1]] = append(used[m[1]], m[2])
		}
	}
	if !slices.Contains(used["mcast-proxy"], "status") {
		t.Errorf("no view calls ubus mcast-proxy status: %v", used)
	}
	for obj, methods := range used {
		slices.Sort(methods)
		granted := slices.Clone(a.Read.Ubus[obj])
		slices.Sort(granted)
		if !slices.Equal(methods, granted) {
			t.Errorf("ubus %s: the views call %v, the ACL grants %v", obj, methods, granted)
		}
	}
	for obj := range a.Read.Ubus {
		if _, ok := used[obj]; !ok {
			t.Errorf("the ACL grants ubus %s, which no view calls", obj)
		}
	}
}

func TestJSONFilesParse(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(appDir, "root/usr/share/*/*/*.json"))
	if len(files) != 2 {
		t.Fatalf("JSON files: %v", files)
	}
	for _, f := range files {
		var v any
		b, _ := os.ReadFile(f)
		if err := json.Unmarshal(b, &v); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
