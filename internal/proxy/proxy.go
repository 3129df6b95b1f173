// Package proxy is the protocol brain of mcast-proxy: it runs one membership
// router per downstream link, merges their state into the upstream
// subscription (RFC 4605 §4.1) and decides which links every active (S,G)
// flow is forwarded onto (RFC 4605 §4.2).
//
// It is pure and deterministic: events and the current time go in, actions
// come out. The daemon executes the actions against the kernel and feeds the
// results back as events.
package proxy

import (
	"maps"
	"net/netip"
	"slices"
	"sort"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/membership"
	"github.com/mcast-proxy/mcast-proxy/internal/scope"
	"github.com/mcast-proxy/mcast-proxy/internal/sorted"
)

// Defaults for flow ageing. Forwarding entries never expire in the kernel, so
// the proxy asks for the kernel's per-entry packet counters every
// FlowCheckInterval and removes an entry whose counter did not move since the
// previous check. Deleting entries blindly on a timer would stall flowing
// streams until the next upcall.
const (
	FlowCheckInterval = 30 * time.Second
	// MaxFlows bounds the forwarding entries for traffic arriving on the
	// upstream. Traffic sent from a downstream is state that link creates:
	// it is charged to the link's byte budget instead (FlowBytes each), so
	// a LAN host sending to thousands of groups can never use up the
	// entries upstream streams need.
	MaxFlows = 8192
	// FlowBytes is what one forwarding entry costs on the heap, charged to
	// the budgets of the downstream the traffic came from: the entry, its
	// outputs, and in the worst case (one source per group) a group slot
	// and slice of its own. About 220 bytes since a group's flows are a
	// slice rather than a map; the charge stays where the budgets were set.
	FlowBytes = 400
)

// Policy is an access list: whether group may be joined, or requested
// upstream, from source; an invalid source asks about the any-source join.
// config.ACL is one. A nil Policy permits everything.
type Policy interface {
	Permits(group, source netip.Addr) bool
}

func permits(p Policy, group, source netip.Addr) bool {
	return p == nil || p.Permits(group, source)
}

// Link describes one interface the proxy works on.
type Link struct {
	Ifindex int
	Name    string
	Addr    netip.Addr     // our address on the link (querier election); may be invalid
	Subnets []netip.Prefix // the link's own prefixes
}

// Config is what the proxy is given once: links come and go through
// SetUpstream, AddDownstream and RemoveDownstream, the one way in.
type Config struct {
	FlowCheck time.Duration // zero means FlowCheckInterval
	// MaxBytes is the byte budget shared by all downstreams: their
	// membership state and the flows sent from them together stay within
	// it, besides each link's own Membership.MaxBytes. Zero: unlimited.
	MaxBytes int64
}

// Downstream is one downstream link and its querier settings.
type Downstream struct {
	Link
	Membership membership.Config
	ACL        Policy // what hosts on the link may join
}

// Action is something the daemon must do: the one of its fields that Kind
// names. It is a plain struct, not an interface over the five kinds, so that
// the brain hands its decisions over without boxing each one (an
// allocation apiece, on the report path). Report, Query and SourceActive,
// the calls a packet makes, reuse the slice they return the actions in:
// they are the caller's to carry out before its next call of any of them.
type Action struct {
	Kind         ActionKind
	SendQuery    SendQuery
	Subscribe    Subscribe
	SetRoute     SetRoute
	DelRoute     DelRoute
	ReadCounters ReadCounters
}

// ActionKind says which of an Action's fields holds it.
type ActionKind uint8

const (
	KindSendQuery ActionKind = iota + 1
	KindSubscribe
	KindSetRoute
	KindDelRoute
	KindReadCounters
)

// SendQuery asks the daemon to send a query on a downstream link.
type SendQuery struct {
	Ifindex int
	Src     netip.Addr
	Query   membership.SendQuery
}

// Subscribe sets the upstream subscription of a group (full state).
type Subscribe struct {
	Group netip.Addr
	Sub   Subscription
}

// SetRoute installs or updates a forwarding entry.
type SetRoute struct {
	Source, Group netip.Addr
	Input         int
	// Outputs are sorted; empty means "known, wanted by nobody: drop". The
	// list is shared with the brain's flow, which replaces it on a change
	// and never writes into it, so it stays as it was sent.
	Outputs []int
}

// DelRoute removes a forwarding entry.
type DelRoute struct {
	Source, Group netip.Addr
}

// ReadCounters asks the daemon for the kernel's packet counters of every
// installed flow; it answers with Proxy.Counters.
type ReadCounters struct {
	Flows []Flow
}

// Action returns a as an action.
func (a SendQuery) Action() Action { return Action{Kind: KindSendQuery, SendQuery: a} }

// Action returns a as an action.
func (a Subscribe) Action() Action { return Action{Kind: KindSubscribe, Subscribe: a} }

// Action returns a as an action.
func (a SetRoute) Action() Action { return Action{Kind: KindSetRoute, SetRoute: a} }

// Action returns a as an action.
func (a DelRoute) Action() Action { return Action{Kind: KindDelRoute, DelRoute: a} }

// Action returns a as an action.
func (a ReadCounters) Action() Action { return Action{Kind: KindReadCounters, ReadCounters: a} }

