package linkwatch

import (
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/netns"
	"golang.org/x/sys/unix"
)

func TestTake(t *testing.T) {
	ns := netns.New(t)
	ns.IP(t, "link", "add", "v0", "type", "veth", "peer", "name", "v1")
	ns.IP(t, "addr", "add", "192.0.2.1/24", "dev", "v0")
	ns.IP(t, "addr", "add", "2001:db8::1/64", "dev", "v0", "nodad")
	ns.IP(t, "addr", "add", "198.51.100.1", "peer", "198.51.100.2/32", "dev", "v1")
	var s Snapshot
	var err error
	var idx int
	ns.Do(t, func() {
		s, err = Take()
		ifi, ierr := net.InterfaceByName("v0")
		if ierr != nil {
			t.Fatal(ierr)
		}
		idx = ifi.Index
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(mapKeys(s)); !slices.Equal(got, []string{"lo", "v0", "v1"}) {
		t.Fatalf("links %v, want lo v0 v1", got)
	}
	v0 := s["v0"]
	want := []netip.Prefix{netip.MustParsePrefix("192.0.2.1/24"), netip.MustParsePrefix("2001:db8::1/64")}
	if v0.Index != idx || v0.Name != "v0" || v0.Up || !slices.Equal(v0.Addrs, want) {
		t.Errorf("v0 = %+v, want index %d, down, addresses %v", v0, idx, want)
	}
	// On a point-to-point address the interface's own address counts, not
	// the peer's.
	if got, want := s["v1"].Addrs, []netip.Prefix{netip.MustParsePrefix("198.51.100.1/32")}; !slices.Equal(got, want) {
		t.Errorf("v1 addresses %v, want %v", got, want)
	}
	if lo := s["lo"]; lo.Flags&unix.IFF_LOOPBACK == 0 {
		t.Errorf("lo flags %#x lack IFF_LOOPBACK", lo.Flags)
	}
}

func mapKeys(s Snapshot) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range s {
			if !yield(k) {
				return
			}
		}
	}
}

// watch follows a Watcher, applying each change to the state it has seen so
// far and checking that the change is consistent with that state.
type watch struct {
	w     *Watcher
	state Snapshot
}

