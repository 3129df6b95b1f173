package sysctl

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRead(t *testing.T) {
	root := t.TempDir() + "/"
	if err := os.MkdirAll(filepath.Join(root, "net/ipv4/conf/all"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"net/ipv4/conf/all/rp_filter": "1\n",
		"net/ipv4/igmp_max_msf":       "  20 \n",
		"net/ipv4/garbage":            "yes\n",
	}
	for name, text := range files {
		if err := os.WriteFile(root+name, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		def  int
		want int
	}{
		{"net/ipv4/conf/all/rp_filter", 0, 1},
		{"net/ipv4/igmp_max_msf", 10, 20},
		{"net/ipv4/garbage", 7, 7},
		{"net/ipv4/missing", 64, 64},
	}
	for _, tt := range tests {
		if got := read(root, tt.name, tt.def); got != tt.want {
			t.Errorf("read(%q, %d) = %d, want %d", tt.name, tt.def, got, tt.want)
		}
	}
}
