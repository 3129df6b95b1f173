package daemon

import "time"

// brainClock hands the brains a time that never goes backwards. Events
// carry the time they happened, not the time the loop got to them: a
// deadline's letter the time its timer fired, which may wait in the mail
// slot while the loop handles packets read later. Fed as they are, an
// earlier time after a later one would recreate a group with timers
// already in the past, and the next timer event would expire it again, so
// the upstream subscription would flap.
type brainClock struct{ last time.Time }

// at returns t, or the latest time handed out if t is earlier.
func (c *brainClock) at(t time.Time) time.Time {
	if t.Before(c.last) {
		return c.last
	}
	c.last = t
	return t
}
