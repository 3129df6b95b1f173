package control

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"text/tabwriter"
)

// tabwriterTable is how tables were rendered before table aligned them
// itself: text/tabwriter (minwidth 0, padding 2) and trailing spaces cut.
func tabwriterTable(lines [][]string) string {
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 8, 2, ' ', 0)
	for _, l := range lines {
		fmt.Fprintf(tw, "  %s\n", strings.Join(l, "\t"))
	}
	tw.Flush()
	var out strings.Builder
	for _, line := range strings.SplitAfter(buf.String(), "\n") {
		if line != "" {
			out.WriteString(strings.TrimRight(line, " \n"))
			out.WriteByte('\n')
		}
	}
	return out.String()
}

// TestTableMatchesTabwriter: for tables of any shape whose lines have the
// same number of cells, table writes what text/tabwriter wrote.
func TestTableMatchesTabwriter(t *testing.T) {
	words := []string{"", "-", "eth0", "br-lan", "239.1.1.1", "ff0e::1:2", "include", "é", "日本語", "wan ", "1m2s"}
	rng := rand.New(rand.NewPCG(1, 2))
	for n := range 300 {
		cols := 1 + rng.IntN(6)
		var lines [][]string
		for range 1 + rng.IntN(6) {
			l := make([]string, cols)
			for k := range l {
				l[k] = words[rng.IntN(len(words))]
			}
			lines = append(lines, l)
		}
		var b bytes.Buffer
		tb := newTable(&b)
		for _, l := range lines {
			tb.line(l)
		}
		tb.flush()
		if want := tabwriterTable(lines); b.String() != want {
			t.Fatalf("table %d %q:\n%s\ntabwriter:\n%s", n, lines, b.String(), want)
		}
	}
}
