package netns

import (
	"net"
	"os"
	"strings"
	"testing"
)

// A link made with IP is seen by Do, by Batch, and not by the caller's
// namespace; Do puts the thread back where it was.
func TestNS(t *testing.T) {
	ns := New(t)
	ns.IP(t, "link", "add", "nstest0", "type", "veth", "peer", "name", "nstest1")
	ns.Batch(t, "link set nstest0 up", "link set nstest1 up")
	before, err := os.Readlink("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	var inside string
	ns.Do(t, func() {
		if _, err := net.InterfaceByName("nstest0"); err != nil {
			t.Errorf("inside: %v", err)
		}
		inside, _ = os.Readlink("/proc/thread-self/ns/net")
	})
	if inside == before {
		t.Errorf("Do ran in the caller's namespace %s", before)
	}
	if _, err := net.InterfaceByName("nstest0"); err == nil {
		t.Error("nstest0 leaked into the caller's namespace")
	}
	if out := ns.IP(t, "-o", "link", "show", "up"); !strings.Contains(out, "nstest1") {
		t.Errorf("ip link show up after Batch:\n%s", out)
	}
}

// Enter gives the test goroutine a namespace with only loopback, up.
func TestEnter(t *testing.T) {
	Enter(t)
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	if len(ifs) != 1 || ifs[0].Name != "lo" || ifs[0].Flags&net.FlagUp == 0 {
		t.Errorf("interfaces after Enter = %v, want lo up", ifs)
	}
}
