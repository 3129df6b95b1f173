package daemon

import (
	"testing"

	"github.com/mcast-proxy/mcast-proxy/internal/config"
)

// TestFamilyInService: a family is proxied when some upstream, not only
// the preferred one, and some downstream have it on: a backup upstream's
// ipv6 setting counts both ways.
func TestFamilyInService(t *testing.T) {
	tests := []struct {
		name       string
		conf       string
		ipv4, ipv6 bool
	}{{
		name: "ipv6 only on the backup upstream",
		conf: "ipv6 yes\ninterface wan { upstream; priority 1; ipv6 no }\ninterface wan6 { upstream; priority 2 }\ninterface lan { downstream }\n",
		ipv4: true, ipv6: true,
	}, {
		name: "ipv4 off on the preferred upstream, on on the backup",
		conf: "ipv6 yes\ninterface wan { upstream; priority 1; ipv4 no }\ninterface wan2 { upstream; priority 2 }\ninterface lan { downstream }\n",
		ipv4: true, ipv6: true,
	}, {
		name: "no upstream has ipv6",
		conf: "ipv6 yes\ninterface wan { upstream; ipv6 no }\ninterface lan { downstream }\n",
		ipv4: true, ipv6: false,
	}, {
		name: "no downstream has ipv6",
		conf: "ipv6 yes\ninterface wan { upstream }\ninterface lan { downstream; ipv6 no }\n",
		ipv4: true, ipv6: false,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.Parse("t.conf", []byte(tc.conf))
			if err != nil {
				t.Fatal(err)
			}
			if got := ipv4.enabled(c); got != tc.ipv4 {
				t.Errorf("ipv4 in service = %v, want %v", got, tc.ipv4)
			}
			if got := ipv6.enabled(c); got != tc.ipv6 {
				t.Errorf("ipv6 in service = %v, want %v", got, tc.ipv6)
			}
		})
	}
}
