package config

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
)

func TestPermits(t *testing.T) {
	r := func(allow bool, group, source string) Rule {
		rl := Rule{Allow: allow, Group: netip.MustParsePrefix(group)}
		if source != "" {
			rl.Source = netip.MustParsePrefix(source)
		}
		return rl
	}
	ssm := ACL{
		r(true, "232.1.0.0/16", "192.0.2.0/24"),
		r(false, "232.0.0.0/8", "198.51.100.7/32"),
		r(false, "232.0.0.0/8", ""),
		r(false, "239.255.255.250/32", ""),
		r(false, "ff05::fb/128", ""),
		r(true, "ff3e::/16", "2001:db8::/32"),
		r(false, "ff3e::/16", ""),
	}
	tests := []struct {
		name          string
		acl           ACL
		group, source string // "" is the any-source join
		want          bool
	}{
		{"empty list allows", nil, "239.1.2.3", "", true},
		{"empty list allows a source", nil, "239.1.2.3", "10.0.0.1", true},
		{"no rule matches", ssm, "239.1.2.3", "", true},
		{"deny a group", ssm, "239.255.255.250", "", false},
		{"deny a group for every source", ssm, "239.255.255.250", "10.0.0.1", false},
		{"deny a group by prefix", ssm, "232.9.9.9", "10.0.0.1", false},
		{"allow with a source: the source", ssm, "232.1.2.3", "192.0.2.9", true},
		{"allow with a source: another source falls through", ssm, "232.1.2.3", "192.0.3.9", false},
		{"allow with a source does not allow the any-source join", ssm, "232.1.2.3", "", false},
		{"deny with a source: that source", ACL{r(false, "239.0.0.0/8", "10.0.0.0/8")}, "239.1.1.1", "10.1.1.1", false},
		{"deny with a source: other sources", ACL{r(false, "239.0.0.0/8", "10.0.0.0/8")}, "239.1.1.1", "192.0.2.1", true},
		{"deny with a source does not deny the any-source join", ACL{r(false, "239.0.0.0/8", "10.0.0.0/8")}, "239.1.1.1", "", true},
		{"first match wins", ACL{r(true, "239.1.0.0/16", ""), r(false, "239.0.0.0/8", "")}, "239.1.2.3", "", true},
		{"first match wins, other order", ACL{r(false, "239.0.0.0/8", ""), r(true, "239.1.0.0/16", "")}, "239.1.2.3", "", false},
		{"IPv6 deny", ssm, "ff05::fb", "", false},
		{"IPv6 link-local scope is another group", ssm, "ff02::fb", "", true},
		{"IPv6 allow with a source", ssm, "ff3e::1234", "2001:db8::1", true},
		{"IPv6 other source", ssm, "ff3e::1234", "2001:db9::1", false},
		{"IPv6 any-source join", ssm, "ff3e::1234", "", false},
		{"families do not mix", ACL{r(false, "224.0.0.0/4", "")}, "ff0e::1", "", true},
		{"IPv4-mapped group is IPv4", ssm, "::ffff:239.255.255.250", "", false},
		{"IPv4-mapped source is IPv4", ssm, "232.1.2.3", "::ffff:192.0.2.9", true},
		{"source of the other family never matches", ssm, "232.1.2.3", "2001:db8::1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var src netip.Addr
			if tt.source != "" {
				src = netip.MustParseAddr(tt.source)
			}
			if got := tt.acl.Permits(netip.MustParseAddr(tt.group), src); got != tt.want {
				t.Errorf("Permits(%s, %v) = %v, want %v", tt.group, src, got, tt.want)
			}
		})
	}
}

func TestRuleString(t *testing.T) {
	tests := []struct {
		r    Rule
		want string
	}{
		{Rule{Allow: true, Group: netip.MustParsePrefix("239.0.0.0/8")}, "allow group 239.0.0.0/8"},
		{Rule{Group: netip.MustParsePrefix("ff05::fb/128"), Source: netip.MustParsePrefix("2001:db8::/32")},
			"deny group ff05::fb/128 source 2001:db8::/32"},
	}
	for _, tt := range tests {
		if got := tt.r.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

// TestShadowIndexAgreesWithPairwise: on random rule lists, the index finds
// the same first coverer as comparing every pair with Rule.covers.
func TestShadowIndexAgreesWithPairwise(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	groups := []string{"224.0.0.0/4", "239.0.0.0/8", "239.1.0.0/16", "239.1.1.0/24", "239.1.1.1/32", "239.2.0.0/16", "232.0.0.0/8", "ff00::/8", "ff3e::/16", "ff3e::1/128"}
	sources := []string{"", "", "10.0.0.0/8", "10.1.0.0/16", "10.1.1.1/32", "192.168.0.0/16", "2001:db8::/32", "2001:db8::1/128"}
	for trial := range 200 {
		var acl ACL
		x := newShadowIndex()
		for i := range 40 {
			g := netip.MustParsePrefix(groups[rnd.IntN(len(groups))])
			r := Rule{Allow: rnd.IntN(2) == 0, Group: g, Pos: Pos{Line: i + 1}}
			if s := sources[rnd.IntN(len(sources))]; s != "" {
				r.Source = netip.MustParsePrefix(s)
				if r.Source.Addr().Is4() != g.Addr().Is4() {
					r.Source = netip.Prefix{}
				}
			}
			want := -1
			for j, e := range acl {
				if e.Pos != r.Pos && e.covers(r) {
					want = j
					break
				}
			}
			if got := x.coverer(acl, r); got != want {
				t.Fatalf("trial %d rule %d (%v): coverer %d, pairwise %d", trial, i, r, got, want)
			}
			x.add(r, len(acl))
			acl = append(acl, r)
		}
	}
}

// BenchmarkManyRules validates a downstream with 100,000 distinct deny
// rules (the shadowing check compared every pair: 15.7 s).
func BenchmarkManyRules(b *testing.B) {
	var conf strings.Builder
	conf.WriteString("interface wan { upstream }\ninterface lan {\n downstream\n")
	for i := range 100000 {
		fmt.Fprintf(&conf, " deny group 239.%d.%d.%d\n", i>>16, (i>>8)&255, i&255)
	}
	conf.WriteString("}\n")
	data := []byte(conf.String())
	b.ResetTimer()
	for range b.N {
		if _, err := Parse("t.conf", data); err != nil {
			b.Fatal(err)
		}
	}
}
