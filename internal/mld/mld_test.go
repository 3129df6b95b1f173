package mld

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/netip"
	"reflect"
	"testing"
	"time"
)

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

// a16 returns the 16 wire bytes of an IPv6 address.
func a16(s string) []byte {
	a := ip(s).As16()
	return a[:]
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// msg concatenates hand-written fields.
func msg(fields ...[]byte) []byte { return bytes.Join(fields, nil) }

var zero2 = []byte{0, 0} // checksum: left to the kernel, so 0 in Marshal output

// vectors are exact: Parse(b) gives m and m.Marshal() gives b.
var vectors = []struct {
	name string
	b    []byte
	m    Message
}{
	{
		name: "v1 general query",
		b: msg(
			[]byte{130},        // type: multicast listener query
			[]byte{0},          // code
			zero2,              // checksum
			[]byte{0x27, 0x10}, // maximum response delay: 10000 ms
			[]byte{0, 0},       // reserved
			a16("::"),          // multicast address: general
		),
		m: &Query{Version: 1, MaxResp: 10 * time.Second, Group: ip("::")},
	},
	{
		name: "v1 address-specific query",
		b: msg(
			[]byte{130, 0},     // type, code
			zero2,              // checksum
			[]byte{0x03, 0xe8}, // maximum response delay: 1000 ms (last listener query interval)
			[]byte{0, 0},       // reserved
			a16("ff0e::1:1"),   // multicast address
		),
		m: &Query{Version: 1, MaxResp: time.Second, Group: ip("ff0e::1:1")},
	},
	{
		name: "v1 query with the largest delay",
		b:    msg([]byte{130, 0}, zero2, []byte{0xff, 0xff}, []byte{0, 0}, a16("ff05::2")),
		m:    &Query{Version: 1, MaxResp: 65535 * time.Millisecond, Group: ip("ff05::2")},
	},
	{
		name: "v2 general query",
		b: msg(
			[]byte{130, 0},     // type, code
			zero2,              // checksum
			[]byte{0x27, 0x10}, // maximum response code: literal 10000 ms
			[]byte{0, 0},       // reserved
			a16("::"),          // multicast address: general
			[]byte{0x02},       // resv 0, S 0, QRV 2
			[]byte{125},        // QQIC: literal 125 s
			[]byte{0, 0},       // number of sources
		),
		m: &Query{Version: 2, MaxResp: 10 * time.Second, Group: ip("::"), QRV: 2, QQI: 125 * time.Second},
	},
	{
		name: "v2 address-specific query with S flag and float codes",
		b: msg(
			[]byte{130, 0},     // type, code
			zero2,              // checksum
			[]byte{0x91, 0x23}, // maximum response code: exp 1, mant 0x123: 0x1123 << 4 = 70192 ms
			[]byte{0, 0},       // reserved
			a16("ff15::abcd"),  // multicast address
			[]byte{0x0f},       // resv 0, S 1, QRV 7
			[]byte{0x90},       // QQIC: exp 1, mant 0: 0x10 << 4 = 256 s
			[]byte{0, 0},       // number of sources
		),
		m: &Query{Version: 2, MaxResp: 70192 * time.Millisecond, Group: ip("ff15::abcd"), SuppressRouterSide: true, QRV: 7, QQI: 256 * time.Second},
	},
	{
		name: "v2 address-and-source-specific query",
		b: msg(
			[]byte{130, 0},      // type, code
			zero2,               // checksum
			[]byte{0x03, 0xe8},  // maximum response code: 1000 ms
			[]byte{0, 0},        // reserved
			a16("ff3e::8000:1"), // multicast address: SSM
			[]byte{0x02},        // resv 0, S 0, QRV 2
			[]byte{125},         // QQIC
			[]byte{0, 2},        // number of sources
			a16("2001:db8::10"), // source 1
			a16("fe80::1"),      // source 2
		),
		m: &Query{Version: 2, MaxResp: time.Second, Group: ip("ff3e::8000:1"), QRV: 2, QQI: 125 * time.Second,
			Sources: []netip.Addr{ip("2001:db8::10"), ip("fe80::1")}},
	},
	{
		name: "v1 report",
		b: msg(
			[]byte{131, 0},   // type: v1 report, code
			zero2,            // checksum
			[]byte{0, 0},     // maximum response delay: unused
			[]byte{0, 0},     // reserved
			a16("ff0e::1:1"), // multicast address
		),
		m: &Report{Group: ip("ff0e::1:1")},
	},
	{
		name: "v1 done",
		b: msg(
			[]byte{132, 0},  // type: v1 done, code
			zero2,           // checksum
			[]byte{0, 0},    // maximum response delay: unused
			[]byte{0, 0},    // reserved
			a16("ff02::fb"), // multicast address: mDNS
		),
		m: &Done{Group: ip("ff02::fb")},
	},
	{
		name: "v2 report without records",
		b: msg(
			[]byte{143, 0}, // type: v2 report, reserved
			zero2,          // checksum
			[]byte{0, 0},   // reserved
			[]byte{0, 0},   // number of multicast address records
		),
		m: &V2Report{},
	},
	{
		name: "v2 report with sources and aux data",
		b: msg(
			[]byte{143, 0}, // type: v2 report, reserved
			zero2,          // checksum
			[]byte{0, 0},   // reserved
			[]byte{0, 3},   // number of multicast address records
			// record 1
			[]byte{1},            // MODE_IS_INCLUDE
			[]byte{0},            // aux data len
			[]byte{0, 2},         // number of sources
			a16("ff3e::1234"),    // multicast address
			a16("2001:db8::100"), // source
			a16("2001:db8::101"), // source
			// record 2
			[]byte{4},                      // CHANGE_TO_EXCLUDE_MODE
			[]byte{1},                      // aux data len: 1 word
			[]byte{0, 0},                   // number of sources
			a16("ff0e::3"),                 // multicast address
			[]byte{0xde, 0xad, 0xbe, 0xef}, // aux data
			// record 3
			[]byte{6},          // BLOCK_OLD_SOURCES
			[]byte{0},          // aux data len
			[]byte{0, 1},       // number of sources
			a16("ff3e::9"),     // multicast address
			a16("2001:db8::9"), // source
		),
		m: &V2Report{Records: []AddressRecord{
			{Type: ModeIsInclude, Group: ip("ff3e::1234"), Sources: []netip.Addr{ip("2001:db8::100"), ip("2001:db8::101")}},
			{Type: ChangeToExclude, Group: ip("ff0e::3"), AuxData: []byte{0xde, 0xad, 0xbe, 0xef}},
			{Type: BlockOldSources, Group: ip("ff3e::9"), Sources: []netip.Addr{ip("2001:db8::9")}},
		}},
	},
	{
		name: "v2 report every record type",
		b: msg(
			[]byte{143, 0}, zero2, []byte{0, 0}, []byte{0, 6},
			[]byte{1, 0, 0, 0}, a16("ff0e::1"), // MODE_IS_INCLUDE
			[]byte{2, 0, 0, 0}, a16("ff0e::2"), // MODE_IS_EXCLUDE
			[]byte{3, 0, 0, 0}, a16("ff0e::3"), // CHANGE_TO_INCLUDE_MODE
			[]byte{4, 0, 0, 0}, a16("ff0e::4"), // CHANGE_TO_EXCLUDE_MODE
			[]byte{5, 0, 0, 1}, a16("ff3e::5"), a16("2001:db8::5"), // ALLOW_NEW_SOURCES
			[]byte{6, 0, 0, 1}, a16("ff3e::6"), a16("::ffff:192.0.2.6"), // BLOCK_OLD_SOURCES, odd but legal source
		),
		m: &V2Report{Records: []AddressRecord{
			{Type: ModeIsInclude, Group: ip("ff0e::1")},
			{Type: ModeIsExclude, Group: ip("ff0e::2")},
			{Type: ChangeToInclude, Group: ip("ff0e::3")},
			{Type: ChangeToExclude, Group: ip("ff0e::4")},
			{Type: AllowNewSources, Group: ip("ff3e::5"), Sources: []netip.Addr{ip("2001:db8::5")}},
			{Type: BlockOldSources, Group: ip("ff3e::6"), Sources: []netip.Addr{ip("::ffff:192.0.2.6")}},
		}},
	},
}

func checkExact(t *testing.T, b []byte, want Message) {
	t.Helper()
	got, err := Parse(b)
	if err != nil {
		t.Fatalf("Parse(%x): %v", b, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Parse(%x) = %#v, want %#v", b, got, want)
	}
	out, err := want.Marshal()
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	if !bytes.Equal(out, b) {
		t.Errorf("Marshal = %x, want %x", out, b)
	}
}

func TestVectors(t *testing.T) {
	for _, v := range vectors {
		t.Run(v.name, func(t *testing.T) { checkExact(t, v.b, v.m) })
	}
}

// TestParseLenient covers inputs RFCs tell receivers to accept although
// Marshal would not produce those exact bytes.
func TestParseLenient(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
		want Message
	}{
		{
			name: "checksum not verified",
			b:    msg([]byte{131, 0}, []byte{0xde, 0xad}, []byte{0, 0, 0, 0}, a16("ff0e::1")),
			want: &Report{Group: ip("ff0e::1")},
		},
		{
			name: "v1 report code, delay, reserved and trailing bytes ignored (RFC 2710 §3.7)",
			b:    msg([]byte{131, 7}, zero2, []byte{0x12, 0x34, 0x56, 0x78}, a16("ff0e::1"), []byte{1, 2, 3}),
			want: &Report{Group: ip("ff0e::1")},
		},
		{
			name: "v1 done with trailing bytes",
			b:    msg([]byte{132, 0}, zero2, []byte{0, 0, 0, 0}, a16("ff02::1:3"), []byte{0}),
			want: &Done{Group: ip("ff02::1:3")},
		},
		{
			name: "v1 query code and reserved ignored",
			b:    msg([]byte{130, 9}, zero2, []byte{0, 100}, []byte{0xff, 0xff}, a16("::")),
			want: &Query{Version: 1, MaxResp: 100 * time.Millisecond, Group: ip("::")},
		},
		{
			name: "v2 query reserved bits ignored, trailing bytes ignored (RFC 3810 §5.1.12)",
			b: msg([]byte{130, 0}, zero2, []byte{0, 200}, []byte{0xaa, 0xbb}, a16("ff3e::1"),
				[]byte{0xf3, 60}, []byte{0, 1}, a16("2001:db8::1"), []byte{9, 9, 9}),
			want: &Query{Version: 2, MaxResp: 200 * time.Millisecond, Group: ip("ff3e::1"), QRV: 3, QQI: time.Minute,
				Sources: []netip.Addr{ip("2001:db8::1")}},
		},
		{
			name: "v2 query of 29 bytes",
			b:    msg([]byte{130, 0}, zero2, []byte{0, 200}, []byte{0, 0}, a16("::"), []byte{2, 125, 0, 0}, []byte{7}),
			want: &Query{Version: 2, MaxResp: 200 * time.Millisecond, Group: ip("::"), QRV: 2, QQI: 125 * time.Second},
		},
		{
			name: "v2 report unknown record types skipped (RFC 3810 §5.2.12)",
			b: msg([]byte{143, 0}, zero2, []byte{0, 0}, []byte{0, 3},
				[]byte{7, 1, 0, 1}, a16("2001:db8::1"), a16("2001:db8::2"), []byte{5, 6, 7, 8}, // unknown type 7, unicast address, 1 source, 1 aux word
				[]byte{2, 0, 0, 0}, a16("ff0e::9"), // MODE_IS_EXCLUDE
				[]byte{0, 0, 0, 0}, a16("::"), // unknown type 0
			),
			want: &V2Report{Records: []AddressRecord{{Type: ModeIsExclude, Group: ip("ff0e::9")}}},
		},
		{
			name: "v2 report only unknown records",
			b:    msg([]byte{143, 0}, zero2, []byte{0, 0}, []byte{0, 1}, []byte{0xff, 0, 0, 0}, a16("ff0e::9")),
			want: &V2Report{},
		},
		{
			name: "v2 report trailing bytes after last record, reserved fields ignored (RFC 3810 §5.2.11)",
			b: msg([]byte{143, 0xaa}, zero2, []byte{0xbb, 0xcc}, []byte{0, 1},
				[]byte{5, 0, 0, 1}, a16("ff3e::1"), a16("2001:db8::1"), []byte{1, 2, 3}),
			want: &V2Report{Records: []AddressRecord{{Type: AllowNewSources, Group: ip("ff3e::1"), Sources: []netip.Addr{ip("2001:db8::1")}}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.b)
			if err != nil {
				t.Fatalf("Parse(%x): %v", tt.b, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse(%x) = %#v, want %#v", tt.b, got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	hdr := func(t byte) []byte { return []byte{t, 0, 0, 0} }
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"nil", nil, ErrTruncated},
		{"3 bytes", []byte{131, 0, 0}, ErrTruncated},
		{"unknown type echo request", msg(hdr(128), []byte{0, 1, 0, 1}), ErrUnknownType},
		{"unknown type router solicitation", msg(hdr(133), make([]byte, 4)), ErrUnknownType},
		{"unknown type IGMP query number", msg(hdr(0x11), make([]byte, 20)), ErrUnknownType},
		{"unknown type zero", make([]byte, 24), ErrUnknownType},
		{"v1 report of 23 bytes", msg(hdr(131), make([]byte, 4), a16("ff0e::1")[:15]), ErrTruncated},
		{"v1 done of 4 bytes", hdr(132), ErrTruncated},
		{"query of 23 bytes", msg(hdr(130), make([]byte, 19)), ErrTruncated},
		{"query of 25 bytes (RFC 3810 §8.1)", msg(hdr(130), make([]byte, 4), a16("::"), []byte{0}), ErrMalformed},
		{"query of 27 bytes", msg(hdr(130), make([]byte, 4), a16("::"), []byte{2, 125, 0}), ErrMalformed},
		{"v1 query for unicast address", msg(hdr(130), make([]byte, 4), a16("2001:db8::1")), ErrMalformed},
		{"v1 query for IPv4-mapped multicast", msg(hdr(130), make([]byte, 4), a16("::ffff:239.1.1.1")), ErrMalformed},
		{"v2 query for link-local unicast", msg(hdr(130), make([]byte, 4), a16("fe80::1"), []byte{2, 125, 0, 0}), ErrMalformed},
		{"v2 general query with sources (RFC 3810 §5.1.10)",
			msg(hdr(130), make([]byte, 4), a16("::"), []byte{2, 125, 0, 1}, a16("2001:db8::1")), ErrMalformed},
		{"v2 query source count beyond the bytes",
			msg(hdr(130), make([]byte, 4), a16("ff3e::1"), []byte{2, 125, 0, 2}, a16("2001:db8::1")), ErrTruncated},
		{"v2 query source count 65535", msg(hdr(130), make([]byte, 4), a16("ff3e::1"), []byte{2, 125, 0xff, 0xff}), ErrTruncated},
		{"v1 report for unicast address", msg(hdr(131), make([]byte, 4), a16("2001:db8::1")), ErrMalformed},
		{"v1 report for ::", msg(hdr(131), make([]byte, 20)), ErrMalformed},
		{"v1 report for IPv4-mapped multicast", msg(hdr(131), make([]byte, 4), a16("::ffff:224.0.0.1")), ErrMalformed},
		{"v1 done for unicast address", msg(hdr(132), make([]byte, 4), a16("fe80::1")), ErrMalformed},
		{"v2 report of 7 bytes", msg(hdr(143), []byte{0, 0, 0}), ErrTruncated},
		{"v2 report record count beyond the bytes", msg(hdr(143), []byte{0, 0, 0, 1}), ErrTruncated},
		{"v2 report record count 65535", msg(hdr(143), []byte{0, 0, 0xff, 0xff}, []byte{1, 0, 0, 0}, a16("ff0e::1")), ErrTruncated},
		{"v2 report record header cut", msg(hdr(143), []byte{0, 0, 0, 1}, []byte{1, 0, 0, 0}, a16("ff0e::1")[:8]), ErrTruncated},
		{"v2 report source count beyond the bytes",
			msg(hdr(143), []byte{0, 0, 0, 1}, []byte{1, 0, 0, 2}, a16("ff3e::1"), a16("2001:db8::1")), ErrTruncated},
		{"v2 report aux data beyond the bytes",
			msg(hdr(143), []byte{0, 0, 0, 1}, []byte{1, 2, 0, 0}, a16("ff3e::1"), []byte{1, 2, 3, 4}), ErrTruncated},
		{"v2 report unknown record cut", msg(hdr(143), []byte{0, 0, 0, 1}, []byte{9, 0, 0, 1}, a16("ff3e::1")), ErrTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse(tt.b)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse(%x) = %#v, %v; want error %v", tt.b, m, err, tt.want)
			}
			if m != nil {
				t.Errorf("Parse returned %#v with its error", m)
			}
		})
	}
}

// allValid returns every exact vector and capture as wire bytes.
func allValid(t testing.TB) map[string][]byte {
	m := make(map[string][]byte)
	for _, v := range vectors {
		m["vector/"+v.name] = v.b
	}
	for _, c := range captures {
		m["capture/"+c.name] = unhex(t, c.hex)
	}
	return m
}

// TestTruncation cuts every valid message at every length: each prefix must
// fail as truncated or malformed. The one legal exception is an MLDv2 query
// cut to 24 bytes, which is a well-formed MLDv1 query (RFC 3810 §8.1).
func TestTruncation(t *testing.T) {
	for name, b := range allValid(t) {
		t.Run(name, func(t *testing.T) {
			for n := range len(b) {
				if n == v1Len && Type(b[0]) == TypeQuery {
					continue
				}
				m, err := Parse(bytes.Clone(b[:n]))
				if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrMalformed) {
					t.Errorf("Parse(prefix %d = %x) = %#v, %v; want truncated or malformed", n, b[:n], m, err)
				}
			}
		})
	}
}

func TestMarshalErrors(t *testing.T) {
	tests := []struct {
		name string
		m    Message
	}{
		{"query version 0", &Query{Group: ip("::")}},
		{"query version 3", &Query{Version: 3, Group: ip("::")}},
		{"query zero group", &Query{Version: 2}},
		{"query unicast group", &Query{Version: 2, Group: ip("2001:db8::1")}},
		{"query IPv4 group", &Query{Version: 2, Group: ip("239.1.1.1")}},
		{"query IPv4 unspecified group", &Query{Version: 1, Group: ip("0.0.0.0")}},
		{"query IPv4-mapped group", &Query{Version: 2, Group: ip("::ffff:239.1.1.1")}},
		{"query group with zone", &Query{Version: 2, Group: ip("ff02::1%eth0")}},
		{"query :: with zone", &Query{Version: 2, Group: ip("::%eth0")}},
		{"query negative max resp", &Query{Version: 2, MaxResp: -time.Millisecond, Group: ip("::")}},
		{"v1 query max resp above 65535 ms", &Query{Version: 1, MaxResp: 65536 * time.Millisecond, Group: ip("::")}},
		{"v1 query with sources", &Query{Version: 1, Group: ip("ff3e::1"), Sources: []netip.Addr{ip("2001:db8::1")}}},
		{"v1 query with QRV", &Query{Version: 1, Group: ip("::"), QRV: 2}},
		{"v1 query with QQI", &Query{Version: 1, Group: ip("::"), QQI: time.Second}},
		{"v1 query with S flag", &Query{Version: 1, Group: ip("::"), SuppressRouterSide: true}},
		{"v2 QRV 8", &Query{Version: 2, Group: ip("::"), QRV: 8}},
		{"v2 general query with sources", &Query{Version: 2, Group: ip("::"), Sources: []netip.Addr{ip("2001:db8::1")}}},
		{"v2 IPv4 source", &Query{Version: 2, Group: ip("ff3e::1"), Sources: []netip.Addr{ip("10.0.0.1")}}},
		{"v2 zero source", &Query{Version: 2, Group: ip("ff3e::1"), Sources: []netip.Addr{{}}}},
		{"v2 source with zone", &Query{Version: 2, Group: ip("ff3e::1"), Sources: []netip.Addr{ip("fe80::1%eth0")}}},
		{"v2 65536 sources", &Query{Version: 2, Group: ip("ff3e::1"), Sources: make([]netip.Addr, 0x10000)}},
		{"report unicast group", &Report{Group: ip("2001:db8::1")}},
		{"report zero group", &Report{}},
		{"report IPv4 group", &Report{Group: ip("239.1.1.1")}},
		{"done zero group", &Done{}},
		{"done ::", &Done{Group: ip("::")}},
		{"v2 report unknown record type", &V2Report{Records: []AddressRecord{{Type: 7, Group: ip("ff0e::1")}}}},
		{"v2 report record type 0", &V2Report{Records: []AddressRecord{{Group: ip("ff0e::1")}}}},
		{"v2 report unicast group", &V2Report{Records: []AddressRecord{{Type: ModeIsExclude, Group: ip("2001:db8::1")}}}},
		{"v2 report IPv4 group", &V2Report{Records: []AddressRecord{{Type: ModeIsExclude, Group: ip("239.1.1.1")}}}},
		{"v2 report aux data not whole words", &V2Report{Records: []AddressRecord{{Type: ModeIsExclude, Group: ip("ff0e::1"), AuxData: []byte{1, 2, 3}}}}},
		{"v2 report aux data too long", &V2Report{Records: []AddressRecord{{Type: ModeIsExclude, Group: ip("ff0e::1"), AuxData: make([]byte, 1024)}}}},
		{"v2 report IPv4 source", &V2Report{Records: []AddressRecord{{Type: ModeIsInclude, Group: ip("ff3e::1"), Sources: []netip.Addr{ip("192.0.2.1")}}}}},
		{"v2 report 65536 records", &V2Report{Records: make([]AddressRecord, 0x10000)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.m.Marshal()
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("Marshal(%T) = %x, %v; want malformed", tt.m, b, err)
			}
		})
	}
}

