package daemon

import (
	"fmt"
	"syscall"
	"testing"
	"time"
)

// TestErrorLogIsBounded: failures whose message carries addresses used to
// grow the dedupe set forever; it stays bounded, an errno names a failure
// whatever the message around it, and a failure that goes on is logged
// again after an hour.
func TestErrorLogIsBounded(t *testing.T) {
	var l errorLog
	t0 := time.Unix(1000, 0)
	for i := range 100000 {
		l.warn(errorKey("upstream subscription", fmt.Errorf("group 239.%d.%d.%d: no luck", i>>16, (i>>8)&255, i&255)), t0)
	}
	if n := len(l.logged); n > errLogKeys {
		t.Errorf("%d keys remembered, want at most %d", n, errLogKeys)
	}

	var m errorLog
	steps := []struct {
		err  error
		at   time.Duration
		want bool
	}{
		{fmt.Errorf("set route 10.0.0.1 239.1.1.1: %w", syscall.ENODEV), 0, true},
		{fmt.Errorf("set route 10.0.0.2 239.1.1.2: %w", syscall.ENODEV), time.Second, false},
		{fmt.Errorf("set route 10.0.0.2 239.1.1.2: %w", syscall.EINVAL), 2 * time.Second, true},
		{fmt.Errorf("set route 10.0.0.3 239.1.1.3: %w", syscall.ENODEV), time.Hour, true},
	}
	for i, s := range steps {
		if got := m.warn(errorKey("set forwarding entry", s.err), t0.Add(s.at)); got != s.want {
			t.Errorf("step %d (%v at +%v): warn = %v, want %v", i, s.err, s.at, got, s.want)
		}
	}
}
