//go:build memdebug

package main

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/metrics"
	"sort"
	"strconv"
	"strings"
	"time"
)

// A build for measuring memory (go build -tags memdebug) prints the
// runtime's memory classes to stderr every MCAST_PROXY_MEMDEBUG (a
// duration), one line of "class=bytes" pairs starting with "memclasses":
// where the anonymous memory goes, beside /proc/PID/smaps. Release builds
// do not carry it (runtime/metrics and its descriptions add to the binary).
func init() {
	every, err := time.ParseDuration(os.Getenv("MCAST_PROXY_MEMDEBUG"))
	if err != nil || every <= 0 {
		return
	}
	var samples []metrics.Sample
	for _, d := range metrics.All() {
		if strings.HasPrefix(d.Name, "/memory/classes/") || d.Name == "/gc/heap/goal:bytes" ||
			d.Name == "/gc/heap/allocs:bytes" || d.Name == "/gc/heap/allocs:objects" || d.Name == "/gc/cycles/total:gc-cycles" ||
			d.Name == "/sched/goroutines:goroutines" || d.Name == "/sched/gomaxprocs:threads" {
			samples = append(samples, metrics.Sample{Name: d.Name})
		}
	}
	// MCAST_PROXY_MEMPROFILE (bytes) samples allocations that often, and
	// each tick then also prints the biggest allocation sites so far.
	if rate, err := strconv.Atoi(os.Getenv("MCAST_PROXY_MEMPROFILE")); err == nil && rate > 0 {
		runtime.MemProfileRate = rate
	}
	go func() {
		var b strings.Builder
		for range time.Tick(every) {
			if runtime.MemProfileRate > 0 && os.Getenv("MCAST_PROXY_MEMPROFILE") != "" {
				printAllocSites()
			}
			metrics.Read(samples)
			b.Reset()
			b.WriteString("memclasses")
			for _, s := range samples {
				if s.Value.Kind() == metrics.KindUint64 {
					name := strings.TrimPrefix(s.Name[:strings.LastIndexByte(s.Name, ':')], "/memory/classes/")
					if name == "/gc/heap/allocs" {
						name += "-" + s.Name[strings.LastIndexByte(s.Name, ':')+1:]
					}
					fmt.Fprintf(&b, " %s=%d", name, s.Value.Uint64())
				}
			}
			fmt.Fprintln(os.Stderr, b.String())
		}
	}()
}

// printAllocSites prints the 30 call sites outside the runtime that
// allocated the most bytes since start, scaled from the samples, one line
// each: "memsite bytes objects site < caller".
func printAllocSites() {
	n, _ := runtime.MemProfile(nil, true)
	recs := make([]runtime.MemProfileRecord, n+50)
	n, ok := runtime.MemProfile(recs, true)
	if !ok {
		return
	}
	type site struct{ bytes, objects int64 }
	sites := map[string]*site{}
	for _, r := range recs[:n] {
		var names []string
		frames := runtime.CallersFrames(r.Stack())
		for len(names) < 2 {
			f, more := frames.Next()
			if !strings.HasPrefix(f.Function, "runtime.") && !strings.HasPrefix(f.Function, "internal/runtime/") &&
				!strings.HasPrefix(f.Function, "slices.") {
				names = append(names, strings.TrimPrefix(f.Function, "github.com/mcast-proxy/mcast-proxy/internal/")+":"+strconv.Itoa(f.Line))
			}
			if !more {
				break
			}
		}
		k := strings.Join(names, " < ")
		if sites[k] == nil {
			sites[k] = &site{}
		}
		// Scaled as pprof does: an allocation of size s is sampled with
		// probability 1-exp(-s/rate).
		scale := 1.0
		if r.AllocObjects > 0 {
			scale = 1 / (1 - math.Exp(-float64(r.AllocBytes)/float64(r.AllocObjects)/float64(runtime.MemProfileRate)))
		}
		sites[k].bytes += int64(float64(r.AllocBytes) * scale)
		sites[k].objects += int64(float64(r.AllocObjects) * scale)
	}
	keys := make([]string, 0, len(sites))
	for k := range sites {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return sites[keys[i]].bytes > sites[keys[j]].bytes })
	for _, k := range keys[:min(len(keys), 30)] {
		fmt.Fprintf(os.Stderr, "memsite %d %d %s\n", sites[k].bytes, sites[k].objects, k)
	}
}
