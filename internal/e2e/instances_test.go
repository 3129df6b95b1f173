//go:build linux

package e2e

// Two proxy instances in one daemon, on the README's example: IPTV on VLAN
// 7 of eth0 to br-tv, and a second uplink wan2 to br-lan.
//
//	iptv 10.0.0.2 eth0.7 ── eth0.7 10.0.0.1 ┐                  ┌ br-tv 192.168.10.1 ── tv1 192.168.10.11
//	                                         router (tv, lan) ─┤
//	isp2 172.16.0.2 eth0 ── wan2 172.16.0.1 ┘                  └ br-lan 192.168.1.1 ── pc1 192.168.1.11
//
// Both sources send the same group: each LAN must get only its own
// instance's stream.

import (
	"net/netip"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/control"
	"github.com/mcast-proxy/mcast-proxy/internal/netlab"
)

var (
	tvSource  = netip.MustParseAddr("10.0.0.2")
	lanSource = netip.MustParseAddr("172.16.0.2")
)

// readmeInstances is the README's example, read from the README itself so
// that the two cannot drift apart.
func readmeInstances(t *testing.T) string {
	t.Helper()
	const marker = "# IPTV VLAN to br-tv, second uplink to br-lan"
	doc, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(doc), "```")
	for i := 1; i < len(blocks); i += 2 {
		if b := strings.TrimPrefix(blocks[i], "\n"); strings.HasPrefix(b, marker) {
			return b
		}
	}
	t.Fatalf("README.md has no example starting with %q", marker)
	return ""
}

// tvOnly is the README's example without the lan instance.
func tvOnly(readme string) string {
	return readme[:strings.Index(readme, "proxy lan {")]
}

// instancesTopo builds the network of the instance tests; the daemon is
// started by the test.
func instancesTopo(t *testing.T) *topo {
	t.Helper()
	needRoot(t)
	lab, err := netlab.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := lab.Close(); err != nil {
			t.Errorf("remove lab: %v", err)
		}
	})
	tp := &topo{t: t, lab: lab}
	l := lab
	hosts := []string{"iptv", "isp2", "router", "tv1", "pc1"}
	tp.must(l.AddNS(hosts...))
	// The IPTV VLAN: eth0.7 on both ends of one cable.
	tp.must(l.Link("iptv", "eth0", "router", "eth0"))
	for _, ns := range []string{"iptv", "router"} {
		tp.must(l.IP(ns, "link", "add", "link", "eth0", "name", "eth0.7", "type", "vlan", "id", "7"))
	}
	tp.must(l.Link("isp2", "eth0", "router", "wan2"))
	tp.must(l.Link("router", "tvp", "tv1", "eth0"))
	tp.must(l.Bridge("router", "br-tv", []string{"tvp"}, "mcast_snooping", "0"))
	tp.must(l.Link("router", "lanp", "pc1", "eth0"))
	tp.must(l.Bridge("router", "br-lan", []string{"lanp"}, "mcast_snooping", "0"))
	for _, a := range []struct{ ns, ifname, cidr string }{
		{"iptv", "eth0.7", "10.0.0.2/24"},
		{"router", "eth0.7", "10.0.0.1/24"},
		{"isp2", "eth0", "172.16.0.2/24"},
		{"router", "wan2", "172.16.0.1/24"},
		{"router", "br-tv", "192.168.10.1/24"},
		{"tv1", "eth0", "192.168.10.11/24"},
		{"router", "br-lan", "192.168.1.1/24"},
		{"pc1", "eth0", "192.168.1.11/24"},
	} {
		tp.must(l.Addr(a.ns, a.ifname, a.cidr))
	}
	for _, ns := range hosts {
		for _, key := range []string{"all", "default"} {
			tp.must(l.Sysctl(ns, "net/ipv4/conf/"+key+"/rp_filter", "0"))
		}
	}
	for _, ifname := range []string{"eth0", "eth0.7", "wan2", "br-tv", "br-lan"} {
		tp.must(l.Sysctl("router", "net/ipv4/conf/"+ifname+"/rp_filter", "0"))
	}
	return tp
}

// instanceStreams starts both sources sending g1 and joins g1 on both LANs.
func (tp *topo) instanceStreams() (tv, pc *netlab.Receiver) {
	tp.t.Helper()
	tv = tp.receiver("tv1", g1, netlab.AnySource)
	pc = tp.receiver("pc1", g1, netlab.AnySource)
	for _, s := range []struct {
		ns, ifname string
		src        netip.Addr
	}{{"iptv", "eth0.7", tvSource}, {"isp2", "eth0", lanSource}} {
		_, err := tp.lab.NewSender(s.ns, s.ifname, s.src, g1, streamInterval)
		tp.must(err)
	}
	return tv, pc
}

