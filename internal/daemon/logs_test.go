package daemon

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/logx"
	"github.com/mcast-proxy/mcast-proxy/internal/membership"
	"github.com/mcast-proxy/mcast-proxy/internal/proxy"
)

// TestOlderQuerierIsLogged: RFC 3376 §7.3.1 asks for a warning when a
// querier of an older version is heard; it was only counted. Logged at
// most once a minute per link.
func TestOlderQuerierIsLogged(t *testing.T) {
	var out bytes.Buffer
	p := newPlane(ipv4, nil, logx.New(&out, logx.Options{}))
	p.links[3] = "br-lan"
	t0 := time.Unix(1000, 0)
	p.brain.AddDownstream(t0, proxy.Downstream{Link: proxy.Link{Ifindex: 3, Name: "br-lan", Addr: netip.MustParseAddr("192.168.1.1"),
		Subnets: []netip.Prefix{netip.MustParsePrefix("192.168.1.0/24")}}})
	v2 := membership.Query{Version: 2, MaxResp: 10 * time.Second}
	for i, at := range []time.Duration{0, time.Second, 2 * time.Minute} {
		now := t0.Add(at)
		p.brain.Query(now, 3, netip.MustParseAddr("192.168.1.9"), v2)
		p.reportOlderQuerier(now, 3)
		if n, want := strings.Count(out.String(), "older protocol version"), []int{1, 1, 2}[i]; n != want {
			t.Fatalf("after query %d: %d warnings, want %d:\n%s", i, n, want, out.String())
		}
	}
	if !strings.Contains(out.String(), "querier=192.168.1.9 version=2") {
		t.Errorf("warning does not name the querier and its version:\n%s", out.String())
	}
}

// TestSourceNotAcceptedIsLogged: an upstream with a /32 address (PPPoE)
// refuses provider sources unless 'source' is set; that was only counted.
// It is logged once, with the fix.
func TestSourceNotAcceptedIsLogged(t *testing.T) {
	var out bytes.Buffer
	d := &Daemon{log: logx.New(&out, logx.Options{}), warned: map[string]bool{}}
	p := newPlane(ipv4, nil, d.log)
	t0 := time.Unix(1000, 0)
	p.brain.SetUpstream(t0, proxy.Link{Ifindex: 2, Name: "pppoe-wan", Subnets: []netip.Prefix{netip.MustParsePrefix("100.64.1.2/32")}}, nil, nil)
	for range 3 {
		d.sourceNotAccepted(p, netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("239.1.1.1"))
	}
	if n := strings.Count(out.String(), "upstream traffic refused"); n != 1 {
		t.Fatalf("%d warnings, want 1:\n%s", n, out.String())
	}
	if !strings.Contains(out.String(), `fix="source 198.51.100.7/32"`) {
		t.Errorf("warning lacks the fix:\n%s", out.String())
	}
}
