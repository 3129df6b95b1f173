package membership

import (
	"net/netip"
	"slices"
)

// maxHosts bounds the hosts tracked per group. Past it new hosts are not
// tracked and the group is marked untracked, so fast leave falls back to
// the RFC procedure instead of trusting an incomplete host list.
const maxHosts = 64

// host is the filter state of one reporting host for one group. srcs is
// kept sorted and without duplicates; its storage is reused on refresh.
type host struct {
	addr    netip.Addr
	mode    FilterMode
	srcs    []netip.Addr
	expires instant
}

// wants reports whether the host is interested in traffic from src:
// INCLUDE and listed, or EXCLUDE and not listed.
func (h *host) wants(src netip.Addr) bool {
	_, listed := slices.BinarySearchFunc(h.srcs, src, netip.Addr.Compare)
	return listed == (h.mode == Include)
}

// trackable reports whether reports from a can be told apart from other
// hosts' reports; the unspecified address is shared (RFC 3376 §4.2.13).
func trackable(from netip.Addr) bool {
	return from.IsValid() && !from.IsUnspecified()
}

// interested reports whether a record of type typ with sources b leaves its
// sender wanting some traffic, whatever state the sender was in.
func interested(typ RecordType, b []netip.Addr) bool {
	switch typ {
	case IsExclude, ToExclude, Allow, Block:
		// BLOCK only says the sender wanted something before: if we do
		// not know its state it may still be in EXCLUDE mode.
		return true
	}
	return len(b) > 0
}

// track updates the state of host from in g with one of its records, as the
// host itself keeps it (RFC 3376 §3.2, §5.1), before any compatibility
// mapping of the router. A host we hold no state for starts from INCLUDE{},
// every host's initial state, so a fresh source-specific join (ALLOW) is
// tracked.
func (r *Router) track(g *group, now instant, from netip.Addr, version int, typ RecordType, b []netip.Addr) {
	expires := now.Add(r.gmi())
	// IGMPv1 hosts send no leave (RFC 2236 §4), so their interest cannot
	// be followed; neither can one address shared by many hosts.
	if version == 1 || !trackable(from) {
		if interested(typ, b) {
			g.untracked = expires
		}
		return
	}
	i, found := g.findHost(from)
	if !found {
		if typ == Block || !interested(typ, b) {
			// INCLUDE{} minus anything, or replaced by INCLUDE{}.
			return
		}
		if len(g.hosts) >= maxHosts {
			r.stats.HostLimit++
			g.untracked = expires
			return
		}
		if !r.growHosts(g) {
			g.untracked = expires
			return
		}
		// growHosts made the room: the append does not allocate.
		g.hosts = append(g.hosts, host{})
		copy(g.hosts[i+1:], g.hosts[i:])
		g.hosts[i] = host{addr: from, mode: Include}
	}
	h := &g.hosts[i]
	refused := 0
	switch typ {
	case IsInclude, ToInclude:
		h.mode = Include
		refused = r.hostSources(g, h, nil, b)
	case IsExclude, ToExclude:
		h.mode = Exclude
		refused = r.hostSources(g, h, nil, b)
	case Allow:
		if h.mode == Include {
			refused = r.hostSources(g, h, h.srcs, b)
		} else {
			g.hostRemove(h, r.set(b))
		}
	case Block:
		if h.mode == Include {
			g.hostRemove(h, r.set(b))
		} else {
			refused = r.hostSources(g, h, h.srcs, b)
		}
	}
	if h.mode == Include && len(h.srcs) == 0 {
		g.dropHost(i)
		return
	}
	h.expires = expires
	// A trimmed EXCLUDE list only overstates the host's interest, which
	// is safe. A trimmed INCLUDE list understates it: fast leave could cut
	// a source the host still wants.
	if refused > 0 && h.mode == Include {
		g.untracked = expires
	}
}

// growHosts makes room in g.hosts for one more host, within the budget.
// The list starts with room for one (most groups have a single member: a
// set-top box, a TV) and grows by doubling up to maxHosts; it is charged
// by capacity.
func (r *Router) growHosts(g *group) bool {
	if len(g.hosts) < cap(g.hosts) {
		return true
	}
	n := min(max(2*cap(g.hosts), 1), maxHosts)
	if !r.fits(g, int64(n-cap(g.hosts))*HostBytes) {
		return false
	}
	grown := make([]host, len(g.hosts), n)
	copy(grown, g.hosts)
	g.hosts = grown
	return true
}

// dropHost deletes host i of g and gives back the storage of a list that
// became mostly empty.
func (g *group) dropHost(i int) {
	g.hostAddrs -= cap(g.hosts[i].srcs)
	g.hosts = slices.Delete(g.hosts, i, i+1)
	g.shrinkHosts()
}

