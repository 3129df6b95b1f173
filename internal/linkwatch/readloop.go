package linkwatch

import "time"

// Backoff after repeated read errors: the first error of a run is retried at
// once (ENOBUFS, lost notifications, is common and harmless), each further
// one waits twice as long as the last, from readBackoffMin up to
// readBackoffMax, so a socket that fails for good costs a wakeup a second
// instead of a spinning core.
const (
	readBackoffMin = 10 * time.Millisecond
	readBackoffMax = time.Second
)

// readLoop calls read until done is closed, calling hint after every
// notification and after every error: ENOBUFS means notifications were lost,
// and whatever else went wrong, a fresh snapshot is the way to find out what
// changed. Close closes done before the socket, so the error that a closed
// socket returns ends the loop. wait sleeps for a backoff and reports false
// if done was closed meanwhile.
func readLoop(read func() error, hint func(), done <-chan struct{}, wait func(time.Duration) bool) {
	failures := 0
	for {
		err := read()
		if err == nil {
			failures = 0
			hint()
			continue
		}
		select {
		case <-done:
			return
		default:
		}
		hint()
		failures++
		if failures > 1 && !wait(readBackoff(failures)) {
			return
		}
	}
}

// readBackoff is the wait after the n-th consecutive error (n >= 2).
func readBackoff(n int) time.Duration {
	d := readBackoffMin
	for i := 2; i < n && d < readBackoffMax; i++ {
		d *= 2
	}
	return min(d, readBackoffMax)
}

// sleepUnless waits for d or until done is closed; it reports whether the
// whole wait passed.
func sleepUnless(done <-chan struct{}) func(time.Duration) bool {
	return func(d time.Duration) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-done:
			return false
		case <-t.C:
			return true
		}
	}
}
