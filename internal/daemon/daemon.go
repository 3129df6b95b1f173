// Package daemon is the event loop of mcast-proxy. One goroutine owns all
// state: it reads packets and kernel upcalls from the routing sockets itself,
// feeds them, link changes, reloads and due deadlines to the proxy brains
// (one per address family) and carries out the actions they return against
// the kernel. Other goroutines only block on netlink or the control socket
// and hand over typed events.
package daemon

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/config"
	"github.com/mcast-proxy/mcast-proxy/internal/control"
	"github.com/mcast-proxy/mcast-proxy/internal/format"
	"github.com/mcast-proxy/mcast-proxy/internal/linkwatch"
	"github.com/mcast-proxy/mcast-proxy/internal/logx"
	"github.com/mcast-proxy/mcast-proxy/internal/membership"
	"github.com/mcast-proxy/mcast-proxy/internal/mroute"
	"github.com/mcast-proxy/mcast-proxy/internal/proxy"
	"github.com/mcast-proxy/mcast-proxy/internal/upstream"
)

// tableInUse says, in words a user can act on rather than the kernel's bare
// "address in use", that another multicast routing daemon owns the kernel's
// multicast routing table.
const tableInUse = "another multicast routing daemon (igmpproxy, smcroute, pimd, mcproxy, ...) already owns the kernel's multicast routing table; stop it, or give mcast-proxy its own table with the 'table' option"

// mrouter is the kernel's multicast routing socket of one family, which also
// carries the family's IGMP or MLD messages.
type mrouter interface {
	AddVIF(ifindex, threshold int) (int, error)
	DelVIF(ifindex int) error
	VIF(ifindex int) (int, bool)
	JoinRouterGroups(ifindex int) error
	LeaveRouterGroups(ifindex int) error
	SetRoute(r mroute.Route) error
	DelRoute(src, grp netip.Addr) error
	// RouteKeys lists the installed routes by group, then source; Route
	// looks one up, its outputs appended to outputs.
	RouteKeys() []mroute.Key
	Route(k mroute.Key, outputs []int) (mroute.Route, bool)
	NumRoutes() int
	Counters(src, grp netip.Addr) (mroute.Counters, error)
	Send(ifindex int, src, dst netip.Addr, payload []byte) error
	// ReadWaiting reads one message or upcall if one waits, without
	// blocking; false when none does.
	ReadWaiting(buf []byte) (mroute.Packet, bool, error)
	// Descriptor is what the loop waits on for the socket to become
	// readable; -1 for none.
	Descriptor() int
	// Drops is the kernel's count of packets lost because the socket's
	// receive buffer was full.
	Drops() (uint64, error)
	Close() error
}

// linkWatcher delivers link changes (linkwatch.Watcher).
type linkWatcher interface {
	C() <-chan linkwatch.Change
	Close() error
}

// joiner is the host stack's subscription to the upstream groups of both
// families (upstream.Joiner): the daemon creates it on the active upstream,
// moves it on failover and replays the brains' wishes into it.
type joiner interface {
	Ifindex() int
	SetInterface(ifindex int) error
	Set(group netip.Addr, f upstream.Filter) error
	Truncated(group netip.Addr) int
	Groups() []netip.Addr
	Close() error
}

// linkSettle is how long link notifications are coalesced before a fresh
// snapshot is taken: short enough that a recreated PPPoE link is back in
// service well within a second.
const linkSettle = 50 * time.Millisecond

// readBatch is how many messages the loop reads from one routing socket
// before it looks at its other sockets and at what the doorman handed over:
// under a flood of reports, status still answers and the other family is
// still read. What the loop cannot keep up with waits in the socket's
// receive buffer (1 MiB); beyond that the kernel drops and counts it
// (socket_overflow in status).
const readBatch = 32

// readErrorPause is how long the loop rests after a second failed read in a
// row of one socket, so that a socket that stays readable and failing does
// not take all of the CPU.
const readErrorPause = 10 * time.Millisecond

