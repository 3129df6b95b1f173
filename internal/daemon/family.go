package daemon

import (
	"net/netip"
	"slices"

	"github.com/mcast-proxy/mcast-proxy/internal/config"
	"github.com/mcast-proxy/mcast-proxy/internal/mroute"
)

// families lists the address families in the order they are brought up.
var families = []*family{ipv4, ipv6}

var ipv4 = &family{
	name: "ipv4",
	open: openRouter(mroute.IPv4),
	enabled: func(c *config.Config) bool {
		return familyInService(c, func(i *config.Interface) bool { return i.IPv4 })
	},
	ifEnabled:   func(i *config.Interface) bool { return i.IPv4 },
	version:     func(i *config.Interface) int { return i.IGMPVersion },
	is:          netip.Addr.Is4,
	decode:      decodeIGMP,
	encodeQuery: encodeIGMPQuery,
	querierAddr: func(addrs []netip.Addr) netip.Addr {
		if len(addrs) == 0 {
			return netip.Addr{}
		}
		// The lowest address wins the election (RFC 3376 §6.6.2); we
		// send from the link's primary address, so we are known by it.
		return addrs[0]
	},
}

var ipv6 = &family{
	name: "ipv6",
	open: openRouter(mroute.IPv6),
	enabled: func(c *config.Config) bool {
		return familyInService(c, func(i *config.Interface) bool { return i.IPv6 })
	},
	ifEnabled:   func(i *config.Interface) bool { return i.IPv6 },
	version:     func(i *config.Interface) int { return mldToMembership(i.MLDVersion) },
	is:          func(a netip.Addr) bool { return a.Is6() && !a.Is4In6() },
	decode:      decodeMLD,
	encodeQuery: encodeMLDQuery,
	querierAddr: func(addrs []netip.Addr) netip.Addr {
		// MLD queriers are elected by link-local address and send from it
		// (RFC 3810 §5.1.14, §7.6.2).
		for _, a := range addrs {
			if a.IsLinkLocalUnicast() {
				return a
			}
		}
		return netip.Addr{}
	},
}

// openRouter opens the kernel's multicast routing socket of fam.
func openRouter(fam mroute.Family) func(table uint32) (mrouter, error) {
	return func(table uint32) (mrouter, error) {
		s, err := mroute.Open(fam, table)
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		return s, nil
	}
}

// familyInService reports whether a family has an upstream and at least one
// downstream to proxy between. Any upstream counts, not only the preferred
// one: a family only a backup upstream carries is proxied while that backup
// is the active upstream (and its plane waits without an upstream while
// another one is).
func familyInService(c *config.Config, on func(*config.Interface) bool) bool {
	if !slices.ContainsFunc(c.Upstreams(), on) {
		return false
	}
	for _, d := range c.Downstreams() {
		if on(d) {
			return true
		}
	}
	return false
}