// Flow names one (S,G) forwarding entry.
type Flow struct {
	Source, Group netip.Addr
}

// Stats counts what the proxy ignored and why.
type Stats struct {
	ReportsOnUpstream  uint64 // reports heard on the upstream link
	ReportsUnknownLink uint64 // reports on a link that is not a downstream
	LinkLocalGroups    uint64 // records for 224.0.0.0/24 and similar, never proxied
	SourceNotAccepted  uint64 // upstream traffic from a source outside the accepted prefixes
	FlowLimit          uint64 // flows refused because MaxFlows was reached
	PolicyDenied       uint64 // records or sources refused by a downstream access list
	SSMAnySource       uint64 // any-source joins of source-specific groups, ignored
	QueryOffLink       uint64 // queries on a downstream from outside the link's subnets, ignored
	RoutesAdded        uint64
	RoutesChanged      uint64
	RoutesDeleted      uint64
}

type flow struct {
	source netip.Addr
	input  int
	// outputs is replaced when it changes, never written into: SetRoute
	// actions share it.
	outputs  []int
	packets  uint64 // kernel counter at the last check
	measured bool   // packets holds a real reading

	// wrongIf is the kernel's count of the flow's packets that arrived on
	// another interface than its input, at the last check; elsewhere is
	// set while they keep coming as fast as the flow itself: another
	// router delivers the flow onto a downstream (see outputs).
	wrongIf   uint64
	elsewhere bool

	// What the flow is counted against: one of MaxFlows (upstream), or
	// FlowBytes of the budget of the downstream it came from.
	upstream bool
	charged  *membership.Router
}

// proxyGroup is what the proxy keeps of one group; it goes when it holds
// neither a subscription nor a flow.
type proxyGroup struct {
	sub Subscription // applied upstream; none unless sub.Subscribed()
	// flows are the group's known flows sorted by source: nearly always
	// one, the provider's, and one pointer in a slice costs a fraction of
	// a map of its own (a map's smallest table holds 8).
	flows []*flow
}

type downstream struct {
	cfg     Downstream
	up      bool // link is up: queried and forwarded to
	querier bool // we were the querier at the last look (RFC 4605 §4.2)
	router  *membership.Router
}

// Proxy is the brain. It is not safe for concurrent use: one goroutine owns it.
type Proxy struct {
	up        Link
	upSources []netip.Prefix
	upACL     Policy
	downs     map[int]*downstream
	order     []int // downstream ifindexes in config order

	// groups holds what the proxy keeps of each group it subscribes
	// upstream or knows flows of. One map of small records rather than a
	// map of subscriptions and one of flow lists: at a thousand groups
	// each map's table has two thousand slots (of 56 and 48 bytes), and
	// the smaller tables it grew from are left as garbage in a burst of
	// joins.
	groups map[membership.GroupKey]*proxyGroup
	nsub   int // groups subscribed upstream
	nflow  int
	nup    int // flows counted against MaxFlows
	// budget is shared by every downstream's router (Config.MaxBytes).
	budget *membership.Budget

	flowCheck time.Duration
	nextCheck time.Time
	upQuery   time.Time // last query heard on the upstream

	stats Stats

	// Room kept between calls, so that a report allocates nothing but the
	// state it adds: regroup's list of downstream states, the outputs being
	// worked out (recompute), and the actions of Report and Query.
	states     []membership.GroupState
	outScratch []int
	out        []Action
}

// New returns a proxy for cfg. Call Start to begin querying.
func New(cfg Config) *Proxy {
	p := &Proxy{
		downs:     map[int]*downstream{},
		groups:    map[membership.GroupKey]*proxyGroup{},
		flowCheck: cfg.FlowCheck,
		budget:    membership.NewBudget(cfg.MaxBytes),
	}
	if p.flowCheck <= 0 {
		p.flowCheck = FlowCheckInterval
	}
	return p
}

func (p *Proxy) addDownstream(d Downstream) *downstream {
	ds := &downstream{cfg: d, up: true, querier: true, router: membership.NewRouter(d.Membership.WithDefaults(), d.Addr)}
	ds.router.ShareBudget(p.budget)
	p.downs[d.Ifindex] = ds
	p.order = append(p.order, d.Ifindex)
	return ds
}

// AddDownstream puts a downstream link in service (it appeared, or a reload
// added it) and starts querying on it (RFC 3376 §8.6 startup queries).
func (p *Proxy) AddDownstream(now time.Time, d Downstream) []Action {
	if _, ok := p.downs[d.Ifindex]; ok {
		return nil
	}
	ds := p.addDownstream(d)
	return p.apply(ds, ds.router.Start(now), nil)
}

// RemoveDownstream takes a link out of service (it vanished, or a reload
// removed it): its memberships are forgotten and every group it took part
// in is recomputed, upstream and in the forwarding entries.
func (p *Proxy) RemoveDownstream(now time.Time, ifindex int) []Action {
	ds, ok := p.downs[ifindex]
	if !ok {
		return nil
	}
	groups := ds.router.Groups()
	delete(p.downs, ifindex)
	p.order = slices.DeleteFunc(p.order, func(i int) bool { return i == ifindex })
	var out []Action
	for _, g := range groups {
		out = p.regroup(g.Group, out)
	}
	// Flows that came in on the link have no source any more, removed in
	// source order; forget moves the group's later flows down one.
	for k, g := range p.groups {
		grp := k.Addr()
		for fs, i := g.flows, 0; i < len(fs); {
			if fs[i].input != ifindex {
				i++
				continue
			}
			out = append(out, p.forget(fs[i].source, grp).Action())
			fs = g.flows
		}
	}
	return out
}

