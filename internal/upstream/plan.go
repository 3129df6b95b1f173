package upstream

import (
	"net/netip"
	"slices"
)

// Estimates of the socket option memory (net.core.optmem_max) the kernel
// charges per membership: struct ip_mc_socklist or ipv6_mc_socklist, and a
// source list allocated in blocks of IP_SFBLOCK/IP6_SFBLOCK (10) addresses.
// They are rounded up so the plan stays below the real charge.
const (
	memberCost = 64
	listCost   = 32
	sfBlock    = 10
)

// limits are the per-socket caps of one address family.
type limits struct {
	maxGroups  int // memberships per socket (igmp_max_memberships); 0: none
	maxSources int // sources per group per socket (igmp_max_msf, mld_max_msf)
	budget     int // option memory one socket may use, in bytes
	addrLen    int // 4 or 16
}

// newLimits builds limits from the sysctl values. Half of optmem_max is
// budgeted because MCAST_MSFILTER allocates the new source list before it
// frees the old one. The source cap is lowered until one full list fits an
// empty socket, so a fresh socket can always take any piece.
func newLimits(maxGroups, maxSources, optmem, addrLen int) limits {
	l := limits{
		maxGroups:  max(maxGroups, 0),
		maxSources: max(maxSources, 1),
		budget:     max(optmem/2, memberCost+listCost+sfBlock*addrLen),
		addrLen:    addrLen,
	}
	for l.maxSources > 1 && l.cost(l.maxSources) > l.budget {
		l.maxSources--
	}
	return l
}

// cost is the memory charged for one membership with n sources.
func (l limits) cost(n int) int {
	if n == 0 {
		return memberCost
	}
	return memberCost + listCost + l.addrLen*max(n, sfBlock)
}

// slotUse is what the planner knows about one existing socket.
type slotUse struct {
	groups int  // memberships held, including the planned group's
	cost   int  // memory charged, including the planned group's
	has    bool // holds a membership of the planned group
}

// piece is one socket's share of a group's filter. Slots at or beyond
// len(slots) are new sockets.
type piece struct {
	slot    int
	mode    Mode
	sources []netip.Addr
}

// planScratch is the planner's working memory, kept by the caller between
// plans so that placing a group allocates nothing but the source lists of
// new pieces. What planGroup returns lives in it until the next plan.
type planScratch struct {
	base   []int // a slot's cost without the planned group's current piece
	cands  []int
	next   []piece
	rest   []netip.Addr
	placed []bool // by index in the wanted sources
}

// planGroup spreads the wanted filter of one group over sockets. cur lists
// the group's current pieces; slots describes every existing socket of the
// family. The result never moves a source that stays wanted to another
// socket, so applying each piece on its socket never drops wanted traffic.
// want.Sources is sorted without repeats (normalize).
//
// INCLUDE lists are split over as many sockets as needed: the kernel takes
// their union. An EXCLUDE list lives on one socket; the kernel intersects
// EXCLUDE lists of several sockets, so splitting would exclude nothing. When
// it is longer than a socket can hold, only part of it is excluded (more
// traffic than wanted, never less) and dropped counts the rest.
func planGroup(sc *planScratch, l limits, slots []slotUse, cur []piece, want Filter) (next []piece, dropped int) {
	if want.empty() {
		return nil, 0
	}
	pl := planner{l: l, slots: slots, sc: sc}
	sc.base = sc.base[:0]
	for _, s := range slots {
		sc.base = append(sc.base, s.cost)
	}
	for _, p := range cur {
		sc.base[p.slot] -= l.cost(len(p.sources))
	}
	// Candidate sockets: those holding the group first, then the others
	// in order, then new ones.
	sc.cands = sc.cands[:0]
	for _, p := range cur {
		sc.cands = append(sc.cands, p.slot)
	}
	for i, s := range slots {
		if !s.has {
			sc.cands = append(sc.cands, i)
		}
	}
	clear(sc.next)
	sc.next = sc.next[:0]
	if want.Mode == Exclude {
		return pl.exclude(sc.cands, cur, want.Sources)
	}
	return pl.include(sc.cands, cur, want.Sources), 0
}

