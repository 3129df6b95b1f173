package mroute

import "testing"

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
