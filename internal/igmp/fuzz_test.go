package igmp

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"reflect"
	"testing"
)

// FuzzParse checks that Parse never panics and that whatever it accepts
// survives Marshal and Parse unchanged. Each input is also tried with its
// checksum repaired: random mutations almost never keep a valid checksum, and
// without the repair the fuzzer would never get past it to the structure.
func FuzzParse(f *testing.F) {
	for _, v := range vectors {
		f.Add(v.b)
	}
	for _, c := range captures {
		b, err := hex.DecodeString(c.hex)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkRoundTrip(t, b)
		if len(b) >= 4 {
			fixed := bytes.Clone(b)
			fixed[2], fixed[3] = 0, 0
			binary.BigEndian.PutUint16(fixed[2:4], Checksum(fixed))
			checkRoundTrip(t, fixed)
		}
	})
}

func checkRoundTrip(t *testing.T, b []byte) {
	t.Helper()
	m, err := Parse(b)
	if err != nil {
		if m != nil {
			t.Fatalf("Parse returned %#v with error %v", m, err)
		}
		return
	}
	out, err := m.Marshal()
	if err != nil {
		t.Fatalf("Marshal(%#v) of parsed %x: %v", m, b, err)
	}
	again, err := Parse(out)
	if err != nil {
		t.Fatalf("Parse(Marshal(%#v)) = %x: %v", m, out, err)
	}
	// Skipped records are not marshalled: compare what was kept.
	if r, ok := m.(*V3Report); ok {
		cp := *r
		cp.Skipped = 0
		m = &cp
	}
	if !reflect.DeepEqual(m, again) {
		t.Fatalf("round trip changed the message:\n in  %x -> %#v\n out %x -> %#v", b, m, out, again)
	}
}