// planner is what planGroup knows of the sockets while it places one group.
type planner struct {
	l     limits
	slots []slotUse
	sc    *planScratch
}

// room is how many sources a piece of n sources on slot i may gain; -1 when
// the slot cannot take the group at all.
func (pl *planner) room(i, n int) int {
	b, groups, has := 0, 0, false
	if i < len(pl.slots) {
		b, groups, has = pl.sc.base[i], pl.slots[i].groups, pl.slots[i].has
	}
	if !has && pl.l.maxGroups > 0 && groups >= pl.l.maxGroups {
		return -1
	}
	k := pl.l.maxSources - n
	for k >= 0 && b+pl.l.cost(n+k) > pl.l.budget {
		k--
	}
	return k
}

// exclude places an EXCLUDE list on the first candidate that holds it
// whole, or on a new socket, truncated to what one socket holds.
func (pl *planner) exclude(cands []int, cur []piece, sources []netip.Addr) ([]piece, int) {
	keep := excludeOrder(cur, sources)
	n := min(len(keep), pl.l.maxSources)
	dropped := len(keep) - n
	keep = keep[:n]
	slices.SortFunc(keep, netip.Addr.Compare)
	// newLimits guarantees that a fresh socket holds a full list.
	slot := len(pl.slots)
	for _, c := range cands {
		if pl.room(c, 0) >= n {
			slot = c
			break
		}
	}
	pl.sc.next = append(pl.sc.next, piece{slot: slot, mode: Exclude, sources: keep})
	return pl.sc.next, dropped
}

// include keeps every wanted source where it already is, then fills the
// current pieces, the other candidates and new sockets with the rest.
func (pl *planner) include(cands []int, cur []piece, sources []netip.Addr) []piece {
	sc := pl.sc
	sc.placed = append(sc.placed[:0], make([]bool, len(sources))...)
	next := sc.next
	for _, p := range cur {
		np := piece{slot: p.slot, mode: Include}
		if p.mode == Include {
			for _, s := range p.sources {
				if i, wanted := slices.BinarySearchFunc(sources, s, netip.Addr.Compare); wanted && !sc.placed[i] {
					np.sources = append(np.sources, s)
					sc.placed[i] = true
				}
			}
		}
		next = append(next, np)
	}
	rest := sc.rest[:0]
	for i, s := range sources {
		if !sc.placed[i] {
			rest = append(rest, s)
		}
	}
	sc.rest = rest
	for i := range next {
		rest = pl.fill(&next[i], rest)
	}
	for _, c := range cands[len(cur):] {
		if len(rest) == 0 {
			break
		}
		p := piece{slot: c, mode: Include}
		if rest = pl.fill(&p, rest); len(p.sources) > 0 {
			next = append(next, p)
		}
	}
	for fresh := len(pl.slots); len(rest) > 0; fresh++ {
		p := piece{slot: fresh, mode: Include}
		rest = pl.fill(&p, rest)
		next = append(next, p)
	}
	next = slices.DeleteFunc(next, func(p piece) bool { return len(p.sources) == 0 })
	for _, p := range next {
		slices.SortFunc(p.sources, netip.Addr.Compare)
	}
	sc.next = next
	return next
}

// fill moves as many of rest onto p as its slot has room for and returns
// what is left.
func (pl *planner) fill(p *piece, rest []netip.Addr) []netip.Addr {
	k := min(pl.room(p.slot, len(p.sources)), len(rest))
	if k > 0 {
		p.sources = append(p.sources, rest[:k]...)
		rest = rest[k:]
	}
	return rest
}

// excludeOrder returns want with the sources already excluded by the current
// exclude piece first, so a truncated list changes as little as possible.
func excludeOrder(cur []piece, want []netip.Addr) []netip.Addr {
	var old []netip.Addr
	for _, p := range cur {
		if p.mode == Exclude {
			old = p.sources
		}
	}
	out := make([]netip.Addr, 0, len(want))
	for _, s := range want {
		if slices.Contains(old, s) {
			out = append(out, s)
		}
	}
	for _, s := range want {
		if !slices.Contains(old, s) {
			out = append(out, s)
		}
	}
	return out
}
