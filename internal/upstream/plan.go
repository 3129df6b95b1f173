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

// planGroup spreads the wanted filter of one group over sockets. cur lists
// the group's current pieces; slots describes every existing socket of the
// family. The result never moves a source that stays wanted to another
// socket, so applying each piece on its socket never drops wanted traffic.
//
// INCLUDE lists are split over as many sockets as needed: the kernel takes
// their union. An EXCLUDE list lives on one socket; the kernel intersects
// EXCLUDE lists of several sockets, so splitting would exclude nothing. When
// it is longer than a socket can hold, only part of it is excluded (more
// traffic than wanted, never less) and dropped counts the rest.
func planGroup(l limits, slots []slotUse, cur []piece, want Filter) (next []piece, dropped int) {
	if want.empty() {
		return nil, 0
	}
	// base is a slot's cost without the planned group's current piece.
	base := make([]int, len(slots))
	for i, s := range slots {
		base[i] = s.cost
	}
	for _, p := range cur {
		base[p.slot] -= l.cost(len(p.sources))
	}
	// room is how many sources a piece of n sources on slot i may gain.
	room := func(i, n int) int {
		b, groups, has := 0, 0, false
		if i < len(slots) {
			b, groups, has = base[i], slots[i].groups, slots[i].has
		}
		if !has && l.maxGroups > 0 && groups >= l.maxGroups {
			return -1
		}
		k := l.maxSources - n
		for k >= 0 && b+l.cost(n+k) > l.budget {
			k--
		}
		return k
	}
	// Candidate sockets: those holding the group first, then the others
	// in order, then new ones.
	var cands []int
	for _, p := range cur {
		cands = append(cands, p.slot)
	}
	for i, s := range slots {
		if !s.has {
			cands = append(cands, i)
		}
	}

	if want.Mode == Exclude {
		keep := excludeOrder(cur, want.Sources)
		n := min(len(keep), l.maxSources)
		dropped = len(keep) - n
		keep = keep[:n]
		slices.SortFunc(keep, netip.Addr.Compare)
		// newLimits guarantees that a fresh socket holds a full list.
		slot := len(slots)
		for _, c := range cands {
			if room(c, 0) >= n {
				slot = c
				break
			}
		}
		return []piece{{slot: slot, mode: Exclude, sources: keep}}, dropped
	}

	wanted := map[netip.Addr]bool{}
	for _, s := range want.Sources {
		wanted[s] = true
	}
	placed := map[netip.Addr]bool{}
	for _, p := range cur {
		np := piece{slot: p.slot, mode: Include}
		if p.mode == Include {
			for _, s := range p.sources {
				if wanted[s] && !placed[s] {
					np.sources = append(np.sources, s)
					placed[s] = true
				}
			}
		}
		next = append(next, np)
	}
	var rest []netip.Addr
	for _, s := range want.Sources {
		if !placed[s] {
			rest = append(rest, s)
		}
	}
	fill := func(i int, p *piece) {
		k := min(room(i, len(p.sources)), len(rest))
		if k > 0 {
			p.sources = append(p.sources, rest[:k]...)
			rest = rest[k:]
		}
	}
	for i := range next {
		fill(next[i].slot, &next[i])
	}
	for _, c := range cands[len(cur):] {
		if len(rest) == 0 {
			break
		}
		p := piece{slot: c, mode: Include}
		if fill(c, &p); len(p.sources) > 0 {
			next = append(next, p)
		}
	}
	for fresh := len(slots); len(rest) > 0; fresh++ {
		p := piece{slot: fresh, mode: Include}
		fill(fresh, &p)
		next = append(next, p)
	}
	next = slices.DeleteFunc(next, func(p piece) bool { return len(p.sources) == 0 })
	for _, p := range next {
		slices.SortFunc(p.sources, netip.Addr.Compare)
	}
	return next, 0
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