// event is one message or upcall read from a plane's socket, as the loop
// handles it.
type event struct {
	plane *plane
	pkt   mroute.Packet
	at    time.Time
}

// Options are the daemon's settings besides the configuration.
type Options struct {
	// Version is reported in the status.
	Version string
	// Reload delivers a request to re-read the configuration file (SIGHUP).
	Reload <-chan struct{}
	// ControlSocket is the path of the status and reload socket; empty
	// for none.
	ControlSocket string
	// Load reads the configuration file on reload; nil means config.Load.
	// The command wires netifd network resolution in here, so a reload
	// also follows networks that changed their device.
	Load func(file string) (*config.Config, error)
	// Supervisor, if not nil, is told when the daemon is ready, reloading
	// and stopping, and gets a status line.
	Supervisor Supervisor
	// WatchdogInterval, if positive, is the supervisor's watchdog timeout:
	// the loop calls Supervisor.Alive twice within it.
	WatchdogInterval time.Duration
}

// Daemon is one running proxy daemon: one or more proxy instances.
type Daemon struct {
	log     *logx.Logger
	opts    Options
	cfg     *config.Config
	started time.Time

	links   linkwatch.Snapshot // the kernel's links, as last seen
	watcher linkWatcher

	// insts are the proxy instances in service, in configuration order.
	insts []*instance
	ctl   *control.Server
	calls chan control.Call

	// wake is what the loop blocks on: the planes' routing sockets and the
	// doorman's bell. Nil in tests that never serve.
	wake    *waitSet
	readBuf []byte    // one message as read, handled before the next read
	armedAt time.Time // the deadline the loop's timer is set for

	// The kernel edge: how routing sockets and the upstream subscription
	// are opened. Run wires in the real ones; the tests pass recording
	// fakes, so reconciliation is tested without root.
	openRouter func(fam *family, table uint32) (mrouter, error)
	newJoiner  func(ifindex int) (joiner, error)
	// addRule and delRule install and remove multicast routing rules;
	// nil means mroute.AddRule and mroute.DelRule.
	addRule, delRule func(mroute.Rule) error
	// findRules lists the rules carrying our marker; nil means
	// mroute.Rules for both families.
	findRules func() ([]mroute.Rule, error)

	errLog errorLog
	clock  brainClock // the time the brains see
	// now reads the wall clock where the loop times its own work (how long
	// it was away from its sockets); nil means time.Now. Tests set it.
	now func() time.Time
	// budget is the state budget all downstreams of every instance and
	// both families share (the top level's max-memory-total); each
	// instance's own budget is part of it.
	budget *membership.Budget
	warned map[string]bool

	superviseAt time.Time // next watchdog and status update; zero without a supervisor
	lastStatus  string    // the status line last sent to the supervisor

	state stateFile // the snapshot kept for a restart (state.go)
}

// Run starts the proxy for cfg and serves until ctx is cancelled, then
// removes its forwarding state, leaves the upstream groups and returns nil.
// Interfaces that do not exist yet are waited for; nothing on the network
// side is fatal once the routing sockets are open.
func Run(ctx context.Context, cfg *config.Config, opts Options, log *logx.Logger) error {
	d := &Daemon{
		log: log, opts: opts, cfg: cfg, started: time.Now(),
		warned: map[string]bool{},
		budget: membership.NewBudget(int64(cfg.MaxMemoryTotal)),
		openRouter: func(fam *family, table uint32) (mrouter, error) {
			return fam.open(table)
		},
		newJoiner: func(ifindex int) (joiner, error) {
			return upstream.New(ifindex)
		},
	}
	wake, err := newWaitSet()
	if err != nil {
		return err
	}
	defer wake.close()
	d.wake = wake
	w, snap, err := linkwatch.Watch(linkSettle)
	if err != nil {
		return format.Errorf("watching links: %w", err)
	}
	d.watcher, d.links = w, snap
	d.state = stateFile{path: statePath(opts.ControlSocket), boot: bootNow}
	if opts.ControlSocket != "" {
		ctl, err := control.Listen(opts.ControlSocket)
		if err != nil {
			w.Close()
			return format.Errorf("control socket: %w", err)
		}
		d.ctl, d.calls = ctl, make(chan control.Call)
		go ctl.Serve(d.calls)
	}
	now := time.Now()
	if err := d.start(now); err != nil {
		if d.ctl != nil {
			d.ctl.Close()
		}
		w.Close()
		return err
	}
	d.ready(now)
	return d.serve(ctx)
}

