package control

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// sampleStatus is a small router: IPv4 and IPv6 on eth0 (upstream) and
// br-lan, and a downstream that has not come up yet.
// ip and ips are the addresses written as text; ips of none is an empty
// list, not nil.
func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

func ips(s ...string) []netip.Addr {
	out := make([]netip.Addr, 0, len(s))
	for _, x := range s {
		out = append(out, ip(x))
	}
	return out
}

func sampleStatus() *Status {
	return &Status{
		Version:       "1.0.0",
		Config:        "/etc/mcast-proxy.conf",
		Started:       time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC),
		UptimeSeconds: 3723.4,
		Interfaces: []Interface{
			{Name: "wlan1", Family: "ipv4", Role: "downstream", State: "waiting", VIF: -1},
			{Name: "br-lan", Family: "ipv4", Role: "downstream", State: "active", Ifindex: 3, VIF: 1,
				Addresses: []string{"192.168.1.1"},
				Querier:   &Querier{Address: "192.168.1.1", Self: true, Version: 3},
				Groups: []Group{
					{Group: ip("239.1.1.1"), Mode: "exclude", ExpiresIn: 251.6, Compat: 2, Excluded: ips("10.9.9.9"),
						Hosts: []Host{{Address: ip("192.168.1.21"), Mode: "exclude", ExpiresIn: 251.6}, {Address: ip("192.168.1.20"), Mode: "exclude", ExpiresIn: 190}}},
					{Group: ip("232.1.1.1"), Mode: "include", Compat: 3,
						Sources: []Source{{Address: ip("10.0.0.2"), ExpiresIn: 190}, {Address: ip("10.0.0.1"), ExpiresIn: 201.2}},
						Hosts:   []Host{{Address: ip("192.168.1.30"), Mode: "include", Sources: ips("10.0.0.1", "10.0.0.2"), ExpiresIn: 201.2}}},
				},
				Counters: map[string]uint64{"queries_sent": 12, "dropped_limit": 0}},
			{Name: "eth0", Family: "ipv4", Role: "upstream", State: "active", Ifindex: 2, VIF: 0,
				Addresses: []string{"192.0.2.10"}},
			{Name: "eth0", Family: "ipv6", Role: "upstream", State: "active", Ifindex: 2, VIF: 0,
				Addresses: []string{"fe80::1", "2001:db8::10"}},
			{Name: "br-lan", Family: "ipv6", Role: "downstream", State: "active", Ifindex: 3, VIF: 1,
				Addresses: []string{"fe80::2"},
				Querier:   &Querier{Address: "fe80::2", Self: true, Version: 2}, ExpiryHeld: 97.4},
		},
		Upstream: []Subscription{
			{Family: "ipv4", Interface: "eth0", Group: ip("239.1.1.1"), Mode: "exclude", Sources: ips("10.9.9.9")},
			{Family: "ipv4", Interface: "eth0", Group: ip("232.1.1.1"), Mode: "include", Sources: ips("10.0.0.2", "10.0.0.1")},
		},
		Routes: []Route{
			{Family: "ipv4", Source: ip("198.51.100.7"), Group: ip("239.1.1.1"), Input: "eth0", Outputs: []string{"br-lan"},
				Packets: 1200, Bytes: 1579200, PacketsPerSecond: 10, BitsPerSecond: 105280},
			{Family: "ipv4", Source: ip("10.0.0.1"), Group: ip("232.1.1.1"), Input: "eth0", Outputs: []string{"wlan0", "br-lan"},
				Packets: 123456, Bytes: 162468096, PacketsPerSecond: 400, BitsPerSecond: 4.2112e6},
		},
		Counters: []FamilyCounters{
			{Family: "ipv6", Received: map[string]uint64{}, Dropped: map[string]uint64{}},
			{Family: "ipv4", Received: map[string]uint64{"igmpv3_report": 42, "igmpv2_report": 7, "igmpv2_leave": 0},
				QueriesSent: 12, Dropped: map[string]uint64{"checksum": 1}, Upcalls: 3, RoutesAdded: 2},
		},
	}
}