// SetLinkUp tells the proxy that a downstream link went down or came back.
// A link that is down keeps its configuration and its memberships, which
// age out normally, but it is neither queried nor forwarded to. When it
// comes back it starts over with startup queries, so hosts re-report at once.
func (p *Proxy) SetLinkUp(now time.Time, ifindex int, up bool) []Action {
	ds, ok := p.downs[ifindex]
	if !ok || ds.up == up {
		return nil
	}
	ds.up = up
	var out []Action
	if up {
		out = p.apply(ds, ds.router.Start(now), out)
	}
	for _, g := range ds.router.Groups() {
		out = p.regroup(g.Group, out)
	}
	return out
}

// SetAddress records a downstream link's new address (querier election,
// RFC 3376 §6.6.2, is re-evaluated) and its prefixes.
func (p *Proxy) SetAddress(now time.Time, ifindex int, addr netip.Addr, subnets []netip.Prefix) []Action {
	ds, ok := p.downs[ifindex]
	if !ok {
		return nil
	}
	ds.cfg.Subnets = subnets
	if ds.cfg.Addr == addr {
		return nil
	}
	ds.cfg.Addr = addr
	return p.apply(ds, ds.router.SetAddress(now, addr), nil)
}

// SetUpstream changes the upstream link: failover to another interface, or
// the same interface recreated under a new index (PPPoE), or new addresses.
// Flows that came from the old upstream are re-homed onto the new one, so
// traffic arriving there is forwarded at once; with no upstream (Ifindex 0)
// they are removed. Flows from downstream sources get the new upstream as an
// output (RFC 4605 §4.2).
func (p *Proxy) SetUpstream(now time.Time, l Link, sources []netip.Prefix, acl Policy) []Action {
	old := p.up.Ifindex
	p.up, p.upSources, p.upACL = l, sources, acl
	var out []Action
	for _, grp := range p.groupsWithFlows() {
		// A copy: forget removes flows from the group's slice.
		for _, f := range slices.Clone(p.flowsOf(grp)) {
			src := f.source
			switch {
			case f.input == old && old != l.Ifindex && l.Ifindex == 0:
				out = append(out, p.forget(src, grp).Action())
			case f.input == old:
				f.input = l.Ifindex
				p.recompute(f, grp)
				f.measured = false
				out = append(out, p.setRoute(src, grp, f))
			default:
				if p.recompute(f, grp) {
					out = append(out, p.setRoute(src, grp, f))
				}
			}
		}
	}
	// The access list may differ: every subscription is recomputed.
	for _, g := range p.knownGroups() {
		out = p.regroup(g, out)
	}
	return out
}

// Reconfigure replaces a downstream link's querier settings and access list
// (reload). The membership state is kept, so streams on the link keep
// flowing; new timers apply from the next report and query on, and the
// access list applies to the link's flows at once.
func (p *Proxy) Reconfigure(now time.Time, ifindex int, cfg membership.Config, acl Policy) []Action {
	ds, ok := p.downs[ifindex]
	if !ok {
		return nil
	}
	ds.cfg.Membership, ds.cfg.ACL = cfg, acl
	out := p.apply(ds, ds.router.Reconfigure(now, cfg.WithDefaults()), nil)
	for _, g := range ds.router.Groups() {
		if r := restrictState(acl, g); r.Mode == membership.Include && len(r.Include) == 0 {
			// Nothing of the group is allowed any more: drop the record
			// rather than let it live out its membership interval.
			out = p.apply(ds, ds.router.Forget(now, g.Group), out)
			continue
		}
		out = p.regroup(g.Group, out)
	}
	return out
}

// knownGroups lists every group with membership on some link or an
// upstream subscription, sorted.
func (p *Proxy) knownGroups() []netip.Addr {
	seen := map[netip.Addr]bool{}
	for k, g := range p.groups {
		grp := k.Addr()
		if g.sub.Subscribed() {
			seen[grp] = true
		}
	}
	for _, d := range p.downs {
		for _, st := range d.router.Groups() {
			seen[st.Group] = true
		}
	}
	return slices.SortedFunc(maps.Keys(seen), netip.Addr.Compare)
}

// UpstreamQueryHeard is when a query was last heard on the upstream link;
// zero if never. The kernel's host stack answers upstream queries; the
// daemon warns when none arrive, since the upstream memberships then expire.
func (p *Proxy) UpstreamQueryHeard() time.Time { return p.upQuery }

// ShareBudget makes every downstream charge b instead of the proxy's own
// budget (the daemon shares one between its IPv4 and IPv6 brains); nil
// gives back everything charged. What is held moves onto b.
func (p *Proxy) ShareBudget(b *membership.Budget) {
	for _, d := range p.downs {
		d.router.ShareBudget(b)
	}
	p.budget = b
}

