package membership

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// groupAddr returns the i-th test group, 239.x.y.z.
func groupAddr(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{239, byte(i >> 16), byte(i >> 8), byte(i)})
}

var benchHost = netip.MustParseAddr("10.0.0.100")

// benchRouter returns a router holding n groups, group i reported at
// t0 + i*step with the record type typ.
func benchRouter(n int, step time.Duration, typ RecordType, srcs []netip.Addr) *Router {
	r := NewRouter(Config{}, netip.MustParseAddr("10.0.0.5"))
	for i := range n {
		r.Report(t0.Add(time.Duration(i)*step), benchHost, 3, []Record{{Type: typ, Group: groupAddr(i), Sources: srcs}})
	}
	return r
}

func BenchmarkReport(b *testing.B) {
	srcs := []netip.Addr{netip.MustParseAddr("10.1.0.1")}
	for _, n := range []int{1000, 100000} {
		for _, bc := range []struct {
			name string
			typ  RecordType
			srcs []netip.Addr
		}{
			{"IS_EX", IsExclude, nil},
			{"IS_IN", IsInclude, srcs},
		} {
			b.Run(fmt.Sprintf("%s/groups=%d", bc.name, n), func(b *testing.B) {
				r := benchRouter(n, 0, bc.typ, bc.srcs)
				recs := make([][]Record, n)
				for i := range recs {
					recs[i] = []Record{{Type: bc.typ, Group: groupAddr(i), Sources: bc.srcs}}
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					// Time moves on by 1µs a report, far from any expiry.
					if acts := r.Report(t0.Add(time.Duration(i)*time.Microsecond), benchHost, 3, recs[i%n]); acts != nil {
						b.Fatalf("refresh produced actions: %s", fmtActions(acts))
					}
				}
			})
		}
	}
}

func BenchmarkAdvance(b *testing.B) {
	const n = 100000
	b.Run(fmt.Sprintf("idle/groups=%d", n), func(b *testing.B) {
		r := benchRouter(n, 0, IsExclude, nil)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if acts := r.Advance(t0.Add(time.Duration(i) * time.Microsecond)); acts != nil {
				b.Fatalf("idle Advance produced actions: %s", fmtActions(acts))
			}
		}
	})
	b.Run(fmt.Sprintf("expire-one/groups=%d", n), func(b *testing.B) {
		// Groups are reported gmi/n apart, so each step expires exactly one
		// group; re-reporting it keeps the population steady.
		step := gmi / n
		r := benchRouter(n, step, IsExclude, nil)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			now := t0.Add(gmi + time.Duration(i)*step)
			if acts := r.Advance(now); len(acts) != 1 {
				b.Fatalf("Advance at step %d: %s, want one GroupChanged", i, fmtActions(acts))
			}
			r.Report(now, benchHost, 3, []Record{{Type: IsExclude, Group: groupAddr(i % n)}})
		}
	})
}
