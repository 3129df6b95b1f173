// Package scope says how far a multicast group reaches. It is the one home
// of the rule that link-local groups never leave their link, shared by the
// proxy brain (which never proxies them) and the upstream subscription
// (which never joins them). Pure: no sockets, no clock.
package scope

import "net/netip"

// LinkLocal reports whether the multicast group g stays on its link:
// 224.0.0.0/24 (RFC 5771 §4; RFC 3376 §5 never reports it), and IPv6 groups
// of the reserved, interface-local or link-local scope whatever their flags
// (RFC 4291 §2.7, RFC 7346 §2). A provider cuts a customer whose SSDP or
// mDNS reaches it, so the rule has no exceptions.
func LinkLocal(g netip.Addr) bool {
	if g.Is4() {
		b := g.As4()
		return b[0] == 224 && b[1] == 0 && b[2] == 0
	}
	return Of(g) <= 2
}

// Of is the scope field of an IPv6 multicast address (RFC 4291 §2.7): 1
// interface-local, 2 link-local, 5 site-local, 14 global.
func Of(g netip.Addr) int {
	return int(g.As16()[1] & 0x0f)
}
