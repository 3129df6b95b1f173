package linkwatch

import (
	"net"
	"net/netip"
	"testing"
)

// The loopback address is routed out of the loopback interface in every
// network namespace; no privileges are needed to ask.
func TestRouteIfindexLoopback(t *testing.T) {
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	got, err := RouteIfindex(netip.MustParseAddr("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	if got != lo.Index {
		t.Fatalf("route to 127.0.0.1 leaves via ifindex %d, want lo (%d)", got, lo.Index)
	}
}
