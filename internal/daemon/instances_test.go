package daemon

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/mcast-proxy/mcast-proxy/internal/config"
	"github.com/mcast-proxy/mcast-proxy/internal/igmp"
	"github.com/mcast-proxy/mcast-proxy/internal/linkwatch"
	"github.com/mcast-proxy/mcast-proxy/internal/mroute"
)

// Two proxy instances in one daemon: tv (wan to lan) and net (wan2 to
// lan2), each on its own automatic table.
const (
	tvConf  = "proxy tv {\n\tinterface wan { upstream }\n\tinterface lan { downstream }\n}\n"
	netConf = "proxy net {\n\tinterface wan2 { upstream }\n\tinterface lan2 { downstream }\n}\n"
	source2 = "198.51.100.10"
)

var (
	wan2Up = link("wan2", 5, true, ltePrefix)
	lan2Up = link("lan2", 6, true, "10.0.1.1/24")
)

// rule is one of our rules, as the daemon installs it.
func rule(fam int, dir, ifname string, table uint32) mroute.Rule {
	r := mroute.Rule{Family: fam, Table: table, Priority: rulePriority, Protocol: ruleProtocol}
	if dir == "iif" {
		r.Iif = ifname
	} else {
		r.Oif = ifname
	}
	return r
}

// subscribed checks an instance's upstream subscription: the groups its
// joiner holds.
func subscribed(name string, groups ...string) func(*rig) {
	return func(r *rig) {
		r.t.Helper()
		in := r.d.instance(name)
		if in == nil || in.sub == nil {
			r.t.Fatalf("proxy %q has no upstream subscription", name)
		}
		var want []netip.Addr
		for _, g := range groups {
			want = append(want, netip.MustParseAddr(g))
		}
		if got := in.sub.Groups(); !slices.Equal(got, want) {
			r.t.Errorf("proxy %q subscribed to %v, want %v", name, got, want)
		}
	}
}

// twoInstancesStart is what starting tv and net does to the kernel.
var twoInstancesStart = []string{
	"ipv4/5000 open table 5000",
	"ipv4/5001 open table 5001",
	"rule add ipv4 iif wan lookup 5000 pref 1000 proto 77",
	"rule add ipv4 oif wan lookup 5000 pref 1000 proto 77",
	"rule add ipv4 iif lan lookup 5000 pref 1000 proto 77",
	"rule add ipv4 oif lan lookup 5000 pref 1000 proto 77",
	"rule add ipv4 iif wan2 lookup 5001 pref 1000 proto 77",
	"rule add ipv4 oif wan2 lookup 5001 pref 1000 proto 77",
	"rule add ipv4 iif lan2 lookup 5001 pref 1000 proto 77",
	"rule add ipv4 oif lan2 lookup 5001 pref 1000 proto 77",
	"upstream join on 2",
	"ipv4/5000 add-vif 2 threshold 1",
	"ipv4/5000 add-vif 3 threshold 1",
	"ipv4/5000 join-router-groups 3",
	"ipv4/5000 send 3 to 224.0.0.1",
	"upstream join on 5",
	"ipv4/5001 add-vif 5 threshold 1",
	"ipv4/5001 add-vif 6 threshold 1",
	"ipv4/5001 join-router-groups 6",
	"ipv4/5001 send 6 to 224.0.0.1",
}

