// Package daemon is the event loop of mcast-proxy. One goroutine owns all
// state: it feeds packets, kernel upcalls and due deadlines to the proxy
// brain and carries out the actions the brain returns against the kernel.
// Other goroutines only block on sockets and hand over typed events.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync/atomic"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/config"
	"github.com/mcast-proxy/mcast-proxy/internal/membership"
	"github.com/mcast-proxy/mcast-proxy/internal/mroute"
	"github.com/mcast-proxy/mcast-proxy/internal/proxy"
	"github.com/mcast-proxy/mcast-proxy/internal/upstream"
)

// ErrTableInUse is returned by Run when another multicast routing daemon
// owns the kernel's multicast routing table (field failure #7).
var ErrTableInUse = errors.New("another multicast routing daemon (igmpproxy, smcroute, pimd, mcproxy, ...) already owns the kernel's multicast routing table; stop it first")

// mrouter is the kernel's multicast routing and IGMP socket (mroute.Socket).
type mrouter interface {
	AddVIF(ifindex, threshold int) (int, error)
	JoinRouterGroups(ifindex int) error
	SetRoute(r mroute.Route) error
	DelRoute(src, grp netip.Addr) error
	Counters(src, grp netip.Addr) (mroute.Counters, error)
	SendIGMP(ifindex int, src, dst netip.Addr, payload []byte) error
	Read(buf []byte) (mroute.Packet, error)
	Close() error
}

// subscriber applies the upstream subscription (upstream.Joiner).
type subscriber interface {
	Set(group netip.Addr, f upstream.Filter) error
	Close() error
}

// eventQueue bounds what the reader can hand to the loop; under a flood the
// reader drops and counts instead of blocking the kernel socket.
const eventQueue = 1024

type event struct {
	pkt mroute.Packet
	at  time.Time
}

// Daemon is one running proxy.
type Daemon struct {
	log   *slog.Logger
	cfg   *config.Config
	mr    mrouter
	sub   subscriber
	brain *proxy.Proxy

	links map[int]string // ifindex -> name of every link in service
	own   map[netip.Addr]bool

	drops     [numDrops]atomic.Uint64
	received  atomic.Uint64
	upcalls   uint64
	errLogged map[string]bool
}

// Run starts the proxy for cfg and serves until ctx is cancelled, then
// removes its forwarding state, leaves the upstream groups and returns nil.
func Run(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	mr, err := mroute.Open(0)
	if err != nil {
		if errors.Is(err, mroute.ErrInUse) {
			return fmt.Errorf("%w (%v)", ErrTableInUse, err)
		}
		return fmt.Errorf("multicast routing socket: %w", err)
	}
	d := &Daemon{log: log, cfg: cfg, mr: mr, links: map[int]string{}, own: map[netip.Addr]bool{}, errLogged: map[string]bool{}}
	pcfg, upIfindex, err := d.setup()
	if err != nil {
		mr.Close()
		return err
	}
	j, err := upstream.New(upIfindex)
	if err != nil {
		mr.Close()
		return fmt.Errorf("upstream: %w", err)
	}
	d.sub = j
	d.brain = proxy.New(pcfg)
	return d.serve(ctx)
}

