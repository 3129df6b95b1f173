package membership

import (
	"net/netip"
	"slices"
	"testing"
)

func TestMerge(t *testing.T) {
	a := func(ss ...string) []netip.Addr {
		var out []netip.Addr
		for _, s := range ss {
			out = append(out, netip.MustParseAddr(s))
		}
		return out
	}
	in := func(ss ...string) SourceFilter { return SourceFilter{Mode: Include, Sources: a(ss...)} }
	ex := func(ss ...string) SourceFilter { return SourceFilter{Mode: Exclude, Sources: a(ss...)} }
	tests := []struct {
		name string
		fs   []SourceFilter
		want SourceFilter
	}{
		{"nothing", nil, in()},
		{"include nothing", []SourceFilter{in(), in()}, in()},
		{"include union, sorted and deduplicated", []SourceFilter{in("10.0.0.3", "10.0.0.2"), in("10.0.0.2", "10.0.0.1")}, in("10.0.0.1", "10.0.0.2", "10.0.0.3")},
		{"any exclude makes exclude", []SourceFilter{in("10.0.0.2"), ex()}, ex()},
		{"exclude lists intersect", []SourceFilter{ex("10.0.0.1", "10.0.0.2"), ex("10.0.0.3", "10.0.0.2")}, ex("10.0.0.2")},
		{"disjoint excludes exclude nothing", []SourceFilter{ex("10.0.0.1"), ex("10.0.0.2")}, ex()},
		{"includes are taken from the exclude list", []SourceFilter{ex("10.0.0.1", "10.0.0.2"), in("10.0.0.2", "10.0.0.9")}, ex("10.0.0.1")},
		{"ipv6", []SourceFilter{ex("2001:db8::2", "2001:db8::1"), ex("2001:db8::1")}, ex("2001:db8::1")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Merge(tt.fs)
			if got.Mode != tt.want.Mode || !slices.Equal(got.Sources, tt.want.Sources) {
				t.Errorf("Merge = %v %v, want %v %v", got.Mode, got.Sources, tt.want.Mode, tt.want.Sources)
			}
		})
	}
}
