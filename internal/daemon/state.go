package daemon

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/config"
	"github.com/mcast-proxy/mcast-proxy/internal/format"
	"github.com/mcast-proxy/mcast-proxy/internal/membership"
	"github.com/mcast-proxy/mcast-proxy/internal/proxy"
)

// stateDelay coalesces changes of state into one write of the snapshot:
// a burst of reports, a flood or a link going away cost one write, and a
// daemon killed this soon after a change loses only that change.
const stateDelay = time.Second

// stateShare bounds the loop's time spent on snapshots: the next write
// comes no sooner than stateShare times the last one took. A write of a
// few thousand groups with many sources each, on a slow router under a
// report flood, then takes at most 1% of the loop.
const stateShare = 100

// bootStamp is a point on the clock a snapshot's age is measured with:
// CLOCK_BOOTTIME, which NTP corrections and a router's missing real-time
// clock do not move, in the boot it belongs to.
type bootStamp struct {
	id    [16]byte // the kernel's random boot_id; zero if unknown
	since time.Duration
}

// stateFile is the daemon's snapshot of its memberships and forwarding
// entries (snapshot.go): written from the loop shortly after state
// changes, read once at start. Only the loop touches it.
type stateFile struct {
	path string    // "" for none
	due  time.Time // when the pending write is due; zero if none
	buf  []byte    // the last encoding, reused
	// boot reads the boot clock; the tests inject one.
	boot func() (bootStamp, error)
	// cut is set while the last write had to leave state out.
	cut bool
	// cost is how long the last write took.
	cost time.Duration
	// dropped is the count of lost packets at the last look (saveWhenIdle).
	dropped uint64
}

// statePath is where the snapshot of the daemon listening on socket
// lives: beside the socket, in the runtime directory, named after it, so
// that daemons with their own sockets have their own snapshots.
func statePath(socket string) string {
	if socket == "" {
		return ""
	}
	return filepath.Join(filepath.Dir(socket), strings.TrimSuffix(filepath.Base(socket), ".sock")+".state")
}

// stateChanged schedules a write of the snapshot, unless one is pending.
func (d *Daemon) stateChanged() {
	if d.state.path != "" && d.state.due.IsZero() {
		d.state.due = time.Now().Add(max(stateDelay, stateShare*d.state.cost))
	}
}

// saveWhenIdle writes the snapshot that is due, unless the loop is busy:
// its last batch from a routing socket left more to read, or packets were
// lost since the last look (a report flood). Then the write waits another stateDelay, so a
// snapshot never adds to the loop's work when it has the least time for
// it; state written while a flood lasts would be mostly the flood's.
func (d *Daemon) saveWhenIdle(now time.Time) {
	var dropped uint64
	backlog := false
	for _, p := range d.allPlanes() {
		dropped += p.drops[dropReadError] + p.kernelDrops
		backlog = backlog || p.backlog
	}
	busy := backlog || dropped != d.state.dropped
	d.state.dropped = dropped
	if busy {
		d.state.due = now.Add(stateDelay)
		return
	}
	d.saveState(now, false)
}

// collectState is the snapshot of the daemon's state at now: every
// downstream's group records and every flow, by interface name, one plane
// per family. Interface names are unique across proxy instances, so the
// planes of all instances of a family go into one.
func (d *Daemon) collectState(now time.Time, clean bool, boot bootStamp) *savedState {
	s := &savedState{clean: clean, bootID: boot.id, written: boot.since}
	for _, p := range d.allPlanes() {
		i := slices.IndexFunc(s.planes, func(sp snapPlane) bool { return sp.v6 == (p.fam == ipv6) })
		if i < 0 {
			s.planes = append(s.planes, snapPlane{v6: p.fam == ipv6})
			i = len(s.planes) - 1
		}
		sp := &s.planes[i]
		for _, ifi := range p.brain.Downstreams() {
			if groups := p.brain.Save(now, ifi); len(groups) > 0 {
				sp.links = append(sp.links, snapLink{name: p.links[ifi], groups: groups})
			}
		}
		for _, f := range p.brain.FlowInputs() {
			if name, ok := p.links[f.Input]; ok {
				sp.flows = append(sp.flows, snapFlow{source: f.Source, group: f.Group, input: name})
			}
		}
	}
	return s
}

// saveState writes the snapshot: encoded in the loop (a few hundred
// microseconds for a thousand groups), written to a temporary file and
// renamed over the old one, so a reader never sees half a file. There is
// no fsync: the runtime directory is a tmpfs, and a snapshot only matters
// within the boot it was written in.
func (d *Daemon) saveState(now time.Time, clean bool) {
	d.state.due = time.Time{}
	if d.state.path == "" {
		return
	}
	start := time.Now()
	defer func() { d.state.cost = time.Since(start) }()
	boot, err := d.state.boot()
	if err != nil {
		d.check(err, "write state snapshot")
		return
	}
	var left int
	d.state.buf, left = encodeSnapshot(d.state.buf, d.collectState(now, clean, boot))
	if left > 0 && !d.state.cut {
		d.log.Warn("state snapshot full: a restart will not bring back everything", "left-out", left, "limit-bytes", snapshotMax)
	}
	d.state.cut = left > 0
	d.check(writeAtomic(d.state.path, d.state.buf), "write state snapshot", "file", d.state.path)
}

