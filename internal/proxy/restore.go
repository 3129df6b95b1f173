package proxy

import (
	"net/netip"
	"slices"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/membership"
)

// FlowInput is one forwarding entry and the interface its traffic comes in
// on, as a snapshot of the daemon keeps it across a restart.
type FlowInput struct {
	Flow
	Input int
}

// FlowInputs lists the known flows with their inputs, in no particular
// order.
func (p *Proxy) FlowInputs() []FlowInput {
	out := make([]FlowInput, 0, p.nflow)
	for k, g := range p.groups {
		grp := k.Addr()
		for _, f := range g.flows {
			out = append(out, FlowInput{Flow: Flow{Source: f.source, Group: grp}, Input: f.input})
		}
	}
	return out
}

// Save returns the group records of a downstream link with the time their
// timers have left after now; nil for a link that is not a downstream.
func (p *Proxy) Save(now time.Time, ifindex int) []membership.Saved {
	d, ok := p.downs[ifindex]
	if !ok {
		return nil
	}
	return d.router.Save(now)
}

// Restore brings back a downstream link's group records saved age ago by
// a daemon that was restarted (membership.Router.Restore), and returns the
// upstream subscriptions and forwarding changes that follow, at once. The
// rules reports go through apply to them too: groups that are never
// proxied, any-source joins of source-specific groups and what the link's
// access list denies now are left out. Flows are brought back through
// SourceActive, as the kernel would report them.
func (p *Proxy) Restore(now time.Time, ifindex int, age time.Duration, recs []membership.Saved) []Action {
	d, ok := p.downs[ifindex]
	if !ok {
		return nil
	}
	kept := make([]membership.Saved, 0, len(recs))
	for _, r := range recs {
		if !Proxied(r.Group) {
			continue
		}
		if r.Mode == membership.Exclude && (SourceSpecific(r.Group) || !permits(d.cfg.ACL, r.Group, netip.Addr{})) {
			// RFC 4604 §2.2.1 and the access list: only the sources
			// asked for one by one may stay, as INCLUDE.
			r.Mode, r.Timer = membership.Include, 0
			r.Sources = slices.DeleteFunc(slices.Clone(r.Sources), func(s membership.SavedSource) bool { return s.Timer == 0 })
		}
		if d.cfg.ACL != nil {
			r.Sources = slices.DeleteFunc(slices.Clone(r.Sources), func(s membership.SavedSource) bool {
				return s.Timer > 0 && !d.cfg.ACL.Permits(r.Group, s.Addr)
			})
		}
		kept = append(kept, r)
	}
	return p.apply(d, d.router.Restore(now, age, kept), nil)
}
