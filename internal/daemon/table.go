package daemon

import (
	"errors"

	"github.com/mcast-proxy/mcast-proxy/internal/config"
	"github.com/mcast-proxy/mcast-proxy/internal/mroute"
)

// rulePriority places our rules before the kernel's catch-all rule (32767),
// leaving room for the administrator's own.
const rulePriority = 1000

// addRules installs, with a table of our own, the multicast routing rules
// that send the configured interfaces' traffic to it. Rules name interfaces,
// so they hold across links that come and go.
func (d *Daemon) addRules() {
	if d.cfg.Table == 0 {
		return
	}
	for _, p := range d.planes {
		fam := 4
		if p.fam == ipv6 {
			fam = 6
		}
		for i := range d.cfg.Interfaces {
			ifc := &d.cfg.Interfaces[i]
			if ifc.Role == config.RoleDisabled || !p.fam.ifEnabled(ifc) {
				continue
			}
			for _, r := range []mroute.Rule{
				{Family: fam, Iif: ifc.Name, Table: d.cfg.Table, Priority: rulePriority},
				{Family: fam, Oif: ifc.Name, Table: d.cfg.Table, Priority: rulePriority},
			} {
				if err := mroute.AddRule(r); err != nil {
					d.check(err, "add multicast routing rule", "interface", ifc.Name, "table", d.cfg.Table)
					continue
				}
				d.rules = append(d.rules, r)
			}
		}
	}
}

func (d *Daemon) delRules() {
	var errs []error
	for _, r := range d.rules {
		errs = append(errs, mroute.DelRule(r))
	}
	d.rules = nil
	if err := errors.Join(errs...); err != nil {
		d.log.Warn("removing multicast routing rules", "err", err)
	}
}
