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
