package proxy

import (
	"net/netip"
	"slices"

	"github.com/mcast-proxy/mcast-proxy/internal/membership"
)

// Subscription is what the proxy asks for on its upstream interface for one
// group: a filter mode and a source list, as a host would (RFC 4605 §4.1).
// INCLUDE with no sources means "not subscribed".
type Subscription struct {
	Mode    membership.FilterMode
	Sources []netip.Addr // sorted
}

// Subscribed reports whether the subscription asks for any traffic at all.
func (s Subscription) Subscribed() bool {
	return s.Mode == membership.Exclude || len(s.Sources) > 0
}

// Equal reports whether two subscriptions ask for the same traffic.
func (s Subscription) Equal(o Subscription) bool {
	return s.Mode == o.Mode && slices.Equal(s.Sources, o.Sources)
}

// Merge folds the membership of one group on every downstream into the single
// upstream subscription, by the rules of RFC 4605 §4.1 (the same rules as
// RFC 3376 §3.2 for merging socket states on one interface):
//   - if any downstream is in EXCLUDE mode, the result is EXCLUDE with the
//     intersection of the EXCLUDE-mode source lists, minus every source that
//     some downstream still wants;
//   - otherwise it is INCLUDE with the union of the INCLUDE lists.
//
// A downstream in EXCLUDE mode that has re-requested some excluded sources
// (RFC 3376 §6.2.1, sources with running timers) wants those sources, so its
// effective EXCLUDE list is only the sources it does not forward.
func Merge(states []membership.GroupState) Subscription {
	var exclude []netip.Addr // intersection of EXCLUDE lists; nil until the first one
	anyExclude := false
	wanted := map[netip.Addr]bool{}
	for _, st := range states {
		for _, s := range st.Include {
			wanted[s] = true
		}
		if st.Mode != membership.Exclude {
			continue
		}
		if !anyExclude {
			exclude = slices.Clone(st.Exclude)
			anyExclude = true
			continue
		}
		exclude = slices.DeleteFunc(exclude, func(a netip.Addr) bool {
			return !slices.Contains(st.Exclude, a)
		})
	}
	if anyExclude {
		exclude = slices.DeleteFunc(exclude, func(a netip.Addr) bool { return wanted[a] })
		slices.SortFunc(exclude, netip.Addr.Compare)
		return Subscription{Mode: membership.Exclude, Sources: exclude}
	}
	sources := make([]netip.Addr, 0, len(wanted))
	for s := range wanted {
		sources = append(sources, s)
	}
	slices.SortFunc(sources, netip.Addr.Compare)
	return Subscription{Mode: membership.Include, Sources: sources}
}
