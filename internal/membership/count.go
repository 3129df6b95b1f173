package membership

import (
	"net/netip"
	"time"
)

// NumGroups is the number of groups with state on the link.
func (r *Router) NumGroups() int { return len(r.groups) }

// Stats counts what the limits refused since the router was made. A
// refusal never grows state: the counters are how an operator sees a flood
// or a limit set too low.
type Stats struct {
	// GroupLimit counts records ignored because they would have created a
	// group beyond Config.MaxGroups.
	GroupLimit uint64
	// SourceLimit counts sources not added to a group's list, or trimmed
	// from a host's list, because of Config.MaxSources.
	SourceLimit uint64
	// HostLimit counts reports from a host not tracked because its group
	// already tracked maxHosts hosts.
	HostLimit uint64
	// MemoryLimit counts groups, sources, hosts and host sources (and
	// the proxy's flows from the link) refused because the link's byte
	// budget (Config.MaxBytes) or the budget shared by all links was
	// spent.
	MemoryLimit uint64
	// BadSources counts sources dropped from records because they
	// cannot be the source of forwarded traffic (see validSource). The
	// sources of a record refused by GroupLimit or MemoryLimit are not
	// read, and not counted.
	BadSources uint64
	// QueryLimit counts leaves whose group or group-and-source-specific
	// queries were not sent because the link's rate of them was spent.
	QueryLimit uint64
	// OlderQuerier counts queries heard of a version older than the one
	// the router runs (RFC 3376 §7.3.1, RFC 3810 §8.3.1).
	OlderQuerier uint64
}

// LastOlderQuerier returns the last querier heard speaking an older
// version than the router, and that version; invalid if none.
func (r *Router) LastOlderQuerier() (netip.Addr, int) {
	return r.olderQuerier, r.olderVersion
}

// Stats returns the refusal counters.
func (r *Router) Stats() Stats { return r.stats }

// SourceTimers returns the running source timers of a group (RFC 3376
// §6.2.3) by source, for status; nil if the group is unknown.
func (r *Router) SourceTimers(grp netip.Addr) map[netip.Addr]time.Time {
	g, ok := r.groups[KeyOf(grp)]
	if !ok {
		return nil
	}
	out := make(map[netip.Addr]time.Time, len(g.sources))
	for a, s := range g.sources {
		if !s.timer.IsZero() {
			out[a] = r.clock.time(s.timer)
		}
	}
	return out
}