// Budget is the byte budget shared by the downstreams (Config.MaxBytes).
func (p *Proxy) Budget() *membership.Budget { return p.budget }

// chargeFlow counts a flow arriving on input against what bounds it and
// reports whether it fits: MaxFlows for the upstream, the byte budget of
// the downstream otherwise (a refusal there counts in that link's
// membership Stats.MemoryLimit).
func (p *Proxy) chargeFlow(f *flow, input int) bool {
	if input == p.up.Ifindex {
		if p.nup >= MaxFlows {
			p.stats.FlowLimit++
			return false
		}
		p.nup++
		f.upstream = true
		return true
	}
	r := p.downs[input].router
	if !r.Charge(FlowBytes) {
		return false
	}
	f.charged = r
	return true
}

// releaseFlow gives back what chargeFlow took.
func (p *Proxy) releaseFlow(f *flow) {
	if f.upstream {
		p.nup--
		f.upstream = false
	}
	if f.charged != nil {
		f.charged.Release(FlowBytes)
		f.charged = nil
	}
}

func (p *Proxy) forget(src, grp netip.Addr) DelRoute {
	fs := p.flowsOf(grp)
	i, _ := findFlow(fs, src)
	p.releaseFlow(fs[i])
	p.setFlows(grp, slices.Delete(fs, i, i+1))
	p.nflow--
	p.stats.RoutesDeleted++
	return DelRoute{Source: src, Group: grp}
}

