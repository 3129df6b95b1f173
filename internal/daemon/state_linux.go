package daemon

import (
	"os"
	"sync"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/rawsys"
)

// bootNow reads CLOCK_BOOTTIME and the kernel's boot id. An unreadable
// boot id stays zero: the runtime directory is a tmpfs, emptied by a
// reboot anyway.
func bootNow() (bootStamp, error) {
	ts, err := rawsys.BootTime()
	if err != nil {
		return bootStamp{}, err
	}
	return bootStamp{id: bootID(), since: time.Duration(ts.Nano())}, nil
}

// bootID is the kernel's boot id, read once: it holds for the boot.
var bootID = sync.OnceValue(func() (id [16]byte) {
	if b, err := os.ReadFile("/proc/sys/kernel/random/boot_id"); err == nil {
		id, _ = parseBootID(string(b))
	}
	return id
})

// writeAtomic replaces path with data through a temporary file and a
// rename. The runtime directory is a tmpfs, where writing waits for no
// disk, so the calls are raw (internal/rawsys): a snapshot written after
// each change must not wake the Go runtime's monitor thread.
func writeAtomic(path string, data []byte) error {
	return rawsys.WriteFileAtomic(path, data, 0o600)
}
