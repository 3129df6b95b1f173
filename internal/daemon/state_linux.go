package daemon

import (
	"encoding/hex"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// bootNow reads CLOCK_BOOTTIME and the kernel's boot id. An unreadable
// boot id stays zero: the runtime directory is a tmpfs, emptied by a
// reboot anyway.
func bootNow() (bootStamp, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return bootStamp{}, err
	}
	s := bootStamp{since: time.Duration(ts.Nano())}
	if b, err := os.ReadFile("/proc/sys/kernel/random/boot_id"); err == nil {
		if id, err := hex.DecodeString(strings.ReplaceAll(strings.TrimSpace(string(b)), "-", "")); err == nil && len(id) == len(s.id) {
			copy(s.id[:], id)
		}
	}
	return s, nil
}
