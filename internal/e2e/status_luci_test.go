//go:build linux

package e2e

import (
	"encoding/json"
	"flag"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/control"
	"github.com/mcast-proxy/mcast-proxy/internal/netlab"
)

var statusOut = flag.String("e2e.status-out", "", "also print the status of TestStatusFilledForLuCI as JSON to this file (- for stdout)")

// TestStatusFilledForLuCI: with streams flowing to several groups, sources
// and LANs, "status -j" has everything the LuCI status page shows: groups per
// downstream with their hosts and timers, the upstream subscription,
// forwarding entries with a measured rate, and drop counters by reason. Its
// output is what the LuCI app's browser test and the screenshot in docs/ use
// (-e2e.status-out).
func TestStatusFilledForLuCI(t *testing.T) {
	t.Parallel()
	ssm := netip.MustParseAddrPort("232.1.1.1:5001")
	ssdp := netip.MustParseAddrPort("239.255.255.250:1900")
	// A backup upstream and a downstream that do not exist (yet) show
	// as waiting.
	cfg := "ipv4 yes\n" +
		"interface up0 { upstream; source 10.0.0.0/24 }\n" +
		"interface wwan0 { upstream; priority 10 }\n" +
		"interface br-lan { downstream; deny group 239.255.255.250; " + downstreamTimers + " }\n" +
		"interface down2 { downstream; " + downstreamTimers + " }\n" +
		"interface wlan1 { downstream; " + downstreamTimers + " }\n"
	tp := newTopo(t, topoOptions{config: cfg})
	// rcv3 speaks IGMPv2: its group on down2 runs in v2 compatibility.
	tp.must(tp.lab.Sysctl("rcv3", "net/ipv4/conf/eth0/force_igmp_version", "2"))

	r1 := tp.receiver("rcv1", g1, netlab.AnySource)
	r2 := tp.receiver("rcv2", g1, netlab.AnySource)
	rs := tp.receiver("rcv2", ssm, netlab.Include, s2)
	r3 := tp.receiver("rcv3", g3, netlab.AnySource)
	tp.receiver("rcv1", ssdp, netlab.AnySource) // denied on br-lan: a policy drop

	start := time.Now()
	tp.sender(s1, g1)
	tp.sender(s2, ssm)
	tp.sender(s1, g3)
	tp.waitFlowing(r1, s1, start, 20, 5*time.Second)
	tp.waitFlowing(r2, s1, start, 20, 5*time.Second)
	tp.waitFlowing(rs, s2, start, 20, 5*time.Second)
	tp.waitFlowing(r3, s1, start, 20, 5*time.Second)

	// Rates are measured between two status requests.
	tp.waitAnswering()
	time.Sleep(time.Second)
	st, ok := tp.queryStatus()
	if !ok {
		t.Fatal("status failed")
	}

	groups := map[string]map[string]control.Group{}
	for _, ifc := range st.Interfaces {
		switch ifc.Name {
		case "wwan0", "wlan1":
			if ifc.State != control.StateWaiting {
				t.Errorf("%s: state %q, want %q (it does not exist)", ifc.Name, ifc.State, control.StateWaiting)
			}
			continue
		}
		if ifc.Role != control.RoleDownstream {
			continue
		}
		if ifc.Querier == nil || !ifc.Querier.Self {
			t.Errorf("%s: querier %+v, want this router", ifc.Name, ifc.Querier)
		}
		groups[ifc.Name] = map[string]control.Group{}
		for _, g := range ifc.Groups {
			groups[ifc.Name][g.Group.String()] = g
		}
	}
	for _, want := range []struct {
		ifname, group string
		hosts, compat int
	}{
		{"br-lan", g1.Addr().String(), 2, 3},
		{"br-lan", ssm.Addr().String(), 1, 3},
		{"down2", g3.Addr().String(), 1, 2},
	} {
		g, ok := groups[want.ifname][want.group]
		if !ok {
			t.Errorf("status: %s not listed on %s", want.group, want.ifname)
			continue
		}
		if g.Compat != want.compat {
			t.Errorf("status: %s on %s in IGMPv%d compatibility, want v%d", want.group, want.ifname, g.Compat, want.compat)
		}
		if len(g.Hosts) != want.hosts {
			t.Errorf("status: %s on %s has hosts %+v, want %d", want.group, want.ifname, g.Hosts, want.hosts)
		}
		for _, h := range g.Hosts {
			if h.ExpiresIn <= 0 {
				t.Errorf("status: host %s of %s has no timer", h.Address, want.group)
			}
		}
	}
	if _, ok := groups["br-lan"][ssdp.Addr().String()]; ok {
		t.Errorf("status: denied group %s listed on br-lan", ssdp.Addr())
	}
	if len(st.Upstream) != 3 {
		t.Errorf("status: upstream subscriptions %+v, want %s, %s and %s", st.Upstream, g1.Addr(), ssm.Addr(), g3.Addr())
	}
	rated := 0
	for _, r := range st.Routes {
		if r.PacketsPerSecond > 0 && r.BitsPerSecond > 0 && r.Packets > 0 {
			rated++
		}
	}
	if rated < 3 {
		t.Errorf("status: %d forwarding entries with a rate, want 3: %+v", rated, st.Routes)
	}
	var policy uint64
	for _, c := range st.Counters {
		policy += c.Dropped["policy"]
	}
	if policy == 0 {
		t.Errorf("status: no policy drop counted for the denied %s", ssdp.Addr())
	}

	if *statusOut != "" {
		// The status checked above, as "status -j" prints it.
		out, err := json.MarshalIndent(st, "", "  ")
		tp.must(err)
		if *statusOut == "-" {
			t.Logf("status -j:\n%s", out)
		} else if err := os.WriteFile(*statusOut, append(out, '\n'), 0o644); err != nil {
			t.Error(err)
		}
	}
}
