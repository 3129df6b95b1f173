package membership

import (
	"net/netip"
	"slices"
)

// source is one source record (RFC 3376 §6.2.3). In INCLUDE mode every
// source has a running timer; in EXCLUDE mode a zero timer puts the source on
// the exclude list.
type source struct {
	timer  instant
	rexmit int // retransmissions left in group-and-source-specific queries (§6.6.3.2)
}

// group is one group record (RFC 3376 §6.2.1) with its deadlines.
type group struct {
	addr    netip.Addr
	mode    FilterMode
	changed bool                   // forwarding-relevant state changed during this call (beside mode: no padding)
	timer   instant                // group timer, running only in EXCLUDE mode (§6.2.2)
	sources map[netip.Addr]*source // nil until the first source: most groups have none (EXCLUDE{})

	// Older Host Present timers (§7.3.2); zero when not running.
	v1Host, v2Host instant

	hosts     []host  // tracked reporters, sorted by address
	hostAddrs int     // addresses the hosts' source lists have room for
	untracked instant // an untracked member was heard until then; zero when none

	grpRexmit  int     // Q(G) retransmissions left (§6.6.3.1)
	grpQueryAt instant // next Q(G) retransmission
	srcQueryAt instant // next Q(G,S) retransmission
	sentAt     instant // last time a query for this group went out

	deadline instant // earliest of all the times above and the source timers
	index    int     // position in the deadline heap
	charged  int64   // bytes charged for the group at its last update
}

func newGroup(addr netip.Addr) *group {
	return &group{addr: addr, index: -1}
}

// compat is the group compatibility mode (§7.3.2), capped by the version the
// router itself runs (§7.3.1). Timers are cleared by Advance on expiry, so a
// non-zero timer is a running one.
func (g *group) compat(version int) int {
	c := 3
	switch {
	case !g.v1Host.IsZero():
		c = 1
	case !g.v2Host.IsZero():
		c = 2
	}
	return min(c, version)
}

// set gives source a the timer t, creating it if needed.
func (g *group) set(a netip.Addr, t instant) {
	s := g.sources[a]
	if s == nil {
		s = &source{}
		g.addSource(a, s)
		// A new source in EXCLUDE mode was already forwarded as unlisted.
		if g.mode == Include {
			g.changed = true
		}
	} else if s.timer.IsZero() {
		// Moving from the exclude list to the requested list (§6.4.1 "Y-A").
		g.changed = true
	}
	s.timer = t
}

// block puts a new source on the exclude list (timer zero).
func (g *group) block(a netip.Addr) {
	if _, ok := g.sources[a]; ok {
		return
	}
	g.addSource(a, &source{})
	g.changed = true
}

// addSource puts the new source a in the list, making the list if the
// group had none.
func (g *group) addSource(a netip.Addr, s *source) {
	if g.sources == nil {
		g.sources = make(map[netip.Addr]*source)
	}
	g.sources[a] = s
}

// del deletes the existing source a.
func (g *group) del(a netip.Addr) {
	s := g.sources[a]
	// Dropping a requested source in EXCLUDE mode changes nothing for
	// forwarding: unlisted sources are forwarded too.
	if g.mode == Include || s.timer.IsZero() {
		g.changed = true
	}
	delete(g.sources, a)
}

// deleteExcept deletes every source not in keep.
func (g *group) deleteExcept(keep srcSet) {
	for a := range g.sources {
		if !keep.has(a) {
			g.del(a)
		}
	}
}

// toInclude is the group timer expiry of §6.5: back to INCLUDE with the
// sources still running; the excluded ones are dropped.
func (g *group) toInclude() {
	for a, s := range g.sources {
		if s.timer.IsZero() {
			delete(g.sources, a)
		}
	}
	g.mode = Include
	g.timer = 0
	g.grpRexmit = 0
	g.grpQueryAt = 0
	g.changed = true
}

func (g *group) wants(src netip.Addr) bool {
	s := g.sources[src]
	if g.mode == Include {
		return s != nil
	}
	return s == nil || !s.timer.IsZero()
}

