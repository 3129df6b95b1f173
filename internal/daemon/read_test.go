package daemon

import (
	"context"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/control"
	"github.com/mcast-proxy/mcast-proxy/internal/igmp"
	"github.com/mcast-proxy/mcast-proxy/internal/logx"
	"github.com/mcast-proxy/mcast-proxy/internal/membership"
	"github.com/mcast-proxy/mcast-proxy/internal/mroute"
	"github.com/mcast-proxy/mcast-proxy/internal/proxy"
)

// TestReadErrorsHoldExpiry: when a read of the routing socket fails, the
// brain is told, and a member whose report may have been the lost message is
// not cut at the end of its membership interval.
func TestReadErrorsHoldExpiry(t *testing.T) {
	sock := failingRead{}
	p, t0, g, gmi := planeWithMember(sock)
	p.noteLoss(t0.Add(gmi - time.Second)) // nothing lost yet
	p.waiting = true
	if _, ok := p.next(make([]byte, 64)); ok || p.waiting {
		t.Fatalf("a failed read gave a message %v, still waiting %v", ok, p.waiting)
	}
	if p.drops[dropReadError] != 1 {
		t.Fatalf("read errors counted %d, want 1", p.drops[dropReadError])
	}
	p.noteLoss(t0.Add(gmi - time.Second))
	p.brain.Advance(t0.Add(gmi + time.Second))
	r, _ := p.brain.Router(3)
	if _, ok := r.Group(g); !ok {
		t.Fatal("the group expired although its reports may have been lost")
	}
}

// failingRead is a routing socket whose reads fail.
type failingRead struct{ mrouter }

func (failingRead) ReadWaiting([]byte) (mroute.Packet, bool, error) {
	return mroute.Packet{}, false, syscall.ENOBUFS
}

// oneRead is a routing socket whose ReadWaiting returns what pkt holds,
// then none; the other methods are not called.
type oneRead struct {
	mrouter
	pkt chan mroute.Packet
}

func (o oneRead) ReadWaiting(buf []byte) (mroute.Packet, bool, error) {
	select {
	case p := <-o.pkt:
		return p, true, nil
	default:
		return mroute.Packet{}, false, nil
	}
}

// TestKernelDropsHoldExpiry: when a message says the kernel dropped some on
// the socket (its receive buffer full), the brain is told as for a failed
// read, and a member whose reports may have been among them is
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
			sock := oneRead{pkt: make(chan mroute.Packet, 1)}
			p, t0, g, gmi := planeWithMember(sock)
			p.noteLoss(t0.Add(gmi - time.Second)) // nothing dropped yet

			sock.pkt <- mroute.Packet{Ifindex: 3, Payload: []byte{0x11}, KernelDrops: tc.drops}
			p.waiting = true
			if _, ok := p.next(make([]byte, 64)); !ok {
				t.Fatal("the waiting message was not read")
			}
			if _, ok := p.next(make([]byte, 64)); ok || p.waiting {
				t.Fatalf("read a second message %v, still waiting %v", ok, p.waiting)
			}

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

// TestServeHandlesEveryReport: the loop waits for its routing socket, reads
// what arrives and handles it, report after report. A wake-up lost between
// the loop's last look at the socket and its parking shows as a report never
// handled.
func TestServeHandlesEveryReport(t *testing.T) {
	d, br, _ := reportBenchDaemon(t)
	join, leave := benchReports(t)
	br.routed = make(chan mroute.Route)
	p := d.allPlanes()[0]
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- d.serve(ctx) }()
	for i := range 2000 {
		for _, pkt := range []mroute.Packet{join, leave} {
			br.deliver(pkt)
			select {
			case <-br.routed:
			case <-time.After(5 * time.Second):
				t.Fatalf("report %d: not handled within 5 s", i)
			}
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the loop did not stop")
	}
	if !p.closed {
		t.Error("the routing socket stayed open after the stop")
	}
}

