package netlab

import (
	"fmt"
	"slices"
	"time"
)

// Arrival is one numbered datagram and when it arrived.
type Arrival struct {
	Seq uint64
	At  time.Time
}

// Gap is a run of sequence numbers that never arrived.
type Gap struct {
	After, Before uint64    // the received sequence numbers around the gap
	At            time.Time // arrival of Before
}

// Missing is the number of datagrams lost in the gap.
func (g Gap) Missing() uint64 { return g.Before - g.After - 1 }

func (g Gap) String() string {
	return fmt.Sprintf("%d datagrams lost between seq %d and %d (resumed %s)", g.Missing(), g.After, g.Before, g.At.Format("15:04:05.000"))
}

// SeqGaps finds the sequence numbers that never arrived among arrivals
// (in arrival order) between the lowest and the highest that did. A
// datagram that arrives after one with a higher number is reordered, not
// lost: it closes the gap it seemed to open, and is counted in reordered.
// A slow or emulated machine reorders now and then; it must not read as loss.
func SeqGaps(arrivals []Arrival) (gaps []Gap, reordered int) {
	first := map[uint64]time.Time{} // sequence number -> first arrival
	var highest uint64
	for i, a := range arrivals {
		if i > 0 && a.Seq < highest {
			reordered++
		}
		highest = max(highest, a.Seq)
		if _, seen := first[a.Seq]; !seen {
			first[a.Seq] = a.At
		}
	}
	seqs := make([]uint64, 0, len(first))
	for s := range first {
		seqs = append(seqs, s)
	}
	slices.Sort(seqs)
	for i := 1; i < len(seqs); i++ {
		if seqs[i] > seqs[i-1]+1 {
			gaps = append(gaps, Gap{After: seqs[i-1], Before: seqs[i], At: first[seqs[i]]})
		}
	}
	return gaps, reordered
}
