package daemon

import (
	"net/netip"
	"sort"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/config"
	"github.com/mcast-proxy/mcast-proxy/internal/control"
	"github.com/mcast-proxy/mcast-proxy/internal/membership"
	"github.com/mcast-proxy/mcast-proxy/internal/mroute"
)

// statusPageSize is how many entries of a long list of a status answer
// (a link's groups, the upstream subscriptions, the routes) the loop builds
// at a time: a page is a few tens of kilobytes however many groups there
// are, and between two pages the loop handles what else came in.
const statusPageSize = 64

// pagedStatus is the answer to a status request at now with its long
// lists left to pages, which the control server asks the loop for as it
// writes them; clock gives the time each page is built at.
func (d *Daemon) pagedStatus(now time.Time, clock func() time.Time) *control.Status {
	st, pages := d.statusHead(now)
	pages.now = clock
	st.Pages = pages
	return st
}

// statusHead builds a status answer without its long lists, and the keys
// of their entries in the order the lists have them: a link's group
// addresses, the subscribed groups, the installed routes as they are now.
// A page looks the state up again by key, so an entry gone since is left
// out and a changed one is shown as it is then.
func (d *Daemon) statusHead(now time.Time) (*control.Status, *statusPages) {
	st := &control.Status{
		Version:       d.opts.Version,
		Config:        d.cfg.File,
		Started:       d.started,
		UptimeSeconds: now.Sub(d.started).Seconds(),
		Table:         d.cfg.Table,
		Interfaces:    []control.Interface{},
		Upstream:      []control.Subscription{},
		Routes:        []control.Route{},
	}
	pages := &statusPages{groups: map[int]groupKeys{}}
	for _, in := range d.insts {
		name := in.cfg.Name
		if name == "" {
			st.Table = in.cfg.Table
		}
		st.Proxies = append(st.Proxies, control.Proxy{Name: name, Table: in.cfg.Table, Upstream: in.up.name,
			MemoryBytes: uint64(max(in.budget.Used(), 0)), MemoryLimit: uint64(in.cfg.MaxMemoryTotal)})
		for _, p := range in.planes {
			for i := range in.cfg.Interfaces {
				ifc := &in.cfg.Interfaces[i]
				if ifc.Role == config.RoleDisabled || !p.fam.ifEnabled(ifc) {
					continue
				}
				x, keys := d.interfaceStatus(p, ifc, now)
				x.Proxy = name
				if keys.p != nil {
					pages.groups[len(st.Interfaces)] = keys
				}
				st.Interfaces = append(st.Interfaces, x)
			}
			pages.upstream = append(pages.upstream, subscriptionKeys{p: p, proxy: name, iface: in.up.name, keys: p.brain.SubscribedGroups()})
			routes := p.mr.RouteKeys()
			pages.routes = append(pages.routes, routeKeys{p: p, proxy: name, keys: routes, readings: make([]routeReading, len(routes))})
			fc := p.countersStatus()
			fc.Proxy = name
			st.Counters = append(st.Counters, fc)
		}
	}
	return st, pages
}

// statusPages builds the pages of one status answer (control.StatusPages).
// It runs in the loop: the server calls it through the event loop.
type statusPages struct {
	// One page of each list at a time: the server is done with a page
	// when it asks for the next (control.Page), so its entries' room
	// is the next page's.
	groupPage []control.Group
	subPage   []control.Subscription
	routePage []control.Route
	room      pageRoom

	now      func() time.Time // when a page is built: counters' rates and timers are as of then
	groups   map[int]groupKeys
	upstream []subscriptionKeys
	routes   []routeKeys
}

// groupKeys are the groups of a downstream link, by the interface's index
// in the answer's list.
type groupKeys struct {
	p       *plane
	ifindex int
	keys    []netip.Addr
}

// subscriptionKeys are one plane's subscribed groups; routeKeys its
// installed entries. The upstream and routes lists are those of every
// plane one after the other.
type subscriptionKeys struct {
	p            *plane
	proxy, iface string
	keys         []netip.Addr
}

type routeKeys struct {
	p        *plane
	proxy    string
	keys     []mroute.Key
	readings []routeReading // of the keys' entries, as the pages read them
}

// routeReadings are the kernel's counters of a list of forwarding entries
// as one status answer read them: readings[i] is keys[i]'s, zero if the
// entry was gone when its page was built. The keys are those the answer
// paged through (sorted as RouteKeys lists them), kept with the readings
// for the next answer, which finds an entry's earlier reading by binary
// search: at a thousand entries the two lists take 88 KB, where a map from
// flow to reading took about 190 KB (amd64).
type routeReadings struct {
	keys     []mroute.Key
	readings []routeReading
}