// setup resolves the configured interfaces and gives each a VIF.
func (d *Daemon) setup() (proxy.Config, int, error) {
	var pc proxy.Config
	up := d.cfg.Upstream()
	if up == nil {
		return pc, 0, errors.New("no upstream interface configured")
	}
	upLink, err := d.link(up.Name)
	if err != nil {
		return pc, 0, fmt.Errorf("upstream interface %s: %w", up.Name, err)
	}
	if _, err := d.mr.AddVIF(upLink.Ifindex, up.Threshold); err != nil {
		return pc, 0, fmt.Errorf("upstream interface %s: %w", up.Name, err)
	}
	if len(upLink.Subnets) == 0 && len(up.Sources) == 0 {
		d.log.Warn("upstream interface has no IPv4 address and no source prefixes are configured: no upstream traffic will be accepted", "interface", up.Name)
	}
	d.links[upLink.Ifindex] = up.Name
	pc.Upstream = upLink
	pc.UpstreamSources = up.Sources
	for _, ds := range d.cfg.Downstreams() {
		if !ds.IPv4 {
			continue
		}
		l, err := d.link(ds.Name)
		if err != nil {
			d.log.Error("downstream interface not in service", "interface", ds.Name, "err", err)
			continue
		}
		if _, err := d.mr.AddVIF(l.Ifindex, ds.Threshold); err != nil {
			d.log.Error("downstream interface not in service", "interface", ds.Name, "err", err)
			continue
		}
		if err := d.mr.JoinRouterGroups(l.Ifindex); err != nil {
			d.log.Error("cannot listen for reports", "interface", ds.Name, "err", err)
		}
		d.links[l.Ifindex] = ds.Name
		pc.Downstreams = append(pc.Downstreams, proxy.Downstream{Link: l, Membership: membership.Config{
			Robustness:              ds.Robustness,
			QueryInterval:           ds.QueryInterval,
			QueryResponseInterval:   ds.QueryResponseInterval,
			StartupQueryInterval:    ds.StartupQueryInterval,
			StartupQueryCount:       ds.StartupQueryCount,
			LastMemberQueryInterval: ds.LastMemberQueryInterval,
			LastMemberQueryCount:    ds.LastMemberQueryCount,
			Version:                 ds.IGMPVersion,
		}})
		d.log.Info("downstream in service", "interface", ds.Name, "ifindex", l.Ifindex, "address", l.Addr, "igmp-version", ds.IGMPVersion)
	}
	if len(pc.Downstreams) == 0 {
		return pc, 0, errors.New("no downstream interface could be put in service")
	}
	d.log.Info("upstream in service", "interface", up.Name, "ifindex", upLink.Ifindex, "address", upLink.Addr)
	return pc, upLink.Ifindex, nil
}

// link looks up an interface and its IPv4 addresses.
func (d *Daemon) link(name string) (proxy.Link, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return proxy.Link{}, err
	}
	l := proxy.Link{Ifindex: ifi.Index, Name: name}
	addrs, err := ifi.Addrs()
	if err != nil {
		return l, err
	}
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(ipn.IP)
		if !ok || !ip.Unmap().Is4() {
			continue
		}
		ip = ip.Unmap()
		ones, _ := ipn.Mask.Size()
		l.Subnets = append(l.Subnets, netip.PrefixFrom(ip, ones).Masked())
		d.own[ip] = true
		// The lowest address wins the querier election (RFC 3376 §6.6.2);
		// of our own addresses we present the first one.
		if !l.Addr.IsValid() {
			l.Addr = ip
		}
	}
	return l, nil
}

func (d *Daemon) serve(ctx context.Context) error {
	events := make(chan event, eventQueue)
	readerDone := make(chan struct{})
	go d.read(events, readerDone)

	d.execute(d.brain.Start(time.Now()))
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		d.resetTimer(timer)
		select {
		case <-ctx.Done():
			d.shutdown()
			<-readerDone
			return nil
		case ev := <-events:
			d.handle(ev)
		case now := <-timer.C:
			d.execute(d.brain.Advance(now))
		}
	}
}

// resetTimer points the loop's single timer at the brain's earliest deadline.
func (d *Daemon) resetTimer(t *time.Timer) {
	next := d.brain.NextDeadline()
	wait := time.Hour
	if !next.IsZero() {
		wait = time.Until(next)
	}
	if !t.Stop() {
		select {
		case <-t.C:
		default:
		}
	}
	t.Reset(max(wait, 0))
}

// read runs in its own goroutine: it blocks on the socket and hands packets
// to the loop. It owns nothing but its buffer.
func (d *Daemon) read(events chan<- event, done chan<- struct{}) {
	defer close(done)
	buf := make([]byte, 65536)
	for {
		pkt, err := d.mr.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if errors.Is(err, mroute.ErrMalformed) {
				d.drops[dropMalformed].Add(1)
			} else {
				d.drops[dropReadError].Add(1)
				time.Sleep(10 * time.Millisecond) // do not spin on a persistent error
			}
			continue
		}
		pkt.Payload = slices.Clone(pkt.Payload)
		select {
		case events <- event{pkt: pkt, at: time.Now()}:
		default:
			d.drops[dropQueueFull].Add(1)
		}
	}
}

