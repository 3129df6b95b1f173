package membership

import (
	"container/heap"
	"net/netip"
	"slices"
	"sort"
	"time"
)

// scanLimit is the record length up to which source lookups scan the list
// instead of filling a map.
const scanLimit = 8

// Router is the multicast router side of one link: group records, querier
// election and the queries it must send. It is not safe for concurrent use;
// the daemon's single owner goroutine drives it.
//
// Report, Query and SetAddress first fire every deadline not after now, as
// Advance would, and return those actions too, so an event never meets
// stale timers even when the caller's timer fired late.
type Router struct {
	cfg  Config
	self netip.Addr

	// Robustness and Query Interval in force: configured, or adopted from
	// the querier while we are not it (RFC 3376 §4.1.6, §4.1.7).
	robustness int
	qi         time.Duration

	querier      bool
	otherQuerier netip.Addr // the querier while we are not
	otherUntil   instant    // Other Querier Present timer (§6.6.2)
	nextGeneral  instant    // next general query; zero before Start
	startupLeft  int        // startup queries still to send (§8.7)

	groups map[GroupKey]*group
	heap   groupHeap
	stats  Stats

	// Bytes of state charged to this link (Config.MaxBytes), and the
	// budget shared with the other links; nil when not shared.
	used   int64
	shared *Budget

	// Membership expiry is held until then: reports were lost (see
	// ReportsLost).
	holdUntil instant

	// The last querier heard speaking an older version (§7.3.1).
	olderQuerier netip.Addr
	olderVersion int

	// Tokens for starting last-member query procedures (see
	// mayQuerySpecific) and when they were last counted.
	queryTokens   int
	queryTokensAt instant

	clock clock // the instants above and in the group records

	// Per-call scratch, reused to keep the hot path free of allocations.
	acts    []Action
	changed []netip.Addr
	scratch map[netip.Addr]struct{}
	// Scratch for building host source lists; they grow to the longest
	// record seen (at most what fits in one packet).
	addrScratch, mergeScratch []netip.Addr
}

// NewRouter returns a router for a link on which we have address self; self
// may be invalid while the link has no address. Zero config fields take
// their defaults.
func NewRouter(cfg Config, self netip.Addr) *Router {
	cfg = cfg.WithDefaults()
	return &Router{
		cfg:        cfg,
		self:       self,
		robustness: cfg.Robustness,
		qi:         cfg.QueryInterval,
		querier:    true, // §6.6.2: routers start as querier
		groups:     make(map[GroupKey]*group),
		scratch:    make(map[netip.Addr]struct{}),
	}
}

// gmi is the Group Membership Interval (§8.4), also the Older Host Present
// Interval (§8.13).
func (r *Router) gmi() time.Duration {
	return time.Duration(r.robustness)*r.qi + r.cfg.QueryResponseInterval
}

// lmqt is the Last Member Query Time (§8.14).
func (r *Router) lmqt() time.Duration {
	return time.Duration(r.cfg.LastMemberQueryCount) * r.cfg.LastMemberQueryInterval
}

// oqpi is the Other Querier Present Interval (§8.5).
func (r *Router) oqpi() time.Duration {
	return time.Duration(r.robustness)*r.qi + r.cfg.QueryResponseInterval/2
}

// Start makes the router querier and sends the first of the startup general
// queries (§8.6, §8.7); the rest follow through Advance.
func (r *Router) Start(when time.Time) []Action {
	now := r.clock.at(when)
	r.begin()
	r.becomeQuerier()
	r.startupLeft = r.cfg.StartupQueryCount
	r.generalQuery(now, now)
	return r.end()
}

// SetAddress records our address on the link. If we are not the querier and
// the new address is lower than the querier's, we take over at once (§6.6.2);
// the other router yields when it hears our query.
func (r *Router) SetAddress(when time.Time, self netip.Addr) []Action {
	now := r.clock.at(when)
	r.begin()
	r.advance(now)
	r.self = self
	if !r.querier && self.IsValid() && self.Less(r.otherQuerier) {
		r.becomeQuerier()
		r.generalQuery(now, now)
	}
	return r.end()
}

// Querier returns the current querier's address and whether it is us.
func (r *Router) Querier() (addr netip.Addr, self bool) {
	if r.querier {
		return r.self, true
	}
	return r.otherQuerier, false
}

