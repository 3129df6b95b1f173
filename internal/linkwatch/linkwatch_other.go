//go:build !linux

package linkwatch

import (
	"errors"
	"net/netip"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/format"
)

// errUnsupported is returned everywhere: rtnetlink is Linux's.
var errUnsupported = format.Errorf("linkwatch: rtnetlink: %w", errors.ErrUnsupported)

// Take fails: only Linux is supported.
func Take() (Snapshot, error) { return nil, errUnsupported }

// Watcher exists only on Linux.
type Watcher struct{}

// Watch fails: only Linux is supported.
func Watch(settle time.Duration) (*Watcher, Snapshot, error) { return nil, nil, errUnsupported }

func (w *Watcher) C() <-chan Change { return nil }
func (w *Watcher) Close() error     { return nil }

// RouteIfindex is not available on this system.
func RouteIfindex(dst netip.Addr) (int, error) { return 0, errUnsupported }
