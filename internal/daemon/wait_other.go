//go:build !linux

package daemon

import (
	"errors"

	"github.com/mcast-proxy/mcast-proxy/internal/format"
)

// waitSet exists only on Linux, as the routing sockets do.
type waitSet struct{}

func newWaitSet() (*waitSet, error) {
	return nil, format.Errorf("wait set: %w", errors.ErrUnsupported)
}

func (w *waitSet) add(fd int) error    { return errors.ErrUnsupported }
func (w *waitSet) remove(fd int) error { return errors.ErrUnsupported }
func (w *waitSet) ring()               {}
func (w *waitSet) wait() error         { return errors.ErrUnsupported }
func (w *waitSet) close()              {}
