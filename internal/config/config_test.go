package config

import (
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

const testFile = "t.conf"

// exampleConf is the example of the design brief, every option spelled out.
const exampleConf = `# comment
ipv4 yes                      # global yes|no, default yes
ipv6 no                       # global yes|no, default no
interface eth0 {
    upstream                  # at least one upstream interface
    source 10.0.0.0/8         # also accept multicast from these sources
}
interface br-lan { downstream }
interface guest  { downstream; threshold 2 }
interface eth1   { disabled }
interface lan2 {
    downstream
    igmp-version 2
    mld-version 1
    robustness 2
    query-interval 125
    query-response-interval 10
    last-member-query-interval 1
    last-member-query-count 2
    startup-query-interval 31
    startup-query-count 2
    ipv4 yes
    ipv6 yes
}
`

// featuresConf uses failover, the table, access lists, limits and fast
// leave.
const featuresConf = `table 100
ipv6 yes
interface wan { upstream; priority 10; deny group 239.255.255.250; deny group ff05::fb }
interface lte { upstream; priority 20; allow group any source 2001:db8::/32; deny group any }
interface lan {
	downstream
	max-groups 256
	max-sources 16
	fast-leave yes
	allow group 232.0.0.0/8 source 192.0.2.0/24
	deny group 232.0.0.0/8
}
interface lan6 { downstream; ipv4 no; allow group ff3e::/16 }
`

// iface returns an interface with every default, declared at line:1.
func iface(name string, role Role, line int) Interface {
	return Interface{
		Name:                    name,
		Role:                    role,
		Threshold:               1,
		IGMPVersion:             3,
		MLDVersion:              2,
		Robustness:              2,
		QueryInterval:           125 * time.Second,
		QueryResponseInterval:   10 * time.Second,
		LastMemberQueryInterval: time.Second,
		StartupQueryInterval:    31250 * time.Millisecond,
		LastMemberQueryCount:    2,
		StartupQueryCount:       2,
		IPv4:                    true,
		MaxGroups:               1024,
		MaxSources:              128,
		MaxMemory:               2 << 20,
		Pos:                     Pos{File: testFile, Line: line, Col: 1},
	}
}

// with returns i changed by f, to write expectations as differences from
// the defaults.
func with(i Interface, f func(*Interface)) Interface {
	f(&i)
	return i
}

func TestParseValid(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want *Config
	}{
		{
			name: "example",
			in:   exampleConf,
			want: &Config{File: testFile, IPv4: true, Interfaces: []Interface{
				with(iface("eth0", RoleUpstream, 4), func(i *Interface) {
					i.Sources = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
				}),
				iface("br-lan", RoleDownstream, 8),
				with(iface("guest", RoleDownstream, 9), func(i *Interface) { i.Threshold = 2 }),
				iface("eth1", RoleDisabled, 10),
				with(iface("lan2", RoleDownstream, 11), func(i *Interface) {
					i.IGMPVersion = 2
					i.MLDVersion = 1
					i.StartupQueryInterval = 31 * time.Second
					i.IPv6 = true
				}),
			}},
		},
		{
			name: "minimal",
			in:   "interface wan { upstream }\ninterface lan { downstream }",
			want: &Config{File: testFile, IPv4: true, Interfaces: []Interface{
				iface("wan", RoleUpstream, 1),
				iface("lan", RoleDownstream, 2),
			}},
		},
		{
			name: "semicolons, one line, no final newline",
			in:   "ipv4 yes; ipv6 yes; interface wan { upstream; }; interface lan { downstream; threshold 3; robustness 4 }",
			want: &Config{File: testFile, IPv4: true, IPv6: true, Interfaces: []Interface{
				with(iface("wan", RoleUpstream, 1), func(i *Interface) {
					i.Pos.Col = 21
					i.IPv6 = true
				}),
				with(iface("lan", RoleDownstream, 1), func(i *Interface) {
					i.Pos.Col = 50
					i.IPv6 = true
					i.Threshold = 3
					i.Robustness = 4
					i.LastMemberQueryCount = 4
					i.StartupQueryCount = 4
				}),
			}},
		},
		{
			name: "durations in all forms",
			in: `interface wan { upstream }
interface lan {
	downstream
	query-interval 2m
	query-response-interval 0.5
	last-member-query-interval 100ms
	startup-query-interval 1.5s
}
interface lan2 {
	downstream
	query-interval 3600s
	query-response-interval 3174.4
	last-member-query-interval 2s
}
interface lan3 {
	downstream
	query-interval 31744
	query-response-interval 52.9m
	startup-query-interval 0.25
}
`,
			want: &Config{File: testFile, IPv4: true, Interfaces: []Interface{
				iface("wan", RoleUpstream, 1),
				with(iface("lan", RoleDownstream, 2), func(i *Interface) {
					i.QueryInterval = 2 * time.Minute
					i.QueryResponseInterval = 500 * time.Millisecond
					i.LastMemberQueryInterval = 100 * time.Millisecond
					i.StartupQueryInterval = 1500 * time.Millisecond
				}),
				with(iface("lan2", RoleDownstream, 9), func(i *Interface) {
					i.QueryInterval = time.Hour
					i.QueryResponseInterval = 3174400 * time.Millisecond
					i.LastMemberQueryInterval = 2 * time.Second
					i.StartupQueryInterval = 15 * time.Minute
				}),
				with(iface("lan3", RoleDownstream, 15), func(i *Interface) {
					i.QueryInterval = 31744 * time.Second
					i.QueryResponseInterval = 3174 * time.Second
					i.StartupQueryInterval = 250 * time.Millisecond
				}),
			}},
		},
		{
			name: "lab timers with IPv6 and counts",
			in: `ipv6 yes
interface wan { upstream; source 192.0.2.0/24; source 2001:db8::/32; source 198.51.100.7 }
interface lan {
	downstream
	robustness 3
	query-interval 1
	query-response-interval 0.5
	last-member-query-count 1
	startup-query-count 10
	igmp-version 2
}
interface old { downstream; igmp-version 1; query-response-interval 10s }
`,
			want: &Config{File: testFile, IPv4: true, IPv6: true, Interfaces: []Interface{
				with(iface("wan", RoleUpstream, 2), func(i *Interface) {
					i.IPv6 = true
					i.Sources = []netip.Prefix{
						netip.MustParsePrefix("192.0.2.0/24"),
						netip.MustParsePrefix("2001:db8::/32"),
						netip.MustParsePrefix("198.51.100.7/32"),
					}
				}),
				with(iface("lan", RoleDownstream, 3), func(i *Interface) {
					i.IPv6 = true
					i.Robustness = 3
					i.QueryInterval = time.Second
					i.QueryResponseInterval = 500 * time.Millisecond
					i.StartupQueryInterval = 250 * time.Millisecond
					i.LastMemberQueryCount = 1
					i.StartupQueryCount = 10
					i.IGMPVersion = 2
				}),
				with(iface("old", RoleDownstream, 12), func(i *Interface) {
					i.IPv6 = true
					i.IGMPVersion = 1
				}),
			}},
		},
		{
			name: "per-interface family overrides global",
			in: `ipv4 no
ipv6 yes
interface wan { upstream; ipv4 yes }
interface lan { downstream; ipv6 no; ipv4 yes; igmp-version 2; query-response-interval 25.5 }
interface lan6 { downstream; mld-version 1; query-response-interval 65.5; last-member-query-interval 65.5 }
interface off { disabled; ipv4 no; ipv6 no; threshold 255 }
`,
			want: &Config{File: testFile, IPv6: true, Interfaces: []Interface{
				with(iface("wan", RoleUpstream, 3), func(i *Interface) { i.IPv6 = true }),
				with(iface("lan", RoleDownstream, 4), func(i *Interface) {
					i.IGMPVersion = 2
					i.QueryResponseInterval = 25500 * time.Millisecond
				}),
				with(iface("lan6", RoleDownstream, 5), func(i *Interface) {
					i.IPv4 = false
					i.IPv6 = true
					i.MLDVersion = 1
					i.QueryResponseInterval = 65500 * time.Millisecond
					i.LastMemberQueryInterval = 65500 * time.Millisecond
				}),
				with(iface("off", RoleDisabled, 6), func(i *Interface) {
					i.IPv4 = false
					i.Threshold = 255
				}),
			}},
		},
		{
			name: "failover, table, access lists, limits, fast leave",
			in: `table 100
ipv6 yes
interface wan {
	upstream
	priority 10
	deny group 239.255.255.250
	deny group ff05::fb
}
interface lte { upstream; priority 20 }
interface wan2 { upstream; priority 10 }
interface lan {
	downstream
	max-groups 65536
	max-sources 1
	fast-leave yes
	allow group 232.0.0.0/8 source 192.0.2.0/24
	deny group 232.0.0.0/8
	allow group any source 2001:db8::/32
	allow group ff02::fb
	deny group any
}
interface off { disabled; max-groups 1; fast-leave no; deny group "any" }
`,
			want: &Config{File: testFile, IPv4: true, IPv6: true, Table: 100, Interfaces: []Interface{
				with(iface("wan", RoleUpstream, 3), func(i *Interface) {
					i.IPv6 = true
					i.Priority = 10
					i.ACL = ACL{
						rule(false, "239.255.255.250/32", "", 6),
						rule(false, "ff05::fb/128", "", 7),
					}
				}),
				with(iface("lte", RoleUpstream, 9), func(i *Interface) {
					i.IPv6 = true
					i.Priority = 20
				}),
				with(iface("wan2", RoleUpstream, 10), func(i *Interface) {
					i.IPv6 = true
					i.Priority = 10
				}),
				with(iface("lan", RoleDownstream, 11), func(i *Interface) {
					i.IPv6 = true
					i.MaxGroups = 65536
					i.MaxSources = 1
					i.FastLeave = true
					i.ACL = ACL{
						rule(true, "232.0.0.0/8", "192.0.2.0/24", 16),
						rule(false, "232.0.0.0/8", "", 17),
						rule(true, "ff00::/8", "2001:db8::/32", 18),
						rule(true, "ff02::fb/128", "", 19),
						rule(false, "224.0.0.0/4", "", 20),
						rule(false, "ff00::/8", "", 20),
					}
				}),
				with(iface("off", RoleDisabled, 22), func(i *Interface) {
					i.IPv6 = true
					i.MaxGroups = 1
					i.ACL = ACL{
						{Group: netip.MustParsePrefix("224.0.0.0/4"), Pos: Pos{File: testFile, Line: 22, Col: 56}},
						{Group: netip.MustParsePrefix("ff00::/8"), Pos: Pos{File: testFile, Line: 22, Col: 56}},
					}
				}),
			}},
		},
		{
			name: "group any follows the families, largest table",
			in: `table 4294967295
interface wan { upstream; priority 65535; allow group any source 10.0.0.0/8; deny group any }
interface lan { downstream; ipv4 no; ipv6 yes; allow group any; max-groups 1; max-sources 1024 }
`,
			want: &Config{File: testFile, IPv4: true, Table: 4294967295, Interfaces: []Interface{
				with(iface("wan", RoleUpstream, 2), func(i *Interface) {
					i.Priority = 65535
					i.ACL = ACL{
						{Allow: true, Group: netip.MustParsePrefix("224.0.0.0/4"), Source: netip.MustParsePrefix("10.0.0.0/8"),
							Pos: Pos{File: testFile, Line: 2, Col: 43}},
						{Group: netip.MustParsePrefix("224.0.0.0/4"), Pos: Pos{File: testFile, Line: 2, Col: 78}},
					}
				}),
				with(iface("lan", RoleDownstream, 3), func(i *Interface) {
					i.IPv4 = false
					i.IPv6 = true
					i.MaxGroups = 1
					i.MaxSources = 1024
					i.ACL = ACL{{Allow: true, Group: netip.MustParsePrefix("ff00::/8"), Pos: Pos{File: testFile, Line: 3, Col: 48}}}
				}),
			}},
		},
		{
			name: "31 downstreams and a second upstream make 32",
			in:   "interface wan { upstream }\n" + lanBlocks(30) + "interface wan2 { upstream; priority 1 }\n",
			want: &Config{File: testFile, IPv4: true, Interfaces: append(append(
				[]Interface{iface("wan", RoleUpstream, 1)}, lanIfaces(30, 2)...),
				with(iface("wan2", RoleUpstream, 32), func(i *Interface) { i.Priority = 1 }))},
		},
		{
			name: "32 enabled interfaces and disabled ones beyond",
			in:   "interface wan { upstream }\n" + lanBlocks(31) + "interface off { disabled }\n",
			want: &Config{File: testFile, IPv4: true, Interfaces: append(append(
				[]Interface{iface("wan", RoleUpstream, 1)}, lanIfaces(31, 2)...),
				iface("off", RoleDisabled, 33))},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(testFile, []byte(tt.in))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if tt.want.MaxMemoryTotal == 0 {
				tt.want.MaxMemoryTotal = defaultMaxMemoryTotal << 10
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse mismatch\n got: %+v\nwant: %+v", got, tt.want)
			}
		})
	}
}

