package daemon

import (
	"strings"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/config"
	"github.com/mcast-proxy/mcast-proxy/internal/format"
)

// Supervisor is told what the daemon is doing: systemd's sd_notify protocol
// in cmd/mcast-proxy. Every call comes from the event loop, so a loop that
// is stuck stops calling Alive and the supervisor can restart it.
type Supervisor interface {
	// Ready: the configuration is loaded and the sockets are open (at
	// start), or a reload has been applied or refused. Interfaces that do
	// not exist yet are waited for and do not delay it.
	Ready(status string)
	// Reloading: a reload has begun; Ready follows when it is over.
	Reloading()
	// Stopping: the daemon is removing its kernel state and will exit.
	Stopping()
	// Status is a one-line summary of the running state.
	Status(status string)
	// Alive feeds the watchdog.
	Alive()
}

// statusInterval is how often the one-line status is refreshed when no
// shorter watchdog interval asks for more: a timer, not a poll, and only
// with a supervisor attached.
const statusInterval = 10 * time.Second

// supervised reports whether a supervisor is attached.
func (d *Daemon) supervised() bool { return d.opts.Supervisor != nil }

// superviseInterval is the time between two calls of supervise: half the
// watchdog interval, as sd_watchdog_enabled(3) recommends, or
// statusInterval, whichever is shorter.
func (d *Daemon) superviseInterval() time.Duration {
	if w := d.opts.WatchdogInterval / 2; w > 0 && w < statusInterval {
		return w
	}
	return statusInterval
}

// ready tells the supervisor that the daemon serves, and schedules the
// next watchdog and status update.
func (d *Daemon) ready(now time.Time) {
	if !d.supervised() {
		return
	}
	d.lastStatus = d.summary()
	d.opts.Supervisor.Ready(d.lastStatus)
	d.superviseAt = now.Add(d.superviseInterval())
}

// supervise runs from the loop's timer: it proves the loop is alive and
// refreshes the status line when it changed.
func (d *Daemon) supervise(now time.Time) {
	if d.opts.WatchdogInterval > 0 {
		d.opts.Supervisor.Alive()
	}
	if s := d.summary(); s != d.lastStatus {
		d.lastStatus = s
		d.opts.Supervisor.Status(s)
	}
	d.superviseAt = now.Add(d.superviseInterval())
}

// reloading wraps a reload in Reloading and Ready.
func (d *Daemon) reloading(reload func() []string) []string {
	if !d.supervised() {
		return reload()
	}
	d.opts.Supervisor.Reloading()
	errs := reload()
	d.ready(time.Now())
	return errs
}

// stopping tells the supervisor the daemon is shutting down.
func (d *Daemon) stopping() {
	if d.supervised() {
		d.opts.Supervisor.Stopping()
	}
}

// summary is the one-line status: interfaces in service, upstream groups
// subscribed, and forwarding entries installed, over both families and
// every instance.
func (d *Daemon) summary() string {
	active, configured := map[string]bool{}, 0
	groups, flows := 0, 0
	var ups []string
	for _, c := range d.cfg.Instances() {
		for i := range c.Interfaces {
			if c.Interfaces[i].Role != config.RoleDisabled {
				configured++
			}
		}
	}
	for _, in := range d.insts {
		for _, p := range in.planes {
			for name, st := range p.active {
				if st.up {
					active[name] = true
				}
			}
			groups += p.brain.NumSubscriptions()
			flows += p.mr.NumRoutes()
		}
		up := in.up.name
		if up == "" {
			up = "none"
		}
		ups = append(ups, up)
	}
	if len(ups) == 0 {
		ups = append(ups, "none")
	}
	upstream := "upstream " + ups[0]
	if len(ups) > 1 {
		upstream = "upstreams " + strings.Join(ups, ", ")
	}
	return format.Sprintf("%d of %d interfaces active, %s, %d groups, %d flows", len(active), configured, upstream, groups, flows)
}
