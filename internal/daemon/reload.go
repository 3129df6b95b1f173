package daemon

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/config"
	"github.com/mcast-proxy/mcast-proxy/internal/upstream"
)

// reload re-reads the configuration file. An invalid file changes nothing:
// the daemon keeps running on the old configuration and the errors are
// returned (and logged with their positions). A valid one is applied as a
// difference through the same reconciliation as link changes, so streams
// that the change does not touch keep flowing.
func (d *Daemon) reload() error {
	load := d.opts.Load
	if load == nil {
		load = config.Load
	}
	cfg, err := load(d.cfg.File)
	if err != nil {
		return err
	}
	return d.apply(cfg)
}

// reloadAndLog reloads and logs every configuration error with its
// position.
func (d *Daemon) reloadAndLog() []string {
	err := d.reload()
	if err == nil {
		return nil
	}
	lines := errorLines(err)
	for _, l := range lines {
		d.log.Error("reload failed; keeping the running configuration", "err", l)
	}
	return lines
}

// errorLines splits a configuration error into its file:line:col lines.
func errorLines(err error) []string {
	var errs config.Errors
	if errors.As(err, &errs) {
		lines := make([]string, len(errs))
		for i, e := range errs {
			lines[i] = e.Error()
		}
		return lines
	}
	return []string{err.Error()}
}

func (d *Daemon) apply(cfg *config.Config) error {
	old := d.cfg
	now := time.Now()
	if cfg.Table != old.Table {
		// A routing table belongs to the socket that initialised it: moving
		// to another one means new sockets. They are opened before the old
		// ones close, so a table that cannot be had leaves everything as
		// it was and the answer "not reloaded" is true.
		planes, err := d.openPlanes(cfg)
		if err != nil {
			return fmt.Errorf("opening table %d: %w", cfg.Table, err)
		}
		d.log.Warn("the routing table changed: moving to new routing sockets (streams pause briefly)", "from", old.Table, "to", cfg.Table)
		d.stopAll()
		d.cfg, d.planes = cfg, planes
		d.budget.SetLimit(int64(cfg.MaxMemoryTotal))
		d.syncRules()
		d.upName = ""
		d.reconcile(now)
		d.log.Info("configuration reloaded", "file", cfg.File)
		return nil
	}
	d.cfg = cfg
	d.budget.SetLimit(int64(cfg.MaxMemoryTotal))
	// Families switched off close their sockets and leave their upstream
	// groups; families switched on open theirs. The others keep everything
	// they have.
	keep := d.planes[:0]
	for _, p := range d.planes {
		if p.fam.enabled(cfg) {
			keep = append(keep, p)
			continue
		}
		p.log.Info("address family disabled")
		if d.sub != nil {
			d.check(leaveFamily(d.sub, p.fam.is), "leave upstream groups", "family", p.fam.name)
		}
		closePlanes([]*plane{p})
	}
	d.planes = keep
	for _, fam := range families {
		if !fam.enabled(cfg) || d.plane(fam) != nil {
			continue
		}
		p, err := d.openPlane(fam, cfg.Table)
		if err != nil {
			d.check(err, "enable address family", "family", fam.name)
			continue
		}
		d.planes = append(d.planes, p)
	}
	d.syncRules()
	d.reconcile(now)
	d.log.Info("configuration reloaded", "file", cfg.File)
	return nil
}

func (d *Daemon) plane(fam *family) *plane {
	for _, p := range d.planes {
		if p.fam == fam {
			return p
		}
	}
	return nil
}

// stopAll releases everything the daemon holds in the kernel but the link
// watcher.
func (d *Daemon) stopAll() {
	if d.sub != nil {
		d.check(d.sub.Close(), "leave upstream groups")
		d.sub = nil
	}
	d.closePlanes()
	d.delRules()
}

// groupSubscriber is the part of the upstream subscription leaveFamily
// needs.
type groupSubscriber interface {
	Groups() []netip.Addr
	Set(group netip.Addr, f upstream.Filter) error
}

// leaveFamily leaves every upstream group of one family: with the family
// disabled nobody will ask for them again, and the upstream would keep
// sending until restart.
func leaveFamily(s groupSubscriber, is func(netip.Addr) bool) error {
	var errs []error
	for _, g := range s.Groups() {
		if is(g) {
			errs = append(errs, s.Set(g, upstream.Filter{Mode: upstream.Include}))
		}
	}
	return errors.Join(errs...)
}
