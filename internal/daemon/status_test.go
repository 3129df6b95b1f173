package daemon

import (
	"maps"
	"net/netip"
	"testing"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/control"
	"github.com/mcast-proxy/mcast-proxy/internal/igmp"
	"github.com/mcast-proxy/mcast-proxy/internal/linkwatch"
	"github.com/mcast-proxy/mcast-proxy/internal/membership"
	"github.com/mcast-proxy/mcast-proxy/internal/mroute"
)

// TestStatusBoundsHostSources: status is built inside the event loop, so
// a host's long source list is cut to statusHostSources addresses, with
// the count of the others.
func TestStatusBoundsHostSources(t *testing.T) {
	var srcs []netip.Addr
	for i := range 128 {
		srcs = append(srcs, netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}))
	}
	now := time.Unix(1000, 0)
	g := membership.GroupState{Group: netip.MustParseAddr("232.1.1.1"), Mode: membership.Include, Include: srcs,
		Hosts: []membership.Host{{Addr: netip.MustParseAddr("192.168.1.11"), Mode: membership.Include, Sources: srcs, Expires: now.Add(time.Minute)}}}
	cg := groupStatus(g, nil, now, nil)
	h := cg.Hosts[0]
	if len(h.Sources) != statusHostSources || h.SourcesOmitted != 128-statusHostSources || h.Sources[0] != netip.AddrFrom4([4]byte{10, 0, 0, 0}) {
		t.Errorf("host sources: %d shown (first %s), %d omitted; want %d, 10.0.0.0, %d", len(h.Sources), h.Sources[0], h.SourcesOmitted, statusHostSources, 128-statusHostSources)
	}
	if len(cg.Sources) != 128 {
		t.Errorf("the group's own list shows %d sources, want all 128", len(cg.Sources))
	}
}

// TestStatusSocketOverflow: what the kernel dropped on a routing socket
// shows among the family's dropped counters, and nothing while it is zero.
func TestStatusSocketOverflow(t *testing.T) {
	r := newRig(t, wanConf, []linkwatch.Link{wanUp, lanUp})
	counters := func() map[string]uint64 {
		st := r.d.status(time.Now())
		if len(st.Counters) != 1 {
			t.Fatalf("%d families in status, want 1", len(st.Counters))
		}
		return st.Counters[0].Dropped
	}
	if n, ok := counters()["socket_overflow"]; ok {
		t.Errorf("socket_overflow = %d before any drop, want it absent", n)
	}
	r.fams["ipv4"].drops = 42
	if n := counters()["socket_overflow"]; n != 42 {
		t.Errorf("socket_overflow = %d, want 42", n)
	}
}

// countingPages counts the pages asked of a status answer.
type countingPages struct {
	control.StatusPages
	fills map[string]int
}

func (c *countingPages) FillPage(pg *control.Page) {
	c.fills[pg.List]++
	c.StatusPages.FillPage(pg)
}

// TestPagedStatusIsTheWholeStatus: the answer the server writes page by
// page is the document of the whole status, and its lists of 200 groups,
// subscriptions and routes come in pages of statusPageSize.
func TestPagedStatusIsTheWholeStatus(t *testing.T) {
	d, br, _ := reportBenchDaemon(t)
	br.keep = true
	joinGroups(t, d, 200)
	now := time.Now()
	whole := d.status(now)
	// Every entry, once: the pages that built the whole status, too.
	if len(whole.Interfaces) != 2 || len(whole.Interfaces[1].Groups) != 200 || len(whole.Upstream) != 200 || len(whole.Routes) != 200 {
		t.Fatalf("whole status: %d interfaces, %d groups, %d subscriptions, %d routes; want 2 and 200 of each",
			len(whole.Interfaces), len(whole.Interfaces[1].Groups), len(whole.Upstream), len(whole.Routes))
	}
	for i, r := range whole.Routes {
		if want := netip.AddrFrom4([4]byte{239, 20, 0, byte(i)}); r.Group != want || whole.Upstream[i].Group != want || whole.Interfaces[1].Groups[i].Group != want {
			t.Fatalf("entry %d: route %s, subscription %s, group %s; want %s in each", i, r.Group, whole.Upstream[i].Group, whole.Interfaces[1].Groups[i].Group, want)
		}
	}
	want, err := control.MarshalStatus(whole, "")
	if err != nil {
		t.Fatal(err)
	}
	st := d.pagedStatus(now, func() time.Time { return now })
	pages := &countingPages{StatusPages: st.Pages, fills: map[string]int{}}
	st.Pages = pages
	if len(st.Upstream)+len(st.Routes) != 0 || len(st.Interfaces) != 2 || len(st.Interfaces[1].Groups) != 0 {
		t.Fatalf("the paged answer holds lists: %d subscriptions, %d routes, %d interfaces", len(st.Upstream), len(st.Routes), len(st.Interfaces))
	}
	got, err := control.MarshalStatus(st, "")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		i := 0
		for i < min(len(got), len(want)) && got[i] == want[i] {
			i++
		}
		t.Fatalf("paged status differs from the whole one at byte %d of %d:\n got …%.200s\nwant …%.200s", i, len(want), got[i:], want[i:])
	}
	pagesOf := (200 + statusPageSize - 1) / statusPageSize
	// The groups of both interfaces: the upstream has none, one empty page.
	if w := map[string]int{control.PageGroups: pagesOf + 1, control.PageUpstream: pagesOf, control.PageRoutes: pagesOf}; !maps.Equal(pages.fills, w) {
		t.Errorf("pages asked for: %v, want %v", pages.fills, w)
	}
}

