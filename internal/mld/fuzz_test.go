package mld

import (
	"encoding/binary"
	"reflect"
	"testing"
)

// FuzzParse checks that Parse never panics and that whatever it accepts
// survives Marshal and Parse unchanged. Unlike the IGMP fuzzer no checksum
// needs repairing: Parse leaves the checksum to the kernel, so every mutation
// already reaches the structure. Instead each accepted message is also given
// a checksum, which must then verify.
func FuzzParse(f *testing.F) {
	for _, v := range vectors {
		f.Add(v.b)
	}
	for _, c := range captures {
		f.Add(unhex(f, c.hex))
	}
	src, dst := ip("fe80::1"), ip("ff02::16")
	f.Fuzz(func(t *testing.T, b []byte) {
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
		if binary.BigEndian.Uint16(out[2:4]) != 0 {
			t.Fatalf("Marshal(%#v) = %x: checksum field not 0", m, out)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse(Marshal(%#v)) = %x: %v", m, out, err)
		}
		// Skipped records are not marshalled: compare what was kept.
		if r, ok := m.(*V2Report); ok {
			cp := *r
			cp.Skipped = 0
			m = &cp
		}
		if !reflect.DeepEqual(m, again) {
			t.Fatalf("round trip changed the message:\n in  %x -> %#v\n out %x -> %#v", b, m, out, again)
		}
		summed, err := MarshalWithChecksum(m, src, dst)
		if err != nil {
			t.Fatalf("MarshalWithChecksum(%#v): %v", m, err)
		}
		if c := Checksum(src, dst, summed); c != 0 {
			t.Fatalf("Checksum over MarshalWithChecksum output %x = 0x%04x, want 0", summed, c)
		}
	})
}
