package membership

import (
	"net/netip"
	"time"
)

// Reconfigure replaces the router's settings (a configuration reload) and
// keeps every group, source and timer, so forwarding is not disturbed. New
// intervals apply from the next report, query or expiry on; a general query
// scheduled further away than the new Query Interval is brought forward.
// Lowered limits (MaxGroups, MaxSources) evict nothing: they refuse new
// state until the link is back under them.
func (r *Router) Reconfigure(when time.Time, cfg Config) []Action {
	now := r.clock.at(when)
	r.begin()
	r.advance(now)
	r.cfg = cfg.WithDefaults()
	if r.querier {
		// Values adopted from another querier stay until it goes away
		// (RFC 3376 §4.1.6, §4.1.7); as querier we use our own.
		r.robustness = r.cfg.Robustness
		r.qi = r.cfg.QueryInterval
		if next := now.Add(r.qi); !r.nextGeneral.IsZero() && r.nextGeneral.After(next) {
			r.nextGeneral = next
		}
	}
	return r.end()
}

// Forget drops a group's record at once, as if its timers had run out
// (RFC 3376 §6.5). The proxy uses it when a reload's access list denies a
// group hosts had joined: nothing of it may stay forwarded or requested.
func (r *Router) Forget(when time.Time, grp netip.Addr) []Action {
	now := r.clock.at(when)
	r.begin()
	r.advance(now)
	if g, ok := r.groups[KeyOf(grp)]; ok {
		r.remove(g)
	}
	return r.end()
}