const sampleText = `mcast-proxy 1.0.0, up 1h2m3s since 2025-03-01 08:00:00 UTC
config /etc/mcast-proxy.conf, multicast routing table default

Interfaces
  INTERFACE  FAMILY  ROLE        STATE    IFINDEX  VIF  ADDRESSES
  eth0       ipv4    upstream    active   2        0    192.0.2.10
  br-lan     ipv4    downstream  active   3        1    192.168.1.1
  wlan1      ipv4    downstream  waiting  -        -    -
  eth0       ipv6    upstream    active   2        0    2001:db8::10
                                                        fe80::1
  br-lan     ipv6    downstream  active   3        1    fe80::2

Groups on br-lan (ipv4), querier 192.168.1.1 (IGMPv3, this router)
  GROUP      MODE     V   EXPIRES  SOURCES          HOSTS
  232.1.1.1  include  v3  -        10.0.0.1 3m21s   192.168.1.30
                                   10.0.0.2 3m10s
  239.1.1.1  exclude  v2  4m12s    any              192.168.1.20
                                   except 10.9.9.9  192.168.1.21

Groups on wlan1 (ipv4)
  none

Groups on br-lan (ipv6), querier fe80::2 (MLDv2, this router), expiry held 1m38s
  none

Upstream subscriptions
  INTERFACE  GROUP      MODE     SOURCES
  eth0       232.1.1.1  include  10.0.0.1
                                 10.0.0.2
  eth0       239.1.1.1  exclude  any
                                 except 10.9.9.9

Forwarding
  SOURCE        GROUP      IN    PACKETS  RATE          OUT
  10.0.0.1      232.1.1.1  eth0  123456   4.2 Mbit/s    br-lan
                                                        wlan0
  198.51.100.7  239.1.1.1  eth0  1200     105.3 kbit/s  br-lan

Counters
  ipv4         received igmpv2_report  7
  ipv4         received igmpv3_report  42
  ipv4         queries_sent            12
  ipv4         dropped checksum        1
  ipv4         upcalls                 3
  ipv4         routes_added            2
  br-lan/ipv4  queries_sent            12
`

func TestWriteText(t *testing.T) {
	var b bytes.Buffer
	if err := WriteText(&b, sampleStatus()); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != sampleText {
		t.Errorf("WriteText:\n%s\nwant:\n%s", got, sampleText)
	}
}

func TestWriteTextEmpty(t *testing.T) {
	var b bytes.Buffer
	if err := WriteText(&b, &Status{Version: "devel", Config: "x.conf", Table: 7}); err != nil {
		t.Fatal(err)
	}
	want := `mcast-proxy devel, up - since 0001-01-01 00:00:00 UTC
config x.conf, multicast routing table 7

Interfaces
  none

Upstream subscriptions
  none

Forwarding
  none

Counters
  none
`
	if got := b.String(); got != want {
		t.Errorf("WriteText:\n%s\nwant:\n%s", got, want)
	}
}

// TestStatusJSON pins the wire names the rpcd plugin and LuCI read.
func TestStatusJSON(t *testing.T) {
	st := sampleStatus()
	st.Interfaces = st.Interfaces[1:2]
	st.Interfaces[0].Groups = st.Interfaces[0].Groups[1:]
	st.Interfaces[0].Counters = nil
	st.Upstream = st.Upstream[1:]
	st.Routes = st.Routes[1:]
	st.Counters = st.Counters[1:]
	got, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != sampleJSON {
		t.Errorf("JSON:\n%s\nwant:\n%s", got, sampleJSON)
	}
}

