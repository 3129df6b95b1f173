package daemon

import (
	"errors"
	"io"
	"net/netip"
	"reflect"
	"testing"

	"github.com/mcast-proxy/mcast-proxy/internal/config"
	"github.com/mcast-proxy/mcast-proxy/internal/logx"
	"github.com/mcast-proxy/mcast-proxy/internal/mroute"
	"github.com/mcast-proxy/mcast-proxy/internal/upstream"
)

// recordingSubscriber is an upstream subscription that records Set calls.
type recordingSubscriber struct {
	groups []netip.Addr
	set    []netip.Addr
}

func (r *recordingSubscriber) Groups() []netip.Addr { return r.groups }

func (r *recordingSubscriber) Set(g netip.Addr, f upstream.Filter) error {
	if f.Mode != upstream.Include || len(f.Sources) != 0 {
		return errors.New("not a leave")
	}
	r.set = append(r.set, g)
	return nil
}

// TestLeaveFamily: disabling a family by reload leaves that family's
// upstream groups, and only those.
func TestLeaveFamily(t *testing.T) {
	s := &recordingSubscriber{groups: []netip.Addr{netip.MustParseAddr("239.1.1.1"), netip.MustParseAddr("ff3e::1"), netip.MustParseAddr("232.1.1.1")}}
	if err := leaveFamily(s, ipv6.is); err != nil {
		t.Fatal(err)
	}
	if want := []netip.Addr{netip.MustParseAddr("ff3e::1")}; !reflect.DeepEqual(s.set, want) {
		t.Errorf("left %v, want %v", s.set, want)
	}
}

// TestRulesOnlyChangeWhatChanged: a reload that keeps the table and the
// interfaces touches no rule (deleting and re-adding one opens a window in
// which traffic goes to the default table); a new interface adds only its
// own.
func TestRulesOnlyChangeWhatChanged(t *testing.T) {
	parse := func(s string) *config.Config {
		c, err := config.Parse("t.conf", []byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	old := wantedRules(parse("table 5\ninterface wan { upstream }\ninterface lan { downstream }\n"), []*family{ipv4})
	if len(old) != 4 {
		t.Fatalf("rules for two interfaces: %v", old)
	}
	same := wantedRules(parse("table 5\ninterface wan { upstream }\ninterface lan { downstream; robustness 3 }\n"), []*family{ipv4})
	if del, add := diffRules(old, same); len(del)+len(add) != 0 {
		t.Errorf("unchanged interfaces: delete %v, add %v; want nothing", del, add)
	}
	more := wantedRules(parse("table 5\ninterface wan { upstream }\ninterface lan { downstream }\ninterface guest { downstream }\n"), []*family{ipv4})
	del, add := diffRules(old, more)
	want := []mroute.Rule{
		{Family: 4, Iif: "guest", Table: 5, Priority: rulePriority, Protocol: ruleProtocol},
		{Family: 4, Oif: "guest", Table: 5, Priority: rulePriority, Protocol: ruleProtocol},
	}
	if len(del) != 0 || !reflect.DeepEqual(add, want) {
		t.Errorf("new interface: delete %v, add %v; want only %v added", del, add, want)
	}
}

// closeRecorder is a routing socket that only records being closed.
type closeRecorder struct {
	mrouter
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

// TestFailedTableChangeChangesNothing: when the new table cannot be opened,
// the running sockets stay open and the configuration stays the old one,
// so the answer "not reloaded" is true.
func TestFailedTableChangeChangesNothing(t *testing.T) {
	saved := families
	defer func() { families = saved }()
	refusing := *ipv4
	refusing.open = func(uint32) (mrouter, error) { return nil, errors.New("no such table") }
	families = []*family{&refusing}

	old, err := config.Parse("t.conf", []byte("interface wan { upstream }\ninterface lan { downstream }\n"))
	if err != nil {
		t.Fatal(err)
	}
	next, err := config.Parse("t.conf", []byte("table 7\ninterface wan { upstream }\ninterface lan { downstream }\n"))
	if err != nil {
		t.Fatal(err)
	}
	mr := &closeRecorder{}
	p := newPlane(&refusing, mr, logx.New(io.Discard, logx.Options{}))
	in := &instance{cfg: old, planes: []*plane{p}}
	d := &Daemon{log: logx.New(io.Discard, logx.Options{}), cfg: old, insts: []*instance{in},
		openRouter: func(f *family, table uint32) (mrouter, error) { return f.open(table) }}
	if err := d.apply(next); err == nil {
		t.Fatal("apply succeeded with a table that cannot be opened")
	}
	if d.cfg != old || len(d.insts) != 1 || d.insts[0] != in || len(in.planes) != 1 || in.planes[0] != p || mr.closed {
		t.Errorf("after the failed reload: config replaced %v, planes %v, socket closed %v; want all as before", d.cfg != old, in.planes, mr.closed)
	}
}