func (d *Daemon) handle(ev event) {
	pkt := ev.pkt
	if u := pkt.Upcall; u != nil {
		if u.Type != mroute.UpcallNoCache {
			return
		}
		d.upcalls++
		d.execute(d.brain.SourceActive(ev.at, u.Ifindex, u.Source, u.Group))
		return
	}
	d.received.Add(1)
	if _, ok := d.links[pkt.Ifindex]; !ok {
		d.drops[dropUnknownLink].Add(1)
		return
	}
	if d.own[pkt.Src] {
		d.drops[dropOwn].Add(1)
		return
	}
	msg, reason, ok := decode(packetInfo{ttl: pkt.TTL, routerAlert: pkt.RouterAlert}, pkt.Payload)
	if !ok {
		d.drops[reason].Add(1)
		d.log.Debug("dropped IGMP packet", "reason", dropNames[reason], "from", pkt.Src, "ifindex", pkt.Ifindex)
		return
	}
	if msg.query != nil {
		d.execute(d.brain.Query(ev.at, pkt.Ifindex, pkt.Src, *msg.query))
		return
	}
	if pkt.Ifindex == d.brain.UpstreamIfindex() {
		d.drops[dropUpstream].Add(1)
		return
	}
	d.execute(d.brain.Report(ev.at, pkt.Ifindex, pkt.Src, msg.version, msg.records))
}

// execute carries out the brain's actions. A failure is logged (once per
// distinct problem) and survived: one bad interface never stops the daemon.
func (d *Daemon) execute(acts []proxy.Action) {
	for len(acts) > 0 {
		a := acts[0]
		acts = acts[1:]
		switch a := a.(type) {
		case proxy.SendQuery:
			payload, dst, err := encodeQuery(a.Query)
			if err == nil {
				err = d.mr.SendIGMP(a.Ifindex, a.Src, dst, payload)
			}
			d.check(err, "send query", "interface", d.links[a.Ifindex])
		case proxy.Subscribe:
			f := upstream.Filter{Mode: upstream.Include, Sources: a.Sub.Sources}
			if a.Sub.Mode == membership.Exclude {
				f.Mode = upstream.Exclude
			}
			err := d.sub.Set(a.Group, f)
			d.check(err, "upstream subscription", "group", a.Group)
			d.log.Debug("upstream subscription", "group", a.Group, "mode", a.Sub.Mode, "sources", a.Sub.Sources)
		case proxy.SetRoute:
			err := d.mr.SetRoute(mroute.Route{Source: a.Source, Group: a.Group, Input: a.Input, Outputs: a.Outputs})
			d.check(err, "set forwarding entry", "source", a.Source, "group", a.Group)
			d.log.Debug("forwarding", "source", a.Source, "group", a.Group, "input", d.links[a.Input], "outputs", d.names(a.Outputs))
		case proxy.DelRoute:
			err := d.mr.DelRoute(a.Source, a.Group)
			d.check(err, "delete forwarding entry", "source", a.Source, "group", a.Group)
			d.log.Debug("forwarding stopped", "source", a.Source, "group", a.Group)
		case proxy.ReadCounters:
			counts := make(map[proxy.Flow]uint64, len(a.Flows))
			for _, f := range a.Flows {
				c, err := d.mr.Counters(f.Source, f.Group)
				if err != nil {
					continue
				}
				counts[f] = c.Packets
			}
			acts = append(acts, d.brain.Counters(time.Now(), counts)...)
		}
	}
}

func (d *Daemon) names(ifindexes []int) []string {
	n := make([]string, len(ifindexes))
	for i, x := range ifindexes {
		n[i] = d.links[x]
	}
	return n
}

// check logs a failed kernel operation. The same kind of failure is logged
// at warning level once and at debug level after that, so a broken link
// cannot flood the log.
func (d *Daemon) check(err error, what string, args ...any) {
	if err == nil {
		return
	}
	args = append(args, "err", err)
	key := what + err.Error()
	if d.errLogged[key] {
		d.log.Debug(what+" failed", args...)
		return
	}
	d.errLogged[key] = true
	d.log.Warn(what+" failed", args...)
}

// shutdown removes what the daemon put in the kernel (RFC 4605 proxies leave
// their upstream groups so the upstream stops sending).
func (d *Daemon) shutdown() {
	if err := d.sub.Close(); err != nil {
		d.log.Warn("leaving upstream groups", "err", err)
	}
	if err := d.mr.Close(); err != nil {
		d.log.Warn("closing multicast routing socket", "err", err)
	}
	var dropped []any
	for i := range d.drops {
		if n := d.drops[i].Load(); n > 0 {
			dropped = append(dropped, dropNames[i], n)
		}
	}
	st := d.brain.Stats()
	d.log.Info("stopped", "igmp-received", d.received.Load(), "upcalls", d.upcalls, "routes-set", st.RoutesSet, "routes-deleted", st.RoutesDeleted, slog.Group("dropped", dropped...))
}
