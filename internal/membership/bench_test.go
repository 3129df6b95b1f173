package membership

import (
	"fmt"
	"net/netip"
	"runtime"
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

// heapAfter returns the live heap after build has run, less the heap before.
func heapAfter(build func() *Router) (int64, *Router) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r := build()
	runtime.GC()
	runtime.ReadMemStats(&after)
	return int64(after.HeapAlloc) - int64(before.HeapAlloc), r
}

// BenchmarkStateBytes measures the real heap each kind of state takes, to
// check the figures the byte budget charges (GroupBytes, SourceBytes,
// HostBytes, HostSourceBytes). It reports bytes per piece as metrics:
// run with -benchtime=1x.
func BenchmarkStateBytes(b *testing.B) {
	const groups = 4096
	anon := netip.IPv4Unspecified()
	srcs := floodSources(64)
	for range b.N {
		grp, rg := heapAfter(func() *Router {
			r := NewRouter(Config{}, netip.MustParseAddr("10.0.0.5"))
			for i := range groups {
				r.Report(t0, anon, 3, []Record{{Type: IsExclude, Group: groupAddr(i)}})
			}
			return r
		})
		src, rs := heapAfter(func() *Router {
			r := NewRouter(Config{}, netip.MustParseAddr("10.0.0.5"))
			for i := range groups {
				r.Report(t0, anon, 3, []Record{{Type: IsInclude, Group: groupAddr(i), Sources: srcs}})
			}
			return r
		})
		hst, rh := heapAfter(func() *Router {
			r := NewRouter(Config{}, netip.MustParseAddr("10.0.0.5"))
			for i := range groups {
				for h := range 64 {
					r.Report(t0, hostAddr(h+1), 2, []Record{{Type: IsExclude, Group: groupAddr(i)}})
				}
			}
			return r
		})
		hsrc, rhs := heapAfter(func() *Router {
			r := NewRouter(Config{}, netip.MustParseAddr("10.0.0.5"))
			for i := range groups {
				for h := range 8 {
					r.Report(t0, hostAddr(h+1), 3, []Record{{Type: IsInclude, Group: groupAddr(i), Sources: srcs}})
				}
			}
			return r
		})
		perGroup := float64(grp) / groups
		perSource := (float64(src)/groups - perGroup) / 64
		perHost := (float64(hst)/groups - perGroup) / 64
		perHostSource := (float64(hsrc)/groups - perGroup - 64*perSource - 8*perHost) / (8 * 64)
		b.ReportMetric(perGroup, "B/group")
		b.ReportMetric(perSource, "B/source")
		b.ReportMetric(perHost, "B/host")
		b.ReportMetric(perHostSource, "B/host-source")
		b.ReportMetric(float64(rhs.StateBytes())/float64(hsrc), "charged/real")
		runtime.KeepAlive(rg)
		runtime.KeepAlive(rs)
		runtime.KeepAlive(rh)
	}
}

// BenchmarkHostileReport is one report of the flood the byte budget is for:
// a spoofed host sends IS_IN with the 365 sources that fit in a frame, for
// one of 2048 groups, to a link at its default limits (1024 groups, 128
// sources, 2 MiB). Past the first few hundred reports the budget is spent
// and every report is refused; the metric is the state the link holds.
func BenchmarkHostileReport(b *testing.B) {
	r := NewRouter(Config{MaxGroups: 1024, MaxSources: 128, MaxBytes: 2 << 20}, netip.MustParseAddr("10.0.0.5"))
	srcs := floodSources(365)
	recs := make([][]Record, 2048)
	for i := range recs {
		recs[i] = []Record{{Type: IsInclude, Group: groupAddr(i), Sources: srcs}}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		r.Report(t0, hostAddr(1+i%64), 3, recs[(i/64)%len(recs)])
	}
	b.ReportMetric(float64(r.StateBytes()), "state-bytes")
}