// TestReconcileInstances: each instance gets its own sockets on its own
// table, its own rules and upstream subscription; the same group joined in
// both is subscribed on each instance's upstream and forwarded only to its
// own downstreams; a reload that removes, adds or changes one instance
// touches only that instance's kernel state.
func TestReconcileInstances(t *testing.T) {
	netStart := []string{
		"ipv4/5001 open table 5001",
		"rule add ipv4 iif wan2 lookup 5001 pref 1000 proto 77",
		"rule add ipv4 oif wan2 lookup 5001 pref 1000 proto 77",
		"rule add ipv4 iif lan2 lookup 5001 pref 1000 proto 77",
		"rule add ipv4 oif lan2 lookup 5001 pref 1000 proto 77",
		"upstream join on 5",
		"ipv4/5001 add-vif 5 threshold 1",
		"ipv4/5001 add-vif 6 threshold 1",
		"ipv4/5001 join-router-groups 6",
		"ipv4/5001 send 6 to 224.0.0.1",
	}
	netStop := []string{
		"upstream close 5",
		"ipv4/5001 close",
		"rule del ipv4 iif wan2 lookup 5001 pref 1000 proto 77",
		"rule del ipv4 oif wan2 lookup 5001 pref 1000 proto 77",
		"rule del ipv4 iif lan2 lookup 5001 pref 1000 proto 77",
		"rule del ipv4 oif lan2 lookup 5001 pref 1000 proto 77",
	}
	runSteps(t, tvConf+netConf, []linkwatch.Link{wanUp, lanUp, wan2Up, lan2Up}, twoInstancesStart, []step{
		{name: "the same group joined in both", do: func(r *rig) {
			report(lanIfindex, lanHost, g1)(r)
			report(6, "10.0.1.2", g1)(r)
		}, want: []string{
			"upstream set 239.1.1.1 exclude []",
			"upstream set 239.1.1.1 exclude []",
		}},
		{name: "each upstream subscribed", do: func(r *rig) {
			subscribed("tv", g1)(r)
			subscribed("net", g1)(r)
		}},
		{name: "each instance's stream goes to its own downstream", do: func(r *rig) {
			upcall(2, provider, g1)(r)
			upcall(5, source2, g1)(r)
		}, want: []string{
			"ipv4/5000 set-route 192.0.2.10,239.1.1.1 in 2 out [3]",
			"ipv4/5001 set-route 198.51.100.10,239.1.1.1 in 5 out [6]",
		}},
		{name: "removing net leaves tv untouched", do: reload(tvConf), want: netStop},
		{name: "tv still subscribed", do: subscribed("tv", g1)},
		{name: "adding net back touches only net", do: reload(tvConf + netConf), want: netStart},
		{name: "changing net touches only net", do: reload(tvConf + "proxy net {\n\tinterface wan2 { upstream }\n\tinterface lan2 { downstream; threshold 2 }\n}\n"), want: []string{
			"ipv4/5001 leave-router-groups 6",
			"ipv4/5001 del-vif 6",
			"ipv4/5001 add-vif 6 threshold 2",
			"ipv4/5001 join-router-groups 6",
			"ipv4/5001 send 6 to 224.0.0.1",
		}},
		{name: "an instance moved to another table gets new sockets, the other none", do: reload(tvConf + "proxy net {\n\ttable 42\n\tinterface wan2 { upstream }\n\tinterface lan2 { downstream }\n}\n"), want: []string{
			"ipv4/42 open table 42",
			"upstream close 5",
			"ipv4/5001 close",
			"rule del ipv4 iif wan2 lookup 5001 pref 1000 proto 77",
			"rule del ipv4 oif wan2 lookup 5001 pref 1000 proto 77",
			"rule del ipv4 iif lan2 lookup 5001 pref 1000 proto 77",
			"rule del ipv4 oif lan2 lookup 5001 pref 1000 proto 77",
			"rule add ipv4 iif wan2 lookup 42 pref 1000 proto 77",
			"rule add ipv4 oif wan2 lookup 42 pref 1000 proto 77",
			"rule add ipv4 iif lan2 lookup 42 pref 1000 proto 77",
			"rule add ipv4 oif lan2 lookup 42 pref 1000 proto 77",
			"upstream join on 5",
			"ipv4/42 add-vif 5 threshold 1",
			"ipv4/42 add-vif 6 threshold 1",
			"ipv4/42 join-router-groups 6",
			"ipv4/42 send 6 to 224.0.0.1",
		}},
		{name: "stop", do: stop, want: []string{
			"upstream close 2",
			"ipv4/5000 close",
			"rule del ipv4 iif wan lookup 5000 pref 1000 proto 77",
			"rule del ipv4 oif wan lookup 5000 pref 1000 proto 77",
			"rule del ipv4 iif lan lookup 5000 pref 1000 proto 77",
			"rule del ipv4 oif lan lookup 5000 pref 1000 proto 77",
			"upstream close 5",
			"ipv4/42 close",
			"rule del ipv4 iif wan2 lookup 42 pref 1000 proto 77",
			"rule del ipv4 oif wan2 lookup 42 pref 1000 proto 77",
			"rule del ipv4 iif lan2 lookup 42 pref 1000 proto 77",
			"rule del ipv4 oif lan2 lookup 42 pref 1000 proto 77",
		}},
	})
}