func (r *Router) becomeQuerier() {
	r.querier = true
	r.otherQuerier = netip.Addr{}
	r.otherUntil = 0
	// Adopted values belong to the querier we followed (§4.1.6, §4.1.7).
	r.robustness = r.cfg.Robustness
	r.qi = r.cfg.QueryInterval
}

// generalQuery sends a general query at time at and schedules the next one;
// now is the time the caller passed in, so a late Advance does not burst.
func (r *Router) generalQuery(at, now instant) {
	r.acts = append(r.acts, SendQuery{
		Version: r.cfg.Version,
		MaxResp: r.cfg.QueryResponseInterval,
		QRV:     r.qrv(),
		QQI:     r.qi,
	}.Action())
	iv := r.qi
	if r.startupLeft > 0 {
		r.startupLeft--
		if r.startupLeft > 0 {
			iv = r.cfg.StartupQueryInterval
		}
	}
	next := at.Add(iv)
	if !next.After(now) {
		next = now.Add(iv)
	}
	r.nextGeneral = next
}

// qrv is the QRV field: zero when robustness exceeds 7 (§4.1.6).
func (r *Router) qrv() int {
	if r.robustness > 7 {
		return 0
	}
	return r.robustness
}

// Query handles a query heard from another router on the link.
func (r *Router) Query(when time.Time, from netip.Addr, q Query) []Action {
	now := r.clock.at(when)
	r.begin()
	r.advance(now)
	// An unspecified source cannot take part in the election (snooping
	// switches send such queries), and our own looped query is not news.
	if !from.IsValid() || from.IsUnspecified() || from == r.self {
		return r.end()
	}
	if q.Version < r.cfg.Version {
		// RFC 3376 §7.3.1, RFC 3810 §8.3.1: an older-version querier
		// on the link is an administrator's problem to be told about.
		r.stats.OlderQuerier++
		r.olderQuerier, r.olderVersion = from, q.Version
	}
	// §6.6.2: the lowest address is querier. Without an address of our own
	// any router beats us.
	lower := !r.self.IsValid() || from.Less(r.self)
	if lower {
		r.querier = false
		r.otherQuerier = from
		r.nextGeneral = 0
		r.startupLeft = 0
	}
	if r.querier || from != r.otherQuerier {
		return r.end()
	}
	// §4.1.6, §4.1.7: follow the querier's robustness and interval so our
	// timers agree with what it tells the hosts; zero means "not given".
	if q.QRV > 0 {
		r.robustness = q.QRV
	}
	if q.QQI > 0 {
		r.qi = q.QQI
	}
	r.otherUntil = now.Add(r.oqpi())

	if !q.Group.IsValid() || q.Group.IsUnspecified() || (q.SuppressRouterSide && q.Version >= 3) {
		return r.end()
	}
	g := r.groups[KeyOf(q.Group)]
	if g == nil {
		return r.end()
	}
	// §6.6.1: a non-querier lowers timers on a specific query with S clear.
	// The querier's LMQI may exceed ours; never lower below what it uses.
	lmqt := r.lmqt()
	if q.MaxResp > r.cfg.LastMemberQueryInterval {
		lmqt = time.Duration(r.cfg.LastMemberQueryCount) * q.MaxResp
	}
	limit := now.Add(lmqt)
	if len(q.Sources) == 0 {
		if g.mode == Exclude && g.timer.After(limit) {
			g.timer = limit
		}
	} else {
		for _, a := range q.Sources {
			if s := g.sources[a]; s != nil && s.timer.After(limit) {
				s.timer = limit
			}
		}
	}
	r.update(g)
	return r.end()
}

// Report handles a host's report. version is 1 for an IGMPv1 report, 2 for
// an IGMPv2 report or leave (or MLDv1), 3 for IGMPv3 or MLDv2. Older
// messages come as one record: IS_EX{} for a report, TO_IN{} for a leave.
// from is the host's address; it may be unspecified (RFC 3376 §4.2.13).
// The router rules of §6 keep no per-host state: from only feeds host
// tracking (GroupState.Hosts), which changes the result only when
// Config.FastLeave is set.
func (r *Router) Report(when time.Time, from netip.Addr, version int, recs []Record) []Action {
	now := r.clock.at(when)
	r.begin()
	r.advance(now)
	if version < 1 || version > 3 {
		return r.end()
	}
	for i := range recs {
		r.record(now, from, version, &recs[i])
	}
	return r.end()
}

