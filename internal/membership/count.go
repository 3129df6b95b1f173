package membership

// NumGroups is the number of groups with state on the link; the proxy uses
// it to bound the state that reports can create.
func (r *Router) NumGroups() int { return len(r.groups) }
