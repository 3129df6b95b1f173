package scope

import (
	"net/netip"
	"testing"
)

func TestLinkLocal(t *testing.T) {
	tests := []struct {
		group string
		want  bool
	}{
		{"224.0.0.1", true},
		{"224.0.0.251", true}, // mDNS
		{"224.0.0.255", true},
		{"224.0.1.1", false},
		{"239.255.255.250", false}, // SSDP: filtered by access lists, not here
		{"232.1.1.1", false},
		{"ff00::1", true}, // reserved scope
		{"ff01::1", true}, // interface-local
		{"ff02::1", true},
		{"ff32::1", true}, // link-local scope with flags set
		{"ff05::1", false},
		{"ff3e::1", false},
		{"ff0e::1:2", false},
	}
	for _, tt := range tests {
		if got := LinkLocal(netip.MustParseAddr(tt.group)); got != tt.want {
			t.Errorf("LinkLocal(%s) = %v, want %v", tt.group, got, tt.want)
		}
	}
}
