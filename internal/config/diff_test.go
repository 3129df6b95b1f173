package config

import (
	"net/netip"
	"reflect"
	"testing"
	"time"
)

func TestCompare(t *testing.T) {
	const base = "interface wan { upstream }\ninterface lte { upstream; priority 5 }\n" +
		"interface lan { downstream; deny group 239.255.255.250 }\ninterface off { disabled }\n"
	tests := []struct {
		name     string
		old, new string
		want     Delta
	}{
		{name: "same file", old: base, new: base},
		{
			name: "positions and comments do not count",
			old:  base,
			new: "# moved down\n\ninterface wan {\n upstream\n}\ninterface lte { upstream; priority 5 }\n" +
				"interface lan {\n downstream\n deny group 239.255.255.250/32\n}\ninterface off { disabled }\n",
		},
		{
			name: "spelling out defaults is no change",
			old:  base,
			new: "ipv4 yes\nipv6 no\ninterface wan { upstream; priority 0; threshold 1 }\ninterface lte { upstream; priority 5 }\n" +
				"interface lan { downstream; max-groups 1024; max-sources 128; fast-leave no; robustness 2; deny group 239.255.255.250 }\n" +
				"interface off { disabled }\n",
		},
		{
			name: "added, removed, changed",
			old:  base,
			new: "interface wan { upstream }\ninterface lte { upstream; priority 5 }\ninterface lan { downstream; fast-leave yes; deny group 239.255.255.250 }\n" +
				"interface guest { downstream }\n",
			want: Delta{Added: []string{"guest"}, Removed: []string{"off"}, Changed: []string{"lan"}},
		},
		{
			name: "a rule changes",
			old:  base,
			new:  "interface wan { upstream }\ninterface lte { upstream; priority 5 }\ninterface lan { downstream; allow group 239.255.255.250 }\ninterface off { disabled }\n",
			want: Delta{Changed: []string{"lan"}},
		},
		{
			name: "rules change order",
			old:  "interface wan { upstream }\ninterface lan { downstream; deny group 239.1.0.0/16; allow group 239.2.0.0/16 }\n",
			new:  "interface wan { upstream }\ninterface lan { downstream; allow group 239.2.0.0/16; deny group 239.1.0.0/16 }\n",
			want: Delta{Changed: []string{"lan"}},
		},
		{
			name: "role change",
			old:  base,
			new:  "interface wan { upstream }\ninterface lte { upstream; priority 5 }\ninterface lan { downstream; deny group 239.255.255.250 }\ninterface off { downstream }\n",
			want: Delta{Changed: []string{"off"}},
		},
		{
			name: "failover order by priority",
			old:  base,
			new:  "interface wan { upstream; priority 6 }\ninterface lte { upstream; priority 5 }\ninterface lan { downstream; deny group 239.255.255.250 }\ninterface off { disabled }\n",
			want: Delta{Changed: []string{"wan"}, Order: true},
		},
		{
			name: "failover order by file order only",
			old:  "interface a { upstream }\ninterface b { upstream }\ninterface lan { downstream }\n",
			new:  "interface b { upstream }\ninterface a { upstream }\ninterface lan { downstream }\n",
			want: Delta{Order: true},
		},
		{
			name: "interfaces reordered without effect",
			old:  "interface a { upstream }\ninterface lan { downstream }\ninterface lan2 { downstream }\n",
			new:  "interface lan2 { downstream }\ninterface lan { downstream }\ninterface a { upstream }\n",
		},
		{
			name: "table",
			old:  base,
			new:  "table 10\n" + base,
			want: Delta{Global: true},
		},
		{
			name: "ipv6 changes every interface that inherits it",
			old:  base,
			new:  "ipv6 yes\n" + base,
			want: Delta{Global: true, Changed: []string{"wan", "lte", "lan", "off"}},
		},
		{
			name: "ipv4 off where an interface keeps it",
			old:  "ipv6 yes\ninterface wan { upstream; ipv4 yes }\ninterface lan { downstream; ipv4 yes }\n",
			new:  "ipv4 no\nipv6 yes\ninterface wan { upstream; ipv4 yes }\ninterface lan { downstream; ipv4 yes }\n",
			want: Delta{Global: true},
		},
		{
			name: "everything replaced",
			old:  "interface a { upstream }\ninterface b { downstream }\ninterface c { downstream }\n",
			new:  "interface x { upstream }\ninterface y { downstream }\n",
			want: Delta{Added: []string{"x", "y"}, Removed: []string{"a", "b", "c"}, Order: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old, err := Parse("old.conf", []byte(tt.old))
			if err != nil {
				t.Fatal(err)
			}
			cur, err := Parse("new.conf", []byte(tt.new))
			if err != nil {
				t.Fatal(err)
			}
			if got := Compare(old, cur); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Compare = %+v, want %+v", got, tt.want)
			}
			if got := Compare(cur, cur); !reflect.DeepEqual(got, Delta{}) {
				t.Errorf("Compare with itself = %+v, want nothing", got)
			}
		})
	}
}

