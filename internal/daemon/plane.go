package daemon

import (
	"net/netip"
	"slices"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/config"
	"github.com/mcast-proxy/mcast-proxy/internal/igmp"
	"github.com/mcast-proxy/mcast-proxy/internal/linkwatch"
	"github.com/mcast-proxy/mcast-proxy/internal/logx"
	"github.com/mcast-proxy/mcast-proxy/internal/membership"
	"github.com/mcast-proxy/mcast-proxy/internal/mld"
	"github.com/mcast-proxy/mcast-proxy/internal/proxy"
	"github.com/mcast-proxy/mcast-proxy/internal/sorted"
)

// decodeMemory is a plane's working memory for decoding: the codecs'
// storage for the message being read and the records it becomes, reused
// from one message to the next, so that a report costs no allocation but
// its source lists. The brain keeps none of it.
type decodeMemory struct {
	igmp    igmp.Decoder
	mld     mld.Decoder
	records []membership.Record
}

// family is what differs between IPv4 (IGMP) and IPv6 (MLD): data and a few
// functions, never a second copy of the proxy.
type family struct {
	name        string
	open        func(table uint32) (mrouter, error)
	enabled     func(c *config.Config) bool
	ifEnabled   func(i *config.Interface) bool
	version     func(i *config.Interface) int // membership version scale (1..3)
	is          func(a netip.Addr) bool
	decode      func(info packetInfo, payload []byte, w *decodeMemory) (message, int, bool) // a report's records go into w.records
	encodeQuery func(q membership.SendQuery) ([]byte, netip.Addr, error)
	// querierAddr picks our address for the querier election from the
	// link's addresses of this family (IGMP: the primary address; MLD: the
	// link-local one, RFC 3810 §7.6.2).
	querierAddr func(addrs []netip.Addr) netip.Addr
}

// inService is one configured interface that the plane has put in service.
type inService struct {
	cfg     config.Interface
	ifindex int
	up      bool
	addr    netip.Addr
	subnets []netip.Prefix
}

// plane is one address family's routing socket, brain and links.
type plane struct {
	fam   *family
	in    *instance // the proxy instance the plane belongs to
	log   *logx.Logger
	mr    mrouter
	brain *proxy.Proxy

	active map[string]*inService // by interface name
	links  map[int]string        // ifindex -> name, for packet attribution
	own    map[netip.Addr]bool   // our addresses: our own packets loop back

	fd          int    // the socket's descriptor in the loop's wait set; -1 for none
	waiting     bool   // its socket may have messages the loop has not read yet
	backlog     bool   // the last batch read stopped with more to read
	readFailing bool   // the last read failed
	closed      bool   // its socket is closed
	lostSeen    uint64 // packets lost, as last told to the brain

	// decoding is the loop's working memory for decoding a message,
	// reused from one message to the next.
	decoding decodeMemory

	received    map[string]uint64 // by message kind
	queriesSent uint64
	upcalls     uint64
	drops       [numDrops]uint64
	kernelDrops uint64 // the kernel's drops on the socket, as last heard
	perLink     map[string]*linkCounters
	readings    routeReadings // the last complete status answer's, for the next one's rates
}

// linkCounters are one interface's message counters, kept across its
// coming and going.
type linkCounters struct {
	reports, queries, queriesSent, dropped uint64

	limitLogged   uint64 // refusals counted when we last logged them
	limitLoggedAt time.Time
	olderLogged   uint64 // older-version queries counted when we last logged them
	olderLoggedAt time.Time
}

func (p *plane) link(name string) *linkCounters {
	c := p.perLink[name]
	if c == nil {
		c = &linkCounters{}
		p.perLink[name] = c
	}
	return c
}

// noteLoss tells the brain when packets were lost since the last look,
// by a failed read or by the kernel (the socket's receive buffer full):
// reports among them were lost, so memberships must not expire on their
// account (proxy.Proxy.ReportsLost).
func (p *plane) noteLoss(now time.Time) {
	n := p.drops[dropReadError] + p.kernelDrops
	if n == p.lostSeen {
		return
	}
	p.lostSeen = n
	p.brain.ReportsLost(now)
}

// noteWaiting tells the brain, while the loop is behind p's socket (its
// last batch stopped with more to read), that reports wait unread: no
// membership expires before they are read (proxy.Proxy.ReportsWaiting).
// Under a flood a member's report can wait seconds behind a full receive
// buffer of the attacker's, longer than the hold that losses bring.
func (p *plane) noteWaiting(now time.Time) {
	if p.backlog {
		p.brain.ReportsWaiting(now, waitingHold)
	}
}

// waitingHold is how long each word of noteWaiting holds expiry. While it
// is behind, the loop says it again before every packet it handles and
// every firing of its timer, so the hold lasts as long as the queue does:
// it only has to outlast the handling of one packet, and it is what expiry
// may be late once the queue is read.
const waitingHold = time.Second