type routeReading struct {
	packets, bytes uint64
	at             time.Time // zero: no reading
}

// find returns the reading of the entry k.
func (r *routeReadings) find(k mroute.Key) (routeReading, bool) {
	i := sort.Search(len(r.keys), func(i int) bool { return r.keys[i].Compare(k) >= 0 })
	if i == len(r.keys) || r.keys[i] != k || r.readings[i].at.IsZero() {
		return routeReading{}, false
	}
	return r.readings[i], true
}

// pageRoom holds the lists inside one page's entries (a group's hosts and
// sources, a subscription's sources, a route's outputs), reused by the
// next page as the page's entries are: a status answer of a thousand
// groups then builds no lists of its own but the keys.
type pageRoom struct {
	groups  membership.StateRoom
	hosts   []control.Host
	sources []control.Source
	addrs   []netip.Addr
	names   []string
	outputs []int // one route's, turned into names at once
}

func (m *pageRoom) reset() {
	if m.outputs == nil {
		m.outputs = make([]int, 0, mroute.MaxVIFs)
	}
	m.groups.Reset()
	m.hosts = m.hosts[:0]
	m.sources = m.sources[:0]
	m.addrs = m.addrs[:0]
	m.names = m.names[:0]
}

// carve returns the next n entries of room, zeroed, as a list of their
// own (appending to it cannot overwrite the next); nil for none. A room
// without space enough starts a fresh array: the lists already carved
// keep the old one. A nil room gives a list of its own.
func carve[T any](room *[]T, n int) []T {
	if n == 0 {
		return nil
	}
	if room == nil {
		return make([]T, n)
	}
	if cap(*room)-len(*room) < n {
		*room = make([]T, 0, max(n, 2*cap(*room)))
	}
	start := len(*room)
	*room = (*room)[:start+n]
	out := (*room)[start : start+n : start+n]
	clear(out)
	return out
}

func (s *statusPages) FillPage(pg *control.Page) {
	pg.Next, pg.Done = pg.From, true
	now := s.now()
	switch pg.List {
	case control.PageGroups:
		gk, ok := s.groups[pg.Interface]
		if !ok {
			return
		}
		r, ok := gk.p.brain.Router(gk.ifindex)
		if !ok || gk.p.closed {
			return // the link went down or the plane away: no groups left
		}
		i := pg.From
		pg.Groups = reuse(&s.groupPage)
		s.room.reset()
		for ; i < len(gk.keys) && len(pg.Groups) < statusPageSize; i++ {
			if g, ok := r.GroupInRoom(gk.keys[i], statusHostSources, &s.room.groups); ok {
				pg.Groups = append(pg.Groups, gk.p.describeGroup(r, g, now, &s.room))
			}
		}
		pg.Next, pg.Done = i, i == len(gk.keys)
	case control.PageUpstream:
		i, base := pg.From, 0
		pg.Upstream = reuse(&s.subPage)
		s.room.reset()
		for _, seg := range s.upstream {
			for ; i < base+len(seg.keys) && len(pg.Upstream) < statusPageSize; i++ {
				grp := seg.keys[i-base]
				if sub, ok := seg.p.brain.Subscription(grp); ok && !seg.p.closed {
					// The sources are copied: the page is written outside
					// the loop, which may change the subscription meanwhile.
					srcs := carve(&s.room.addrs, len(sub.Sources))
					copy(srcs, sub.Sources)
					pg.Upstream = append(pg.Upstream, control.Subscription{
						Proxy: seg.proxy, Family: seg.p.fam.name, Interface: seg.iface, Group: grp,
						Mode: modeName(sub.Mode), Sources: srcs,
					})
				}
			}
			base += len(seg.keys)
		}
		pg.Next, pg.Done = i, i == base
	case control.PageRoutes:
		i, base := pg.From, 0
		pg.Routes = reuse(&s.routePage)
		s.room.reset()
		for _, seg := range s.routes {
			for ; i < base+len(seg.keys) && len(pg.Routes) < statusPageSize; i++ {
				if seg.p.closed {
					continue
				}
				if r, ok := seg.p.mr.Route(seg.keys[i-base], s.room.outputs[:0]); ok {
					pg.Routes = append(pg.Routes, seg.p.routeStatus(r, seg.proxy, now, &s.room, &seg.readings[i-base]))
				}
			}
			base += len(seg.keys)
		}
		pg.Next, pg.Done = i, i == base
		if pg.Done {
			// This answer's readings are the next one's to compare
			// with; an answer left unfinished leaves the last ones.
			for _, seg := range s.routes {
				if !seg.p.closed {
					seg.p.readings = routeReadings{keys: seg.keys, readings: seg.readings}
				}
			}
		}
	}
}

