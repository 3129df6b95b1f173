//go:build !linux

package daemon

import (
	"errors"
	"fmt"
)

// bootNow fails: CLOCK_BOOTTIME and the boot id are Linux's.
func bootNow() (bootStamp, error) {
	return bootStamp{}, fmt.Errorf("boot clock: %w", errors.ErrUnsupported)
}
