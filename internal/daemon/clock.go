package daemon

import "time"

// brainClock hands the brains a time that never goes backwards. Packets
// carry the time they were read, and under a flood they wait in the queue
// while timer events are handled with the current time: fed as they are, a
// report read before a group expired would recreate the group with timers
// already in the past, and the next timer event would expire it again, so
// the upstream subscription flaps with every queued report.
type brainClock struct{ last time.Time }

// at returns t, or the latest time handed out if t is earlier.
func (c *brainClock) at(t time.Time) time.Time {
	if t.Before(c.last) {
		return c.last
	}
	c.last = t
	return t
}
