package luci_test

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/mcast-proxy/mcast-proxy/internal/control"
)

const statusView = "mcast-proxy/status"

// loadStatus reads a status fixture and checks that it has exactly the shape
// of control.Status, so the fixture cannot drift from what the daemon sends.
func loadStatus(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var st control.Status
	if err := dec.Decode(&st); err != nil {
		t.Fatalf("%s does not match control.Status: %v", path, err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

var running = map[string]any{
	"mcast-proxy": map[string]any{
		"instances": map[string]any{"instance1": map[string]any{"running": true, "pid": 1234}},
	},
}

// notRunning is the rpcd plugin's answer when "mcast-proxy status" fails.
var notRunning = map[string]any{"errors": []any{
	"mcast-proxy: cannot reach the daemon on /var/run/mcast-proxy/mcast-proxy.sock; is mcast-proxy running? (control: dial unix /var/run/mcast-proxy/mcast-proxy.sock: connect: no such file or directory)",
}}

// statusNetworks are the router's netifd networks and their devices for the
// hand-written status; e2eNetworks those of the e2e network, where the LTE
// backup and the Wi-Fi are down (no device).
var (
	statusNetworks = []network{
		{"lan", "br-lan"}, {"iptv", "eth0.7"}, {"tv", "br-tv"}, {"lte", "wwan0"}, {"wan6", ""},
	}
	e2eNetworks = []network{
		{"wan", "up0"}, {"lan", "br-lan"}, {"guest", "down2"}, {"lte", ""}, {"wifi", ""},
	}
)

func statusScenario(st any) scenario {
	return scenario{
		View:     statusView,
		Ubus:     map[string]any{"mcast-proxy/status": st, "service/list": running},
		Networks: statusNetworks,
	}
}

func TestStatusView(t *testing.T) {
	b := newBrowser(t)
	full := loadStatus(t, "testdata/status.json")

	t.Run("full", func(t *testing.T) {
		t.Parallel()
		sc := statusScenario(full)
		rep := b.run(t, "status-full", sc)
		mustContain(t, "status page", rep.Text,
			// daemon
			"1.0.0", "2d 5h", "/etc/config/mcast-proxy",
			// interfaces and their state, with their logical networks
			"eth0.7\tiptv", "wwan0\tlte", "br-tv\ttv", "standby", "wlan1", "waiting", "active",
			"this router (IGMPv3)", "this router (MLDv2)", "192.168.20.2 (IGMPv2)",
			"fe80::2a0:c9ff:fe14:909",
			// groups per downstream, with hosts and expiry
			"br-lan (IPv4)", "br-tv (IPv4)", "br-lan (IPv6)", "wlan1 (IPv4)",
			"Querier: 192.168.20.2 (IGMPv2)",
			"No membership expires for 1m 37s more",
			"Not in service",
			"232.10.0.5", "198.51.100.20 (4m 7s)", "198.51.100.21 (3m 2s)",
			"192.168.1.42 (4m 7s)", "192.168.1.57 (2m 42s)",
			"except 192.168.1.99", "ff3e::8000:1", "fe80::8e3b:adff:fe41:2c07 (3m 40s)",
			// upstream subscriptions
			"Upstream subscriptions", "239.3.1.17",
			// forwarding with rates
			"8.0 Mbit/s", "744.2 pkt/s", "3.6 Mbit/s", "335 pkt/s", "898.4 bit/s",
			"41\u202f733\u202f902",
			// counters and drop reasons
			"IGMPv3 reports", "6\u202f958", "denied by an access list", "policy",
			"any-source join of a source-specific group", "link-local group, never proxied",
			"sender outside the upstream subnets",
		)
		if len(rep.Polls) != 1 || rep.Polls[0] < 2 || rep.Polls[0] > 10 {
			t.Errorf("polls = %v, want one refresh every few seconds", rep.Polls)
		}
		calls := map[string]bool{}
		for _, c := range rep.RPCCalls {
			calls[c.Call] = true
			if c.Call == "service/list" && c.Params["name"] != "mcast-proxy" {
				t.Errorf("service list asked for %v", c.Params)
			}
		}
		if !calls["mcast-proxy/status"] {
			t.Errorf("the view never called ubus mcast-proxy status: %v", rep.RPCCalls)
		}
		// The fastest stream comes first.
		if i, j := strings.Index(rep.Text, "8.0 Mbit/s"), strings.Index(rep.Text, "3.6 Mbit/s"); i < 0 || j < i {
			t.Errorf("forwarding is not sorted by rate")
		}
		b.screenshot(t, "status-full", sc, rep, "")
	})

	t.Run("proxy instances", func(t *testing.T) {
		t.Parallel()
		st := loadStatus(t, "testdata/status.json")
		st["proxies"] = []any{
			map[string]any{"name": "iptv", "table": 5000, "upstream": "eth0.7"},
			map[string]any{"name": "lan", "table": 5001, "upstream": ""},
		}
		for _, x := range st["interfaces"].([]any) {
			ifc := x.(map[string]any)
			if ifc["name"] == "eth0.7" || ifc["name"] == "br-tv" {
				ifc["proxy"] = "iptv"
			} else {
				ifc["proxy"] = "lan"
			}
		}
		rep := b.run(t, "status-instances", statusScenario(st))
		mustContain(t, "instances", rep.Text,
			"Proxy instance iptv\trouting table 5000, upstream eth0.7",
			"Proxy instance lan\trouting table 5001, upstream none",
			"eth0.7 (iptv)", "br-tv (iptv)", "br-lan (lan)")
		if strings.Contains(rep.Text, "Routing table") {
			t.Errorf("the single routing table line is shown beside the instances")
		}
	})

	// A status captured from the daemon in the e2e network (testdata/README.md).
	captured := loadStatus(t, "testdata/status-e2e.json")

	t.Run("captured from the daemon", func(t *testing.T) {
		t.Parallel()
		sc := statusScenario(captured)
		sc.Networks = e2eNetworks
		rep := b.run(t, "status-e2e", sc)
		mustContain(t, "captured status", rep.Text,
			"up0\twan", "br-lan\tlan", "down2\tguest", "wwan0\t-", "this router (IGMPv3)",
			"wwan0", "wlan1 (IPv4)", "waiting", "IGMPv2", "Not in service",
			"232.1.1.1", "10.0.0.3 (", "192.168.1.11 (", "192.168.1.12 (", "239.3.3.3",
			"kbit/s", "pkt/s", "denied by an access list", "own packet, looped back")
		b.screenshot(t, "status-e2e", sc, rep, "luci-status.png")
	})

	t.Run("phone", func(t *testing.T) {
		t.Parallel()
		sc := statusScenario(captured)
		sc.Networks = e2eNetworks
		sc.Width = 390
		rep := b.run(t, "status-phone", sc)
		// On a phone each cell carries its column name.
		mustContain(t, "phone html", rep.HTML, `data-title="Rate"`, `data-title="Hosts"`)
		b.screenshot(t, "status-phone", sc, rep, "luci-status-phone.png")
	})

	t.Run("hostile names are text", func(t *testing.T) {
		t.Parallel()
		st := loadStatus(t, "testdata/status.json")
		const evil = "<b>tv&amp;"
		rename := func(v any) any {
			if v == "br-tv" {
				return evil
			}
			return v
		}
		for _, ifc := range st["interfaces"].([]any) {
			m := ifc.(map[string]any)
			m["name"] = rename(m["name"])
		}
		for _, r := range st["routes"].([]any) {
			m := r.(map[string]any)
			outs := m["outputs"].([]any)
			for i := range outs {
				outs[i] = rename(outs[i])
			}
			m["input"] = "<i>in"
		}
		st["config"] = "/etc/<u>x</u>"
		st["version"] = "<s>1"
		c := st["counters"].([]any)[0].(map[string]any)
		c["dropped"].(map[string]any)["<em>new_reason"] = 7
		c["received"].(map[string]any)["<q>kind"] = 3

		rep := b.run(t, "status-hostile", statusScenario(st))
		mustContain(t, "text", rep.Text, evil+" (IPv4)", "/etc/<u>x</u>", "<s>1", "<i>in", "<em>new_reason", "<q>kind")
		mustNotContain(t, "html", rep.HTML, "<b>", "<u>", "<s>", "<i>", "<q>", "<em>new")
		mustContain(t, "html", rep.HTML, "&lt;b&gt;tv&amp;amp;")
	})

	t.Run("stopped", func(t *testing.T) {
		t.Parallel()
		sc := scenario{View: statusView, Ubus: map[string]any{
			// What the rpcd plugin (files/mcast-proxy.rpcd) answers when
			// the daemon's socket does not.
			"mcast-proxy/status": notRunning,
			"service/list":       map[string]any{},
		}}
		rep := b.run(t, "status-stopped", sc)
		mustContain(t, "stopped", rep.Text, "mcast-proxy is not running.", "logread -e mcast-proxy")
		mustNotContain(t, "stopped", rep.Text, "Interfaces", "Error")
		b.screenshot(t, "status-stopped", sc, rep, "")
	})

	t.Run("running but not answering", func(t *testing.T) {
		t.Parallel()
		rep := b.run(t, "status-noanswer", scenario{View: statusView, Ubus: map[string]any{
			"mcast-proxy/status": map[string]any{"ubus_error": 7},
			"service/list":       running,
		}})
		mustContain(t, "no answer", rep.Text, "running but did not answer", "ubus code 7", "Request timed out")
	})

	t.Run("running, socket not answering", func(t *testing.T) {
		t.Parallel()
		rep := b.run(t, "status-nosocket", scenario{View: statusView, Ubus: map[string]any{
			"mcast-proxy/status": notRunning,
			"service/list":       running,
		}})
		mustContain(t, "no socket", rep.Text, "running but did not answer", "is mcast-proxy running?")
	})

	t.Run("no service list permission", func(t *testing.T) {
		t.Parallel()
		// Without the service list the status answer alone decides.
		rep := b.run(t, "status-nolist", scenario{View: statusView, Ubus: map[string]any{
			"mcast-proxy/status": full,
			"service/list":       map[string]any{"ubus_error": 6},
		}})
		mustContain(t, "no list", rep.Text, "br-tv (IPv4)")
	})

	t.Run("empty daemon", func(t *testing.T) {
		t.Parallel()
		empty := map[string]any{
			"version": "1.0.0", "config": "/etc/config/mcast-proxy", "started": "2026-12-05T07:00:00Z",
			"uptime_seconds": 3.2, "table": 100,
			"interfaces": []any{
				map[string]any{"name": "wan", "family": "ipv4", "role": "upstream", "state": "waiting", "ifindex": 0, "vif": -1, "addresses": nil},
				map[string]any{"name": "br-lan", "family": "ipv4", "role": "downstream", "state": "active", "ifindex": 3, "vif": 1, "addresses": []any{"192.168.1.1"},
					"querier": map[string]any{"address": "192.168.1.1", "self": true, "version": 3}},
			},
			"upstream": []any{}, "routes": []any{}, "counters": nil,
		}
		rep := b.run(t, "status-empty", statusScenario(empty))
		mustContain(t, "empty", rep.Text, "3.2s", "100",
			"No host has joined a group here.", "No group is requested from the upstream.",
			"No stream is being forwarded.", "Nothing was dropped.")
		mustNotContain(t, "empty", rep.Text, "null", "undefined", "NaN")
	})

	t.Run("refresh", func(t *testing.T) {
		t.Parallel()
		later := loadStatus(t, "testdata/status.json")
		later["routes"] = []any{}
		rep := b.run(t, "status-refresh", scenario{
			View: statusView,
			Ubus: map[string]any{"mcast-proxy/status": full, "service/list": running},
			Steps: []step{
				{Poll: true, Ubus: map[string]any{"mcast-proxy/status": notRunning, "service/list": map[string]any{}}},
				{Poll: true, Ubus: map[string]any{"mcast-proxy/status": later, "service/list": running}},
			},
		})
		if len(rep.Steps) != 2 {
			t.Fatalf("steps = %d, want 2", len(rep.Steps))
		}
		mustContain(t, "before", rep.Text, "8.0 Mbit/s")
		mustContain(t, "after stop", rep.Steps[0].Text, "mcast-proxy is not running.")
		mustContain(t, "after restart", rep.Steps[1].Text, "No stream is being forwarded.", "br-tv (IPv4)")
	})
}