// TestInterfaceEqual changes each field of an interface in turn, so that a
// field added later and forgotten in Equal makes it fail.
func TestInterfaceEqual(t *testing.T) {
	a := iface("lan", RoleDownstream, 3)
	a.Sources = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	a.ACL = ACL{rule(false, "239.0.0.0/8", "", 4)}
	if !a.Equal(a) {
		t.Fatal("an interface differs from itself")
	}
	moved := a
	moved.Pos = Pos{File: "other", Line: 9, Col: 9}
	moved.ACL = ACL{rule(false, "239.0.0.0/8", "", 7)}
	if !a.Equal(moved) {
		t.Error("Equal compares positions")
	}
	changes := map[string]any{
		"Name":                    "lan2",
		"Network":                 "lan",
		"Role":                    RoleDisabled,
		"Sources":                 []netip.Prefix{netip.MustParsePrefix("10.0.0.0/9")},
		"Threshold":               2,
		"IGMPVersion":             2,
		"MLDVersion":              1,
		"Robustness":              3,
		"QueryInterval":           time.Minute,
		"QueryResponseInterval":   time.Second,
		"LastMemberQueryInterval": 2 * time.Second,
		"StartupQueryInterval":    time.Second,
		"LastMemberQueryCount":    3,
		"StartupQueryCount":       3,
		"IPv4":                    false,
		"IPv6":                    true,
		"Priority":                1,
		"ACL":                     ACL{rule(true, "239.0.0.0/8", "", 4)},
		"MaxGroups":               1,
		"MaxSources":              1,
		"MaxMemory":               64 << 10,
		"FastLeave":               true,
		"Pos":                     nil, // ignored
	}
	typ := reflect.TypeOf(a)
	for i := range typ.NumField() {
		f := typ.Field(i)
		v, ok := changes[f.Name]
		if !ok {
			t.Errorf("field %s has no test change; add it here and to Equal", f.Name)
			continue
		}
		if v == nil {
			continue
		}
		b := a
		reflect.ValueOf(&b).Elem().Field(i).Set(reflect.ValueOf(v))
		if a.Equal(b) || b.Equal(a) {
			t.Errorf("Equal ignores a change of %s", f.Name)
		}
	}
	noSources := a
	noSources.Sources = nil
	if a.Equal(noSources) {
		t.Error("Equal ignores a removed source")
	}
}

func TestUpstreams(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"one", "interface wan { upstream }\ninterface lan { downstream }\n", []string{"wan"}},
		{
			"by priority, then file order",
			"interface lte { upstream; priority 20 }\ninterface lan { downstream }\ninterface dsl { upstream; priority 10 }\n" +
				"interface wan { upstream }\ninterface dsl2 { upstream; priority 10 }\ninterface off { disabled }\n",
			[]string{"wan", "dsl", "dsl2", "lte"},
		},
		{
			"ties in file order",
			"interface b { upstream }\ninterface a { upstream }\ninterface lan { downstream }\n",
			[]string{"b", "a"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(testFile, []byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, u := range c.Upstreams() {
				if u.Role != RoleUpstream {
					t.Errorf("Upstreams() holds %s, a %s", u.Name, u.Role)
				}
				got = append(got, u.Name)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Upstreams() = %v, want %v", got, tt.want)
			}
			if up := c.Upstream(); up != c.Upstreams()[0] {
				t.Errorf("Upstream() = %s, want the first of Upstreams()", up.Name)
			}
			// The pointers lead into Interfaces, where the daemon finds them.
			if up := c.Upstream(); up != &c.Interfaces[up.Pos.Line-1] {
				t.Errorf("Upstream() does not point into Interfaces")
			}
		})
	}
}
