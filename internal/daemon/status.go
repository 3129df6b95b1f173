package daemon

import (
	"net/netip"
	"slices"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/config"
	"github.com/mcast-proxy/mcast-proxy/internal/control"
	"github.com/mcast-proxy/mcast-proxy/internal/membership"
	"github.com/mcast-proxy/mcast-proxy/internal/proxy"
)

// status builds the answer to a status request from the loop's own state
// and the kernel's counters.
func (d *Daemon) status(now time.Time) *control.Status {
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
				x := d.interfaceStatus(p, ifc, now)
				x.Proxy = name
				st.Interfaces = append(st.Interfaces, x)
			}
			subs := p.brain.SubscriptionList()
			// Room for all at once: lists of thousands of entries grown by
			// append would leave twice their size behind.
			st.Upstream = slices.Grow(st.Upstream, len(subs))
			for _, s := range subs {
				st.Upstream = append(st.Upstream, control.Subscription{
					Proxy: name, Family: p.fam.name, Interface: in.up.name, Group: s.Group.String(),
					Mode: modeName(s.Sub.Mode), Sources: addrStrings(s.Sub.Sources),
				})
			}
			st.Routes = d.appendRouteStatus(st.Routes, p, name, now)
			fc := p.countersStatus()
			fc.Proxy = name
			st.Counters = append(st.Counters, fc)
		}
	}
	return st
}

func (d *Daemon) interfaceStatus(p *plane, ifc *config.Interface, now time.Time) control.Interface {
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
		return out
	}
	r, ok := p.brain.Router(in.ifindex)
	if !ok {
		return out
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
	out.Groups = make([]control.Group, 0, r.NumGroups())
	r.EachGroup(statusHostSources, func(g membership.GroupState) {
		var timers map[netip.Addr]time.Time
		if len(g.Include) > 0 {
			timers = r.SourceTimers(g.Group)
		}
		cg := groupStatus(g, timers, now)
		if p.fam == ipv6 {
			cg.Compat = membershipToMLD(cg.Compat) // MLDv1 or MLDv2
		}
		out.Groups = append(out.Groups, cg)
	})
	return out
}

// statusHostSources is how many sources of one host's list status shows.
// Status is built inside the event loop: 64 hosts with 128 sources each in
// every group would make it megabytes and seconds long under a flood, and
// a host's full list is rarely what an operator needs (the group's list,
// shown whole, is what is forwarded).
const statusHostSources = 16

func groupStatus(g membership.GroupState, timers map[netip.Addr]time.Time, now time.Time) control.Group {
	cg := control.Group{
		Group: g.Group.String(), Mode: modeName(g.Mode), Compat: g.Compat,
		Excluded: addrStrings(g.Exclude), Untracked: g.Untracked,
	}
	if g.Mode == membership.Exclude {
		cg.ExpiresIn = seconds(g.Expires, now)
	}
	for _, s := range g.Include {
		cg.Sources = append(cg.Sources, control.Source{Address: s.String(), ExpiresIn: seconds(timers[s], now)})
	}
	for _, h := range g.Hosts {
		ch := control.Host{Address: h.Addr.String(), Mode: modeName(h.Mode), ExpiresIn: seconds(h.Expires, now)}
		srcs := h.Sources
		if len(srcs) > statusHostSources {
			srcs = srcs[:statusHostSources]
		}
		ch.Sources = addrStrings(srcs)
		ch.SourcesOmitted = max(h.SourceCount, len(h.Sources)) - len(srcs)
		cg.Hosts = append(cg.Hosts, ch)
	}
	return cg
}

// appendRouteStatus appends the plane's forwarding entries with the
// kernel's counters and the rate since the previous reading.
func (d *Daemon) appendRouteStatus(out []control.Route, p *plane, proxyName string, now time.Time) []control.Route {
	routes := p.mr.Routes()
	out = slices.Grow(out, len(routes))
	for _, r := range routes {
		cr := control.Route{
			Proxy: proxyName, Family: p.fam.name, Source: r.Source.String(), Group: r.Group.String(),
			Input: p.links[r.Input], Outputs: p.names(r.Outputs),
		}
		if c, err := p.mr.Counters(r.Source, r.Group); err == nil {
			cr.Packets, cr.Bytes, cr.WrongIf = c.Packets, c.Bytes, c.WrongIf
			f := proxy.Flow{Source: r.Source, Group: r.Group}
			if prev, ok := p.samples[f]; ok && c.Packets >= prev.packets {
				if dt := now.Sub(prev.at).Seconds(); dt > 0 {
					cr.PacketsPerSecond = float64(c.Packets-prev.packets) / dt
					cr.BitsPerSecond = 8 * float64(c.Bytes-prev.bytes) / dt
				}
			}
			p.samples[f] = sample{packets: c.Packets, bytes: c.Bytes, at: now}
		}
		out = append(out, cr)
	}
	// Forget readings of entries that are gone: every reading of an entry
	// still there was taken just now.
	for f, s := range p.samples {
		if !s.at.Equal(now) {
			delete(p.samples, f)
		}
	}
	return out
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
		if n := p.drops[i] + p.readDrops[i].Load(); n > 0 {
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
