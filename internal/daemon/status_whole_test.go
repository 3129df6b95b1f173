package daemon

import (
	"slices"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/control"
)

// status builds the whole answer to a status request at now, every page
// filled in: what the server's paged answer writes, in one value, for
// tests to look at and compare with the pages.
func (d *Daemon) status(now time.Time) *control.Status {
	st, pages := d.statusHead(now)
	pages.now = func() time.Time { return now }
	for i := range st.Interfaces {
		if gk, ok := pages.groups[i]; ok {
			st.Interfaces[i].Groups = make([]control.Group, 0, len(gk.keys))
			st.Interfaces[i].Groups = allPages(pages, control.PageGroups, i, st.Interfaces[i].Groups, func(pg *control.Page) []control.Group { return pg.Groups })
		}
	}
	nsubs, nroutes := 0, 0
	for _, seg := range pages.upstream {
		nsubs += len(seg.keys)
	}
	for _, seg := range pages.routes {
		nroutes += len(seg.keys)
	}
	st.Upstream = allPages(pages, control.PageUpstream, 0, make([]control.Subscription, 0, nsubs), func(pg *control.Page) []control.Subscription { return pg.Upstream })
	st.Routes = allPages(pages, control.PageRoutes, 0, make([]control.Route, 0, nroutes), func(pg *control.Page) []control.Route { return pg.Routes })
	return st
}

// allPages appends the entries of every page of one list to out, each a
// copy of its own: a page's lists are valid only until the next page.
func allPages[T any](pages *statusPages, list string, iface int, out []T, entries func(*control.Page) []T) []T {
	pg := control.Page{List: list, Interface: iface}
	for {
		pages.FillPage(&pg)
		for _, e := range entries(&pg) {
			out = append(out, deepCopy(e))
		}
		if pg.Done {
			return out
		}
		pg = control.Page{List: list, Interface: iface, From: pg.Next}
	}
}

// deepCopy copies the lists inside a status entry.
func deepCopy[T any](e T) T {
	switch x := any(&e).(type) {
	case *control.Group:
		x.Sources = slices.Clone(x.Sources)
		x.Excluded = slices.Clone(x.Excluded)
		x.Hosts = slices.Clone(x.Hosts)
		for i := range x.Hosts {
			x.Hosts[i].Sources = slices.Clone(x.Hosts[i].Sources)
		}
	case *control.Subscription:
		x.Sources = slices.Clone(x.Sources)
	case *control.Route:
		x.Outputs = slices.Clone(x.Outputs)
	}
	return e
}
