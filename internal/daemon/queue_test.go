package daemon

import (
	"io"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/logx"
	"github.com/mcast-proxy/mcast-proxy/internal/membership"
	"github.com/mcast-proxy/mcast-proxy/internal/mroute"
	"github.com/mcast-proxy/mcast-proxy/internal/proxy"
)

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

// TestQueueDropsHoldExpiry: when the reader drops packets (queue full), the
// brain is told, and a member whose reports were pushed out is not cut at
// the end of its membership interval.
func TestQueueDropsHoldExpiry(t *testing.T) {
	p, t0, g, gmi := planeWithMember(nil)
	p.noteLoss(t0.Add(gmi - time.Second)) // nothing dropped yet
	p.readDrops[dropQueueFull].Add(5)
	p.noteLoss(t0.Add(gmi - time.Second))
	p.brain.Advance(t0.Add(gmi + time.Second))
	r, _ := p.brain.Router(3)
	if _, ok := r.Group(g); !ok {
		t.Fatal("the group expired although its reports may have been dropped")
	}
}

// oneRead is a routing socket whose Read returns pkt once, then waits to be
// closed; the other methods are not called.
type oneRead struct {
	mrouter
	pkt    chan mroute.Packet
	closed chan struct{}
}

func (o oneRead) Read(buf []byte) (mroute.Packet, error) {
	select {
	case p := <-o.pkt:
		return p, nil
	case <-o.closed:
		return mroute.Packet{}, os.ErrClosed
	}
}

// TestKernelDropsHoldExpiry: when a message says the kernel dropped some on
// the socket (its receive buffer full), the brain is told as for the
// reader's own drops, and a member whose reports may have been among them is
// not cut at the end of its membership interval.
func TestKernelDropsHoldExpiry(t *testing.T) {
	for _, tc := range []struct {
		name    string
		drops   uint32
		expired bool
	}{
		{"no drops: the group expires", 0, true},
		{"kernel drops: expiry held", 7, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sock := oneRead{pkt: make(chan mroute.Packet, 1), closed: make(chan struct{})}
			p, t0, g, gmi := planeWithMember(sock)
			p.noteLoss(t0.Add(gmi - time.Second)) // nothing dropped yet

			events := make(chan event, 1)
			go p.read(events)
			sock.pkt <- mroute.Packet{Ifindex: 3, Payload: []byte{0x11}, KernelDrops: tc.drops}
			<-events
			close(sock.closed)
			<-p.readerDone

			p.noteLoss(t0.Add(gmi - time.Second))
			p.brain.Advance(t0.Add(gmi + time.Second))
			r, _ := p.brain.Router(3)
			if _, ok := r.Group(g); ok == tc.expired {
				t.Errorf("group present %v, want %v", ok, !tc.expired)
			}
		})
	}
}

// planeWithMember is an IPv4 plane on mr whose downstream (ifindex 3) has one
// member of g, reported at t0; gmi is when that membership runs out.
func planeWithMember(mr mrouter) (p *plane, t0 time.Time, g netip.Addr, gmi time.Duration) {
	p = newPlane(ipv4, mr, logx.New(io.Discard, logx.Options{}))
	t0 = time.Unix(1000, 0)
	p.brain.AddDownstream(t0, proxy.Downstream{Link: proxy.Link{Ifindex: 3, Addr: netip.MustParseAddr("192.168.1.1")}})
	g = netip.MustParseAddr("239.1.1.1")
	p.brain.Report(t0, 3, netip.MustParseAddr("192.168.1.11"), 2, []membership.Record{{Type: membership.IsExclude, Group: g}})
	return p, t0, g, 260 * time.Second
}
