//go:build !linux

package sdnotify

import (
	"errors"

	"github.com/mcast-proxy/mcast-proxy/internal/format"
)

func sendTo(addr, state string) error {
	if _, err := socketName(addr); err != nil {
		return err
	}
	return format.Errorf("sdnotify: %w", errors.ErrUnsupported)
}

// MonotonicUsec returns "" where CLOCK_MONOTONIC is not read.
func MonotonicUsec() string { return "" }
