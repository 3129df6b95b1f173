package upstream

import (
	"errors"
	"net/netip"
	"slices"

	"github.com/mcast-proxy/mcast-proxy/internal/format"
	"github.com/mcast-proxy/mcast-proxy/internal/membership"
)

// kernel is the socket layer a Joiner drives; the Linux implementation
// calls the kernel, tests use a fake.
type kernel interface {
	// socket opens a socket that only carries memberships; v6 selects
	// AF_INET6.
	socket(v6 bool) (int, error)
	setsockopt(fd, level, name int, val []byte) error
	close(fd int) error
}

// Address families index the per-family state.
const (
	fam4 = iota
	fam6
	nfam
)

func familyOf(a netip.Addr) int {
	if a.Is4() {
		return fam4
	}
	return fam6
}

// member is one socket's membership of one group, as applied.
type member struct {
	mode    Mode
	sources []netip.Addr
}

// sock is one membership socket.
type sock struct {
	fd      int
	cost    int // option memory charged, per limits.cost
	members memberList
	slot    int // its index in Joiner.socks, set by apply for its plan
}

// memberList is one socket's memberships, sorted by group. A socket holds
// a few tens at most (igmp_max_memberships, 20 by default; an IPv6 socket
// as many as its option memory allows), so a list made at that size and
// searched by halves does for a map: a thousand groups over fifty sockets
// kept about 106 KB (amd64) in maps of their memberships.
type memberList []groupMember

type groupMember struct {
	group membership.GroupKey
	member
}

// find returns where the group k is or would be in l.
func (l memberList) find(k membership.GroupKey) (int, bool) {
	lo, hi := 0, len(l)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if l[m].group.Less(k) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < len(l) && l[lo].group == k
}

func (l memberList) get(k membership.GroupKey) (member, bool) {
	if i, ok := l.find(k); ok {
		return l[i].member, true
	}
	return member{}, false
}

func (l *memberList) set(k membership.GroupKey, m member) {
	i, ok := l.find(k)
	if ok {
		(*l)[i].member = m
		return
	}
	*l = append(*l, groupMember{})
	copy((*l)[i+1:], (*l)[i:])
	(*l)[i] = groupMember{k, m}
}

func (l *memberList) del(k membership.GroupKey) {
	i, ok := l.find(k)
	if !ok {
		return
	}
	last := len(*l) - 1
	copy((*l)[i:], (*l)[i+1:])
	(*l)[last] = groupMember{} // drops its sources
	*l = (*l)[:last]
}

// group is the state of one group; what the kernel merges from its
// sockets' memberships is worked out when asked for (Get), not kept: a
// thousand groups keep a thousand of these.
type group struct {
	want    Filter  // last requested
	socks   []*sock // sockets holding a membership, in plan order
	dropped int32   // excluded sources that did not fit
	ok      bool    // want was applied completely
}

// Joiner holds the upstream host memberships of one interface.
type Joiner struct {
	k       kernel
	abi     abi
	ifindex int
	lim     [nfam]limits
	socks   [nfam][]*sock
	groups  map[membership.GroupKey]*group
	closed  bool

	// Working memory of apply, kept so that a change allocates nothing
	// beyond the state it records (a thousand joins in a burst would
	// otherwise leave garbage of the order of the number of sockets
	// each).
	slots []slotUse
	cur   []piece
	plan  planScratch
	req   []byte // the socket option's value; the kernel copies it
}

var errClosed = errors.New("upstream: joiner closed")

func newJoiner(k kernel, a abi, ifindex int, lim [nfam]limits) (*Joiner, error) {
	if ifindex <= 0 {
		return nil, format.Errorf("upstream: invalid ifindex %d", ifindex)
	}
	return &Joiner{k: k, abi: a, ifindex: ifindex, lim: lim, groups: map[membership.GroupKey]*group{}}, nil
}

// Ifindex returns the interface the memberships are on.
func (j *Joiner) Ifindex() int { return j.ifindex }

// Set makes the kernel's host membership of group on the interface equal f.
// It is idempotent. Link-local groups, IPv6 groups below site scope and
// non-multicast addresses are refused. On error the kernel holds a state
// between the old and the new one that never lacks traffic wanted by both;
// Get reports it and calling Set again retries.
func (j *Joiner) Set(group netip.Addr, f Filter) error {
	if j.closed {
		return errClosed
	}
	group = group.Unmap()
	if err := checkGroup(group); err != nil {
		return err
	}
	f, err := normalize(group, f)
	if err != nil {
		return err
	}
	if g := j.groups[membership.KeyOf(group)]; g != nil && g.ok && g.want.Equal(f) {
		return nil
	}
	return j.apply(group, f)
}

// Get returns the filter the kernel applies for group: the requested one,
// unless an error interrupted Set or an EXCLUDE list was cut (see
// Truncated).
func (j *Joiner) Get(group netip.Addr) (Filter, bool) {
	k := membership.KeyOf(group) // the key of ::ffff:a.b.c.d is a.b.c.d's
	g := j.groups[k]
	if g == nil || len(g.socks) == 0 {
		return Filter{}, false
	}
	ms := make([]member, len(g.socks))
	for i, s := range g.socks {
		ms[i], _ = s.members.get(k)
	}
	f := merge(ms)
	return Filter{Mode: f.Mode, Sources: slices.Clone(f.Sources)}, true
}