// TestMarshalRounding checks the conversions Marshal makes from durations.
func TestMarshalRounding(t *testing.T) {
	tests := []struct {
		name string
		q    Query
		want Query // after Marshal and Parse
	}{
		{
			name: "v1 max resp rounds down to milliseconds",
			q:    Query{Version: 1, MaxResp: 1234567 * time.Microsecond, Group: ip("::")},
			want: Query{Version: 1, MaxResp: 1234 * time.Millisecond, Group: ip("::")},
		},
		{
			name: "v1 max resp 0",
			q:    Query{Version: 1, Group: ip("::")},
			want: Query{Version: 1, Group: ip("::")},
		},
		{
			name: "v2 codes round down and clamp",
			q:    Query{Version: 2, MaxResp: 40005 * time.Millisecond, Group: ip("::"), QRV: 2, QQI: 100 * time.Hour},
			want: Query{Version: 2, MaxResp: 40000 * time.Millisecond, Group: ip("::"), QRV: 2, QQI: 31744 * time.Second},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.q.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			got, err := Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, &tt.want) {
				t.Errorf("got %#v, want %#v", got, &tt.want)
			}
		})
	}
}

// TestParseDoesNotAlias checks that the result survives reuse of the buffer.
func TestParseDoesNotAlias(t *testing.T) {
	for _, v := range vectors {
		t.Run(v.name, func(t *testing.T) {
			b := bytes.Clone(v.b)
			m, err := Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			for i := range b {
				b[i] = 0xff
			}
			if !reflect.DeepEqual(m, v.m) {
				t.Errorf("message changed with its buffer: %#v", m)
			}
		})
	}
}

