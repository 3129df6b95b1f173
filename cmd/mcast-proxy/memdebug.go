//go:build memdebug

package main

import (
	"fmt"
	"os"
	"runtime/metrics"
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
			d.Name == "/sched/goroutines:goroutines" || d.Name == "/sched/gomaxprocs:threads" {
			samples = append(samples, metrics.Sample{Name: d.Name})
		}
	}
	go func() {
		var b strings.Builder
		for range time.Tick(every) {
			metrics.Read(samples)
			b.Reset()
			b.WriteString("memclasses")
			for _, s := range samples {
				if s.Value.Kind() == metrics.KindUint64 {
					name := strings.TrimPrefix(s.Name[:strings.LastIndexByte(s.Name, ':')], "/memory/classes/")
					fmt.Fprintf(&b, " %s=%d", name, s.Value.Uint64())
				}
			}
			fmt.Fprintln(os.Stderr, b.String())
		}
	}()
}
