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
