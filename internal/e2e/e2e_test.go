//go:build linux

// Package e2e runs the real mcast-proxy binary in network namespaces built
// like an OpenWrt router and checks what real kernel hosts receive.
//
// Topology (each test builds its own, with names unique to the run):
//
//	src (10.0.0.2, 10.0.0.3) ── up0 10.0.0.1 ┐
//	                                          router ┬ br-lan 192.168.1.1 ┬ rcv1 192.168.1.11
//	                                                 │                    └ rcv2 192.168.1.12
//	                                                 └ down2 192.168.2.1 ── rcv3 192.168.2.13
//
// Variants put a snooping switch between src and up0, give the router
// 192.168.2.10 on down2 so that a rival querier can win the election, or add
// IPv6 (ipv6_helpers_test.go).
package e2e

import (
	"bufio"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/control"
	"github.com/mcast-proxy/mcast-proxy/internal/netlab"
)

// Addresses and groups of the topology.
var (
	s1 = netip.MustParseAddr("10.0.0.2")
	s2 = netip.MustParseAddr("10.0.0.3")
	g1 = netip.MustParseAddrPort("239.1.1.1:5001")
	g2 = netip.MustParseAddrPort("239.2.2.2:5001")
	g3 = netip.MustParseAddrPort("239.3.3.3:5001")
)

// Querier timers of the downstreams in the test configuration. They are short
// so that timeouts can be observed within seconds.
const (
	queryInterval    = 2 * time.Second
	queryResponse    = 1 * time.Second
	lmqInterval      = 200 * time.Millisecond
	lmqCount         = 2
	robustness       = 2
	streamInterval   = 10 * time.Millisecond
	membershipTime   = robustness*queryInterval + queryResponse // RFC 3376 §8.4
	lastMemberTime   = lmqCount * lmqInterval                   // RFC 3376 §8.8
	stopMargin       = 1500 * time.Millisecond
	joinLatencyLimit = 500 * time.Millisecond
)

const downstreamTimers = "query-interval 2s; query-response-interval 1s; last-member-query-interval 200ms; " +
	"last-member-query-count 2; robustness 2; startup-query-interval 500ms; startup-query-count 2"

// testConfig is the daemon configuration used unless a test brings its own.
const testConfig = "ipv4 yes\n" +
	"interface up0 { upstream; source 10.0.0.0/24 }\n" +
	"interface br-lan { downstream; " + downstreamTimers + " }\n" +
	"interface down2 { downstream; " + downstreamTimers + " }\n"

var (
	daemonBin string // built once by TestMain
	buildErr  error
	keepLogs  = flag.Bool("e2e.log", false, "print the daemon's stderr even when a test passes")
)

func TestMain(m *testing.M) {
	if spec := os.Getenv(pacedSenderEnv); spec != "" {
		fmt.Fprintln(os.Stderr, "paced sender:", runPacedSender(spec))
		os.Exit(1)
	}
	if spec := os.Getenv(wakeReaderEnv); spec != "" {
		if err := runWakeReader(spec); err != nil {
			fmt.Fprintln(os.Stderr, "wake reader:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	flag.Parse()
	code := func() int {
		if os.Geteuid() != 0 && os.Getenv("CI") != "true" {
			return m.Run() // every test skips
		}
		// The Makefile builds the daemon once and names it here; in the
		// test VM there is no time to compile it again.
		if bin := os.Getenv("MCAST_PROXY_BIN"); bin != "" {
			daemonBin = bin
			_, buildErr = os.Stat(bin)
			return m.Run()
		}
		dir, err := os.MkdirTemp("", "mcast-proxy-e2e-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		daemonBin = filepath.Join(dir, "mcast-proxy")
		buildErr = build(daemonBin)
		return m.Run()
	}()
	os.Exit(code)
}

// build compiles the daemon the way the Makefile does.
func build(out string) error {
	root, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, "./cmd/mcast-proxy")
	cmd.Dir = filepath.Dir(strings.TrimSpace(string(root)))
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/mcast-proxy: %w\n%s", err, b)
	}
	return nil
}

// needRoot skips the test outside CI when not root; in CI it fails instead.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("end-to-end tests need root (network namespaces, multicast routing); CI must run them as root")
		}
		t.Skip("needs root: run 'sudo make test'")
	}
	if buildErr != nil {
		t.Fatalf("cannot build the daemon: %v", buildErr)
	}
}