// creates reports whether rec creates its group when the group has no
// state: the group starts as INCLUDE{} (§6.2.1), so only a record that
// leaves it non-empty does, and for that one valid source is enough.
func creates(rec *Record) bool {
	switch rec.Type {
	case IsExclude, ToExclude:
		return true
	case IsInclude, ToInclude, Allow:
		return slices.ContainsFunc(rec.Sources, func(a netip.Addr) bool { return validSource(rec.Group, a) })
	}
	return false
}

func (r *Router) record(now instant, from netip.Addr, version int, rec *Record) {
	if !isGroup(rec.Group) {
		return
	}
	g := r.groups[KeyOf(rec.Group)]
	isNew := g == nil
	// A new group that the link has no room for is refused before the
	// record's sources are checked one by one: under a flood, nearly every
	// record is one, and checking hundreds of sources was most of its cost.
	if isNew {
		if !creates(rec) {
			r.cleanSources(rec.Group, rec.Sources) // counts the invalid ones
			return
		}
		if r.cfg.MaxGroups > 0 && len(r.groups) >= r.cfg.MaxGroups {
			r.stats.GroupLimit++
			return
		}
		if !r.fits(nil, GroupBytes) {
			return
		}
	}
	srcs := r.cleanSources(rec.Group, rec.Sources)
	if isNew {
		g = newGroup(rec.Group)
	}
	r.track(g, now, from, version, rec.Type, srcs)
	// §7.3.2: reports of older hosts start their Older Host Present timers.
	if rec.Type == IsExclude {
		switch version {
		case 1:
			g.v1Host = now.Add(r.gmi())
		case 2:
			g.v2Host = now.Add(r.gmi())
		}
	}
	typ := rec.Type
	switch g.compat(r.cfg.Version) {
	case 1:
		// §7.3.2: with v1 hosts present leaves (TO_IN) and BLOCK are
		// ignored, and TO_EX loses its sources.
		switch typ {
		case Block, ToInclude:
			typ = 0
		case ToExclude:
			srcs = nil
		}
	case 2:
		// §7.3.2: with v2 hosts present BLOCK is ignored and TO_EX(x) is
		// treated as TO_EX({}).
		switch typ {
		case Block:
			typ = 0
		case ToExclude:
			srcs = nil
		}
	}
	switch {
	case typ == 0:
	case r.fastLeaveApplies(g, isNew, from, version, typ):
		if r.fastLeave(g, now, typ, srcs) {
			return
		}
	default:
		r.apply(g, now, typ, srcs)
	}
	if g.mode == Include && len(g.sources) == 0 {
		if !isNew {
			r.remove(g)
		}
		return
	}
	if isNew {
		r.groups[KeyOf(g.addr)] = g
		g.changed = true
	}
	r.update(g)
}

// validSource reports whether a can be the source of traffic to grp that a
// router forwards: a unicast address of grp's family that is neither
// unspecified, loopback nor link-local (RFC 3927 §7, RFC 4291 §2.5.6:
// link-local sources are never forwarded), and not a multicast or
// broadcast address. Anything else in a record is a broken or hostile
// host; kept, it would make the merged upstream filter invalid.
func validSource(grp, a netip.Addr) bool {
	return a.IsValid() && a.Is4() == grp.Is4() && globalUnicast(a)
}

// globalUnicast is netip.Addr.IsGlobalUnicast for a valid address, read
// from its bytes. The method makes four more tests, each a call that copies
// the address, and on a 32-bit CPU they were most of what a report of
// hundreds of sources cost (BenchmarkFloodReport with GOARCH=386).
func globalUnicast(a netip.Addr) bool {
	if a.Is4() || a.Is4In6() {
		b := a.As4()
		switch {
		case b == [4]byte{}, b == [4]byte{255, 255, 255, 255}: // unspecified, broadcast
			return false
		case b[0] == 127: // loopback
			return false
		case b[0]&0xf0 == 0xe0: // multicast
			return false
		case b[0] == 169 && b[1] == 254: // link-local
			return false
		}
		return true
	}
	b := a.As16()
	switch {
	case b == [16]byte{}, b == [16]byte{15: 1}: // unspecified, loopback
		return false
	case b[0] == 0xff: // multicast
		return false
	case b[0] == 0xfe && b[1]&0xc0 == 0x80: // link-local
		return false
	}
	return true
}

