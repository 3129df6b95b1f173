package daemon

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync/atomic"

	"github.com/mcast-proxy/mcast-proxy/internal/config"
	"github.com/mcast-proxy/mcast-proxy/internal/membership"
	"github.com/mcast-proxy/mcast-proxy/internal/proxy"
)

// family is what differs between IPv4 (IGMP) and IPv6 (MLD): data and a few
// functions, never a second copy of the proxy.
type family struct {
	name        string
	open        func(table uint32) (mrouter, error)
	enabled     func(c *config.Config) bool
	ifEnabled   func(i *config.Interface) bool
	version     func(i *config.Interface) int // membership version scale (1..3)
	is          func(a netip.Addr) bool
	decode      func(info packetInfo, payload []byte) (message, int, bool)
	encodeQuery func(q membership.SendQuery) ([]byte, netip.Addr, error)
	// querierAddr picks our address for the querier election from the
	// link's addresses of this family (IGMP: any address of the link;
	// MLD: the link-local one, RFC 3810 §7.6.2).
	querierAddr func(addrs []netip.Addr) netip.Addr
}

// plane is one address family's routing socket, brain and links.
type plane struct {
	fam   *family
	log   *slog.Logger
	mr    mrouter
	brain *proxy.Proxy

	links map[int]string // ifindex -> name of the links in service
	own   map[netip.Addr]bool

	received  uint64
	upcalls   uint64
	drops     [numDrops]uint64        // owned by the loop
	readDrops [numDrops]atomic.Uint64 // counted by the reader goroutine
}

func newPlane(fam *family, mr mrouter, log *slog.Logger) *plane {
	return &plane{fam: fam, log: log, mr: mr, links: map[int]string{}, own: map[netip.Addr]bool{}}
}

func (p *plane) drop(reason int) { p.drops[reason]++ }

// setup resolves the configured interfaces of this family and gives each a
// VIF (or MIF).
func (p *plane) setup(cfg *config.Config) (proxy.Config, error) {
	var pc proxy.Config
	up := cfg.Upstream()
	upLink, err := p.link(up.Name)
	if err != nil {
		return pc, fmt.Errorf("%s: upstream interface %s: %w", p.fam.name, up.Name, err)
	}
	if _, err := p.mr.AddVIF(upLink.Ifindex, up.Threshold); err != nil {
		return pc, fmt.Errorf("%s: upstream interface %s: %w", p.fam.name, up.Name, err)
	}
	if len(upLink.Subnets) == 0 && !hasFamily(up.Sources, p.fam.is) {
		p.log.Warn("upstream interface has no address of this family and no source prefixes are configured: no upstream traffic will be accepted", "interface", up.Name)
	}
	p.links[upLink.Ifindex] = up.Name
	pc.Upstream = upLink
	for _, pf := range up.Sources {
		if p.fam.is(pf.Addr()) {
			pc.UpstreamSources = append(pc.UpstreamSources, pf)
		}
	}
	for _, ds := range cfg.Downstreams() {
		if !p.fam.ifEnabled(ds) {
			continue
		}
		l, err := p.link(ds.Name)
		if err == nil {
			_, err = p.mr.AddVIF(l.Ifindex, ds.Threshold)
		}
		if err != nil {
			p.log.Error("downstream interface not in service", "interface", ds.Name, "err", err)
			continue
		}
		if err := p.mr.JoinRouterGroups(l.Ifindex); err != nil {
			p.log.Error("cannot listen for reports", "interface", ds.Name, "err", err)
		}
		p.links[l.Ifindex] = ds.Name
		pc.Downstreams = append(pc.Downstreams, proxy.Downstream{Link: l, Membership: membership.Config{
			Robustness:              ds.Robustness,
			QueryInterval:           ds.QueryInterval,
			QueryResponseInterval:   ds.QueryResponseInterval,
			StartupQueryInterval:    ds.StartupQueryInterval,
			StartupQueryCount:       ds.StartupQueryCount,
			LastMemberQueryInterval: ds.LastMemberQueryInterval,
			LastMemberQueryCount:    ds.LastMemberQueryCount,
			Version:                 p.fam.version(ds),
		}})
		p.log.Info("downstream in service", "interface", ds.Name, "ifindex", l.Ifindex, "address", l.Addr, "version", p.fam.version(ds))
	}
	if len(pc.Downstreams) == 0 {
		return pc, fmt.Errorf("%s: no downstream interface could be put in service", p.fam.name)
	}
	p.log.Info("upstream in service", "interface", up.Name, "ifindex", upLink.Ifindex, "address", upLink.Addr)
	return pc, nil
}

func hasFamily(ps []netip.Prefix, is func(netip.Addr) bool) bool {
	for _, pf := range ps {
		if is(pf.Addr()) {
			return true
		}
	}
	return false
}

// link looks up an interface and its addresses of this family.
func (p *plane) link(name string) (proxy.Link, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return proxy.Link{}, err
	}
	l := proxy.Link{Ifindex: ifi.Index, Name: name}
	addrs, err := ifi.Addrs()
	if err != nil {
		return l, err
	}
	var mine []netip.Addr
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(ipn.IP)
		if !ok {
			continue
		}
		ip = ip.Unmap()
		if !p.fam.is(ip) {
			continue
		}
		ones, _ := ipn.Mask.Size()
		if !ip.IsLinkLocalUnicast() {
			l.Subnets = append(l.Subnets, netip.PrefixFrom(ip, ones).Masked())
		}
		p.own[ip] = true
		mine = append(mine, ip)
	}
	l.Addr = p.fam.querierAddr(mine)
	return l, nil
}

func (p *plane) names(ifindexes []int) []string {
	n := make([]string, len(ifindexes))
	for i, x := range ifindexes {
		n[i] = p.links[x]
	}
	return n
}

func (p *plane) logStats() {
	var dropped []any
	for i := range p.drops {
		if n := p.drops[i] + p.readDrops[i].Load(); n > 0 {
			dropped = append(dropped, dropNames[i], n)
		}
	}
	st := p.brain.Stats()
	p.log.Info("stopped", "received", p.received, "upcalls", p.upcalls, "routes-set", st.RoutesSet, "routes-deleted", st.RoutesDeleted,
		"source-not-accepted", st.SourceNotAccepted, slog.Group("dropped", dropped...))
}
