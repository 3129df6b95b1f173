package membership

import "time"

// instant is a point in time on a router's own clock, in nanoseconds after
// the router's epoch (see clock). A group record holds eight deadlines and
// every tracked host and source one: as a time.Time each took 24 bytes on a
// 64-bit build (20 on 32-bit), as an instant 8, which at a thousand groups
// is about 150 KB of a router's heap. The zero instant means "not running",
// as the zero time.Time did; the clock never gives it to a real time.
type instant int64

func (t instant) Add(d time.Duration) instant { return t + instant(d) }
func (t instant) Sub(u instant) time.Duration { return time.Duration(t - u) }
func (t instant) After(u instant) bool        { return t > u }
func (t instant) Before(u instant) bool       { return t < u }
func (t instant) Equal(u instant) bool        { return t == u }
func (t instant) IsZero() bool                { return t == 0 }

// epochLead puts a router's epoch this long before the first time it is
// given, so that times somewhat earlier than that (a restored timer, a
// caller's late clock) still come out positive. A month is far more than
// any timer of RFC 3376 can span (its largest, the Group Membership
// Interval, is under 18 hours at the protocol's maximum intervals), and
// small enough that even a router whose wall clock still reads 1970 keeps
// its epoch in the range where time.Time carries a monotonic reading.
const epochLead = 30 * 24 * time.Hour

// clock converts between the callers' time.Time and a router's instants.
// Differences are taken with time.Time.Sub, so the monotonic clock is used
// when the callers' times carry it, and a step of the wall clock (NTP
// setting a router's clock after boot) moves no timer.
type clock struct {
	epoch time.Time // zero until the first conversion
}

// at returns now as an instant, fixing the epoch on the first call.
func (c *clock) at(now time.Time) instant {
	if c.epoch.IsZero() {
		c.epoch = now.Add(-epochLead)
	}
	return max(instant(now.Sub(c.epoch)), 1)
}

// time returns t as a time.Time; the zero instant as the zero Time.
func (c *clock) time(t instant) time.Time {
	if t == 0 {
		return time.Time{}
	}
	return c.epoch.Add(time.Duration(t))
}
