package mroute

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/netns"
)

func TestRules(t *testing.T) {
	netns.RequireRoot(t)
	ns := newNode(t)
	ns.IP(t, "link", "add", "ra", "type", "veth", "peer", "name", "rb")
	rules := []Rule{
		{Family: 4, Iif: "ra", Table: 10, Priority: 100},
		{Family: 4, Oif: "ra", Table: 10, Priority: 100},
		{Family: 6, Iif: "ra", Table: 10, Priority: 100},
		{Family: 6, Oif: "rb", Table: 1000, Priority: 200},
		// A name that does not exist yet: the rule waits for it (PPPoE).
		{Family: 4, Iif: "pppoe-wan", Table: 300, Priority: 101},
		// Marked, as the daemon marks its rules to find them after a crash.
		{Family: 4, Iif: "rb", Table: 5000, Priority: 1000, Protocol: 77},
		{Family: 6, Oif: "rb", Table: 5001, Priority: 1000, Protocol: 77},
	}
	show := func() (string, string) {
		return ns.IP(t, "mrule", "show"), ns.IP(t, "-6", "mrule", "show")
	}
	before4, before6 := show()
	for _, r := range rules {
		for i := range 2 {
			var err error
			ns.Do(t, func() { err = AddRule(r) })
			if err != nil {
				t.Fatalf("AddRule(%s) #%d: %v", r, i+1, err)
			}
		}
	}
	for fam, want := range map[int][]Rule{4: {rules[5]}, 6: {rules[6]}} {
		var got []Rule
		var err error
		ns.Do(t, func() { got, err = Rules(fam, 77) })
		if err != nil || len(got) != 1 || got[0] != want[0] {
			t.Errorf("Rules(%d, 77) = %+v, %v; want %+v", fam, got, err, want)
		}
	}
	var all []Rule
	var err error
	ns.Do(t, func() { all, err = Rules(4, 0) })
	if err != nil || len(all) < 4 {
		t.Errorf("Rules(4, 0) = %+v, %v; want our four IPv4 rules and the kernel's", all, err)
	}
	v4, v6 := show()
	t.Logf("ip mrule show:\n%s\nip -6 mrule show:\n%s", v4, v6)
	for _, want := range []string{
		"100:\tfrom all iif ra lookup 10\n",
		"100:\tfrom all oif ra lookup 10\n",
		"101:\tfrom all iif pppoe-wan [detached] lookup 300\n",
	} {
		if strings.Count(v4, want) != 1 {
			t.Errorf("ip mrule show lacks %q once", want)
		}
	}
	for _, want := range []string{
		"100:\tfrom all iif ra lookup 10\n",
		"200:\tfrom all oif rb lookup 1000\n",
	} {
		if strings.Count(v6, want) != 1 {
			t.Errorf("ip -6 mrule show lacks %q once", want)
		}
	}
	for _, r := range rules {
		for i := range 2 {
			var err error
			ns.Do(t, func() { err = DelRule(r) })
			if err != nil {
				t.Fatalf("DelRule(%s) #%d: %v", r, i+1, err)
			}
		}
	}
	if v4, v6 := show(); v4 != before4 || v6 != before6 {
		t.Errorf("after DelRule:\n%s%s\nwant as before:\n%s%s", v4, v6, before4, before6)
	}

	for _, r := range []Rule{
		{Family: 5, Iif: "ra", Table: 10},
		{Family: 4, Iif: "ra"},
		{Family: 4, Iif: "a-name-longer-than-ifnamsiz", Table: 10},
	} {
		var err error
		ns.Do(t, func() { err = AddRule(r) })
		if err == nil || !strings.HasPrefix(err.Error(), "mroute: rule ") {
			t.Errorf("AddRule(%+v) = %v, want a validation error", r, err)
		}
	}
}

// TestRuleTableForwarding runs the proxy's table beside another owner of the
// default table: with rules for the router's two interfaces, a route set in
// table 10 forwards A's traffic to C.
func TestRuleTableForwarding(t *testing.T) {
	l := newLab(t, testIPv4)
	other := l.open(t, 0) // smcroute or pimd, owning the default table
	s := l.open(t, 10)
	// The default table's owner has the same interfaces but no route: without
	// the rules, traffic goes its way and is dropped.
	for _, ifindex := range []int{l.ra, l.rc} {
		if _, err := other.AddVIF(ifindex, 1); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AddVIF(ifindex, 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetRoute(Route{Source: l.aSrc, Group: l.group, Input: l.ra, Outputs: []int{l.rc}}); err != nil {
		t.Fatal(err)
	}
	recv := joinGroup(t, l.c, l.cr, l.group)
	send := newUDPSender(t, l.a, IPv4, l.ar, 8)
	buf := make([]byte, 1500)
	send.send(t, l.group, "without rules")
	recv.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if k, _, err := recv.ReadFromUDP(buf); err == nil {
		t.Fatalf("C received %q with no rules pointing at table 10", buf[:k])
	}

	var rules []Rule
	for _, dev := range []string{"ra", "rc"} {
		rules = append(rules,
			Rule{Family: 4, Iif: dev, Table: 10, Priority: 100},
			Rule{Family: 4, Oif: dev, Table: 10, Priority: 100})
	}
	for _, r := range rules {
		var err error
		l.r.Do(t, func() { err = AddRule(r) })
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, r := range rules {
			var err error
			l.r.Do(t, func() { err = DelRule(r) })
			if err != nil {
				t.Error(err)
			}
		}
	})
	const n = 5
	for i := range n {
		send.send(t, l.group, fmt.Sprintf("data %d", i))
	}
	recv.SetReadDeadline(time.Now().Add(3 * time.Second))
	for i := range n {
		if _, _, err := recv.ReadFromUDP(buf); err != nil {
			t.Fatalf("C received %d of %d datagrams, then: %v", i, n, err)
		}
	}
	c, err := s.Counters(l.aSrc, l.group)
	if err != nil {
		t.Fatal(err)
	}
	if c.Packets < n {
		t.Errorf("table 10 counters %+v after %d packets", c, n)
	}
	if _, err := other.Counters(l.aSrc, l.group); err == nil {
		t.Error("the default table learned the route")
	}
}
