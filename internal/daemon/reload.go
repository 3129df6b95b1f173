package daemon

import (
	"errors"
	"net/netip"
	"slices"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/config"
	"github.com/mcast-proxy/mcast-proxy/internal/format"
	"github.com/mcast-proxy/mcast-proxy/internal/logx"
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

// apply puts a valid configuration in force as a difference, instance by
// instance: an instance only in the new configuration starts, one only in
// the old stops, one whose table changed moves to new sockets, and one in
// both is changed in place, so the streams of instances the change does
// not touch keep flowing. Every socket a new or moved instance needs is
// opened before anything is stopped: a table that cannot be had leaves
// everything as it was, and the answer "not reloaded" is true.
func (d *Daemon) apply(cfg *config.Config) error {
	now := time.Now()
	cfgs, err := instanceConfigs(cfg, d.insts)
	if err != nil {
		return err
	}
	opened := map[string]*instance{}
	// A table still held by another running instance (renamed, removed,
	// or moving elsewhere) is opened once that one has let go of it.
	var later []*config.Config
	for _, c := range cfgs {
		if old := d.instance(c.Name); old != nil && old.cfg.Table == c.Table {
			continue
		}
		if c.Table != 0 && slices.ContainsFunc(d.insts, func(o *instance) bool { return o.cfg.Table == c.Table && o.cfg.Name != c.Name }) {
			later = append(later, c)
			continue
		}
		in, err := d.openInstance(c)
		if err != nil {
			for _, o := range opened {
				d.stopInstance(o)
			}
			return format.Errorf("opening table %d: %w", c.Table, err)
		}
		opened[c.Name] = in
	}
	// Instances that end, or move to another table, release their
	// interfaces before the new ones take them.
	var keep []*instance
	for _, old := range d.insts {
		c := cfgByName(cfgs, old.cfg.Name)
		switch {
		case c == nil:
			d.instanceLog(old).Info("proxy instance removed")
			d.stopInstance(old)
		case opened[c.Name] != nil || slices.Contains(later, c) || slices.ContainsFunc(later, func(l *config.Config) bool { return l.Table == old.cfg.Table }):
			d.instanceLog(old).Warn("the routing table changed: moving to new routing sockets (streams pause briefly)", "from", old.cfg.Table, "to", c.Table)
			d.stopInstance(old)
		default:
			keep = append(keep, old)
		}
	}
	for _, c := range later {
		in, err := d.openInstance(c)
		if err != nil {
			// What it replaced is gone already: the other instances
			// go on, and the log says why this one does not.
			d.check(format.Errorf("opening table %d: %w", c.Table, err), "start proxy instance", "proxy", c.Name)
			continue
		}
		opened[c.Name] = in
	}
	d.cfg = cfg
	d.budget.SetLimit(int64(cfg.MaxMemoryTotal))
	for _, in := range keep {
		d.applyInstance(in, cfgByName(cfgs, in.cfg.Name))
	}
	// The instances in configuration order, the new ones in place.
	d.insts = d.insts[:0]
	for _, c := range cfgs {
		if in := opened[c.Name]; in != nil {
			if !slices.Contains(keep, in) {
				d.instanceLog(in).Info("proxy instance started", "table", c.Table)
			}
			d.insts = append(d.insts, in)
			d.syncRules(in)
			continue
		}
		for _, k := range keep {
			if k.cfg.Name == c.Name {
				d.insts = append(d.insts, k)
			}
		}
	}
	d.reconcile(now)
	d.log.Info("configuration reloaded", "file", cfg.File)
	return nil
}

// applyInstance changes a running instance, on the same table, to cfg.
// Families switched off close their sockets and leave their upstream
// groups; families switched on open theirs. The others keep everything
// they have; reconcile then applies the interfaces' differences.
func (d *Daemon) applyInstance(in *instance, cfg *config.Config) {
	in.cfg = cfg
	in.budget.SetLimit(int64(cfg.MaxMemoryTotal))
	var keep []*plane
	for _, p := range in.planes {
		if p.fam.enabled(cfg) {
			keep = append(keep, p)
			continue
		}
		p.log.Info("address family disabled")
		if in.sub != nil {
			d.check(leaveFamily(in.sub, p.fam.is), "leave upstream groups", "family", p.fam.name)
		}
		d.closePlanes([]*plane{p})
	}
	in.planes = keep
	for _, fam := range families {
		if !fam.enabled(cfg) || in.plane(fam) != nil {
			continue
		}
		p, err := d.openPlane(in, fam)
		if err != nil {
			d.check(err, "enable address family", "family", fam.name)
			continue
		}
		in.planes = append(in.planes, p)
	}
	d.syncRules(in)
}

func cfgByName(cfgs []*config.Config, name string) *config.Config {
	for _, c := range cfgs {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// instanceLog is the daemon's logger, naming a named instance.
func (d *Daemon) instanceLog(in *instance) *logx.Logger {
	if in.cfg.Name == "" {
		return d.log
	}
	return d.log.With("proxy", in.cfg.Name)
}

// plane returns the default (or only) instance's plane of a family.
func (d *Daemon) plane(fam *family) *plane {
	if len(d.insts) == 0 {
		return nil
	}
	return d.insts[0].plane(fam)
}

// stopAll releases everything the daemon holds in the kernel but the link
// watcher.
func (d *Daemon) stopAll() {
	for _, in := range d.insts {
		d.stopInstance(in)
	}
	d.insts = nil
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
