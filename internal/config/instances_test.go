package config

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
)

// instancesConf is the README's example: IPTV from a provider VLAN to
// br-tv, and a second uplink to br-lan, in one daemon.
const instancesConf = `# IPTV VLAN to br-tv, second uplink to br-lan
ipv6 yes
max-memory-total 8192

proxy tv {
	ipv6 no
	max-memory-total 2048
	interface eth0.7 { upstream; source 10.0.0.0/8 }
	interface br-tv { downstream; fast-leave yes }
}

proxy lan {
	table 120
	interface wan2 { upstream }
	interface br-lan { downstream }
}
`

// instancesUCI is the same in the UCI schema.
const instancesUCI = `config proxy 'main'
	option ipv6 '1'
	option max_memory_total '8192'

config proxy 'tv'
	option ipv6 '0'
	option max_memory_total '2048'

config proxy 'lan'
	option table '120'

config interface 'iptv'
	option proxy 'tv'
	option device 'eth0.7'
	option role 'upstream'
	list source '10.0.0.0/8'

config interface 'tvlan'
	option proxy 'tv'
	option device 'br-tv'
	option role 'downstream'
	option fast_leave '1'

config interface 'wan2'
	option proxy 'lan'
	option device 'wan2'
	option role 'upstream'

config interface 'lan'
	option proxy 'lan'
	option device 'br-lan'
	option role 'downstream'
`

func TestInstancesValid(t *testing.T) {
	check := func(t *testing.T, c *Config) {
		t.Helper()
		ins := c.Instances()
		var names []string
		for _, in := range ins {
			names = append(names, in.Name)
		}
		if !slices.Equal(names, []string{"tv", "lan"}) {
			t.Fatalf("instances %q, want tv and lan only (the default instance has no interfaces)", names)
		}
		tv, lan := ins[0], ins[1]
		if tv.Table != 0 || lan.Table != 120 {
			t.Errorf("tables %d and %d, want 0 (automatic) and 120", tv.Table, lan.Table)
		}
		if tv.IPv6 || !lan.IPv6 || !tv.IPv4 {
			t.Errorf("tv ipv4 %v ipv6 %v, lan ipv6 %v: want tv IPv4 only, lan inheriting ipv6 yes", tv.IPv4, tv.IPv6, lan.IPv6)
		}
		if tv.MaxMemoryTotal != 2048<<10 || lan.MaxMemoryTotal != 8192<<10 || c.MaxMemoryTotal != 8192<<10 {
			t.Errorf("budgets tv %d lan %d total %d", tv.MaxMemoryTotal, lan.MaxMemoryTotal, c.MaxMemoryTotal)
		}
		if u := tv.Upstream(); u == nil || u.Name != "eth0.7" || u.IPv6 {
			t.Errorf("tv upstream %+v, want eth0.7 without IPv6", u)
		}
		if d := lan.Downstreams(); len(d) != 1 || d[0].Name != "br-lan" || !d[0].IPv6 {
			t.Errorf("lan downstreams %+v, want br-lan with IPv6", d)
		}
		if c.Instance("lan") != lan || c.Instance("x") != nil {
			t.Errorf("Instance lookup broken")
		}
		checkRoundTrip(t, c)
		checkUCIRoundTrip(t, c)
	}
	t.Run("native", func(t *testing.T) {
		c, err := Parse(testFile, []byte(instancesConf))
		if err != nil {
			t.Fatal(err)
		}
		check(t, c)
	})
	t.Run("uci", func(t *testing.T) {
		c, err := ParseUCI(testFile, []byte(instancesUCI))
		if err != nil {
			t.Fatal(err)
		}
		check(t, c)
	})
	t.Run("default instance beside named ones", func(t *testing.T) {
		c, err := Parse(testFile, []byte("table 7\ninterface wan { upstream }\ninterface lan { downstream }\n"+
			"proxy b { interface wan2 { upstream }; interface lan2 { downstream } }\n"))
		if err != nil {
			t.Fatal(err)
		}
		ins := c.Instances()
		if len(ins) != 2 || ins[0].Name != "" || ins[0].Table != 7 || len(ins[0].Proxies) != 0 || ins[1].Name != "b" {
			t.Fatalf("instances %+v", ins)
		}
		checkRoundTrip(t, c)
		checkUCIRoundTrip(t, c)
	})
	t.Run("no proxy blocks is the default instance", func(t *testing.T) {
		c, err := Parse(testFile, []byte("interface wan { upstream }\ninterface lan { downstream }\n"))
		if err != nil {
			t.Fatal(err)
		}
		if ins := c.Instances(); len(ins) != 1 || ins[0].Name != "" || len(ins[0].Interfaces) != 2 {
			t.Fatalf("instances %+v", ins)
		}
	})
	t.Run("uci default instance named", func(t *testing.T) {
		c, err := ParseUCI(testFile, []byte("config proxy 'main'\nconfig interface\n\toption proxy 'main'\n\toption device 'a'\n\toption role 'upstream'\n"+
			"config interface\n\toption device 'b'\n\toption role 'downstream'\n"))
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Proxies) != 0 || len(c.Interfaces) != 2 {
			t.Fatalf("option proxy naming the first section must mean the default instance: %+v", c)
		}
	})
}