// start opens the routing sockets of every instance and brings the kernel
// in line with the configuration and the links as last seen. If one
// instance cannot start, none does.
func (d *Daemon) start(now time.Time) error {
	cfgs, err := instanceConfigs(d.cfg, nil)
	if err != nil {
		return err
	}
	d.sweepRules(cfgs)
	for _, c := range cfgs {
		in, err := d.openInstance(c)
		if err != nil {
			d.stopAll()
			return err
		}
		d.insts = append(d.insts, in)
	}
	for _, in := range d.insts {
		d.syncRules(in)
	}
	d.reconcile(now)
	d.restoreState(now)
	return nil
}

func (d *Daemon) openPlane(in *instance, fam *family) (*plane, error) {
	mr, err := d.openRouter(fam, in.cfg.Table)
	if err != nil {
		if errors.Is(err, mroute.ErrInUse) {
			return nil, format.Errorf("%s: %s: %w", fam.name, tableInUse, err)
		}
		return nil, format.Errorf("%s multicast routing socket: %w", fam.name, err)
	}
	log := d.log.With("family", fam.name)
	if in.cfg.Name != "" {
		log = log.With("proxy", in.cfg.Name)
	}
	p := newPlane(fam, mr, log)
	p.in = in
	if d.wake != nil {
		if p.fd = mr.Descriptor(); p.fd >= 0 {
			if err := d.wake.add(p.fd); err != nil {
				mr.Close()
				return nil, format.Errorf("%s multicast routing socket: waiting for it: %w", fam.name, err)
			}
		}
	}
	p.brain.ShareBudget(in.budget)
	p.brain.Start(time.Now())
	return p, nil
}

// closePlanes closes the routing sockets of planes; what they still held
// unread is lost with them.
func (d *Daemon) closePlanes(planes []*plane) {
	for _, p := range planes {
		if d.wake != nil && p.fd >= 0 {
			if err := d.wake.remove(p.fd); err != nil {
				p.log.Warn("no longer waiting for the multicast routing socket", "err", err)
			}
			p.fd = -1
		}
		if err := p.mr.Close(); err != nil {
			p.log.Warn("closing multicast routing socket", "err", err)
		}
		p.closed, p.waiting = true, false
		p.logStats()
		p.brain.ShareBudget(nil) // give back what its links held
	}
}