// cleanSources drops the sources that are not valid (counted in
// Stats.BadSources) and keeps the rest. It copies only when something must
// go.
func (r *Router) cleanSources(grp netip.Addr, srcs []netip.Addr) []netip.Addr {
	for i, a := range srcs {
		if validSource(grp, a) {
			continue
		}
		r.stats.BadSources++
		out := slices.Clone(srcs[:i])
		for _, b := range srcs[i+1:] {
			if validSource(grp, b) {
				out = append(out, b)
			} else {
				r.stats.BadSources++
			}
		}
		return out
	}
	return srcs
}

// set returns a membership test for list, valid until the next call.
func (r *Router) set(list []netip.Addr) srcSet {
	if len(list) <= scanLimit {
		return srcSet{list: list}
	}
	clear(r.scratch)
	for _, a := range list {
		r.scratch[a] = struct{}{}
	}
	return srcSet{m: r.scratch}
}

// full reports whether g cannot take a new source without passing
// MaxSources.
func (r *Router) full(g *group) bool {
	return r.cfg.MaxSources > 0 && len(g.sources) >= r.cfg.MaxSources
}

// setSource is g.set within MaxSources. Sources are never evicted to make
// room: a full group keeps its list and a record's new sources are taken
// in record order until it is full. In EXCLUDE mode a refused requested
// source is still forwarded as unlisted; in INCLUDE mode it is not.
func (r *Router) setSource(g *group, a netip.Addr, t instant) {
	if g.sources[a] == nil {
		if r.full(g) {
			r.stats.SourceLimit++
			return
		}
		if !r.fits(g, SourceBytes) {
			return
		}
	}
	g.set(a, t)
}

// blockSource is g.block within MaxSources and reports whether a was
// added. A refused source stays unlisted and so forwarded: when in doubt
// we forward more.
func (r *Router) blockSource(g *group, a netip.Addr) bool {
	if _, ok := g.sources[a]; ok {
		return false
	}
	if r.full(g) {
		r.stats.SourceLimit++
		return false
	}
	if !r.fits(g, SourceBytes) {
		return false
	}
	g.block(a)
	return true
}

// apply runs one row of the action tables of RFC 3376 §6.4.1 and §6.4.2.
// A is the include list (INCLUDE mode), X the requested and Y the exclude
// list (EXCLUDE mode), B the record's sources.
func (r *Router) apply(g *group, now instant, typ RecordType, b []netip.Addr) {
	gmi := now.Add(r.gmi())
	if g.mode == Include {
		switch typ {
		case IsInclude, Allow:
			// INCLUDE(A+B); (B)=GMI.
			for _, a := range b {
				r.setSource(g, a, gmi)
			}
		case IsExclude, ToExclude:
			// EXCLUDE(A*B, B-A); (B-A)=0; Delete(A-B); Group Timer=GMI.
			g.deleteExcept(r.set(b))
			g.mode = Exclude
			g.changed = true
			for _, a := range b {
				r.blockSource(g, a)
			}
			g.timer = gmi
			if typ == ToExclude {
				// Send Q(G,A*B): the sources of B left with a running timer.
				r.querySources(g, now, b)
			}
		case ToInclude:
			// INCLUDE(A+B); (B)=GMI; Send Q(G,A-B).
			for _, a := range b {
				r.setSource(g, a, gmi)
			}
			r.querySourcesExcept(g, now, r.set(b))
		case Block:
			// INCLUDE(A); Send Q(G,A*B).
			r.querySources(g, now, b)
		}
		return
	}
	switch typ {
	case IsInclude, Allow:
		// EXCLUDE(X+A, Y-A); (A)=GMI.
		for _, a := range b {
			r.setSource(g, a, gmi)
		}
	case IsExclude:
		// EXCLUDE(A-Y, Y*A); (A-X-Y)=GMI; Delete(X-A); Delete(Y-A);
		// Group Timer=GMI.
		g.deleteExcept(r.set(b))
		for _, a := range b {
			if g.sources[a] == nil {
				r.setSource(g, a, gmi)
			}
		}
		g.timer = gmi
	case ToExclude:
		// EXCLUDE(A-Y, Y*A); (A-X-Y)=Group Timer; Delete(X-A);
		// Delete(Y-A); Send Q(G,A-Y); Group Timer=GMI.
		g.deleteExcept(r.set(b))
		for _, a := range b {
			if g.sources[a] == nil {
				r.setSource(g, a, g.timer)
			}
		}
		r.querySources(g, now, b)
		g.timer = gmi
	case Block:
		// EXCLUDE(X+(A-Y), Y); (A-X-Y)=Group Timer; Send Q(G,A-Y).
		for _, a := range b {
			if g.sources[a] == nil {
				r.setSource(g, a, g.timer)
			}
		}
		r.querySources(g, now, b)
	case ToInclude:
		// EXCLUDE(X+A, Y-A); (A)=GMI; Send Q(G,X-A); Send Q(G).
		for _, a := range b {
			r.setSource(g, a, gmi)
		}
		r.querySourcesExcept(g, now, r.set(b))
		r.queryGroup(g, now)
	}
}

