package mroute

import (
	"net/netip"
	"testing"
)

// TestCountersInput: the kernel counts a packet that arrived on the wrong
// interface in both Packets and WrongIf; Input is what arrived on the
// entry's input, and never wraps when the two were read a packet apart.
func TestCountersInput(t *testing.T) {
	for _, tc := range []struct {
		c    Counters
		want uint64
	}{
		{Counters{}, 0},
		{Counters{Packets: 300}, 300},
		{Counters{Packets: 300, WrongIf: 100}, 200},
		{Counters{Packets: 100, WrongIf: 100}, 0},
		{Counters{Packets: 99, WrongIf: 100}, 0},
	} {
		if got := tc.c.Input(); got != tc.want {
			t.Errorf("%+v.Input() = %d, want %d", tc.c, got, tc.want)
		}
	}
}

// TestKeyCompare: keys order by group, then source, the order RouteKeys
// lists them in and status answers look earlier readings up by.
func TestKeyCompare(t *testing.T) {
	key := func(src, grp string) Key {
		return Key{Source: netip.MustParseAddr(src), Group: netip.MustParseAddr(grp)}
	}
	for _, tt := range []struct {
		a, b Key
		want int
	}{
		{key("10.0.0.1", "239.1.1.1"), key("10.0.0.1", "239.1.1.1"), 0},
		{key("10.0.0.9", "239.1.1.1"), key("10.0.0.1", "239.1.1.2"), -1}, // the group first
		{key("10.0.0.1", "239.1.1.2"), key("10.0.0.9", "239.1.1.1"), 1},
		{key("10.0.0.1", "239.1.1.1"), key("10.0.0.2", "239.1.1.1"), -1}, // then the source
		{key("10.0.0.2", "239.1.1.1"), key("10.0.0.1", "239.1.1.1"), 1},
		{key("2001:db8::1", "ff3e::1"), key("2001:db8::1", "ff3e::2"), -1},
		{key("2001:db8::2", "ff3e::1"), key("2001:db8::1", "ff3e::1"), 1},
	} {
		if got := tt.a.Compare(tt.b); got != tt.want {
			t.Errorf("%v.Compare(%v) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
