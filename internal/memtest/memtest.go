// Package memtest measures memory for the benchmarks that record what the
// daemon's state costs (docs/performance.md). Only tests import it.
package memtest

import "runtime"

// LiveHeap is the bytes of live heap objects after two full collections:
// the second one frees what the first only marked as finalizable or left
// for the sweeper, so the figure holds only what is still reachable.
func LiveHeap() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
