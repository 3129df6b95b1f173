package linkwatch

import "time"

// maxWaitFactor bounds a burst: a snapshot is taken at most this many settle
// periods after the first notification, so a link that flaps without pause
// still gets reported.
const maxWaitFactor = 5

// flushAt is when to take the snapshot for a burst of notifications that
// began at first and whose latest arrived at last: settle after the last one,
// but never later than maxWaitFactor settle periods after the first.
func flushAt(first, last time.Time, settle time.Duration) time.Time {
	quiet := last.Add(settle)
	limit := first.Add(maxWaitFactor * settle)
	if quiet.After(limit) {
		return limit
	}
	return quiet
}
