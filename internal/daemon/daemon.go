// Package daemon is the event loop of mcast-proxy. One goroutine owns all
// state: it feeds packets, kernel upcalls and due deadlines to the proxy
// brains (one per address family) and carries out the actions they return
// against the kernel. Other goroutines only block on sockets and hand over
// typed events.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
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

// mrouter is the kernel's multicast routing socket of one family, which also
// carries the family's IGMP or MLD messages.
type mrouter interface {
	AddVIF(ifindex, threshold int) (int, error)
	JoinRouterGroups(ifindex int) error
	SetRoute(r mroute.Route) error
	DelRoute(src, grp netip.Addr) error
	Counters(src, grp netip.Addr) (mroute.Counters, error)
	Send(ifindex int, src, dst netip.Addr, payload []byte) error
	Read(buf []byte) (mroute.Packet, error)
	Close() error
}

// subscriber applies the upstream subscription of both families
// (upstream.Joiner).
type subscriber interface {
	Set(group netip.Addr, f upstream.Filter) error
	Truncated(group netip.Addr) int
	Close() error
}

// eventQueue bounds what the readers can hand to the loop; under a flood a
// reader drops and counts instead of blocking its kernel socket.
const eventQueue = 1024

type event struct {
	plane *plane
	pkt   mroute.Packet
	at    time.Time
}

// Daemon is one running proxy.
type Daemon struct {
	log       *slog.Logger
	cfg       *config.Config
	planes    []*plane
	sub       subscriber
	errLogged map[string]bool
}

// Run starts the proxy for cfg and serves until ctx is cancelled, then
// removes its forwarding state, leaves the upstream groups and returns nil.
func Run(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	d := &Daemon{log: log, cfg: cfg, errLogged: map[string]bool{}}
	up := cfg.Upstream()
	if up == nil {
		return errors.New("no upstream interface configured")
	}
	upIf, err := net.InterfaceByName(up.Name)
	if err != nil {
		return fmt.Errorf("upstream interface %s: %w", up.Name, err)
	}
	for _, fam := range families {
		if !fam.enabled(cfg) {
			continue
		}
		p, err := d.openPlane(fam)
		if err != nil {
			d.closePlanes()
			return err
		}
		d.planes = append(d.planes, p)
	}
	if len(d.planes) == 0 {
		return errors.New("no address family has an upstream and a downstream in service")
	}
	j, err := upstream.New(upIf.Index)
	if err != nil {
		d.closePlanes()
		return fmt.Errorf("upstream: %w", err)
	}
	d.sub = j
	return d.serve(ctx)
}

// openPlane opens the family's routing socket and puts the configured
// interfaces in service.
func (d *Daemon) openPlane(fam *family) (*plane, error) {
	mr, err := fam.open(0)
	if err != nil {
		if errors.Is(err, mroute.ErrInUse) {
			return nil, fmt.Errorf("%s: %w (%v)", fam.name, ErrTableInUse, err)
		}
		return nil, fmt.Errorf("%s multicast routing socket: %w", fam.name, err)
	}
	p := newPlane(fam, mr, d.log.With("family", fam.name))
	pc, err := p.setup(d.cfg)
	if err != nil {
		mr.Close()
		return nil, err
	}
	p.brain = proxy.New(pc)
	return p, nil
}

func (d *Daemon) closePlanes() {
	for _, p := range d.planes {
		p.mr.Close()
	}
}

func (d *Daemon) serve(ctx context.Context) error {
	events := make(chan event, eventQueue)
	readers := make(chan struct{}, len(d.planes))
	for _, p := range d.planes {
		go p.read(events, readers)
	}
	now := time.Now()
	for _, p := range d.planes {
		d.execute(p, p.brain.Start(now))
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		d.resetTimer(timer)
		select {
		case <-ctx.Done():
			d.shutdown()
			for range d.planes {
				<-readers
			}
			return nil
		case ev := <-events:
			d.handle(ev)
		case now := <-timer.C:
			for _, p := range d.planes {
				d.execute(p, p.brain.Advance(now))
			}
		}
	}
}

