package membership

import (
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

var t0 = time.Unix(1000, 0)

// Durations of the default configuration, spelled out so the expectations
// below read as the RFC's formulas.
const (
	gmi  = 260 * time.Second // 2*125s + 10s (RFC 3376 §8.4)
	lmqt = 2 * time.Second   // 2*1s (§8.14)
)

func at(d time.Duration) time.Time { return t0.Add(d) }

func sec(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func addrs(ss ...string) []netip.Addr {
	if len(ss) == 0 {
		return nil
	}
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = addr(s)
	}
	return out
}

func rec(t RecordType, g string, srcs ...string) Record {
	return Record{Type: t, Group: addr(g), Sources: addrs(srcs...)}
}

// event is one input to the router at a given time.
type event func(r *Router, now time.Time) []Action

func report(version int, recs ...Record) event {
	return func(r *Router, now time.Time) []Action {
		return r.Report(now, addr("10.0.0.100"), version, recs)
	}
}

// reportFrom is a report from host from.
func reportFrom(from string, version int, recs ...Record) event {
	return func(r *Router, now time.Time) []Action {
		return r.Report(now, addr(from), version, recs)
	}
}

func report6(recs ...Record) event {
	return func(r *Router, now time.Time) []Action {
		return r.Report(now, addr("fe80::100"), 3, recs)
	}
}

func query(from string, q Query) event {
	return func(r *Router, now time.Time) []Action { return r.Query(now, addr(from), q) }
}

func advance() event {
	return func(r *Router, now time.Time) []Action { return r.Advance(now) }
}

func start() event {
	return func(r *Router, now time.Time) []Action { return r.Start(now) }
}

func setAddress(a string) event {
	return func(r *Router, now time.Time) []Action { return r.SetAddress(now, addr(a)) }
}

// gq is the general query of the default configuration.
func gq() Action {
	return SendQuery{Version: 3, MaxResp: 10 * time.Second, QRV: 2, QQI: 125 * time.Second}.Action()
}

// q is a group or group-and-source-specific query of the default
// configuration.
func q(g string, s bool, srcs ...string) Action {
	return SendQuery{Version: 3, Group: addr(g), Sources: addrs(srcs...), SuppressRouterSide: s,
		MaxResp: time.Second, QRV: 2, QQI: 125 * time.Second}.Action()
}

func changed(g string) Action { return GroupChanged{Group: addr(g)}.Action() }

func acts(a ...Action) []Action { return a }

// step runs do at t0+at and expects exactly want.
type step struct {
	at   time.Duration
	do   event
	want []Action
}

// zero marks an expected source timer of zero (exclude list).
const zero = time.Duration(-1)

// groupCheck describes the expected record of one group after all steps.
type groupCheck struct {
	group   string
	absent  bool
	mode    FilterMode
	include []string
	exclude []string
	compat  int           // 0: expect 3
	expires time.Duration // offset from t0
	timers  map[string]time.Duration
	// Host tracking is compared only when hosts is non-nil (use
	// noHosts to expect none), so the RFC tables check the RFC state.
	hosts     []Host
	untracked bool
}

// noHosts expects a group without tracked hosts.
var noHosts = []Host{}

// hst is an expected tracked host.
func hst(a string, mode FilterMode, expires time.Duration, srcs ...string) Host {
	return Host{Addr: addr(a), Mode: mode, Sources: addrs(srcs...), SourceCount: len(srcs), Expires: at(expires)}
}

type routerCase struct {
	name   string
	cfg    Config
	self   string // default 10.0.0.5
	steps  []step
	groups []groupCheck
	check  func(t *testing.T, r *Router)
}

func runCases(t *testing.T, cases []routerCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			self := tc.self
			if self == "" {
				self = "10.0.0.5"
			}
			var selfAddr netip.Addr
			if self != "invalid" {
				selfAddr = addr(self)
			}
			r := NewRouter(tc.cfg, selfAddr)
			for i, s := range tc.steps {
				got := s.do(r, at(s.at))
				if !reflect.DeepEqual(got, s.want) {
					t.Fatalf("step %d at +%v:\n got  %s\n want %s", i, s.at, fmtActions(got), fmtActions(s.want))
				}
			}
			for _, gc := range tc.groups {
				checkGroup(t, r, gc)
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

func checkGroup(t *testing.T, r *Router, gc groupCheck) {
	t.Helper()
	st, ok := r.Group(addr(gc.group))
	if gc.absent {
		if ok {
			t.Errorf("group %s: present %+v, want absent", gc.group, st)
		}
		return
	}
	if !ok {
		t.Fatalf("group %s: absent", gc.group)
	}
	compat := gc.compat
	if compat == 0 {
		compat = 3
	}
	want := GroupState{Group: addr(gc.group), Mode: gc.mode, Include: addrs(gc.include...),
		Exclude: addrs(gc.exclude...), Compat: compat, Expires: at(gc.expires)}
	if gc.hosts == nil {
		st.Hosts, st.Untracked = nil, false
	} else if len(gc.hosts) > 0 {
		want.Hosts, want.Untracked = gc.hosts, gc.untracked
	} else {
		want.Untracked = gc.untracked
	}
	if !reflect.DeepEqual(st, want) {
		t.Errorf("group %s:\n got  %+v\n want %+v", gc.group, st, want)
	}
	g := r.groups[KeyOf(addr(gc.group))]
	for s, d := range gc.timers {
		src := g.sources[addr(s)]
		if src == nil {
			t.Errorf("group %s source %s: absent", gc.group, s)
			continue
		}
		w := time.Time{}
		if d != zero {
			w = at(d)
		}
		if got := r.clock.time(src.timer); !got.Equal(w) {
			t.Errorf("group %s source %s: timer %v, want %v", gc.group, s, offset(got), offset(w))
		}
	}
}

func offset(t time.Time) string {
	if t.IsZero() {
		return "0"
	}
	return "+" + t.Sub(t0).String()
}

func fmtActions(as []Action) string {
	var parts []string
	for _, a := range as {
		switch a.Kind {
		case KindSendQuery:
			q := a.SendQuery
			parts = append(parts, fmt.Sprintf("Q(v%d %v %v S=%v mr=%v qrv=%d qqi=%v)",
				q.Version, q.Group, q.Sources, q.SuppressRouterSide, q.MaxResp, q.QRV, q.QQI))
		case KindGroupChanged:
			parts = append(parts, "changed("+a.GroupChanged.Group.String()+")")
		default:
			parts = append(parts, fmt.Sprintf("%#v", a))
		}
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// drain advances through every deadline up to until and returns all actions.
func drain(r *Router, until time.Time) []Action {
	var out []Action
	for {
		d := r.NextDeadline()
		if d.IsZero() || d.After(until) {
			return out
		}
		out = append(out, r.Advance(d)...)
	}
}