func (g *group) shrinkHosts() {
	switch n := len(g.hosts); {
	case n == 0:
		g.hosts = nil
	case cap(g.hosts) >= 4*n:
		g.hosts = slices.Clip(slices.Clone(g.hosts))
	}
}

// hostSources sets h's source list to base (h.srcs or nil) plus the
// distinct sources of b, within MaxSources and the byte budget, and
// reports how many of b's new sources were refused. The list never keeps
// storage for more than it holds (beyond a small slack on shrinking), so a
// huge record cannot pin memory after it is cut.
func (r *Router) hostSources(g *group, h *host, base, b []netip.Addr) int {
	extra := r.addrScratch[:0]
	for _, a := range b {
		if _, found := slices.BinarySearchFunc(base, a, netip.Addr.Compare); !found {
			extra = append(extra, a)
		}
	}
	slices.SortFunc(extra, netip.Addr.Compare)
	extra = slices.Compact(extra)
	r.addrScratch = keepScratch(extra)
	n := len(base) + len(extra)
	refused := 0
	if limit := r.cfg.MaxSources; limit > 0 && n > limit {
		r.stats.SourceLimit += uint64(n - limit)
		refused += n - limit
		n = limit
	}
	if grow := n - cap(h.srcs); grow > 0 {
		if room := r.room(g) / HostSourceBytes; int64(grow) > room {
			cut := grow - int(max(room, 0))
			r.stats.MemoryLimit += uint64(cut)
			refused += cut
			n -= cut
		}
	}
	extra = extra[:max(n-len(base), 0)]
	if base == nil && slices.Equal(extra, h.srcs) {
		return refused // a refresh: nothing to store
	}
	if len(extra) == 0 && base != nil {
		return refused
	}
	merged := r.mergeScratch[:0]
	i, j := 0, 0
	for i < len(base) || j < len(extra) {
		if j == len(extra) || (i < len(base) && base[i].Less(extra[j])) {
			merged = append(merged, base[i])
			i++
		} else {
			merged = append(merged, extra[j])
			j++
		}
	}
	r.mergeScratch = keepScratch(merged)
	g.setHostList(h, merged)
	return refused
}

// scratchKeep is the longest scratch list kept between reports: one
// frame's worth of sources. A reassembled 64 KiB report can carry 16,000;
// the storage for those is let go rather than kept outside the budget.
const scratchKeep = 512

func keepScratch(s []netip.Addr) []netip.Addr {
	if cap(s) > scratchKeep {
		return nil
	}
	return s[:0]
}

// setHostList stores list as h's sources, reusing h's storage when it is
// large enough and not more than twice too large.
func (g *group) setHostList(h *host, list []netip.Addr) {
	if cap(h.srcs) < len(list) || cap(h.srcs) > 2*len(list)+4 {
		g.hostAddrs -= cap(h.srcs)
		h.srcs = make([]netip.Addr, len(list))
		g.hostAddrs += len(list)
	}
	h.srcs = h.srcs[:len(list)]
	copy(h.srcs, list)
}

// hostRemove drops the sources of set from h's list.
func (g *group) hostRemove(h *host, set srcSet) {
	n := 0
	for _, a := range h.srcs {
		if !set.has(a) {
			h.srcs[n] = a
			n++
		}
	}
	clear(h.srcs[n:])
	h.srcs = h.srcs[:n]
	if cap(h.srcs) > 2*n+4 {
		g.setHostList(h, slices.Clone(h.srcs))
	}
}

// findHost returns the position of host a in g.hosts, or where it would
// go, and whether it is there. Hosts are few (maxHosts), sorted by address.
func (g *group) findHost(a netip.Addr) (int, bool) {
	lo, hi := 0, len(g.hosts)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if g.hosts[m].addr.Less(a) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < len(g.hosts) && g.hosts[lo].addr == a
}

// expireHosts drops the hosts whose entry is due at time t.
func (g *group) expireHosts(t instant) {
	n := 0
	for i := range g.hosts {
		if !due(g.hosts[i].expires, t) {
			g.hosts[n] = g.hosts[i]
			n++
		} else {
			g.hostAddrs -= cap(g.hosts[i].srcs)
		}
	}
	clear(g.hosts[n:])
	g.hosts = g.hosts[:n]
	g.shrinkHosts()
}

// hostWants reports whether some tracked host of g wants traffic from src.
func (g *group) hostWants(src netip.Addr) bool {
	for i := range g.hosts {
		if g.hosts[i].wants(src) {
			return true
		}
	}
	return false
}

// excludeHost reports whether some tracked host of g is in EXCLUDE mode,
// that is, wants sources nobody listed.
func (g *group) excludeHost() bool {
	for i := range g.hosts {
		if g.hosts[i].mode == Exclude {
			return true
		}
	}
	return false
}

