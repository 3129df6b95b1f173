//go:build !linux

package daemon

import (
	"errors"
	"fmt"
)

// waitSet exists only on Linux, as the routing sockets do.
type waitSet struct{}

func newWaitSet() (*waitSet, error) {
	return nil, fmt.Errorf("wait set: %w", errors.ErrUnsupported)
}

func (w *waitSet) add(fd int) error    { return errors.ErrUnsupported }
func (w *waitSet) remove(fd int) error { return errors.ErrUnsupported }
func (w *waitSet) ring()               {}
func (w *waitSet) wait() error         { return errors.ErrUnsupported }
func (w *waitSet) close()              {}
