// Package luci_test checks the LuCI views of luci-app-mcast-proxy in a real
// browser: headless Chromium loads a small page that provides the LuCI APIs
// the views call (harness/luci-stub.js, harness/form-stub.js), feeds them
// status JSON and UCI data, and reports what the views rendered.
package luci_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var updateDocs = flag.Bool("update-docs", false, "write the screenshots in docs/ again")

const (
	appDir  = ".."
	repoDir = "../../.."
)

// scenario is what the harness page loads: the view, the ubus replies and
// UCI data it answers with, and the steps it takes after the first render.
type scenario struct {
	View     string          `json:"view"`
	Ubus     map[string]any  `json:"ubus,omitempty"`
	UCI      map[string]any  `json:"uci,omitempty"`
	Networks []network       `json:"networks,omitempty"`
	Steps    []step          `json:"steps,omitempty"`
	Width    int             `json:"width,omitempty"`
	Extra    json.RawMessage `json:"extra,omitempty"`
}

type network struct {
	Name   string `json:"name"`
	Device string `json:"device"`
}

type step struct {
	Ubus  map[string]any `json:"ubus,omitempty"`
	Poll  bool           `json:"poll,omitempty"`
	Click string         `json:"click,omitempty"`
	JS    string         `json:"js,omitempty"`
	Args  any            `json:"args,omitempty"`
}

type snapshot struct {
	Text string `json:"text"`
	HTML string `json:"html"`
}

// report is what the harness posts back after the scenario ran.
type report struct {
	Text          string            `json:"text"`
	HTML          string            `json:"html"`
	Steps         []snapshot        `json:"steps"`
	Errors        []string          `json:"errors"`
	RPCCalls      []rpcCall         `json:"rpcCalls"`
	Polls         []float64         `json:"polls"`
	Notifications []string          `json:"notifications"`
	UCI           map[string]any    `json:"uci"`
	UCIChanges    [][]any           `json:"uciChanges"`
	Applied       int               `json:"applied"`
	Translated    []string          `json:"translated"`
	Height        int               `json:"height"`
	Extra         map[string]string `json:"extra"`
}

type rpcCall struct {
	Call   string         `json:"call"`
	Params map[string]any `json:"params"`
}

// browser serves the harness, the app's htdocs and the scenarios, and runs
// Chromium against them.
type browser struct {
	bin  string
	srv  *httptest.Server
	dir  string // artifacts
	mu   sync.Mutex
	scen map[string]scenario
	reps map[string]chan report
}

func chromiumPath() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	bin := chromiumPath()
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium not found; CI installs it (apt-get install chromium)")
		}
		t.Skip("chromium not found (apt-get install chromium); skipped outside CI")
	}
	b := &browser{bin: bin, scen: map[string]scenario{}, reps: map[string]chan report{}}
	b.dir = artifactsDir(t)

	mux := http.NewServeMux()
	mux.Handle("/luci-static/", http.FileServer(http.Dir(filepath.Join(appDir, "htdocs"))))
	mux.Handle("/harness/", http.StripPrefix("/harness/", http.FileServer(http.Dir("harness"))))
	mux.HandleFunc("/harness.html", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, filepath.Join("harness", "index.html"))
	})
	mux.HandleFunc("/scenario", func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		sc, ok := b.scen[r.URL.Query().Get("name")]
		b.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(sc)
	})
	mux.HandleFunc("/report", func(w http.ResponseWriter, r *http.Request) {
		var rep report
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &rep); err != nil {
			rep.Errors = append(rep.Errors, "bad report: "+err.Error())
		}
		b.mu.Lock()
		ch := b.reps[r.URL.Query().Get("name")]
		b.mu.Unlock()
		if ch != nil {
			select {
			case ch <- rep:
			default:
			}
		}
	})
	// Only loopback: Chromium must not reach anything else.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b.srv = &httptest.Server{Listener: l, Config: &http.Server{Handler: mux}}
	b.srv.Start()
	t.Cleanup(b.srv.Close)
	return b
}

// artifactsDir is where screenshots are kept: $LUCI_ARTIFACTS, or bin/
// test-artifacts/luci in the repository (bin/ is ignored by git).
func artifactsDir(t *testing.T) string {
	dir := os.Getenv("LUCI_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(repoDir, "bin", "test-artifacts", "luci")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(dir)
	return abs
}

func (b *browser) chromium(t *testing.T, args ...string) {
	t.Helper()
	profile := t.TempDir()
	base := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-default-apps", "--disable-extensions", "--no-first-run", "--mute-audio",
		"--hide-scrollbars", "--user-data-dir=" + profile, "--virtual-time-budget=20000",
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.bin, append(base, args...)...)
	var stderr bytes.Buffer
	cmd.Stdout = io.Discard
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, lastLines(stderr.String(), 20))
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// run loads the scenario in Chromium and returns the harness's report.
// A scenario that produced JavaScript errors fails the test.
func (b *browser) run(t *testing.T, name string, sc scenario) report {
	t.Helper()
	ch := make(chan report, 1)
	b.mu.Lock()
	b.scen[name] = sc
	b.reps[name] = ch
	b.mu.Unlock()

	width := sc.Width
	if width == 0 {
		width = 1280
	}
	b.chromium(t, fmt.Sprintf("--window-size=%d,900", width), "--dump-dom", b.url(name))
	var rep report
	select {
	case rep = <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("scenario %s: the page sent no report", name)
	}
	if len(rep.Errors) > 0 {
		t.Errorf("scenario %s: JavaScript errors:\n%s", name, strings.Join(rep.Errors, "\n"))
	}
	return rep
}

// screenshot renders the scenario again and saves the whole page as PNG in
// the artifacts directory, and in docs/ with -update-docs.
func (b *browser) screenshot(t *testing.T, name string, sc scenario, rep report, docName string) string {
	t.Helper()
	width := sc.Width
	if width == 0 {
		width = 1280
	}
	height := rep.Height + 10
	if height < 400 {
		height = 400
	}
	if width < 600 && height > 1600 {
		height = 1600 // a phone: the first screens are enough
	}
	out := filepath.Join(b.dir, name+".png")
	ch := make(chan report, 1)
	b.mu.Lock()
	b.reps[name] = ch
	b.mu.Unlock()
	b.chromium(t, fmt.Sprintf("--window-size=%d,%d", width, height), "--screenshot="+out, b.url(name))
	st, err := os.Stat(out)
	if err != nil || st.Size() < 10000 {
		t.Fatalf("screenshot %s: missing or empty (%v)", out, err)
	}
	t.Logf("screenshot: %s", out)
	if *updateDocs && docName != "" {
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(repoDir, "docs", docName), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func (b *browser) url(name string) string {
	return b.srv.URL + "/harness.html?name=" + name
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func mustContain(t *testing.T, what, text string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(text, w) {
			t.Errorf("%s: %q not found in:\n%s", what, w, text)
		}
	}
}

func mustNotContain(t *testing.T, what, text string, unwanted ...string) {
	t.Helper()
	for _, w := range unwanted {
		if strings.Contains(text, w) {
			t.Errorf("%s: %q found but should not be", what, w)
		}
	}
}
