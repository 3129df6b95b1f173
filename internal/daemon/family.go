package daemon

import (
	"net/netip"

	"github.com/mcast-proxy/mcast-proxy/internal/config"
	"github.com/mcast-proxy/mcast-proxy/internal/mroute"
)

// families lists the address families in the order they are brought up.
var families = []*family{ipv4}

var ipv4 = &family{
	name: "ipv4",
	open: func(table uint32) (mrouter, error) {
		s, err := mroute.Open(table)
		if err != nil {
			return nil, err
		}
		return igmpSocket{s}, nil
	},
	enabled:     func(c *config.Config) bool { return c.IPv4 && c.Upstream() != nil && c.Upstream().IPv4 },
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

// igmpSocket names the IPv4 routing socket's send call for the daemon.
type igmpSocket struct{ *mroute.Socket }

func (s igmpSocket) Send(ifindex int, src, dst netip.Addr, payload []byte) error {
	return s.SendIGMP(ifindex, src, dst, payload)
}