func TestInstancesInvalid(t *testing.T) {
	const pair = "interface wan { upstream }\ninterface lan { downstream }\n"
	native := []struct {
		name string
		in   string
		want []string
	}{
		{"interface in two instances", pair + "proxy tv {\n\tinterface wan { upstream }\n\tinterface tv { downstream }\n}\n", []string{
			`t.conf:4:2: interface "wan" is already in the default instance (at 1:1); an interface belongs to one proxy instance`,
		}},
		{"interface in two named instances", "proxy a { interface x { upstream }; interface y { downstream } }\n" +
			"proxy b { interface z { upstream }\n\tinterface y { downstream } }\n", []string{
			`t.conf:3:2: interface "y" is already in proxy "a" (at 1:37); an interface belongs to one proxy instance`,
		}},
		{"duplicate proxy", "proxy a { interface x { upstream }; interface y { downstream } }\nproxy a { interface z { upstream }; interface w { downstream } }\n", []string{
			`t.conf:2:1: duplicate proxy "a" (first at 1:1)`,
		}},
		{"same table twice", "table 9\n" + pair + "proxy a { table 9; interface x { upstream }; interface y { downstream } }\n", []string{
			`t.conf:4:17: table 9 is already the table of the default instance (at 1:7); each proxy instance needs its own table`,
		}},
		{"default table on a named proxy", "proxy a { table 253; interface x { upstream }; interface y { downstream } }\n", []string{
			`t.conf:1:17: table 253 is the kernel's default multicast table, which a named proxy cannot use; leave table out to have one chosen`,
		}},
		{"proxy without roles", pair + "proxy a {\n\tinterface x { downstream }\n}\n", []string{
			`t.conf:5:1: no upstream interface in proxy "a"; at least one interface needs "upstream"`,
		}},
		{"bad name", "proxy tv-1 { interface x { upstream }; interface y { downstream } }\n", []string{
			`t.conf:1:7: proxy name "tv-1" may hold only letters, digits and "_"`,
		}},
		{"unclosed proxy", "proxy a {\n\tinterface x { upstream }\nproxy b { interface y { upstream }; interface z { downstream } }\n", []string{
			`t.conf:3:1: missing "}" to close proxy "a" (opened at 1:9); proxy blocks do not nest`,
		}},
		{"interface option in a proxy block", "proxy a { threshold 2; interface x { upstream }; interface y { downstream } }\n", []string{
			`t.conf:1:11: "threshold" belongs inside an interface block`,
		}},
		{"proxy without a block", "proxy a\n" + pair, []string{
			`t.conf:2:1: expected "{" after proxy "a", found "interface"`,
			`t.conf:3:28: no upstream interface; at least one interface needs "upstream"`,
		}},
		{"families off in a proxy", "proxy a { ipv4 no; interface x { upstream }; interface y { downstream } }\n", []string{
			`t.conf:1:11: ipv4 and ipv6 are both disabled; nothing to proxy`,
		}},
	}
	for _, tt := range native {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(testFile, []byte(tt.in))
			checkErrors(t, err, tt.want)
		})
	}
	const uciPair = "config interface\n\toption device 'wan'\n\toption role 'upstream'\nconfig interface\n\toption device 'lan'\n\toption role 'downstream'\n"
	uci := []struct {
		name string
		in   string
		want []string
	}{
		{"unknown proxy", "config proxy 'main'\nconfig proxy 'tv'\n" + uciPair + "config interface\n\toption proxy 'vt'\n\toption device 'x'\n\toption role 'upstream'\n", []string{
			`t.conf:2:1: no upstream interface in proxy "tv"; at least one interface needs "upstream"`,
			`t.conf:2:1: no downstream interface in proxy "tv"; at least one interface needs "downstream"`,
			`t.conf:10:15: proxy "vt": there is no proxy section of that name; did you mean "tv"?`,
		}},
		{"anonymous further proxy", "config proxy\nconfig proxy\n\toption table '5'\n" + uciPair, []string{
			`t.conf:2:1: a further proxy section (the first is at 1:1) is a proxy instance and needs a name, which its interface sections give in option proxy`,
		}},
		{"proxy declared twice", "config proxy 'main'\nconfig proxy 'main'\n" + uciPair, []string{
			`t.conf:2:1: proxy section "main" is declared twice (first at 1:1); uci merges the two, so give each its own name`,
		}},
		{"daemon settings in an instance", "config proxy 'main'\nconfig proxy 'tv'\n\toption enabled '1'\n\toption proxy 'x'\n" + uciPair +
			"config interface\n\toption proxy 'tv'\n\toption device 'a'\n\toption role 'upstream'\n" +
			"config interface\n\toption proxy 'tv'\n\toption proxy 'tv'\n\toption device 'b'\n\toption role 'downstream'\n", []string{
			`t.conf:3:9: enabled belongs in the first proxy section, which holds the settings of the whole daemon`,
			`t.conf:4:9: "proxy" belongs in an interface section`,
			`t.conf:17:9: duplicate option "proxy" (first at 16:9)`,
		}},
		{"interface in two instances", "config proxy 'main'\nconfig proxy 'tv'\n" + uciPair +
			"config interface\n\toption proxy 'tv'\n\toption device 'wan'\n\toption role 'upstream'\n" +
			"config interface\n\toption proxy 'tv'\n\toption device 'tv'\n\toption role 'downstream'\n", []string{
			`t.conf:9:1: interface "wan" is already in the default instance (at 3:1); an interface belongs to one proxy instance`,
		}},
	}
	for _, tt := range uci {
		t.Run("uci "+tt.name, func(t *testing.T) {
			_, err := ParseUCI(testFile, []byte(tt.in))
			checkErrors(t, err, tt.want)
		})
	}
}

