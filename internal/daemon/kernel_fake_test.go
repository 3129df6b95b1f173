package daemon

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"sync"

	"github.com/mcast-proxy/mcast-proxy/internal/mroute"
	"github.com/mcast-proxy/mcast-proxy/internal/upstream"
)

// kernelLog records, in order, every operation the daemon performs on the
// kernel edge of both families and the upstream subscription, as short
// lines a test compares with the operations it expects.
type kernelLog struct {
	ops []string
}

func (k *kernelLog) add(format string, args ...any) {
	k.ops = append(k.ops, fmt.Sprintf(format, args...))
}

// take returns the operations recorded since the last take.
func (k *kernelLog) take() []string {
	ops := k.ops
	k.ops = nil
	return ops
}

// fakeRouter is a routing socket of one family that records what the
// daemon does with it and keeps the VIF and route tables the way the kernel
// would, refusing what the kernel refuses (a second VIF on one interface,
// removing one that is not there), so a reconciliation that loses track of
// the kernel fails the test rather than passing on a forgiving fake.
type fakeRouter struct {
	name   string
	log    *kernelLog
	vifs   map[int]int // ifindex -> VIF
	next   int
	groups map[int]bool // interfaces listening for reports
	routes map[[2]netip.Addr]mroute.Route
	drops  uint64 // what Drops reports
	// counters is what Counters reports of an entry; zero if not set.
	counters map[[2]netip.Addr]mroute.Counters

	once   sync.Once
	closed chan struct{} // unblocks Read, as closing a socket does
	// release, if set, gives the routing table back when the socket
	// closes, as the kernel does.
	release func()
}

func newFakeRouter(name string, log *kernelLog) *fakeRouter {
	return &fakeRouter{
		name: name, log: log,
		vifs: map[int]int{}, groups: map[int]bool{}, routes: map[[2]netip.Addr]mroute.Route{},
		closed: make(chan struct{}),
	}
}

func (f *fakeRouter) AddVIF(ifindex, threshold int) (int, error) {
	f.log.add("%s add-vif %d threshold %d", f.name, ifindex, threshold)
	if _, ok := f.vifs[ifindex]; ok {
		return 0, errors.New("file exists")
	}
	f.vifs[ifindex] = f.next
	f.next++
	return f.vifs[ifindex], nil
}

func (f *fakeRouter) DelVIF(ifindex int) error {
	f.log.add("%s del-vif %d", f.name, ifindex)
	if _, ok := f.vifs[ifindex]; !ok {
		return errors.New("no such vif")
	}
	delete(f.vifs, ifindex)
	for k, r := range f.routes {
		// The kernel drops entries whose input VIF goes away.
		if r.Input == ifindex {
			delete(f.routes, k)
		}
	}
	return nil
}

func (f *fakeRouter) VIF(ifindex int) (int, bool) {
	v, ok := f.vifs[ifindex]
	return v, ok
}

func (f *fakeRouter) JoinRouterGroups(ifindex int) error {
	f.log.add("%s join-router-groups %d", f.name, ifindex)
	f.groups[ifindex] = true
	return nil
}

func (f *fakeRouter) LeaveRouterGroups(ifindex int) error {
	f.log.add("%s leave-router-groups %d", f.name, ifindex)
	delete(f.groups, ifindex)
	return nil
}

func (f *fakeRouter) SetRoute(r mroute.Route) error {
	f.log.add("%s set-route %s,%s in %d out %v", f.name, r.Source, r.Group, r.Input, r.Outputs)
	if _, ok := f.vifs[r.Input]; !ok {
		return errors.New("input is no vif")
	}
	f.routes[[2]netip.Addr{r.Source, r.Group}] = r
	return nil
}

func (f *fakeRouter) DelRoute(src, grp netip.Addr) error {
	f.log.add("%s del-route %s,%s", f.name, src, grp)
	delete(f.routes, [2]netip.Addr{src, grp})
	return nil
}

func (f *fakeRouter) RouteKeys() []mroute.Key {
	ks := make([]mroute.Key, 0, len(f.routes))
	for _, r := range f.routes {
		ks = append(ks, mroute.Key{Source: r.Source, Group: r.Group})
	}
	slices.SortFunc(ks, mroute.Key.Compare) // as the routing socket's
	return ks
}

func (f *fakeRouter) Route(k mroute.Key, outputs []int) (mroute.Route, bool) {
	r, ok := f.routes[[2]netip.Addr{k.Source, k.Group}]
	if !ok {
		return mroute.Route{}, false
	}
	if len(r.Outputs) > 0 {
		start := len(outputs)
		outputs = append(outputs, r.Outputs...)
		r.Outputs = outputs[start:len(outputs):len(outputs)]
	}
	return r, true
}

func (f *fakeRouter) NumRoutes() int { return len(f.routes) }

func (f *fakeRouter) Counters(src, grp netip.Addr) (mroute.Counters, error) {
	return f.counters[[2]netip.Addr{src, grp}], nil
}

func (f *fakeRouter) Send(ifindex int, src, dst netip.Addr, payload []byte) error {
	f.log.add("%s send %d to %s", f.name, ifindex, dst)
	return nil
}

func (f *fakeRouter) ReadWaiting([]byte) (mroute.Packet, bool, error) {
	select {
	case <-f.closed:
		return mroute.Packet{}, false, os.ErrClosed
	default:
		return mroute.Packet{}, false, nil
	}
}

func (f *fakeRouter) Descriptor() int { return -1 }

func (f *fakeRouter) Drops() (uint64, error) { return f.drops, nil }

func (f *fakeRouter) Close() error {
	f.log.add("%s close", f.name)
	f.once.Do(func() {
		close(f.closed)
		if f.release != nil {
			f.release()
		}
	})
	return nil
}

// fakeJoiner is the upstream subscription, recording joins, moves and
// filters.
type fakeJoiner struct {
	log     *kernelLog
	ifindex int
	filters map[netip.Addr]upstream.Filter
}

func (j *fakeJoiner) Ifindex() int { return j.ifindex }

func (j *fakeJoiner) SetInterface(ifindex int) error {
	j.log.add("upstream move %d -> %d", j.ifindex, ifindex)
	j.ifindex = ifindex
	return nil
}

func (j *fakeJoiner) Set(g netip.Addr, f upstream.Filter) error {
	j.log.add("upstream set %s %s %v", g, f.Mode, f.Sources)
	if f.Mode == upstream.Include && len(f.Sources) == 0 {
		delete(j.filters, g)
	} else {
		j.filters[g] = f
	}
	return nil
}

func (j *fakeJoiner) Truncated(netip.Addr) int { return 0 }

func (j *fakeJoiner) Groups() []netip.Addr {
	var gs []netip.Addr
	for g := range j.filters {
		gs = append(gs, g)
	}
	slices.SortFunc(gs, netip.Addr.Compare)
	return gs
}

func (j *fakeJoiner) Close() error {
	j.log.add("upstream close %d", j.ifindex)
	return nil
}
