package membership

import (
	"net/netip"
	"slices"
)

// SourceFilter is a filter mode and a source list (RFC 3376 §3.1): one
// socket's, one host's or one downstream's state of a group, or their merge.
// INCLUDE with no sources asks for nothing; EXCLUDE with none, for every
// source.
type SourceFilter struct {
	Mode    FilterMode
	Sources []netip.Addr
}

// Merge folds the states of one group into a single state by the rules of
// RFC 3376 §3.2 (RFC 3810 §4.2 for MLD): EXCLUDE if any state excludes, with
// the intersection of the EXCLUDE lists minus every source some INCLUDE
// state lists; otherwise INCLUDE with the union of the INCLUDE lists. The
// kernel merges the sockets on one interface so, and a proxy merges its
// downstreams the same way (RFC 4605 §4.1). The result is sorted and
// deduplicated and does not alias the input.
func Merge(fs []SourceFilter) SourceFilter {
	incl := map[netip.Addr]bool{}
	excl := map[netip.Addr]bool{}
	anyExcl := false
	for _, f := range fs {
		switch {
		case f.Mode != Exclude:
			for _, s := range f.Sources {
				incl[s] = true
			}
		case !anyExcl:
			anyExcl = true
			for _, s := range f.Sources {
				excl[s] = true
			}
		default:
			for s := range excl {
				if !slices.Contains(f.Sources, s) {
					delete(excl, s)
				}
			}
		}
	}
	var out SourceFilter
	if anyExcl {
		out.Mode = Exclude
		for s := range excl {
			if !incl[s] {
				out.Sources = append(out.Sources, s)
			}
		}
	} else {
		for s := range incl {
			out.Sources = append(out.Sources, s)
		}
	}
	slices.SortFunc(out.Sources, netip.Addr.Compare)
	return out
}
