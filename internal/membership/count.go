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
}

// Stats returns the refusal counters.
func (r *Router) Stats() Stats { return r.stats }

// SourceTimers returns the running source timers of a group (RFC 3376
// §6.2.3) by source, for status; nil if the group is unknown.
func (r *Router) SourceTimers(grp netip.Addr) map[netip.Addr]time.Time {
	g, ok := r.groups[grp]
	if !ok {
		return nil
	}
	out := make(map[netip.Addr]time.Time, len(g.sources))
	for a, s := range g.sources {
		if !s.timer.IsZero() {
			out[a] = s.timer
		}
	}
	return out
}
