//go:build !linux

package daemon

import (
	"errors"
	"os"

	"github.com/mcast-proxy/mcast-proxy/internal/format"
)

// bootNow fails: CLOCK_BOOTTIME and the boot id are Linux's.
func bootNow() (bootStamp, error) {
	return bootStamp{}, format.Errorf("boot clock: %w", errors.ErrUnsupported)
}

// writeAtomic replaces path with data through a temporary file and a
// rename.
func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	err := os.WriteFile(tmp, data, 0o600)
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
