package daemon

import (
	"testing"
	"time"
)

// TestBrainClockNeverGoesBack: a packet read before the last timer event
// is handled at the timer event's time, not its own.
func TestBrainClockNeverGoesBack(t *testing.T) {
	var c brainClock
	t0 := time.Unix(1000, 0)
	for i, s := range []struct{ in, want time.Duration }{
		{0, 0},
		{5 * time.Second, 5 * time.Second}, // a timer event
		{time.Second, 5 * time.Second},     // a packet read before it
		{6 * time.Second, 6 * time.Second},
	} {
		if got := c.at(t0.Add(s.in)); !got.Equal(t0.Add(s.want)) {
			t.Errorf("step %d: at(+%v) = +%v, want +%v", i, s.in, got.Sub(t0), s.want)
		}
	}
}
