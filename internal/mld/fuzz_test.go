package mld

import (
	"encoding/binary"
	"net/netip"
	"reflect"
	"testing"

	"github.com/mcast-proxy/mcast-proxy/internal/igmp"
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
		checkDecoder(t, b)
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

// checkDecoder checks that a Decoder, whatever it parsed before, returns
// what Parse returns: nothing of the storage it reuses shows.
func checkDecoder(t *testing.T, b []byte) {
	t.Helper()
	want, wantErr := Parse(b)
	var d Decoder
	// Storage left by an earlier report: more records than most, with
	// sources and auxiliary data.
	earlier := &V2Report{Records: []AddressRecord{
		{Type: igmp.ModeIsExclude, Group: ip("ff3e::9"), Sources: []netip.Addr{ip("2001:db8::9")}, AuxData: []byte{1, 2, 3, 4}},
		{Type: igmp.AllowNewSources, Group: ip("ff3e::8"), Sources: []netip.Addr{ip("2001:db8::8")}},
		{Type: igmp.ChangeToExclude, Group: ip("ff3e::7")},
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

// TestDecoderAllocations: on the report path a Decoder allocates nothing
// once it has parsed a report of the size: under a flood of reports with
// hundreds of sources each, a fresh source list per report was most of the
// daemon's garbage.
func TestDecoderAllocations(t *testing.T) {
	g := ip("ff3e::1")
	messages := []struct {
		name   string
		m      Message
		allocs float64
	}{
		{"v1 report", &Report{Group: g}, 0},
		{"v1 done", &Done{Group: g}, 0},
		{"v2 join, TO_EX({})", &V2Report{Records: []AddressRecord{{Type: igmp.ChangeToExclude, Group: g}}}, 0},
		{"v2 report with sources", &V2Report{Records: []AddressRecord{
			{Type: igmp.AllowNewSources, Group: g, Sources: []netip.Addr{ip("2001:db8::1"), ip("2001:db8::2")}},
			{Type: igmp.BlockOldSources, Group: g, Sources: []netip.Addr{ip("2001:db8::3")}},
		}}, 0},
	}
	for _, tt := range messages {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.m.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			var d Decoder
			if _, err := d.Parse(b); err != nil {
				t.Fatal(err)
			}
			if got := testing.AllocsPerRun(100, func() { d.Parse(b) }); got != tt.allocs {
				t.Errorf("Decoder.Parse allocates %.0f times, want %.0f", got, tt.allocs)
			}
		})
	}
}

// TestDecoderBigReport: a report with more sources than igmp.KeptSources
// (a fragmented or jumbo one) decodes as Parse decodes it, and the decoder
// keeps no room for it (igmp's TestDecoderRoomIsBounded tests the room).
func TestDecoderBigReport(t *testing.T) {
	big := make([]netip.Addr, igmp.KeptSources+1)
	for i := range big {
		big[i] = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: byte(i >> 8), 15: byte(i)})
	}
	b, err := (&V2Report{Records: []AddressRecord{{Type: igmp.ModeIsInclude, Group: ip("ff3e::1"), Sources: big}}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var d Decoder
	m, err := d.Parse(b)
	if want, _ := Parse(b); err != nil || !reflect.DeepEqual(m, want) {
		t.Fatalf("Decoder.Parse = %#v, %v; want %#v", m, err, want)
	}
	if d.sources.Kept() != 0 {
		t.Errorf("the decoder keeps room for %d sources after a report of %d", d.sources.Kept(), len(big))
	}
}