// Wants reports whether traffic from source to group should be forwarded
// onto this link (RFC 3376 §6.3).
func (r *Router) Wants(group, source netip.Addr) bool {
	g := r.groups[KeyOf(group)]
	return g != nil && g.wants(source)
}

// Groups returns every group record, sorted by group.
func (r *Router) Groups() []GroupState { return r.GroupsWithHostSources(-1) }

// hostNone asks a group view without its hosts.
const hostNone = -2

// GroupsWithHostSources returns every group record, sorted by group, with
// at most n sources of each tracked host's list (negative: all of them):
// under a flood a link's hosts can hold hundreds of thousands of sources,
// and copying them for a status answer would cost more than the answer is
// worth.
func (r *Router) GroupsWithHostSources(n int) []GroupState {
	out := make([]GroupState, 0, len(r.groups))
	for _, a := range r.GroupAddrs() {
		out = append(out, r.groups[KeyOf(a)].state(&r.clock, r.cfg.Version, max(n, -1), nil))
	}
	return out
}

// Filter returns the forwarding state of group grp, without its hosts:
// what the proxy merges upstream.
func (r *Router) Filter(grp netip.Addr) (GroupState, bool) {
	g := r.groups[KeyOf(grp)]
	if g == nil {
		return GroupState{}, false
	}
	return g.state(&r.clock, r.cfg.Version, hostNone, nil), true
}

// GroupAddrs returns the groups that have a record, sorted: the keys of a
// status answer's pages (see GroupInRoom).
func (r *Router) GroupAddrs() []netip.Addr {
	addrs := make([]netip.Addr, 0, len(r.groups))
	for _, g := range r.groups {
		addrs = append(addrs, g.addr)
	}
	sort.Slice(addrs, func(i, j int) bool { return addrs[i].Less(addrs[j]) })
	return addrs
}

// GroupInRoom returns the record of group grp as GroupsWithHostSources
// lists it, its lists in room: valid until the room's Reset.
func (r *Router) GroupInRoom(grp netip.Addr, n int, room *StateRoom) (GroupState, bool) {
	g := r.groups[KeyOf(grp)]
	if g == nil {
		return GroupState{}, false
	}
	return g.state(&r.clock, r.cfg.Version, max(n, -1), room), true
}

// Group returns the record of group g.
func (r *Router) Group(g netip.Addr) (GroupState, bool) {
	grp := r.groups[KeyOf(g)]
	if grp == nil {
		return GroupState{}, false
	}
	return grp.state(&r.clock, r.cfg.Version, -1, nil), true
}

// NextDeadline returns the earliest time Advance has work to do, or the zero
// Time if there is none.
func (r *Router) NextDeadline() time.Time { return r.clock.time(r.nextDeadline()) }

func (r *Router) nextDeadline() instant {
	var d instant
	if r.querier {
		d = r.nextGeneral
	} else {
		d = r.otherUntil
	}
	if len(r.heap) > 0 {
		if t := r.heap[0].deadline; d.IsZero() || t.Before(d) {
			d = t
		}
	}
	return d
}

// Advance fires, in time order, every deadline not after now: timer
// expiries, query retransmissions and periodic queries.
func (r *Router) Advance(when time.Time) []Action {
	r.begin()
	r.advance(r.clock.at(when))
	return r.end()
}

// advance fires the due deadlines. Every event handler runs it first, so
// state is never older than the event even if the caller was late.
func (r *Router) advance(now instant) {
	for {
		t := r.nextDeadline()
		if t.IsZero() || t.After(now) {
			break
		}
		switch {
		case r.querier && t.Equal(r.nextGeneral):
			r.generalQuery(t, now)
		case !r.querier && t.Equal(r.otherUntil):
			// §6.6.2: the other querier went quiet; we resume and query.
			r.becomeQuerier()
			r.generalQuery(t, now)
		default:
			r.fire(r.heap[0], t)
		}
	}
}