// TestReadPlanesInBatches: a socket that always has more is read readBatch
// messages at a time, so the loop gets back to its other sockets and to what
// the doorman hands over.
func TestReadPlanesInBatches(t *testing.T) {
	d, br, _ := reportBenchDaemon(t)
	join, leave := benchReports(t)
	br.in = make(chan mroute.Packet, 3*readBatch)
	for i := range cap(br.in) {
		br.in <- []mroute.Packet{join, leave}[i%2]
	}
	d.readBuf = make([]byte, 2048)
	p := d.allPlanes()[0]
	p.waiting = true
	if !d.readPlanes() {
		t.Fatal("readPlanes read nothing")
	}
	if left := len(br.in); left != 2*readBatch || !p.waiting || !p.backlog || br.sets != readBatch {
		t.Fatalf("after one round: %d messages left, still waiting %v, backlog %v, %d forwarding changes; want %d, true, true, %d",
			left, p.waiting, p.backlog, br.sets, 2*readBatch, readBatch)
	}
}

// serving runs d's serving loop until the test ends, then stops it.
func serving(t *testing.T, d *Daemon) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- d.serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
}

// TestServeAnswersCalls: a control call reaches the loop through the
// doorman and is answered.
func TestServeAnswersCalls(t *testing.T) {
	d, _, _ := reportBenchDaemon(t)
	d.calls = make(chan control.Call)
	serving(t, d)
	call := control.Call{Req: control.Request{Command: "no-such-command"}, Reply: make(chan control.Response, 1)}
	d.calls <- call
	select {
	case resp := <-call.Reply:
		if resp.OK || !strings.Contains(resp.Error, "unknown command") {
			t.Fatalf("answer %+v, want an unknown command", resp)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no answer within 5 s")
	}
}

// TestServeWritesState: a state change in the serving loop is written to
// the snapshot about a second later. The write falls due with the loop's
// timer, whose letter wakes a loop that does not yet know whether its
// sockets have anything: that must not count as busy.
func TestServeWritesState(t *testing.T) {
	d, br, _ := reportBenchDaemon(t)
	join, _ := benchReports(t)
	clk := &bootClock{testBoot, time.Hour}
	path := filepath.Join(t.TempDir(), "mcast-proxy.state")
	d.state = stateFile{path: path, boot: clk.now}
	br.routed = make(chan mroute.Route, 1)
	serving(t, d)
	br.deliver(join)
	<-br.routed
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no snapshot written within 5 s of a join (due %v)", d.state.due)
		}
	}
}

// TestBacklogAsksForDrops: when a batch leaves more to read, the loop asks
// the kernel how many messages it dropped, rather than wait for a message
// queued after the drops to say so, and memberships are held at once. With
// nothing left to read it does not ask.
func TestBacklogAsksForDrops(t *testing.T) {
	for _, tc := range []struct {
		name    string
		queued  int
		asked   bool
		backlog bool
	}{
		{"a batch with more to read", readBatch + 1, true, true},
		{"everything read", readBatch - 1, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, br, _ := reportBenchDaemon(t)
			join, leave := benchReports(t)
			br.in = make(chan mroute.Packet, tc.queued)
			for i := range tc.queued {
				br.in <- []mroute.Packet{join, leave}[i%2]
			}
			br.drops = 7
			d.readBuf = make([]byte, 2048)
			p := d.allPlanes()[0]
			p.waiting = true
			d.readPlanes()
			if p.backlog != tc.backlog || (p.kernelDrops == 7) != tc.asked {
				t.Fatalf("backlog %v, kernel drops %d; want backlog %v, asked %v", p.backlog, p.kernelDrops, tc.backlog, tc.asked)
			}
		})
	}
}

// TestBusySocketDoesNotStarveOthers: while one plane's socket always has
// more (a flood of one family), the loop does not park, so nothing tells
// it that another plane's socket became readable; it must look anyway.
func TestBusySocketDoesNotStarveOthers(t *testing.T) {
	log := logx.New(io.Discard, logx.Options{})
	flooded := &queuedRead{in: make(chan mroute.Packet, 3*readBatch)}
	quiet := &queuedRead{in: make(chan mroute.Packet, 1)}
	d := &Daemon{log: log, readBuf: make([]byte, 64)}
	in := &instance{}
	for _, mr := range []*queuedRead{flooded, quiet} {
		p := newPlane(ipv4, mr, log)
		p.fd = 1 // any descriptor: the wait set is not used here
		in.planes = append(in.planes, p)
	}
	d.insts = []*instance{in}
	for range cap(flooded.in) {
		flooded.in <- mroute.Packet{Ifindex: 99, Payload: []byte{0x11}}
	}
	in.planes[0].waiting = true // what the poller said; the quiet socket was empty then
	d.readPlanes()
	quiet.in <- mroute.Packet{Ifindex: 99, Payload: []byte{0x11}}
	d.readPlanes()
	if n := len(quiet.in); n != 0 {
		t.Fatalf("the quiet socket's message was not read while the other was busy")
	}
}