// reuse returns the room of the last page of a list, made on first use,
// emptied of the entries it held.
func reuse[T any](page *[]T) []T {
	if *page == nil {
		*page = make([]T, 0, statusPageSize)
	}
	clear((*page)[:cap(*page)])
	return (*page)[:0]
}

// interfaceStatus describes a configured interface; for an active
// downstream also the keys of its groups, whose entries come in pages.
func (d *Daemon) interfaceStatus(p *plane, ifc *config.Interface, now time.Time) (control.Interface, groupKeys) {
	out := control.Interface{Name: ifc.Name, Family: p.fam.name, Role: ifc.Role.String(), State: control.StateWaiting, VIF: -1, Addresses: []string{}}
	l, exists := d.links[ifc.Name]
	if exists {
		out.Ifindex = l.Index
		_, _, all := p.linkFacts(l)
		out.Addresses = addrStrings(all)
	}
	in, active := p.active[ifc.Name]
	switch {
	case active && in.up:
		out.State = control.StateActive
	case ifc.Role == config.RoleUpstream && exists && l.Up && ifc.Name != p.in.up.name:
		out.State = control.StateStandby
	}
	if active {
		if vif, ok := p.mr.VIF(in.ifindex); ok {
			out.VIF = vif
		}
	}
	if c := p.perLink[ifc.Name]; c != nil {
		out.Counters = map[string]uint64{"reports": c.reports, "queries": c.queries, "queries_sent": c.queriesSent, "dropped": c.dropped}
	}
	if ifc.Role != config.RoleDownstream || !active {
		return out, groupKeys{}
	}
	r, ok := p.brain.Router(in.ifindex)
	if !ok {
		return out, groupKeys{}
	}
	if out.Counters == nil {
		out.Counters = map[string]uint64{}
	}
	// What the link's state is charged against max-memory.
	out.Counters["state_bytes"] = uint64(r.StateBytes())
	addr, self := r.Querier()
	q := &control.Querier{Self: self, Version: p.fam.version(ifc)}
	if p.fam == ipv6 {
		q.Version = membershipToMLD(q.Version)
	}
	if addr.IsValid() {
		q.Address = addr.String()
	}
	out.Querier = q
	out.ExpiryHeld = seconds(r.ExpiryHeldUntil(), now)
	return out, groupKeys{p: p, ifindex: in.ifindex, keys: r.GroupAddrs()}
}

// describeGroup describes group record g of router r at now, its lists in
// room (nil: lists of their own).
func (p *plane) describeGroup(r *membership.Router, g membership.GroupState, now time.Time, room *pageRoom) control.Group {
	var timers map[netip.Addr]time.Time
	if len(g.Include) > 0 {
		timers = r.SourceTimers(g.Group)
	}
	cg := groupStatus(g, timers, now, room)
	if p.fam == ipv6 {
		cg.Compat = membershipToMLD(cg.Compat) // MLDv1 or MLDv2
	}
	return cg
}

// statusHostSources is how many sources of one host's list status shows.
// Status is built inside the event loop: 64 hosts with 128 sources each in
// every group would make it megabytes and seconds long under a flood, and
// a host's full list is rarely what an operator needs (the group's list,
// shown whole, is what is forwarded).
const statusHostSources = 16

// groupStatus describes g. Its address lists are g's, which the caller
// owns (GroupInRoom); the lists of sources and hosts are made in room.
func groupStatus(g membership.GroupState, timers map[netip.Addr]time.Time, now time.Time, room *pageRoom) control.Group {
	cg := control.Group{
		Group: g.Group, Mode: modeName(g.Mode), Compat: g.Compat,
		Excluded: g.Exclude, Untracked: g.Untracked,
	}
	if g.Mode == membership.Exclude {
		cg.ExpiresIn = seconds(g.Expires, now)
	}
	var sources *[]control.Source
	var hosts *[]control.Host
	if room != nil {
		sources, hosts = &room.sources, &room.hosts
	}
	cg.Sources = carve(sources, len(g.Include))
	for i, s := range g.Include {
		cg.Sources[i] = control.Source{Address: s, ExpiresIn: seconds(timers[s], now)}
	}
	cg.Hosts = carve(hosts, len(g.Hosts))
	for i, h := range g.Hosts {
		srcs := h.Sources
		if len(srcs) > statusHostSources {
			srcs = srcs[:statusHostSources]
		}
		cg.Hosts[i] = control.Host{
			Address: h.Addr, Mode: modeName(h.Mode), ExpiresIn: seconds(h.Expires, now),
			Sources: srcs, SourcesOmitted: max(h.SourceCount, len(h.Sources)) - len(srcs),
		}
	}
	return cg
}

