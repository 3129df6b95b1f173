package membership

import (
	"encoding/binary"
	"net/netip"
)

// GroupKey is a multicast group address as a map key: 16 bytes, an IPv4
// group as its IPv4-mapped IPv6 form, where a netip.Addr takes 24 on a
// 64-bit machine for a zone no group has. The maps of a router's groups, of
// the proxy's and of the upstream subscription's each hold a slot per
// group, so a thousand groups save a quarter of each.
type GroupKey struct{ hi, lo uint64 }

// KeyOf returns the key of the group g.
func KeyOf(g netip.Addr) GroupKey {
	b := g.As16()
	return GroupKey{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

// Addr returns the group. It is exact for multicast addresses: no IPv6
// multicast group is an IPv4-mapped address.
func (k GroupKey) Addr() netip.Addr {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], k.hi)
	binary.BigEndian.PutUint64(b[8:], k.lo)
	return netip.AddrFrom16(b).Unmap()
}

// Less orders keys as netip.Addr.Compare orders IPv6 addresses; IPv4
// groups come before IPv6 ones, as with Compare.
func (k GroupKey) Less(o GroupKey) bool { return k.hi < o.hi || k.hi == o.hi && k.lo < o.lo }

// isGroup reports whether g can be a group of a router: a multicast address
// that is not IPv4-mapped IPv6 (netip calls ::ffff:239.1.1.1 multicast; no
// wire carries it, and its key is that of 239.1.1.1).
func isGroup(g netip.Addr) bool {
	return g.IsValid() && g.IsMulticast() && !g.Is4In6()
}