func due(deadline, t instant) bool {
	return !deadline.IsZero() && !deadline.After(t)
}

// fire handles everything due at time t for group g.
func (r *Router) fire(g *group, t instant) {
	r.hold(g, t)
	// §7.3.2: compatibility returns upward as older host timers expire.
	if due(g.v1Host, t) {
		g.v1Host = 0
	}
	if due(g.v2Host, t) {
		g.v2Host = 0
	}
	if due(g.srcQueryAt, t) {
		g.srcQueryAt = 0
		r.sendSourceQueries(g, t)
	}
	if due(g.grpQueryAt, t) {
		g.grpQueryAt = 0
		r.sendGroupQuery(g, t)
	}
	for a, s := range g.sources {
		if !due(s.timer, t) {
			continue
		}
		if g.mode == Include {
			// §6.3: an expired source in INCLUDE mode is deleted.
			g.del(a)
			continue
		}
		// §6.3: in EXCLUDE mode it moves to the exclude list.
		s.timer = 0
		s.rexmit = 0
		g.changed = true
	}
	if g.mode == Exclude && due(g.timer, t) {
		g.toInclude() // §6.5
	}
	// Host state is not forwarding state: expiring it changes nothing.
	if due(g.untracked, t) {
		g.untracked = 0
	}
	g.expireHosts(t)
	if g.mode == Include && len(g.sources) == 0 {
		r.remove(g)
		return
	}
	r.update(g)
}

// queryGroup runs the table action "Send Q(G)" (§6.6.3.1). Only a querier
// that speaks version 2 or later sends group-specific queries; others leave
// the timers to the querier's queries (§6.6.1).
func (r *Router) queryGroup(g *group, now instant) {
	if !r.querier || r.cfg.Version < 2 || g.mode != Exclude || !r.mayQuerySpecific(now) {
		return
	}
	if limit := now.Add(r.lmqt()); g.timer.After(limit) {
		g.timer = limit
	}
	g.grpRexmit = r.cfg.LastMemberQueryCount
	r.sendGroupQuery(g, now)
}

// sendGroupQuery sends one Q(G) at time at and schedules the next.
func (r *Router) sendGroupQuery(g *group, at instant) {
	if !r.querier || g.mode != Exclude || g.grpRexmit <= 0 {
		g.grpRexmit = 0
		return
	}
	g.grpRexmit--
	if g.grpRexmit > 0 {
		g.grpQueryAt = at.Add(r.cfg.LastMemberQueryInterval)
	}
	// §6.6.3.1: S is set while the group timer is above LMQT, so a
	// retransmission after a fresh join does not make others lower it.
	r.specificQuery(g, at, nil, g.timer.Sub(at) > r.lmqt())
}

// querySources runs "Send Q(G,X)" (§6.6.3.2) for the sources of list.
func (r *Router) querySources(g *group, now instant, list []netip.Addr) {
	if !r.querier || r.cfg.Version < 2 {
		return
	}
	if !slices.ContainsFunc(list, func(a netip.Addr) bool { return r.markable(g, now, a) }) || !r.mayQuerySpecific(now) {
		return
	}
	marked := false
	for _, a := range list {
		marked = r.markSource(g, now, a) || marked
	}
	if marked {
		r.sendSourceQueries(g, now)
	}
}

// querySourcesExcept runs "Send Q(G,X)" for the running sources not in skip.
func (r *Router) querySourcesExcept(g *group, now instant, skip srcSet) {
	if !r.querier || r.cfg.Version < 2 {
		return
	}
	any := false
	for a := range g.sources {
		if !skip.has(a) && r.markable(g, now, a) {
			any = true
			break
		}
	}
	if !any || !r.mayQuerySpecific(now) {
		return
	}
	marked := false
	for a := range g.sources {
		if !skip.has(a) {
			marked = r.markSource(g, now, a) || marked
		}
	}
	if marked {
		r.sendSourceQueries(g, now)
	}
}

// markable reports whether markSource would mark a.
func (r *Router) markable(g *group, now instant, a netip.Addr) bool {
	s := g.sources[a]
	return s != nil && s.timer.After(now.Add(r.lmqt()))
}

