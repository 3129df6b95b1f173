package igmp

import (
	"encoding/hex"
	"reflect"
	"testing"
)

// FuzzParse checks that Parse never panics and that whatever it accepts
// survives Marshal and Parse unchanged.
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
		if !reflect.DeepEqual(m, again) {
			t.Fatalf("round trip changed the message:\n in  %x -> %#v\n out %x -> %#v", b, m, out, again)
		}
	})
}