func newPlane(fam *family, mr mrouter, log *logx.Logger) *plane {
	return &plane{
		fam: fam, log: log, mr: mr,
		brain:    proxy.New(proxy.Config{}),
		active:   map[string]*inService{},
		links:    map[int]string{},
		own:      map[netip.Addr]bool{},
		fd:       -1,
		received: map[string]uint64{},
		perLink:  map[string]*linkCounters{},
	}
}

// drop counts a dropped packet that arrived on ifindex.
func (p *plane) drop(ifindex, reason int) {
	p.drops[reason]++
	if name, ok := p.links[ifindex]; ok {
		p.link(name).dropped++
	}
}

// linkFacts is what a snapshot says about one interface, in this family.
func (p *plane) linkFacts(l linkwatch.Link) (addr netip.Addr, subnets []netip.Prefix, all []netip.Addr) {
	for _, pf := range l.Addrs {
		a := pf.Addr().Unmap()
		if !p.fam.is(a) {
			continue
		}
		all = append(all, a)
		if !a.IsLinkLocalUnicast() {
			subnets = append(subnets, pf.Masked())
		}
	}
	return p.fam.querierAddr(all), subnets, all
}

// want is one interface the plane should have in service.
type want struct {
	cfg  config.Interface
	link linkwatch.Link
}

// reconcilePlane brings the plane's links in line with the configuration,
// the kernel's links and the chosen upstream. It is the one place that adds
// and removes VIFs, so start-up, link changes, failover and reloads all take
// the same path.
func (d *Daemon) reconcilePlane(p *plane, now time.Time) {
	wants, order := d.wanted(p)
	d.retire(p, wants, now)
	d.reconcileUpstream(p, wants, order, now)
	d.reconcileDownstreams(p, wants, order, now)

	// Our own addresses, to recognise our packets looping back.
	clear(p.own)
	for name := range p.active {
		if l, ok := d.links[name]; ok {
			_, _, all := p.linkFacts(l)
			for _, a := range all {
				p.own[a] = true
			}
		}
	}
}

// wanted lists the interfaces of this family that should be in service:
// the active upstream and every configured downstream that exists, in
// configuration order.
func (d *Daemon) wanted(p *plane) (map[string]want, []string) {
	wants := map[string]want{}
	var order []string
	if up := p.in.up; up.cfg != nil && p.fam.ifEnabled(up.cfg) {
		wants[up.name] = want{cfg: *up.cfg, link: up.link}
		order = append(order, up.name)
	}
	for _, ds := range p.in.cfg.Downstreams() {
		if !p.fam.ifEnabled(ds) {
			continue
		}
		l, ok := d.links[ds.Name]
		if !ok {
			d.warnOnce("missing "+ds.Name, "interface does not exist yet; it is put in service when it appears", "interface", ds.Name)
			continue
		}
		delete(d.warned, "missing "+ds.Name)
		wants[ds.Name] = want{cfg: *ds, link: l}
		order = append(order, ds.Name)
	}
	return wants, order
}

// retire takes out of service what is no longer wanted, or wanted
// differently enough to need a new VIF: gone, recreated under a new index,
// another role or another TTL threshold.
func (d *Daemon) retire(p *plane, wants map[string]want, now time.Time) {
	for _, name := range sorted.Keys(p.active) {
		st := p.active[name]
		w, ok := wants[name]
		if ok && w.link.Index == st.ifindex && w.cfg.Role == st.cfg.Role && w.cfg.Threshold == st.cfg.Threshold {
			continue
		}
		if st.cfg.Role == config.RoleDownstream {
			d.execute(p, p.brain.RemoveDownstream(now, st.ifindex))
			d.check(p.mr.LeaveRouterGroups(st.ifindex), "leave router groups", "interface", name)
		}
		d.check(p.mr.DelVIF(st.ifindex), "remove vif", "interface", name)
		delete(p.links, st.ifindex)
		delete(p.active, name)
		p.log.Info("interface out of service", "interface", name, "role", st.cfg.Role)
	}
}

// enter gives a wanted interface a VIF and records it as in service.
func (d *Daemon) enter(p *plane, name string, w want) (*inService, bool) {
	if _, err := p.mr.AddVIF(w.link.Index, w.cfg.Threshold); err != nil {
		d.check(err, "add vif", "interface", name)
		return nil, false
	}
	st := &inService{ifindex: w.link.Index}
	p.active[name] = st
	p.links[w.link.Index] = name
	return st, true
}

