package luci_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var updatePot = flag.Bool("update-pot", false, "write po/templates/mcast-proxy.pot again")

// potPath is the translation template of the app: translators copy it to
// po/LANG/mcast-proxy.po, which luci.mk compiles for LuCI.
var potPath = filepath.Join(appDir, "po", "templates", "mcast-proxy.pot")

// translatable finds the _('...') strings of the views.
var translatable = regexp.MustCompile(`_\('((?:[^'\\]|\\.)*)'\)`)

func jsUnquote(s string) string {
	r := strings.NewReplacer(`\'`, `'`, `\"`, `"`, `\\`, `\`, `\n`, "\n")
	return r.Replace(s)
}

func poQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// template builds the .pot: every translatable string once, in the order
// of first use, with where it is used.
func template(t *testing.T) string {
	t.Helper()
	type entry struct {
		msgid string
		refs  []string
	}
	var entries []*entry
	seen := map[string]*entry{}
	names := []string{"status.js", "settings.js"}
	srcs := viewSources(t)
	if len(srcs) != len(names) {
		t.Fatalf("views %v, want %v", srcs, names)
	}
	for _, name := range names {
		src := srcs[name]
		for _, m := range translatable.FindAllStringSubmatchIndex(src, -1) {
			id := jsUnquote(src[m[2]:m[3]])
			ref := fmt.Sprintf("htdocs/luci-static/resources/view/mcast-proxy/%s:%d", name, strings.Count(src[:m[0]], "\n")+1)
			e := seen[id]
			if e == nil {
				e = &entry{msgid: id}
				seen[id] = e
				entries = append(entries, e)
			}
			e.refs = append(e.refs, ref)
		}
	}
	var b strings.Builder
	b.WriteString("msgid \"\"\nmsgstr \"Content-Type: text/plain; charset=UTF-8\"\n")
	for _, e := range entries {
		b.WriteString("\n")
		for _, r := range e.refs {
			b.WriteString("#: " + r + "\n")
		}
		b.WriteString("msgid " + poQuote(e.msgid) + "\nmsgstr \"\"\n")
	}
	return b.String()
}

// TestTranslationTemplate: the template lists exactly the strings the views
// translate (go test -update-pot writes it again).
func TestTranslationTemplate(t *testing.T) {
	want := template(t)
	if *updatePot {
		if err := os.MkdirAll(filepath.Dir(potPath), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(potPath, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(potPath)
	if err != nil {
		t.Fatalf("%v (go test -update-pot writes it)", err)
	}
	if string(got) != want {
		t.Errorf("%s is out of date: run go test ./openwrt/luci-app-mcast-proxy/test -run TestTranslationTemplate -update-pot", potPath)
	}
	// A string built by concatenation or from a variable cannot be found
	// by LuCI's scanner (i18n-scan) either.
	for name, src := range viewSources(t) {
		for _, m := range regexp.MustCompile(`_\([^'\s]`).FindAllStringIndex(src, -1) {
			t.Errorf("%s:%d: _() of something other than a string literal", name, strings.Count(src[:m[0]], "\n")+1)
		}
		if n := strings.Count(src, "_('"); n != len(translatable.FindAllString(src, -1)) {
			t.Errorf("%s: %d _(' calls, %d read as strings", name, n, len(translatable.FindAllString(src, -1)))
		}
	}
	if !slices.Contains(strings.Split(want, "\n"), `msgid "Multicast Proxy"`) {
		t.Errorf("the page title is not in the template")
	}
}