// resetTimer points the loop's single timer at the earliest deadline of any
// brain: no per-group timers, no polling.
func (d *Daemon) resetTimer(t *time.Timer) {
	var next time.Time
	for _, p := range d.planes {
		if dl := p.brain.NextDeadline(); !dl.IsZero() && (next.IsZero() || dl.Before(next)) {
			next = dl
		}
	}
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

func (d *Daemon) handle(ev event) {
	p, pkt := ev.plane, ev.pkt
	if u := pkt.Upcall; u != nil {
		if u.Type != mroute.UpcallNoCache {
			return
		}
		p.upcalls++
		d.execute(p, p.brain.SourceActive(ev.at, u.Ifindex, u.Source, u.Group))
		return
	}
	p.received++
	if _, ok := p.links[pkt.Ifindex]; !ok {
		p.drop(dropUnknownLink)
		return
	}
	if p.own[pkt.Src] {
		p.drop(dropOwn)
		return
	}
	msg, reason, ok := p.fam.decode(packetInfo{src: pkt.Src, ttl: pkt.TTL, routerAlert: pkt.RouterAlert}, pkt.Payload)
	if !ok {
		p.drop(reason)
		p.log.Debug("dropped packet", "reason", dropNames[reason], "from", pkt.Src, "interface", p.links[pkt.Ifindex])
		return
	}
	if msg.query != nil {
		d.execute(p, p.brain.Query(ev.at, pkt.Ifindex, pkt.Src, *msg.query))
		return
	}
	if pkt.Ifindex == p.brain.UpstreamIfindex() {
		p.drop(dropUpstream)
		return
	}
	d.execute(p, p.brain.Report(ev.at, pkt.Ifindex, pkt.Src, msg.version, msg.records))
}

// execute carries out a brain's actions. A failure is logged (once per
// distinct problem) and survived: one bad interface never stops the daemon.
func (d *Daemon) execute(p *plane, acts []proxy.Action) {
	for len(acts) > 0 {
		a := acts[0]
		acts = acts[1:]
		switch a := a.(type) {
		case proxy.SendQuery:
			payload, dst, err := p.fam.encodeQuery(a.Query)
			if err == nil {
				err = p.mr.Send(a.Ifindex, a.Src, dst, payload)
			}
			d.check(err, "send query", "interface", p.links[a.Ifindex])
		case proxy.Subscribe:
			f := upstream.Filter{Mode: upstream.Include, Sources: a.Sub.Sources}
			if a.Sub.Mode == membership.Exclude {
				f.Mode = upstream.Exclude
			}
			err := d.sub.Set(a.Group, f)
			d.check(err, "upstream subscription", "group", a.Group)
			if n := d.sub.Truncated(a.Group); n > 0 {
				// The kernel's per-socket source filter limit
				// (igmp_max_msf, mld_max_msf) cut the EXCLUDE list:
				// more is forwarded than asked for, never less.
				d.check(fmt.Errorf("%d excluded sources left out; raise net.ipv4.igmp_max_msf or net.ipv6.mld_max_msf", n), "upstream source filter")
			}
			p.log.Debug("upstream subscription", "group", a.Group, "mode", a.Sub.Mode, "sources", a.Sub.Sources)
		case proxy.SetRoute:
			err := p.mr.SetRoute(mroute.Route{Source: a.Source, Group: a.Group, Input: a.Input, Outputs: a.Outputs})
			d.check(err, "set forwarding entry", "source", a.Source, "group", a.Group)
			p.log.Debug("forwarding", "source", a.Source, "group", a.Group, "input", p.links[a.Input], "outputs", p.names(a.Outputs))
		case proxy.DelRoute:
			err := p.mr.DelRoute(a.Source, a.Group)
			d.check(err, "delete forwarding entry", "source", a.Source, "group", a.Group)
			p.log.Debug("forwarding stopped", "source", a.Source, "group", a.Group)
		case proxy.ReadCounters:
			counts := make(map[proxy.Flow]uint64, len(a.Flows))
			for _, f := range a.Flows {
				if c, err := p.mr.Counters(f.Source, f.Group); err == nil {
					counts[f] = c.Packets
				}
			}
			acts = append(acts, p.brain.Counters(time.Now(), counts)...)
		}
	}
}

// check logs a failed kernel operation. The same failure is logged at
// warning level once and at debug level after that, so a broken link cannot
// flood the log.
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

// shutdown removes what the daemon put in the kernel: a proxy leaves its
// upstream groups so the upstream stops sending, and closing the routing
// sockets removes forwarding entries and VIFs.
func (d *Daemon) shutdown() {
	if err := d.sub.Close(); err != nil {
		d.log.Warn("leaving upstream groups", "err", err)
	}
	for _, p := range d.planes {
		if err := p.mr.Close(); err != nil {
			p.log.Warn("closing multicast routing socket", "err", err)
		}
		p.logStats()
	}
}

// read runs in its own goroutine per plane: it blocks on the socket and
// hands packets to the loop. It owns nothing but its buffer.
func (p *plane) read(events chan<- event, done chan<- struct{}) {
	defer func() { done <- struct{}{} }()
	buf := make([]byte, 65536)
	for {
		pkt, err := p.mr.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if errors.Is(err, mroute.ErrMalformed) {
				p.readDrops[dropMalformed].Add(1)
			} else {
				p.readDrops[dropReadError].Add(1)
				time.Sleep(10 * time.Millisecond) // do not spin on a persistent error
			}
			continue
		}
		pkt.Payload = slices.Clone(pkt.Payload)
		select {
		case events <- event{plane: p, pkt: pkt, at: time.Now()}:
		default:
			p.readDrops[dropQueueFull].Add(1)
		}
	}
}