// TestSourcesAppend checks that appending to one record's sources cannot
// overwrite the next record's, although they share one allocation.
func TestSourcesAppend(t *testing.T) {
	m, err := Parse(msg([]byte{143, 0}, zero2, []byte{0, 0, 0, 2},
		[]byte{1, 0, 0, 1}, a16("ff3e::1"), a16("2001:db8::1"),
		[]byte{1, 0, 0, 1}, a16("ff3e::2"), a16("2001:db8::2")))
	if err != nil {
		t.Fatal(err)
	}
	r := m.(*V2Report)
	r.Records[0].Sources = append(r.Records[0].Sources, ip("2001:db8::ffff"))
	if got := r.Records[1].Sources[0]; got != ip("2001:db8::2") {
		t.Errorf("second record's source became %s", got)
	}
}

// TestBadRecordIsSkipped: a record for an address that is not multicast
// costs only itself; the report's other records still count.
func TestBadRecordIsSkipped(t *testing.T) {
	b := msg([]byte{143, 0, 0, 0}, []byte{0, 0, 0, 3},
		[]byte{2, 0, 0, 0}, a16("2001:db8::1"),
		[]byte{4, 0, 0, 0}, a16("::"),
		[]byte{2, 0, 0, 0}, a16("ff3e::1"))
	m, err := Parse(b)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := &V2Report{Skipped: 2, Records: []AddressRecord{{Type: ModeIsExclude, Group: netip.MustParseAddr("ff3e::1")}}}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("Parse = %#v, want %#v", m, want)
	}
}
