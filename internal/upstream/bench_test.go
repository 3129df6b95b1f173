package upstream

import (
	"net/netip"
	"runtime"
	"testing"

	"github.com/mcast-proxy/mcast-proxy/internal/memtest"
)

// nullKernel accepts every socket option and keeps nothing.
type nullKernel struct{ fd int }

func (k *nullKernel) socket(bool) (int, error) {
	k.fd++
	return k.fd, nil
}
func (k *nullKernel) setsockopt(int, int, int, []byte) error { return nil }
func (k *nullKernel) close(int) error                        { return nil }

// BenchmarkJoinerHeap is the live heap of the upstream subscription of
// 1000 any-source groups at the kernel's default limits (20 memberships a
// socket, so 50 sockets), as in TestThousandGroups in internal/e2e. It
// reports bytes per group (run with -benchtime=1x).
func BenchmarkJoinerHeap(b *testing.B) {
	const groups = 1000
	lim := [nfam]limits{newLimits(20, 10, 10240, 4), newLimits(0, 64, 10240, 16)}
	var perGroup float64
	for range b.N {
		before := memtest.LiveHeap()
		j, err := newJoiner(&nullKernel{}, nativeABI, 2, lim)
		if err != nil {
			b.Fatal(err)
		}
		for i := range groups {
			if err := j.Set(netip.AddrFrom4([4]byte{239, 20, byte(i >> 8), byte(i)}), Filter{Mode: Exclude}); err != nil {
				b.Fatal(err)
			}
		}
		perGroup = float64(memtest.LiveHeap()-before) / groups
		if j.Sockets() != groups/20 {
			b.Fatalf("%d sockets, want %d", j.Sockets(), groups/20)
		}
		runtime.KeepAlive(j)
	}
	b.ReportMetric(perGroup, "heapB/group")
	b.ReportMetric(0, "ns/op")
}

// thousandJoiner is a Joiner on nullKernel holding 1000 any-source groups
// at the kernel's default limits (20 memberships a socket: 50 sockets).
func thousandJoiner(tb testing.TB) *Joiner {
	lim := [nfam]limits{newLimits(20, 10, 10240, 4), newLimits(0, 64, 10240, 16)}
	j, err := newJoiner(&nullKernel{}, nativeABI, 2, lim)
	if err != nil {
		tb.Fatal(err)
	}
	for i := range 1000 {
		if err := j.Set(netip.AddrFrom4([4]byte{239, 20, byte(i >> 8), byte(i)}), Filter{Mode: Exclude}); err != nil {
			tb.Fatal(err)
		}
	}
	return j
}

// TestChangeAllocatesOnlyState: leaving and joining a group beside 999
// others allocates the new group's record and its socket list, not
// working memory in proportion to the 50 sockets: a burst of joins would
// leave that as garbage, which the collector lets the heap grow into.
func TestChangeAllocatesOnlyState(t *testing.T) {
	j := thousandJoiner(t)
	grp := netip.MustParseAddr("239.20.1.10")
	allocs := testing.AllocsPerRun(100, func() {
		if err := j.Set(grp, Filter{}); err != nil {
			t.Fatal(err)
		}
		if err := j.Set(grp, Filter{Mode: Exclude}); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 2 {
		t.Errorf("a leave and a join allocate %.0f times, want at most 2 (the group and its socket list)", allocs)
	}
}

// BenchmarkChange is one leave and one join of a group beside 999 others.
func BenchmarkChange(b *testing.B) {
	j := thousandJoiner(b)
	grp := netip.MustParseAddr("239.20.1.10")
	b.ReportAllocs()
	for range b.N {
		if err := j.Set(grp, Filter{}); err != nil {
			b.Fatal(err)
		}
		if err := j.Set(grp, Filter{Mode: Exclude}); err != nil {
			b.Fatal(err)
		}
	}
}