func (p *Proxy) groupsWithFlows() []netip.Addr {
	var out []netip.Addr
	for k, g := range p.groups {
		grp := k.Addr()
		if len(g.flows) > 0 {
			out = append(out, grp)
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

// flowsOf returns the known flows of grp, sorted by source.
func (p *Proxy) flowsOf(grp netip.Addr) []*flow {
	if g := p.groups[membership.KeyOf(grp)]; g != nil {
		return g.flows
	}
	return nil
}

// setFlows makes fs the known flows of grp.
func (p *Proxy) setFlows(grp netip.Addr, fs []*flow) {
	k := membership.KeyOf(grp)
	g := p.groups[k]
	if g == nil {
		if len(fs) == 0 {
			return
		}
		g = &proxyGroup{}
		p.groups[k] = g
	}
	if len(fs) == 0 {
		fs = nil // the list's room goes with its last flow
	}
	g.flows = fs
	p.dropIfEmpty(k, g)
}

// setSubscription makes sub the applied upstream subscription of grp.
func (p *Proxy) setSubscription(grp netip.Addr, sub Subscription) {
	k := membership.KeyOf(grp)
	g := p.groups[k]
	if g == nil {
		if !sub.Subscribed() {
			return
		}
		g = &proxyGroup{}
		p.groups[k] = g
	}
	if g.sub.Subscribed() {
		p.nsub--
	}
	if sub.Subscribed() {
		p.nsub++
	} else {
		sub = Subscription{}
	}
	g.sub = sub
	p.dropIfEmpty(k, g)
}

func (p *Proxy) dropIfEmpty(k membership.GroupKey, g *proxyGroup) {
	if len(g.flows) == 0 && !g.sub.Subscribed() {
		delete(p.groups, k)
	}
}

// Stats returns the proxy's counters.
func (p *Proxy) Stats() Stats { return p.stats }

// Router returns the membership router of a downstream link, for status.
func (p *Proxy) Router(ifindex int) (*membership.Router, bool) {
	d, ok := p.downs[ifindex]
	if !ok {
		return nil, false
	}
	return d.router, true
}

// Downstreams lists the downstream links' interface indexes in the order
// they were added.
func (p *Proxy) Downstreams() []int { return slices.Clone(p.order) }

// Upstream is the upstream link; Ifindex 0 when none is in service.
func (p *Proxy) Upstream() Link { return p.up }

// UpstreamSources are the extra accepted source prefixes on the upstream.
func (p *Proxy) UpstreamSources() []netip.Prefix { return p.upSources }

// UpstreamIfindex is the upstream link's interface index.
func (p *Proxy) UpstreamIfindex() int { return p.up.Ifindex }

// NumSubscriptions returns how many groups are subscribed upstream.
func (p *Proxy) NumSubscriptions() int { return p.nsub }

// SubscribedGroups returns the groups subscribed upstream, sorted: the
// keys of a status answer's pages (see Subscription).
func (p *Proxy) SubscribedGroups() []netip.Addr {
	// Made at its size: collected from an iterator, the list would grow
	// step by step, twice the memory at a thousand groups.
	keys := make([]netip.Addr, 0, p.nsub)
	for k, g := range p.groups {
		grp := k.Addr()
		if g.sub.Subscribed() {
			keys = append(keys, grp)
		}
	}
	slices.SortFunc(keys, netip.Addr.Compare)
	return keys
}

// Subscription returns the upstream subscription of grp, if any.
func (p *Proxy) Subscription(grp netip.Addr) (Subscription, bool) {
	if g := p.groups[membership.KeyOf(grp)]; g != nil && g.sub.Subscribed() {
		return g.sub, true
	}
	return Subscription{}, false
}

// SubscriptionList returns the upstream subscriptions as Subscribe actions,
// sorted by group, to replay them onto a new upstream.
func (p *Proxy) SubscriptionList() []Subscribe {
	out := make([]Subscribe, 0, p.nsub)
	for k, g := range p.groups {
		grp := k.Addr()
		if g.sub.Subscribed() {
			out = append(out, Subscribe{Group: grp, Sub: g.sub})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Group.Less(out[j].Group) })
	return out
}

// Start makes every downstream router start querying (RFC 3376 §8.6 startup
// queries) and schedules flow ageing.
func (p *Proxy) Start(now time.Time) []Action {
	var out []Action
	for _, ifi := range p.order {
		d := p.downs[ifi]
		out = p.apply(d, d.router.Start(now), out)
	}
	p.nextCheck = now.Add(p.flowCheck)
	return out
}

// Report handles a membership report heard on a link. It filters recs in
// place, so the caller must not use them afterwards.
func (p *Proxy) Report(now time.Time, ifindex int, from netip.Addr, version int, recs []membership.Record) []Action {
	if ifindex == p.up.Ifindex {
		p.stats.ReportsOnUpstream++
		return nil
	}
	d, ok := p.downs[ifindex]
	if !ok {
		p.stats.ReportsUnknownLink++
		return nil
	}
	kept := recs[:0] // filtered in place: recs is the caller's to give
	for _, r := range recs {
		if !Proxied(r.Group) {
			p.stats.LinkLocalGroups++
			continue
		}
		if SourceSpecific(r.Group) && (r.Type == membership.IsExclude || r.Type == membership.ToExclude) {
			// RFC 4604 §2.2.1: in the SSM range only source-specific
			// joins count; any-source joins (EXCLUDE records, and IGMPv1/v2
			// and MLDv1 reports, which arrive as EXCLUDE{}) are ignored.
			p.stats.SSMAnySource++
			continue
		}
		if r, ok := p.admit(d, r); ok {
			kept = append(kept, r)
		}
	}
	if len(kept) == 0 {
		return nil
	}
	return p.spent(p.apply(d, d.router.Report(now, from, version, kept), p.fresh()))
}

// admit applies a downstream's access list to one record: what hosts may
// pull in is the operator's choice. A join of the whole
// group (EXCLUDE mode, IGMPv1/v2, MLDv1) needs the any-source join to be
// permitted; sources a host asks for one by one are kept only where
// permitted. Leaves and blocks only ever reduce traffic and always pass.
// Forwarding checks the list again per (S,G), which covers sources an
// EXCLUDE-mode join lets through.
func (p *Proxy) admit(d *downstream, r membership.Record) (membership.Record, bool) {
	if d.cfg.ACL == nil {
		return r, true
	}
	switch r.Type {
	case membership.IsExclude, membership.ToExclude:
		if !d.cfg.ACL.Permits(r.Group, netip.Addr{}) {
			p.stats.PolicyDenied++
			return r, false
		}
		return r, true
	case membership.IsInclude, membership.ToInclude, membership.Allow:
		if len(r.Sources) == 0 {
			return r, true
		}
		srcs := make([]netip.Addr, 0, len(r.Sources))
		for _, s := range r.Sources {
			if d.cfg.ACL.Permits(r.Group, s) {
				srcs = append(srcs, s)
			} else {
				p.stats.PolicyDenied++
			}
		}
		if len(srcs) == 0 && r.Type == membership.Allow {
			return r, false
		}
		r.Sources = srcs
		return r, true
	}
	return r, true
}

// Query handles a query heard from another router on a downstream link
// (querier election, RFC 3376 §6.6.2). Queries on the upstream are for the
// kernel's host stack, which answers them itself.
func (p *Proxy) Query(now time.Time, ifindex int, from netip.Addr, q membership.Query) []Action {
	if ifindex == p.up.Ifindex && ifindex != 0 {
		p.upQuery = now
		return nil
	}
	d, ok := p.downs[ifindex]
	if !ok {
		return nil
	}
	if from.IsValid() && !from.IsUnspecified() && !onLink(from, d.cfg.Subnets) {
		p.stats.QueryOffLink++
		return nil
	}
	return p.spent(p.apply(d, d.router.Query(now, from, q), p.fresh()))
}

// keptActions is how many actions' room the proxy keeps between calls: a
// join makes two, and a report of many records, which makes many, does not
// leave its room behind for good.
const keptActions = 16

// fresh returns the slice Report, Query and SourceActive reuse for their
// actions, empty.
func (p *Proxy) fresh() []Action {
	clear(p.out) // holds no source or output list until they are needed again
	return p.out[:0]
}

// single returns the one action a in the reused room.
func (p *Proxy) single(a Action) []Action { return p.spent(append(p.fresh(), a)) }

// spent keeps out's room for the next of those calls, unless it grew
// beyond keptActions, and returns out.
func (p *Proxy) spent(out []Action) []Action {
	p.out = out
	if cap(out) > keptActions {
		p.out = nil // the caller's alone: not reused
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// SourceActive handles a kernel upcall: traffic from src to grp arrived on
// ifindex and the kernel has no forwarding entry for it.
func (p *Proxy) SourceActive(now time.Time, ifindex int, src, grp netip.Addr) []Action {
	if !Proxied(grp) || !src.IsValid() || ifindex == 0 {
		return nil
	}
	if ifindex == p.up.Ifindex {
		if !p.acceptedUpstream(src) {
			// Known but not forwarded: the entry with no outputs keeps
			// the kernel from asking again, and if the upstream later gets
			// an address that covers the source (a PPPoE link whose
			// address comes after its first packets), SetUpstream
			// recomputes the outputs at once instead of waiting for the
			// kernel's next upcall.
			p.stats.SourceNotAccepted++
		}
	} else if _, ok := p.downs[ifindex]; !ok {
		return nil
	}
	fs := p.flowsOf(grp)
	i, ok := findFlow(fs, src)
	if ok {
		f := fs[i]
		// The kernel lost the entry, or the source moved to another
		// input: install it again, with the outputs of the input it has
		// now and counted against what bounds that input.
		if f.input != ifindex {
			p.releaseFlow(f)
			if !p.chargeFlow(f, ifindex) {
				return p.single(p.forget(src, grp).Action())
			}
		}
		f.input = ifindex
		p.recompute(f, grp)
		f.measured = false
		p.stats.RoutesAdded++
		return p.single(routeOf(src, grp, f))
	}
	f := &flow{source: src, input: ifindex}
	if !p.chargeFlow(f, ifindex) {
		return nil
	}
	// Inserted by hand: slices.Insert would compile a copy of itself
	// for this element type into the binary.
	fs = append(fs, nil)
	copy(fs[i+1:], fs[i:])
	fs[i] = f
	p.setFlows(grp, fs)
	p.recompute(f, grp)
	p.nflow++
	p.stats.RoutesAdded++
	return p.single(routeOf(src, grp, f))
}

// Counters takes the kernel's counts of the packets that arrived on each
// flow's input, for the flows named in the last ReadCounters action (copies
// arriving elsewhere do not keep a flow alive). A flow whose count did not
// move since the previous reading is idle: its entry is removed (if the source comes back, the kernel
// raises a new upcall). A flow missing from the map could not be read (the
// entry is gone from the kernel): it is forgotten too.
func (p *Proxy) Counters(now time.Time, packets map[Flow]uint64) []Action {
	var out []Action
	for k, g := range p.groups {
		grp := k.Addr()
		// Backwards: forget removes the flow from the slice, moving
		// those after it.
		for fs, i := g.flows, len(g.flows)-1; i >= 0; i-- {
			f := fs[i]
			n, ok := packets[Flow{Source: f.source, Group: grp}]
			if ok && (!f.measured || n != f.packets) {
				f.packets, f.measured = n, true
				continue
			}
			out = append(out, p.forget(f.source, grp).Action())
		}
	}
	sort.Slice(out, func(i, j int) bool {
		x, y := out[i].DelRoute, out[j].DelRoute
		if c := x.Group.Compare(y.Group); c != 0 {
			return c < 0
		}
		return x.Source.Less(y.Source)
	})
	return out
}

// Duplicates takes the kernel's counters of the flows named in the last
// ReadCounters action, before Counters: the packets that arrived on each
// flow's input, and those that arrived on another interface. A flow
// whose packets also arrive on another interface, as fast as on its input,
// is being delivered there by another router: on downstreams where that
// router is the querier we stop forwarding it (RFC 4605 §4.2); when the
// copies stop, we forward it again.
func (p *Proxy) Duplicates(now time.Time, packets, wrongIf map[Flow]uint64) []Action {
	var out []Action
	for _, grp := range p.groupsWithFlows() {
		for _, f := range p.flowsOf(grp) {
			src := f.source
			fl := Flow{Source: src, Group: grp}
			w, okw := wrongIf[fl]
			n, okn := packets[fl]
			if !okw || !okn {
				continue
			}
			dup := false
			if f.measured && w > f.wrongIf {
				// At least half as many copies as packets on the input:
				// a host that spoofs a few packets cannot stop a stream.
				dup = 2*(w-f.wrongIf) >= n-f.packets
			}
			f.wrongIf = w
			if dup == f.elsewhere {
				continue
			}
			f.elsewhere = dup
			if p.recompute(f, grp) {
				out = append(out, p.setRoute(src, grp, f))
			}
		}
	}
	return out
}

// ReportsLost tells every downstream that received packets were dropped
// at now before they could be read (the daemon's queue was full): no
// membership expires until their hosts have had another query to answer
// (membership.Router.ReportsLost).
func (p *Proxy) ReportsLost(now time.Time) {
	for _, d := range p.downs {
		d.router.ReportsLost(now)
	}
}

// ReportsWaiting tells every downstream that received packets wait unread
// at now (the daemon is behind its queue): no membership expires within
// hold, the time the daemon may take to read them or to say so again
// (membership.Router.ReportsWaiting).
func (p *Proxy) ReportsWaiting(now time.Time, hold time.Duration) {
	for _, d := range p.downs {
		d.router.ReportsWaiting(now, hold)
	}
}

// Advance fires every deadline that is due.
func (p *Proxy) Advance(now time.Time) []Action {
	var out []Action
	for _, ifi := range p.order {
		d := p.downs[ifi]
		if dl := d.router.NextDeadline(); !dl.IsZero() && !dl.After(now) {
			out = p.apply(d, d.router.Advance(now), out)
		}
	}
	if !p.nextCheck.IsZero() && !p.nextCheck.After(now) {
		p.nextCheck = now.Add(p.flowCheck)
		if p.nflow > 0 {
			out = append(out, ReadCounters{Flows: p.Flows()}.Action())
		}
	}
	return out
}

// NextDeadline is the earliest time Advance has work to do; zero if none.
func (p *Proxy) NextDeadline() time.Time {
	next := p.nextCheck
	for _, d := range p.downs {
		dl := d.router.NextDeadline()
		if !dl.IsZero() && (next.IsZero() || dl.Before(next)) {
			next = dl
		}
	}
	return next
}

// Flows lists the known flows sorted by group and source.
func (p *Proxy) Flows() []Flow {
	fl := make([]Flow, 0, p.nflow)
	for k, g := range p.groups {
		grp := k.Addr()
		for _, f := range g.flows {
			fl = append(fl, Flow{Source: f.source, Group: grp})
		}
	}
	sort.Slice(fl, func(i, j int) bool {
		a, b := &fl[i], &fl[j]
		if c := a.Group.Compare(b.Group); c != 0 {
			return c < 0
		}
		return a.Source.Less(b.Source)
	})
	return fl
}

// Proxied reports whether a group may be proxied at all: a multicast group
// that leaves its link (scope.LinkLocal). An IPv4-mapped IPv6 address is
// none (netip calls ::ffff:239.1.1.1 multicast; the proxy keys groups by
// 16 bytes, where it would be 239.1.1.1).
func Proxied(g netip.Addr) bool {
	return g.IsMulticast() && !g.Is4In6() && !scope.LinkLocal(g)
}

// SourceSpecific reports whether g is in a source-specific multicast range:
// 232.0.0.0/8 (RFC 4607 §1) or ff3x::/32 (RFC 4607 §1). The /32 matters:
// ff3x::/12 also holds the RFC 3306 unicast-prefix-based groups, whose
// prefix length byte (the fourth) is not zero, and those take any-source
// joins.
func SourceSpecific(g netip.Addr) bool {
	if g.Is4() {
		return g.As4()[0] == 232
	}
	b := g.As16()
	return b[0] == 0xff && b[1]>>4 == 3 && b[2] == 0 && b[3] == 0
}

// onLink reports whether a query's source can be a router on the link: an
// address in one of the link's IPv4 subnets (RFC 3376 §9.1: queries from
// elsewhere are forged or misrouted, and believing them hands the querier
// role, our timers and, through RFC 4605 §4.2, our forwarding to whoever
// sent them), or an IPv6 link-local address (RFC 3810 §5.1.14).
func onLink(from netip.Addr, subnets []netip.Prefix) bool {
	if !from.Is4() {
		return from.IsLinkLocalUnicast()
	}
	for _, pf := range subnets {
		if pf.Contains(from) {
			return true
		}
	}
	return false
}

func (p *Proxy) acceptedUpstream(src netip.Addr) bool {
	for _, pf := range p.up.Subnets {
		if pf.Contains(src) {
			return true
		}
	}
	for _, pf := range p.upSources {
		if pf.Contains(src) {
			return true
		}
	}
	return false
}

// apply translates a downstream router's actions into proxy actions and, for
// every group whose forwarding state changed, recomputes the upstream
// subscription and the outputs of that group's flows at once: a second LAN
// joining a flowing stream gets it immediately.
func (p *Proxy) apply(d *downstream, acts []membership.Action, out []Action) []Action {
	for _, a := range acts {
		switch a.Kind {
		case membership.KindSendQuery:
			if !d.up {
				continue // a link that is down is not queried
			}
			out = append(out, SendQuery{Ifindex: d.cfg.Ifindex, Src: d.cfg.Addr, Query: a.SendQuery}.Action())
		case membership.KindGroupChanged:
			out = p.regroup(a.GroupChanged.Group, out)
		}
	}
	if _, self := d.router.Querier(); self != d.querier {
		// RFC 4605 §4.2: forwarding onto the link follows the querier
		// role; every flow's outputs change with it.
		d.querier = self
		out = p.reflow(out)
	}
	return out
}

// reflow recomputes the outputs of every flow.
func (p *Proxy) reflow(out []Action) []Action {
	for _, grp := range p.groupsWithFlows() {
		for _, f := range p.flowsOf(grp) {
			if p.recompute(f, grp) {
				out = append(out, p.setRoute(f.source, grp, f))
			}
		}
	}
	return out
}

// The forwarding entries of the group's flows change first: for a flow that
// already reaches the router, the forwarding entry is what the joining host
// waits for, and the upstream subscription (a host-stack join that sends a
// report upstream) is not needed for it.
func (p *Proxy) regroup(grp netip.Addr, out []Action) []Action {
	out = p.reroute(grp, out)
	states := p.states[:0]
	for _, ifi := range p.order {
		d := p.downs[ifi]
		// A link that is down wants nothing from the upstream, though its
		// records live on in case it comes back.
		if !d.up {
			continue
		}
		if st, ok := d.router.Filter(grp); ok {
			states = append(states, restrictState(d.cfg.ACL, st))
		}
	}
	sub := p.restrict(grp, Merge(states))
	clear(states) // holds no router's source lists until the next call
	p.states = states[:0]
	old, had := p.Subscription(grp)
	if !had || !old.Equal(sub) {
		p.setSubscription(grp, sub)
		if had || sub.Subscribed() {
			out = append(out, Subscribe{Group: grp, Sub: sub}.Action())
		}
	}
	return out
}

// reroute recomputes the outputs of the flows of one group, in source
// order, and returns the forwarding entries that change.
func (p *Proxy) reroute(grp netip.Addr, out []Action) []Action {
	for _, f := range p.flowsOf(grp) {
		if p.recompute(f, grp) {
			out = append(out, p.setRoute(f.source, grp, f))
		}
	}
	return out
}

// restrictState applies a downstream's access list to its membership of
// one group before the merge: records admitted under an older list (a
// reload) must not keep pulling in what the new one denies.
func restrictState(acl Policy, st membership.GroupState) membership.GroupState {
	if acl == nil {
		return st
	}
	if st.Mode == membership.Exclude && !acl.Permits(st.Group, netip.Addr{}) {
		st.Mode, st.Exclude = membership.Include, nil
	}
	st.Include = slices.DeleteFunc(slices.Clone(st.Include), func(s netip.Addr) bool { return !acl.Permits(st.Group, s) })
	return st
}

// restrict applies the upstream access list to a merged subscription: an
// any-source (EXCLUDE mode) request needs the any-source join to be
// permitted, otherwise only the permitted sources that some downstream asked
// for one by one are requested; denied sources are excluded or dropped.
func (p *Proxy) restrict(grp netip.Addr, sub Subscription) Subscription {
	if p.upACL == nil {
		return sub
	}
	if sub.Mode == membership.Exclude && !p.upACL.Permits(grp, netip.Addr{}) {
		var wanted []netip.Addr
		for _, ifi := range p.order {
			if d := p.downs[ifi]; !d.up {
				continue
			}
			if st, ok := p.downs[ifi].router.Filter(grp); ok {
				wanted = append(wanted, st.Include...)
			}
		}
		sub = Subscription{Mode: membership.Include, Sources: wanted}
	}
	var srcs []netip.Addr
	for _, s := range sub.Sources {
		allowed := p.upACL.Permits(grp, s)
		if allowed == (sub.Mode == membership.Include) && !slices.Contains(srcs, s) {
			srcs = append(srcs, s)
		}
	}
	slices.SortFunc(srcs, netip.Addr.Compare)
	sub.Sources = srcs
	return sub
}

// outputs lists the links traffic from src to grp arriving on input goes out
// on: every downstream whose membership wants it, and the upstream when the
// traffic came from a downstream and the upstream access list permits it
// (what may be requested upstream may also be sent there; nothing else
// leaves on the WAN). Never the input itself.
//
// RFC 4605 §4.2 forwards onto a downstream only where this router is the
// querier, so that two proxies on one LAN do not both deliver. Any host can
// claim the querier role, though, and one that does not forward would cut
// every stream. So a downstream where another router is the querier loses
// a flow only while the kernel sees that flow arrive from elsewhere as well
// (Duplicates): the other router really delivers it.
func (p *Proxy) outputs(o []int, src, grp netip.Addr, input int) []int {
	if input == p.up.Ifindex && !p.acceptedUpstream(src) {
		return o // RFC 4605 §4.2: only sources the upstream vouches for
	}
	if input != p.up.Ifindex && p.up.Ifindex != 0 && permits(p.upACL, grp, src) {
		o = append(o, p.up.Ifindex)
	}
	elsewhere := false
	fs := p.flowsOf(grp)
	if i, ok := findFlow(fs, src); ok {
		elsewhere = fs[i].elsewhere
	}
	for _, ifi := range p.order {
		d := p.downs[ifi]
		if ifi == input || !d.up || (!d.querier && elsewhere) {
			continue
		}
		if d.router.Wants(grp, src) && permits(d.cfg.ACL, grp, src) {
			o = append(o, ifi)
		}
	}
	sorted.SmallInts(o)
	return o
}

// findFlow returns the index of src's flow in a group's flows, or where it
// would go, and whether it is there.
func findFlow(fs []*flow, src netip.Addr) (int, bool) {
	return slices.BinarySearchFunc(fs, src, func(f *flow, src netip.Addr) int { return f.source.Compare(src) })
}

// recompute works out the outputs of f, a flow of grp, and reports whether
// they changed. They are worked out in scratch room and copied only when
// they differ: on the report path most flows' outputs stay as they were.
func (p *Proxy) recompute(f *flow, grp netip.Addr) bool {
	o := p.outputs(p.outScratch[:0], f.source, grp, f.input)
	p.outScratch = o
	if slices.Equal(o, f.outputs) {
		return false
	}
	f.outputs = nil
	if len(o) > 0 {
		f.outputs = slices.Clone(o)
	}
	return true
}

// setRoute is a changed forwarding entry.
func (p *Proxy) setRoute(src, grp netip.Addr, f *flow) Action {
	p.stats.RoutesChanged++
	return routeOf(src, grp, f)
}

func routeOf(src, grp netip.Addr, f *flow) Action {
	return SetRoute{Source: src, Group: grp, Input: f.input, Outputs: f.outputs}.Action()
}
