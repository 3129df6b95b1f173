package upstream

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
)

func src(i int) netip.Addr { return netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}) }

func srcs(from, to int) []netip.Addr {
	var out []netip.Addr
	for i := from; i <= to; i++ {
		out = append(out, src(i))
	}
	return out
}

// v4 are the IPv4 defaults: 20 groups and 10 sources per socket.
var v4 = newLimits(20, 10, 20480, 4)

// usage derives slot usage from the pieces every group holds.
func usage(l limits, n int, held map[string][]piece, planned string) []slotUse {
	slots := make([]slotUse, n)
	for g, ps := range held {
		for _, p := range ps {
			slots[p.slot].groups++
			slots[p.slot].cost += l.cost(len(p.sources))
			if g == planned {
				slots[p.slot].has = true
			}
		}
	}
	return slots
}

func TestNewLimits(t *testing.T) {
	cases := []struct {
		name                    string
		groups, msf, optmem, al int
		want                    limits
	}{
		{"ipv4 defaults", 20, 10, 20480, 4, limits{20, 10, 10240, 4}},
		{"ipv6 defaults 32-bit", 0, 64, 10240, 16, limits{0, 64, 5120, 16}},
		{"tiny optmem lowers the source cap", 0, 64, 1024, 16, limits{0, 26, 512, 16}},
		{"zero sysctls", 0, 0, 0, 4, limits{0, 1, 136, 4}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := newLimits(c.groups, c.msf, c.optmem, c.al)
			if got != c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
			if got.cost(got.maxSources) > got.budget {
				t.Errorf("a full list costs %d, over budget %d", got.cost(got.maxSources), got.budget)
			}
		})
	}
}

func TestPlanGroupsOverSockets(t *testing.T) {
	// 1000 any-source groups fill sockets of 20 in order.
	held := map[string][]piece{}
	n := 0
	for i := range 1000 {
		g := fmt.Sprint(i)
		next, _ := planGroup(&sharedScratch, v4, usage(v4, n, held, g), nil, Filter{Mode: Exclude})
		if len(next) != 1 || next[0].slot != i/20 {
			t.Fatalf("group %d: plan %+v, want slot %d", i, next, i/20)
		}
		held[g] = slices.Clone(next) // next lives in the scratch until the next plan
		n = max(n, next[0].slot+1)
	}
	if n != 50 {
		t.Errorf("%d sockets, want 50", n)
	}
	// A group left in the middle frees a place that the next one takes.
	delete(held, "25")
	next, _ := planGroup(&sharedScratch, v4, usage(v4, n, held, "new"), nil, Filter{Mode: Exclude})
	if next[0].slot != 1 {
		t.Errorf("new group on slot %d, want the freed slot 1", next[0].slot)
	}
}

