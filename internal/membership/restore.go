package membership

import (
	"net/netip"
	"slices"
	"time"
)

// Saved is one group record as a snapshot keeps it across a restart of the
// daemon: the forwarding-relevant part of RFC 3376 §6.2.1 with its timers
// as time left. Tracked hosts and query retransmissions are not kept.
type Saved struct {
	Group netip.Addr
	Mode  FilterMode
	// Compat is the group compatibility mode (§7.3.2), 1, 2 or 3.
	Compat int
	// Timer is what was left of the group timer (EXCLUDE mode only).
	Timer time.Duration
	// Sources, in no particular order: in INCLUDE mode every one has time
	// left; in EXCLUDE mode a zero Timer puts it on the exclude list.
	Sources []SavedSource
}

// SavedSource is one source record of a Saved group.
type SavedSource struct {
	Addr  netip.Addr
	Timer time.Duration
}

// Save returns every group record with the time its timers have left after
// now, in no particular order: a snapshot needs none, and sorting would
// cost the daemon's loop more than the rest of the save.
func (r *Router) Save(when time.Time) []Saved {
	now := r.clock.at(when)
	out := make([]Saved, 0, len(r.groups))
	for _, g := range r.groups {
		s := Saved{Group: g.addr, Mode: g.mode, Compat: g.compat(r.cfg.Version)}
		if len(g.sources) > 0 {
			s.Sources = make([]SavedSource, 0, len(g.sources))
		}
		if g.mode == Exclude {
			s.Timer = max(g.timer.Sub(now), 0)
		}
		for a, src := range g.sources {
			left := time.Duration(0)
			if !src.timer.IsZero() {
				left = src.timer.Sub(now)
				if left <= 0 {
					if g.mode == Include {
						continue // due: deleted at the next Advance
					}
					left = 0 // due: blocked at the next Advance
				}
			}
			s.Sources = append(s.Sources, SavedSource{Addr: a, Timer: left})
		}
		out = append(out, s)
	}
	return out
}

// Restore brings back group records saved age ago by a daemon that was
// restarted, as if their last reports had come then: every timer is what
// it had left less age, and never more than a Group Membership Interval
// from now. What ran out meanwhile is gone (a requested source of an
// EXCLUDE-mode group moves to the exclude list, §6.3; a group whose timer
// ran out keeps only its running sources, §6.5). Groups the link already
// has are left alone, and the limits (MaxGroups, MaxSources, the byte
// budgets) apply as to reports: what does not fit is not restored and is
// counted in Stats.
//
// The hosts behind a restored group are unknown, so it counts as having
// an untracked member until the startup queries (§8.6) have had their
// answers: fast leave does not act on it before.
func (r *Router) Restore(when time.Time, age time.Duration, recs []Saved) []Action {
	now := r.clock.at(when)
	r.begin()
	r.advance(now)
	gmi := r.gmi()
	left := func(d time.Duration) time.Duration { return min(d-age, gmi) }
	answered := now.Add(time.Duration(r.cfg.StartupQueryCount-1)*r.cfg.StartupQueryInterval + r.cfg.QueryResponseInterval)
	for i := range recs {
		rec := &recs[i]
		if !isGroup(rec.Group) || r.groups[KeyOf(rec.Group)] != nil {
			continue
		}
		mode := rec.Mode
		groupLeft := left(rec.Timer)
		if mode != Exclude || groupLeft <= 0 {
			mode = Include
		}
		if mode == Include && !slices.ContainsFunc(rec.Sources, func(s SavedSource) bool {
			return validSource(rec.Group, s.Addr) && left(s.Timer) > 0
		}) {
			continue // nothing left of it
		}
		if r.cfg.MaxGroups > 0 && len(r.groups) >= r.cfg.MaxGroups {
			r.stats.GroupLimit++
			continue
		}
		if !r.fits(nil, GroupBytes) {
			continue
		}
		g := newGroup(rec.Group)
		g.mode = mode
		expires := now
		if mode == Exclude {
			g.timer = now.Add(groupLeft)
			expires = g.timer
		}
		for _, s := range rec.Sources {
			if !validSource(rec.Group, s.Addr) || g.sources[s.Addr] != nil {
				continue
			}
			d := left(s.Timer)
			switch {
			case d > 0:
				r.setSource(g, s.Addr, now.Add(d))
				expires = later(expires, now.Add(d))
			case mode == Exclude:
				r.blockSource(g, s.Addr)
			}
		}
		if mode == Include && len(g.sources) == 0 {
			continue // every source refused by a limit
		}
		switch rec.Compat {
		case 1:
			g.v1Host = expires
		case 2:
			g.v2Host = expires
		}
		g.untracked = earlier(answered, expires)
		g.changed = true
		r.groups[KeyOf(g.addr)] = g
		r.update(g)
	}
	return r.end()
}

func later(a, b instant) instant {
	if b.After(a) {
		return b
	}
	return a
}

func earlier(a, b instant) instant {
	if b.Before(a) {
		return b
	}
	return a
}
