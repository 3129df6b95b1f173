package control

import (
	"io"

	"github.com/mcast-proxy/mcast-proxy/internal/format"
	"github.com/mcast-proxy/mcast-proxy/internal/jsonlite"
	"github.com/mcast-proxy/mcast-proxy/internal/sorted"
)

// The protocol's JSON is written by hand with jsonlite.Writer, as
// json.Marshal would write it: encoding/json's encoder, all reflection,
// costs the daemon several times more. Fields go in struct order under their
// json tag names, omitempty as the tags say. A field added to a protocol
// type must be added here too; encode_test.go fills every field of every
// type at random, compares with encoding/json and fails until it is.

func encodeRequest(r Request) ([]byte, error) {
	var w jsonlite.Writer
	w.Open('{')
	w.Key("version")
	w.Int(int64(r.Version))
	w.Key("command")
	w.String(r.Command)
	w.Close('}')
	return w.Bytes()
}

// writeResponse writes r and a newline to out as it is encoded, a few
// kilobytes at a time: a status of thousands of groups is never held whole.
// An encoding error before anything went out (the encoders' only errors
// are floats that are not numbers and times outside years 0 to 9999)
// sends a failure instead; one after that cuts the response short, which
// the client reports as a response it cannot read.
//
// fill gets the pages of a status with Pages set; nil calls Pages itself.
// A page it cannot get cuts the response short.
func writeResponse(out io.Writer, r *Response, fill func(*Page) error) error {
	send := func(r *Response) (written int64, err error) {
		w := jsonlite.Writer{Out: out}
		writeResponseJSON(&w, r, fill)
		w.Newline()
		err = w.Flush()
		return w.Written(), err
	}
	written, err := send(r)
	if err != nil && written == 0 {
		f := failure("cannot encode response: " + err.Error())
		_, err = send(&f)
	}
	return err
}

func writeResponseJSON(w *jsonlite.Writer, r *Response, fill func(*Page) error) {
	w.Open('{')
	w.Key("version")
	w.Int(int64(r.Version))
	w.Key("ok")
	w.Bool(r.OK)
	if r.Error != "" {
		w.Key("error")
		w.String(r.Error)
	}
	if len(r.Errors) > 0 {
		w.Key("errors")
		w.Strings(r.Errors)
	}
	if r.Status != nil {
		w.Key("status")
		writeStatus(w, r.Status, fill)
	}
	w.Close('}')
}

// MarshalStatus returns s as JSON, what json.MarshalIndent(s, "", indent)
// returns (json.Marshal's bytes with indent "") for s with its pages in
// their lists. The pages of s, if any, are filled by calling s.Pages.
func MarshalStatus(s *Status, indent string) ([]byte, error) {
	w := jsonlite.Writer{Indent: indent}
	writeStatus(&w, s, nil)
	return w.Bytes()
}

// pager gets the pages of one list of s, in order.
type pager struct {
	w    *jsonlite.Writer
	fill func(*Page) error
	pg   Page
}

func newPager(w *jsonlite.Writer, s *Status, fill func(*Page) error, list string, iface int) *pager {
	if fill == nil {
		fill = func(pg *Page) error {
			s.Pages.FillPage(pg)
			return nil
		}
	}
	return &pager{w: w, fill: fill, pg: Page{List: list, Interface: iface}}
}

// next gets the next page into p.pg and reports whether it has entries.
// A page it cannot get fails the writer: the document stops.
func (p *pager) next() bool {
	if p.pg.Done || p.w.Err() != nil {
		return false // nothing more goes out after an error
	}
	p.pg = Page{List: p.pg.List, Interface: p.pg.Interface, From: p.pg.Next}
	if err := p.fill(&p.pg); err != nil {
		p.w.Fail(format.Errorf("status %s: %w", p.pg.List, err))
		return false
	}
	return len(p.pg.Groups)+len(p.pg.Upstream)+len(p.pg.Routes) > 0
}

// pagedList writes a list from its pages, elem writing each page's
// entries.
func pagedList(p *pager, elem func(pg *Page)) {
	p.w.Open('[')
	for p.next() {
		elem(&p.pg)
	}
	p.w.Close(']')
}