// Truncated returns how many sources of group's EXCLUDE list are not
// excluded because they exceed the per-socket source limit
// (net.ipv4.igmp_max_msf or net.ipv6.mld_max_msf). Such sources are
// forwarded although unwanted.
func (j *Joiner) Truncated(group netip.Addr) int {
	if g := j.groups[membership.KeyOf(group)]; g != nil {
		return int(g.dropped)
	}
	return 0
}

// Groups returns the subscribed groups, sorted.
func (j *Joiner) Groups() []netip.Addr {
	out := make([]netip.Addr, 0, len(j.groups))
	for k, g := range j.groups {
		if len(g.socks) > 0 {
			out = append(out, k.Addr())
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

// Sockets returns how many membership sockets are open.
func (j *Joiner) Sockets() int { return len(j.socks[fam4]) + len(j.socks[fam6]) }

// SetInterface moves every membership to another interface. It joins on the
// new interface before leaving the old one, so streams can start on the new
// path while the old still flow; if the old interface is gone the kernel has
// already dropped its memberships and closing the sockets is harmless.
func (j *Joiner) SetInterface(ifindex int) error {
	if j.closed {
		return errClosed
	}
	if ifindex <= 0 {
		return format.Errorf("upstream: invalid ifindex %d", ifindex)
	}
	if ifindex == j.ifindex {
		return nil
	}
	old := j.socks
	j.socks = [nfam][]*sock{}
	j.ifindex = ifindex
	var errs []error
	for _, a := range j.sortedAll() {
		g := j.groups[membership.KeyOf(a)]
		g.socks, g.dropped, g.ok = nil, 0, false
		if g.want.empty() {
			delete(j.groups, membership.KeyOf(a))
			continue
		}
		errs = append(errs, j.apply(a, g.want))
	}
	for _, ss := range old {
		for _, s := range ss {
			errs = append(errs, j.closeSock(s))
		}
	}
	return errors.Join(errs...)
}

// Close leaves every group and closes all sockets; closing a socket makes
// the kernel drop all its memberships at once.
func (j *Joiner) Close() error {
	if j.closed {
		return nil
	}
	j.closed = true
	var errs []error
	for f := range j.socks {
		for _, s := range j.socks[f] {
			errs = append(errs, j.closeSock(s))
		}
		j.socks[f] = nil
	}
	clear(j.groups)
	return errors.Join(errs...)
}

func (j *Joiner) closeSock(s *sock) error {
	if err := j.k.close(s.fd); err != nil {
		return format.Errorf("upstream: close socket: %w", err)
	}
	return nil
}

func (j *Joiner) sortedAll() []netip.Addr {
	out := make([]netip.Addr, 0, len(j.groups))
	for k := range j.groups {
		out = append(out, k.Addr())
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

// apply moves group from its current pieces to the planned ones in an order
// that never leaves traffic wanted before and after unsubscribed:
//
//  1. join on sockets that do not hold the group yet (INCLUDE pieces start
//     with MCAST_JOIN_SOURCE_GROUP, so no any-source join leaks upstream);
//  2. change sockets that hold it with MCAST_MSFILTER, which the kernel
//     applies atomically per socket (new list added before the old is
//     removed), e.g. EXCLUDE{} to INCLUDE{S1} without leaving;
//  3. leave on sockets no longer needed.
//
// While new pieces are added the interface state is a superset of the old
// and the new one; the planner never moves a still-wanted source between
// sockets, so step 2 only drops unwanted sources.
func (j *Joiner) apply(addr netip.Addr, want Filter) error {
	fam := familyOf(addr)
	lim := j.lim[fam]
	k := membership.KeyOf(addr)
	g := j.groups[k]
	if g == nil {
		g = &group{}
		j.groups[k] = g
	}
	g.want, g.ok = want, false

	slots := j.slots[:0]
	for i, s := range j.socks[fam] {
		s.slot = i
		_, has := s.members.find(k)
		slots = append(slots, slotUse{groups: len(s.members), cost: s.cost, has: has})
	}
	cur := j.cur[:0]
	for _, s := range g.socks {
		m, _ := s.members.get(k)
		cur = append(cur, piece{slot: s.slot, mode: m.mode, sources: m.sources})
	}
	next, dropped := planGroup(&j.plan, lim, slots, cur, want)

	err := j.applyPieces(fam, addr, slots, next, cur)
	j.slots = slots
	clear(cur) // the pieces' sources are the members' own lists
	j.cur = cur[:0]

	// Record what the sockets hold now, whatever failed, in socket order.
	g.socks = g.socks[:0]
	for _, s := range j.socks[fam] {
		if _, ok := s.members.find(k); ok {
			g.socks = append(g.socks, s)
		}
	}
	j.dropEmpty(fam)
	if err != nil {
		return err
	}
	g.ok, g.dropped = true, int32(dropped)
	if len(g.socks) == 0 {
		delete(j.groups, k)
	}
	return nil
}

func (j *Joiner) applyPieces(fam int, addr netip.Addr, slots []slotUse, next, cur []piece) error {
	// Sockets for new slots are appended in slot order as needed.
	sockFor := func(slot int) (*sock, error) {
		for slot >= len(j.socks[fam]) {
			fd, err := j.k.socket(fam == fam6)
			if err != nil {
				return nil, format.Errorf("upstream: open socket: %w", err)
			}
			// Room for as many memberships as the kernel lets a
			// socket hold, within reason (the limit is a sysctl).
			room := min(j.lim[fam].maxGroups, 1024)
			j.socks[fam] = append(j.socks[fam], &sock{fd: fd, members: make(memberList, 0, room)})
		}
		return j.socks[fam][slot], nil
	}
	for _, p := range next {
		if p.slot < len(slots) && slots[p.slot].has {
			continue
		}
		s, err := sockFor(p.slot)
		if err != nil {
			return err
		}
		if err := j.join(fam, s, addr, p); err != nil {
			return err
		}
	}
	for _, p := range next {
		if p.slot >= len(slots) || !slots[p.slot].has {
			continue
		}
		s := j.socks[fam][p.slot]
		m, _ := s.members.get(membership.KeyOf(addr))
		if m.mode == p.mode && slices.Equal(m.sources, p.sources) {
			continue
		}
		if err := j.msfilter(fam, s, addr, p.mode, p.sources); err != nil {
			return err
		}
	}
	for _, c := range cur {
		if slices.ContainsFunc(next, func(p piece) bool { return p.slot == c.slot }) {
			continue
		}
		if err := j.leave(fam, j.socks[fam][c.slot], addr); err != nil {
			return err
		}
	}
	return nil
}

func level(fam int) int {
	if fam == fam6 {
		return levelIPv6
	}
	return levelIP
}

func (j *Joiner) record(fam int, s *sock, addr netip.Addr, m member, present bool) {
	if present {
		s.members.set(membership.KeyOf(addr), m)
	} else {
		s.members.del(membership.KeyOf(addr))
	}
	s.cost = 0
	for _, m := range s.members {
		s.cost += j.lim[fam].cost(len(m.sources))
	}
}

func (j *Joiner) join(fam int, s *sock, addr netip.Addr, p piece) error {
	if p.mode == Include {
		b := j.abi.groupSourceReq(j.req, j.ifindex, addr, p.sources[0])
		j.req = b
		if err := j.k.setsockopt(s.fd, level(fam), optJoinSourceGroup, b); err != nil {
			return format.Errorf("upstream: join %s source %s on ifindex %d: %w", addr, p.sources[0], j.ifindex, err)
		}
		j.record(fam, s, addr, member{mode: Include, sources: p.sources[:1:1]}, true)
	} else {
		b := j.abi.groupReq(j.req, j.ifindex, addr)
		j.req = b
		if err := j.k.setsockopt(s.fd, level(fam), optJoinGroup, b); err != nil {
			return format.Errorf("upstream: join %s on ifindex %d: %w", addr, j.ifindex, err)
		}
		j.record(fam, s, addr, member{mode: Exclude}, true)
	}
	if m, _ := s.members.get(membership.KeyOf(addr)); m.mode == p.mode && len(m.sources) == len(p.sources) {
		return nil
	}
	return j.msfilter(fam, s, addr, p.mode, p.sources)
}

func (j *Joiner) msfilter(fam int, s *sock, addr netip.Addr, mode Mode, sources []netip.Addr) error {
	b := j.abi.groupFilter(j.req, j.ifindex, addr, mode, sources)
	j.req = b
	if err := j.k.setsockopt(s.fd, level(fam), optMSFilter, b); err != nil {
		return format.Errorf("upstream: set %s %s filter of %d sources on ifindex %d: %w", addr, mode, len(sources), j.ifindex, err)
	}
	j.record(fam, s, addr, member{mode: mode, sources: slices.Clone(sources)}, true)
	return nil
}

func (j *Joiner) leave(fam int, s *sock, addr netip.Addr) error {
	b := j.abi.groupReq(j.req, j.ifindex, addr)
	j.req = b
	if err := j.k.setsockopt(s.fd, level(fam), optLeaveGroup, b); err != nil {
		return format.Errorf("upstream: leave %s on ifindex %d: %w", addr, j.ifindex, err)
	}
	j.record(fam, s, addr, member{}, false)
	return nil
}

// dropEmpty closes sockets that hold no membership any more.
func (j *Joiner) dropEmpty(fam int) {
	j.socks[fam] = slices.DeleteFunc(j.socks[fam], func(s *sock) bool {
		if len(s.members) > 0 {
			return false
		}
		// A socket without memberships has nothing to leave; a close
		// error cannot leave kernel state behind.
		_ = j.k.close(s.fd)
		return true
	})
}