func (d *Daemon) serve(ctx context.Context) error {
	if d.wake == nil {
		return errors.New("serving without a wait set")
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	d.armedAt = time.Time{}
	mail := make(chan letter, 1)
	go d.doorman(ctx, timer, mail)
	if d.readBuf == nil {
		d.readBuf = make([]byte, 65536)
	}
	for {
		d.resetTimer(timer)
		// What the doorman hands over goes before packets that wait: under
		// a flood the sockets are never empty, and status must still
		// answer.
		select {
		case l := <-mail:
			if l.kind == letterStop {
				d.shutdown()
				return nil
			}
			began := d.wallNow()
			d.open(l)
			d.noteAway(began, d.wallNow())
			continue
		default:
		}
		if d.readPlanes() {
			continue
		}
		if err := d.wake.wait(); err != nil {
			return format.Errorf("waiting for the routing sockets: %w", err)
		}
		d.markReadable()
	}
}

// letter is what the doorman hands to the loop: everything but packets.
type letter struct {
	kind  letterKind
	links linkwatch.Change
	call  control.Call
	fired time.Time
}

type letterKind uint8

const (
	letterStop letterKind = iota
	letterLinks
	letterReload
	letterCall
	letterTimer
)

// doorman runs in a goroutine of its own and waits for everything that is
// not a packet: the end, a link change, a reload, a control call, the loop's
// deadline. It hands each to the loop as a letter and rings the loop's bell.
// The mail slot holds one letter, so while the loop is busy the doorman takes
// nothing more: a control client waits, and hears "daemon busy", as it did
// when the loop took its calls itself.
func (d *Daemon) doorman(ctx context.Context, timer *time.Timer, mail chan<- letter) {
	links := d.watcher.C()
	for {
		var l letter
		select {
		case <-ctx.Done():
			l.kind = letterStop
		case ch, ok := <-links:
			if !ok {
				links = nil // closed on shutdown
				continue
			}
			l.kind, l.links = letterLinks, ch
		case <-d.opts.Reload:
			l.kind = letterReload
		case call := <-d.calls:
			l.kind, l.call = letterCall, call
		case fired := <-timer.C:
			l.kind, l.fired = letterTimer, fired
		}
		mail <- l
		d.wake.ring()
		if l.kind == letterStop {
			return
		}
	}
}

// open acts on one letter from the doorman.
func (d *Daemon) open(l letter) {
	switch l.kind {
	case letterLinks:
		d.linksChanged(l.links)
	case letterReload:
		d.reloading(d.reloadAndLog)
	case letterCall:
		d.serveCall(l.call)
	case letterTimer:
		// Late for its deadline, the loop was busy or not given the CPU,
		// and what arrived meanwhile waits unread.
		d.noteAway(d.armedAt, d.wallNow())
		d.armedAt = time.Time{} // spent: set it again
		now := d.clock.at(l.fired)
		for _, p := range d.allPlanes() {
			p.noteLoss(now)
			p.noteWaiting(now)
			d.execute(p, p.brain.Advance(now))
		}
		for _, in := range d.insts {
			if !in.checkAt.IsZero() && !now.Before(in.checkAt) {
				d.operationalChecks(in, now)
			}
		}
		if !d.superviseAt.IsZero() && !now.Before(d.superviseAt) {
			d.supervise(now)
		}
		if !d.state.due.IsZero() && !now.Before(d.state.due) {
			d.saveWhenIdle(now)
		}
	}
}

// awayLimit is how long the loop may be kept from its sockets (one letter's
// work, or the wait for its timer's deadline) before it counts itself
// behind them. The loop learns that it is behind from a full batch of
// reads (plane.backlog), but after a long reload, or time without the CPU,
// reports that came meanwhile wait unread while it first handles a timer
// or the start of the queue; a membership due then would expire before its
// report is read. Shorter absences are part of a slow CPU's normal work.
//
// The hold after an absence lasts as long again: time enough for the loop
// to read one batch of what waits, and either to have read it all or to
// find itself behind by a full batch, which holds expiry for as long as
// the queue lasts (plane.noteWaiting). It is what a leave may be late after
// a long reload or a stall.
const awayLimit = 250 * time.Millisecond

// noteAway tells the brains, when the loop was kept from its sockets from
// began to ended for awayLimit or more, that reports may wait unread at
// ended (proxy.Proxy.ReportsWaiting), for awayLimit. A zero began is no
// time away.
func (d *Daemon) noteAway(began, ended time.Time) {
	if began.IsZero() || ended.Sub(began) < awayLimit {
		return
	}
	now := d.clock.at(ended)
	for _, in := range d.insts {
		for _, p := range in.planes {
			p.brain.ReportsWaiting(now, awayLimit)
		}
	}
}

// wallNow is the wall clock the loop times its own work by (Daemon.now).
func (d *Daemon) wallNow() time.Time {
	if d.now != nil {
		return d.now()
	}
	return time.Now()
}

// markReadable notes that every plane's socket may have something to read.
func (d *Daemon) markReadable() {
	for _, in := range d.insts {
		for _, p := range in.planes {
			if p.fd >= 0 {
				p.waiting = true
			}
		}
	}
}

// readPlanes reads and handles up to readBatch messages from each plane
// whose socket may have some, and reports whether it read any or some are
// left.
func (d *Daemon) readPlanes() bool {
	did, behind := false, false
	for _, in := range d.insts {
		for _, p := range in.planes {
			for n := 0; n < readBatch && p.waiting; n++ {
				if pkt, ok := p.next(d.readBuf); ok {
					d.handle(event{plane: p, pkt: pkt, at: time.Now()})
					did = true
				}
			}
			p.backlog = p.waiting
			if p.backlog {
				p.askDrops()
				behind = true
			}
			did = did || p.waiting
		}
	}
	if behind {
		// While one socket keeps the loop busy it does not park, and
		// only parking tells it which other sockets became readable:
		// look at every socket in the next round, or a flood of one
		// family would starve the other.
		d.markReadable()
	}
	return did
}

// serveCall answers a control call inside the loop: a request, or a page
// of a status answered before (control.Call.Fill).
func (d *Daemon) serveCall(call control.Call) {
	if call.Fill != nil {
		call.Fill()
		call.Reply <- control.Response{OK: true}
		return
	}
	call.Reply <- d.answer(call.Req)
}

// answer serves one control request inside the loop, so it sees a
// consistent state and needs no locks. A status hands its long lists over
// in pages, each built in the loop when the server writes it.
func (d *Daemon) answer(req control.Request) control.Response {
	resp := control.Response{Version: control.ProtocolVersion, OK: true}
	switch req.Command {
	case control.CommandStatus:
		resp.Status = d.pagedStatus(time.Now(), time.Now)
	case control.CommandReload:
		if errs := d.reloading(d.reloadAndLog); errs != nil {
			resp.OK = false
			resp.Error = "the configuration was not reloaded"
			resp.Errors = errs
		}
	default:
		resp.OK = false
		resp.Error = format.Sprintf("unknown command %q", req.Command)
	}
	return resp
}

// resetTimer points the loop's single timer at the earliest deadline of any
// brain or check: no per-group timers, no polling.
func (d *Daemon) resetTimer(t *time.Timer) {
	next := d.superviseAt
	for _, in := range d.insts {
		if !in.checkAt.IsZero() && (next.IsZero() || in.checkAt.Before(next)) {
			next = in.checkAt
		}
	}
	if !d.state.due.IsZero() && (next.IsZero() || d.state.due.Before(next)) {
		next = d.state.due
	}
	// Each instance's planes in turn, not allPlanes: this runs after every
	// packet, and a list of all planes would be made for it each time.
	for _, in := range d.insts {
		for _, p := range in.planes {
			if dl := p.brain.NextDeadline(); !dl.IsZero() && (next.IsZero() || dl.Before(next)) {
				next = dl
			}
		}
	}
	if !next.IsZero() && next.Equal(d.armedAt) {
		return // set for it already
	}
	d.armedAt = next
	wait := time.Hour
	if !next.IsZero() {
		wait = time.Until(next)
	}
	// Since Go 1.23 a Reset timer never delivers a value it had before, so
	// the doorman, which receives from it, sees only the new deadline.
	t.Reset(max(wait, 0))
}

func (d *Daemon) handle(ev event) {
	p, pkt := ev.plane, ev.pkt
	ev.at = d.clock.at(ev.at)
	p.noteLoss(ev.at)
	p.noteWaiting(ev.at)
	if p.closed {
		return // a plane closed by a reload
	}
	if u := pkt.Upcall; u != nil {
		if u.Type != mroute.UpcallNoCache {
			return
		}
		p.upcalls++
		refused := p.brain.Stats().SourceNotAccepted
		d.execute(p, p.brain.SourceActive(ev.at, u.Ifindex, u.Source, u.Group))
		if p.brain.Stats().SourceNotAccepted > refused {
			d.sourceNotAccepted(p, u.Source, u.Group)
		}
		p.reportLimits(ev.at, u.Ifindex)
		return
	}
	name, ok := p.links[pkt.Ifindex]
	if !ok {
		if d.otherInstanceHas(p, pkt.Ifindex) {
			// Every raw IGMP (and ICMPv6) socket sees every report:
			// another instance's link is that instance's business.
			return
		}
		p.drop(pkt.Ifindex, dropUnknownLink)
		return
	}
	if p.own[pkt.Src] {
		p.drop(pkt.Ifindex, dropOwn)
		return
	}
	msg, reason, ok := p.fam.decode(packetInfo{src: pkt.Src, ttl: pkt.TTL, routerAlert: pkt.RouterAlert}, pkt.Payload, &p.decoding)
	if !ok {
		p.drop(pkt.Ifindex, reason)
		p.log.Debug("dropped packet", "reason", dropNames[reason], "from", pkt.Src, "interface", name)
		return
	}
	p.received[msg.kind]++
	for range msg.skipped {
		p.drop(pkt.Ifindex, dropBadRecord)
	}
	if msg.query != nil {
		p.link(name).queries++
		d.execute(p, p.brain.Query(ev.at, pkt.Ifindex, pkt.Src, *msg.query))
		p.reportOlderQuerier(ev.at, pkt.Ifindex)
		return
	}
	p.link(name).reports++
	if pkt.Ifindex == p.brain.UpstreamIfindex() {
		p.drop(pkt.Ifindex, dropUpstream)
		return
	}
	d.execute(p, p.brain.Report(ev.at, pkt.Ifindex, pkt.Src, msg.version, msg.records))
	clear(msg.records) // holds no source lists until the next report
	p.decoding.records = msg.records[:0]
	d.stateChanged() // refreshed timers, at least: after the kernel operations
	p.reportLimits(ev.at, pkt.Ifindex)
}

// limitLogInterval spaces the messages about refused state: a flood is
// counted in full but logged at most once a minute per link.
const limitLogInterval = time.Minute

// reportLimits logs, at most once a minute per link, that the link's
// max-groups or max-sources refused state since the last message.
func (p *plane) reportLimits(now time.Time, ifindex int) {
	r, ok := p.brain.Router(ifindex)
	if !ok {
		return
	}
	st := r.Stats()
	name := p.links[ifindex]
	c := p.link(name)
	total := st.GroupLimit + st.SourceLimit + st.HostLimit + st.MemoryLimit
	if total < c.limitLogged {
		c.limitLogged = 0 // the link came back with a new router
	}
	if total == c.limitLogged || now.Sub(c.limitLoggedAt) < limitLogInterval {
		return
	}
	p.log.Warn("limit reached: new membership state refused (raise max-groups, max-sources, max-memory or max-memory-total if this is legitimate)",
		"interface", name, "refused", total-c.limitLogged, "groups", st.GroupLimit, "sources", st.SourceLimit, "hosts", st.HostLimit,
		"memory", st.MemoryLimit, "state-bytes", r.StateBytes())
	c.limitLogged, c.limitLoggedAt = total, now
}

// reportOlderQuerier logs, at most once a minute per link, that a querier
// of an older version than ours was heard: RFC 3376 §7.3.1 and RFC 3810
// §8.3.1 ask for the warning, since routers of mixed versions on one link
// need the administrator to configure the older version on all of them.
func (p *plane) reportOlderQuerier(now time.Time, ifindex int) {
	r, ok := p.brain.Router(ifindex)
	if !ok {
		return
	}
	n := r.Stats().OlderQuerier
	name := p.links[ifindex]
	c := p.link(name)
	if n < c.olderLogged {
		c.olderLogged = 0 // the link came back with a new router
	}
	if n == c.olderLogged || now.Sub(c.olderLoggedAt) < limitLogInterval {
		return
	}
	addr, version := r.LastOlderQuerier()
	if p.fam == ipv6 {
		version = membershipToMLD(version)
	}
	p.log.Warn("a querier of an older protocol version is on the link; configure that version on this interface (igmp-version or mld-version) or upgrade the other router",
		"interface", name, "querier", addr, "version", version)
	c.olderLogged, c.olderLoggedAt = n, now
}

// sourceNotAccepted explains, once per upstream, why upstream traffic is
// not forwarded: its source is outside the upstream's subnets. A PPPoE
// upstream's /32 address covers no provider source, so this is what a
// missing 'source' line looks like.
func (d *Daemon) sourceNotAccepted(p *plane, src, grp netip.Addr) {
	up := p.brain.Upstream()
	d.warnOnce("source not accepted "+p.fam.name+" "+up.Name,
		"upstream traffic refused: its source is not in the upstream interface's subnets; if the provider sends from elsewhere (a PPPoE link has a /32 address), add 'source <prefix>' for it to the upstream",
		"interface", up.Name, "source", src, "group", grp, "fix", "source "+netip.PrefixFrom(src, src.BitLen()).String())
}

// execute carries out a brain's actions. A failure is logged (once per
// distinct problem) and survived: one bad interface never stops the daemon.
func (d *Daemon) execute(p *plane, acts []proxy.Action) {
	debug := p.log.Enabled(logx.LevelDebug)
	for len(acts) > 0 {
		a := acts[0]
		acts = acts[1:]
		switch a.Kind {
		case proxy.KindSendQuery:
			a := a.SendQuery
			payload, dst, err := p.fam.encodeQuery(a.Query)
			if err == nil {
				err = p.mr.Send(a.Ifindex, a.Src, dst, payload)
			}
			if err == nil {
				p.queriesSent++
				p.link(p.links[a.Ifindex]).queriesSent++
			}
			d.check(err, "send query", "interface", p.links[a.Ifindex])
		case proxy.KindSubscribe:
			a := a.Subscribe
			d.subscribe(p.in, a)
			d.stateChanged()
			if debug {
				p.log.Debug("upstream subscription", "group", a.Group, "mode", a.Sub.Mode, "sources", a.Sub.Sources)
			}
		case proxy.KindSetRoute:
			a := a.SetRoute
			// The arguments of a log call are boxed even when nothing is
			// logged: on the report path they are built only when used.
			if err := p.mr.SetRoute(mroute.Route{Source: a.Source, Group: a.Group, Input: a.Input, Outputs: a.Outputs}); err != nil {
				d.check(err, "set forwarding entry", "source", a.Source, "group", a.Group)
			}
			d.stateChanged()
			if debug {
				p.log.Debug("forwarding", "source", a.Source, "group", a.Group, "input", p.links[a.Input], "outputs", p.names(a.Outputs))
			}
		case proxy.KindDelRoute:
			a := a.DelRoute
			if err := p.mr.DelRoute(a.Source, a.Group); err != nil {
				d.check(err, "delete forwarding entry", "source", a.Source, "group", a.Group)
			}
			d.stateChanged()
			if debug {
				p.log.Debug("forwarding stopped", "source", a.Source, "group", a.Group)
			}
		case proxy.KindReadCounters:
			a := a.ReadCounters
			counts := make(map[proxy.Flow]uint64, len(a.Flows))
			wrongIf := make(map[proxy.Flow]uint64, len(a.Flows))
			for _, f := range a.Flows {
				if c, err := p.mr.Counters(f.Source, f.Group); err == nil {
					// The brain compares copies with packets on the
					// input; the kernel's packet count holds both.
					counts[f], wrongIf[f] = c.Input(), c.WrongIf
				}
			}
			now := time.Now()
			acts = append(acts, p.brain.Duplicates(now, counts, wrongIf)...)
			acts = append(acts, p.brain.Counters(now, counts)...)
		}
	}
}

// subscribe applies one group's upstream subscription. Without an upstream
// in service it is only remembered by the brain and replayed when one comes.
func (d *Daemon) subscribe(in *instance, a proxy.Subscribe) {
	if in.sub == nil {
		return
	}
	if err := in.sub.Set(a.Group, upstream.Filter{Mode: a.Sub.Mode, Sources: a.Sub.Sources}); err != nil {
		d.check(err, "upstream subscription", "group", a.Group)
	}
	if n := in.sub.Truncated(a.Group); n > 0 {
		// The kernel's per-socket source filter limit (igmp_max_msf,
		// mld_max_msf) cut the EXCLUDE list: more is forwarded than asked
		// for, never less.
		d.check(format.Errorf("%d excluded sources left out; raise net.ipv4.igmp_max_msf or net.ipv6.mld_max_msf", n), "upstream source filter")
	}
}

// check logs a failed kernel operation. The same failure is logged at
// warning level once an hour and at debug level in between, so a broken
// link cannot flood the log (see errorLog).
func (d *Daemon) check(err error, what string, args ...any) {
	if err == nil {
		return
	}
	args = append(args, "err", err)
	if !d.errLog.warn(errorKey(what, err), time.Now()) {
		d.log.Debug(what+" failed", args...)
		return
	}
	d.log.Warn(what+" failed", args...)
}

// warnOnce logs an operational warning the first time it applies.
func (d *Daemon) warnOnce(key, msg string, args ...any) {
	if d.warned[key] {
		return
	}
	d.warned[key] = true
	d.log.Warn(msg, args...)
}

// shutdown removes what the daemon put in the kernel: a proxy leaves its
// upstream groups so the upstream stops sending, and closing the routing
// sockets removes forwarding entries and VIFs.
func (d *Daemon) shutdown() {
	d.stopping()
	if d.ctl != nil {
		d.ctl.Close()
	}
	d.watcher.Close()
	// The last snapshot, marked clean: a restart (an upgrade, a
	// configuration switch) brings the streams back at once.
	d.saveState(d.clock.at(time.Now()), true)
	d.stopAll()
}

// next reads the next message waiting on p's socket. It reports false when
// none waits, or when the read failed (counted).
func (p *plane) next(buf []byte) (mroute.Packet, bool) {
	pkt, ok, err := p.mr.ReadWaiting(buf)
	switch {
	case err != nil && errors.Is(err, mroute.ErrMalformed):
		p.drops[dropMalformed]++ // read and gone: the next one may be fine
		return mroute.Packet{}, false
	case err != nil:
		p.waiting = false
		if errors.Is(err, os.ErrClosed) {
			return mroute.Packet{}, false
		}
		p.drops[dropReadError]++
		if p.readFailing {
			// Do not spin on a socket that stays readable and failing.
			time.Sleep(readErrorPause)
		}
		p.readFailing = true
		return mroute.Packet{}, false
	case !ok:
		p.waiting = false
		return mroute.Packet{}, false
	}
	p.readFailing = false
	p.sawKernelDrops(uint64(pkt.KernelDrops))
	return pkt, true
}

// askDrops reads the kernel's drop count of p's socket. The loop is behind
// (its batch stopped with more to read), so the kernel may be dropping what
// does not fit in the receive buffer. The messages carry the count as it
// was when each was queued, so they would tell only once the loop reached
// one queued after the first drop, a whole receive buffer later: long
// enough, under a flood, for a membership whose reports were dropped to
// expire before noteLoss holds it.
func (p *plane) askDrops() {
	if n, err := p.mr.Drops(); err == nil {
		p.sawKernelDrops(n)
	}
}

// sawKernelDrops notes a drop count of the socket, from a message or from
// the kernel; the counts only grow.
func (p *plane) sawKernelDrops(n uint64) {
	p.kernelDrops = max(p.kernelDrops, n)
}
