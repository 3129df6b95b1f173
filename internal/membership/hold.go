package membership

import "time"

// ReportsLost tells the router that reports from the link were lost at now:
// the daemon had to drop received packets (its queue was full under a
// flood). A lost report is not a member gone, so until every host has had
// one more query to answer (a Query Interval and a Query Response Interval
// from now), no membership expires: a timer that runs out meanwhile is
// extended to the end of the hold. Forwarding a little longer than needed
// is the safe side; cutting a receiver whose reports the flood pushed out
// is not.
func (r *Router) ReportsLost(when time.Time) { r.holdFor(when, r.qi+r.cfg.QueryResponseInterval) }

// ReportsWaiting tells the router that received packets wait unread at now:
// the daemon is behind its receive queue (a burst, a flood). A report in the
// queue is a member still there, not one gone, and the daemon reads it
// late; no membership may expire before it is read. The daemon says how
// long it may take to read them or to say so again (hold): until then, a
// timer that runs out is extended to the end of the hold, as for
// ReportsLost. A leave waits as long, since a join may follow it in the
// queue.
func (r *Router) ReportsWaiting(when time.Time, hold time.Duration) { r.holdFor(when, hold) }

// ExpiryHeldUntil is when the hold that ReportsLost or ReportsWaiting set
// ends: until then no membership of the link expires. It is in the past, or
// zero, when expiry is not held.
func (r *Router) ExpiryHeldUntil() time.Time { return r.clock.time(r.holdUntil) }

// holdFor holds expiry until d after when, unless a hold lasts longer.
func (r *Router) holdFor(when time.Time, d time.Duration) {
	if until := r.clock.at(when).Add(d); until.After(r.holdUntil) {
		r.holdUntil = until
	}
}

// hold extends, while expiry is held at time t, every membership timer of g
// that is due: the group timer, running source timers, tracked hosts and
// the untracked mark. Query retransmissions and compatibility timers run
// as usual.
func (r *Router) hold(g *group, t instant) {
	if !t.Before(r.holdUntil) {
		return
	}
	until := r.holdUntil
	if g.mode == Exclude && due(g.timer, t) {
		g.timer = until
	}
	for _, s := range g.sources {
		if due(s.timer, t) {
			s.timer = until
		}
	}
	for i := range g.hosts {
		if due(g.hosts[i].expires, t) {
			g.hosts[i].expires = until
		}
	}
	if due(g.untracked, t) {
		g.untracked = until
	}
}
