package daemon

import (
	"bytes"
	"encoding/hex"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/linkwatch"
	"github.com/mcast-proxy/mcast-proxy/internal/logx"
	"github.com/mcast-proxy/mcast-proxy/internal/membership"
	"github.com/mcast-proxy/mcast-proxy/internal/proxy"
)

// bootClock is an injected CLOCK_BOOTTIME in the boot testBoot.
type bootClock struct {
	id    [16]byte
	since time.Duration
}

func (c *bootClock) now() (bootStamp, error) { return bootStamp{id: c.id, since: c.since}, nil }

// withState gives the rig's daemon a snapshot file in a fresh directory, a
// boot clock at since, and a log the test can read.
func withState(r *rig, clk *bootClock) (path string, log *bytes.Buffer) {
	path = filepath.Join(r.t.TempDir(), "mcast-proxy.state")
	r.d.state = stateFile{path: path, boot: clk.now}
	log = &bytes.Buffer{}
	r.d.log = logx.New(log, logx.Options{})
	return path, log
}

// lanGroup is g1 joined by any source on lan, with timer left.
func lanGroup(left time.Duration) snapLink {
	return snapLink{name: "lan", groups: []membership.Saved{{Group: ma(g1), Mode: membership.Exclude, Compat: 2, Timer: left}}}
}

var providerFlow = snapFlow{source: ma(provider), group: ma(g1), input: "wan"}