// TestInstancesBesideDefault: a file's top-level interfaces are the
// default instance on the kernel's default table, without rules, beside a
// named one; removing the named one leaves the default one alone.
func TestInstancesBesideDefault(t *testing.T) {
	runSteps(t, wanConf+netConf, []linkwatch.Link{wanUp, lanUp, wan2Up, lan2Up}, []string{
		"ipv4 open table 0",
		"ipv4/5000 open table 5000",
		"rule add ipv4 iif wan2 lookup 5000 pref 1000 proto 77",
		"rule add ipv4 oif wan2 lookup 5000 pref 1000 proto 77",
		"rule add ipv4 iif lan2 lookup 5000 pref 1000 proto 77",
		"rule add ipv4 oif lan2 lookup 5000 pref 1000 proto 77",
		"upstream join on 2",
		"ipv4 add-vif 2 threshold 1",
		"ipv4 add-vif 3 threshold 1",
		"ipv4 join-router-groups 3",
		"ipv4 send 3 to 224.0.0.1",
		"upstream join on 5",
		"ipv4/5000 add-vif 5 threshold 1",
		"ipv4/5000 add-vif 6 threshold 1",
		"ipv4/5000 join-router-groups 6",
		"ipv4/5000 send 6 to 224.0.0.1",
	}, []step{
		{name: "remove the named one", do: reload(wanConf), want: []string{
			"upstream close 5",
			"ipv4/5000 close",
			"rule del ipv4 iif wan2 lookup 5000 pref 1000 proto 77",
			"rule del ipv4 oif wan2 lookup 5000 pref 1000 proto 77",
			"rule del ipv4 iif lan2 lookup 5000 pref 1000 proto 77",
			"rule del ipv4 oif lan2 lookup 5000 pref 1000 proto 77",
		}},
	})
}

// TestStaleRulesAfterCrash: rules a killed run left behind carry our
// marker; a restart removes those nobody wants any more and keeps those
// still wanted in place (re-adding one is a no-op for the kernel), so no
// interface of ours falls back to the default table in between. Rules
// without our marker are not ours and stay.
func TestStaleRulesAfterCrash(t *testing.T) {
	foreign := mroute.Rule{Family: 4, Iif: "eth9", Table: 7, Priority: 500}
	left := []mroute.Rule{
		rule(4, "iif", "wan", 5000),  // still wanted
		rule(4, "iif", "old0", 5000), // an interface since removed from the file
		rule(6, "oif", "lan", 5003),  // a table since changed
		foreign,                      // someone else's (the sweep only lists ours)
	}
	r := newRigWithRules(t, tvConf, []linkwatch.Link{wanUp, lanUp}, left)
	got := r.k.take()
	want := []string{
		"rule del ipv4 iif old0 lookup 5000 pref 1000 proto 77",
		"rule del ipv6 oif lan lookup 5003 pref 1000 proto 77",
		"ipv4/5000 open table 5000",
		"rule add ipv4 iif wan lookup 5000 pref 1000 proto 77",
		"rule add ipv4 oif wan lookup 5000 pref 1000 proto 77",
		"rule add ipv4 iif lan lookup 5000 pref 1000 proto 77",
		"rule add ipv4 oif lan lookup 5000 pref 1000 proto 77",
		"upstream join on 2",
		"ipv4/5000 add-vif 2 threshold 1",
		"ipv4/5000 add-vif 3 threshold 1",
		"ipv4/5000 join-router-groups 3",
		"ipv4/5000 send 3 to 224.0.0.1",
	}
	if !slices.Equal(got, want) {
		t.Errorf("start after a crash:\n\t%v\nwant\n\t%v", got, want)
	}
	stop(r)
	r.k.take()
	if !slices.Equal(r.rules, []mroute.Rule{foreign}) {
		t.Errorf("after stop the kernel holds %v, want only the foreign rule", r.rules)
	}
}