// ownStreamOnly checks that r gets datagrams from want and none from
// other since t0.
func (tp *topo) ownStreamOnly(r *netlab.Receiver, want, other netip.Addr, t0 time.Time, what string) {
	tp.t.Helper()
	tp.waitFlowing(r, want, t0, 50, 10*time.Second)
	if n := r.CountSince(other, t0); n != 0 {
		tp.t.Errorf("%s got %d datagrams of the other instance's source %s", what, n, other)
	}
}

// waitRules waits until 'ip mrule show' in the router matches every
// pattern and none of absent.
func (tp *topo) waitRules(what string, present, absent []string) string {
	tp.t.Helper()
	var rules string
	tp.waitFor(5*time.Second, what, func() bool {
		rules = tp.ipOut("router", "mrule", "show")
		for _, p := range present {
			if !regexp.MustCompile(p).MatchString(rules) {
				return false
			}
		}
		for _, p := range absent {
			if regexp.MustCompile(p).MatchString(rules) {
				return false
			}
		}
		return true
	})
	return rules
}

var (
	tvRules = []string{
		`(?m)^1000:\s+from all iif eth0\.7 lookup 5000\b`, `(?m)^1000:\s+from all oif eth0\.7 lookup 5000\b`,
		`(?m)^1000:\s+from all iif br-tv lookup 5000\b`, `(?m)^1000:\s+from all oif br-tv lookup 5000\b`,
	}
	lanRules = []string{
		`(?m)^1000:\s+from all iif wan2 lookup 5001\b`, `(?m)^1000:\s+from all oif wan2 lookup 5001\b`,
		`(?m)^1000:\s+from all iif br-lan lookup 5001\b`, `(?m)^1000:\s+from all oif br-lan lookup 5001\b`,
	}
	anyLanRule = []string{`(?m)\b(wan2|br-lan) lookup`}
	anyRule    = []string{`(?m)lookup 500[0-9]\b`}
)

// TestInstancesReadmeExample runs the README's two instances: the same
// group from two sources reaches each LAN from its own instance's upstream
// only, each instance on its own table with its own rules, and status
// shows them apart.
func TestInstancesReadmeExample(t *testing.T) {
	t.Parallel()
	tp := instancesTopo(t)
	tp.startDaemon(readmeInstances(t))
	tp.waitAnswering()
	rules := tp.waitRules("both instances' rules", append(slicesClone(tvRules), lanRules...), nil)
	t.Logf("ip mrule show:\n%s", indent(rules))

	start := time.Now()
	tv, pc := tp.instanceStreams()
	tp.ownStreamOnly(tv, tvSource, lanSource, start, "tv1 on br-tv")
	tp.ownStreamOnly(pc, lanSource, tvSource, start, "pc1 on br-lan")
	t.Logf("ip mroute show table 5000:\n%s", indent(tp.ipOut("router", "mroute", "show", "table", "5000")))
	t.Logf("ip mroute show table 5001:\n%s", indent(tp.ipOut("router", "mroute", "show", "table", "5001")))

	st := tp.status()
	want := []control.Proxy{{Name: "tv", Table: 5000, Upstream: "eth0.7"}, {Name: "lan", Table: 5001, Upstream: "wan2"}}
	if len(st.Proxies) != 2 {
		t.Fatalf("status proxies %+v, want %+v", st.Proxies, want)
	}
	for i, p := range st.Proxies {
		if p.Name != want[i].Name || p.Table != want[i].Table || p.Upstream != want[i].Upstream || p.MemoryBytes == 0 {
			t.Errorf("status proxy %+v, want %+v with memory charged", p, want[i])
		}
	}
	for _, r := range st.Routes {
		wantProxy := map[string]string{"10.0.0.2": "tv", "172.16.0.2": "lan"}[r.Source.String()]
		if r.Proxy != wantProxy || r.Group != g1.Addr() {
			t.Errorf("route %+v in proxy %q, want %q", r, r.Proxy, wantProxy)
		}
	}
	tp.logStatus()

	tp.must(tp.daemon.Signal(syscall.SIGTERM))
	if code, ok := tp.daemon.Wait(5 * time.Second); !ok || code != 0 {
		t.Fatalf("daemon after SIGTERM: exited %v, code %d; want exit 0", ok, code)
	}
	if rules := tp.ipOut("router", "mrule", "show"); regexp.MustCompile(anyRule[0]).MatchString(rules) {
		t.Errorf("rules left after exit:\n%s", indent(rules))
	}
}

