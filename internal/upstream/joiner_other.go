//go:build !linux

package upstream

import (
	"errors"

	"github.com/mcast-proxy/mcast-proxy/internal/format"
)

// New returns an error: upstream memberships use Linux socket options.
func New(ifindex int) (*Joiner, error) {
	return nil, format.Errorf("upstream: %w", errors.ErrUnsupported)
}
