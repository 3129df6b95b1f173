package igmp

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"net/netip"
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
		checkDecoder(t, b)
		if len(b) >= 4 {
			fixed := bytes.Clone(b)
			fixed[2], fixed[3] = 0, 0
			binary.BigEndian.PutUint16(fixed[2:4], Checksum(fixed))
			checkRoundTrip(t, fixed)
			checkDecoder(t, fixed)
		}
	})
}

// checkDecoder checks that a Decoder, whatever it parsed before, returns
// what Parse returns: nothing of the storage it reuses shows.
func checkDecoder(t *testing.T, b []byte) {
	t.Helper()
	want, wantErr := Parse(b)
	var d Decoder
	// Storage left by an earlier report: more records than most, with
	// sources and auxiliary data.
	earlier := &V3Report{Records: []GroupRecord{
		{Type: ModeIsExclude, Group: netip.MustParseAddr("239.9.9.9"), Sources: []netip.Addr{netip.MustParseAddr("10.9.9.9")}, AuxData: []byte{1, 2, 3, 4}},
		{Type: AllowNewSources, Group: netip.MustParseAddr("239.9.9.8"), Sources: []netip.Addr{netip.MustParseAddr("10.9.9.8")}},
		{Type: ChangeToExclude, Group: netip.MustParseAddr("239.9.9.7")},
	}}
	eb, err := earlier.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, first := range [][]byte{nil, eb, b} {
		if first != nil {
			d.Parse(first)
		}
		got, err := d.Parse(b)
		if (err == nil) != (wantErr == nil) || !reflect.DeepEqual(got, want) {
			t.Fatalf("Decoder.Parse(%x) after %x = %#v, %v; Parse gives %#v, %v", b, first, got, err, want, wantErr)
		}
	}
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
