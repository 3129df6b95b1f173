//go:build linux

package e2e

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// Strict reverse-path filtering on the upstream drops multicast from source
// prefixes that are not routed back through it: the daemon says so once per
// such prefix, with the fix, and stays quiet about prefixes that are routed
// via the upstream and when filtering is loose.
func TestReversePathWarning(t *testing.T) {
	const cfg = "ipv4 yes\n" +
		"interface up0 { upstream; source 10.0.0.0/24; source 172.16.0.0/24 }\n" +
		"interface br-lan { downstream; " + downstreamTimers + " }\n" +
		"interface down2 { downstream; " + downstreamTimers + " }\n"
	for _, tc := range []struct {
		name     string
		rpFilter string
		warn     bool
	}{
		{"strict", "1", true},
		{"loose", "2", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tp := newTopo(t, topoOptions{noDaemon: true})
			tp.must(tp.lab.Sysctl("router", "net/ipv4/conf/up0/rp_filter", tc.rpFilter))
			tp.startDaemon(cfg)
			tp.waitVIFs(fam4, "up0", "br-lan", "down2")
			// The check runs when the upstream is selected, before the
			// links go into service; the daemon's stderr reaches the test
			// through a pipe, late on a loaded machine, so the log counts
			// once it shows the last link in service.
			tp.waitLog(regexp.MustCompile(`msg="downstream in service".*\binterface=down2\b`), 1, 10*time.Second)
			log := tp.daemon.Stderr()
			warned := strings.Contains(log, "reverse-path filtering")
			if warned != tc.warn {
				t.Fatalf("rp_filter %s: warning logged = %v, want %v; log:\n%s", tc.rpFilter, warned, tc.warn, log)
			}
			if !tc.warn {
				return
			}
			if !strings.Contains(log, "source=172.16.0.0/24") || strings.Contains(log, "source=10.0.0.0/24") {
				t.Fatalf("the warning must name 172.16.0.0/24 (not routed via up0) and not 10.0.0.0/24 (up0's own subnet); log:\n%s", log)
			}
			if n := strings.Count(log, "reverse-path filtering"); n != 1 {
				t.Fatalf("warning logged %d times, want once", n)
			}
		})
	}
}