func TestParseQuoted(t *testing.T) {
	in := "# a comment with \"quotes\" { }\r\n\r\ninterface \"pppoe-wan\"\r\n{\r\n\tupstream\r\n}\r\n" +
		"interface \"br-lan\" { \"downstream\" }\n" +
		`interface "a\"b\\c#{}" { downstream }` + "\n"
	want := &Config{File: testFile, IPv4: true, MaxMemoryTotal: 4 << 20, Interfaces: []Interface{
		iface("pppoe-wan", RoleUpstream, 3),
		iface("br-lan", RoleDownstream, 7),
		iface(`a"b\c#{}`, RoleDownstream, 8),
	}}
	got, err := Parse(testFile, []byte(in))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Parse mismatch\n got: %+v\nwant: %+v", got, want)
	}
}

// rule returns a rule of a statement at line:2, the indented column.
func rule(allow bool, group, source string, line int) Rule {
	r := Rule{Allow: allow, Group: netip.MustParsePrefix(group), Pos: Pos{File: testFile, Line: line, Col: 2}}
	if source != "" {
		r.Source = netip.MustParsePrefix(source)
	}
	return r
}

func lanBlocks(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString("interface lan" + strconv.Itoa(i) + " { downstream }\n")
	}
	return b.String()
}

func lanIfaces(n, firstLine int) []Interface {
	var out []Interface
	for i := range n {
		out = append(out, iface("lan"+strconv.Itoa(i), RoleDownstream, firstLine+i))
	}
	return out
}

