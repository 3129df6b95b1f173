package daemon

import (
	"testing"

	"github.com/mcast-proxy/mcast-proxy/internal/linkwatch"
)

const (
	wanConf    = "interface wan { upstream }\ninterface lan { downstream }\n"
	twoUpConf  = "interface wan { upstream; priority 10 }\ninterface lte { upstream; priority 20 }\ninterface lan { downstream }\n"
	g1         = "239.1.1.1"
	provider   = "192.0.2.10"
	lanHost    = "10.0.0.2"
	lanPrefix  = "10.0.0.1/24"
	wanPrefix  = "192.0.2.1/24"
	ltePrefix  = "198.51.100.1/24"
	lanIfindex = 3
)

var (
	wanUp = link("wan", 2, true, wanPrefix)
	lanUp = link("lan", 3, true, lanPrefix)
	lteUp = link("lte", 4, true, ltePrefix)
)

// TestReconcile runs the daemon's reconciliation of links, failover and
// reloads against recording fakes of the kernel and checks every kernel
// operation each change causes. The e2e suite proves the kernel agrees.
func TestReconcile(t *testing.T) {
	tests := []struct {
		name  string
		conf  string
		links []linkwatch.Link
		start []string
		steps []step
	}{
		{name: "downstream missing at start-up comes later", conf: wanConf, links: []linkwatch.Link{wanUp},
			start: []string{
				"ipv4 open table 0",
				"upstream join on 2",
				"ipv4 add-vif 2 threshold 1",
			},
			steps: []step{
				{name: "lan appears", do: links(wanUp, lanUp), want: []string{
					"ipv4 add-vif 3 threshold 1",
					"ipv4 join-router-groups 3",
					"ipv4 send 3 to 224.0.0.1",
				}},
				{name: "stop", do: stop, want: []string{
					"upstream close 2",
					"ipv4 close",
				}},
			}},
		{name: "upstream missing at start-up comes later and gets the wanted groups", conf: wanConf, links: []linkwatch.Link{lanUp},
			start: []string{
				"ipv4 open table 0",
				"ipv4 add-vif 3 threshold 1",
				"ipv4 join-router-groups 3",
				"ipv4 send 3 to 224.0.0.1",
			},
			steps: []step{
				{name: "report", do: report(lanIfindex, lanHost, g1), want: nil},
				{name: "wan appears", do: links(lanUp, wanUp), want: []string{
					"upstream join on 2",
					"upstream set 239.1.1.1 exclude []",
					"ipv4 add-vif 2 threshold 1",
				}},
				{name: "stream starts", do: upcall(2, provider, g1), want: []string{
					"ipv4 set-route 192.0.2.10,239.1.1.1 in 2 out [3]",
				}},
			}},
		{name: "a join of a flowing stream changes forwarding before anything else", conf: wanConf, links: []linkwatch.Link{wanUp, lanUp},
			start: []string{
				"ipv4 open table 0",
				"upstream join on 2",
				"ipv4 add-vif 2 threshold 1",
				"ipv4 add-vif 3 threshold 1",
				"ipv4 join-router-groups 3",
				"ipv4 send 3 to 224.0.0.1",
			},
			steps: []step{
				{name: "stream reaches the router, nobody joined", do: upcall(2, provider, g1), want: []string{
					"ipv4 set-route 192.0.2.10,239.1.1.1 in 2 out []",
				}},
				{name: "report", do: report(lanIfindex, lanHost, g1), want: []string{
					"ipv4 set-route 192.0.2.10,239.1.1.1 in 2 out [3]",
					"upstream set 239.1.1.1 exclude []",
				}},
			}},
		{name: "downstream down and up", conf: wanConf, links: []linkwatch.Link{wanUp, lanUp},
			start: []string{
				"ipv4 open table 0",
				"upstream join on 2",
				"ipv4 add-vif 2 threshold 1",
				"ipv4 add-vif 3 threshold 1",
				"ipv4 join-router-groups 3",
				"ipv4 send 3 to 224.0.0.1",
			},
			steps: []step{
				{name: "report", do: report(lanIfindex, lanHost, g1), want: []string{
					"upstream set 239.1.1.1 exclude []",
				}},
				{name: "stream starts", do: upcall(2, provider, g1), want: []string{
					"ipv4 set-route 192.0.2.10,239.1.1.1 in 2 out [3]",
				}},
				{name: "lan down", do: links(wanUp, link("lan", 3, false, lanPrefix)), want: []string{
					"ipv4 set-route 192.0.2.10,239.1.1.1 in 2 out []",
					"upstream set 239.1.1.1 include []",
				}},
				{name: "lan up", do: links(wanUp, lanUp), want: []string{
					"ipv4 send 3 to 224.0.0.1",
					"ipv4 set-route 192.0.2.10,239.1.1.1 in 2 out [3]",
					"upstream set 239.1.1.1 exclude []",
				}},
			}},
		{name: "downstream deleted and recreated with a new index", conf: wanConf, links: []linkwatch.Link{wanUp, lanUp},
			start: []string{
				"ipv4 open table 0",
				"upstream join on 2",
				"ipv4 add-vif 2 threshold 1",
				"ipv4 add-vif 3 threshold 1",
				"ipv4 join-router-groups 3",
				"ipv4 send 3 to 224.0.0.1",
			},
			steps: []step{
				{name: "report", do: report(lanIfindex, lanHost, g1), want: []string{
					"upstream set 239.1.1.1 exclude []",
				}},
				{name: "stream starts", do: upcall(2, provider, g1), want: []string{
					"ipv4 set-route 192.0.2.10,239.1.1.1 in 2 out [3]",
				}},
				{name: "lan deleted", do: links(wanUp), want: []string{
					"ipv4 set-route 192.0.2.10,239.1.1.1 in 2 out []",
					"upstream set 239.1.1.1 include []",
					"ipv4 leave-router-groups 3",
					"ipv4 del-vif 3",
				}},
				{name: "lan recreated", do: links(wanUp, link("lan", 7, true, lanPrefix)), want: []string{
					"ipv4 add-vif 7 threshold 1",
					"ipv4 join-router-groups 7",
					"ipv4 send 7 to 224.0.0.1",
				}},
			}},
		{name: "downstream recreated with a new index in one notification", conf: wanConf, links: []linkwatch.Link{wanUp, lanUp},
			start: []string{
				"ipv4 open table 0",
				"upstream join on 2",
				"ipv4 add-vif 2 threshold 1",
				"ipv4 add-vif 3 threshold 1",
				"ipv4 join-router-groups 3",
				"ipv4 send 3 to 224.0.0.1",
			},
			steps: []step{
				{name: "report", do: report(lanIfindex, lanHost, g1), want: []string{
					"upstream set 239.1.1.1 exclude []",
				}},
				{name: "stream starts", do: upcall(2, provider, g1), want: []string{
					"ipv4 set-route 192.0.2.10,239.1.1.1 in 2 out [3]",
				}},
				{name: "lan recreated", do: links(wanUp, link("lan", 7, true, lanPrefix)), want: []string{
					"ipv4 set-route 192.0.2.10,239.1.1.1 in 2 out []",
					"upstream set 239.1.1.1 include []",
					"ipv4 leave-router-groups 3",
					"ipv4 del-vif 3",
					"ipv4 add-vif 7 threshold 1",
					"ipv4 join-router-groups 7",
					"ipv4 send 7 to 224.0.0.1",
				}},
			}},
		{name: "upstream recreated with a new index in one notification", conf: wanConf, links: []linkwatch.Link{wanUp, lanUp},
			start: []string{
				"ipv4 open table 0",
				"upstream join on 2",
				"ipv4 add-vif 2 threshold 1",
				"ipv4 add-vif 3 threshold 1",
				"ipv4 join-router-groups 3",
				"ipv4 send 3 to 224.0.0.1",
			},
			steps: []step{
				{name: "report", do: report(lanIfindex, lanHost, g1), want: []string{
					"upstream set 239.1.1.1 exclude []",
				}},
				{name: "stream starts", do: upcall(2, provider, g1), want: []string{
					"ipv4 set-route 192.0.2.10,239.1.1.1 in 2 out [3]",
				}},
				{name: "wan recreated", do: links(link("wan", 9, true, wanPrefix), lanUp), want: []string{
					"upstream move 2 -> 9",
					"ipv4 del-vif 2",
					"ipv4 add-vif 9 threshold 1",
					"ipv4 set-route 192.0.2.10,239.1.1.1 in 9 out [3]",
				}},
			}},
		{name: "upstream deleted then recreated", conf: wanConf, links: []linkwatch.Link{wanUp, lanUp},
			start: []string{
				"ipv4 open table 0",
				"upstream join on 2",
				"ipv4 add-vif 2 threshold 1",
				"ipv4 add-vif 3 threshold 1",
				"ipv4 join-router-groups 3",
				"ipv4 send 3 to 224.0.0.1",
			},
			steps: []step{
				{name: "report", do: report(lanIfindex, lanHost, g1), want: []string{
					"upstream set 239.1.1.1 exclude []",
				}},
				{name: "stream starts", do: upcall(2, provider, g1), want: []string{
					"ipv4 set-route 192.0.2.10,239.1.1.1 in 2 out [3]",
				}},
				{name: "wan deleted", do: links(lanUp), want: []string{
					"upstream close 2",
					"ipv4 del-vif 2",
					"ipv4 del-route 192.0.2.10,239.1.1.1",
				}},
				{name: "wan recreated", do: links(link("wan", 9, true, wanPrefix), lanUp), want: []string{
					"upstream join on 9",
					"upstream set 239.1.1.1 exclude []",
					"ipv4 add-vif 9 threshold 1",
				}},
			}},
		{name: "address changes", conf: wanConf, links: []linkwatch.Link{wanUp, lanUp},
			start: []string{
				"ipv4 open table 0",
				"upstream join on 2",
				"ipv4 add-vif 2 threshold 1",
				"ipv4 add-vif 3 threshold 1",
				"ipv4 join-router-groups 3",
				"ipv4 send 3 to 224.0.0.1",
			},
			steps: []step{
				{name: "report", do: report(lanIfindex, lanHost, g1), want: []string{
					"upstream set 239.1.1.1 exclude []",
				}},
				{name: "stream starts", do: upcall(2, provider, g1), want: []string{
					"ipv4 set-route 192.0.2.10,239.1.1.1 in 2 out [3]",
				}},
				{name: "downstream renumbered", do: links(wanUp, link("lan", 3, true, "10.9.0.1/24")), want: nil},
				{name: "upstream renumbered: the source is outside its subnets now", do: links(link("wan", 2, true, "203.0.113.1/24"), link("lan", 3, true, "10.9.0.1/24")), want: []string{
					"ipv4 set-route 192.0.2.10,239.1.1.1 in 2 out []",
				}},
			}},
		{name: "failover and back", conf: twoUpConf, links: []linkwatch.Link{wanUp, lteUp, lanUp},
			start: []string{
				"ipv4 open table 0",
				"upstream join on 2",
				"ipv4 add-vif 2 threshold 1",
				"ipv4 add-vif 3 threshold 1",
				"ipv4 join-router-groups 3",
				"ipv4 send 3 to 224.0.0.1",
			},
			steps: []step{
				{name: "report", do: report(lanIfindex, lanHost, g1), want: []string{
					"upstream set 239.1.1.1 exclude []",
				}},
				{name: "stream starts", do: upcall(2, provider, g1), want: []string{
					"ipv4 set-route 192.0.2.10,239.1.1.1 in 2 out [3]",
				}},
				{name: "wan down: lte takes over, the flow from wan's subnet is refused", do: links(link("wan", 2, false, wanPrefix), lteUp, lanUp), want: []string{
					"upstream move 2 -> 4",
					"ipv4 del-vif 2",
					"ipv4 add-vif 4 threshold 1",
					"ipv4 set-route 192.0.2.10,239.1.1.1 in 4 out []",
				}},
				{name: "stream on lte", do: upcall(4, "198.51.100.10", g1), want: []string{
					"ipv4 set-route 198.51.100.10,239.1.1.1 in 4 out [3]",
				}},
				{name: "wan up", do: links(wanUp, lteUp, lanUp), want: []string{
					"upstream move 4 -> 2",
					"ipv4 del-vif 4",
					"ipv4 add-vif 2 threshold 1",
					"ipv4 set-route 192.0.2.10,239.1.1.1 in 2 out [3]",
					"ipv4 set-route 198.51.100.10,239.1.1.1 in 2 out []",
				}},
			}},
		{name: "the only upstream goes down and up", conf: wanConf, links: []linkwatch.Link{wanUp, lanUp},
			start: []string{
				"ipv4 open table 0",
				"upstream join on 2",
				"ipv4 add-vif 2 threshold 1",
				"ipv4 add-vif 3 threshold 1",
				"ipv4 join-router-groups 3",
				"ipv4 send 3 to 224.0.0.1",
			},
			steps: []step{
				{name: "report", do: report(lanIfindex, lanHost, g1), want: []string{
					"upstream set 239.1.1.1 exclude []",
				}},
				{name: "stream starts", do: upcall(2, provider, g1), want: []string{
					"ipv4 set-route 192.0.2.10,239.1.1.1 in 2 out [3]",
				}},
				// With nothing to fail over to, the upstream stays in
				// service: it may come back, and then nothing was lost.
				{name: "wan down", do: links(link("wan", 2, false, wanPrefix), lanUp), want: nil},
				{name: "wan up", do: links(wanUp, lanUp), want: nil},
			}},
		{name: "reload reorders the upstreams", conf: twoUpConf, links: []linkwatch.Link{wanUp, lteUp, lanUp},
			start: []string{
				"ipv4 open table 0",
				"upstream join on 2",
				"ipv4 add-vif 2 threshold 1",
				"ipv4 add-vif 3 threshold 1",
				"ipv4 join-router-groups 3",
				"ipv4 send 3 to 224.0.0.1",
			},
			steps: []step{
				{name: "report", do: report(lanIfindex, lanHost, g1), want: []string{
					"upstream set 239.1.1.1 exclude []",
				}},
				{name: "lte preferred", do: reload("interface wan { upstream; priority 30 }\ninterface lte { upstream; priority 20 }\ninterface lan { downstream }\n"), want: []string{
					"upstream move 2 -> 4",
					"ipv4 del-vif 2",
					"ipv4 add-vif 4 threshold 1",
				}},
			}},
		{name: "reload diffs", conf: wanConf, links: []linkwatch.Link{wanUp, lanUp, link("guest", 5, true, "10.5.0.1/24")},
			start: []string{
				"ipv4 open table 0",
				"upstream join on 2",
				"ipv4 add-vif 2 threshold 1",
				"ipv4 add-vif 3 threshold 1",
				"ipv4 join-router-groups 3",
				"ipv4 send 3 to 224.0.0.1",
			},
			steps: []step{
				{name: "report", do: report(lanIfindex, lanHost, g1), want: []string{
					"upstream set 239.1.1.1 exclude []",
				}},
				{name: "stream starts", do: upcall(2, provider, g1), want: []string{
					"ipv4 set-route 192.0.2.10,239.1.1.1 in 2 out [3]",
				}},
				{name: "unchanged", do: reload(wanConf), want: nil},
				{name: "guest added", do: reload(wanConf + "interface guest { downstream }\n"), want: []string{
					"ipv4 add-vif 5 threshold 1",
					"ipv4 join-router-groups 5",
					"ipv4 send 5 to 224.0.0.1",
				}},
				{name: "lan robustness", do: reload("interface wan { upstream }\ninterface lan { downstream; robustness 3 }\ninterface guest { downstream }\n"), want: nil},
				{name: "lan threshold: a new VIF, so the link starts over", do: reload("interface wan { upstream }\ninterface lan { downstream; robustness 3; threshold 5 }\ninterface guest { downstream }\n"), want: []string{
					"ipv4 set-route 192.0.2.10,239.1.1.1 in 2 out []",
					"upstream set 239.1.1.1 include []",
					"ipv4 leave-router-groups 3",
					"ipv4 del-vif 3",
					"ipv4 add-vif 3 threshold 5",
					"ipv4 join-router-groups 3",
					"ipv4 send 3 to 224.0.0.1",
				}},
				{name: "guest removed", do: reload("interface wan { upstream }\ninterface lan { downstream; robustness 3; threshold 5 }\n"), want: []string{
					"ipv4 leave-router-groups 5",
					"ipv4 del-vif 5",
				}},
			}},
		{name: "reload switches IPv6 on and off", conf: wanConf,
			links: []linkwatch.Link{link("wan", 2, true, wanPrefix, "2001:db8::1/64"), link("lan", 3, true, lanPrefix, "fe80::1/64")},
			start: []string{
				"ipv4 open table 0",
				"upstream join on 2",
				"ipv4 add-vif 2 threshold 1",
				"ipv4 add-vif 3 threshold 1",
				"ipv4 join-router-groups 3",
				"ipv4 send 3 to 224.0.0.1",
			},
			steps: []step{
				{name: "ipv6 on", do: reload("ipv6 yes\n" + wanConf), want: []string{
					"ipv6 open table 0",
					"ipv6 add-vif 2 threshold 1",
					"ipv6 add-vif 3 threshold 1",
					"ipv6 join-router-groups 3",
					"ipv6 send 3 to ff02::1",
				}},
				{name: "mld report", do: reportMLD(lanIfindex, "fe80::2", "ff1e::1"), want: []string{
					"upstream set ff1e::1 exclude []",
				}},
				{name: "igmp report", do: report(lanIfindex, lanHost, g1), want: []string{
					"upstream set 239.1.1.1 exclude []",
				}},
				{name: "ipv6 off leaves the IPv6 groups only", do: reload(wanConf), want: []string{
					"upstream set ff1e::1 include []",
					"ipv6 close",
				}},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runSteps(t, tt.conf, tt.links, tt.start, tt.steps)
		})
	}
}
