package daemon

import (
	"errors"
	"syscall"
	"time"
)

// A failure is logged at warning level the first time and then at debug
// level, until errRelogAfter has passed (it is still going on: say so
// again). At most errLogKeys failures are remembered: keys that carry
// addresses would otherwise grow the set without bound under a flood.
const (
	errRelogAfter = time.Hour
	errLogKeys    = 256
)

// errorLog remembers when each distinct failure was last logged at warning
// level.
type errorLog struct {
	logged map[string]time.Time
}

// errorKey names a failure by what failed and why: the errno when there is
// one (the message around it often holds addresses), else the message.
func errorKey(what string, err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return what + ": " + errno.Error()
	}
	return what + ": " + err.Error()
}

// warn reports whether the failure named key should be logged at warning
// level now, and records it.
func (l *errorLog) warn(key string, now time.Time) bool {
	if l.logged == nil {
		l.logged = map[string]time.Time{}
	}
	if at, ok := l.logged[key]; ok && now.Sub(at) < errRelogAfter {
		return false
	}
	if len(l.logged) >= errLogKeys {
		for k, at := range l.logged {
			if now.Sub(at) >= errRelogAfter {
				delete(l.logged, k)
			}
		}
		if len(l.logged) >= errLogKeys {
			// Every one is recent: start over rather than grow. The
			// worst case is one warning per distinct failure per
			// errLogKeys new ones.
			clear(l.logged)
		}
	}
	l.logged[key] = now
	return true
}