// routeStatus describes the forwarding entry r with the kernel's counters
// and the rate since the last complete answer's reading of it, its
// outputs' names in room; the reading it takes goes to read.
func (p *plane) routeStatus(r mroute.Route, proxyName string, now time.Time, room *pageRoom, read *routeReading) control.Route {
	var names *[]string
	if room != nil {
		names = &room.names
	}
	// An entry with no outputs lists none ([]), not null.
	outs := carve(names, len(r.Outputs))
	if outs == nil {
		outs = []string{}
	}
	for i, x := range r.Outputs {
		outs[i] = p.links[x]
	}
	cr := control.Route{
		Proxy: proxyName, Family: p.fam.name, Source: r.Source, Group: r.Group,
		Input: p.links[r.Input], Outputs: outs,
	}
	if c, err := p.mr.Counters(r.Source, r.Group); err == nil {
		cr.Packets, cr.Bytes, cr.WrongIf = c.Packets, c.Bytes, c.WrongIf
		if prev, ok := p.readings.find(mroute.Key{Source: r.Source, Group: r.Group}); ok && c.Packets >= prev.packets {
			if dt := now.Sub(prev.at).Seconds(); dt > 0 {
				cr.PacketsPerSecond = float64(c.Packets-prev.packets) / dt
				cr.BitsPerSecond = 8 * float64(c.Bytes-prev.bytes) / dt
			}
		}
		*read = routeReading{packets: c.Packets, bytes: c.Bytes, at: now}
	}
	return cr
}

func (p *plane) countersStatus() control.FamilyCounters {
	fc := control.FamilyCounters{
		Family: p.fam.name, Received: map[string]uint64{}, Dropped: map[string]uint64{},
		QueriesSent: p.queriesSent, Upcalls: p.upcalls,
	}
	for k, n := range p.received {
		fc.Received[k] = n
	}
	for i := range p.drops {
		if n := p.drops[i]; n > 0 {
			fc.Dropped[dropNames[i]] = n
		}
	}
	// Reports the kernel could not queue for us: the socket's receive
	// buffer was full because the loop fell behind.
	if n, err := p.mr.Drops(); err == nil {
		addNonZero(fc.Dropped, "socket_overflow", n)
	}
	bs := p.brain.Stats()
	addNonZero(fc.Dropped, "source_not_accepted", bs.SourceNotAccepted)
	addNonZero(fc.Dropped, "policy", bs.PolicyDenied)
	addNonZero(fc.Dropped, "link_local_group", bs.LinkLocalGroups)
	addNonZero(fc.Dropped, "flow_limit", bs.FlowLimit)
	addNonZero(fc.Dropped, "ssm_any_source", bs.SSMAnySource)
	addNonZero(fc.Dropped, "query_off_link", bs.QueryOffLink)
	for _, ifi := range p.brain.Downstreams() {
		if r, ok := p.brain.Router(ifi); ok {
			ms := r.Stats()
			addNonZero(fc.Dropped, "limit", ms.GroupLimit+ms.SourceLimit+ms.HostLimit)
			addNonZero(fc.Dropped, "memory", ms.MemoryLimit)
			addNonZero(fc.Dropped, "invalid_source", ms.BadSources)
			addNonZero(fc.Dropped, "query_rate", ms.QueryLimit)
		}
	}
	fc.RoutesAdded, fc.RoutesChanged, fc.RoutesRemoved = bs.RoutesAdded, bs.RoutesChanged, bs.RoutesDeleted
	return fc
}

func addNonZero(m map[string]uint64, k string, n uint64) {
	if n > 0 {
		m[k] += n
	}
}

func modeName(m membership.FilterMode) string {
	if m == membership.Exclude {
		return control.ModeExclude
	}
	return control.ModeInclude
}

func addrStrings(as []netip.Addr) []string {
	if len(as) == 0 {
		return nil
	}
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.String()
	}
	return out
}

func seconds(t, now time.Time) float64 {
	if t.IsZero() || !t.After(now) {
		return 0
	}
	return t.Sub(now).Seconds()
}