// list writes the n elements of a slice of structs, null when the slice
// is nil. One function for all element types: a generic one is compiled
// once per type.
func list(w *jsonlite.Writer, n int, isNil bool, elem func(i int)) {
	if isNil {
		w.Null()
		return
	}
	w.Open('[')
	for i := range n {
		elem(i)
	}
	w.Close(']')
}

// counters writes a map with its keys sorted, null when nil.
func counters(w *jsonlite.Writer, m map[string]uint64) {
	if m == nil {
		w.Null()
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sorted.Strings(keys)
	w.Open('{')
	for _, k := range keys {
		w.Key(k)
		w.Uint(m[k])
	}
	w.Close('}')
}

// proxyName writes the omitempty "proxy" member of the per-instance lists.
func proxyName(w *jsonlite.Writer, name string) {
	if name != "" {
		w.Key("proxy")
		w.String(name)
	}
}

func writeStatus(w *jsonlite.Writer, s *Status, fill func(*Page) error) {
	if s == nil {
		w.Null()
		return
	}
	w.Open('{')
	w.Key("version")
	w.String(s.Version)
	w.Key("config")
	w.String(s.Config)
	w.Key("started")
	w.Time(s.Started)
	w.Key("uptime_seconds")
	w.Float(s.UptimeSeconds)
	w.Key("table")
	w.Uint(uint64(s.Table))
	w.Key("interfaces")
	list(w, len(s.Interfaces), s.Interfaces == nil, func(i int) {
		var groups *pager
		if s.Pages != nil {
			groups = newPager(w, s, fill, PageGroups, i)
		}
		writeInterface(w, &s.Interfaces[i], groups)
	})
	w.Key("upstream")
	if s.Pages != nil {
		pagedList(newPager(w, s, fill, PageUpstream, 0), func(pg *Page) {
			for i := range pg.Upstream {
				writeSubscription(w, &pg.Upstream[i])
			}
		})
	} else {
		list(w, len(s.Upstream), s.Upstream == nil, func(i int) { writeSubscription(w, &s.Upstream[i]) })
	}
	w.Key("routes")
	if s.Pages != nil {
		pagedList(newPager(w, s, fill, PageRoutes, 0), func(pg *Page) {
			for i := range pg.Routes {
				writeRoute(w, &pg.Routes[i])
			}
		})
	} else {
		list(w, len(s.Routes), s.Routes == nil, func(i int) { writeRoute(w, &s.Routes[i]) })
	}
	w.Key("counters")
	list(w, len(s.Counters), s.Counters == nil, func(i int) { writeFamilyCounters(w, &s.Counters[i]) })
	if len(s.Proxies) > 0 {
		w.Key("proxies")
		list(w, len(s.Proxies), s.Proxies == nil, func(i int) { writeProxy(w, &s.Proxies[i]) })
	}
	w.Close('}')
}

func writeProxy(w *jsonlite.Writer, p *Proxy) {
	w.Open('{')
	w.Key("name")
	w.String(p.Name)
	w.Key("table")
	w.Uint(uint64(p.Table))
	w.Key("upstream")
	w.String(p.Upstream)
	w.Key("memory_bytes")
	w.Uint(p.MemoryBytes)
	w.Key("memory_limit")
	w.Uint(p.MemoryLimit)
	w.Close('}')
}

// writeInterface writes i; its groups come from groups when not nil.
func writeInterface(w *jsonlite.Writer, i *Interface, groups *pager) {
	w.Open('{')
	proxyName(w, i.Proxy)
	w.Key("name")
	w.String(i.Name)
	w.Key("family")
	w.String(i.Family)
	w.Key("role")
	w.String(i.Role)
	w.Key("state")
	w.String(i.State)
	w.Key("ifindex")
	w.Int(int64(i.Ifindex))
	w.Key("vif")
	w.Int(int64(i.VIF))
	w.Key("addresses")
	w.Strings(i.Addresses)
	if q := i.Querier; q != nil {
		w.Key("querier")
		w.Open('{')
		w.Key("address")
		w.String(q.Address)
		w.Key("self")
		w.Bool(q.Self)
		w.Key("version")
		w.Int(int64(q.Version))
		w.Close('}')
	}
	if i.ExpiryHeld != 0 {
		w.Key("expiry_held")
		w.Float(i.ExpiryHeld)
	}
	switch {
	case groups != nil:
		// omitempty: the key only if the first page has a group.
		if groups.next() {
			w.Key("groups")
			w.Open('[')
			for ok := true; ok; ok = groups.next() {
				for k := range groups.pg.Groups {
					writeGroup(w, &groups.pg.Groups[k])
				}
			}
			w.Close(']')
		}
	case len(i.Groups) > 0:
		w.Key("groups")
		list(w, len(i.Groups), i.Groups == nil, func(k int) { writeGroup(w, &i.Groups[k]) })
	}
	if len(i.Counters) > 0 {
		w.Key("counters")
		counters(w, i.Counters)
	}
	w.Close('}')
}

func writeGroup(w *jsonlite.Writer, g *Group) {
	w.Open('{')
	w.Key("group")
	w.Addr(g.Group)
	w.Key("mode")
	w.String(g.Mode)
	if len(g.Sources) > 0 {
		w.Key("sources")
		list(w, len(g.Sources), g.Sources == nil, func(i int) {
			s := &g.Sources[i]
			w.Open('{')
			w.Key("address")
			w.Addr(s.Address)
			w.Key("expires_in")
			w.Float(s.ExpiresIn)
			w.Close('}')
		})
	}
	if len(g.Excluded) > 0 {
		w.Key("excluded")
		w.Addrs(g.Excluded)
	}
	w.Key("expires_in")
	w.Float(g.ExpiresIn)
	w.Key("compat")
	w.Int(int64(g.Compat))
	if len(g.Hosts) > 0 {
		w.Key("hosts")
		list(w, len(g.Hosts), g.Hosts == nil, func(i int) { writeHost(w, &g.Hosts[i]) })
	}
	if g.Untracked {
		w.Key("untracked")
		w.Bool(true)
	}
	w.Close('}')
}

func writeHost(w *jsonlite.Writer, h *Host) {
	w.Open('{')
	w.Key("address")
	w.Addr(h.Address)
	w.Key("mode")
	w.String(h.Mode)
	if len(h.Sources) > 0 {
		w.Key("sources")
		w.Addrs(h.Sources)
	}
	if h.SourcesOmitted != 0 {
		w.Key("sources_omitted")
		w.Int(int64(h.SourcesOmitted))
	}
	w.Key("expires_in")
	w.Float(h.ExpiresIn)
	w.Close('}')
}

func writeSubscription(w *jsonlite.Writer, s *Subscription) {
	w.Open('{')
	proxyName(w, s.Proxy)
	w.Key("family")
	w.String(s.Family)
	w.Key("interface")
	w.String(s.Interface)
	w.Key("group")
	w.Addr(s.Group)
	w.Key("mode")
	w.String(s.Mode)
	if len(s.Sources) > 0 {
		w.Key("sources")
		w.Addrs(s.Sources)
	}
	w.Close('}')
}

func writeRoute(w *jsonlite.Writer, r *Route) {
	w.Open('{')
	proxyName(w, r.Proxy)
	w.Key("family")
	w.String(r.Family)
	w.Key("source")
	w.Addr(r.Source)
	w.Key("group")
	w.Addr(r.Group)
	w.Key("input")
	w.String(r.Input)
	w.Key("outputs")
	w.Strings(r.Outputs)
	w.Key("packets")
	w.Uint(r.Packets)
	w.Key("bytes")
	w.Uint(r.Bytes)
	w.Key("wrong_if")
	w.Uint(r.WrongIf)
	w.Key("packets_per_second")
	w.Float(r.PacketsPerSecond)
	w.Key("bits_per_second")
	w.Float(r.BitsPerSecond)
	w.Close('}')
}

func writeFamilyCounters(w *jsonlite.Writer, f *FamilyCounters) {
	w.Open('{')
	proxyName(w, f.Proxy)
	w.Key("family")
	w.String(f.Family)
	w.Key("received")
	counters(w, f.Received)
	w.Key("queries_sent")
	w.Uint(f.QueriesSent)
	w.Key("dropped")
	counters(w, f.Dropped)
	w.Key("upcalls")
	w.Uint(f.Upcalls)
	w.Key("routes_added")
	w.Uint(f.RoutesAdded)
	w.Key("routes_changed")
	w.Uint(f.RoutesChanged)
	w.Key("routes_removed")
	w.Uint(f.RoutesRemoved)
	w.Close('}')
}
