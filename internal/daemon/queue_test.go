package daemon

import "testing"

// TestQueueIsBoundedInBytes: the packets a reader may queue are bounded by
// their bytes, not only by their number (1024 clones of 64 KiB packets
// were 64 MiB).
func TestQueueIsBoundedInBytes(t *testing.T) {
	g := &byteGate{limit: queueBytes}
	queued := 0
	for range eventQueue {
		if g.take(65535) {
			queued++
		}
	}
	if queued*65535 > queueBytes || queued == 0 {
		t.Fatalf("%d packets of 64 KiB queued, limit %d bytes", queued, queueBytes)
	}
	g.give(65535)
	if !g.take(65535) {
		t.Fatal("room given back was not reusable")
	}
	if !g.take(0) {
		t.Fatal("an empty packet was refused")
	}
}
