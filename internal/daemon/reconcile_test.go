package daemon

import (
	"flag"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/config"
	"github.com/mcast-proxy/mcast-proxy/internal/igmp"
	"github.com/mcast-proxy/mcast-proxy/internal/linkwatch"
	"github.com/mcast-proxy/mcast-proxy/internal/logx"
	"github.com/mcast-proxy/mcast-proxy/internal/membership"
	"github.com/mcast-proxy/mcast-proxy/internal/mld"
	"github.com/mcast-proxy/mcast-proxy/internal/mroute"
	"github.com/mcast-proxy/mcast-proxy/internal/upstream"
)

var dumpOps = flag.Bool("dump-ops", false, "print the kernel operations of every reconciliation step")

// rig is a daemon wired to recording fakes of the kernel edge and to a link
// snapshot the test controls: reconciliation runs exactly as in production,
// without root and without a kernel.
type rig struct {
	t    *testing.T
	d    *Daemon
	k    *kernelLog
	now  time.Time
	fams map[string]*fakeRouter // the latest routing socket of each family
	// rules are the multicast routing rules the kernel holds; a test may
	// leave some there before start, as a crashed run would.
	rules []mroute.Rule
	// tables are the routing tables with an open socket, by family.
	tables map[string]bool
}

func parseConf(t *testing.T, text string) *config.Config {
	t.Helper()
	c, err := config.Parse("t.conf", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newRig(t *testing.T, conf string, links []linkwatch.Link) *rig {
	t.Helper()
	return newRigWithRules(t, conf, links, nil)
}

// newRigWithRules starts a rig on a kernel that already holds rules, as
// one after a crash does.
func newRigWithRules(t *testing.T, conf string, links []linkwatch.Link, rules []mroute.Rule) *rig {
	t.Helper()
	r := &rig{t: t, k: &kernelLog{}, now: time.Now(), fams: map[string]*fakeRouter{}, rules: rules, tables: map[string]bool{}}
	cfg := parseConf(t, conf)
	r.d = &Daemon{
		log: logx.New(io.Discard, logx.Options{}), cfg: cfg, started: r.now,
		warned: map[string]bool{},
		budget: membership.NewBudget(int64(cfg.MaxMemoryTotal)),
		links:  snapshot(links),
		openRouter: func(fam *family, table uint32) (mrouter, error) {
			name := fam.name
			if table != 0 {
				name = fmt.Sprintf("%s/%d", fam.name, table)
			}
			// A table has one owner (MRT_INIT fails with EADDRINUSE).
			if r.tables[name] {
				r.k.add("%s open table %d: in use", name, table)
				return nil, fmt.Errorf("%s table %d: %w", fam.name, table, mroute.ErrInUse)
			}
			r.tables[name] = true
			f := newFakeRouter(name, r.k)
			f.release = func() { delete(r.tables, name) }
			r.k.add("%s open table %d", name, table)
			r.fams[fam.name] = f
			return f, nil
		},
		newJoiner: func(ifindex int) (joiner, error) {
			r.k.add("upstream join on %d", ifindex)
			return &fakeJoiner{log: r.k, ifindex: ifindex, filters: map[netip.Addr]upstream.Filter{}}, nil
		},
		addRule: func(x mroute.Rule) error {
			r.k.add("rule add %s", x)
			if !slices.Contains(r.rules, x) {
				r.rules = append(r.rules, x)
			}
			return nil
		},
		delRule: func(x mroute.Rule) error {
			r.k.add("rule del %s", x)
			r.rules = slices.DeleteFunc(r.rules, func(y mroute.Rule) bool { return y == x })
			return nil
		},
		findRules: func() ([]mroute.Rule, error) { return slices.Clone(r.rules), nil },
	}
	if err := r.d.start(r.now); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.d.stopAll() })
	return r
}

func snapshot(links []linkwatch.Link) linkwatch.Snapshot {
	s := linkwatch.Snapshot{}
	for _, l := range links {
		s[l.Name] = l
	}
	return s
}

