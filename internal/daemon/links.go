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

// reconcile chooses the upstream and brings every plane and the upstream
// subscription in line with the configuration and the kernel's links.
func (d *Daemon) reconcile(now time.Time) {
	name := d.chooseUpstream()
	if name == "" {
		var names []string
		for _, u := range d.cfg.Upstreams() {
			names = append(names, u.Name)
		}
		d.warnOnce("no upstream", "no upstream interface exists yet; waiting for it", "candidates", names)
	} else {
		delete(d.warned, "no upstream")
	}
	if name != d.upName {
		switch {
		case d.upName == "":
			d.log.Info("upstream selected", "interface", name)
		case name == "":
			d.log.Warn("no upstream interface available", "was", d.upName)
		default:
			d.log.Warn("upstream switched", "from", d.upName, "to", name)
		}
		d.upName, d.upSince = name, now
		d.checkAt = now.Add(upstreamQuerySilence)
		delete(d.warned, "upstream silent")
		d.checkReversePath()
	}
	// The host stack subscription moves before the forwarding entries, so
	// the new upstream starts sending as early as possible.
	d.reconcileJoiner()
	for _, p := range d.planes {
		d.reconcilePlane(p, now)
	}
}

// upstreamConfig is the configuration of the active upstream, nil if none.
func (d *Daemon) upstreamConfig() *config.Interface {
	for _, u := range d.cfg.Upstreams() {
		if u.Name == d.upName {
			return u
		}
	}
	return nil
}

// chooseUpstream picks the active upstream (RFC 4605 has exactly one): the
// best by priority that is up and has an address or accepted sources; if
// none is usable, the current one while it exists (it may come back up);
// else the best that exists at all.
func (d *Daemon) chooseUpstream() string {
	ups := d.cfg.Upstreams()
	for _, u := range ups {
		if l, ok := d.links[u.Name]; ok && l.Up && (hasRoutableAddr(l) || len(u.Sources) > 0) {
			return u.Name
		}
	}
	for _, u := range ups {
		if u.Name == d.upName {
			if _, ok := d.links[u.Name]; ok {
				return u.Name
			}
		}
	}
	for _, u := range ups {
		if _, ok := d.links[u.Name]; ok {
			return u.Name
		}
	}
	return ""
}

func hasRoutableAddr(l linkwatch.Link) bool {
	for _, pf := range l.Addrs {
		if !pf.Addr().IsLinkLocalUnicast() {
			return true
		}
	}
	return false
}

// reconcileJoiner keeps the upstream subscription on the active upstream's
// current interface index: created when an upstream appears (replaying what
// the brains want), moved on failover or when the link was recreated.
func (d *Daemon) reconcileJoiner() {
	l, ok := d.links[d.upName]
	if d.upName == "" || !ok {
		if d.sub != nil {
			d.check(d.sub.Close(), "leave upstream groups")
			d.sub = nil
		}
		return
	}
	if d.sub != nil {
		if d.sub.Ifindex() != l.Index {
			d.check(d.sub.SetInterface(l.Index), "move upstream subscription", "interface", d.upName)
		}
		return
	}
	j, err := d.newJoiner(l.Index)
	if err != nil {
		d.check(err, "upstream subscription", "interface", d.upName)
		return
	}
	d.sub = j
	for _, p := range d.planes {
		for _, s := range p.brain.SubscriptionList() {
			d.subscribe(s)
		}
	}
}

// operationalChecks warns about conditions that silently break streams.
func (d *Daemon) operationalChecks(now time.Time) {
	d.checkAt = now.Add(upstreamQuerySilence)
	if d.upName == "" {
		return
	}
	var heard time.Time
	for _, p := range d.planes {
		if t := p.brain.UpstreamQueryHeard(); t.After(heard) {
			heard = t
		}
	}
	// Count from the later of the last query and the moment this upstream
	// went into service: a new upstream gets a full interval.
	since := heard
	if since.Before(d.upSince) {
		since = d.upSince
	}
	if now.Sub(since) >= upstreamQuerySilence {
		d.warnOnce("upstream silent", "no IGMP/MLD query heard on the upstream for a long time: a firewall probably drops them, and the upstream router will let our memberships expire (streams stop every few minutes); accept IGMP and MLD on the upstream in the input chain",
			"interface", d.upName, "silent-for", now.Sub(since).Round(time.Second))
	} else {
		delete(d.warned, "upstream silent")
	}
}

// checkReversePath warns when strict reverse-path filtering on the upstream
// will drop multicast from configured source prefixes that the routing
// table does not send back through the upstream (RFC 3704 §2.2 strict mode:
// the kernel drops a packet whose source is not routed out of the
// interface it arrived on).
func (d *Daemon) checkReversePath() {
	up := d.upstreamConfig()
	l, ok := d.links[d.upName]
	if up == nil || !ok || len(up.Sources) == 0 {
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