// readState reads the snapshot file, refusing one larger than any
// snapshot can be.
func readState(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, snapshotMax+1))
	if err == nil && len(b) > snapshotMax {
		err = format.Errorf("%w: larger than %d bytes", errSnapshot, snapshotMax)
	}
	return b, err
}

// restoreState brings back what a snapshot left by the previous daemon
// still holds, right after start-up has put the interfaces in service:
// memberships younger than their group membership interval go back on the
// downstreams of the same name (at their current interface index), which
// subscribes upstream at once, and flows are installed again, so traffic
// flows before any host answered a query. The startup queries, sent at
// once, confirm or let expire what was restored. A snapshot from another
// boot, too old, or not valid is ignored with one log line.
func (d *Daemon) restoreState(now time.Time) {
	if d.state.path == "" {
		return
	}
	b, err := readState(d.state.path)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		d.log.Warn("state snapshot ignored: cannot read it", "file", d.state.path, "err", err)
		return
	}
	s, err := decodeSnapshot(b)
	if err != nil {
		d.log.Warn("state snapshot ignored", "file", d.state.path, "err", err)
		return
	}
	boot, err := d.state.boot()
	if err != nil {
		d.log.Warn("state snapshot ignored: no boot clock", "err", err)
		return
	}
	age := boot.since - s.written
	if boot.id != s.bootID || age < 0 {
		d.log.Info("state snapshot ignored: written before the last reboot", "file", d.state.path)
		return
	}
	if fresh := d.maxMembershipInterval(); age >= fresh {
		d.log.Info("state snapshot ignored: older than the group membership interval", "file", d.state.path,
			"age", age.Round(time.Millisecond), "interval", fresh)
		return
	}
	var groups, flows, dropped int
	for _, sp := range s.planes {
		fam := ipv4
		if sp.v6 {
			fam = ipv6
		}
		if !slices.ContainsFunc(d.allPlanes(), func(p *plane) bool { return p.fam == fam }) {
			continue // the family is off: its state is left alone
		}
		// Interface names are unique across proxy instances: each goes
		// back to the instance that has it now.
		for _, l := range sp.links {
			p := d.planeWith(fam, l.name)
			var st *inService
			if p != nil {
				st = p.active[l.name]
			}
			if st == nil || st.cfg.Role != config.RoleDownstream {
				dropped += len(l.groups) // no longer a downstream
				continue
			}
			before := p.groupCount(st.ifindex)
			d.execute(p, p.brain.Restore(now, st.ifindex, age, l.groups))
			n := p.groupCount(st.ifindex) - before
			groups += n
			dropped += len(l.groups) - n
		}
		for _, f := range sp.flows {
			p := d.planeWith(fam, f.input)
			if p == nil {
				continue
			}
			st := p.active[f.input]
			acts := p.brain.SourceActive(now, st.ifindex, f.source, f.group)
			for _, a := range acts {
				if a.Kind == proxy.KindSetRoute {
					flows++
				}
			}
			d.execute(p, acts)
		}
	}
	d.log.Info("state restored from before the restart", "file", d.state.path, "age", age.Round(time.Millisecond),
		"clean-stop", s.clean, "groups", groups, "flows", flows, "dropped", dropped)
	d.stateChanged()
}

// groupCount is the number of groups on a downstream of the plane.
func (p *plane) groupCount(ifindex int) int {
	if r, ok := p.brain.Router(ifindex); ok {
		return r.NumGroups()
	}
	return 0
}

// maxMembershipInterval is the longest Group Membership Interval (RFC 3376
// §8.4, RFC 3810 §9.4) of the configured downstreams: a snapshot older
// than that holds nothing that has not expired.
func (d *Daemon) maxMembershipInterval() time.Duration {
	var longest time.Duration
	var downs []*config.Interface
	for _, in := range d.cfg.Instances() {
		downs = append(downs, in.Downstreams()...)
	}
	for _, ds := range downs {
		c := membership.Config{Robustness: ds.Robustness, QueryInterval: ds.QueryInterval, QueryResponseInterval: ds.QueryResponseInterval}.WithDefaults()
		longest = max(longest, time.Duration(c.Robustness)*c.QueryInterval+c.QueryResponseInterval)
	}
	return longest
}

// planeWith returns the plane of fam, of whichever instance, that has the
// interface name in service.
func (d *Daemon) planeWith(fam *family, name string) *plane {
	for _, p := range d.allPlanes() {
		if _, ok := p.active[name]; ok && p.fam == fam {
			return p
		}
	}
	return nil
}

// parseBootID reads a boot id as the kernel writes it, 32 hex digits in
// dashed groups and a line break. (encoding/hex would link package fmt
// back into the binary, for its error type's message.)
func parseBootID(s string) (id [16]byte, ok bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		var v byte
		switch {
		case c == '-' || (i == len(s)-1 && c == '\n'):
			continue
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			v = c - 'A' + 10
		default:
			return [16]byte{}, false
		}
		if n == 2*len(id) {
			return [16]byte{}, false
		}
		id[n/2] |= v << (4 * (1 - n%2))
		n++
	}
	if n != 2*len(id) {
		return [16]byte{}, false
	}
	return id, true
}
