package daemon

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/config"
	"github.com/mcast-proxy/mcast-proxy/internal/logx"
	"github.com/mcast-proxy/mcast-proxy/internal/membership"
	"github.com/mcast-proxy/mcast-proxy/internal/proxy"
)

// The upstream-silence warning (streams that die every membership interval
// because the upstream's queries never arrive) is logged once when no
// query was heard for the other-querier-present interval, counted from the
// later of the last query and the upstream's entry into service, and armed
// again once queries come back.
func TestUpstreamSilenceWarning(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var logs bytes.Buffer
	brain := proxy.New(proxy.Config{})
	brain.SetUpstream(t0, proxy.Link{Ifindex: 2, Name: "up0"}, nil, nil)
	in := &instance{cfg: &config.Config{}, up: activeUpstream{name: "up0", since: t0}, planes: []*plane{{brain: brain}}}
	d := &Daemon{
		log: logx.New(&logs, logx.Options{}), warned: map[string]bool{},
		insts: []*instance{in},
	}
	warnings := func() int { return strings.Count(logs.String(), "no IGMP/MLD query heard") }

	d.operationalChecks(in, t0.Add(upstreamQuerySilence-time.Second))
	if warnings() != 0 {
		t.Fatalf("warned before the interval was over:\n%s", logs.String())
	}
	d.operationalChecks(in, t0.Add(upstreamQuerySilence))
	d.operationalChecks(in, t0.Add(2*upstreamQuerySilence))
	if warnings() != 1 {
		t.Fatalf("want exactly one warning, got %d:\n%s", warnings(), logs.String())
	}
	// A query arrives: no warning while they keep coming...
	heard := t0.Add(3 * upstreamQuerySilence)
	brain.Query(heard, 2, netip.MustParseAddr("10.0.0.254"), membership.Query{Version: 3})
	d.operationalChecks(in, heard.Add(time.Minute))
	if warnings() != 1 {
		t.Fatalf("warned although a query was heard a minute ago:\n%s", logs.String())
	}
	// ...and a new warning once they stop again.
	d.operationalChecks(in, heard.Add(upstreamQuerySilence))
	if warnings() != 2 {
		t.Fatalf("want a second warning after queries stopped again, got %d", warnings())
	}
}
