package membership

import "time"

// What one piece of membership state costs on the heap, in bytes, on a
// 64-bit build (32-bit routers use less). The byte budgets charge these
// figures; BenchmarkStateBytes measures the real heap per piece and
// docs/performance.md records both. They include the share of map buckets
// and slice headers each piece brings.
const (
	GroupBytes      = 512 // a group record, its map entries and heap slot
	SourceBytes     = 112 // a source record in a group's list
	HostBytes       = 96  // a tracked host of a group
	HostSourceBytes = 28  // one address in a tracked host's source list
)

// Budget is a byte budget shared by several routers: the proxy gives every
// link's router the same one, so the links together stay within it. It is
// not safe for concurrent use, like the routers that share it.
type Budget struct {
	limit int64 // 0: unlimited
	used  int64
	// parent, if not nil, is a larger budget this one is part of: what
	// is charged here is charged there too.
	parent *Budget
}

// NewBudget returns a budget of limit bytes; 0 means unlimited.
func NewBudget(limit int64) *Budget { return &Budget{limit: max(limit, 0)} }

// NewBudgetWithin returns a budget of limit bytes that is part of parent
// (a proxy instance's within the daemon's total): what is charged to it is
// charged to parent too, and it has room only while both have.
func NewBudgetWithin(limit int64, parent *Budget) *Budget {
	return &Budget{limit: max(limit, 0), parent: parent}
}

// Used returns the bytes charged to the budget.
func (b *Budget) Used() int64 { return b.used }

// SetLimit changes the budget's size (a reload). Lowering it evicts
// nothing: new state is refused until enough expires.
func (b *Budget) SetLimit(limit int64) { b.limit = max(limit, 0) }

// room is what is left of the budget; unlimited is very large.
func (b *Budget) room() int64 {
	if b == nil {
		return 1 << 62
	}
	own := int64(1 << 62)
	if b.limit != 0 {
		own = b.limit - b.used
	}
	return min(own, b.parent.room())
}

func (b *Budget) charge(n int64) {
	if b != nil {
		b.used += n
		b.parent.charge(n)
	}
}

// ShareBudget makes the router charge its state to b as well as to its own
// Config.MaxBytes. What the router already holds moves onto b.
func (r *Router) ShareBudget(b *Budget) {
	r.shared.charge(-r.used)
	r.shared = b
	r.shared.charge(r.used)
}

// StateBytes returns the bytes the link's state is charged for.
func (r *Router) StateBytes() int64 { return r.used }

// Charge asks for n bytes of the link's budget and of the shared one for
// state kept outside the router (the proxy's forwarding entries for traffic
// sent from the link). It reports whether they were granted; a refusal is
// counted in Stats.MemoryLimit. Give them back with Release.
func (r *Router) Charge(n int64) bool {
	if r.room(nil) < n {
		r.stats.MemoryLimit++
		return false
	}
	r.used += n
	r.shared.charge(n)
	return true
}

// Release gives back bytes granted by Charge.
func (r *Router) Release(n int64) {
	r.used -= n
	r.shared.charge(-n)
}

// room is what the link may still create, with what g created during this
// call and has not been charged yet already counted; g may be nil.
func (r *Router) room(g *group) int64 {
	own := int64(1 << 62)
	if r.cfg.MaxBytes > 0 {
		own = int64(r.cfg.MaxBytes) - r.used
	}
	left := min(own, r.shared.room())
	if g != nil {
		left -= g.bytes() - g.charged
	}
	return left
}

// fits reports whether n more bytes of state fit in g's link; a refusal is
// counted.
func (r *Router) fits(g *group, n int64) bool {
	if r.room(g) >= n {
		return true
	}
	r.stats.MemoryLimit++
	return false
}

// bytes is what g holds now. Host lists are counted by capacity: storage
// kept for addresses counts as much as the addresses.
func (g *group) bytes() int64 {
	return GroupBytes + int64(len(g.sources))*SourceBytes + int64(cap(g.hosts))*HostBytes + int64(g.hostAddrs)*HostSourceBytes
}

// settle charges the change of g's size since its last settlement to the
// link and the shared budget.
func (r *Router) settle(g *group) {
	n := g.bytes()
	r.used += n - g.charged
	r.shared.charge(n - g.charged)
	g.charged = n
}

// unsettle gives back everything charged for g, which is being removed.
func (r *Router) unsettle(g *group) {
	r.used -= g.charged
	r.shared.charge(-g.charged)
	g.charged = 0
}

// Group and group-and-source-specific queries are rate-limited per link:
// one report can carry a thousand leave records, and each would start a
// last-member procedure of LastMemberQueryCount queries. A token starts one
// procedure; the link holds at most specificQueryBurst and earns one every
// specificQueryEvery. Past that, a leave changes no timer and sends
// nothing, so the group runs out its membership interval as if the leave
// was lost (RFC 3376 §6.4.2 tolerates lost leaves), and no other member's
// membership is cut without a query it could answer.
const (
	specificQueryBurst = 32
	specificQueryEvery = 125 * time.Millisecond
)

// mayQuerySpecific takes a token for one last-member procedure and reports
// whether there was one; a refusal is counted.
func (r *Router) mayQuerySpecific(now instant) bool {
	if r.queryTokensAt.IsZero() || now.Before(r.queryTokensAt) {
		r.queryTokens, r.queryTokensAt = specificQueryBurst, now
	}
	if n := int(now.Sub(r.queryTokensAt) / specificQueryEvery); n > 0 {
		r.queryTokens = min(specificQueryBurst, r.queryTokens+n)
		r.queryTokensAt = r.queryTokensAt.Add(time.Duration(n) * specificQueryEvery)
	}
	if r.queryTokens == 0 {
		r.stats.QueryLimit++
		return false
	}
	r.queryTokens--
	return true
}