// topoOptions vary the standard topology.
type topoOptions struct {
	// config replaces testConfig.
	config string
	// upstreamQuerier puts a snooping, querying Linux bridge (namespace sw)
	// between src and the router: a real upstream querier whose snooping
	// table forgets the router's port unless the router keeps answering.
	upstreamQuerier bool
	// down2Querier gives the router 192.168.2.10 on down2, so that a rival
	// querier at 192.168.2.2 (played by the test) has the lower address.
	down2Querier bool
	// noDaemon builds the network only.
	noDaemon bool
	// ipv6 builds the dual-stack variant (see ipv6_helpers_test.go) and
	// makes ipv6Config the default configuration.
	ipv6 bool
	// down2LinkLocal replaces the router's generated link-local address on
	// down2 (with ipv6), for the MLD querier election.
	down2LinkLocal string
}

// topo is one test's network and daemon.
type topo struct {
	t      *testing.T
	lab    *netlab.Lab
	daemon *netlab.Proc
	conf   string // path of the daemon's configuration file
	sock   string // path of the daemon's control socket
}

// newTopo builds the network, starts the daemon and waits until it has set up
// its VIFs, or with ipv6 its MIFs (and VIFs when the configuration proxies
// IPv4 too). Everything is removed when the test ends.
func newTopo(t *testing.T, o topoOptions) *topo {
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
	tp.build(o)
	if o.noDaemon {
		return tp
	}
	cfg := o.config
	switch {
	case cfg != "":
	case o.ipv6:
		cfg = ipv6Config
	default:
		cfg = testConfig
	}
	tp.startDaemon(cfg)
	if o.ipv6 {
		tp.waitVIFs(fam6, "up0", "br-lan", "down2")
		if !strings.Contains(cfg, "ipv4 yes") {
			return tp
		}
	}
	tp.waitVIFs(fam4, "up0", "br-lan", "down2")
	return tp
}

func (tp *topo) must(err error) {
	tp.t.Helper()
	if err != nil {
		tp.t.Fatal(err)
	}
}

