package proxy

import (
	"net/netip"
	"testing"

	"github.com/mcast-proxy/mcast-proxy/internal/membership"
)

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

func inc(ss ...string) membership.GroupState {
	return membership.GroupState{Mode: membership.Include, Include: addrs(ss...)}
}

// exc builds an EXCLUDE-mode state: requested are sources re-requested
// (timer > 0, forwarded), excluded are the blocked ones.
func exc(requested, excluded []string) membership.GroupState {
	return membership.GroupState{Mode: membership.Exclude, Include: addrs(requested...), Exclude: addrs(excluded...)}
}

func TestMerge(t *testing.T) {
	tests := []struct {
		name   string
		states []membership.GroupState
		want   Subscription
	}{
		{"nothing", nil, Subscription{Mode: membership.Include}},
		{"one include", []membership.GroupState{inc("10.0.0.2")},
			Subscription{Mode: membership.Include, Sources: addrs("10.0.0.2")}},
		{"include union sorted and deduplicated", []membership.GroupState{inc("10.0.0.3", "10.0.0.2"), inc("10.0.0.2", "10.0.0.1")},
			Subscription{Mode: membership.Include, Sources: addrs("10.0.0.1", "10.0.0.2", "10.0.0.3")}},
		{"any-source join is exclude nothing", []membership.GroupState{exc(nil, nil), inc("10.0.0.2")},
			Subscription{Mode: membership.Exclude}},
		{"exclude lists intersect", []membership.GroupState{exc(nil, []string{"10.0.0.1", "10.0.0.2"}), exc(nil, []string{"10.0.0.2", "10.0.0.3"})},
			Subscription{Mode: membership.Exclude, Sources: addrs("10.0.0.2")}},
		{"include removes from exclude", []membership.GroupState{exc(nil, []string{"10.0.0.1", "10.0.0.2"}), inc("10.0.0.2")},
			Subscription{Mode: membership.Exclude, Sources: addrs("10.0.0.1")}},
		{"requested sources of an exclude state are wanted", []membership.GroupState{exc([]string{"10.0.0.2"}, []string{"10.0.0.1"}), exc(nil, []string{"10.0.0.1", "10.0.0.2"})},
			Subscription{Mode: membership.Exclude, Sources: addrs("10.0.0.1")}},
		{"disjoint excludes give exclude nothing", []membership.GroupState{exc(nil, []string{"10.0.0.1"}), exc(nil, []string{"10.0.0.2"})},
			Subscription{Mode: membership.Exclude}},
		{"ipv6", []membership.GroupState{inc("2001:db8::2"), inc("2001:db8::1")},
			Subscription{Mode: membership.Include, Sources: addrs("2001:db8::1", "2001:db8::2")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Merge(tt.states)
			if !got.Equal(tt.want) {
				t.Errorf("Merge = %v %v, want %v %v", got.Mode, got.Sources, tt.want.Mode, tt.want.Sources)
			}
		})
	}
}

func TestProxied(t *testing.T) {
	tests := []struct {
		group string
		want  bool
	}{
		{"224.0.0.1", false},
		{"224.0.0.251", false}, // mDNS
		{"224.0.1.1", true},
		{"239.255.255.250", true}, // SSDP: filtered by access lists, not hard-coded
		{"232.1.1.1", true},
		{"10.0.0.1", false},
		{"ff02::1", false},
		{"ff32::1", false}, // link-local scope with flags set
		{"ff01::1", false},
		{"ff05::1", true},
		{"ff3e::1", true},
		{"2001:db8::1", false},
		{"::ffff:239.1.1.1", false}, // IPv4-mapped: netip calls it multicast
	}
	for _, tt := range tests {
		if got := Proxied(netip.MustParseAddr(tt.group)); got != tt.want {
			t.Errorf("Proxied(%s) = %v, want %v", tt.group, got, tt.want)
		}
	}
}
