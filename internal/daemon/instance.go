package daemon

import (
	"errors"
	"slices"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/config"
	"github.com/mcast-proxy/mcast-proxy/internal/format"
	"github.com/mcast-proxy/mcast-proxy/internal/linkwatch"
	"github.com/mcast-proxy/mcast-proxy/internal/membership"
	"github.com/mcast-proxy/mcast-proxy/internal/mroute"
)

// instance is one proxy instance: its configuration, a routing socket per
// family on its own multicast routing table, the upstream it chose and the
// subscription there, the rules that send its interfaces to its table, and
// its share of the memory budget. Instances share nothing but the loop, the
// link snapshot and the daemon's total budget, so a change to one never
// touches another's streams.
type instance struct {
	// cfg is the instance's configuration with its table filled in: a
	// named instance without one has the table the daemon chose.
	cfg    *config.Config
	planes []*plane

	// The upstream subscription of both families; nil while no upstream
	// interface is in service.
	sub   joiner
	up    activeUpstream // the active upstream
	rules []mroute.Rule
	// budget is the state budget the instance's downstreams of both
	// families share (its max-memory-total), within the daemon's total.
	budget  *membership.Budget
	checkAt time.Time // next operational check (upstream queries heard)
}

// activeUpstream is the instance's active upstream (RFC 4605 has exactly
// one), the one value every reader goes through. selectUpstream alone sets
// it, at every reconciliation, resolving the choice to its configuration
// and its link as last seen; reconcileInstance then sets the copies the
// kernel edge needs (the joiner's ifindex, each brain's upstream Link and
// VIF) from it.
type activeUpstream struct {
	name  string            // "" if none
	since time.Time         // when it went into service
	cfg   *config.Interface // its configuration; nil if none
	link  linkwatch.Link    // its link; valid when cfg is not nil
}

// label names the instance in logs and errors: "" for the default one.
func (in *instance) label() string { return in.cfg.Name }

// warnKey makes a warnOnce key particular to the instance.
func (in *instance) warnKey(key string) string { return key + "\x00" + in.cfg.Name }

func (in *instance) plane(fam *family) *plane {
	for _, p := range in.planes {
		if p.fam == fam {
			return p
		}
	}
	return nil
}

// instanceConfigs returns the instances of cfg with their tables filled
// in. A named instance without a table keeps the one it had in old (so a
// reload does not move it), else gets the lowest free one of the automatic
// range.
func instanceConfigs(cfg *config.Config, old []*instance) ([]*config.Config, error) {
	ins := cfg.Instances()
	used := map[uint32]bool{}
	for _, in := range ins {
		if in.Table != 0 {
			used[in.Table] = true
		}
	}
	had := map[string]uint32{}
	for _, o := range old {
		had[o.cfg.Name] = o.cfg.Table
	}
	// Kept tables first, so that a new instance earlier in the file does
	// not take the table of one later that already has it.
	keep := map[string]uint32{}
	for _, in := range ins {
		if t, ok := had[in.Name]; ok && in.Name != "" && in.Table == 0 &&
			t >= config.AutoTableFirst && t <= config.AutoTableLast && !used[t] {
			keep[in.Name], used[t] = t, true
		}
	}
	next := uint32(config.AutoTableFirst)
	out := make([]*config.Config, len(ins))
	for i, in := range ins {
		out[i] = in
		if in.Name == "" || in.Table != 0 {
			continue
		}
		c := *in
		if t, ok := keep[in.Name]; ok {
			c.Table = t
		} else {
			for next <= config.AutoTableLast && used[next] {
				next++
			}
			if next > config.AutoTableLast {
				return nil, format.Errorf("proxy %q: no free table left in %d..%d", in.Name, config.AutoTableFirst, config.AutoTableLast)
			}
			c.Table = next
			used[next] = true
		}
		out[i] = &c
	}
	return out, nil
}

// openInstance opens the routing sockets of a new instance. Nothing is in
// service yet; on error nothing stays open.
func (d *Daemon) openInstance(cfg *config.Config) (*instance, error) {
	in := &instance{cfg: cfg, budget: membership.NewBudgetWithin(int64(cfg.MaxMemoryTotal), d.budget)}
	for _, fam := range families {
		if !fam.enabled(cfg) {
			continue
		}
		p, err := d.openPlane(in, fam)
		if err != nil {
			d.closePlanes(in.planes)
			return nil, in.wrap(err)
		}
		in.planes = append(in.planes, p)
	}
	if len(in.planes) == 0 {
		return nil, in.wrap(errors.New("no address family has both an upstream and a downstream interface"))
	}
	return in, nil
}

// wrap names a named instance in an error.
func (in *instance) wrap(err error) error {
	if in.cfg.Name == "" {
		return err
	}
	return format.Errorf("proxy %q: %w", in.cfg.Name, err)
}

// stopInstance releases everything the instance holds in the kernel:
// its upstream groups, its routing sockets (and with them its forwarding
// entries and VIFs) and its rules.
func (d *Daemon) stopInstance(in *instance) {
	if in.sub != nil {
		d.check(in.sub.Close(), "leave upstream groups")
		in.sub = nil
	}
	d.closePlanes(in.planes)
	in.planes = nil
	d.delRules(in)
}

// instance returns the running instance of that name.
func (d *Daemon) instance(name string) *instance {
	i := slices.IndexFunc(d.insts, func(in *instance) bool { return in.cfg.Name == name })
	if i < 0 {
		return nil
	}
	return d.insts[i]
}

// allPlanes lists the planes of every instance.
func (d *Daemon) allPlanes() []*plane {
	var out []*plane
	for _, in := range d.insts {
		out = append(out, in.planes...)
	}
	return out
}

// otherInstanceHas reports whether another instance's plane of p's family
// has the interface ifindex in service.
func (d *Daemon) otherInstanceHas(p *plane, ifindex int) bool {
	for _, in := range d.insts {
		if in == p.in {
			continue
		}
		if q := in.plane(p.fam); q != nil {
			if _, ok := q.links[ifindex]; ok {
				return true
			}
		}
	}
	return false
}