const sampleJSON = `{
  "version": "1.0.0",
  "config": "/etc/mcast-proxy.conf",
  "started": "2025-03-01T08:00:00Z",
  "uptime_seconds": 3723.4,
  "table": 0,
  "interfaces": [
    {
      "name": "br-lan",
      "family": "ipv4",
      "role": "downstream",
      "state": "active",
      "ifindex": 3,
      "vif": 1,
      "addresses": [
        "192.168.1.1"
      ],
      "querier": {
        "address": "192.168.1.1",
        "self": true,
        "version": 3
      },
      "groups": [
        {
          "group": "232.1.1.1",
          "mode": "include",
          "sources": [
            {
              "address": "10.0.0.2",
              "expires_in": 190
            },
            {
              "address": "10.0.0.1",
              "expires_in": 201.2
            }
          ],
          "expires_in": 0,
          "compat": 3,
          "hosts": [
            {
              "address": "192.168.1.30",
              "mode": "include",
              "sources": [
                "10.0.0.1",
                "10.0.0.2"
              ],
              "expires_in": 201.2
            }
          ]
        }
      ]
    }
  ],
  "upstream": [
    {
      "family": "ipv4",
      "interface": "eth0",
      "group": "232.1.1.1",
      "mode": "include",
      "sources": [
        "10.0.0.2",
        "10.0.0.1"
      ]
    }
  ],
  "routes": [
    {
      "family": "ipv4",
      "source": "10.0.0.1",
      "group": "232.1.1.1",
      "input": "eth0",
      "outputs": [
        "wlan0",
        "br-lan"
      ],
      "packets": 123456,
      "bytes": 162468096,
      "wrong_if": 0,
      "packets_per_second": 400,
      "bits_per_second": 4211200
    }
  ],
  "counters": [
    {
      "family": "ipv4",
      "received": {
        "igmpv2_leave": 0,
        "igmpv2_report": 7,
        "igmpv3_report": 42
      },
      "queries_sent": 12,
      "dropped": {
        "checksum": 1
      },
      "upcalls": 3,
      "routes_added": 2,
      "routes_changed": 0,
      "routes_removed": 0
    }
  ]
}`

// TestWriteTextEscapesControlCharacters: the kernel accepts interface names
// with escape sequences; status must not send them to the terminal.
func TestWriteTextEscapesControlCharacters(t *testing.T) {
	st := &Status{Interfaces: []Interface{{Name: "ev\x1b[2Jil\x7f", Family: "ipv4", Role: "downstream", State: "waiting", VIF: -1}}}
	var b bytes.Buffer
	if err := WriteText(&b, st); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.ContainsAny(out, "\x1b\x7f") || !strings.Contains(out, `ev\x1b[2Jil\x7f`) {
		t.Errorf("control characters not escaped:\n%q", out)
	}
}

// TestWriteTextInstances: with named proxy instances, each is written as
// its own part with only its interfaces, subscriptions and entries; with
// only the default instance the output is what it always was.
func TestWriteTextInstances(t *testing.T) {
	var plain bytes.Buffer
	st := sampleStatus()
	if err := WriteText(&plain, st); err != nil {
		t.Fatal(err)
	}
	st.Proxies = []Proxy{{Name: "", Upstream: "eth0"}}
	var same bytes.Buffer
	if err := WriteText(&same, st); err != nil {
		t.Fatal(err)
	}
	if same.String() != plain.String() {
		t.Errorf("the default instance alone changes the output:\n%s\nwant\n%s", same.String(), plain.String())
	}

	st = &Status{Version: "1", Config: "c", Started: time.Unix(0, 0).UTC(),
		Proxies: []Proxy{{Name: "tv", Table: 5000, Upstream: "eth0.7", MemoryBytes: 2048, MemoryLimit: 4 << 20}, {Name: "lan", Table: 120}},
		Interfaces: []Interface{
			{Proxy: "tv", Name: "eth0.7", Family: "ipv4", Role: "upstream", State: "active", VIF: 0},
			{Proxy: "tv", Name: "br-tv", Family: "ipv4", Role: "downstream", State: "active", VIF: 1},
			{Proxy: "lan", Name: "wan2", Family: "ipv4", Role: "upstream", State: "waiting", VIF: -1},
		},
		Upstream: []Subscription{{Proxy: "tv", Family: "ipv4", Interface: "eth0.7", Group: ip("239.1.1.1"), Mode: "exclude"}},
	}
	var b bytes.Buffer
	if err := WriteText(&b, st); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	tvAt := strings.Index(out, "=== Proxy tv: multicast routing table 5000, upstream eth0.7, memory 2 of 4096 KiB")
	lanAt := strings.Index(out, "=== Proxy lan: multicast routing table 120, upstream none")
	if tvAt < 0 || lanAt < tvAt {
		t.Fatalf("no part per instance, in order:\n%s", out)
	}
	tvPart, lanPart := out[tvAt:lanAt], out[lanAt:]
	if !strings.Contains(tvPart, "br-tv") || !strings.Contains(tvPart, "239.1.1.1") || strings.Contains(tvPart, "wan2") {
		t.Errorf("tv's part:\n%s", tvPart)
	}
	if !strings.Contains(lanPart, "wan2") || strings.Contains(lanPart, "br-tv") || strings.Contains(lanPart, "239.1.1.1") {
		t.Errorf("lan's part:\n%s", lanPart)
	}
}