func TestPlanGroup(t *testing.T) {
	fullSlot := slotUse{groups: 20, cost: 20 * memberCost}
	cases := []struct {
		name    string
		lim     limits
		slots   []slotUse
		cur     []piece
		want    Filter
		next    string
		dropped int
	}{
		{
			name: "leave", lim: v4,
			slots: []slotUse{{groups: 1, cost: memberCost, has: true}},
			cur:   []piece{{slot: 0, mode: Exclude}},
			want:  Filter{}, next: "[]",
		},
		{
			name: "asm on a fresh socket", lim: v4,
			want: Filter{Mode: Exclude}, next: "[{0 exclude []}]",
		},
		{
			name: "skips a full socket", lim: v4,
			slots: []slotUse{fullSlot, {groups: 3, cost: 3 * memberCost}},
			want:  Filter{Mode: Exclude}, next: "[{1 exclude []}]",
		},
		{
			name: "include 25 splits 10+10+5", lim: v4,
			want: Filter{Mode: Include, Sources: srcs(1, 25)},
			next: fmt.Sprintf("[{0 include %v} {1 include %v} {2 include %v}]", srcs(1, 10), srcs(11, 20), srcs(21, 25)),
		},
		{
			name: "include split uses room on existing sockets", lim: v4,
			slots: []slotUse{fullSlot, {groups: 1, cost: memberCost}},
			want:  Filter{Mode: Include, Sources: srcs(1, 12)},
			next:  fmt.Sprintf("[{1 include %v} {2 include %v}]", srcs(1, 10), srcs(11, 12)),
		},
		{
			name: "exclude to include stays on the socket", lim: v4,
			slots: []slotUse{{groups: 1, cost: v4.cost(1), has: true}},
			cur:   []piece{{slot: 0, mode: Exclude, sources: srcs(3, 3)}},
			want:  Filter{Mode: Include, Sources: srcs(1, 1)},
			next:  fmt.Sprintf("[{0 include %v}]", srcs(1, 1)),
		},
		{
			// A source inserted in front must not shift the others
			// between sockets.
			name: "stable source assignment", lim: v4,
			// 5 leaves slot 0, so the new 0 takes its place there.
			slots: []slotUse{{groups: 1, cost: v4.cost(10), has: true}, {groups: 1, cost: v4.cost(5), has: true}},
			cur:   []piece{{0, Include, srcs(1, 10)}, {1, Include, srcs(11, 15)}},
			want:  Filter{Mode: Include, Sources: append(srcs(0, 4), srcs(6, 15)...)},
			next:  fmt.Sprintf("[{0 include %v} {1 include %v}]", append(srcs(0, 4), srcs(6, 10)...), srcs(11, 15)),
		},
		{
			name: "include to exclude keeps the first socket", lim: v4,
			slots: []slotUse{{groups: 2, cost: v4.cost(10) + memberCost, has: true}, {groups: 1, cost: v4.cost(2), has: true}},
			cur:   []piece{{0, Include, srcs(1, 10)}, {1, Include, srcs(11, 12)}},
			want:  Filter{Mode: Exclude, Sources: srcs(20, 21)},
			next:  fmt.Sprintf("[{0 exclude %v}]", srcs(20, 21)),
		},
		{
			name: "long exclude list is cut", lim: v4,
			want: Filter{Mode: Exclude, Sources: srcs(1, 25)},
			next: fmt.Sprintf("[{0 exclude %v}]", srcs(1, 10)), dropped: 15,
		},
		{
			name: "cut exclude list keeps what is applied", lim: v4,
			slots: []slotUse{{groups: 1, cost: v4.cost(10), has: true}},
			cur:   []piece{{0, Exclude, srcs(16, 25)}},
			want:  Filter{Mode: Exclude, Sources: srcs(1, 25)},
			next:  fmt.Sprintf("[{0 exclude %v}]", srcs(16, 25)), dropped: 15,
		},
		{
			name: "memory budget limits ipv6 sources per socket", lim: newLimits(0, 64, 2048, 16),
			slots: []slotUse{{groups: 10, cost: 10 * memberCost}},
			want:  Filter{Mode: Include, Sources: v6srcs(20)},
			// (1024 - 640 - 64 - 32) / 16 = 18 fit beside the others.
			next: fmt.Sprintf("[{0 include %v} {1 include %v}]", v6srcs(20)[:18], v6srcs(20)[18:]),
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			next, dropped := planGroup(&sharedScratch, c.lim, c.slots, c.cur, c.want)
			if got := fmtPlan(next); got != c.next || dropped != c.dropped {
				t.Errorf("plan\n got %s dropped %d\nwant %s dropped %d", got, dropped, c.next, c.dropped)
			}
		})
	}
}

// fmtPlan prints pieces as [{slot mode [sources]} ...].
func fmtPlan(ps []piece) string {
	out := "["
	for i, p := range ps {
		if i > 0 {
			out += " "
		}
		out += fmt.Sprintf("{%d %s %v}", p.slot, p.mode, p.sources)
	}
	return out + "]"
}

func v6srcs(n int) []netip.Addr {
	var out []netip.Addr
	for i := range n {
		out = append(out, netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i + 1)}))
	}
	return out
}

// sharedScratch is the working memory of every plan in these tests, as a
// Joiner keeps one for all its plans: what one plan leaves in it must not
// change the next.
var sharedScratch planScratch
