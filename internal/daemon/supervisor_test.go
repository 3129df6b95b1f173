package daemon

import (
	"slices"
	"testing"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/config"
)

// recordingSupervisor records the calls it gets, one word each.
type recordingSupervisor struct{ calls []string }

func (r *recordingSupervisor) Ready(s string)  { r.calls = append(r.calls, "ready: "+s) }
func (r *recordingSupervisor) Reloading()      { r.calls = append(r.calls, "reloading") }
func (r *recordingSupervisor) Stopping()       { r.calls = append(r.calls, "stopping") }
func (r *recordingSupervisor) Status(s string) { r.calls = append(r.calls, "status: "+s) }
func (r *recordingSupervisor) Alive()          { r.calls = append(r.calls, "alive") }

func (r *recordingSupervisor) take() []string {
	c := r.calls
	r.calls = nil
	return c
}

func TestSupervisor(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cfg := &config.Config{Interfaces: []config.Interface{
		{Name: "wan", Role: config.RoleUpstream},
		{Name: "lan", Role: config.RoleDownstream},
		{Name: "guest", Role: config.RoleDisabled},
	}}
	const idle = "0 of 2 interfaces active, upstream none, 0 groups, 0 flows"

	tests := []struct {
		name     string
		watchdog time.Duration
		interval time.Duration // between supervise calls
		alive    bool
	}{
		{"watchdog 6s: every 3s", 6 * time.Second, 3 * time.Second, true},
		{"watchdog 1m: status every 10s, watchdog with it", time.Minute, statusInterval, true},
		{"no watchdog: status every 10s", 0, statusInterval, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sup := &recordingSupervisor{}
			d := &Daemon{cfg: cfg, opts: Options{Supervisor: sup, WatchdogInterval: tt.watchdog}, insts: []*instance{{cfg: cfg}}}
			d.ready(t0)
			if got, want := sup.take(), []string{"ready: " + idle}; !slices.Equal(got, want) {
				t.Errorf("ready: calls %q, want %q", got, want)
			}
			if got, want := d.superviseAt, t0.Add(tt.interval); !got.Equal(want) {
				t.Errorf("first supervise at %v, want %v", got, want)
			}

			// Nothing changed: only the watchdog is fed.
			d.supervise(d.superviseAt)
			var want []string
			if tt.alive {
				want = []string{"alive"}
			}
			if got := sup.take(); !slices.Equal(got, want) {
				t.Errorf("unchanged: calls %q, want %q", got, want)
			}

			// A new upstream changes the status line: sent once.
			d.insts[0].up.name = "wan"
			d.supervise(d.superviseAt)
			want = append(want, "status: 0 of 2 interfaces active, upstream wan, 0 groups, 0 flows")
			if got := sup.take(); !slices.Equal(got, want) {
				t.Errorf("changed: calls %q, want %q", got, want)
			}
			if got, want := d.superviseAt, t0.Add(3*tt.interval); !got.Equal(want) {
				t.Errorf("next supervise at %v, want %v", got, want)
			}

			// A reload, applied or refused, is wrapped in RELOADING and READY.
			errs := d.reloading(func() []string {
				sup.calls = append(sup.calls, "reload")
				return []string{"f:1:1: bad"}
			})
			if len(errs) != 1 {
				t.Errorf("reloading returned %q, want the reload's errors", errs)
			}
			want = []string{"reloading", "reload", "ready: 0 of 2 interfaces active, upstream wan, 0 groups, 0 flows"}
			if got := sup.take(); !slices.Equal(got, want) {
				t.Errorf("reload: calls %q, want %q", got, want)
			}

			d.stopping()
			if got, want := sup.take(), []string{"stopping"}; !slices.Equal(got, want) {
				t.Errorf("stop: calls %q, want %q", got, want)
			}
		})
	}
}

// Without a supervisor nothing is scheduled: no timer wakes an idle daemon.
func TestNoSupervisor(t *testing.T) {
	d := &Daemon{cfg: &config.Config{}}
	d.ready(time.Now())
	if !d.superviseAt.IsZero() {
		t.Errorf("superviseAt = %v without a supervisor, want zero", d.superviseAt)
	}
	called := false
	d.reloading(func() []string { called = true; return nil })
	d.stopping()
	if !called {
		t.Error("reloading did not reload")
	}
}
