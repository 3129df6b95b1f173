package daemon

import (
	"errors"
	"fmt"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/config"
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
		// to another one means closing ours, which flushes its entries.
		d.log.Warn("the routing table changed: reopening the routing sockets (streams pause briefly)", "from", old.Table, "to", cfg.Table)
		d.stopAll()
		d.cfg = cfg
		if err := d.openPlanes(); err != nil {
			return fmt.Errorf("reopening with table %d: %w", cfg.Table, err)
		}
		d.addRules()
		d.upName = ""
		d.reconcile(now)
		d.log.Info("configuration reloaded", "file", cfg.File)
		return nil
	}
	d.cfg = cfg
	// Families switched off close their sockets; families switched on open
	// theirs. The others keep everything they have.
	keep := d.planes[:0]
	for _, p := range d.planes {
		if p.fam.enabled(cfg) {
			keep = append(keep, p)
			continue
		}
		p.log.Info("address family disabled")
		p.mr.Close()
		<-p.readerDone
	}
	d.planes = keep
	for _, fam := range families {
		if !fam.enabled(cfg) || d.plane(fam) != nil {
			continue
		}
		p, err := d.openPlane(fam)
		if err != nil {
			d.check(err, "enable address family", "family", fam.name)
			continue
		}
		d.planes = append(d.planes, p)
	}
	if d.cfg.Table != 0 {
		d.delRules()
		d.addRules()
	}
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
