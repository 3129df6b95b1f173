package daemon

import (
	"errors"
	"slices"

	"github.com/mcast-proxy/mcast-proxy/internal/config"
	"github.com/mcast-proxy/mcast-proxy/internal/mroute"
)

// rulePriority places our rules before the kernel's catch-all rule (32767),
// leaving room for the administrator's own.
const rulePriority = 1000

// wantedRules lists, with a table of our own, the multicast routing rules
// that send the configured interfaces' traffic to it, for the families in
// fams. Rules name interfaces, so they hold across links that come and go.
func wantedRules(cfg *config.Config, fams []*family) []mroute.Rule {
	if cfg.Table == 0 {
		return nil
	}
	var out []mroute.Rule
	for _, f := range fams {
		fam := 4
		if f == ipv6 {
			fam = 6
		}
		for i := range cfg.Interfaces {
			ifc := &cfg.Interfaces[i]
			if ifc.Role == config.RoleDisabled || !f.ifEnabled(ifc) {
				continue
			}
			out = append(out,
				mroute.Rule{Family: fam, Iif: ifc.Name, Table: cfg.Table, Priority: rulePriority},
				mroute.Rule{Family: fam, Oif: ifc.Name, Table: cfg.Table, Priority: rulePriority})
		}
	}
	return out
}

// diffRules returns the rules of have that want lacks, and those of want
// that have lacks.
func diffRules(have, want []mroute.Rule) (del, add []mroute.Rule) {
	for _, r := range have {
		if !slices.Contains(want, r) {
			del = append(del, r)
		}
	}
	for _, r := range want {
		if !slices.Contains(have, r) {
			add = append(add, r)
		}
	}
	return del, add
}

// syncRules brings the installed rules in line with the configuration,
// touching only those that change: deleting and re-adding an unchanged rule
// would open a window in which the interface's traffic goes to the default
// table.
func (d *Daemon) syncRules() {
	fams := make([]*family, 0, len(d.planes))
	for _, p := range d.planes {
		fams = append(fams, p.fam)
	}
	del, add := diffRules(d.rules, wantedRules(d.cfg, fams))
	for _, r := range del {
		d.check(mroute.DelRule(r), "remove multicast routing rule", "interface", r.Iif+r.Oif, "table", r.Table)
		d.rules = slices.DeleteFunc(d.rules, func(x mroute.Rule) bool { return x == r })
	}
	for _, r := range add {
		if err := mroute.AddRule(r); err != nil {
			d.check(err, "add multicast routing rule", "interface", r.Iif+r.Oif, "table", r.Table)
			continue
		}
		d.rules = append(d.rules, r)
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
