package daemon

import (
	"sync/atomic"
	"time"
)

// queueBytes bounds the packet bytes waiting in the event queue. The queue
// also has a length (eventQueue), but a length alone lets 1024 clones of
// 64 KiB packets hold 64 MiB; this holds the queue to a size a router can
// spare whatever the packets are.
const queueBytes = 512 << 10

// queueFullPause is how long a reader stops reading after the queue
// refused a packet.
const queueFullPause = time.Millisecond

// byteGate counts the bytes of queued packets: readers take before they
// queue a packet, the loop gives back when it has handled one.
type byteGate struct {
	used  atomic.Int64
	limit int64
}

// take reserves n bytes and reports whether they fit.
func (g *byteGate) take(n int) bool {
	if g.used.Add(int64(n)) > g.limit {
		g.used.Add(-int64(n))
		return false
	}
	return true
}

// give returns n bytes taken before.
func (g *byteGate) give(n int) { g.used.Add(-int64(n)) }
