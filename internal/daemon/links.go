package daemon

import (
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/config"
	"github.com/mcast-proxy/mcast-proxy/internal/linkwatch"
	"github.com/mcast-proxy/mcast-proxy/internal/sysctl"
)

// upstreamQuerySilence is how long the upstream may go without a query
// before we warn: the Other Querier Present Interval with the RFC 3376 §8
// defaults (2 × 125 s + 10 s / 2). After that the upstream querier has
// probably stopped hearing from us, or its queries are dropped on the way
// in, and the upstream memberships expire: the stream dies every few minutes.
const upstreamQuerySilence = 255 * time.Second

// linksChanged folds a change into our copy of the kernel's links and
// reconciles everything against it.
func (d *Daemon) linksChanged(ch linkwatch.Change) {
	for _, l := range ch.Removed {
		delete(d.links, l.Name)
	}
	for _, l := range ch.Added {
		d.links[l.Name] = l
	}
	for _, c := range ch.Changed {
		delete(d.links, c.Old.Name)
		d.links[c.New.Name] = c.New
	}
	d.reconcile(time.Now())
}

// reconcile brings every instance in line with the configuration and the
// kernel's links.
func (d *Daemon) reconcile(now time.Time) {
	for _, in := range d.insts {
		d.reconcileInstance(in, now)
	}
}

// reconcileInstance chooses the instance's upstream and brings its planes
// and upstream subscription in line with its configuration and the
// kernel's links. It is the one function that sets the kernel edge's
// copies of the active upstream: the joiner's interface and, through
// reconcilePlane, each brain's upstream Link and VIF.
func (d *Daemon) reconcileInstance(in *instance, now time.Time) {
	d.selectUpstream(in, now)
	// The host stack subscription moves before the forwarding entries, so
	// the new upstream starts sending as early as possible.
	d.reconcileJoiner(in)
	for _, p := range in.planes {
		d.reconcilePlane(p, now)
	}
}

// selectUpstream sets in.up, the instance's active upstream, from the
// configuration and the kernel's links, and logs when the choice changes.
func (d *Daemon) selectUpstream(in *instance, now time.Time) {
	log := d.log
	if in.cfg.Name != "" {
		log = log.With("proxy", in.cfg.Name)
	}
	cfg, link := d.chooseUpstream(in)
	name := ""
	if cfg != nil {
		name = cfg.Name
	}
	if name == "" {
		var names []string
		for _, u := range in.cfg.Upstreams() {
			names = append(names, u.Name)
		}
		if !d.warned[in.warnKey("no upstream")] {
			d.warned[in.warnKey("no upstream")] = true
			log.Warn("no upstream interface exists yet; waiting for it", "candidates", names)
		}
	} else {
		delete(d.warned, in.warnKey("no upstream"))
	}
	changed := name != in.up.name
	if changed {
		switch {
		case in.up.name == "":
			log.Info("upstream selected", "interface", name)
		case name == "":
			log.Warn("no upstream interface available", "was", in.up.name)
		default:
			log.Warn("upstream switched", "from", in.up.name, "to", name)
		}
		in.up.name, in.up.since = name, now
	}
	in.up.cfg, in.up.link = cfg, link
	if changed {
		in.checkAt = now.Add(upstreamQuerySilence)
		delete(d.warned, in.warnKey("upstream silent"))
		d.checkReversePath(in)
	}
}

// chooseUpstream picks the instance's active upstream (RFC 4605 has
// exactly one): the best by priority that is up and has an address or
// accepted sources; if none is usable, the current one while it exists (it
// may come back up); else the best that exists at all. It returns the
// upstream's configuration and link, nil if none exists.
func (d *Daemon) chooseUpstream(in *instance) (*config.Interface, linkwatch.Link) {
	ups := in.cfg.Upstreams()
	for _, u := range ups {
		if l, ok := d.links[u.Name]; ok && l.Up && (hasRoutableAddr(l) || len(u.Sources) > 0) {
			return u, l
		}
	}
	for _, u := range ups {
		if u.Name == in.up.name {
			if l, ok := d.links[u.Name]; ok {
				return u, l
			}
		}
	}
	for _, u := range ups {
		if l, ok := d.links[u.Name]; ok {
			return u, l
		}
	}
	return nil, linkwatch.Link{}
}

