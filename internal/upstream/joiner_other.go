//go:build !linux

package upstream

import (
	"errors"
	"fmt"
)

// New returns an error: upstream memberships use Linux socket options.
func New(ifindex int) (*Joiner, error) {
	return nil, fmt.Errorf("upstream: %w", errors.ErrUnsupported)
}