func checkErrors(t *testing.T, err error, want []string) {
	t.Helper()
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("err = %v, want Errors", err)
	}
	var got []string
	for _, e := range es {
		got = append(got, e.Error())
	}
	if !slices.Equal(got, want) {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestResolveInstances resolves networks in every instance, and keeps the
// instances apart.
func TestResolveInstances(t *testing.T) {
	c, err := Parse(testFile, []byte("interface @wan { upstream }\ninterface lan { downstream }\n"+
		"proxy tv { interface @iptv { upstream }; interface br-tv { downstream } }\n"))
	if err != nil {
		t.Fatal(err)
	}
	r, errs := c.Resolve(func(n string) (string, error) { return map[string]string{"wan": "eth0", "iptv": "eth0.7"}[n], nil })
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if r.Interfaces[0].Name != "eth0" || len(r.Proxies) != 1 || r.Proxies[0].Interfaces[0].Name != "eth0.7" {
		t.Errorf("resolved %+v / %+v", r.Interfaces, r.Proxies)
	}
	if c.Proxies[0].Interfaces[0].Name != "@iptv" {
		t.Errorf("Resolve changed its input")
	}
}

// TestReadmeInstancesExample: the README's example of two instances
// parses into them (the e2e suite runs it).
func TestReadmeInstancesExample(t *testing.T) {
	conf := docBlock(t, "../../README.md", "# IPTV VLAN to br-tv, second uplink to br-lan")
	c, err := Parse("README.md", []byte(conf))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, in := range c.Instances() {
		names = append(names, in.Name+":"+in.Upstream().Name)
	}
	if !slices.Equal(names, []string{"tv:eth0.7", "lan:wan2"}) {
		t.Errorf("instances %q", names)
	}
}

// docBlock returns the code block of a Markdown file that starts with
// marker.
func docBlock(t *testing.T, path, marker string) string {
	t.Helper()
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(doc), "```")
	for i := 1; i < len(blocks); i += 2 {
		if b := strings.TrimPrefix(blocks[i], "\n"); strings.HasPrefix(b, marker) {
			return b
		}
	}
	t.Fatalf("%s has no code block starting with %q", path, marker)
	return ""
}