func (g *group) computeDeadline() {
	var d instant
	earliest := func(t instant) {
		if !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	if g.mode == Exclude {
		earliest(g.timer)
	}
	earliest(g.v1Host)
	earliest(g.v2Host)
	earliest(g.grpQueryAt)
	earliest(g.srcQueryAt)
	earliest(g.untracked)
	for _, s := range g.sources {
		earliest(s.timer)
	}
	for i := range g.hosts {
		earliest(g.hosts[i].expires)
	}
	g.deadline = d
}

// state is the view of g. hostSources bounds the sources copied per tracked
// host (negative: all); with hostNone the hosts are left out. The view's
// lists go in room, or in a room of their own when it is nil.
func (g *group) state(c *clock, version, hostSources int, room *StateRoom) GroupState {
	if room == nil {
		room = new(StateRoom)
	}
	st := GroupState{Group: g.addr, Mode: g.mode, Compat: g.compat(version), Untracked: !g.untracked.IsZero()}
	if hostSources != hostNone {
		st.Hosts = g.hostStates(c, hostSources, room)
	}
	var expires instant
	if g.mode == Exclude {
		expires = g.timer
	}
	room.need(len(g.sources))
	start := len(room.addrs)
	for a, s := range g.sources {
		if s.timer.IsZero() {
			continue
		}
		room.addrs = append(room.addrs, a)
		if g.mode == Include && s.timer.After(expires) {
			expires = s.timer
		}
	}
	st.Include = room.cut(start)
	start = len(room.addrs)
	for a, s := range g.sources {
		if s.timer.IsZero() {
			room.addrs = append(room.addrs, a)
		}
	}
	st.Exclude = room.cut(start)
	st.Expires = c.time(expires)
	slices.SortFunc(st.Include, netip.Addr.Compare)
	slices.SortFunc(st.Exclude, netip.Addr.Compare)
	return st
}

// StateRoom holds the lists of group views read one after another
// (Router.GroupInRoom): a status answer reads thousands of groups, a
// page at a time, and every view's lists would be garbage once the page
// is written. A view read into a room is valid until the room's Reset.
type StateRoom struct {
	hosts []Host
	addrs []netip.Addr
}

// Reset makes the room's space free for the next views.
func (m *StateRoom) Reset() {
	clear(m.hosts)
	m.hosts = m.hosts[:0]
	m.addrs = m.addrs[:0]
}

// need makes room for n more addresses. A full room starts a fresh array:
// the views already in the old one keep it.
func (m *StateRoom) need(n int) {
	if n > 0 && cap(m.addrs)-len(m.addrs) < n {
		m.addrs = make([]netip.Addr, 0, max(n, 2*cap(m.addrs)))
	}
}

// cut returns the addresses appended since start as a list of their
// own: appending to it cannot overwrite the room's next list. None is nil.
func (m *StateRoom) cut(start int) []netip.Addr {
	if len(m.addrs) == start {
		return nil
	}
	return m.addrs[start:len(m.addrs):len(m.addrs)]
}

// srcSet answers membership in a record's source list. Short lists are
// scanned; longer ones use the router's scratch map.
type srcSet struct {
	list []netip.Addr
	m    map[netip.Addr]struct{}
}

func (s srcSet) has(a netip.Addr) bool {
	if s.m != nil {
		_, ok := s.m[a]
		return ok
	}
	return slices.Contains(s.list, a)
}

// groupHeap orders groups by deadline for container/heap.
type groupHeap []*group

func (h groupHeap) Len() int           { return len(h) }
func (h groupHeap) Less(i, j int) bool { return h[i].deadline.Before(h[j].deadline) }
func (h groupHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}

func (h *groupHeap) Push(x any) {
	g := x.(*group)
	g.index = len(*h)
	*h = append(*h, g)
}

func (h *groupHeap) Pop() any {
	old := *h
	n := len(old) - 1
	g := old[n]
	old[n] = nil
	g.index = -1
	*h = old[:n]
	return g
}
