package control

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync/atomic"
	"testing"
)

// listPages serves the long lists of a full status in pages of size
// entries, as a daemon's loop would from its state; fills counts the
// pages asked for.
type listPages struct {
	full  *Status
	size  int
	fills int
}

func (l *listPages) FillPage(pg *Page) {
	l.fills++
	var n int
	switch pg.List {
	case PageGroups:
		n = len(l.full.Interfaces[pg.Interface].Groups)
	case PageUpstream:
		n = len(l.full.Upstream)
	case PageRoutes:
		n = len(l.full.Routes)
	}
	end := min(pg.From+l.size, n)
	switch pg.List {
	case PageGroups:
		pg.Groups = l.full.Interfaces[pg.Interface].Groups[pg.From:end]
	case PageUpstream:
		pg.Upstream = l.full.Upstream[pg.From:end]
	case PageRoutes:
		pg.Routes = l.full.Routes[pg.From:end]
	}
	pg.Next, pg.Done = end, end == n
}

// paged returns full with its long lists held back and served by pages
// of size entries. A daemon's status always has the lists, so full's nil
// lists become empty ones.
func paged(full *Status, size int) (*Status, *listPages) {
	if full.Upstream == nil {
		full.Upstream = []Subscription{}
	}
	if full.Routes == nil {
		full.Routes = []Route{}
	}
	head := *full
	head.Upstream, head.Routes = nil, nil
	head.Interfaces = slices.Clone(full.Interfaces)
	for i := range head.Interfaces {
		head.Interfaces[i].Groups = nil
	}
	pages := &listPages{full: full, size: size}
	head.Pages = pages
	return &head, pages
}

// TestPagedStatusSameDocument: a status whose long lists come in pages
// writes byte for byte the document of the same status with its lists in
// place, for pages of one entry up to all of them, indented or not.
func TestPagedStatusSameDocument(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	statuses := map[string]*Status{"1000 groups": bigStatus(1000), "no groups": bigStatus(0)}
	for i := range 30 {
		var s Status
		randFill(r, reflect.ValueOf(&s).Elem())
		statuses["random "+string(rune('a'+i))] = &s
	}
	for name, full := range statuses {
		for _, size := range []int{1, 2, 3, 64, 5000} {
			head, pages := paged(full, size)
			want, err := json.Marshal(Response{Version: ProtocolVersion, OK: true, Status: full})
			if err != nil {
				t.Fatal(err)
			}
			var rec writeRecorder
			if err := writeResponse(&rec, &Response{Version: ProtocolVersion, OK: true, Status: head}, nil); err != nil {
				t.Fatalf("%s, pages of %d: %v", name, size, err)
			}
			if got := rec.all(); got != string(want)+"\n" {
				t.Fatalf("%s, pages of %d: paged response differs:\n got %s\nwant %s", name, size, got, want)
			}
			groups := 0
			for _, ifc := range full.Interfaces {
				groups += len(ifc.Groups)
			}
			if max := len(full.Interfaces) + 2 + (groups+len(full.Upstream)+len(full.Routes))/size + len(full.Interfaces) + 2; pages.fills > max {
				t.Errorf("%s, pages of %d: %d pages asked for, want at most %d", name, size, pages.fills, max)
			}
			for _, indent := range []string{"", "  "} {
				got, err := MarshalStatus(head, indent)
				want, werr := MarshalStatus(full, indent)
				if err != nil || werr != nil || string(got) != string(want) {
					t.Fatalf("%s, pages of %d, indent %q: MarshalStatus differs (%v, %v)", name, size, indent, err, werr)
				}
			}
		}
	}
}

// TestPagedStatusCutShort: a page the server cannot get (the loop busy or
// stopping) ends the response where it stands. If nothing went out yet the
// client gets a failure saying why; after that, a document it cannot
// read, never a status whose lists were silently cut.
func TestPagedStatusCutShort(t *testing.T) {
	busy := errors.New("daemon busy")
	for _, tt := range []struct {
		name     string
		groups   int
		failAt   int
		wantCut  bool
		wantFail string
	}{
		{name: "before the first piece went out", groups: 100, failAt: 3,
			wantFail: "cannot encode response: status groups: daemon busy"},
		{name: "after pieces went out", groups: 1000, failAt: 30, wantCut: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			head, pages := paged(bigStatus(tt.groups), 10)
			calls := 0
			fill := func(pg *Page) error {
				calls++
				if calls == tt.failAt {
					return busy
				}
				pages.FillPage(pg)
				return nil
			}
			var rec writeRecorder
			err := writeResponse(&rec, &Response{Version: ProtocolVersion, OK: true, Status: head}, fill)
			if calls != tt.failAt {
				t.Errorf("%d pages asked for, want none after the failure at %d", calls, tt.failAt)
			}
			if tt.wantCut {
				if !errors.Is(err, busy) {
					t.Fatalf("writeResponse: %v, want the page's error", err)
				}
				if json.Valid([]byte(rec.all())) {
					t.Errorf("a response cut short is a valid document")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var resp Response
			if err := json.Unmarshal([]byte(rec.all()), &resp); err != nil || resp.OK || resp.Error != tt.wantFail {
				t.Errorf("response %+v (%v), want the failure %q", resp, err, tt.wantFail)
			}
		})
	}
}

// TestPagedStatusThroughTheLoop: over the socket, the server asks the loop
// for each page as a Call with Fill, which the loop runs on its own
// goroutine, and the client gets the whole status.
func TestPagedStatusThroughTheLoop(t *testing.T) {
	full := bigStatus(300)
	want, err := json.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	var fills atomic.Int32
	path, _ := serve(t, nil, func(c Call) {
		if c.Fill != nil {
			fills.Add(1)
			c.Fill()
			c.Reply <- Response{OK: true}
			return
		}
		head, _ := paged(bigStatus(300), 64)
		c.Reply <- Response{OK: true, Status: head}
	})
	resp, err := Do(path, Request{Version: ProtocolVersion, Command: CommandStatus})
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(resp.Status)
	if err != nil || string(got) != string(want) {
		t.Fatalf("status over the socket differs from the full one (%v)", err)
	}
	// 300 groups, subscriptions and routes in pages of 64: 5 pages each.
	if n := fills.Load(); n != 15 {
		t.Errorf("%d pages through the loop, want 15", n)
	}
}