// TestInstanceTables: named instances without a table get the lowest
// free one of the automatic range, keep theirs across reloads, and an
// instance added earlier in the file does not take a running one's.
func TestInstanceTables(t *testing.T) {
	parse := func(s string) *config.Config {
		t.Helper()
		return parseConf(t, s)
	}
	tables := func(cfgs []*config.Config) map[string]uint32 {
		out := map[string]uint32{}
		for _, c := range cfgs {
			out[c.Name] = c.Table
		}
		return out
	}
	running := func(cfgs []*config.Config) []*instance {
		var out []*instance
		for _, c := range cfgs {
			out = append(out, &instance{cfg: c})
		}
		return out
	}
	first, err := instanceConfigs(parse(wanConf+"proxy a { table 5000; interface x { upstream }; interface y { downstream } }\n"+netConf), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tables(first), map[string]uint32{"": 0, "a": 5000, "net": 5001}; !mapsEqual(got, want) {
		t.Fatalf("tables %v, want %v", got, want)
	}
	// tv comes first in the file now and a is gone: net keeps 5001, tv
	// takes the lowest free one.
	second, err := instanceConfigs(parse(tvConf+netConf), running(first))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tables(second), map[string]uint32{"tv": 5000, "net": 5001}; !mapsEqual(got, want) {
		t.Fatalf("after reload: tables %v, want %v", got, want)
	}
	third, err := instanceConfigs(parse("proxy z { interface z1 { upstream }; interface z2 { downstream } }\n"+netConf), running(first))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tables(third), map[string]uint32{"z": 5000, "net": 5001}; !mapsEqual(got, want) {
		t.Fatalf("new instance first: tables %v, want %v", got, want)
	}
}

func mapsEqual(a, b map[string]uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestStatusInstances: status names each entry's instance and lists the
// instances with their tables, upstreams and budgets.
func TestStatusInstances(t *testing.T) {
	r := newRig(t, "max-memory-total 8192\n"+tvConf+"proxy net {\n\tmax-memory-total 1024\n\tinterface wan2 { upstream }\n\tinterface lan2 { downstream }\n}\n",
		[]linkwatch.Link{wanUp, lanUp, wan2Up, lan2Up})
	report(6, "10.0.1.2", g1)(r)
	st := r.d.status(r.now)
	if len(st.Proxies) != 2 {
		t.Fatalf("proxies %+v, want tv and net", st.Proxies)
	}
	tv, net := st.Proxies[0], st.Proxies[1]
	if tv.Name != "tv" || tv.Table != 5000 || tv.Upstream != "wan" || tv.MemoryLimit != 8192<<10 || tv.MemoryBytes != 0 {
		t.Errorf("tv %+v", tv)
	}
	if net.Name != "net" || net.Table != 5001 || net.Upstream != "wan2" || net.MemoryLimit != 1024<<10 || net.MemoryBytes == 0 {
		t.Errorf("net %+v: want its budget charged for the group on lan2", net)
	}
	if st.Table != 0 {
		t.Errorf("top-level table %d, want 0: there is no default instance", st.Table)
	}
	for _, i := range st.Interfaces {
		if want := map[string]string{"wan": "tv", "lan": "tv", "wan2": "net", "lan2": "net"}[i.Name]; i.Proxy != want {
			t.Errorf("interface %s in proxy %q, want %q", i.Name, i.Proxy, want)
		}
	}
	if len(st.Upstream) != 1 || st.Upstream[0].Proxy != "net" || st.Upstream[0].Interface != "wan2" {
		t.Errorf("upstream subscriptions %+v, want g1 on net's wan2", st.Upstream)
	}
	if len(st.Counters) != 2 || st.Counters[0].Proxy != "tv" || st.Counters[1].Proxy != "net" {
		t.Errorf("counters %+v, want one per instance", st.Counters)
	}
	if got := r.d.summary(); got != "4 of 4 interfaces active, upstreams wan, wan2, 1 groups, 0 flows" {
		t.Errorf("summary %q", got)
	}
}

// TestInstancesIgnoreEachOthersReports: every raw socket sees every
// report; one arriving on the other instance's downstream changes nothing
// in this one and is not counted as a drop.
func TestInstancesIgnoreEachOthersReports(t *testing.T) {
	r := newRig(t, tvConf+netConf, []linkwatch.Link{wanUp, lanUp, wan2Up, lan2Up})
	r.k.take()
	tv := r.d.instance("tv").plane(ipv4)
	payload, err := (&igmp.Report{Version: 2, Group: netip.MustParseAddr(g1)}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	r.d.handle(event{plane: tv, pkt: mroute.Packet{Ifindex: 6, Src: netip.MustParseAddr("10.0.1.2"), Dst: netip.MustParseAddr(g1), TTL: 1, RouterAlert: true, Payload: payload}, at: r.now})
	if ops := r.k.take(); len(ops) != 0 {
		t.Errorf("a report from net's lan2 read on tv's socket caused %v", ops)
	}
	if n := tv.drops[dropUnknownLink]; n != 0 {
		t.Errorf("counted as %d drops", n)
	}
	r.d.handle(event{plane: tv, pkt: mroute.Packet{Ifindex: 99, Src: netip.MustParseAddr("10.0.9.2"), Dst: netip.MustParseAddr(g1), TTL: 1, RouterAlert: true, Payload: payload}, at: r.now})
	if n := tv.drops[dropUnknownLink]; n != 1 {
		t.Errorf("a report from a link of no instance: %d drops, want 1", n)
	}
}

// TestInstanceRenamedTakesItsTable: renaming an instance hands its table
// to the new name; the table has one owner, so the old instance lets go of
// it before the new one opens it, and the other instance sees nothing.
func TestInstanceRenamedTakesItsTable(t *testing.T) {
	webConf := strings.Replace(netConf, "proxy net", "proxy web", 1)
	runSteps(t, tvConf+netConf, []linkwatch.Link{wanUp, lanUp, wan2Up, lan2Up}, twoInstancesStart, []step{
		{name: "net renamed web", do: reload(tvConf + webConf), want: []string{
			"upstream close 5",
			"ipv4/5001 close",
			"rule del ipv4 iif wan2 lookup 5001 pref 1000 proto 77",
			"rule del ipv4 oif wan2 lookup 5001 pref 1000 proto 77",
			"rule del ipv4 iif lan2 lookup 5001 pref 1000 proto 77",
			"rule del ipv4 oif lan2 lookup 5001 pref 1000 proto 77",
			"ipv4/5001 open table 5001",
			"rule add ipv4 iif wan2 lookup 5001 pref 1000 proto 77",
			"rule add ipv4 oif wan2 lookup 5001 pref 1000 proto 77",
			"rule add ipv4 iif lan2 lookup 5001 pref 1000 proto 77",
			"rule add ipv4 oif lan2 lookup 5001 pref 1000 proto 77",
			"upstream join on 5",
			"ipv4/5001 add-vif 5 threshold 1",
			"ipv4/5001 add-vif 6 threshold 1",
			"ipv4/5001 join-router-groups 6",
			"ipv4/5001 send 6 to 224.0.0.1",
		}},
		{name: "web in service", do: func(r *rig) {
			if in := r.d.instance("web"); in == nil || in.cfg.Table != 5001 || r.d.instance("net") != nil || len(r.d.insts) != 2 {
				r.t.Errorf("instances after the rename: %+v", r.d.insts)
			}
		}},
	})
}
