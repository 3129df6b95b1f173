//go:build linux

package e2e

import (
	"os"
	"testing"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/netlab"
)

// TestReloadDenyLeavesUpstream: after a reload that denies a joined group on
// its only downstream, the proxy stops asking for it upstream and forgets the
// membership at once, rather than when the membership ages out (260 s with
// the default timers used here): a denied group must not stay joined at the
// provider (providers cut customers who pull in groups they should not),
// and status must not list it as joined.
func TestReloadDenyLeavesUpstream(t *testing.T) {
	t.Parallel()
	// Default querier timers: membership interval 2 × 125 s + 10 s.
	lan := []string{"query-interval 125s", "query-response-interval 10s", "startup-query-interval 500ms", "startup-query-count 2"}
	tp := newTopo(t, topoOptions{config: opConfig(nil, lan)})
	r1 := tp.receiver("rcv1", g1, netlab.AnySource)
	start := time.Now()
	tp.sender(s1, g1)
	tp.waitFlowing(r1, s1, start, 20, 5*time.Second)
	if groups, _ := tp.upstreamGroups(fam4); !groups[g1.Addr()] {
		t.Fatalf("%s not joined on up0 before the reload", g1.Addr())
	}

	tp.must(os.WriteFile(tp.conf, []byte(opConfig(nil, append(lan, "deny group 239.1.1.1"))), 0o644))
	reloaded := time.Now()
	if res := runClientCmd(t, "reload", "-s", tp.sock); res.code != 0 {
		t.Fatalf("mcast-proxy reload: exit %d, stderr %q", res.code, res.stderr)
	}
	defer func() {
		if t.Failed() {
			tp.logStatus()
			tp.logProc("net/igmp")
		}
	}()
	deadline := reloaded.Add(3 * time.Second)
	for {
		groups, _ := tp.upstreamGroups(fam4)
		st := tp.status()
		_, sub := subscription(st, g1.Addr())
		_, joined := groupOn(st, "br-lan", g1.Addr())
		if !groups[g1.Addr()] && !sub && !joined {
			t.Logf("%s left on up0 and forgotten on br-lan %v after the reload", g1.Addr(), time.Since(reloaded).Round(time.Millisecond))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v after a reload denying %s on br-lan: still joined on up0 (/proc/net/igmp) %v, upstream subscription in status %v, group on br-lan in status %v",
				time.Since(reloaded).Round(time.Millisecond), g1.Addr(), groups[g1.Addr()], sub, joined)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
