package config

import "net/netip"

// Rule is one line of an access list: it matches a group in Group and, when
// Source is valid, a sender in Source.
type Rule struct {
	Allow bool
	Group netip.Prefix
	// Source is the zero Prefix for a rule that matches any source,
	// including the any-source join of a group.
	Source netip.Prefix
	// Pos is where the rule's statement is.
	Pos Pos
}

// String writes the rule as the configuration file spells it.
func (r Rule) String() string {
	s := "deny"
	if r.Allow {
		s = "allow"
	}
	s += " group " + r.Group.String()
	if r.Source.IsValid() {
		s += " source " + r.Source.String()
	}
	return s
}

// sameAs compares two rules, positions aside.
func (r Rule) sameAs(o Rule) bool {
	return r.Allow == o.Allow && r.Group == o.Group && r.Source == o.Source
}

// covers reports whether r matches everything o matches, so that o never
// decides anything when r comes first.
func (r Rule) covers(o Rule) bool {
	if !contains(r.Group, o.Group) {
		return false
	}
	// A rule without a source matches every question about its groups; one
	// with a source only questions about sources, never the any-source join.
	return !r.Source.IsValid() || (o.Source.IsValid() && contains(r.Source, o.Source))
}

// contains reports whether prefix p holds all of prefix q.
func contains(p, q netip.Prefix) bool {
	return p.Bits() <= q.Bits() && p.Contains(q.Addr())
}

// ACL is an access list: its rules are tried in order and the first that
// matches decides.
type ACL []Rule

// equal reports whether the lists hold the same rules, positions aside.
func (acl ACL) equal(other ACL) bool {
	if len(acl) != len(other) {
		return false
	}
	for i, r := range acl {
		o := other[i]
		if r.Allow != o.Allow || r.Group != o.Group || r.Source != o.Source {
			return false
		}
	}
	return true
}

// Permits reports whether the list lets traffic of group from source
// through. The first matching rule decides; when none matches, the answer
// is yes.
//
// An invalid source asks about the any-source join of group (an IGMPv2 or
// MLDv1 report, or an EXCLUDE record). Rules with a source prefix never
// match that question: a deny rule with a source does not refuse the
// any-source join, and an allow rule with a source does not grant it; the
// rules after them decide. IPv4-mapped IPv6 addresses are treated as IPv4.
func (acl ACL) Permits(group, source netip.Addr) bool {
	group, source = group.Unmap(), source.Unmap()
	for _, r := range acl {
		if !r.Group.Contains(group) {
			continue
		}
		// Contains is false for an invalid source: the any-source join.
		if r.Source.IsValid() && !r.Source.Contains(source) {
			continue
		}
		return r.Allow
	}
	return true
}

// shadowIndex finds, for a new rule, the first earlier rule that covers it
// without comparing it to every earlier rule: a coverer's group prefix
// contains the new rule's, so only the group prefixes along the new one's
// path (one per prefix length in use) are looked up, and within each, only
// the source prefixes along the new source's path. Comparing every pair
// took 15 s for 100,000 rules.
type shadowIndex struct {
	byGroup    map[netip.Prefix]*shadowGroup
	groupBits  map[int]bool // group prefix lengths in use
	sourceBits map[int]bool // source prefix lengths in use
}

// shadowGroup holds, for one group prefix, the position of the first rule
// without a source and of the first rule for each source prefix.
type shadowGroup struct {
	anySource int // -1 if none
	bySource  map[netip.Prefix]int
}

func newShadowIndex() *shadowIndex {
	return &shadowIndex{byGroup: map[netip.Prefix]*shadowGroup{}, groupBits: map[int]bool{}, sourceBits: map[int]bool{}}
}

// add records rule r at position i of the list.
func (x *shadowIndex) add(r Rule, i int) {
	g := x.byGroup[r.Group.Masked()]
	if g == nil {
		g = &shadowGroup{anySource: -1, bySource: map[netip.Prefix]int{}}
		x.byGroup[r.Group.Masked()] = g
	}
	x.groupBits[r.Group.Bits()] = true
	if !r.Source.IsValid() {
		if g.anySource < 0 {
			g.anySource = i
		}
		return
	}
	x.sourceBits[r.Source.Bits()] = true
	if _, ok := g.bySource[r.Source.Masked()]; !ok {
		g.bySource[r.Source.Masked()] = i
	}
}

// coverer returns the position in acl of the first rule that covers r and
// comes from another statement, or -1. It answers as comparing r with every
// rule of acl by Rule.covers would.
func (x *shadowIndex) coverer(acl ACL, r Rule) int {
	best := -1
	consider := func(i int) {
		if acl[i].Pos != r.Pos && (best < 0 || i < best) {
			best = i
		}
	}
	for bits := range x.groupBits {
		if bits > r.Group.Bits() {
			continue
		}
		anc, err := r.Group.Addr().Prefix(bits)
		if err != nil {
			continue
		}
		g := x.byGroup[anc]
		if g == nil {
			continue
		}
		if g.anySource >= 0 {
			consider(g.anySource)
		}
		if !r.Source.IsValid() {
			continue
		}
		for sbits := range x.sourceBits {
			if sbits > r.Source.Bits() {
				continue
			}
			sanc, err := r.Source.Addr().Prefix(sbits)
			if err != nil {
				continue
			}
			if i, ok := g.bySource[sanc]; ok {
				consider(i)
			}
		}
	}
	return best
}