func TestParseInvalid(t *testing.T) {
	const ok = "interface wan { upstream }\ninterface lan { downstream }\n"
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{
			name: "empty file",
			in:   "",
			want: []string{
				"t.conf:1:1: no upstream interface; at least one interface needs \"upstream\"",
				"t.conf:1:1: no downstream interface; at least one interface needs \"downstream\"",
			},
		},
		{
			name: "unknown keywords with hints",
			in:   "ipv5 yes\ninterface wan { upstrem }\ninterface lan { downstream; frobnicate 3 }\n",
			want: []string{
				`t.conf:1:1: unknown option "ipv5"; did you mean "ipv4"?`,
				`t.conf:2:17: unknown option "upstrem"; did you mean "upstream"?`,
				`t.conf:3:29: unknown option "frobnicate"`,
			},
		},
		{
			name: "unknown top-level block is skipped whole",
			in:   "interfce wan {\n upstream\n}\n" + ok,
			want: []string{`t.conf:1:1: unknown option "interfce"; did you mean "interface"?`},
		},
		{
			name: "interface option at top level",
			in:   ok + "threshold 2\n",
			want: []string{`t.conf:3:1: "threshold" belongs inside an interface block`},
		},
		{
			name: "duplicates",
			in: "ipv4 yes\nipv4 yes\ninterface wan { upstream; upstream }\n" +
				"interface lan { downstream; threshold 2; threshold 3 }\ninterface wan { upstream; threshold 0 }\n",
			want: []string{
				`t.conf:2:1: duplicate "ipv4" (first at 1:1)`,
				`t.conf:3:27: duplicate "upstream" (first at 3:17)`,
				`t.conf:4:42: duplicate "threshold" (first at 4:29)`,
				`t.conf:5:1: duplicate interface "wan" (first at 3:1)`,
				`t.conf:5:37: threshold 0 is out of range 1..255`,
			},
		},
		{
			name: "roles",
			in:   "interface wan { upstream; downstream }\ninterface lan { downstream }\ninterface x { threshold 2 }\ninterface wan2 { upstream }\n",
			want: []string{
				`t.conf:1:27: interface "wan" has two roles: "upstream" (at 1:17) and "downstream"`,
				`t.conf:3:1: interface "x" has no role (upstream, downstream or disabled)`,
			},
		},
		{
			name: "no upstream, no downstream",
			in:   "interface a { disabled }\ninterface b { disabled }\n",
			want: []string{
				"t.conf:2:24: no upstream interface; at least one interface needs \"upstream\"",
				"t.conf:2:24: no downstream interface; at least one interface needs \"downstream\"",
			},
		},
		{
			name: "missing role from a typo is not reported twice",
			in:   "interface wan { upstram }\ninterface lan { downstream }\n",
			want: []string{`t.conf:1:17: unknown option "upstram"; did you mean "upstream"?`},
		},
		{
			name: "interface names",
			in: ok + "interface \"\" { disabled }\ninterface abcdefghijklmnop { disabled }\ninterface . { disabled }\n" +
				"interface .. { disabled }\ninterface a/b { disabled }\ninterface \"a b\" { disabled }\ninterface eth0:1 { disabled }\n" +
				"interface abcdefghijklmno { disabled }\ninterface \"a\x1bb\" { disabled }\n",
			want: []string{
				`t.conf:3:11: empty interface name`,
				`t.conf:4:11: interface name "abcdefghijklmnop" is longer than 15 bytes`,
				`t.conf:5:11: interface name "." is not allowed`,
				`t.conf:6:11: interface name ".." is not allowed`,
				`t.conf:7:11: interface name "a/b" contains "/", whitespace or NUL`,
				`t.conf:8:11: interface name "a b" contains "/", whitespace or NUL`,
				`t.conf:9:11: interface name "eth0:1" contains ":"; an alias label like eth0:1 is not an interface`,
				`t.conf:11:11: interface name "a\x1bb" contains a control character or invalid UTF-8`,
			},
		},
		{
			name: "sources",
			in: "interface wan {\n upstream\n source 10.0.0.1/8\n source 10.0.0.0/33\n source banana\n" +
				" source 10.0.0.0/8\n source 10.0.0.0/8\n source 2001:db8::/32\n source ::ffff:10.0.0.0/104\n source fe80::1%eth0\n}\n" +
				"interface lan { downstream; source 192.0.2.0/24 }\ninterface off { disabled; source 192.0.2.0/24 }\n",
			want: []string{
				`t.conf:3:9: source 10.0.0.1/8 has host bits set; did you mean 10.0.0.0/8?`,
				`t.conf:4:9: source "10.0.0.0/33" is not a valid prefix`,
				`t.conf:5:9: source "banana" is not a valid prefix`,
				`t.conf:7:9: duplicate source 10.0.0.0/8 (first at 6:9)`,
				`t.conf:8:9: source 2001:db8::/32 is IPv6 but ipv6 is disabled on interface "wan"`,
				`t.conf:9:9: source ::ffff:10.0.0.0/104 is IPv4-mapped; write it as an IPv4 prefix`,
				`t.conf:10:9: source "fe80::1%eth0" is not a valid prefix`,
				`t.conf:12:29: source is only meaningful on an upstream interface`,
				`t.conf:13:27: source is only meaningful on an upstream interface`,
			},
		},
		{
			name: "querier options on the upstream",
			in:   "interface wan { upstream; igmp-version 2; query-interval 60\n robustness 9 }\ninterface lan { downstream }\n",
			want: []string{
				`t.conf:1:27: igmp-version is only meaningful on a downstream interface`,
				`t.conf:1:43: query-interval is only meaningful on a downstream interface`,
				`t.conf:2:2: robustness is only meaningful on a downstream interface`,
			},
		},
		{
			name: "integer ranges",
			in: "interface wan { upstream; threshold 256 }\ninterface lan {\n downstream\n threshold 0\n igmp-version 4\n" +
				" mld-version 3\n robustness 8\n last-member-query-count 11\n startup-query-count 0\n}\n" +
				"interface lan2 { downstream; robustness 0; threshold -1; igmp-version two; mld-version 99999999999999999999 }\n",
			want: []string{
				`t.conf:1:37: threshold 256 is out of range 1..255`,
				`t.conf:4:12: threshold 0 is out of range 1..255`,
				`t.conf:5:15: igmp-version 4 is out of range 1..3`,
				`t.conf:6:14: mld-version 3 is out of range 1..2`,
				`t.conf:7:13: robustness 8 is out of range 1..7 (QRV is a 3-bit field, RFC 3376 §4.1.6)`,
				`t.conf:8:26: last-member-query-count 11 is out of range 1..10`,
				`t.conf:9:22: startup-query-count 0 is out of range 1..10`,
				`t.conf:11:41: robustness 0 is out of range 1..7 (QRV is a 3-bit field, RFC 3376 §4.1.6)`,
				`t.conf:11:54: threshold: "-1" is not a whole number`,
				`t.conf:11:71: igmp-version: "two" is not a whole number`,
				`t.conf:11:88: mld-version: "99999999999999999999" is too large`,
			},
		},
		{
			name: "duration syntax and ranges",
			in: ok + "interface lan2 {\n downstream\n query-interval 0.5\n query-response-interval 3174.5\n" +
				" last-member-query-interval 50ms\n startup-query-interval 1h\n}\n" +
				"interface lan3 { downstream; query-interval 31745; query-response-interval 150ms; last-member-query-interval 0 }\n" +
				"interface lan4 { downstream; query-interval 1.5; query-response-interval .5; last-member-query-interval 1.; startup-query-interval 99999999999m }\n" +
				"interface lan5 { downstream; startup-query-interval 31745s; query-response-interval 1e3 }\n",
			want: []string{
				`t.conf:5:17: query-interval 500ms is out of range 1s..31744s (QQIC, RFC 3376 §4.1.7)`,
				`t.conf:6:26: query-response-interval 3174.5s is out of range 100ms..3174.4s (Max Resp Code, RFC 3376 §4.1.1)`,
				`t.conf:7:29: last-member-query-interval 50ms is out of range 100ms..3174.4s (Max Resp Code, RFC 3376 §4.1.1)`,
				`t.conf:8:25: startup-query-interval: "1h" is not a duration (seconds, or a number with ms, s or m)`,
				`t.conf:10:45: query-interval 31745s is out of range 1s..31744s (QQIC, RFC 3376 §4.1.7)`,
				`t.conf:10:76: query-response-interval 150ms is not a multiple of 100ms (Max Resp Code, RFC 3376 §4.1.1)`,
				`t.conf:10:110: last-member-query-interval 0ms is out of range 100ms..3174.4s (Max Resp Code, RFC 3376 §4.1.1)`,
				`t.conf:11:45: query-interval 1.5s is not a multiple of 1s (QQIC, RFC 3376 §4.1.7)`,
				`t.conf:11:74: query-response-interval: ".5" is not a duration (seconds, or a number with ms, s or m)`,
				`t.conf:11:105: last-member-query-interval: "1." is not a duration (seconds, or a number with ms, s or m)`,
				`t.conf:11:132: startup-query-interval: "99999999999m" is too large`,
				`t.conf:12:53: startup-query-interval 31745s is out of range 100ms..31744s`,
				`t.conf:12:85: query-response-interval: "1e3" is not a duration (seconds, or a number with ms, s or m)`,
			},
		},
		{
			name: "timer relations and old protocol versions",
			in: "ipv6 yes\ninterface wan { upstream }\n" +
				"interface a { downstream; query-interval 10 }\n" +
				"interface b { downstream; query-response-interval 20; query-interval 20 }\n" +
				"interface c { downstream; igmp-version 2; query-response-interval 25.6; last-member-query-interval 30 }\n" +
				"interface d { downstream; igmp-version 1; query-response-interval 5 }\n" +
				"interface e { downstream; mld-version 1; query-response-interval 65.6; last-member-query-interval 70 }\n" +
				"interface f { downstream; ipv4 no; igmp-version 2; query-response-interval 30 }\n",
			want: []string{
				`t.conf:3:27: query-response-interval (10s) must be less than query-interval (10s), RFC 3376 §8.3`,
				`t.conf:4:55: query-response-interval (20s) must be less than query-interval (20s), RFC 3376 §8.3`,
				`t.conf:5:67: query-response-interval 25.6s is too long for igmp-version 2 (Max Resp Time, RFC 2236 §2.2); at most 25.5s`,
				`t.conf:5:100: last-member-query-interval 30s is too long for igmp-version 2 (Max Resp Time, RFC 2236 §2.2); at most 25.5s`,
				`t.conf:6:67: query-response-interval cannot be set with igmp-version 1: IGMPv1 queries carry no response time and hosts answer within 10s (RFC 2236 §4)`,
				`t.conf:7:66: query-response-interval 65.6s is too long for mld-version 1 (Maximum Response Delay, RFC 2710 §3.4); at most 65.535s`,
				`t.conf:7:99: last-member-query-interval 70s is too long for mld-version 1 (Maximum Response Delay, RFC 2710 §3.4); at most 65.535s`,
			},
		},
		{
			name: "families",
			in:   "ipv4 no\nipv6 no\ninterface wan { upstream; ipv4 yes }\ninterface lan { downstream; ipv4 no }\ninterface lan2 { downstream }\n",
			want: []string{
				`t.conf:2:1: ipv4 and ipv6 are both disabled; nothing to proxy`,
				`t.conf:4:29: interface "lan" has both ipv4 and ipv6 disabled`,
			},
		},
		{
			name: "priority",
			in: "interface wan { upstream; priority 65536 }\ninterface lan { downstream; priority 1 }\n" +
				"interface off { disabled; priority 2 }\ninterface wan2 { upstream; priority -1 }\n",
			want: []string{
				`t.conf:1:36: priority 65536 is out of range 0..65535`,
				`t.conf:2:29: priority is only meaningful on an upstream interface`,
				`t.conf:3:27: priority is only meaningful on an upstream interface`,
				`t.conf:4:37: priority: "-1" is not a whole number`,
			},
		},
		{
			name: "table range and placement",
			in:   "table 0\n" + ok + "interface lan2 { downstream; table 5 }\npriority 5\n",
			want: []string{
				`t.conf:1:7: table 0 is out of range 1..4294967295`,
				`t.conf:4:30: "table" is a global option; it belongs outside interface blocks`,
				`t.conf:5:1: "priority" belongs inside an interface block`,
			},
		},
		{
			name: "table too large",
			in:   "table 4294967296\n" + ok,
			want: []string{`t.conf:1:7: table 4294967296 is out of range 1..4294967295`},
		},
		{
			name: "table beyond 64 bits",
			in:   "table 18446744073709551616\n" + ok,
			want: []string{`t.conf:1:7: table: "18446744073709551616" is too large`},
		},
		{
			name: "table is the kernel default",
			in:   "table 253\n" + ok,
			want: []string{`t.conf:1:7: table 253 is the kernel's default multicast table; leave table out to use it`},
		},
		{
			name: "table syntax",
			in:   "table x\ntable 7 extra\ntable 8\n" + ok,
			want: []string{
				`t.conf:1:7: table: "x" is not a whole number`,
				`t.conf:2:9: unexpected "extra" after table`,
				`t.conf:3:1: duplicate "table" (first at 2:1)`,
			},
		},
		{
			name: "limits and fast leave",
			in: "interface wan { upstream; max-groups 5; max-sources 5\n fast-leave yes }\n" +
				"interface lan { downstream; max-groups 0; max-sources 0 }\n" +
				"interface lan2 { downstream; max-groups 65537; max-sources 1025; fast-leave maybe }\n",
			want: []string{
				`t.conf:1:27: max-groups is only meaningful on a downstream interface`,
				`t.conf:1:41: max-sources is only meaningful on a downstream interface`,
				`t.conf:2:2: fast-leave is only meaningful on a downstream interface`,
				`t.conf:3:40: max-groups 0 is out of range 1..65536`,
				`t.conf:3:55: max-sources 0 is out of range 1..1024`,
				`t.conf:4:41: max-groups 65537 is out of range 1..65536`,
				`t.conf:4:60: max-sources 1025 is out of range 1..1024`,
				`t.conf:4:77: fast-leave: expected yes or no, found "maybe"`,
			},
		},
		{
			name: "rule syntax",
			in: ok + "interface lan2 {\n downstream\n allow\n allow 239.0.0.0/8\n deny group\n" +
				" allow group 239.0.0.0/8 src 10.0.0.0/8\n allow group 239.0.0.0/8 source\n" +
				" deny group 239.1.1.1 source 10.0.0.1 extra\n deny group ; allow group 239.2.0.0/16 source }\n",
			want: []string{
				`t.conf:5:7: allow: expected "group", found end of line`,
				`t.conf:6:8: allow: expected "group", found "239.0.0.0/8"`,
				`t.conf:7:7: deny group needs a value`,
				`t.conf:8:26: unexpected "src" in allow rule; expected "source" or the end of the statement`,
				`t.conf:9:26: allow source needs a value`,
				`t.conf:10:39: unexpected "extra" after deny rule`,
				`t.conf:11:7: deny group needs a value`,
				`t.conf:11:40: allow source needs a value`,
			},
		},
		{
			name: "rule prefixes",
			in: "interface wan { upstream }\ninterface lan {\n downstream\n allow group 10.0.0.0/8\n allow group 224.0.0.0/3\n" +
				" deny group 0.0.0.0/0\n deny group 239.1.1.1/8\n deny group banana\n deny group ff05::fb\n" +
				" allow group 239.0.0.0/8 source 239.0.0.0/8\n allow group 239.0.0.0/8 source 2001:db8::/32\n" +
				" deny group any source 2001:db8::/32\n allow group 239.0.0.0/8 source 10.0.0.1/8\n" +
				" allow group 232.0.0.0/8 source ::ffff:10.0.0.0/104\n allow group ff02::fb%eth0\n}\n" +
				"interface lan6 { downstream; ipv6 yes; allow group ff3e::/16 source 192.0.2.0/24 }\n",
			want: []string{
				`t.conf:4:14: group 10.0.0.0/8 is not a multicast prefix; groups lie in 224.0.0.0/4 and ff00::/8, or write "any"`,
				`t.conf:5:14: group 224.0.0.0/3 is not a multicast prefix; groups lie in 224.0.0.0/4 and ff00::/8, or write "any"`,
				`t.conf:6:13: group 0.0.0.0/0 is not a multicast prefix; groups lie in 224.0.0.0/4 and ff00::/8, or write "any"`,
				`t.conf:7:13: group 239.1.1.1/8 has host bits set; did you mean 239.0.0.0/8?`,
				`t.conf:8:13: group "banana" is not a valid prefix`,
				`t.conf:9:13: group ff05::fb/128 is IPv6 but ipv6 is disabled on interface "lan"`,
				`t.conf:10:33: source 239.0.0.0/8 is a multicast prefix; a source is the unicast address of a sender`,
				`t.conf:11:33: source 2001:db8::/32 is IPv6 but ipv6 is disabled on interface "lan"`,
				`t.conf:12:24: source 2001:db8::/32 is IPv6 but ipv6 is disabled on interface "lan"`,
				`t.conf:13:33: source 10.0.0.1/8 has host bits set; did you mean 10.0.0.0/8?`,
				`t.conf:14:33: source ::ffff:10.0.0.0/104 is IPv4-mapped; write it as an IPv4 prefix`,
				`t.conf:15:14: group "ff02::fb%eth0" is not a valid prefix`,
				`t.conf:17:69: source 192.0.2.0/24 and group ff3e::/16 are of different families`,
			},
		},
		{
			name: "rules that never match",
			in: "ipv6 yes\ninterface wan { upstream }\ninterface lan {\n downstream\n deny group 239.0.0.0/8\n" +
				" allow group 239.255.255.250\n allow group 232.0.0.0/8 source 10.0.0.0/8\n" +
				" allow group 232.1.0.0/16 source 10.1.0.0/16\n deny group 232.1.0.0/16\n deny group 232.0.0.0/8\n" +
				" deny group 232.0.0.0/8\n allow group any\n deny group ff05::fb\n deny group 239.1.0.0/16 source 10.0.0.0/8\n" +
				" allow group ff00::/12 source 2001:db8::/32\n deny group any\n allow group any source 10.0.0.0/8\n}\n",
			want: []string{
				`t.conf:6:2: allow group 239.255.255.250 never matches: "deny group 239.0.0.0/8" at 5:2 comes first and covers it`,
				`t.conf:8:2: allow group 232.1.0.0/16 source 10.1.0.0/16 never matches: "allow group 232.0.0.0/8 source 10.0.0.0/8" at 7:2 comes first and covers it`,
				`t.conf:11:2: deny group 232.0.0.0/8 never matches: "deny group 232.0.0.0/8" at 10:2 comes first and covers it`,
				`t.conf:13:2: deny group ff05::fb never matches: "allow group ff00::/8" at 12:2 comes first and covers it`,
				`t.conf:14:2: deny group 239.1.0.0/16 source 10.0.0.0/8 never matches: "deny group 239.0.0.0/8" at 5:2 comes first and covers it`,
				`t.conf:15:2: allow group ff00::/12 source 2001:db8::/32 never matches: "allow group ff00::/8" at 12:2 comes first and covers it`,
				`t.conf:16:2: deny group any never matches: "allow group 224.0.0.0/4" at 12:2 comes first and covers it`,
				`t.conf:17:2: allow group any source 10.0.0.0/8 never matches: "allow group 224.0.0.0/4" at 12:2 comes first and covers it`,
			},
		},
		{
			name: "too many interfaces with two upstreams",
			in:   "interface wan { upstream }\ninterface wan2 { upstream }\n" + lanBlocks(31),
			want: []string{`t.conf:33:1: interface "lan30" is enabled interface number 33; the kernel has only 32 multicast interfaces (VIFs)`},
		},
		{
			name: "too many interfaces",
			in:   "interface wan { upstream }\n" + lanBlocks(32),
			want: []string{`t.conf:33:1: interface "lan31" is enabled interface number 33; the kernel has only 32 multicast interfaces (VIFs)`},
		},
		{
			name: "syntax",
			in: "interface wan { upstream } extra\ninterface { downstream }\ninterface lan downstream\n" +
				"interface lan2 { downstream threshold 2 }\n}\n{\ninterface lan3 { threshold }\n" +
				"interface lan4 { { downstream }\nipv6\ninterface \"lan5 { downstream }\n",
			want: []string{
				`t.conf:1:28: unexpected "extra" after "}"`,
				`t.conf:2:11: interface needs a name, found "{"`,
				`t.conf:3:15: expected "{" after interface "lan", found "downstream"`,
				`t.conf:4:29: unexpected "threshold" after downstream`,
				`t.conf:5:1: unexpected "}"`,
				`t.conf:6:1: unexpected "{"`,
				`t.conf:7:18: threshold needs a value`,
				`t.conf:8:18: unexpected "{"`,
				`t.conf:9:1: ipv6 needs a value`,
				`t.conf:10:11: unterminated quoted string`,
				`t.conf:11:1: expected "{" after interface "lan5 { downstream }", found end of file`,
			},
		},
		{
			name: "missing closing braces",
			in:   "interface wan { upstream\ninterface lan { downstream\n",
			want: []string{
				`t.conf:2:1: missing "}" to close interface "wan" (opened at 1:15)`,
				`t.conf:2:15: missing "}" to close interface "lan"`,
			},
		},
		{
			name: "bad escape",
			in:   `interface "a\tb" { upstream }` + "\ninterface lan { downstream }\n",
			want: []string{
				`t.conf:1:13: unknown escape in quoted string; only \" and \\ are allowed`,
			},
		},
		{
			name: "columns count characters",
			in:   "# ünïcödé\ninterface wan { upstream }\ninterface lan { downstream } # ü\n\"ü\" x\n",
			want: []string{`t.conf:4:1: unknown option "ü"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(testFile, []byte(tt.in))
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", c)
			}
			if c != nil {
				t.Errorf("Parse returned a config with errors")
			}
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("error is %T, want Errors", err)
			}
			got := strings.Split(err.Error(), "\n")
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("errors:\n got: %s\nwant: %s", strings.Join(got, "\n      "), strings.Join(tt.want, "\n      "))
			}
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.conf")
	if err := os.WriteFile(good, []byte(exampleConf), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(good)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.File != good || c.Upstream().Name != "eth0" || c.Interfaces[1].Pos.File != good {
		t.Errorf("Load: file or positions not set from the path: %+v", c)
	}

	missing := filepath.Join(dir, "missing.conf")
	_, err = Load(missing)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("Load(missing) = %v, want a not-exist error naming the path", err)
	}
	var es Errors
	if errors.As(err, &es) {
		t.Errorf("Load(missing) returned Errors, want a plain error")
	}

	bad := filepath.Join(dir, "bad.conf")
	if err := os.WriteFile(bad, []byte("interface wan { upstream }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(bad)
	want := bad + ":1:26: no downstream interface; at least one interface needs \"downstream\""
	if err == nil || err.Error() != want {
		t.Errorf("Load(bad) = %v, want %s", err, want)
	}
}

func TestUpstreamDownstreams(t *testing.T) {
	c, err := Parse(testFile, []byte(exampleConf))
	if err != nil {
		t.Fatal(err)
	}
	if up := c.Upstream(); up != &c.Interfaces[0] {
		t.Errorf("Upstream() = %p, want %p", up, &c.Interfaces[0])
	}
	var names []string
	for _, d := range c.Downstreams() {
		names = append(names, d.Name)
	}
	if want := []string{"br-lan", "guest", "lan2"}; !reflect.DeepEqual(names, want) {
		t.Errorf("Downstreams() = %v, want %v", names, want)
	}
	if up := (&Config{}).Upstream(); up != nil {
		t.Errorf("Upstream() of an empty config = %+v, want nil", up)
	}
}

func TestErrors(t *testing.T) {
	first := &Error{Pos: Pos{File: "f", Line: 1, Col: 2}, Msg: "one"}
	es := Errors{first, {Pos: Pos{File: "f", Line: 3, Col: 4}, Msg: "two"}}
	var err error = es
	if got, want := err.Error(), "f:1:2: one\nf:3:4: two"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	var e *Error
	if !errors.As(err, &e) || e != first {
		t.Errorf("errors.As found %v, want the first error", e)
	}
}

func TestPosRoleString(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{Pos{File: "a.conf", Line: 3, Col: 7}.String(), "a.conf:3:7"},
		{Pos{File: "/etc/config/mcast-proxy", Line: 12}.String(), "/etc/config/mcast-proxy:12"},
		{Pos{File: "x.json"}.String(), "x.json"},
		{Pos{Line: 2, Col: 1}.String(), "2:1"},
		{(&Error{Pos: Pos{File: "x.json"}, Msg: "m"}).Error(), "x.json: m"},
		{(&Error{Msg: "m"}).Error(), "m"},
		{RoleDisabled.String(), "disabled"},
		{RoleUpstream.String(), "upstream"},
		{RoleDownstream.String(), "downstream"},
		{Role(7).String(), "role(7)"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestDurations(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		text string // formatDuration(want)
	}{
		{"125", 125 * time.Second, "125s"},
		{"0.5", 500 * time.Millisecond, "500ms"},
		{"0.25", 250 * time.Millisecond, "250ms"},
		{"100ms", 100 * time.Millisecond, "100ms"},
		{"1.5ms", 1500 * time.Microsecond, "0.0015s"},
		{"2s", 2 * time.Second, "2s"},
		{"31.25s", 31250 * time.Millisecond, "31.25s"},
		{"3174.4", 3174400 * time.Millisecond, "3174.4s"},
		{"1m", time.Minute, "60s"},
		{"1.5m", 90 * time.Second, "90s"},
		{"0.000000001", time.Nanosecond, "0.000000001s"},
		{"31743.999999999", 31744*time.Second - time.Nanosecond, "31743.999999999s"},
	}
	for _, tt := range tests {
		d, err := parseDuration(tt.in)
		if err != nil || d != tt.want {
			t.Errorf("parseDuration(%q) = %v, %v, want %v", tt.in, d, err, tt.want)
		}
		if got := formatDuration(tt.want); got != tt.text {
			t.Errorf("formatDuration(%v) = %q, want %q", tt.want, got, tt.text)
		}
		if d, err := parseDuration(tt.text); err != nil || d != tt.want {
			t.Errorf("parseDuration(formatDuration(%v)) = %v, %v", tt.want, d, err)
		}
	}
	for _, bad := range []string{"", "s", "ms", "-1", "+1", "1h", "1us", "1s500ms", ".5", "5.", "1.2.3", "1 s", "1e3", "0x10", "１"} {
		if d, err := parseDuration(bad); err == nil {
			t.Errorf("parseDuration(%q) = %v, want an error", bad, d)
		}
	}
}

// TestFormat checks that Format spells out every value and that it parses
// back to the same configuration.
func TestFormat(t *testing.T) {
	c, err := Parse(testFile, []byte(exampleConf))
	if err != nil {
		t.Fatal(err)
	}
	out := string(c.Format())
	for _, want := range []string{
		"ipv4 yes\nipv6 no\n",
		"interface \"eth0\" {\n\tupstream\n\tpriority 0\n\tsource 10.0.0.0/8\n\tthreshold 1\n\tipv4 yes\n\tipv6 no\n}\n",
		"\tstartup-query-interval 31.25s\n",
		"interface \"eth1\" {\n\tdisabled\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("Format() lacks %q:\n%s", want, out)
		}
	}
	checkRoundTrip(t, c)

	c, err = Parse(testFile, []byte(featuresConf))
	if err != nil {
		t.Fatal(err)
	}
	out = string(c.Format())
	for _, want := range []string{
		"ipv4 yes\nipv6 yes\ntable 100\n",
		"interface \"wan\" {\n\tupstream\n\tpriority 10\n\tthreshold 1\n" +
			"\tdeny group 239.255.255.250/32\n\tdeny group ff05::fb/128\n\tipv4 yes\n\tipv6 yes\n}\n",
		"\tallow group ff00::/8 source 2001:db8::/32\n", // the source's family only
		"\tdeny group 224.0.0.0/4\n\tdeny group ff00::/8\n",
		"\tmax-groups 256\n\tmax-sources 16\n\tmax-memory 2048\n\tfast-leave yes\n\tallow group 232.0.0.0/8 source 192.0.2.0/24\n",
		"\tallow group ff3e::/16\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("Format() lacks %q:\n%s", want, out)
		}
	}
	checkRoundTrip(t, c)
}

// checkRoundTrip parses c.Format() and compares the result with c,
// positions aside.
func checkRoundTrip(t *testing.T, c *Config) {
	t.Helper()
	again, err := Parse(c.File, c.Format())
	if err != nil {
		t.Fatalf("Format() does not parse: %v\n%s", err, c.Format())
	}
	if a, b := withoutPos(c), withoutPos(again); !reflect.DeepEqual(a, b) {
		t.Fatalf("Format() round trip differs\n got: %+v\nwant: %+v", b, a)
	}
}

func withoutPos(c *Config) *Config {
	out := *c
	out.Pos = Pos{}
	out.Proxies = nil
	for _, pc := range c.Proxies {
		out.Proxies = append(out.Proxies, withoutPos(pc))
	}
	out.Interfaces = append([]Interface(nil), c.Interfaces...)
	for i := range out.Interfaces {
		it := &out.Interfaces[i]
		it.Pos = Pos{}
		it.ACL = append(ACL(nil), it.ACL...)
		for j := range it.ACL {
			it.ACL[j].Pos = Pos{}
		}
	}
	return &out
}

// TestDocExamples parses every example in mcast-proxy.conf(5) that declares
// an upstream, so the manual cannot drift from the parser.
func TestDocExamples(t *testing.T) {
	// The manual is part of the repository, and test binaries run in
	// their package directory (make test-cross does so under qemu too):
	// a missing manual is a failure, not a reason to skip.
	doc, err := os.ReadFile("../../docs/mcast-proxy.conf.5.md")
	if err != nil {
		t.Fatalf("manual not found: %v", err)
	}
	blocks := strings.Split(string(doc), "```")
	n := 0
	for i := 1; i < len(blocks); i += 2 {
		if !strings.Contains(blocks[i], "upstream") || strings.HasPrefix(blocks[i], "\n/") {
			continue
		}
		n++
		if _, err := ParseAuto("example", []byte(blocks[i])); err != nil {
			t.Errorf("example %d does not parse: %v\n%s", n, err, blocks[i])
		}
	}
	if n < 3 {
		t.Errorf("found %d examples, want at least 3", n)
	}
}

// TestMemoryBudgets: max-memory (per downstream) and max-memory-total (all
// downstreams) are KiB, with defaults, ranges, and max-memory refused on an
// upstream.
func TestMemoryBudgets(t *testing.T) {
	c, err := Parse(testFile, []byte("max-memory-total 8192\ninterface wan { upstream }\ninterface lan { downstream; max-memory 512 }\ninterface guest { downstream }\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxMemoryTotal != 8<<20 || c.Interfaces[1].MaxMemory != 512<<10 || c.Interfaces[2].MaxMemory != 2<<20 {
		t.Errorf("total %d, lan %d, guest %d; want 8 MiB, 512 KiB, 2 MiB", c.MaxMemoryTotal, c.Interfaces[1].MaxMemory, c.Interfaces[2].MaxMemory)
	}
	_, err = Parse(testFile, []byte("max-memory-total 10\ninterface wan { upstream; max-memory 100 }\ninterface lan { downstream; max-memory 2000000 }\n"))
	want := []string{
		"t.conf:1:18: max-memory-total 10 is out of range 64..1048576",
		"t.conf:2:27: max-memory is only meaningful on a downstream interface",
		"t.conf:3:40: max-memory 2000000 is out of range 64..1048576",
	}
	if got := errorLines(err); !reflect.DeepEqual(got, want) {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func errorLines(err error) []string {
	var errs Errors
	if !errors.As(err, &errs) {
		return nil
	}
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}