// TestStatusPagesFollowTheState: a page shows the state when it is built:
// groups left after the answer began are not in later pages, and a page of
// a plane that closed meanwhile (a reload) ends its lists.
func TestStatusPagesFollowTheState(t *testing.T) {
	d, br, _ := reportBenchDaemon(t)
	br.keep = true
	joinGroups(t, d, 200)
	st := d.pagedStatus(time.Now(), time.Now)
	groups := control.Page{List: control.PageGroups, Interface: 1}
	st.Pages.FillPage(&groups)
	if len(groups.Groups) != statusPageSize || groups.Done {
		t.Fatalf("first page: %d groups, done %v; want %d and more", len(groups.Groups), groups.Done, statusPageSize)
	}
	// The last 50 groups leave.
	p := d.allPlanes()[0]
	for i := 150; i < 200; i++ {
		grp := netip.AddrFrom4([4]byte{239, 20, byte(i >> 8), byte(i)})
		payload, err := (&igmp.Leave{Group: grp}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		d.handle(event{plane: p, at: time.Now(), pkt: mroute.Packet{Ifindex: lanUp.Index, Src: netip.MustParseAddr(lanHost),
			Dst: netip.MustParseAddr("224.0.0.2"), TTL: 1, RouterAlert: true, Payload: payload}})
	}
	seen := len(groups.Groups)
	for !groups.Done {
		groups = control.Page{List: control.PageGroups, Interface: 1, From: groups.Next}
		st.Pages.FillPage(&groups)
		seen += len(groups.Groups)
	}
	if seen != 150 {
		t.Errorf("%d groups in the pages, want the 150 still joined", seen)
	}
	// The routes too are looked up as each page is built: those of the
	// groups that left forward nowhere now.
	routes := control.Page{List: control.PageRoutes}
	n := 0
	for {
		st.Pages.FillPage(&routes)
		for _, r := range routes.Routes {
			want := 1
			if n >= 150 {
				want = 0
			}
			if len(r.Outputs) != want {
				t.Errorf("route %d (%s): outputs %v, want %d", n, r.Group, r.Outputs, want)
			}
			n++
		}
		if routes.Done {
			break
		}
		routes = control.Page{List: control.PageRoutes, From: routes.Next}
	}
	if n != 200 {
		t.Errorf("%d routes in the pages, want 200", n)
	}
	st = d.pagedStatus(time.Now(), time.Now)
	routes = control.Page{List: control.PageRoutes}
	st.Pages.FillPage(&routes)
	if len(routes.Routes) != statusPageSize {
		t.Fatalf("first page of routes: %d, want %d", len(routes.Routes), statusPageSize)
	}
	p.closed = true
	routes = control.Page{List: control.PageRoutes, From: routes.Next}
	st.Pages.FillPage(&routes)
	if len(routes.Routes) != 0 || !routes.Done {
		t.Errorf("after the plane closed: %d routes, done %v; want none and done", len(routes.Routes), routes.Done)
	}
	p.closed = false // as it was, for the cleanup
}

// TestStatusPagesAllocateNothing: once an answer's first pages have made
// their room, a page of groups, subscriptions or routes builds its entries
// in that room, so an answer of a thousand groups allocates its keys and
// little else.
func TestStatusPagesAllocateNothing(t *testing.T) {
	d, br, _ := reportBenchDaemon(t)
	br.keep = true
	joinGroups(t, d, 3*statusPageSize)
	st := d.pagedStatus(time.Now(), time.Now)
	for _, c := range []struct {
		list  string
		iface int
	}{{control.PageGroups, 1}, {control.PageUpstream, 0}, {control.PageRoutes, 0}} {
		pg := control.Page{List: c.list, Interface: c.iface}
		st.Pages.FillPage(&pg) // makes the room
		allocs := testing.AllocsPerRun(5, func() {
			pg = control.Page{List: c.list, Interface: c.iface, From: statusPageSize}
			st.Pages.FillPage(&pg)
		})
		if n := len(pg.Groups) + len(pg.Upstream) + len(pg.Routes); n != statusPageSize {
			t.Fatalf("%s: a page of %d entries, want %d", c.list, n, statusPageSize)
		}
		if allocs != 0 {
			t.Errorf("%s: a page allocated %.0f times, want 0", c.list, allocs)
		}
	}
}

// TestStatusRates: a route's rates in a status answer are over the time
// since the last complete answer read its counters. An entry that answer
// did not read (new since), or whose counters went back (the kernel made
// it anew), has none; an answer left unfinished changes nothing.
func TestStatusRates(t *testing.T) {
	d, br, _ := reportBenchDaemon(t)
	br.keep = true
	const n = statusPageSize + 6 // two pages of routes
	joinGroups(t, d, n)
	src, newSrc := netip.MustParseAddr(provider), netip.MustParseAddr("192.0.2.99")
	key := func(src netip.Addr, i int) mroute.Key {
		return mroute.Key{Source: src, Group: netip.AddrFrom4([4]byte{239, 20, byte(i >> 8), byte(i)})}
	}
	br.counters = map[[2]netip.Addr]mroute.Counters{}
	count := func(k mroute.Key, packets, bytes uint64) {
		br.counters[[2]netip.Addr{k.Source, k.Group}] = mroute.Counters{Packets: packets, Bytes: bytes}
	}
	// answer returns the routes of an answer at now; with pages 1, of its
	// first page only.
	answer := func(now time.Time, pages int) map[mroute.Key]control.Route {
		st := d.pagedStatus(now, func() time.Time { return now })
		got := map[mroute.Key]control.Route{}
		pg := control.Page{List: control.PageRoutes}
		for k := 0; pages == 0 || k < pages; k++ {
			st.Pages.FillPage(&pg)
			for _, r := range pg.Routes {
				got[mroute.Key{Source: r.Source, Group: r.Group}] = r
			}
			if pg.Done {
				break
			}
			pg = control.Page{List: control.PageRoutes, From: pg.Next}
		}
		return got
	}
	type rate struct{ pps, bps float64 }
	check := func(what string, got map[mroute.Key]control.Route, want map[mroute.Key]rate) {
		t.Helper()
		for k, w := range want {
			r, ok := got[k]
			if !ok {
				t.Errorf("%s: no route %v", what, k)
				continue
			}
			if r.PacketsPerSecond != w.pps || r.BitsPerSecond != w.bps {
				t.Errorf("%s: route %v at %v packets/s, %v bits/s; want %v, %v", what, k, r.PacketsPerSecond, r.BitsPerSecond, w.pps, w.bps)
			}
		}
	}

	t0 := time.Unix(1_800_000_000, 0)
	for i := range n {
		count(key(src, i), 100, 100_000)
	}
	check("first answer", answer(t0, 0), map[mroute.Key]rate{key(src, 0): {}, key(src, 1): {}, key(src, n-1): {}})

	count(key(src, 0), 150, 150_000) // 5 packets and 40,000 bits a second over 10 s
	count(key(src, 2), 10, 10_000)   // made anew: no rate
	count(key(src, n-1), 120, 100_400)
	t1 := t0.Add(10 * time.Second)
	check("second answer", answer(t1, 0), map[mroute.Key]rate{
		key(src, 0): {5, 40_000}, key(src, 1): {0, 0}, key(src, 2): {}, key(src, n-1): {2, 320}})

	// An answer of the first page only: its readings are not kept, so the
	// next answer's rates are over the 5 s since the second.
	count(key(src, 0), 200, 200_000)
	count(key(src, n-1), 170, 100_900)
	answer(t1.Add(time.Second), 1)
	// A new entry has no earlier reading.
	p := d.allPlanes()[0]
	d.handle(event{plane: p, at: time.Now(), pkt: mroute.Packet{Upcall: &mroute.Upcall{
		Type: mroute.UpcallNoCache, Ifindex: wanUp.Index, Source: newSrc, Group: key(src, 0).Group}}})
	count(key(newSrc, 0), 500, 500_000)
	got := answer(t1.Add(5*time.Second), 0)
	if len(got) != n+1 {
		t.Fatalf("third answer: %d routes, want %d", len(got), n+1)
	}
	check("third answer", got, map[mroute.Key]rate{key(src, 0): {10, 80_000}, key(newSrc, 0): {}, key(src, n-1): {10, 800}})
}
