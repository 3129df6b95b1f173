//go:build linux

package e2e

// Helpers for the operator's view: the status and reload client, lookups in
// the decoded status, the daemon's memory use and a flood of joins.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/control"
)

// clientResult is what one run of the mcast-proxy client printed.
type clientResult struct {
	code           int
	stdout, stderr string
}

// runClientCmd runs "mcast-proxy args..." in the test's own namespace: the
// control socket is a path in the file system, reachable from any network
// namespace.
func runClientCmd(t *testing.T, args ...string) clientResult {
	t.Helper()
	cmd := exec.Command(daemonBin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := clientResult{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run mcast-proxy %s: %v", strings.Join(args, " "), err)
	}
	return res
}

// status runs "mcast-proxy status -j -s SOCK" and decodes its output.
func (tp *topo) status() control.Status {
	tp.t.Helper()
	res := runClientCmd(tp.t, "status", "-j", "-s", tp.sock)
	if res.code != 0 {
		tp.t.Fatalf("mcast-proxy status -j: exit %d, stderr:\n%s", res.code, indent(res.stderr))
	}
	var st control.Status
	if err := json.Unmarshal([]byte(res.stdout), &st); err != nil {
		tp.t.Fatalf("decode mcast-proxy status -j: %v\n%s", err, indent(res.stdout))
	}
	return st
}

// logStatus logs the text form of the status, for the test's record.
func (tp *topo) logStatus() {
	tp.t.Helper()
	res := runClientCmd(tp.t, "status", "-s", tp.sock)
	tp.t.Logf("mcast-proxy status (exit %d):\n%s%s", res.code, indent(res.stdout), indent(res.stderr))
}

// iface returns the status entry of a configured interface in a family.
func iface(st control.Status, name, family string) (control.Interface, bool) {
	for _, i := range st.Interfaces {
		if i.Name == name && i.Family == family {
			return i, true
		}
	}
	return control.Interface{}, false
}

// groupOn returns the state of group on the downstream ifname, in the
// family of group.
func groupOn(st control.Status, ifname string, group netip.Addr) (control.Group, bool) {
	family := control.FamilyIPv6
	if group.Is4() {
		family = control.FamilyIPv4
	}
	i, _ := iface(st, ifname, family)
	for _, g := range i.Groups {
		if g.Group == group {
			return g, true
		}
	}
	return control.Group{}, false
}

// querierOn is the querier of the downstream ifname in a family.
func querierOn(st control.Status, ifname, family string) *control.Querier {
	i, _ := iface(st, ifname, family)
	return i.Querier
}

// subscription returns the upstream subscription of group, if any.
func subscription(st control.Status, group netip.Addr) (control.Subscription, bool) {
	for _, s := range st.Upstream {
		if s.Family == control.FamilyIPv4 && s.Group == group {
			return s, true
		}
	}
	return control.Subscription{}, false
}

// route returns the IPv4 forwarding entry (src, group), if installed.
func route(st control.Status, src, group netip.Addr) (control.Route, bool) {
	for _, r := range st.Routes {
		if r.Family == control.FamilyIPv4 && r.Source == src && r.Group == group {
			return r, true
		}
	}
	return control.Route{}, false
}

// counters returns the daemon-wide counters of a family.
func counters(st control.Status, family string) control.FamilyCounters {
	for _, c := range st.Counters {
		if c.Family == family {
			return c
		}
	}
	return control.FamilyCounters{}
}

// waitStatus polls the status until cond holds and returns the last one.
func (tp *topo) waitStatus(timeout time.Duration, what string, cond func(control.Status) bool) control.Status {
	tp.t.Helper()
	var st control.Status
	tp.waitFor(timeout, what+" in mcast-proxy status", func() bool {
		st = tp.status()
		return cond(st)
	})
	return st
}

// ifindex returns the kernel index of an interface in the router namespace.
func (tp *topo) ifindex(name string) int {
	tp.t.Helper()
	idx := 0
	tp.must(tp.lab.Do("router", func() error {
		ifi, err := net.InterfaceByName(name)
		if err != nil {
			return err
		}
		idx = ifi.Index
		return nil
	}))
	return idx
}

// rssKiB reads VmRSS of a process from /proc/PID/status, in KiB.
func rssKiB(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) != 2 || f[1] != "kB" {
				return 0, fmt.Errorf("unexpected VmRSS line %q", line)
			}
			return strconv.ParseUint(f[0], 10, 64)
		}
	}
	return 0, errors.New("no VmRSS in /proc/PID/status")
}

// floodGroups returns n distinct groups in 239.100.0.0/16 and up.
func floodGroups(n int) []netip.Addr {
	out := make([]netip.Addr, n)
	for i := range out {
		out[i] = netip.AddrFrom4([4]byte{239, byte(100 + i/65536), byte(i / 256 % 256), byte(i % 256)})
	}
	return out
}

// joinFlood sends IGMPv3 reports from src out of ifname in ns, each with up
// to perReport MODE_IS_EXCLUDE{} records, joining every group: a host (or a
// program on it) asking for thousands of groups at once. It returns the number
// of packets sent.
func (tp *topo) joinFlood(ns, ifname string, src netip.Addr, groups []netip.Addr, perReport int) int {
	tp.t.Helper()
	rs := newRawSender(tp.t, tp.lab, ns, ifname)
	sent := 0
	for len(groups) > 0 {
		n := min(perReport, len(groups))
		recs := make([]v3Record, n)
		for i, g := range groups[:n] {
			recs[i] = v3Record{Type: modeIsExclude, Group: g}
		}
		groups = groups[n:]
		// TTL 1 and Router Alert, as RFC 3376 §4 requires of reports.
		rs.send(tp.t, ipv4Packet(src, allV3Rtrs, 1, true, igmpV3Report(recs...)))
		sent++
	}
	return sent
}

// groupsOnUp0 is the number of groups the router's host stack has joined on
// up0 besides all-hosts.
func (tp *topo) groupsOnUp0() (map[netip.Addr]bool, int) {
	tp.t.Helper()
	groups, _ := tp.upstreamGroups(fam4)
	n := 0
	for g := range groups {
		if g != allHosts {
			n++
		}
	}
	return groups, n
}