// markSource gives source a retransmission state and lowers its timer to
// LMQT if the timer is above it (§6.6.3.2).
func (r *Router) markSource(g *group, now instant, a netip.Addr) bool {
	s := g.sources[a]
	limit := now.Add(r.lmqt())
	if s == nil || !s.timer.After(limit) {
		return false
	}
	s.timer = limit
	s.rexmit = r.cfg.LastMemberQueryCount
	return true
}

// sendSourceQueries sends the group-and-source-specific queries due at time
// at: one with S set for sources whose timer is above LMQT, one with S clear
// for the rest, each only if non-empty (§6.6.3.2).
func (r *Router) sendSourceQueries(g *group, at instant) {
	var hi, lo []netip.Addr
	more := false
	lmqt := r.lmqt()
	for a, s := range g.sources {
		if s.rexmit <= 0 {
			continue
		}
		if !r.querier {
			s.rexmit = 0
			continue
		}
		if s.timer.Sub(at) > lmqt {
			hi = append(hi, a)
		} else {
			lo = append(lo, a)
		}
		s.rexmit--
		more = more || s.rexmit > 0
	}
	if more {
		g.srcQueryAt = at.Add(r.cfg.LastMemberQueryInterval)
	}
	if len(hi) == 0 && len(lo) == 0 {
		return
	}
	if r.cfg.Version < 3 {
		// IGMPv2/MLDv1 queries carry no sources: ask for the whole group.
		r.specificQuery(g, at, nil, false)
		return
	}
	slices.SortFunc(hi, netip.Addr.Compare)
	slices.SortFunc(lo, netip.Addr.Compare)
	if len(hi) > 0 {
		r.specificQuery(g, at, hi, true)
	}
	if len(lo) > 0 {
		r.specificQuery(g, at, lo, false)
	}
}

// specificQuery emits a group or group-and-source-specific query. In version
// 2 there is neither an S flag nor a source list, and one query per group
// and instant is enough.
func (r *Router) specificQuery(g *group, at instant, srcs []netip.Addr, suppress bool) {
	if r.cfg.Version < 3 {
		if g.sentAt.Equal(at) {
			return
		}
		suppress = false
	}
	g.sentAt = at
	r.acts = append(r.acts, SendQuery{
		Version:            r.cfg.Version,
		Group:              g.addr,
		Sources:            srcs,
		SuppressRouterSide: suppress,
		MaxResp:            r.cfg.LastMemberQueryInterval, // §8.8
		QRV:                r.qrv(),
		QQI:                r.qi,
	}.Action())
}

// update re-files g in the deadline heap, charges its size and notes a
// forwarding change.
func (r *Router) update(g *group) {
	r.settle(g)
	r.noteChange(g)
	g.computeDeadline()
	if g.index < 0 {
		heap.Push(&r.heap, g)
	} else {
		heap.Fix(&r.heap, g.index)
	}
}

func (r *Router) remove(g *group) {
	r.unsettle(g)
	g.changed = true
	r.noteChange(g)
	if g.index >= 0 {
		heap.Remove(&r.heap, g.index)
	}
	delete(r.groups, KeyOf(g.addr))
}

func (r *Router) noteChange(g *group) {
	if g.changed {
		g.changed = false
		r.changed = append(r.changed, g.addr)
	}
}

// keptActions is how many actions' room a router keeps between calls:
// a report makes one or two, and a call that made many (a thousand groups
// expiring at once) does not leave its room behind for good.
const keptActions = 16

// begin starts a call: the actions of the last one are spent (Action).
func (r *Router) begin() {
	clear(r.acts) // holds no query's source list until they are needed again
	r.acts = r.acts[:0]
	r.changed = r.changed[:0]
}

// end returns the actions of this call: queries in the order sent, then one
// GroupChanged per changed group, sorted by group.
func (r *Router) end() []Action {
	if len(r.changed) > 0 {
		slices.SortFunc(r.changed, netip.Addr.Compare)
		r.changed = slices.Compact(r.changed)
		for _, a := range r.changed {
			r.acts = append(r.acts, GroupChanged{Group: a}.Action())
		}
	}
	acts := r.acts
	if cap(acts) > keptActions {
		r.acts = nil // the caller's alone: not reused
	}
	if len(acts) == 0 {
		return nil
	}
	return acts
}