// reconcileUpstream puts a new upstream in service and tells the brain,
// which re-homes the flows; address, source or access-list changes of the
// same upstream go the same way.
func (d *Daemon) reconcileUpstream(p *plane, wants map[string]want, order []string, now time.Time) {
	var (
		upLink    proxy.Link
		upSources []netip.Prefix
		upACL     proxy.Policy
		changed   bool
	)
	for _, name := range order {
		w := wants[name]
		if w.cfg.Role != config.RoleUpstream {
			continue
		}
		addr, subnets, _ := p.linkFacts(w.link)
		st := p.active[name]
		if st == nil {
			var ok bool
			if st, ok = d.enter(p, name, w); !ok {
				break
			}
			p.log.Info("upstream in service", "interface", name, "ifindex", w.link.Index, "addresses", subnets)
			if len(subnets) == 0 && !hasFamily(w.cfg.Sources, p.fam.is) {
				p.log.Warn("upstream has no address of this family and no source prefixes are configured: no upstream traffic is accepted until it has one", "interface", name)
			}
		}
		changed = changed || !st.cfg.Equal(w.cfg)
		st.cfg, st.up, st.addr, st.subnets = w.cfg, w.link.Up, addr, subnets
		upLink = proxy.Link{Ifindex: w.link.Index, Name: name, Addr: addr, Subnets: subnets}
		upACL = policy(&w.cfg)
		for _, pf := range w.cfg.Sources {
			if p.fam.is(pf.Addr()) {
				upSources = append(upSources, pf)
			}
		}
	}
	if cur := p.brain.Upstream(); changed || cur.Ifindex != upLink.Ifindex || !slices.Equal(cur.Subnets, upLink.Subnets) {
		d.execute(p, p.brain.SetUpstream(now, upLink, upSources, upACL))
	}
}

// reconcileDownstreams puts new downstreams in service and updates known
// ones in place: link state, address (querier election), settings.
func (d *Daemon) reconcileDownstreams(p *plane, wants map[string]want, order []string, now time.Time) {
	for _, name := range order {
		w := wants[name]
		if w.cfg.Role != config.RoleDownstream {
			continue
		}
		addr, subnets, _ := p.linkFacts(w.link)
		st := p.active[name]
		if st == nil {
			var ok bool
			if st, ok = d.enter(p, name, w); !ok {
				continue
			}
			d.check(p.mr.JoinRouterGroups(w.link.Index), "listen for reports", "interface", name)
			st.cfg, st.up, st.addr, st.subnets = w.cfg, w.link.Up, addr, subnets
			d.execute(p, p.brain.AddDownstream(now, proxy.Downstream{
				Link:       proxy.Link{Ifindex: w.link.Index, Name: name, Addr: addr, Subnets: subnets},
				Membership: p.membershipConfig(&w.cfg),
				ACL:        policy(&w.cfg),
			}))
			if !w.link.Up {
				d.execute(p, p.brain.SetLinkUp(now, w.link.Index, false))
			}
			p.log.Info("downstream in service", "interface", name, "ifindex", w.link.Index, "address", addr, "up", w.link.Up, "version", p.fam.version(&w.cfg))
			continue
		}
		if st.up != w.link.Up {
			st.up = w.link.Up
			p.log.Info("downstream link state", "interface", name, "up", st.up)
			d.execute(p, p.brain.SetLinkUp(now, st.ifindex, st.up))
		}
		if st.addr != addr || !slices.Equal(st.subnets, subnets) {
			st.addr, st.subnets = addr, subnets
			p.log.Info("downstream address", "interface", name, "address", addr)
			d.execute(p, p.brain.SetAddress(now, st.ifindex, addr, subnets))
		}
		if !st.cfg.Equal(w.cfg) {
			st.cfg = w.cfg
			p.log.Info("downstream reconfigured", "interface", name)
			d.execute(p, p.brain.Reconfigure(now, st.ifindex, p.membershipConfig(&w.cfg), policy(&w.cfg)))
		}
	}
}

func (p *plane) membershipConfig(i *config.Interface) membership.Config {
	return membership.Config{
		Robustness:              i.Robustness,
		QueryInterval:           i.QueryInterval,
		QueryResponseInterval:   i.QueryResponseInterval,
		StartupQueryInterval:    i.StartupQueryInterval,
		StartupQueryCount:       i.StartupQueryCount,
		LastMemberQueryInterval: i.LastMemberQueryInterval,
		LastMemberQueryCount:    i.LastMemberQueryCount,
		Version:                 p.fam.version(i),
		MaxGroups:               i.MaxGroups,
		MaxSources:              i.MaxSources,
		MaxBytes:                i.MaxMemory,
		FastLeave:               i.FastLeave,
	}
}

// policy is an interface's access list for the brain; none means allow.
func policy(i *config.Interface) proxy.Policy {
	if len(i.ACL) == 0 {
		return nil
	}
	return i.ACL
}

func hasFamily(ps []netip.Prefix, is func(netip.Addr) bool) bool {
	for _, pf := range ps {
		if is(pf.Addr()) {
			return true
		}
	}
	return false
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
		if n := p.drops[i]; n > 0 {
			dropped = append(dropped, dropNames[i], n)
		}
	}
	var received uint64
	for _, n := range p.received {
		received += n
	}
	st := p.brain.Stats()
	p.log.Info("stopped", "received", received, "upcalls", p.upcalls, "routes-added", st.RoutesAdded, "routes-removed", st.RoutesDeleted,
		"source-not-accepted", st.SourceNotAccepted, logx.Group("dropped", dropped...))
}
