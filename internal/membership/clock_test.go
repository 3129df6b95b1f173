package membership

import (
	"testing"
	"time"
)

func TestClock(t *testing.T) {
	first := time.Date(2026, 12, 6, 21, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		at   time.Duration // after the first time the clock was given
	}{
		{"the first time", 0},
		{"a nanosecond later", time.Nanosecond},
		{"a group membership interval later", 260 * time.Second},
		{"a day later", 24 * time.Hour},
		{"a timer restored an hour in the past", -time.Hour},
		{"a timer restored a week in the past", -7 * 24 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c clock
			c.at(first)
			want := first.Add(tt.at)
			i := c.at(want)
			if i.IsZero() {
				t.Fatalf("at(%v) is the zero instant, which means not running", want)
			}
			if got := c.time(i); !got.Equal(want) {
				t.Errorf("time(at(%v)) = %v", want, got)
			}
			if d := i.Sub(c.at(first)); d != tt.at {
				t.Errorf("at(first%+v) - at(first) = %v", tt.at, d)
			}
		})
	}
}

func TestClockNeverGivesZero(t *testing.T) {
	var c clock
	first := time.Date(2026, 12, 6, 21, 0, 0, 0, time.UTC)
	c.at(first)
	// Far before the epoch's lead: still a running instant, the earliest.
	if i := c.at(first.Add(-2 * epochLead)); i != 1 {
		t.Errorf("at(first - 2 leads) = %d, want 1", i)
	}
	if got := c.time(0); !got.IsZero() {
		t.Errorf("time(0) = %v, want the zero Time", got)
	}
}

func TestClockFollowsMonotonicTime(t *testing.T) {
	// The daemon passes time.Now(), which carries the monotonic clock;
	// instants must be taken from it so a wall clock step moves no timer.
	var c clock
	now := time.Now()
	c.at(now)
	if got := c.at(now.Add(time.Second)).Sub(c.at(now)); got != time.Second {
		t.Errorf("a second later is %v later", got)
	}
	back := c.time(c.at(now.Add(time.Minute)))
	if got := back.Sub(now); got != time.Minute {
		t.Errorf("time(at(now+1m)) - now = %v", got)
	}
	if back.Round(0) == back {
		t.Errorf("time(...) lost the monotonic reading: %v", back)
	}
}
