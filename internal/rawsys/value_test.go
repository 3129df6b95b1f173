package rawsys

import (
	"bytes"
	"testing"
)

func TestOptionValue(t *testing.T) {
	used := bytes.Repeat([]byte{0xa5}, 64)
	for _, n := range []int{0, 8, 64} {
		got := OptionValue(used, n)
		if len(got) != n || !bytes.Equal(got, make([]byte, n)) {
			t.Errorf("OptionValue(used, %d) = % x, want %d zero bytes", n, got, n)
		}
		if n > 0 && &got[0] != &used[0] {
			t.Errorf("OptionValue(used, %d) did not reuse a buffer with room", n)
		}
	}
	if got := OptionValue(used[:0:8], 9); len(got) != 9 || !bytes.Equal(got, make([]byte, 9)) {
		t.Errorf("OptionValue of a small buffer = % x, want 9 zero bytes", got)
	}
	if got := OptionValue(nil, 4); len(got) != 4 {
		t.Errorf("OptionValue(nil, 4) has %d bytes", len(got))
	}
}