func (tp *topo) build(o topoOptions) {
	l := tp.lab
	hosts := []string{"src", "router", "rcv1", "rcv2", "rcv3"}
	tp.must(l.AddNS(hosts...))
	if o.ipv6 {
		// Before any link exists, so that every interface inherits it.
		tp.must(l.DisableDAD(hosts...))
	}

	// Upstream: sources directly on up0's link, or behind a querying switch.
	if o.upstreamQuerier {
		tp.must(l.AddNS("sw"))
		tp.must(l.Link("sw", "p-router", "router", "up0"))
		tp.must(l.Link("sw", "p-src", "src", "eth0"))
		// Timers in centiseconds: query every 1 s, forget a port after
		// 2.5 s without a report.
		tp.must(l.Bridge("sw", "br0", []string{"p-router", "p-src"},
			"mcast_snooping", "1", "mcast_querier", "1", "mcast_igmp_version", "3",
			"mcast_query_interval", "100", "mcast_query_response_interval", "50",
			"mcast_startup_query_interval", "100", "mcast_membership_interval", "250"))
	} else {
		tp.must(l.Link("src", "eth0", "router", "up0"))
	}
	// br-lan with rcv1 and rcv2; snooping off as in OpenWrt's default.
	tp.must(l.Link("router", "lan1", "rcv1", "eth0"))
	tp.must(l.Link("router", "lan2", "rcv2", "eth0"))
	tp.must(l.Bridge("router", "br-lan", []string{"lan1", "lan2"}, "mcast_snooping", "0"))
	// down2 with rcv3.
	tp.must(l.Link("router", "down2", "rcv3", "eth0"))
	if o.down2LinkLocal != "" {
		tp.must(l.SetLinkLocal("router", "down2", o.down2LinkLocal))
	}

	routerDown2 := "192.168.2.1/24"
	if o.down2Querier {
		routerDown2 = "192.168.2.10/24"
	}
	for _, a := range []struct{ ns, ifname, v4, v6 string }{
		{"src", "eth0", "10.0.0.2/24", "2001:db8:1::2/64"},
		{"src", "eth0", "10.0.0.3/24", "2001:db8:1::3/64"},
		{"router", "up0", "10.0.0.1/24", "2001:db8:1::1/64"},
		{"router", "br-lan", "192.168.1.1/24", "2001:db8:2::1/64"},
		{"rcv1", "eth0", "192.168.1.11/24", "2001:db8:2::11/64"},
		{"rcv2", "eth0", "192.168.1.12/24", "2001:db8:2::12/64"},
		{"router", "down2", routerDown2, "2001:db8:3::1/64"},
		{"rcv3", "eth0", "192.168.2.13/24", "2001:db8:3::13/64"},
	} {
		tp.must(l.Addr(a.ns, a.ifname, a.v4))
		if o.ipv6 {
			tp.must(l.AddrNoDAD(a.ns, a.ifname, a.v6))
		}
	}

	// Strict reverse-path filtering would drop forwarded multicast in
	// some setups; the effective value is the maximum of "all" and the
	// interface's own.
	for _, ns := range hosts {
		for _, key := range []string{"all", "default"} {
			tp.must(l.Sysctl(ns, "net/ipv4/conf/"+key+"/rp_filter", "0"))
		}
	}
	for _, ifname := range []string{"up0", "br-lan", "down2"} {
		tp.must(l.Sysctl("router", "net/ipv4/conf/"+ifname+"/rp_filter", "0"))
	}
	if !o.ipv6 {
		return
	}
	// MLD is sent from link-local addresses (RFC 3810 §5.1.14, §5.2.13):
	// wait until every stack that speaks it has one.
	for _, w := range []struct{ ns, ifname string }{
		{"router", "up0"}, {"router", "br-lan"}, {"router", "down2"},
		{"src", "eth0"}, {"rcv1", "eth0"}, {"rcv2", "eth0"}, {"rcv3", "eth0"},
	} {
		_, err := l.WaitLinkLocal(w.ns, w.ifname, 10*time.Second)
		tp.must(err)
	}
}

func (tp *topo) startDaemon(cfg string) {
	t := tp.t
	dir := t.TempDir()
	tp.conf = filepath.Join(dir, "mcast-proxy.conf")
	tp.sock = filepath.Join(dir, "mcast-proxy.sock")
	tp.must(os.WriteFile(tp.conf, []byte(cfg), 0o644))
	p, err := tp.lab.Start("router", daemonBin, "-d", "-v", "-f", tp.conf, "-s", tp.sock)
	tp.must(err)
	tp.watchDaemon(p, "daemon")
}

// watchDaemon makes p the daemon under test. When the test ends p is
// killed, and its stderr logged (as what) if the test failed. The kill
// comes before the test's directories are removed (cleanups run last
// first, and the directories were made before): the daemon writes its
// state snapshot beside its socket on every change, and a write during
// the removal leaves the directory not empty, which fails the test.
func (tp *topo) watchDaemon(p *netlab.Proc, what string) {
	t := tp.t
	tp.daemon = p
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() || *keepLogs {
			t.Logf("%s stderr (exit code %d):\n%s", what, p.ExitCode(), indent(p.Stderr()))
		}
	})
}

func indent(s string) string {
	if s == "" {
		return "\t(empty)"
	}
	return "\t" + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n\t")
}

