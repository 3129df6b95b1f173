package daemon

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/membership"
)

var (
	testBoot = [16]byte{0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	ma       = netip.MustParseAddr
)

// sampleState has both families, both filter modes, excluded and running
// sources, and flows.
func sampleState() *savedState {
	return &savedState{
		clean: true, bootID: testBoot, written: 1234567 * time.Millisecond,
		planes: []snapPlane{{
			links: []snapLink{{name: "br-lan", groups: []membership.Saved{
				{Group: ma("239.1.1.1"), Mode: membership.Exclude, Compat: 2, Timer: 250 * time.Second,
					Sources: []membership.SavedSource{{Addr: ma("10.0.0.2")}, {Addr: ma("10.0.0.3"), Timer: 100 * time.Second}}},
				{Group: ma("232.1.1.1"), Mode: membership.Include, Compat: 3,
					Sources: []membership.SavedSource{{Addr: ma("10.0.0.2"), Timer: 5 * time.Millisecond}}},
			}}, {name: "lan2", groups: []membership.Saved{{Group: ma("239.2.2.2"), Mode: membership.Exclude, Compat: 3, Timer: time.Second}}}},
			flows: []snapFlow{{source: ma("10.0.0.2"), group: ma("239.1.1.1"), input: "wan"}},
		}, {
			v6: true,
			links: []snapLink{{name: "br-lan", groups: []membership.Saved{
				{Group: ma("ff1e::1"), Mode: membership.Exclude, Compat: 3, Timer: 2 * time.Second},
			}}},
			flows: []snapFlow{{source: ma("2001:db8::2"), group: ma("ff1e::1"), input: "wan"}},
		}},
	}
}

// TestSnapshotVector checks the encoding field by field.
func TestSnapshotVector(t *testing.T) {
	s := &savedState{bootID: testBoot, written: 3 * time.Second, planes: []snapPlane{{
		links: []snapLink{{name: "lan", groups: []membership.Saved{
			{Group: ma("239.1.1.1"), Mode: membership.Exclude, Compat: 3, Timer: 1500 * time.Millisecond,
				Sources: []membership.SavedSource{{Addr: ma("10.0.0.2"), Timer: 0}}},
		}}},
		flows: []snapFlow{{source: ma("10.0.0.2"), group: ma("239.1.1.1"), input: "wan"}},
	}}}
	var want []byte
	want = append(want, "MCPS"...)
	want = append(want, 1, 0, 0, 0) // version, flags, reserved
	want = append(want, testBoot[:]...)
	want = append(want, 0, 0, 0, 0, 0xb2, 0xd0, 0x5e, 0x00) // 3e9 ns
	want = append(want, 1, 4, 0, 1)                         // one plane, IPv4, one link
	want = append(want, 3, 'l', 'a', 'n', 0, 0, 0, 1)       // "lan", one group
	want = append(want, 239, 1, 1, 1, 2, 3, 0, 0, 0x05, 0xdc, 0, 0, 0, 1)
	want = append(want, 10, 0, 0, 2, 0, 0, 0, 0)
	want = append(want, 0, 0, 0, 1, 10, 0, 0, 2, 239, 1, 1, 1, 3, 'w', 'a', 'n')
	want = binary.BigEndian.AppendUint32(want, crc32.Checksum(want, crc32.MakeTable(crc32.Castagnoli)))
	got, left := encodeSnapshot(nil, s)
	if left != 0 || !bytes.Equal(got, want) {
		t.Fatalf("encoded (%d left out)\n%x\nwant\n%x", left, got, want)
	}
	back, err := decodeSnapshot(got)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, s) {
		t.Errorf("decoded %+v, want %+v", back, s)
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	for _, s := range []*savedState{sampleState(), {bootID: testBoot}, {planes: []snapPlane{{v6: true}}}} {
		b, left := encodeSnapshot(nil, s)
		if left != 0 {
			t.Fatalf("%d left out", left)
		}
		got, err := decodeSnapshot(b)
		if err != nil {
			t.Fatal(err)
		}
		// An empty list decodes as an empty, not a nil, slice.
		for i := range got.planes {
			if len(got.planes[i].links) == 0 {
				got.planes[i].links = nil
			}
			if len(got.planes[i].flows) == 0 {
				got.planes[i].flows = nil
			}
		}
		if !reflect.DeepEqual(got, s) {
			t.Errorf("round trip\n%+v\nwant\n%+v", got, s)
		}
	}
}

// TestSnapshotInvalid: every kind of damage is refused with errSnapshot.
func TestSnapshotInvalid(t *testing.T) {
	good, _ := encodeSnapshot(nil, sampleState())
	resum := func(b []byte) []byte {
		b = b[:len(b)-4]
		return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	}
	edit := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"short", good[:20]},
		{"bad magic", resum(edit(func(b []byte) []byte { b[0] = 'X'; return b }))},
		{"version 2", resum(edit(func(b []byte) []byte { b[4] = 2; return b }))},
		{"unknown flag", resum(edit(func(b []byte) []byte { b[5] |= 2; return b }))},
		{"reserved set", resum(edit(func(b []byte) []byte { b[7] = 1; return b }))},
		{"checksum", edit(func(b []byte) []byte { b[40] ^= 1; return b })},
		{"truncated", resum(good[:len(good)-10])},
		{"trailing byte", resum(append(edit(func(b []byte) []byte { return b[:len(b)-4] }), 0, 0, 0, 0, 0))},
		{"three planes", resum(edit(func(b []byte) []byte { b[32] = 3; return b }))},
		{"bad family", resum(edit(func(b []byte) []byte { b[33] = 5; return b }))},
		{"huge count", resum(edit(func(b []byte) []byte { b[34], b[35] = 0xff, 0xff; return b }))},
		{"too large", make([]byte, snapshotMax+1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if s, err := decodeSnapshot(tt.b); !errors.Is(err, errSnapshot) {
				t.Errorf("decode = %+v, %v; want errSnapshot", s, err)
			}
		})
	}
}