// queuedRead is a routing socket whose ReadWaiting returns what in holds.
type queuedRead struct {
	mrouter
	in chan mroute.Packet
}

func (q *queuedRead) ReadWaiting([]byte) (mroute.Packet, bool, error) {
	select {
	case p := <-q.in:
		return p, true, nil
	default:
		return mroute.Packet{}, false, nil
	}
}

func (q *queuedRead) Drops() (uint64, error) { return 0, nil }

// TestBacklogHoldsExpiry: while the loop is behind a socket, a member's
// report may wait in it behind a flood; when the loop's timer fires, no
// membership of that plane expires. Once the loop has caught up, expiry
// runs as usual.
func TestBacklogHoldsExpiry(t *testing.T) {
	d, br, _ := reportBenchDaemon(t)
	join, _ := benchReports(t)
	p := d.allPlanes()[0]
	now := time.Now()
	d.handle(event{plane: p, pkt: join, at: now})
	if br.sets != 1 {
		t.Fatalf("%d forwarding changes after the join, want 1", br.sets)
	}
	later := now.Add(time.Hour) // long after the membership's timer ran out
	p.backlog = true
	d.open(letter{kind: letterTimer, fired: later})
	if br.sets != 1 {
		t.Fatalf("the membership expired while the loop was behind its socket (%d forwarding changes)", br.sets)
	}
	p.backlog = false
	d.open(letter{kind: letterTimer, fired: later.Add(2 * time.Second)})
	if br.sets != 2 {
		t.Fatalf("%d forwarding changes once the loop caught up, want 2 (the membership expired)", br.sets)
	}
}

// TestAwayHoldsExpiry: after the loop was kept from its sockets for
// awayLimit or more (a long letter, or a timer handled late), reports that
// came meanwhile may wait unread, and no membership expires for awayLimit
// more, time to read them; after a short absence expiry is not held.
func TestAwayHoldsExpiry(t *testing.T) {
	join, _ := benchReports(t)
	start := time.Now()
	later := start.Add(time.Hour) // long after the membership's timer ran out
	joined := func(t *testing.T) (*Daemon, *benchRouter) {
		d, br, _ := reportBenchDaemon(t)
		d.now = func() time.Time { return later }
		d.handle(event{plane: d.allPlanes()[0], pkt: join, at: start})
		if br.sets != 1 {
			t.Fatalf("%d forwarding changes after the join, want 1", br.sets)
		}
		return d, br
	}

	t.Run("late timer", func(t *testing.T) {
		d, br := joined(t)
		d.armedAt = later.Add(-awayLimit)
		d.open(letter{kind: letterTimer, fired: d.armedAt})
		if br.sets != 1 {
			t.Fatalf("the membership expired on a timer handled %v late (%d forwarding changes)", awayLimit, br.sets)
		}
		d.now = func() time.Time { return later.Add(2 * time.Second) }
		d.armedAt = later.Add(2 * time.Second)
		d.open(letter{kind: letterTimer, fired: d.armedAt})
		if br.sets != 2 {
			t.Fatalf("%d forwarding changes after the hold, want 2 (the membership expired)", br.sets)
		}
	})
	t.Run("long letter", func(t *testing.T) {
		d, br := joined(t)
		d.noteAway(later.Add(-awayLimit), later)
		d.armedAt = later
		d.open(letter{kind: letterTimer, fired: later})
		if br.sets != 1 {
			t.Fatalf("the membership expired right after a letter that took %v (%d forwarding changes)", awayLimit, br.sets)
		}
		// The hold lasts awayLimit: time to read what waited.
		d.now = func() time.Time { return later.Add(awayLimit) }
		d.armedAt = later.Add(awayLimit)
		d.open(letter{kind: letterTimer, fired: d.armedAt})
		if br.sets != 2 {
			t.Fatalf("%d forwarding changes %v after the letter, want 2 (the membership expired)", br.sets, awayLimit)
		}
	})
	t.Run("short absence", func(t *testing.T) {
		d, br := joined(t)
		d.noteAway(later.Add(-awayLimit+time.Millisecond), later)
		d.armedAt = later.Add(-awayLimit + time.Millisecond)
		d.open(letter{kind: letterTimer, fired: later})
		if br.sets != 2 {
			t.Fatalf("%d forwarding changes after %v away, want 2 (the membership expired)", br.sets, awayLimit-time.Millisecond)
		}
	})
}

