package config

import "slices"

// Delta is what changed between two configurations, for applying a reload
// without disturbing what stayed the same.
type Delta struct {
	// Added are interfaces only in the new configuration, in its file
	// order; Removed are those only in the old one, in the old file order.
	Added, Removed []string
	// Changed are interfaces in both whose settings differ (Interface.Equal),
	// in the new file order. A change of role is a change.
	Changed []string
	// Global says that ipv4, ipv6 or table changed.
	Global bool
	// Order says that the upstream failover order, the names Upstreams
	// returns, differs. It is also set by a reload that only swaps two
	// upstreams of equal priority in the file, which changes no interface.
	Order bool
}

// Compare returns the difference from old to new. Both must be valid
// configurations (as Parse returns them).
func Compare(old, new *Config) Delta {
	var d Delta
	d.Global = old.IPv4 != new.IPv4 || old.IPv6 != new.IPv6 || old.Table != new.Table || old.MaxMemoryTotal != new.MaxMemoryTotal
	before := make(map[string]*Interface, len(old.Interfaces))
	for i := range old.Interfaces {
		before[old.Interfaces[i].Name] = &old.Interfaces[i]
	}
	after := make(map[string]bool, len(new.Interfaces))
	for _, n := range new.Interfaces {
		after[n.Name] = true
		switch o, ok := before[n.Name]; {
		case !ok:
			d.Added = append(d.Added, n.Name)
		case !o.Equal(n):
			d.Changed = append(d.Changed, n.Name)
		}
	}
	for _, o := range old.Interfaces {
		if !after[o.Name] {
			d.Removed = append(d.Removed, o.Name)
		}
	}
	d.Order = !slices.Equal(upstreamNames(old), upstreamNames(new))
	return d
}

func upstreamNames(c *Config) []string {
	var names []string
	for _, u := range c.Upstreams() {
		names = append(names, u.Name)
	}
	return names
}