// TestSnapshotBound: state beyond snapshotMax is left out, counted, and
// what is written stays valid and within the bound.
func TestSnapshotBound(t *testing.T) {
	var groups []membership.Saved
	for i := range 20000 {
		groups = append(groups, membership.Saved{Group: netip.AddrFrom4([4]byte{239, 1, byte(i >> 8), byte(i)}), Mode: membership.Include, Compat: 3,
			Sources: []membership.SavedSource{{Addr: ma("10.0.0.2"), Timer: time.Second}}})
	}
	s := &savedState{planes: []snapPlane{{links: []snapLink{{name: "lan", groups: groups}}}}}
	b, left := encodeSnapshot(nil, s)
	if len(b) > snapshotMax || left == 0 {
		t.Fatalf("%d bytes, %d left out; want at most %d bytes and some left out", len(b), left, snapshotMax)
	}
	got, err := decodeSnapshot(b)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(got.planes[0].links[0].groups); n+left != len(groups) {
		t.Errorf("%d groups written + %d left out, want %d", n, left, len(groups))
	}
	t.Logf("%d of %d one-source IPv4 groups fit in %d bytes", len(groups)-left, len(groups), snapshotMax)
}

// FuzzDecodeSnapshot: the decoder never panics, and whatever it accepts
// encodes back to the same bytes (the format has one encoding per state).
// Every input is tried as it is and with a valid checksum appended, so
// that mutations reach the parser behind the checksum.
func FuzzDecodeSnapshot(f *testing.F) {
	for _, s := range []*savedState{sampleState(), {}} {
		b, _ := encodeSnapshot(nil, s)
		f.Add(b[:len(b)-snapshotTrailer])
		f.Add(b[:len(b)/2])
	}
	f.Add([]byte("MCPS"))
	f.Fuzz(func(t *testing.T, body []byte) {
		summed := binary.BigEndian.AppendUint32(bytes.Clone(body), crc32.Checksum(body, castagnoli))
		for _, b := range [][]byte{body, summed} {
			s, err := decodeSnapshot(b)
			if err != nil {
				continue
			}
			again, left := encodeSnapshot(nil, s)
			if left != 0 || !bytes.Equal(again, b) {
				t.Fatalf("re-encoded differently (%d left out):\n%x\n%x", left, again, b)
			}
		}
	})
}
