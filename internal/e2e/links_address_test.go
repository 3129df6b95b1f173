//go:build linux

package e2e

import (
	"net/netip"
	"regexp"
	"testing"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/netlab"
)

// TestUpstreamAddressAfterTraffic: a PPPoE reconnect brings the upstream
// back on a new subnet, and the provider's stream reaches the link before
// the router has its new address (IPCP finishes after the link is up).
// Without 'source' prefixes the sender is refused at first, correctly; once
// the address arrives it is on the upstream's subnet and must be forwarded
// within seconds, not when the kernel's unresolved entry times out (10 s).
func TestUpstreamAddressAfterTraffic(t *testing.T) {
	t.Parallel()
	tp := newTopo(t, topoOptions{noDaemon: true})
	tp.startDaemon("ipv4 yes\n" +
		"interface up0 { upstream }\n" +
		"interface br-lan { downstream; " + downstreamTimers + " }\n")
	tp.waitVIFs(fam4, "up0", "br-lan")
	r1 := tp.receiver("rcv1", g1, netlab.AnySource)
	start := time.Now()
	old := tp.sender(s1, g1)
	tp.waitFlowing(r1, s1, start, 20, 5*time.Second)

	tp.must(tp.lab.IP("router", "link", "del", "up0"))
	old.Stop()
	tp.waitFor(5*time.Second, "up0's VIF to go", func() bool { return len(tp.vifLines("up0")) == 0 })

	// The link comes back without the router's address; the sender
	// already sends from the new subnet.
	newSrc := netip.MustParseAddr("10.9.0.2")
	tp.must(tp.lab.Link("src", "eth0", "router", "up0"))
	tp.must(tp.lab.Addr("src", "eth0", "10.9.0.2/24"))
	tp.waitVIFs(fam4, "up0", "br-lan")
	tp.sender(newSrc, g1)
	tp.waitLog(regexp.MustCompile(`upstream has no address`), 1, 5*time.Second)
	time.Sleep(300 * time.Millisecond) // the stream reaches the router while it has no address

	tp.must(tp.lab.Addr("router", "up0", "10.9.0.1/24"))
	usable := time.Now()
	at := tp.waitFlowing(r1, newSrc, usable, 20, 15*time.Second)
	t.Logf("up0 addressed -> stream from %s at rcv1: %v", newSrc, at.Sub(usable).Round(time.Millisecond))
	if d := at.Sub(usable); d > recoveryLimit {
		t.Errorf("stream from %s back %v after up0 got its address, want within %v", newSrc, d.Round(time.Millisecond), recoveryLimit)
		_, out, _ := tp.runCLI("status")
		t.Logf("status:\n%s", indent(out))
	}
}