func hasRoutableAddr(l linkwatch.Link) bool {
	for _, pf := range l.Addrs {
		if !pf.Addr().IsLinkLocalUnicast() {
			return true
		}
	}
	return false
}

// reconcileJoiner keeps the instance's upstream subscription on its active
// upstream's current interface index: created when an upstream appears
// (replaying what the brains want), moved on failover or when the link was
// recreated.
func (d *Daemon) reconcileJoiner(in *instance) {
	if in.up.cfg == nil {
		if in.sub != nil {
			d.check(in.sub.Close(), "leave upstream groups")
			in.sub = nil
		}
		return
	}
	if in.sub != nil {
		if in.sub.Ifindex() != in.up.link.Index {
			d.check(in.sub.SetInterface(in.up.link.Index), "move upstream subscription", "interface", in.up.name)
		}
		return
	}
	j, err := d.newJoiner(in.up.link.Index)
	if err != nil {
		d.check(err, "upstream subscription", "interface", in.up.name)
		return
	}
	in.sub = j
	for _, p := range in.planes {
		for _, s := range p.brain.SubscriptionList() {
			d.subscribe(in, s)
		}
	}
}

// operationalChecks warns about conditions that silently break streams.
func (d *Daemon) operationalChecks(in *instance, now time.Time) {
	in.checkAt = now.Add(upstreamQuerySilence)
	if in.up.name == "" {
		return
	}
	var heard time.Time
	for _, p := range in.planes {
		if t := p.brain.UpstreamQueryHeard(); t.After(heard) {
			heard = t
		}
	}
	// Count from the later of the last query and the moment this upstream
	// went into service: a new upstream gets a full interval.
	since := heard
	if since.Before(in.up.since) {
		since = in.up.since
	}
	if now.Sub(since) >= upstreamQuerySilence {
		d.warnOnce(in.warnKey("upstream silent"), "no IGMP/MLD query heard on the upstream for a long time: a firewall probably drops them, and the upstream router will let our memberships expire (streams stop every few minutes); accept IGMP and MLD on the upstream in the input chain",
			"interface", in.up.name, "silent-for", now.Sub(since).Round(time.Second))
	} else {
		delete(d.warned, in.warnKey("upstream silent"))
	}
}

// checkReversePath warns when strict reverse-path filtering on the upstream
// will drop multicast from configured source prefixes that the routing
// table does not send back through the upstream (RFC 3704 §2.2 strict mode:
// the kernel drops a packet whose source is not routed out of the
// interface it arrived on).
func (d *Daemon) checkReversePath(in *instance) {
	up, l := in.up.cfg, in.up.link
	if up == nil || len(up.Sources) == 0 {
		return
	}
	all := sysctl.Int("net/ipv4/conf/all/rp_filter", 0)
	own := sysctl.Int("net/ipv4/conf/"+up.Name+"/rp_filter", 0)
	if max(all, own) != 1 {
		return
	}
	for _, pf := range up.Sources {
		if !pf.Addr().Is4() {
			continue
		}
		oif, err := linkwatch.RouteIfindex(pf.Addr())
		if err == nil && oif == l.Index {
			continue
		}
		d.warnOnce("rp_filter "+up.Name+pf.String(), "strict reverse-path filtering (rp_filter 1) on the upstream drops multicast from this source prefix, which is not routed back through the upstream; set net.ipv4.conf."+up.Name+".rp_filter=2 (loose) or route the prefix via the upstream",
			"interface", up.Name, "source", pf)
	}
}