// link is an interface as a snapshot shows it; addrs are prefixes.
func link(name string, index int, up bool, addrs ...string) linkwatch.Link {
	l := linkwatch.Link{Name: name, Index: index, Up: up}
	for _, a := range addrs {
		l.Addrs = append(l.Addrs, netip.MustParsePrefix(a))
	}
	return l
}

// step is one thing that happens to the running daemon, and the kernel
// operations it must cause, in order.
type step struct {
	name string
	do   func(r *rig)
	want []string
}

// links replaces the kernel's links, as a coalesced netlink notification
// followed by a fresh snapshot does.
func links(ls ...linkwatch.Link) func(*rig) {
	return func(r *rig) {
		r.d.linksChanged(linkwatch.Diff(r.d.links, snapshot(ls)))
	}
}

// reload applies a new configuration, as SIGHUP does once it validated.
func reload(conf string) func(*rig) {
	return func(r *rig) {
		if err := r.d.apply(parseConf(r.t, conf)); err != nil {
			r.t.Fatal(err)
		}
	}
}

// report is an IGMPv2 report for group arriving on the interface ifindex.
func report(ifindex int, from, group string) func(*rig) {
	return func(r *rig) {
		payload, err := (&igmp.Report{Version: 2, Group: netip.MustParseAddr(group)}).Marshal()
		if err != nil {
			r.t.Fatal(err)
		}
		r.deliver(ipv4, mroute.Packet{Ifindex: ifindex, Src: netip.MustParseAddr(from), Dst: netip.MustParseAddr(group), TTL: 1, RouterAlert: true, Payload: payload})
	}
}

// reportMLD is an MLDv1 report for group arriving on the interface ifindex
// from a link-local address.
func reportMLD(ifindex int, from, group string) func(*rig) {
	return func(r *rig) {
		payload, err := (&mld.Report{Group: netip.MustParseAddr(group)}).Marshal()
		if err != nil {
			r.t.Fatal(err)
		}
		r.deliver(ipv6, mroute.Packet{Ifindex: ifindex, Src: netip.MustParseAddr(from), Dst: netip.MustParseAddr(group), TTL: 1, RouterAlert: true, Payload: payload})
	}
}

// upcall is the kernel's report of the first packet of (src, group)
// arriving on ifindex without a forwarding entry.
func upcall(ifindex int, src, group string) func(*rig) {
	return func(r *rig) {
		r.deliver(ipv4, mroute.Packet{Upcall: &mroute.Upcall{Type: mroute.UpcallNoCache, Ifindex: ifindex,
			Source: netip.MustParseAddr(src), Group: netip.MustParseAddr(group)}})
	}
}

// deliver hands a packet to the loop at the current time: the
// reconciliation paths read the clock themselves, and a packet from another
// time would let memberships expire in between.
func (r *rig) deliver(fam *family, pkt mroute.Packet) {
	// The kernel hands a packet to the socket of the table its interface
	// belongs to.
	p := r.d.plane(fam)
	for _, x := range r.d.allPlanes() {
		_, ok := x.links[pkt.Ifindex]
		if x.fam == fam && (ok || (pkt.Upcall != nil && x.brain.UpstreamIfindex() == pkt.Upcall.Ifindex)) {
			p = x
		}
	}
	if p == nil {
		r.t.Fatalf("no %s plane", fam.name)
	}
	r.d.handle(event{plane: p, pkt: pkt, at: time.Now()})
}

func stop(r *rig) { r.d.stopAll() }

func runSteps(t *testing.T, conf string, start []linkwatch.Link, startOps []string, steps []step) {
	t.Helper()
	r := newRig(t, conf, start)
	check := func(name string, want []string) {
		t.Helper()
		got := r.k.take()
		if *dumpOps {
			t.Logf("%s:\n\t%s", name, strings.Join(got, "\n\t"))
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: kernel operations\n\t%s\nwant\n\t%s", name, strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
		}
	}
	check("start", startOps)
	for _, s := range steps {
		s.do(r)
		check(s.name, s.want)
	}
}