func startWatch(t *testing.T, ns *netns.NS, settle time.Duration) *watch {
	t.Helper()
	var w *Watcher
	var s Snapshot
	var err error
	ns.Do(t, func() { w, s, err = Watch(settle) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return &watch{w: w, state: s}
}

// apply checks c against the state it should be relative to and applies it.
func (w *watch) apply(t *testing.T, c Change) {
	t.Helper()
	if c.Empty() {
		t.Error("empty change delivered")
	}
	for _, l := range c.Removed {
		if old, ok := w.state[l.Name]; !ok || !old.equal(l) {
			t.Errorf("removed %+v, but last state had %+v", l, old)
		}
		delete(w.state, l.Name)
	}
	for _, lc := range c.Changed {
		if old, ok := w.state[lc.Old.Name]; !ok || !old.equal(lc.Old) || lc.Old.Name != lc.New.Name {
			t.Errorf("changed %+v, but last state had %+v", lc, old)
		}
		w.state[lc.New.Name] = lc.New
	}
	for _, l := range c.Added {
		if old, ok := w.state[l.Name]; ok {
			t.Errorf("added %+v, but last state had %+v", l, old)
		}
		w.state[l.Name] = l
	}
}

// until collects changes until cond holds for the state, and returns them.
func (w *watch) until(t *testing.T, what string, cond func(Snapshot) bool) []Change {
	t.Helper()
	var got []Change
	deadline := time.After(5 * time.Second)
	for !cond(w.state) {
		select {
		case c, ok := <-w.w.C():
			if !ok {
				t.Fatalf("C closed while waiting for %s", what)
			}
			w.apply(t, c)
			got = append(got, c)
		case <-deadline:
			t.Fatalf("no %s within 5s; state %+v", what, w.state)
		}
	}
	return got
}

// quiet checks that no change arrives for a while.
func (w *watch) quiet(t *testing.T) {
	t.Helper()
	select {
	case c := <-w.w.C():
		t.Errorf("unexpected change %+v", c)
	case <-time.After(400 * time.Millisecond):
	}
}

func hasAddr(l Link, p string) bool {
	return slices.Contains(l.Addrs, netip.MustParsePrefix(p))
}

func TestWatch(t *testing.T) {
	ns := netns.New(t)
	w := startWatch(t, ns, 50*time.Millisecond)
	if _, ok := w.state["lo"]; !ok || len(w.state) != 1 {
		t.Fatalf("initial snapshot %+v, want lo only", w.state)
	}

	t.Run("veth pair created", func(t *testing.T) {
		ns.IP(t, "link", "add", "v0", "type", "veth", "peer", "name", "v1")
		cs := w.until(t, "v0 and v1", func(s Snapshot) bool { return s["v0"].Index != 0 && s["v1"].Index != 0 })
		var added []string
		for _, c := range cs {
			for _, l := range c.Added {
				added = append(added, l.Name)
			}
		}
		if slices.Sort(added); !slices.Equal(added, []string{"v0", "v1"}) {
			t.Errorf("added %v, want v0 v1", added)
		}
	})

	t.Run("address added and removed", func(t *testing.T) {
		for _, p := range []string{"192.0.2.1/24", "2001:db8::1/64"} {
			ns.IP(t, "addr", "add", p, "dev", "v0", "nodad")
			cs := w.until(t, p+" on v0", func(s Snapshot) bool { return hasAddr(s["v0"], p) })
			last := cs[len(cs)-1].Changed
			if len(last) != 1 || last[0].New.Name != "v0" || hasAddr(last[0].Old, p) {
				t.Errorf("change %+v, want v0 gaining %s", last, p)
			}
			ns.IP(t, "addr", "del", p, "dev", "v0")
			w.until(t, p+" gone", func(s Snapshot) bool { return !hasAddr(s["v0"], p) })
		}
		if got := w.state["v0"].Addrs; len(got) != 0 {
			t.Errorf("v0 addresses %v, want none", got)
		}
	})

	t.Run("link down and up", func(t *testing.T) {
		// A veth is running only while its peer is up too.
		ns.IP(t, "link", "set", "v1", "up")
		ns.IP(t, "link", "set", "v0", "up")
		w.until(t, "v0 up", func(s Snapshot) bool { return s["v0"].Up })
		if f := w.state["v0"].Flags; f&unix.IFF_UP == 0 || f&unix.IFF_RUNNING == 0 {
			t.Errorf("v0 up with flags %#x", f)
		}
		ns.IP(t, "link", "set", "v1", "down")
		cs := w.until(t, "v0 not running", func(s Snapshot) bool { return !s["v0"].Up })
		lc := cs[len(cs)-1].Changed
		i := slices.IndexFunc(lc, func(lc LinkChange) bool { return lc.New.Name == "v0" })
		if i < 0 || !lc[i].Old.Up || lc[i].New.Flags&unix.IFF_UP == 0 {
			t.Errorf("changes %+v, want v0 still administratively up but no longer running", lc)
		}
		ns.IP(t, "link", "set", "v1", "up")
		w.until(t, "v0 up again", func(s Snapshot) bool { return s["v0"].Up })
		ns.IP(t, "link", "set", "v0", "down")
		w.until(t, "v0 down", func(s Snapshot) bool { return !s["v0"].Up && s["v0"].Flags&unix.IFF_UP == 0 })
	})

	t.Run("burst of 50 address changes", func(t *testing.T) {
		var cmds []string
		for i := range 50 {
			cmds = append(cmds, "addr add 10.0.0."+itoa(i+1)+"/32 dev v1")
		}
		ns.Batch(t, cmds...)
		cs := w.until(t, "50 addresses on v1", func(s Snapshot) bool {
			return len(s["v1"].Addrs) >= 50 && hasAddr(s["v1"], "10.0.0.50/32")
		})
		t.Logf("50 additions arrived as %d changes", len(cs))
		if len(cs) > 5 {
			t.Errorf("50 additions arrived as %d changes, want a handful", len(cs))
		}
		ns.IP(t, "addr", "flush", "dev", "v1")
		w.until(t, "v1 without addresses", func(s Snapshot) bool { return len(s["v1"].Addrs) == 0 })
	})

	t.Run("nothing without changes", func(t *testing.T) {
		w.quiet(t)
	})

	t.Run("close", func(t *testing.T) {
		if err := w.w.Close(); err != nil {
			t.Fatal(err)
		}
		select {
		case _, ok := <-w.w.C():
			if ok {
				t.Error("a change after Close")
			}
		case <-time.After(time.Second):
			t.Error("C not closed after Close")
		}
		if err := w.w.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})
}

func itoa(i int) string { return netip.AddrFrom4([4]byte{0, 0, 0, byte(i)}).String()[6:] }

// A link deleted and recreated within one burst is reported as a change of
// index; with a pause longer than the coalescing window between the two
// steps, as a removal and then an addition.
func TestWatchRecreate(t *testing.T) {
	ns := netns.New(t)
	ns.IP(t, "link", "add", "ppp0", "type", "veth", "peer", "name", "peer0")
	// A generous settle time keeps the two steps in one burst on a slow machine.
	w := startWatch(t, ns, 200*time.Millisecond)
	oldIdx := w.state["ppp0"].Index

	t.Run("same burst", func(t *testing.T) {
		ns.Batch(t, "link del ppp0", "link add ppp0 type veth peer name peer0")
		cs := w.until(t, "ppp0 recreated", func(s Snapshot) bool {
			return s["ppp0"].Index != 0 && s["ppp0"].Index != oldIdx
		})
		if len(cs) != 1 || len(cs[0].Added) != 0 || len(cs[0].Removed) != 0 || len(cs[0].Changed) != 2 {
			t.Fatalf("changes %+v, want one change with ppp0 and peer0 changed", cs)
		}
		for _, lc := range cs[0].Changed {
			if lc.Old.Index == lc.New.Index {
				t.Errorf("%s kept index %d", lc.New.Name, lc.New.Index)
			}
		}
	})

	t.Run("separate bursts", func(t *testing.T) {
		before := w.state["ppp0"]
		ns.IP(t, "link", "del", "ppp0")
		cs := w.until(t, "ppp0 gone", func(s Snapshot) bool { _, ok := s["ppp0"]; return !ok })
		if r := cs[len(cs)-1].Removed; len(r) != 2 || r[0].Name != "peer0" || !r[1].equal(before) {
			t.Errorf("removed %+v, want peer0 and %+v", r, before)
		}
		ns.IP(t, "link", "add", "ppp0", "type", "veth", "peer", "name", "peer0")
		cs = w.until(t, "ppp0 back", func(s Snapshot) bool { _, ok := s["ppp0"]; return ok })
		if a := cs[len(cs)-1].Added; len(a) != 2 || a[0].Name != "peer0" || a[1].Index == before.Index {
			t.Errorf("added %+v, want peer0 and ppp0 with a new index", a)
		}
	})
}

// A consumer that does not read gets the changes merged: the next change is
// the difference to what it last received.
func TestWatchSlowConsumer(t *testing.T) {
	ns := netns.New(t)
	ns.IP(t, "link", "add", "v0", "type", "veth", "peer", "name", "v1")
	w := startWatch(t, ns, 20*time.Millisecond)
	// Different subnets: deleting a primary IPv4 address takes the
	// secondaries of its subnet with it.
	pause := func() { time.Sleep(300 * time.Millisecond) }
	ns.IP(t, "addr", "add", "192.0.2.1/24", "dev", "v0")
	pause()
	ns.IP(t, "addr", "add", "198.51.100.1/24", "dev", "v0")
	pause()
	ns.IP(t, "addr", "del", "192.0.2.1/24", "dev", "v0")
	pause()
	cs := w.until(t, "only 198.51.100.1 on v0", func(s Snapshot) bool {
		a := s["v0"].Addrs
		return len(a) == 1 && a[0] == netip.MustParsePrefix("198.51.100.1/24")
	})
	if len(cs) != 2 {
		t.Fatalf("changes %+v, want two: the one buffered, then the rest merged", cs)
	}
	w.quiet(t)
}

// With a receive buffer too small for a burst, notifications are lost
// (ENOBUFS); the watcher still converges on the kernel's state.
func TestWatchLostNotifications(t *testing.T) {
	ns := netns.New(t)
	ns.IP(t, "link", "add", "v0", "type", "veth", "peer", "name", "v1")
	w := startWatch(t, ns, 20*time.Millisecond)
	rc, err := w.w.sub.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	rc.Control(func(fd uintptr) {
		// The kernel rounds this up to its minimum, a couple of messages.
		err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 1)
	})
	if err != nil {
		t.Fatal(err)
	}
	var cmds []string
	for i := range 200 {
		cmds = append(cmds, "addr add 10.0."+itoa(i/100)+"."+itoa(i%100+1)+"/32 dev v0")
	}
	ns.Batch(t, cmds...)
	w.until(t, "200 addresses", func(s Snapshot) bool { return len(s["v0"].Addrs) == 200 })
	var s Snapshot
	ns.Do(t, func() { s, err = Take() })
	if err != nil {
		t.Fatal(err)
	}
	if d := Diff(w.state, s); !d.Empty() {
		t.Errorf("watched state differs from a fresh snapshot: %+v", d)
	}
}
