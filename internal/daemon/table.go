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

// ruleProtocol marks the rules mcast-proxy installs (FRA_PROTOCOL, shown by
// `ip mrule` as "proto 77"), so that a restart after a crash finds those
// left behind. It is none of the routing protocol numbers iproute2 names.
const ruleProtocol = 77

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
				mroute.Rule{Family: fam, Iif: ifc.Name, Table: cfg.Table, Priority: rulePriority, Protocol: ruleProtocol},
				mroute.Rule{Family: fam, Oif: ifc.Name, Table: cfg.Table, Priority: rulePriority, Protocol: ruleProtocol})
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

// rulesOf lists the rules an instance configuration wants, for the
// families it puts in service.
func rulesOf(cfg *config.Config) []mroute.Rule {
	var fams []*family
	for _, f := range families {
		if f.enabled(cfg) {
			fams = append(fams, f)
		}
	}
	return wantedRules(cfg, fams)
}

// sweepRules removes the rules a previous run left behind, recognised by
// our protocol marker, that none of cfgs wants: after a crash (SIGKILL, a
// power cut) nothing removed them, and a rule for an interface no longer
// ours would send its multicast to a table nobody serves. Rules still
// wanted stay, so their interfaces' traffic never falls back to the
// default table in between.
func (d *Daemon) sweepRules(cfgs []*config.Config) {
	var want []mroute.Rule
	for _, c := range cfgs {
		want = append(want, rulesOf(c)...)
	}
	have, err := d.listRules()
	if err != nil {
		d.check(err, "list multicast routing rules")
		return
	}
	// Only rules with our marker are ours to remove.
	have = slices.DeleteFunc(have, func(r mroute.Rule) bool { return r.Protocol != ruleProtocol })
	stale, _ := diffRules(have, want)
	for _, r := range stale {
		d.log.Info("removing a multicast routing rule left by an earlier run", "rule", r.String())
		d.check(d.ruleDel(r), "remove multicast routing rule", "interface", r.Iif+r.Oif, "table", r.Table)
	}
}

// syncRules brings the instance's installed rules in line with its
// configuration, touching only those that change: deleting and re-adding
// an unchanged rule would open a window in which the interface's traffic
// goes to the default table.
func (d *Daemon) syncRules(in *instance) {
	fams := make([]*family, 0, len(in.planes))
	for _, p := range in.planes {
		fams = append(fams, p.fam)
	}
	del, add := diffRules(in.rules, wantedRules(in.cfg, fams))
	for _, r := range del {
		d.check(d.ruleDel(r), "remove multicast routing rule", "interface", r.Iif+r.Oif, "table", r.Table)
		in.rules = slices.DeleteFunc(in.rules, func(x mroute.Rule) bool { return x == r })
	}
	for _, r := range add {
		if err := d.ruleAdd(r); err != nil {
			d.check(err, "add multicast routing rule", "interface", r.Iif+r.Oif, "table", r.Table)
			continue
		}
		in.rules = append(in.rules, r)
	}
}

func (d *Daemon) delRules(in *instance) {
	var errs []error
	for _, r := range in.rules {
		errs = append(errs, d.ruleDel(r))
	}
	in.rules = nil
	if err := errors.Join(errs...); err != nil {
		d.log.Warn("removing multicast routing rules", "err", err)
	}
}

// The kernel edge of rules: mroute's, unless a test wired in a fake.
func (d *Daemon) ruleAdd(r mroute.Rule) error {
	if d.addRule != nil {
		return d.addRule(r)
	}
	return mroute.AddRule(r)
}

func (d *Daemon) ruleDel(r mroute.Rule) error {
	if d.delRule != nil {
		return d.delRule(r)
	}
	return mroute.DelRule(r)
}

// listRules returns the rules of both families that carry our marker.
func (d *Daemon) listRules() ([]mroute.Rule, error) {
	if d.findRules != nil {
		return d.findRules()
	}
	var out []mroute.Rule
	for _, fam := range []int{4, 6} {
		rs, err := mroute.Rules(fam, ruleProtocol)
		if errors.Is(err, errors.ErrUnsupported) {
			continue
		}
		if err != nil {
			return out, err
		}
		out = append(out, rs...)
	}
	return out, nil
}