// hostStates returns the tracked hosts, sorted by address.
func (g *group) hostStates(c *clock, maxSources int, room *StateRoom) []Host {
	if len(g.hosts) == 0 {
		return nil
	}
	if cap(room.hosts)-len(room.hosts) < len(g.hosts) {
		room.hosts = make([]Host, 0, max(len(g.hosts), 2*cap(room.hosts)))
	}
	start := len(room.hosts)
	for _, h := range g.hosts {
		hs := Host{Addr: h.addr, Mode: h.mode, Expires: c.time(h.expires), SourceCount: len(h.srcs)}
		srcs := h.srcs
		if maxSources >= 0 && len(srcs) > maxSources {
			srcs = srcs[:maxSources]
		}
		room.need(len(srcs))
		from := len(room.addrs)
		room.addrs = append(room.addrs, srcs...)
		hs.Sources = room.cut(from)
		room.hosts = append(room.hosts, hs)
	}
	return room.hosts[start:len(room.hosts):len(room.hosts)]
}

// fastLeaveApplies reports whether a leave record (after compatibility
// mapping) may be handled by fast leave: the option is on, the sender is a
// host we can track, and every member of the group is tracked.
func (r *Router) fastLeaveApplies(g *group, isNew bool, from netip.Addr, version int, typ RecordType) bool {
	return r.cfg.FastLeave && !isNew && (typ == ToInclude || typ == Block) &&
		version >= 2 && trackable(from) && g.untracked.IsZero()
}

// fastLeave handles a TO_IN or BLOCK record (an IGMPv2 leave or MLDv1 done
// is TO_IN{}) from a tracked host, with the host's state already updated.
// Instead of lowering timers and querying (§6.4.2, §6.6.3) it asks the
// tracked hosts: what no host wants any more stops at once; what some host
// still wants is left alone, with no query at all, so another receiver on
// the link sees no gap. It reports whether g was
// removed.
func (r *Router) fastLeave(g *group, now instant, typ RecordType, b []netip.Addr) bool {
	if len(g.hosts) == 0 {
		r.cutGroup(g, now)
		return true
	}
	if typ == ToInclude {
		// The state part of the TO_IN rows, without their queries:
		// INCLUDE(A+B) or EXCLUDE(X+A, Y-A), (B)=GMI.
		gmi := now.Add(r.gmi())
		for _, a := range b {
			r.setSource(g, a, gmi)
		}
	}
	groupQuery := false
	if g.mode == Exclude && !g.excludeHost() {
		// No host wants unlisted sources any more: the group timer
		// expires now (§6.5).
		g.toInclude()
		groupQuery = true
	}
	var cut []netip.Addr
	for a, s := range g.sources {
		if (g.mode == Exclude && s.timer.IsZero()) || g.hostWants(a) {
			continue
		}
		if g.mode == Include {
			g.del(a)
		} else {
			// §6.3: a source with timer zero in EXCLUDE mode is blocked.
			s.timer = 0
			s.rexmit = 0
			g.changed = true
		}
		cut = append(cut, a)
	}
	if typ == Block && g.mode == Exclude {
		// Blocked sources not listed yet were forwarded as unlisted.
		for _, a := range b {
			if g.sources[a] == nil && !g.hostWants(a) && r.blockSource(g, a) {
				cut = append(cut, a)
			}
		}
	}
	if g.mode == Include && len(g.sources) == 0 {
		r.cutGroup(g, now)
		return true
	}
	switch {
	case groupQuery:
		r.oneQuery(g, now, nil)
	case len(cut) > 0:
		slices.SortFunc(cut, netip.Addr.Compare)
		r.oneQuery(g, now, cut)
	}
	return false
}

// cutGroup deletes a group no tracked host wants. It still sends one Q(G):
// a member we could not know about (its reports were lost, or it joined
// while we were down) answers within Max Response Time and its report
// creates the group again. We do not wait for that answer, so a brief gap
// for such a member is the price of fast leave.
func (r *Router) cutGroup(g *group, now instant) {
	r.oneQuery(g, now, nil)
	r.remove(g)
}

// oneQuery sends a single group or group-and-source-specific query with no
// retransmissions and no timer lowering. Only a querier speaking version 2
// or later sends it (§6.6.1); a version 2 query carries no sources.
func (r *Router) oneQuery(g *group, now instant, srcs []netip.Addr) {
	if !r.querier || r.cfg.Version < 2 || !r.mayQuerySpecific(now) {
		return
	}
	if r.cfg.Version < 3 {
		srcs = nil
	}
	r.specificQuery(g, now, srcs, false)
}
