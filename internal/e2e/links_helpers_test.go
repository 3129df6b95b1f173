//go:build linux

package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/control"
	"github.com/mcast-proxy/mcast-proxy/internal/netlab"
)

// Helpers for the tests of links that come and go, failover and reloads.

// cli runs the mcast-proxy client (status, reload) against the test's
// daemon. The control socket is a path in the shared filesystem, so the
// client may run outside the router's namespace.
func (tp *topo) runCLI(args ...string) (code int, stdout, stderr string) {
	tp.t.Helper()
	cmd := exec.Command(daemonBin, append(args, "-s", tp.sock)...)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		tp.t.Fatalf("mcast-proxy %s: %v", strings.Join(args, " "), err)
	}
	return code, so.String(), se.String()
}

// status asks the daemon for its status (mcast-proxy status -j). ok is
// false while the control socket does not answer yet.
func (tp *topo) queryStatus() (st control.Status, ok bool) {
	tp.t.Helper()
	code, out, errOut := tp.runCLI("status", "-j")
	if code != 0 {
		return st, false
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		tp.t.Fatalf("mcast-proxy status -j: %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
	return st, true
}

// waitAnswering waits until the daemon answers on its control socket.
func (tp *topo) waitAnswering() control.Status {
	tp.t.Helper()
	var st control.Status
	tp.waitFor(10*time.Second, "the daemon to answer 'status'", func() bool {
		var ok bool
		st, ok = tp.queryStatus()
		return ok
	})
	return st
}

// ifState finds an interface of the given family in a status.
func ifState(st control.Status, name, family string) (control.Interface, bool) {
	for _, i := range st.Interfaces {
		if i.Name == name && i.Family == family {
			return i, true
		}
	}
	return control.Interface{}, false
}

// logMatches counts the daemon's log lines matching re.
func (tp *topo) logMatches(re *regexp.Regexp) int {
	n := 0
	for _, line := range strings.Split(tp.daemon.Stderr(), "\n") {
		if re.MatchString(line) {
			n++
		}
	}
	return n
}

// waitLog waits until at least n log lines of the daemon match re.
func (tp *topo) waitLog(re *regexp.Regexp, n int, timeout time.Duration) {
	tp.t.Helper()
	tp.waitFor(timeout, fmt.Sprintf("%d daemon log line(s) matching %q", n, re), func() bool {
		return tp.logMatches(re) >= n
	})
}

// writeConfig replaces the daemon's configuration file (not yet reloaded).
// The file is replaced by a rename so that a reload never reads it half
// written.
func (tp *topo) writeConfig(cfg string) {
	tp.t.Helper()
	tmp := tp.conf + ".new"
	tp.must(os.WriteFile(tmp, []byte(cfg), 0o644))
	tp.must(os.Rename(tmp, tp.conf))
}

// ifindex is the index of ifname in namespace ns.
func (tp *topo) indexOf(ns, ifname string) int {
	tp.t.Helper()
	idx := 0
	tp.must(tp.lab.Do(ns, func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		idx = ifi.Index
		return nil
	}))
	return idx
}

// ipOut runs "ip -n NS args..." and fails the test on error.
func (tp *topo) ipOut(ns string, args ...string) string {
	tp.t.Helper()
	out, err := tp.lab.IPOutput(ns, args...)
	tp.must(err)
	return out
}

// vifLines are the raw lines of the router's /proc/net/ip_mr_vif naming
// ifname: more than one would be a stale slot.
func (tp *topo) vifLines(ifname string) []string {
	tp.t.Helper()
	s, err := tp.lab.ReadProc("router", "net/ip_mr_vif")
	tp.must(err)
	var out []string
	for _, line := range strings.Split(s, "\n")[1:] {
		if f := strings.Fields(line); len(f) >= 2 && f[1] == ifname {
			out = append(out, line)
		}
	}
	return out
}

// vifPktsOut is the PktsOut counter of ifname's VIF in the router's
// /proc/net/ip_mr_vif, 0 if it has none.
func (tp *topo) vifPktsOut(ifname string) uint64 {
	tp.t.Helper()
	for _, line := range tp.vifLines(ifname) {
		// Interface BytesIn PktsIn BytesOut PktsOut Flags Local Remote
		if f := strings.Fields(line); len(f) >= 6 {
			n, err := strconv.ParseUint(f[5], 10, 64)
			tp.must(err)
			return n
		}
	}
	return 0
}

// joinedOn returns the groups the router's host stack has joined on ifname
// according to /proc/net/igmp.
func (tp *topo) joinedOn(ifname string) map[netip.Addr]bool {
	tp.t.Helper()
	s, err := tp.lab.ReadProc("router", "net/igmp")
	tp.must(err)
	return parseIGMPGroups(s)[ifname]
}

// mfcFor returns the router's forwarding entries for (src, group).
func (tp *topo) mfcFor(src, group netip.Addr) []mfcEntry {
	tp.t.Helper()
	var out []mfcEntry
	for _, e := range tp.mfc(fam4) {
		if e.Origin == src && e.Group == group {
			out = append(out, e)
		}
	}
	return out
}

// linkUp0 (re)creates the upstream veth between src's eth0 and the router's
// up0 with the given addresses, and returns when the router's side is up
// and addressed, that is usable.
func (tp *topo) linkUp0(srcCIDRs []string, routerCIDR string) time.Time {
	tp.t.Helper()
	l := tp.lab
	tp.must(l.Link("src", "eth0", "router", "up0"))
	for _, c := range srcCIDRs {
		tp.must(l.Addr("src", "eth0", c))
	}
	tp.must(l.Addr("router", "up0", routerCIDR))
	return time.Now()
}

// noGaps fails the test if r lost datagrams of src in [from, to].
func (tp *topo) noGaps(r *netlab.Receiver, src netip.Addr, from, to time.Time, what string) {
	tp.t.Helper()
	gaps := r.GapsBetween(src, from, to)
	for _, g := range gaps {
		tp.t.Errorf("%s: %s", what, g)
	}
	n := 0
	for _, a := range r.Arrivals(src) {
		if !a.At.Before(from) && (to.IsZero() || !a.At.After(to)) {
			n++
		}
	}
	tp.t.Logf("%s: %d datagrams of %s from %s over %v, %d gaps", what, n, r.Group().Addr(), src,
		to.Sub(from).Round(time.Millisecond), len(gaps))
}
