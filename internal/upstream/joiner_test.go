package upstream

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"syscall"
	"testing"

	"github.com/mcast-proxy/mcast-proxy/internal/membership"
)

// fakeKernel keeps per-socket memberships the way Linux does for the
// MCAST_* options, decoding the bytes the Joiner encodes, and calls after
// every successful option so a test can inspect each intermediate state.
type fakeKernel struct {
	abi       abi
	maxGroups int
	maxSrc    int
	nextFD    int
	socks     map[int]map[netip.Addr]member
	ops       int
	failAt    int // fail this setsockopt call (1-based); 0: never
	after     func()
}

func newFake(maxGroups, maxSrc int) *fakeKernel {
	return &fakeKernel{abi: abi{binary.BigEndian, 4}, maxGroups: maxGroups, maxSrc: maxSrc, nextFD: 3, socks: map[int]map[netip.Addr]member{}}
}

func (k *fakeKernel) socket(bool) (int, error) {
	k.nextFD++
	k.socks[k.nextFD] = map[netip.Addr]member{}
	return k.nextFD, nil
}

func (k *fakeKernel) close(fd int) error {
	if _, ok := k.socks[fd]; !ok {
		return syscall.EBADF
	}
	delete(k.socks, fd)
	return nil
}

func (k *fakeKernel) addr(b []byte) netip.Addr {
	switch k.abi.order.Uint16(b) {
	case afInet:
		return netip.AddrFrom4([4]byte(b[4:8]))
	case afInet6:
		return netip.AddrFrom16([16]byte(b[8:24]))
	}
	return netip.Addr{}
}

func (k *fakeKernel) setsockopt(fd, level, name int, b []byte) error {
	k.ops++
	if k.ops == k.failAt {
		return syscall.ENOMEM
	}
	ms, ok := k.socks[fd]
	if !ok {
		return syscall.EBADF
	}
	off := k.abi.word
	g := k.addr(b[off:])
	m, joined := ms[g]
	switch name {
	case optJoinGroup:
		switch {
		case len(b) != off+storageLen:
			return syscall.EINVAL
		case joined:
			return syscall.EADDRINUSE
		case len(ms) >= k.maxGroups:
			return syscall.ENOBUFS
		}
		ms[g] = member{mode: Exclude}
	case optJoinSourceGroup:
		s := k.addr(b[off+storageLen:])
		switch {
		case len(b) != off+2*storageLen:
			return syscall.EINVAL
		case joined && m.mode == Exclude:
			return syscall.EINVAL
		case !joined && len(ms) >= k.maxGroups, joined && len(m.sources) >= k.maxSrc:
			return syscall.ENOBUFS
		}
		ms[g] = member{mode: Include, sources: append(slices.Clone(m.sources), s)}
	case optMSFilter:
		mode := Include
		if k.abi.order.Uint32(b[off+storageLen:]) == fmodeExclude {
			mode = Exclude
		}
		n := int(k.abi.order.Uint32(b[off+storageLen+4:]))
		switch {
		case len(b) != k.abi.groupFilterHdr()+n*storageLen:
			return syscall.EINVAL
		case n > k.maxSrc:
			return syscall.ENOBUFS
		case !joined:
			return syscall.EINVAL
		}
		var srcs []netip.Addr
		for i := range n {
			srcs = append(srcs, k.addr(b[k.abi.groupFilterHdr()+i*storageLen:]))
		}
		if mode == Include && n == 0 {
			delete(ms, g)
		} else {
			ms[g] = member{mode: mode, sources: srcs}
		}
	case optLeaveGroup:
		if !joined {
			return syscall.EADDRNOTAVAIL
		}
		delete(ms, g)
	default:
		return syscall.ENOPROTOOPT
	}
	if k.after != nil {
		k.after()
	}
	return nil
}

// passes reports whether the interface forwards s for g: some socket
// includes it, or some socket is in EXCLUDE mode without listing it (the
// exclude lists intersect).
func (k *fakeKernel) passes(g, s netip.Addr) bool {
	for _, ms := range k.socks {
		if m, ok := ms[g]; ok && slices.Contains(m.sources, s) == (m.mode == Include) {
			return true
		}
	}
	return false
}

func (k *fakeKernel) anyExclude(g netip.Addr) bool {
	for _, ms := range k.socks {
		if m, ok := ms[g]; ok && m.mode == Exclude {
			return true
		}
	}
	return false
}

func wants(f Filter, s netip.Addr) bool { return slices.Contains(f.Sources, s) == (f.Mode == Include) }

