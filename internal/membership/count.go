package membership

// NumGroups is the number of groups with state on the link; the proxy uses
// it to bound the state that reports can create.
func (r *Router) NumGroups() int { return len(r.groups) }

// Stats counts what the limits refused since the router was made. A
// refusal never grows state: the counters are how an operator sees a flood
// or a limit set too low.
type Stats struct {
	// GroupLimit counts records ignored because they would have created a
	// group beyond Config.MaxGroups.
	GroupLimit uint64
	// SourceLimit counts sources not added to a group's list, or trimmed
	// from a host's list, because of Config.MaxSources.
	SourceLimit uint64
	// HostLimit counts reports from a host not tracked because its group
	// already tracked maxHosts hosts.
	HostLimit uint64
}

// Stats returns the refusal counters.
func (r *Router) Stats() Stats { return r.stats }