// TestStatusShowsExpiryHeld: while expiry is held on a downstream, status
// says for how much longer, so that an operator can tell why a group
// outlives its timer; once the hold is over it says nothing.
func TestStatusShowsExpiryHeld(t *testing.T) {
	join, _ := benchReports(t)
	d, _, _ := reportBenchDaemon(t)
	start := time.Now()
	d.handle(event{plane: d.allPlanes()[0], pkt: join, at: start})
	held := func(now time.Time) float64 {
		t.Helper()
		st, _ := d.statusHead(now)
		for _, ifc := range st.Interfaces {
			if ifc.Name == lanUp.Name && ifc.Family == control.FamilyIPv4 {
				return ifc.ExpiryHeld
			}
		}
		t.Fatalf("no %s in status: %+v", lanUp.Name, st.Interfaces)
		return 0
	}
	if h := held(start); h != 0 {
		t.Fatalf("expiry held for %v s before anything waited, want 0", h)
	}
	d.noteAway(start, start.Add(awayLimit))
	if h, want := held(start.Add(awayLimit)), awayLimit.Seconds(); h != want {
		t.Fatalf("expiry held for %v s right after the loop was away, want %v", h, want)
	}
	if h := held(start.Add(2 * awayLimit)); h != 0 {
		t.Fatalf("expiry held for %v s once the hold was over, want 0", h)
	}
}

// TestReportSourcesOutliveTheDecoder: the decoder reuses one report's
// source lists for the next, so the brain must keep copies. Two reports
// with different sources, and the first group's state still holds the
// first report's sources, for the group and for its host.
func TestReportSourcesOutliveTheDecoder(t *testing.T) {
	d, _, _ := reportBenchDaemon(t)
	p := d.allPlanes()[0]
	report := func(grp string, srcs ...string) {
		rec := igmp.GroupRecord{Type: igmp.ModeIsInclude, Group: netip.MustParseAddr(grp)}
		for _, s := range srcs {
			rec.Sources = append(rec.Sources, netip.MustParseAddr(s))
		}
		payload, err := (&igmp.V3Report{Records: []igmp.GroupRecord{rec}}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		d.handle(event{plane: p, at: time.Now(), pkt: mroute.Packet{Ifindex: lanUp.Index, Src: netip.MustParseAddr(lanHost),
			Dst: netip.MustParseAddr("224.0.0.22"), TTL: 1, RouterAlert: true, Payload: payload}})
	}
	report("232.1.1.1", "192.0.2.10", "192.0.2.11")
	report("232.1.1.2", "198.51.100.20", "198.51.100.21")
	r, ok := p.brain.Router(lanUp.Index)
	if !ok {
		t.Fatal("no router on the LAN")
	}
	st, ok := r.Group(netip.MustParseAddr("232.1.1.1"))
	if !ok {
		t.Fatal("232.1.1.1 is not joined")
	}
	want := []netip.Addr{netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("192.0.2.11")}
	if !slices.Equal(st.Include, want) {
		t.Errorf("232.1.1.1 includes %v, want %v", st.Include, want)
	}
	if len(st.Hosts) != 1 || !slices.Equal(st.Hosts[0].Sources, want) {
		t.Errorf("232.1.1.1's hosts %+v, want one with %v", st.Hosts, want)
	}
}
