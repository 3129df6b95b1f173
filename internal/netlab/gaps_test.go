package netlab

import (
	"reflect"
	"testing"
	"time"
)

func TestSeqGaps(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	arrivals := func(seqs ...uint64) []Arrival {
		var as []Arrival
		for i, s := range seqs {
			as = append(as, Arrival{Seq: s, At: at(i)})
		}
		return as
	}
	tests := []struct {
		name      string
		in        []Arrival
		gaps      []Gap
		reordered int
	}{
		{name: "none", in: nil},
		{name: "in order", in: arrivals(1, 2, 3, 4)},
		{name: "one lost", in: arrivals(1, 2, 4), gaps: []Gap{{After: 2, Before: 4, At: at(2)}}},
		{name: "several lost", in: arrivals(10, 14, 15, 20),
			gaps: []Gap{{After: 10, Before: 14, At: at(1)}, {After: 15, Before: 20, At: at(3)}}},
		// The failure seen in the emulated VM: 61 after 62 was counted as
		// two losses; it is no loss at all.
		{name: "swapped pair is reordering", in: arrivals(59, 60, 62, 61, 63), reordered: 1},
		{name: "late arrival fills one of two holes", in: arrivals(1, 4, 2),
			gaps: []Gap{{After: 2, Before: 4, At: at(1)}}, reordered: 1},
		{name: "duplicate is neither loss nor reordering", in: arrivals(1, 2, 2, 3)},
		{name: "late duplicate is reordering", in: arrivals(1, 2, 3, 2), reordered: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gaps, reordered := SeqGaps(tc.in)
			if !reflect.DeepEqual(gaps, tc.gaps) || reordered != tc.reordered {
				t.Errorf("SeqGaps = %v, %d reordered; want %v, %d", gaps, reordered, tc.gaps, tc.reordered)
			}
		})
	}
}

func TestGapMissing(t *testing.T) {
	g := Gap{After: 60, Before: 62}
	if g.Missing() != 1 {
		t.Errorf("Missing() = %d, want 1", g.Missing())
	}
}
