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
// upstream subscription, by the rules of RFC 4605 §4.1, which are those of
// RFC 3376 §3.2 for merging socket states on one interface (membership.Merge):
//   - if any downstream is in EXCLUDE mode, the result is EXCLUDE with the
//     intersection of the EXCLUDE-mode source lists, minus every source that
//     some downstream still wants;
//   - otherwise it is INCLUDE with the union of the INCLUDE lists.
//
// A downstream in EXCLUDE mode that has re-requested some excluded sources
// (RFC 3376 §6.2.1, sources with running timers) wants those sources, so it
// counts as an EXCLUDE state of the sources it does not forward and an
// INCLUDE state of those it does.
func Merge(states []membership.GroupState) Subscription {
	// A few downstreams fit the buffer, which then stays on the stack:
	// this runs on every report that changes a group.
	var buf [8]membership.SourceFilter
	fs := buf[:0]
	for _, st := range states {
		if st.Mode == membership.Exclude {
			fs = append(fs, membership.SourceFilter{Mode: membership.Exclude, Sources: st.Exclude})
		}
		if len(st.Include) > 0 {
			fs = append(fs, membership.SourceFilter{Mode: membership.Include, Sources: st.Include})
		}
	}
	f := membership.Merge(fs)
	return Subscription{Mode: f.Mode, Sources: f.Sources}
}