func newFakeJoiner(t *testing.T, k *fakeKernel) *Joiner {
	t.Helper()
	lim := newLimits(k.maxGroups, k.maxSrc, 1<<20, 4)
	j, err := newJoiner(k, k.abi, 2, [nfam]limits{lim, newLimits(0, k.maxSrc, 1<<20, 16)})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func randFilter(r *rand.Rand, universe []netip.Addr) Filter {
	f := Filter{Mode: Mode(r.IntN(2))}
	for _, s := range universe {
		if r.IntN(2) == 0 {
			f.Sources = append(f.Sources, s)
		}
	}
	return f
}

// TestSetNeverDropsWantedTraffic drives random transitions with tight
// limits (2 groups, 3 sources per socket) and checks after every socket
// option that sources wanted before and after are forwarded, that no
// any-source state appears between two INCLUDE states, and that the final
// state is the requested one.
func TestSetNeverDropsWantedTraffic(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	universe := srcs(1, 8)
	probes := append(slices.Clone(universe), src(99))
	groups := []netip.Addr{netip.MustParseAddr("232.0.0.1"), netip.MustParseAddr("232.0.0.2"), netip.MustParseAddr("239.9.9.9")}
	k := newFake(2, 3)
	j := newFakeJoiner(t, k)
	cur := map[netip.Addr]Filter{}
	for step := range 2000 {
		g := groups[r.IntN(len(groups))]
		prev, next := cur[g], randFilter(r, universe)
		k.after = func() {
			for _, s := range probes {
				if wants(prev, s) && wants(next, s) && !k.passes(g, s) {
					t.Fatalf("step %d: %v -> %v: %s dropped in between", step, prev, next, s)
				}
			}
			if prev.Mode == Include && next.Mode == Include && k.anyExclude(g) {
				t.Fatalf("step %d: %v -> %v passed through EXCLUDE", step, prev, next)
			}
		}
		if err := j.Set(g, next); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		cur[g] = next
		applied, _ := j.Get(g)
		for _, s := range probes {
			got := k.passes(g, s)
			if got != wants(applied, s) {
				t.Fatalf("step %d: Get %v disagrees with kernel for %s", step, applied, s)
			}
			// Only a cut EXCLUDE list may forward more than wanted.
			if got != wants(next, s) && (j.Truncated(g) == 0 || !got) {
				t.Fatalf("step %d: want %v, kernel forwards %s: %v", step, next, s, got)
			}
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if len(k.socks) != 0 {
		t.Errorf("%d sockets left open", len(k.socks))
	}
}

// TestSetRecoversFromErrors fails each socket option in turn: Get must
// match the kernel afterwards and a retry must converge.
func TestSetRecoversFromErrors(t *testing.T) {
	g := netip.MustParseAddr("232.1.1.1")
	from := Filter{Mode: Include, Sources: srcs(1, 7)}
	to := Filter{Mode: Exclude, Sources: srcs(2, 3)}
	for fail := 1; ; fail++ {
		k := newFake(2, 3)
		j := newFakeJoiner(t, k)
		if err := j.Set(g, from); err != nil {
			t.Fatal(err)
		}
		k.ops, k.failAt = 0, fail
		err := j.Set(g, to)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.ENOMEM) {
			t.Fatalf("fail %d: %v", fail, err)
		}
		applied, ok := j.Get(g)
		for _, s := range srcs(0, 9) {
			if ok && k.passes(g, s) != wants(applied, s) {
				t.Fatalf("fail %d: Get %v disagrees with kernel on %s", fail, applied, s)
			}
		}
		if err := j.Set(g, to); err != nil {
			t.Fatalf("fail %d: retry: %v", fail, err)
		}
		if f, _ := j.Get(g); !f.Equal(to) {
			t.Fatalf("fail %d: after retry Get %v, want %v", fail, f, to)
		}
	}
}

func TestSetRejects(t *testing.T) {
	j := newFakeJoiner(t, newFake(20, 10))
	g := netip.MustParseAddr("232.1.1.1")
	cases := []struct {
		name  string
		group netip.Addr
		f     Filter
	}{
		{"link-local v4", netip.MustParseAddr("224.0.0.251"), Filter{Mode: Exclude}},
		{"unicast", netip.MustParseAddr("192.0.2.1"), Filter{Mode: Exclude}},
		{"invalid", netip.Addr{}, Filter{Mode: Exclude}},
		{"interface-local v6", netip.MustParseAddr("ff01::1"), Filter{Mode: Exclude}},
		{"link-local v6 with flags", netip.MustParseAddr("ff32::8000:1"), Filter{Mode: Exclude}},
		{"reserved scope v6", netip.MustParseAddr("ff30::1"), Filter{Mode: Exclude}},
		{"zoned v6", netip.MustParseAddr("ff0e::1%eth0"), Filter{Mode: Exclude}},
		{"source of other family", g, Filter{Mode: Include, Sources: []netip.Addr{netip.MustParseAddr("2001:db8::1")}}},
		{"multicast source", g, Filter{Mode: Include, Sources: []netip.Addr{netip.MustParseAddr("239.1.1.1")}}},
		{"unknown mode", g, Filter{Mode: 7}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := j.Set(c.group, c.f); !errors.Is(err, errInvalid) && (c.f.Mode <= Exclude || err == nil) {
				t.Errorf("Set = %v", err)
			}
		})
	}
	if j.Sockets() != 0 || len(j.Groups()) != 0 {
		t.Errorf("rejected sets left state: %d sockets, groups %v", j.Sockets(), j.Groups())
	}
	// Site scope and IPv4-mapped groups are fine.
	for _, s := range []string{"ff05::1:3", "ff35::1", "::ffff:239.1.1.1"} {
		if err := j.Set(netip.MustParseAddr(s), Filter{Mode: Exclude}); err != nil {
			t.Errorf("Set(%s) = %v", s, err)
		}
	}
	if got := fmt.Sprint(j.Groups()); got != "[239.1.1.1 ff05::1:3 ff35::1]" {
		t.Errorf("Groups = %s", got)
	}
}

func TestSetIdempotent(t *testing.T) {
	k := newFake(20, 10)
	j := newFakeJoiner(t, k)
	g := netip.MustParseAddr("232.1.1.1")
	f := Filter{Mode: Include, Sources: []netip.Addr{src(2), src(1)}}
	if err := j.Set(g, f); err != nil {
		t.Fatal(err)
	}
	ops := k.ops
	if err := j.Set(g, Filter{Mode: Include, Sources: []netip.Addr{src(1), src(2), src(1)}}); err != nil {
		t.Fatal(err)
	}
	if k.ops != ops {
		t.Errorf("repeated Set made %d socket calls", k.ops-ops)
	}
}

// TestMemberList: a socket's memberships stay sorted by group through
// sets and deletes in any order, and each group finds its own.
func TestMemberList(t *testing.T) {
	groups := []netip.Addr{
		netip.MustParseAddr("239.1.1.3"), netip.MustParseAddr("224.0.1.1"), netip.MustParseAddr("239.1.1.1"),
		netip.MustParseAddr("239.255.0.1"), netip.MustParseAddr("239.1.1.2"),
	}
	var l memberList
	for i, g := range groups {
		l.set(membership.KeyOf(g), member{mode: Exclude, sources: make([]netip.Addr, i)})
	}
	l.set(membership.KeyOf(groups[0]), member{mode: Include, sources: groups[:1]}) // replaces
	check := func(want []netip.Addr) {
		t.Helper()
		if len(l) != len(want) {
			t.Fatalf("%d memberships, want %d", len(l), len(want))
		}
		for i := 1; i < len(l); i++ {
			if !l[i-1].group.Less(l[i].group) {
				t.Fatalf("memberships out of order at %d: %+v", i, l)
			}
		}
		for _, g := range want {
			if _, ok := l.get(membership.KeyOf(g)); !ok {
				t.Errorf("%s not found", g)
			}
		}
	}
	check(groups)
	if m, _ := l.get(membership.KeyOf(groups[0])); m.mode != Include || len(m.sources) != 1 {
		t.Errorf("%s: %+v, want the replacing INCLUDE of one source", groups[0], m)
	}
	if m, _ := l.get(membership.KeyOf(groups[3])); m.mode != Exclude || len(m.sources) != 3 {
		t.Errorf("%s: %+v, want EXCLUDE of three sources", groups[3], m)
	}
	l.del(membership.KeyOf(groups[2]))
	l.del(membership.KeyOf(netip.MustParseAddr("239.9.9.9"))) // not there: nothing
	check([]netip.Addr{groups[0], groups[1], groups[3], groups[4]})
	if _, ok := l.get(membership.KeyOf(groups[2])); ok {
		t.Errorf("%s still found after its delete", groups[2])
	}
	if room := l[:cap(l)]; room[len(l)].sources != nil {
		t.Errorf("the deleted membership's sources are still held past the list's end")
	}
	for _, g := range groups {
		l.del(membership.KeyOf(g))
	}
	check(nil)
}