// TestStateRestoreDecisions: what a snapshot left by the previous daemon
// brings back, against recording fakes of the kernel edge. The daemon
// restarts with an empty kernel (closing the routing socket flushed it);
// the restore is what it does right after start-up.
func TestStateRestoreDecisions(t *testing.T) {
	const written = 100 * time.Second
	lan7 := link("lan", 7, true, lanPrefix)
	fresh := &savedState{bootID: testBoot, written: written,
		planes: []snapPlane{{links: []snapLink{lanGroup(200 * time.Second)}, flows: []snapFlow{providerFlow}}}}
	tests := []struct {
		name  string
		conf  string
		links []linkwatch.Link
		file  []byte       // the file as it is; nil: fresh encoded
		state *savedState  // encoded when file is nil
		boot  bootClock    // the clock at the restart
		want  []string     // kernel operations
		log   string       // a line the log must have; "" for an empty log
		logs  int          // lines expected
		check func(r *rig) // more checks
	}{{
		name: "fresh: upstream join and forwarding at once", state: fresh,
		boot: bootClock{testBoot, written + 5*time.Second},
		want: []string{"upstream set 239.1.1.1 exclude []", "ipv4 set-route 192.0.2.10,239.1.1.1 in 2 out [3]"},
		log:  `msg="state restored from before the restart"`, logs: 1,
		check: func(r *rig) {
			g, _ := r.d.plane(ipv4).brain.Router(lanIfindex)
			st := g.Groups()
			if len(st) != 1 || !st[0].Expires.Equal(r.now.Add(195*time.Second)) || st[0].Compat != 2 {
				t.Errorf("restored %+v, want %s expiring at start+195s in v2 compatibility", st, g1)
			}
		},
	}, {
		name: "interfaces matched by name, at their new index", state: fresh, links: []linkwatch.Link{wanUp, lan7},
		boot: bootClock{testBoot, written + time.Second},
		want: []string{"upstream set 239.1.1.1 exclude []", "ipv4 set-route 192.0.2.10,239.1.1.1 in 2 out [7]"},
		log:  `groups=1 flows=1 dropped=0`, logs: 1,
	}, {
		name: "older than the group membership interval", state: fresh,
		boot: bootClock{testBoot, written + 260*time.Second},
		log:  "older than the group membership interval", logs: 1,
	}, {
		name: "written in another boot", state: fresh,
		boot: bootClock{[16]byte{1}, written + time.Second},
		log:  "written before the last reboot", logs: 1,
	}, {
		name: "boot clock behind the file", state: fresh,
		boot: bootClock{testBoot, written - time.Second},
		log:  "written before the last reboot", logs: 1,
	}, {
		name: "corrupt", file: []byte("MCPS\x01garbage that is long enough to be looked at, with no checksum"),
		boot: bootClock{testBoot, written},
		log:  "state snapshot ignored", logs: 1,
	}, {
		name: "no file: nothing and no log line", file: []byte{},
		boot: bootClock{testBoot, written},
	}, {
		name: "group expired during the downtime; its flow is kept as known, wanted by nobody",
		state: &savedState{bootID: testBoot, written: written,
			planes: []snapPlane{{links: []snapLink{lanGroup(3 * time.Second)}, flows: []snapFlow{providerFlow}}}},
		boot: bootClock{testBoot, written + 4*time.Second},
		want: []string{"ipv4 set-route 192.0.2.10,239.1.1.1 in 2 out []"},
		log:  "groups=0 flows=1 dropped=1", logs: 1,
	}, {
		name: "groups on an interface that is no longer a downstream are dropped",
		conf: "interface wan { upstream }\ninterface lan { downstream }\ninterface guest { downstream }\n",
		state: &savedState{bootID: testBoot, written: written,
			planes: []snapPlane{{links: []snapLink{{name: "dmz", groups: lanGroup(time.Minute).groups}, {name: "wan", groups: lanGroup(time.Minute).groups}}}}},
		boot: bootClock{testBoot, written + time.Second},
		log:  "groups=0 flows=0 dropped=2", logs: 1,
	}, {
		name: "flows on interfaces that are gone are dropped", links: []linkwatch.Link{lanUp},
		state: fresh, boot: bootClock{testBoot, written + time.Second},
		log: "groups=1 flows=0 dropped=0", logs: 1,
	}, {
		name: "the limits hold",
		conf: "interface wan { upstream }\ninterface lan { downstream; max-groups 1 }\n",
		state: &savedState{bootID: testBoot, written: written,
			planes: []snapPlane{{links: []snapLink{{name: "lan", groups: []membership.Saved{
				{Group: ma("239.1.1.1"), Mode: membership.Exclude, Compat: 3, Timer: time.Minute},
				{Group: ma("239.2.2.2"), Mode: membership.Exclude, Compat: 3, Timer: time.Minute},
			}}}}}},
		boot: bootClock{testBoot, written + time.Second},
		want: []string{"upstream set 239.1.1.1 exclude []"},
		log:  "groups=1 flows=0 dropped=1", logs: 1,
	}, {
		name:  "IPv6 beside IPv4",
		conf:  "ipv6 yes\n" + wanConf,
		links: []linkwatch.Link{link("wan", 2, true, wanPrefix, "2001:db8::1/64"), link("lan", 3, true, lanPrefix, "fe80::1/64")},
		state: &savedState{bootID: testBoot, written: written, planes: []snapPlane{
			{links: []snapLink{lanGroup(time.Minute)}},
			{v6: true, links: []snapLink{{name: "lan", groups: []membership.Saved{
				{Group: ma("ff1e::1"), Mode: membership.Include, Compat: 3, Sources: []membership.SavedSource{{Addr: ma("2001:db8::2"), Timer: time.Minute}}}}}},
				flows: []snapFlow{{source: ma("2001:db8::2"), group: ma("ff1e::1"), input: "wan"}}},
		}},
		boot: bootClock{testBoot, written + time.Second},
		want: []string{"upstream set 239.1.1.1 exclude []", "upstream set ff1e::1 include [2001:db8::2]", "ipv6 set-route 2001:db8::2,ff1e::1 in 2 out [3]"},
		log:  "groups=2 flows=1 dropped=0", logs: 1,
	}, {
		name: "IPv6 state is left alone while IPv6 is off",
		state: &savedState{bootID: testBoot, written: written,
			planes: []snapPlane{{v6: true, links: []snapLink{{name: "lan", groups: []membership.Saved{
				{Group: ma("ff1e::1"), Mode: membership.Exclude, Compat: 3, Timer: time.Minute}}}}}}},
		boot: bootClock{testBoot, written + time.Second},
		log:  "groups=0 flows=0 dropped=0", logs: 1,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conf := tt.conf
			if conf == "" {
				conf = wanConf
			}
			ls := tt.links
			if ls == nil {
				ls = []linkwatch.Link{wanUp, lanUp}
			}
			r := newRig(t, conf, ls)
			r.k.take()
			clk := tt.boot
			path, log := withState(r, &clk)
			b := tt.file
			if b == nil {
				b, _ = encodeSnapshot(nil, tt.state)
			}
			if len(b) > 0 {
				if err := os.WriteFile(path, b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			r.d.restoreState(r.now)
			if got := r.k.take(); !slices.Equal(got, tt.want) {
				t.Errorf("kernel operations\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(tt.want, "\n\t"))
			}
			lines := strings.Split(strings.TrimSpace(log.String()), "\n")
			if log.Len() == 0 {
				lines = nil
			}
			if len(lines) != tt.logs || tt.log != "" && !strings.Contains(log.String(), tt.log) {
				t.Errorf("log:\n%s\nwant %d line(s) with %q", log, tt.logs, tt.log)
			}
			if tt.check != nil {
				tt.check(r)
			}
		})
	}
}

// TestStateSaveAndRestart: a running daemon writes its state a moment
// after it changes, once for a burst of changes; a new daemon started on
// the same file forwards the same streams to the same links at once.
func TestStateSaveAndRestart(t *testing.T) {
	clk := &bootClock{testBoot, time.Hour}
	r := newRig(t, wanConf, []linkwatch.Link{wanUp, lanUp})
	path, _ := withState(r, clk)
	if !r.d.state.due.IsZero() {
		t.Fatalf("a write is due before anything changed")
	}
	before := time.Now()
	report(lanIfindex, lanHost, g1)(r)
	due := r.d.state.due
	if due.Before(before.Add(stateDelay)) || due.After(time.Now().Add(stateDelay)) {
		t.Fatalf("write due at %v, want %v after the report", due, stateDelay)
	}
	upcall(2, provider, g1)(r)
	if r.d.state.due != due {
		t.Errorf("a second change moved the write from %v to %v; changes must coalesce", due, r.d.state.due)
	}
	if _, err := os.Stat(path); err == nil {
		t.Fatalf("the file was written before the write was due")
	}
	r.d.saveState(time.Now(), false)
	if !r.d.state.due.IsZero() {
		t.Errorf("a write is still due after writing")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := decodeSnapshot(b)
	if err != nil {
		t.Fatal(err)
	}
	if s.clean || s.bootID != testBoot || s.written != time.Hour || len(s.planes) != 1 ||
		len(s.planes[0].links) != 1 || s.planes[0].links[0].name != "lan" || len(s.planes[0].links[0].groups) != 1 ||
		!slices.Equal(s.planes[0].flows, []snapFlow{providerFlow}) {
		t.Fatalf("snapshot %+v", s)
	}
	if _, err := os.Stat(path + ".tmp"); err == nil {
		t.Errorf("temporary file left behind")
	}

	// The daemon is killed; a new one starts, the links at new indexes.
	clk.since += 2 * time.Second
	r2 := newRig(t, wanConf, []linkwatch.Link{link("wan", 12, true, wanPrefix), link("lan", 13, true, lanPrefix)})
	r2.k.take()
	r2.d.state = stateFile{path: path, boot: clk.now}
	r2.d.restoreState(r2.now)
	want := []string{"upstream set 239.1.1.1 exclude []", "ipv4 set-route 192.0.2.10,239.1.1.1 in 12 out [13]"}
	if got := r2.k.take(); !slices.Equal(got, want) {
		t.Errorf("after the restart\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}

	// A clean stop writes the file once more, marked clean, before it
	// takes down the kernel state.
	r2.d.saveState(time.Now(), true)
	if b, err := os.ReadFile(path); err != nil {
		t.Fatal(err)
	} else if s, err := decodeSnapshot(b); err != nil || !s.clean || len(s.planes[0].links) != 1 {
		t.Errorf("after a clean stop: %+v, %v; want the state, marked clean", s, err)
	}
}

// TestStateWriteShare: after a write that took long, the next one waits a
// hundred times as long, so snapshots never take more than 1% of the loop.
func TestStateWriteShare(t *testing.T) {
	d := &Daemon{state: stateFile{path: "x", cost: 50 * time.Millisecond}}
	before := time.Now()
	d.stateChanged()
	if wait := d.state.due.Sub(before); wait < 5*time.Second || wait > 6*time.Second {
		t.Errorf("after a write of 50 ms the next is due in %v, want 5 s", wait)
	}
	d = &Daemon{state: stateFile{path: "x", cost: time.Millisecond}}
	d.stateChanged()
	if wait := d.state.due.Sub(before); wait < stateDelay || wait > stateDelay+time.Second {
		t.Errorf("after a write of 1 ms the next is due in %v, want %v", wait, stateDelay)
	}
}

// TestStateWaitsForIdle: a write that falls due while packets wait in a
// routing socket, or while packets are lost, waits for a quiet moment.
func TestStateWaitsForIdle(t *testing.T) {
	clk := &bootClock{testBoot, time.Hour}
	r := newRig(t, wanConf, []linkwatch.Link{wanUp, lanUp})
	path, _ := withState(r, clk)
	report(lanIfindex, lanHost, g1)(r)
	p := r.d.plane(ipv4)
	now := time.Now()

	p.backlog = true // the loop's last batch left more to read
	r.d.saveWhenIdle(now)
	p.backlog = false
	if _, err := os.Stat(path); err == nil || !r.d.state.due.Equal(now.Add(stateDelay)) {
		t.Fatalf("with a packet waiting: written %v, due %v; want not written, due a second later", err == nil, r.d.state.due.Sub(now))
	}
	p.kernelDrops = 3 // the kernel dropped some: its receive buffer was full
	r.d.saveWhenIdle(now)
	if _, err := os.Stat(path); err == nil {
		t.Fatalf("written while the kernel dropped packets")
	}
	r.d.saveWhenIdle(now)
	if _, err := os.Stat(path); err != nil || !r.d.state.due.IsZero() {
		t.Fatalf("quiet: written %v, due %v; want written", err == nil, r.d.state.due)
	}
}

func TestStatePath(t *testing.T) {
	for _, c := range [][2]string{
		{"/var/run/mcast-proxy/mcast-proxy.sock", "/var/run/mcast-proxy/mcast-proxy.state"},
		{"/run/mcast-proxy/iptv.sock", "/run/mcast-proxy/iptv.state"},
		{"/tmp/ctl", "/tmp/ctl.state"},
		{"", ""},
	} {
		if got := statePath(c[0]); got != c[1] {
			t.Errorf("statePath(%q) = %q, want %q", c[0], got, c[1])
		}
	}
}

// benchDaemon is a daemon whose one downstream, lan, has n groups joined
// by one host, each with a flow from the upstream.
func benchDaemon(b *testing.B, n int) (*Daemon, time.Time) {
	now := time.Now()
	k := &kernelLog{}
	p := newPlane(ipv4, newFakeRouter("ipv4", k), logx.New(io.Discard, logx.Options{}))
	p.brain.SetUpstream(now, proxy.Link{Ifindex: 2, Name: "wan", Subnets: []netip.Prefix{netip.MustParsePrefix(wanPrefix)}}, nil, nil)
	p.brain.AddDownstream(now, proxy.Downstream{Link: proxy.Link{Ifindex: lanIfindex, Name: "lan", Addr: ma("10.0.0.1")}})
	p.links[2], p.links[lanIfindex] = "wan", "lan"
	for i := range n {
		g := netip.AddrFrom4([4]byte{239, 1, byte(i >> 8), byte(i)})
		p.brain.Report(now, lanIfindex, ma(lanHost), 2, []membership.Record{{Type: membership.IsExclude, Group: g}})
		p.brain.SourceActive(now, 2, ma(provider), g)
	}
	d := &Daemon{log: logx.New(io.Discard, logx.Options{}), insts: []*instance{{planes: []*plane{p}}}}
	clk := &bootClock{testBoot, time.Hour}
	d.state = stateFile{path: filepath.Join(b.TempDir(), "mcast-proxy.state"), boot: clk.now}
	return d, now
}

// BenchmarkStateSave is what a write of the snapshot costs the event loop
// with 1000 groups and 1000 flows: collect, encode, write and rename.
func BenchmarkStateSave(b *testing.B) {
	d, now := benchDaemon(b, 1000)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		d.saveState(now, false)
	}
	b.ReportMetric(float64(len(d.state.buf)), "file-bytes")
}

// BenchmarkStateSaveSources is a write of a large state, as a host
// flooding reports builds within the budgets: 300 groups of 64 sources.
func BenchmarkStateSaveSources(b *testing.B) {
	d, now := benchDaemon(b, 0)
	p := d.insts[0].planes[0]
	for i := range 300 {
		g := netip.AddrFrom4([4]byte{239, 2, byte(i >> 8), byte(i)})
		var srcs []netip.Addr
		for j := range 64 {
			srcs = append(srcs, netip.AddrFrom4([4]byte{10, 200, byte(j >> 8), byte(j)}))
		}
		p.brain.Report(now, lanIfindex, ma(lanHost), 3, []membership.Record{{Type: membership.IsInclude, Group: g, Sources: srcs}})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		d.saveState(now, false)
	}
	b.ReportMetric(float64(len(d.state.buf)), "file-bytes")
}

// BenchmarkStateDecode is the parse of that snapshot at start.
func BenchmarkStateDecode(b *testing.B) {
	d, now := benchDaemon(b, 1000)
	d.saveState(now, false)
	buf := d.state.buf
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := decodeSnapshot(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// TestStateInstances: with two proxy instances of one family the snapshot
// has one plane for the family with both instances' links, and each link
// goes back to the instance that has it.
func TestStateInstances(t *testing.T) {
	clk := &bootClock{testBoot, time.Hour}
	ls := []linkwatch.Link{wanUp, lanUp, wan2Up, lan2Up}
	r := newRig(t, tvConf+netConf, ls)
	path, _ := withState(r, clk)
	report(lanIfindex, lanHost, g1)(r)
	report(6, "10.0.1.2", "239.2.2.2")(r)
	r.d.saveState(time.Now(), false)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := decodeSnapshot(b)
	if err != nil {
		t.Fatalf("the snapshot of two instances does not decode: %v", err)
	}
	if len(s.planes) != 1 || len(s.planes[0].links) != 2 {
		t.Fatalf("snapshot planes %+v, want one IPv4 plane with lan and lan2", s.planes)
	}

	clk.since += time.Second
	r2 := newRig(t, tvConf+netConf, ls)
	r2.k.take()
	r2.d.state = stateFile{path: path, boot: clk.now}
	r2.d.restoreState(r2.now)
	subscribed("tv", g1)(r2)
	subscribed("net", "239.2.2.2")(r2)
}

// TestParseBootID reads boot ids as encoding/hex would after the dashes
// go, and refuses anything else.
func TestParseBootID(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string // hex of the id; "" when refused
	}{
		{"0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0\n", "0f1e2d3c4b5a69788796a5b4c3d2e1f0"},
		{"0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0", "0f1e2d3c4b5a69788796a5b4c3d2e1f0"},
		{"0f1e2d3c4b5a69788796a5b4c3d2e1f0", "0f1e2d3c4b5a69788796a5b4c3d2e1f0"},
		{"0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f", ""},
		{"0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f00", ""},
		{"0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1fg", ""},
		{"0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0\n\n", ""},
		{"", ""},
	} {
		id, ok := parseBootID(c.in)
		got := ""
		if ok {
			got = hex.EncodeToString(id[:])
		}
		if got != c.want {
			t.Errorf("parseBootID(%q) = %q, %v; want %q", c.in, got, ok, c.want)
		}
	}
}