// TestInstancesReloadAddRemove: removing the lan instance by reload and
// adding it back changes nothing for the tv instance, whose stream is
// counted datagram by datagram across both reloads.
func TestInstancesReloadAddRemove(t *testing.T) {
	t.Parallel()
	tp := instancesTopo(t)
	readme := readmeInstances(t)
	tp.startDaemon(readme)
	tp.waitAnswering()
	tp.waitRules("both instances' rules", append(slicesClone(tvRules), lanRules...), nil)
	start := time.Now()
	tv, pc := tp.instanceStreams()
	tp.ownStreamOnly(tv, tvSource, lanSource, start, "tv1 on br-tv")
	tp.ownStreamOnly(pc, lanSource, tvSource, start, "pc1 on br-lan")

	reloaded := regexp.MustCompile(`msg="configuration reloaded"`)
	from := time.Now()
	tp.writeConfig(tvOnly(readme))
	tp.must(tp.daemon.Signal(syscall.SIGHUP))
	tp.waitLog(reloaded, 1, 5*time.Second)
	tp.waitRules("the lan instance's rules gone, tv's kept", tvRules, anyLanRule)
	removed := time.Now()
	tp.waitStopped(tp.sniffer(fam4, "pc1"), func(p netlab.Packet) bool { return p.Src == lanSource }, time.Second, 10*time.Second, "the lan stream after its instance was removed")
	t.Logf("lan instance removed: its stream stopped %v after the reload", time.Since(removed).Round(time.Millisecond))

	tp.writeConfig(readme)
	code, out, errOut := tp.runCLI("reload")
	if code != 0 {
		t.Fatalf("mcast-proxy reload: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	tp.waitRules("the lan instance's rules back", append(slicesClone(tvRules), lanRules...), nil)
	back := time.Now()
	// A fresh report brings the group back at once rather than at the next
	// query: pc1 joins again.
	tp.must(pc.Leave())
	tp.must(pc.Join())
	at := tp.waitFlowing(pc, lanSource, back, 20, 10*time.Second)
	t.Logf("lan instance added back: first datagram at pc1 %v after the reload", at.Sub(back).Round(time.Millisecond))

	tp.stillFlowing(tv, tvSource, "tv1 after both reloads")
	tp.noGaps(tv, tvSource, from, time.Now(), "tv1 across removing and adding the lan instance")
	if n := tv.CountSince(lanSource, start); n != 0 {
		t.Errorf("tv1 got %d datagrams of the lan instance's source", n)
	}
}

// TestInstancesCrashRestart: after SIGKILL the instances' rules are left
// in the kernel; a restart with the lan instance gone removes its stale
// rules by their marker, keeps tv's (one of each, not two), and serves tv
// again; a clean stop then leaves no rule.
func TestInstancesCrashRestart(t *testing.T) {
	t.Parallel()
	tp := instancesTopo(t)
	readme := readmeInstances(t)
	tp.startDaemon(readme)
	tp.waitAnswering()
	tp.waitRules("both instances' rules", append(slicesClone(tvRules), lanRules...), nil)

	tp.daemon.Kill()
	if _, ok := tp.daemon.Wait(5 * time.Second); !ok {
		t.Fatal("daemon still running after SIGKILL")
	}
	left := tp.ipOut("router", "mrule", "show")
	t.Logf("ip mrule show after SIGKILL:\n%s", indent(left))
	if !regexp.MustCompile(lanRules[0]).MatchString(left) {
		t.Fatalf("no rule left after SIGKILL: the test would prove nothing")
	}

	tp.startDaemon(tvOnly(readme))
	tp.waitAnswering()
	rules := tp.waitRules("stale lan rules removed, tv's in place", tvRules, anyLanRule)
	t.Logf("ip mrule show after the restart:\n%s", indent(rules))
	for _, r := range tvRules {
		if n := len(regexp.MustCompile(r).FindAllString(rules, -1)); n != 1 {
			t.Errorf("rule %s installed %d times, want once", r, n)
		}
	}
	start := time.Now()
	tv, _ := tp.instanceStreams()
	tp.ownStreamOnly(tv, tvSource, lanSource, start, "tv1 after the restart")

	tp.must(tp.daemon.Signal(syscall.SIGTERM))
	if code, ok := tp.daemon.Wait(5 * time.Second); !ok || code != 0 {
		t.Fatalf("daemon after SIGTERM: exited %v, code %d; want exit 0", ok, code)
	}
	if rules := tp.ipOut("router", "mrule", "show"); regexp.MustCompile(anyRule[0]).MatchString(rules) {
		t.Errorf("rules left after exit:\n%s", indent(rules))
	}
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }
