package daemon

import (
	"context"
	"io"
	"net/netip"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/config"
	"github.com/mcast-proxy/mcast-proxy/internal/control"
	"github.com/mcast-proxy/mcast-proxy/internal/igmp"
	"github.com/mcast-proxy/mcast-proxy/internal/linkwatch"
	"github.com/mcast-proxy/mcast-proxy/internal/logx"
	"github.com/mcast-proxy/mcast-proxy/internal/membership"
	"github.com/mcast-proxy/mcast-proxy/internal/memtest"
	"github.com/mcast-proxy/mcast-proxy/internal/mroute"
	"github.com/mcast-proxy/mcast-proxy/internal/upstream"
	"golang.org/x/sys/unix"
)

// The whole daemon path of a report, from the bytes the routing socket
// returns to the kernel operations the loop performs, against fakes of the
// kernel edge that only count (the recording fakes format every operation,
// which would dominate the numbers). A flow of the group is already known
// with no outputs, as when the stream reaches the router before anyone
// joined: the join makes one forwarding change and one upstream
// subscription change. To keep the state the same every iteration, one op
// is the join and the host's leave (fast leave): two reports, two
// forwarding changes, two subscription changes.

const benchConf = "interface wan { upstream }\ninterface lan { downstream; fast-leave yes }\n"

// benchRouter is a routing socket that counts forwarding changes and
// delivers packets the benchmark hands it (deliver). An eventfd stands for
// the socket's readiness, so the loop waits for it as for a real socket.
type benchRouter struct {
	*fakeRouter
	in     chan mroute.Packet
	ready  int               // eventfd: readable while in may hold a packet
	routed chan mroute.Route // every SetRoute, when not nil
	sets   int
	keep   bool // keep the routes set, for Routes
}

func (f *benchRouter) SetRoute(r mroute.Route) error {
	f.sets++
	if f.routed != nil {
		f.routed <- r
	}
	if f.keep {
		return f.fakeRouter.SetRoute(r)
	}
	return nil
}

func (f *benchRouter) Send(int, netip.Addr, netip.Addr, []byte) error { return nil }

func newBenchRouter(fam string) *benchRouter {
	ready, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		panic(err)
	}
	return &benchRouter{fakeRouter: newFakeRouter(fam, &kernelLog{}), in: make(chan mroute.Packet, 1), ready: ready}
}

// deliver queues pkt for the loop and makes the socket readable.
func (f *benchRouter) deliver(pkt mroute.Packet) {
	f.in <- pkt
	unix.Write(f.ready, []byte{1, 0, 0, 0, 0, 0, 0, 0})
}

func (f *benchRouter) Descriptor() int { return f.ready }

func (f *benchRouter) ReadWaiting(buf []byte) (mroute.Packet, bool, error) {
	select {
	case <-f.closed:
		return mroute.Packet{}, false, os.ErrClosed
	default:
	}
	for look := range 2 {
		select {
		case pkt := <-f.in:
			pkt.Payload = buf[:copy(buf, pkt.Payload)]
			return pkt, true, nil
		default:
		}
		if look == 0 {
			// Empty: no longer readable, unless deliver has just
			// queued one, which the second look finds.
			var count [8]byte
			unix.Read(f.ready, count[:])
		}
	}
	return mroute.Packet{}, false, nil
}

func (f *benchRouter) Close() error {
	select {
	case <-f.closed:
		return nil
	default:
	}
	f.fakeRouter.Close()
	return unix.Close(f.ready)
}

// benchJoiner is the upstream subscription, counting changes.
type benchJoiner struct {
	ifindex int
	sets    int
}

func (j *benchJoiner) Ifindex() int                          { return j.ifindex }
func (j *benchJoiner) SetInterface(ifindex int) error        { j.ifindex = ifindex; return nil }
func (j *benchJoiner) Set(netip.Addr, upstream.Filter) error { j.sets++; return nil }
func (j *benchJoiner) Truncated(netip.Addr) int              { return 0 }
func (j *benchJoiner) Groups() []netip.Addr                  { return nil }
func (j *benchJoiner) Close() error                          { return nil }

// noLinks is a link watcher that never reports a change.
type noLinks struct{}

func (noLinks) C() <-chan linkwatch.Change { return nil }
func (noLinks) Close() error               { return nil }

// reportBenchDaemon is a started daemon with wan (2) and lan (3) and one flow of
// g1 from provider known with no outputs.
func reportBenchDaemon(b testing.TB) (*Daemon, *benchRouter, *benchJoiner) {
	b.Helper()
	cfg, err := parseConfig(benchConf)
	if err != nil {
		b.Fatal(err)
	}
	var br *benchRouter
	j := &benchJoiner{}
	wake, err := newWaitSet()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(wake.close)
	d := &Daemon{
		log: logx.New(io.Discard, logx.Options{}), cfg: cfg, started: time.Now(),
		wake:    wake,
		warned:  map[string]bool{},
		budget:  membership.NewBudget(int64(cfg.MaxMemoryTotal)),
		links:   snapshot([]linkwatch.Link{wanUp, lanUp}),
		watcher: noLinks{},
		openRouter: func(fam *family, table uint32) (mrouter, error) {
			br = newBenchRouter(fam.name)
			return br, nil
		},
		newJoiner: func(ifindex int) (joiner, error) {
			j.ifindex = ifindex
			return j, nil
		},
		addRule:   func(mroute.Rule) error { return nil },
		delRule:   func(mroute.Rule) error { return nil },
		findRules: func() ([]mroute.Rule, error) { return nil, nil },
	}
	if err := d.start(time.Now()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(d.stopAll)
	d.handle(event{plane: d.allPlanes()[0], at: time.Now(), pkt: mroute.Packet{Upcall: &mroute.Upcall{
		Type: mroute.UpcallNoCache, Ifindex: wanUp.Index, Source: netip.MustParseAddr(provider), Group: netip.MustParseAddr(g1)}}})
	br.sets = 0
	return d, br, j
}

func parseConfig(text string) (*config.Config, error) {
	return config.Parse("bench.conf", []byte(text))
}

// benchReports are an IGMPv3 join (TO_EX{}) of g1 and the leave (TO_IN{}),
// as the socket returns them.
func benchReports(b testing.TB) (join, leave mroute.Packet) {
	b.Helper()
	grp := netip.MustParseAddr(g1)
	pkt := func(t igmp.RecordType) mroute.Packet {
		payload, err := (&igmp.V3Report{Records: []igmp.GroupRecord{{Type: t, Group: grp}}}).Marshal()
		if err != nil {
			b.Fatal(err)
		}
		return mroute.Packet{Ifindex: lanUp.Index, Src: netip.MustParseAddr(lanHost), Dst: netip.MustParseAddr("224.0.0.22"),
			TTL: 1, RouterAlert: true, Payload: payload}
	}
	return pkt(igmp.ChangeToExclude), pkt(igmp.ChangeToInclude)
}

func BenchmarkReportToKernel(b *testing.B) {
	// loop: the loop's own work for a packet already read (decode, brain,
	// kernel operations), in the calling goroutine.
	b.Run("loop", func(b *testing.B) {
		d, br, j := reportBenchDaemon(b)
		join, leave := benchReports(b)
		p := d.allPlanes()[0]
		b.ReportAllocs()
		for range b.N {
			d.handle(event{plane: p, pkt: join, at: time.Now()})
			d.handle(event{plane: p, pkt: leave, at: time.Now()})
		}
		if br.sets != 2*b.N || j.sets != 2*b.N {
			b.Fatalf("%d forwarding and %d subscription changes for %d join-leave pairs", br.sets, j.sets, b.N)
		}
	})
	// socket: from the socket becoming readable to the forwarding change,
	// through the loop's wait and read, as in production (the benchmark's
	// goroutine hands over the packet and takes the change: two goroutine
	// switches an op that production does not make).
	b.Run("socket", func(b *testing.B) {
		d, br, _ := reportBenchDaemon(b)
		join, leave := benchReports(b)
		joinLeave := serveJoinLeave(b, d, br, join, leave)
		b.ReportAllocs()
		for range b.N {
			joinLeave()
		}
	})
}

// serveJoinLeave starts d's serving loop, stopped when the test ends, and
// returns a join and a leave through it, each awaited at its forwarding
// change.
func serveJoinLeave(tb testing.TB, d *Daemon, br *benchRouter, join, leave mroute.Packet) func() {
	br.routed = make(chan mroute.Route)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- d.serve(ctx) }()
	tb.Cleanup(func() {
		cancel()
		<-done
	})
	return func() {
		br.deliver(join)
		if r := <-br.routed; len(r.Outputs) != 1 {
			tb.Fatalf("join: forwarding to %v", r.Outputs)
		}
		br.deliver(leave)
		if r := <-br.routed; len(r.Outputs) != 0 {
			tb.Fatalf("leave: forwarding to %v", r.Outputs)
		}
	}
}

// TestReportPathAllocatesOnlyState: a join and a leave of a group whose
// stream already reaches the router allocate only the state the join adds
// (the group's record, its host list, the flow's outputs), in the loop's own
// work and through the serving loop's wait and read alike. Every other
// allocation on the path is garbage a burst of reports leaves behind.
func TestReportPathAllocatesOnlyState(t *testing.T) {
	const state = 3
	join, leave := benchReports(t)
	t.Run("loop", func(t *testing.T) {
		d, br, _ := reportBenchDaemon(t)
		p := d.allPlanes()[0]
		allocs := testing.AllocsPerRun(100, func() {
			d.handle(event{plane: p, pkt: join, at: time.Now()})
			d.handle(event{plane: p, pkt: leave, at: time.Now()})
		})
		if br.sets == 0 {
			t.Fatal("no forwarding change")
		}
		if allocs > state {
			t.Errorf("a join and a leave allocate %v times, want at most %d", allocs, state)
		}
	})
	t.Run("serve", func(t *testing.T) {
		d, br, _ := reportBenchDaemon(t)
		allocs := testing.AllocsPerRun(100, serveJoinLeave(t, d, br, join, leave))
		if allocs > state {
			t.Errorf("a join and a leave allocate %v times, want at most %d", allocs, state)
		}
	})
}

// BenchmarkThousandGroupsHeap is the live heap the daemon holds for 1000
// groups, each with a flow from the provider and joined by one host with
// IGMPv2 (TestThousandGroups in internal/e2e, without the kernel): the
// heap after a collection, less the heap of the started daemon, per group.
// The counting fakes of the kernel edge keep no state of their own.
func BenchmarkThousandGroupsHeap(b *testing.B) {
	const groups = 1000
	var perGroup float64
	for range b.N {
		d, _, _ := reportBenchDaemon(b)
		before := memtest.LiveHeap()
		joinGroups(b, d, groups)
		perGroup = float64(memtest.LiveHeap()-before) / groups
		runtime.KeepAlive(d)
		d.stopAll()
	}
	b.ReportMetric(perGroup, "heapB/group")
	b.ReportMetric(0, "ns/op")
}

// joinGroups feeds the loop n flows and one host's IGMPv2 joins of their
// groups.
func joinGroups(b testing.TB, d *Daemon, n int) {
	p := d.allPlanes()[0]
	for i := range n {
		grp := netip.AddrFrom4([4]byte{239, 20, byte(i >> 8), byte(i)})
		d.handle(event{plane: p, at: time.Now(), pkt: mroute.Packet{Upcall: &mroute.Upcall{
			Type: mroute.UpcallNoCache, Ifindex: wanUp.Index, Source: netip.MustParseAddr(provider), Group: grp}}})
		payload, err := (&igmp.Report{Version: 2, Group: grp}).Marshal()
		if err != nil {
			b.Fatal(err)
		}
		d.handle(event{plane: p, at: time.Now(), pkt: mroute.Packet{Ifindex: lanUp.Index, Src: netip.MustParseAddr(lanHost),
			Dst: grp, TTL: 1, RouterAlert: true, Payload: payload}})
	}
}

// BenchmarkStatusKeepsHeap: what the daemon keeps of status answers with
// 1000 groups forwarded (the counter readings the next answer's rates are
// made of), in live heap bytes a route after two complete answers.
func BenchmarkStatusKeepsHeap(b *testing.B) {
	const groups = 1000
	var perRoute float64
	for range b.N {
		d, br, _ := reportBenchDaemon(b)
		br.keep = true
		joinGroups(b, d, groups)
		before := memtest.LiveHeap()
		for range 2 {
			if n := len(d.status(time.Now()).Routes); n != groups {
				b.Fatalf("%d routes in status, want %d", n, groups)
			}
		}
		perRoute = float64(memtest.LiveHeap()-before) / groups
		runtime.KeepAlive(d)
		d.stopAll()
	}
	b.ReportMetric(perRoute, "heapB/route")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkStatusThousandGroups: what the loop allocates to answer a
// status request with 1000 groups joined and forwarded. "whole" builds
// every list at once (as the answer did before its lists came in pages);
// "head" is what a paged answer starts with (the short lists and the keys
// of the long ones), "page" one page of a long list (metric B/page, over
// every page of the three lists). A page is garbage once written, so a
// paged answer holds its head and one page at a time.
func BenchmarkStatusThousandGroups(b *testing.B) {
	d, br, _ := reportBenchDaemon(b)
	br.keep = true
	joinGroups(b, d, 1000)
	st := d.status(time.Now())
	if n := len(st.Routes); n < 1000 {
		b.Fatalf("%d routes in status, want the 1000 joined", n)
	}
	b.Run("whole", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			d.status(time.Now())
		}
	})
	b.Run("head", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			d.statusHead(time.Now())
		}
	})
	b.Run("page", func(b *testing.B) {
		_, pages := d.statusHead(time.Now())
		pages.now = time.Now
		n := 0
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		before := ms.TotalAlloc
		b.ResetTimer()
		for range b.N {
			for _, list := range []string{control.PageGroups, control.PageUpstream, control.PageRoutes} {
				pg := control.Page{List: list, Interface: 1}
				for {
					pages.FillPage(&pg)
					n++
					if pg.Done {
						break
					}
					pg = control.Page{List: list, Interface: 1, From: pg.Next}
				}
			}
		}
		b.StopTimer()
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.TotalAlloc-before)/float64(n), "B/page")
	})
}

// BenchmarkFloodReport is one report of TestHostileFlood's IGMPv3 flood
// through the whole loop (decode, brain, kernel operations against the
// recording fakes): IS_IN with the 365 sources that fit in a frame, from one
// of 64 spoofed hosts, for one of 2048 groups, at the default limits. Past
// the first few hundred reports the budget is spent and every report is
// refused; under a flood this is what each report the socket holds costs.
func BenchmarkFloodReport(b *testing.B) {
	d, _, j := reportBenchDaemon(b)
	p := d.allPlanes()[0]
	srcs := make([]netip.Addr, 365)
	for i := range srcs {
		srcs[i] = netip.AddrFrom4([4]byte{10, 200, byte(i >> 8), byte(i)})
	}
	pkts := make([]mroute.Packet, 2048)
	for i := range pkts {
		grp := netip.AddrFrom4([4]byte{239, 100, byte(i >> 8), byte(i)})
		payload, err := (&igmp.V3Report{Records: []igmp.GroupRecord{{Type: igmp.ModeIsInclude, Group: grp, Sources: srcs}}}).Marshal()
		if err != nil {
			b.Fatal(err)
		}
		pkts[i] = mroute.Packet{Ifindex: lanUp.Index, Dst: netip.MustParseAddr("224.0.0.22"), TTL: 1, RouterAlert: true, Payload: payload}
	}
	b.ReportAllocs()
	b.ResetTimer()
	now := time.Now()
	for i := range b.N {
		pkt := pkts[(i/64)%len(pkts)]
		pkt.Src = netip.AddrFrom4([4]byte{192, 168, 1, byte(100 + i%64)})
		d.handle(event{plane: p, pkt: pkt, at: now.Add(time.Duration(i) * 100 * time.Microsecond)})
	}
	b.ReportMetric(float64(j.sets), "subscription-changes")
}
