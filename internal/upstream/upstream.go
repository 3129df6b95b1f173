// Package upstream subscribes the proxy's merged downstream membership on the
// upstream interface through the kernel's own host stack (RFC 4605 section 4.1).
// The kernel then answers the upstream querier in whatever IGMP or MLD version
// that querier speaks, and builds the state-change records itself.
//
// A Joiner applies a full state per group: a filter mode and a source list.
// Linux caps memberships and source filters per socket, so a Joiner spreads
// groups and sources over as many sockets as needed and lets the kernel merge
// them per interface (RFC 3376 section 3.2, RFC 3810 section 4.2).
//
// A Joiner is not safe for concurrent use and has no locks: the daemon calls
// it only from its single event-loop goroutine.
package upstream

import (
	"errors"
	"net/netip"
	"slices"

	"github.com/mcast-proxy/mcast-proxy/internal/format"
	"github.com/mcast-proxy/mcast-proxy/internal/membership"
	"github.com/mcast-proxy/mcast-proxy/internal/scope"
)

// Mode is a filter mode (RFC 3376 section 3.1): the membership package's,
// so the brain's wishes pass to the kernel without a translation.
type Mode = membership.FilterMode

// Filter modes.
const (
	Include = membership.Include
	Exclude = membership.Exclude
)

// Filter is the full membership state of one group. Include with no sources
// means not subscribed; Exclude with no sources means any source.
type Filter struct {
	Mode    Mode
	Sources []netip.Addr
}

// Equal reports whether f and g have the same mode and the same set of
// sources, ignoring order.
func (f Filter) Equal(g Filter) bool {
	if f.Mode != g.Mode || len(f.Sources) != len(g.Sources) {
		return false
	}
	a, b := sortedCopy(f.Sources), sortedCopy(g.Sources)
	return slices.Equal(a, b)
}

func (f Filter) empty() bool { return f.Mode == Include && len(f.Sources) == 0 }

var errInvalid = errors.New("invalid address")

// checkGroup rejects groups that must never be subscribed upstream: those
// that stay on their link (scope.LinkLocal; RFC 4605 section 2.1 defers to
// RFC 3376 section 5 for which groups are never reported).
func checkGroup(g netip.Addr) error {
	switch {
	case g.Zone() != "":
		return format.Errorf("upstream: group %s has a zone: %w", g, errInvalid)
	case !g.IsMulticast():
		return format.Errorf("upstream: group %s is not multicast: %w", g, errInvalid)
	case g.Is4() && scope.LinkLocal(g):
		return format.Errorf("upstream: group %s is link-local: %w", g, errInvalid)
	case g.Is6() && scope.LinkLocal(g):
		return format.Errorf("upstream: group %s has scope %d, below site scope: %w", g, scope.Of(g), errInvalid)
	}
	return nil
}

// normalize validates f against group g and returns a sorted, deduplicated
// copy that does not alias the caller's slice.
func normalize(g netip.Addr, f Filter) (Filter, error) {
	if f.Mode != Include && f.Mode != Exclude {
		return Filter{}, format.Errorf("upstream: group %s: unknown filter %s", g, f.Mode)
	}
	out := Filter{Mode: f.Mode}
	if len(f.Sources) == 0 {
		return out, nil
	}
	out.Sources = make([]netip.Addr, 0, len(f.Sources))
	for _, s := range f.Sources {
		s = s.Unmap()
		switch {
		case s.Is4() != g.Is4() || !s.IsValid():
			return Filter{}, format.Errorf("upstream: group %s: source %s of another family: %w", g, s, errInvalid)
		case s.Zone() != "", s.IsMulticast(), s.IsUnspecified():
			return Filter{}, format.Errorf("upstream: group %s: source %s is not a unicast address: %w", g, s, errInvalid)
		}
		out.Sources = append(out.Sources, s)
	}
	slices.SortFunc(out.Sources, netip.Addr.Compare)
	out.Sources = slices.Compact(out.Sources)
	return out, nil
}

func sortedCopy(a []netip.Addr) []netip.Addr {
	c := slices.Clone(a)
	slices.SortFunc(c, netip.Addr.Compare)
	return c
}

// merge computes the interface-level state the kernel derives from the
// per-socket memberships of one group (membership.Merge).
func merge(ms []member) Filter {
	fs := make([]membership.SourceFilter, len(ms))
	for i, m := range ms {
		fs[i] = membership.SourceFilter{Mode: m.mode, Sources: m.sources}
	}
	f := membership.Merge(fs)
	return Filter{Mode: f.Mode, Sources: f.Sources}
}