// waitFor polls cond every 20 ms until it holds or timeout passes, then
// fails the test with what it was waiting for.
func (tp *topo) waitFor(timeout time.Duration, what string, cond func() bool) {
	tp.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if tp.daemon != nil && tp.daemon.Exited() {
			tp.t.Fatalf("daemon exited with code %d while waiting for %s", tp.daemon.ExitCode(), what)
		}
		if time.Now().After(deadline) {
			tp.t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// family is what the helpers need to know of one address family: where the
// kernel shows its multicast routing and memberships, and how it prints
// addresses there.
type family struct {
	name        string // control.FamilyIPv4 or control.FamilyIPv6
	slot        string // "VIF" or "MIF"
	vifProc     string // the router's interface slots
	mfcProc     string // its forwarding entries
	mfcAddr     func(string) (netip.Addr, bool)
	groupsProc  string // the host stack's memberships
	parseGroups func(string) map[string]map[netip.Addr]bool
	filterProc  string // the host stack's source filters
	filterAddr  func(string) (netip.Addr, bool)
	newSniffer  func(l *netlab.Lab, ns, ifname string) (*netlab.Sniffer, error)
}

var (
	fam4 = &family{
		name: control.FamilyIPv4, slot: "VIF",
		vifProc: "net/ip_mr_vif", mfcProc: "net/ip_mr_cache", mfcAddr: procAddr,
		groupsProc: "net/igmp", parseGroups: parseIGMPGroups,
		filterProc: "net/mcfilter", filterAddr: hostOrderAddr,
		newSniffer: (*netlab.Lab).NewSniffer,
	}
	fam6 = &family{
		name: control.FamilyIPv6, slot: "MIF",
		vifProc: "net/ip6_mr_vif", mfcProc: "net/ip6_mr_cache", mfcAddr: parseAddr,
		groupsProc: "net/igmp6", parseGroups: parseIGMP6,
		filterProc: "net/mcfilter6", filterAddr: parseProc6Addr,
		newSniffer: (*netlab.Lab).NewSniffer6,
	}
)

// parseAddr is netip.ParseAddr with the result shape of the /proc decoders.
func parseAddr(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	return a, err == nil
}

// waitVIFs waits until the router's table of f's multicast interfaces
// (/proc/net/ip_mr_vif, ip6_mr_vif) lists the interfaces.
func (tp *topo) waitVIFs(f *family, names ...string) {
	tp.t.Helper()
	tp.waitFor(10*time.Second, fmt.Sprintf("%ss for %v in the router's /proc/%s", f.slot, names, f.vifProc), func() bool {
		slots := tp.vifs(f)
		for _, n := range names {
			if _, ok := slots[n]; !ok {
				return false
			}
		}
		return true
	})
}

// vifs maps interface names in the router's table of f's multicast
// interfaces to their slot numbers; ip6_mr_vif's first two columns are laid
// out as ip_mr_vif's.
func (tp *topo) vifs(f *family) map[string]int {
	tp.t.Helper()
	s, err := tp.lab.ReadProc("router", f.vifProc)
	tp.must(err)
	return parseVIFs(s)
}

// mfc returns the router's forwarding entries of f (/proc/net/ip_mr_cache,
// ip6_mr_cache).
func (tp *topo) mfc(f *family) []mfcEntry {
	tp.t.Helper()
	s, err := tp.lab.ReadProc("router", f.mfcProc)
	tp.must(err)
	return parseMFC(s, f.mfcAddr)
}

// receiver joins group on the host's LAN interface.
func (tp *topo) receiver(ns string, group netip.AddrPort, mode netlab.FilterMode, sources ...netip.Addr) *netlab.Receiver {
	tp.t.Helper()
	r, err := tp.lab.NewReceiver(ns, "eth0", group, mode, sources...)
	tp.must(err)
	return r
}

// sender starts a stream from src to group.
func (tp *topo) sender(src netip.Addr, group netip.AddrPort) *netlab.Sender {
	tp.t.Helper()
	s, err := tp.lab.NewSender("src", "eth0", src, group, streamInterval)
	tp.must(err)
	return s
}

// sniffer records the packets of f arriving on a receiver host's LAN
// interface.
func (tp *topo) sniffer(f *family, ns string) *netlab.Sniffer {
	tp.t.Helper()
	s, err := f.newSniffer(tp.lab, ns, "eth0")
	tp.must(err)
	return s
}

// waitFlowing waits until r has received n datagrams from src since t0 and
// returns when the first of them arrived.
//
// A stream usually starts with a gap: the kernel holds only the first few
// datagrams of an unresolved flow while the daemon adds its route, and drops
// the rest. So waitFlowing also waits, for up to settleLimit more, until the
// last gap since t0 lies settle behind it. The tests then look for gaps in a
// window that starts a little before their own event (up to 200 ms, for
// arrivals recorded late), and the start of the stream must not fall into
// it. A stream that does not settle is left for those checks to report.
func (tp *topo) waitFlowing(r *netlab.Receiver, src netip.Addr, t0 time.Time, n int, timeout time.Duration) time.Time {
	tp.t.Helper()
	tp.waitFor(timeout, fmt.Sprintf("%d datagrams of %s from %s", n, r.Group(), src), func() bool {
		return r.CountSince(src, t0) >= n
	})
	const settle, settleLimit = 300 * time.Millisecond, time.Second
	for deadline := time.Now().Add(settleLimit); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var last time.Time
		for _, g := range r.GapsBetween(src, t0, time.Time{}) {
			if g.At.After(last) {
				last = g.At
			}
		}
		if time.Since(last) >= settle {
			break
		}
	}
	at, _ := r.FirstSince(src, t0)
	return at
}

// stillFlowing fails the test unless datagrams from src keep arriving at r:
// ten new ones within three seconds from now (the stream sends one every
// 10 ms). It looks forward rather than back over the last moment, because on
// a slow or emulated machine the receiver may record arrivals late. Call it
// before checking for gaps, so that a stream that stopped and resumed while
// it waited still shows its gap.
func (tp *topo) stillFlowing(r *netlab.Receiver, src netip.Addr, what string) {
	tp.t.Helper()
	from := time.Now()
	deadline := from.Add(3 * time.Second)
	for r.CountSince(src, from) < 10 {
		if time.Now().After(deadline) {
			tp.t.Errorf("%s: %d datagrams from %s in the 3s after %s", what, r.CountSince(src, from), src, from.Format("15:04:05.000"))
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitStopped waits until no datagram matching m has arrived on the wire for
// quiet, or fails after timeout. It returns the arrival of the last one.
func (tp *topo) waitStopped(sn *netlab.Sniffer, m func(netlab.Packet) bool, quiet, timeout time.Duration, what string) time.Time {
	tp.t.Helper()
	start := time.Now()
	tp.waitFor(timeout, what+" to stop", func() bool {
		last, ok := sn.Last(m)
		if !ok {
			last = start
		}
		return time.Since(last) >= quiet
	})
	last, _ := sn.Last(m)
	return last
}

// upstreamGroups returns the groups of f the router's host stack has joined
// on up0 (/proc/net/igmp, igmp6) and the source filters there
// (/proc/net/mcfilter, mcfilter6).
func (tp *topo) upstreamGroups(f *family) (map[netip.Addr]bool, []mcfilterEntry) {
	tp.t.Helper()
	groups, err := tp.lab.ReadProc("router", f.groupsProc)
	tp.must(err)
	mcf, err := tp.lab.ReadProc("router", f.filterProc)
	tp.must(err)
	var filters []mcfilterEntry
	for _, e := range parseMcfilter(mcf, f.filterAddr) {
		if e.Dev == "up0" {
			filters = append(filters, e)
		}
	}
	return f.parseGroups(groups)["up0"], filters
}

// logProc logs a proc file of the router namespace, for the test's record.
func (tp *topo) logProc(name string) {
	tp.t.Helper()
	s, err := tp.lab.ReadProc("router", name)
	tp.must(err)
	var b strings.Builder
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		b.WriteString("\n\t" + sc.Text())
	}
	tp.t.Logf("router /proc/%s:%s", name, b.String())
}
