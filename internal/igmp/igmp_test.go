package igmp

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/netip"
	"reflect"
	"testing"
	"time"
)

// refChecksum is an independent Internet checksum for the tests: it adds the
// bytes with their place value and reduces modulo 0xffff, which equals the
// end-around-carry sum of RFC 1071 except that a non-zero sum is 0xffff,
// never 0 (ones' complement "negative zero").
func refChecksum(b []byte) uint16 {
	var total uint64 // not int: it would overflow on 32-bit targets
	for i, c := range b {
		if i%2 == 0 {
			total += uint64(c) * 256
		} else {
			total += uint64(c)
		}
	}
	s := total % 0xffff
	if s == 0 && total != 0 {
		s = 0xffff
	}
	return uint16(0xffff - s)
}

// msg concatenates hand-written fields and puts refChecksum's value into the
// checksum field (bytes 2-3), which the fields must leave as zero.
func msg(fields ...[]byte) []byte {
	b := bytes.Join(fields, nil)
	c := refChecksum(b)
	b[2], b[3] = byte(c>>8), byte(c)
	return b
}

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var zero2 = []byte{0, 0} // checksum placeholder, filled in by msg

// vectors are exact: Parse(b) gives m and m.Marshal() gives b.
var vectors = []struct {
	name string
	b    []byte
	m    Message
}{
	{
		name: "v1 query",
		b: msg(
			[]byte{0x11},       // type: membership query
			[]byte{0x00},       // unused in v1 (RFC 1112), 0 marks v1 (RFC 3376 §7.1)
			zero2,              // checksum
			[]byte{0, 0, 0, 0}, // group: zero in v1
		),
		m: &Query{Version: 1, Group: ip("0.0.0.0")},
	},
	{
		name: "v2 general query",
		b: msg(
			[]byte{0x11},       // type: membership query
			[]byte{100},        // max resp time: 100 x 1/10 s
			zero2,              // checksum
			[]byte{0, 0, 0, 0}, // group: general
		),
		m: &Query{Version: 2, MaxResp: 10 * time.Second, Group: ip("0.0.0.0")},
	},
	{
		name: "v2 group-specific query",
		b: msg(
			[]byte{0x11},         // type: membership query
			[]byte{10},           // max resp time: 1 s (last member query interval)
			zero2,                // checksum
			[]byte{239, 1, 2, 3}, // group
		),
		m: &Query{Version: 2, MaxResp: time.Second, Group: ip("239.1.2.3")},
	},
	{
		name: "v3 general query",
		b: msg(
			[]byte{0x11},       // type: membership query
			[]byte{100},        // max resp code: literal 100 = 10 s
			zero2,              // checksum
			[]byte{0, 0, 0, 0}, // group: general
			[]byte{0x02},       // resv 0, S 0, QRV 2
			[]byte{125},        // QQIC: literal 125 s
			[]byte{0, 0},       // number of sources
		),
		m: &Query{Version: 3, MaxResp: 10 * time.Second, Group: ip("0.0.0.0"), QRV: 2, QQI: 125 * time.Second},
	},
	{
		name: "v3 group-specific query with S flag and float codes",
		b: msg(
			[]byte{0x11},         // type: membership query
			[]byte{0x8c},         // max resp code: exp 0, mant 0xc: 0x1c << 3 = 224 = 22.4 s
			zero2,                // checksum
			[]byte{232, 0, 0, 1}, // group
			[]byte{0x0f},         // resv 0, S 1, QRV 7
			[]byte{0x90},         // QQIC: exp 1, mant 0: 0x10 << 4 = 256 s
			[]byte{0, 0},         // number of sources
		),
		m: &Query{Version: 3, MaxResp: 22400 * time.Millisecond, Group: ip("232.0.0.1"), SuppressRouterSide: true, QRV: 7, QQI: 256 * time.Second},
	},
	{
		name: "v3 group-and-source-specific query",
		b: msg(
			[]byte{0x11},            // type: membership query
			[]byte{10},              // max resp code: 1 s
			zero2,                   // checksum
			[]byte{232, 1, 1, 1},    // group
			[]byte{0x02},            // resv 0, S 0, QRV 2
			[]byte{125},             // QQIC
			[]byte{0, 2},            // number of sources: 2, never 0 here (0 would ask for the whole group)
			[]byte{192, 0, 2, 10},   // source 1
			[]byte{198, 51, 100, 7}, // source 2
		),
		m: &Query{Version: 3, MaxResp: time.Second, Group: ip("232.1.1.1"), QRV: 2, QQI: 125 * time.Second,
			Sources: []netip.Addr{ip("192.0.2.10"), ip("198.51.100.7")}},
	},
	{
		name: "v1 report",
		b: msg(
			[]byte{0x12},         // type: v1 report (version 1, type 2)
			[]byte{0},            // unused
			zero2,                // checksum
			[]byte{224, 1, 2, 3}, // group
		),
		m: &Report{Version: 1, Group: ip("224.1.2.3")},
	},
	{
		name: "v2 report",
		b: msg(
			[]byte{0x16},               // type: v2 report
			[]byte{0},                  // max resp time: unused in reports
			zero2,                      // checksum
			[]byte{239, 255, 255, 250}, // group: SSDP
		),
		m: &Report{Version: 2, Group: ip("239.255.255.250")},
	},
	{
		name: "v2 leave",
		b: msg(
			[]byte{0x17},         // type: leave group
			[]byte{0},            // unused
			zero2,                // checksum
			[]byte{239, 0, 0, 9}, // group
		),
		m: &Leave{Group: ip("239.0.0.9")},
	},
	{
		name: "v3 report without records",
		b: msg(
			[]byte{0x22}, // type: v3 report
			[]byte{0},    // reserved
			zero2,        // checksum
			[]byte{0, 0}, // reserved
			[]byte{0, 0}, // number of group records
		),
		m: &V3Report{},
	},
	{
		name: "v3 report with sources and aux data",
		b: msg(
			[]byte{0x22}, // type: v3 report
			[]byte{0},    // reserved
			zero2,        // checksum
			[]byte{0, 0}, // reserved
			[]byte{0, 3}, // number of group records
			// record 1
			[]byte{1},            // MODE_IS_INCLUDE
			[]byte{0},            // aux data len
			[]byte{0, 2},         // number of sources
			[]byte{232, 1, 2, 3}, // group
			[]byte{10, 0, 0, 1},  // source
			[]byte{10, 0, 0, 2},  // source
			// record 2
			[]byte{4},                      // CHANGE_TO_EXCLUDE
			[]byte{1},                      // aux data len: 1 word
			[]byte{0, 0},                   // number of sources
			[]byte{239, 3, 3, 3},           // group
			[]byte{0xde, 0xad, 0xbe, 0xef}, // aux data
			// record 3
			[]byte{6},              // BLOCK_OLD_SOURCES
			[]byte{0},              // aux data len
			[]byte{0, 1},           // number of sources
			[]byte{232, 9, 9, 9},   // group
			[]byte{192, 168, 1, 1}, // source
		),
		m: &V3Report{Records: []GroupRecord{
			{Type: ModeIsInclude, Group: ip("232.1.2.3"), Sources: []netip.Addr{ip("10.0.0.1"), ip("10.0.0.2")}},
			{Type: ChangeToExclude, Group: ip("239.3.3.3"), AuxData: []byte{0xde, 0xad, 0xbe, 0xef}},
			{Type: BlockOldSources, Group: ip("232.9.9.9"), Sources: []netip.Addr{ip("192.168.1.1")}},
		}},
	},
}

// captures are IGMP payloads (IP header stripped) that Linux 6.18.44 sent on
// this project's build machine: two namespaces joined by a veth pair; the host
// side set /proc/sys/net/ipv4/conf/vA/force_igmp_version to 1, 2 and 3 and
// joined groups from a UDP socket (IP_ADD_MEMBERSHIP, and
// IP_ADD_SOURCE_MEMBERSHIP for 232.1.1.1 from 10.9.0.100 and .101); the other
// side was a Linux bridge acting as querier (mcast_querier 1,
// mcast_igmp_version 2 and 3, query interval 3 s). Captured with tcpdump on the
// bridge's veth port. The kernel computed every checksum, so they also check
// ours independently. Marshal must give the same bytes back.
var captures = []struct {
	name string
	hex  string
	m    Message
}{
	{"v1 report", "1200fdfcef010101", &Report{Version: 1, Group: ip("239.1.1.1")}},
	{"v2 report", "1600f8faef020202", &Report{Version: 2, Group: ip("239.2.2.2")}},
	{"v2 leave", "1700f7faef020202", &Leave{Group: ip("239.2.2.2")}},
	{"bridge v2 general query", "110aeef500000000", &Query{Version: 2, MaxResp: time.Second, Group: ip("0.0.0.0")}},
	{"bridge v2 group-specific query", "1105fbf1ef040404", &Query{Version: 2, MaxResp: 500 * time.Millisecond, Group: ip("239.4.4.4")}},
	{"bridge v3 general query", "110aecf20000000002030000",
		&Query{Version: 3, MaxResp: time.Second, Group: ip("0.0.0.0"), QRV: 2, QQI: 3 * time.Second}},
	{"bridge v3 group-specific query", "1105faf0ef03030302030000",
		&Query{Version: 3, MaxResp: 500 * time.Millisecond, Group: ip("239.3.3.3"), QRV: 2, QQI: 3 * time.Second}},
	{"bridge v3 group-specific query with S flag", "1105f2f0ef0303030a030000",
		&Query{Version: 3, MaxResp: 500 * time.Millisecond, Group: ip("239.3.3.3"), SuppressRouterSide: true, QRV: 2, QQI: 3 * time.Second}},
	{"bridge v3 group-and-source-specific query", "1105ef17e8010101020300020a0900650a090064",
		&Query{Version: 3, MaxResp: 500 * time.Millisecond, Group: ip("232.1.1.1"), QRV: 2, QQI: 3 * time.Second,
			Sources: []netip.Addr{ip("10.9.0.101"), ip("10.9.0.100")}}},
	{"v3 state change on join", "2200e5160000000205000002e80101010a0900640a09006504000000ef030303",
		&V3Report{Records: []GroupRecord{
			{Type: AllowNewSources, Group: ip("232.1.1.1"), Sources: []netip.Addr{ip("10.9.0.100"), ip("10.9.0.101")}},
			{Type: ChangeToExclude, Group: ip("239.3.3.3")},
		}}},
	{"v3 current state, source-specific include", "2200eb160000000201000002e80101010a0900640a09006502000000ef030303",
		&V3Report{Records: []GroupRecord{
			{Type: ModeIsInclude, Group: ip("232.1.1.1"), Sources: []netip.Addr{ip("10.9.0.100"), ip("10.9.0.101")}},
			{Type: ModeIsExclude, Group: ip("239.3.3.3")},
		}}},
	{"v3 state change on leave", "2200e5160000000203000000ef03030306000002e80101010a0900650a090064",
		&V3Report{Records: []GroupRecord{
			{Type: ChangeToInclude, Group: ip("239.3.3.3")},
			{Type: BlockOldSources, Group: ip("232.1.1.1"), Sources: []netip.Addr{ip("10.9.0.101"), ip("10.9.0.100")}},
		}}},
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

func TestCaptures(t *testing.T) {
	for _, c := range captures {
		t.Run(c.name, func(t *testing.T) {
			b := unhex(t, c.hex)
			if got := refChecksum(b); got != 0 {
				t.Fatalf("reference checksum over capture = 0x%04x, want 0", got)
			}
			checkExact(t, b, c.m)
		})
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
			name: "v1 query group ignored (RFC 1112)",
			b:    msg([]byte{0x11, 0}, zero2, []byte{239, 1, 1, 1}),
			want: &Query{Version: 1, Group: ip("0.0.0.0")},
		},
		{
			name: "v2 report with trailing bytes (RFC 2236 §2.5)",
			b:    msg([]byte{0x16, 0}, zero2, []byte{239, 1, 1, 1}, []byte{1, 2, 3, 4, 5}),
			want: &Report{Version: 2, Group: ip("239.1.1.1")},
		},
		{
			name: "v2 report max resp field ignored",
			b:    msg([]byte{0x16, 0x33}, zero2, []byte{239, 1, 1, 1}),
			want: &Report{Version: 2, Group: ip("239.1.1.1")},
		},
		{
			name: "v2 leave with trailing bytes",
			b:    msg([]byte{0x17, 0}, zero2, []byte{239, 1, 1, 1}, []byte{0}),
			want: &Leave{Group: ip("239.1.1.1")},
		},
		{
			name: "v3 query reserved bits ignored, trailing bytes ignored (RFC 3376 §7.1)",
			b: msg([]byte{0x11, 20}, zero2, []byte{239, 1, 1, 1},
				[]byte{0xf3, 60}, []byte{0, 1}, []byte{10, 1, 1, 1}, []byte{9, 9, 9}),
			want: &Query{Version: 3, MaxResp: 2 * time.Second, Group: ip("239.1.1.1"), QRV: 3, QQI: time.Minute,
				Sources: []netip.Addr{ip("10.1.1.1")}},
		},
		{
			name: "v3 query of 13 bytes",
			b:    msg([]byte{0x11, 20}, zero2, []byte{0, 0, 0, 0}, []byte{2, 125, 0, 0}, []byte{7}),
			want: &Query{Version: 3, MaxResp: 2 * time.Second, Group: ip("0.0.0.0"), QRV: 2, QQI: 125 * time.Second},
		},
		{
			name: "v3 report unknown record type skipped (RFC 3376 §4.2.12)",
			b: msg([]byte{0x22, 0}, zero2, []byte{0, 0}, []byte{0, 3},
				[]byte{7, 1, 0, 1}, []byte{10, 0, 0, 1}, []byte{1, 2, 3, 4}, []byte{5, 6, 7, 8}, // unknown type 7, unicast group, 1 source, 1 aux word
				[]byte{2, 0, 0, 0}, []byte{239, 9, 9, 9}, // MODE_IS_EXCLUDE
				[]byte{0, 0, 0, 0}, []byte{0, 0, 0, 0}, // unknown type 0
			),
			want: &V3Report{Records: []GroupRecord{{Type: ModeIsExclude, Group: ip("239.9.9.9")}}},
		},
		{
			name: "v3 report only unknown records",
			b:    msg([]byte{0x22, 0}, zero2, []byte{0, 0}, []byte{0, 1}, []byte{0xff, 0, 0, 0}, []byte{239, 9, 9, 9}),
			want: &V3Report{},
		},
		{
			name: "v3 report trailing bytes after last record, reserved fields ignored",
			b: msg([]byte{0x22, 0xaa}, zero2, []byte{0xbb, 0xcc}, []byte{0, 1},
				[]byte{5, 0, 0, 1}, []byte{232, 1, 1, 1}, []byte{10, 0, 0, 1}, []byte{1, 2, 3}),
			want: &V3Report{Records: []GroupRecord{{Type: AllowNewSources, Group: ip("232.1.1.1"), Sources: []netip.Addr{ip("10.0.0.1")}}}},
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
	badSum := msg([]byte{0x16, 0}, zero2, []byte{239, 1, 1, 1})
	badSum[3] ^= 1
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"nil", nil, ErrTruncated},
		{"7 bytes", []byte{0x16, 0, 0, 0, 239, 1, 1}, ErrTruncated},
		{"bad checksum", badSum, ErrChecksum},
		{"unknown type DVMRP", msg([]byte{0x13, 0}, zero2, []byte{0, 0, 0, 0}), ErrUnknownType},
		{"unknown type zero", msg([]byte{0, 0}, zero2, []byte{0, 0, 0, 0}), ErrUnknownType},
		{"query of 9 bytes (RFC 3376 §7.1)", msg([]byte{0x11, 10}, zero2, []byte{0, 0, 0, 0}, []byte{0}), ErrMalformed},
		{"query of 11 bytes", msg([]byte{0x11, 10}, zero2, []byte{0, 0, 0, 0}, []byte{0, 0, 0}), ErrMalformed},
		{"v2 query for unicast group", msg([]byte{0x11, 10}, zero2, []byte{10, 0, 0, 1}), ErrMalformed},
		{"v3 query for broadcast", msg([]byte{0x11, 10}, zero2, []byte{255, 255, 255, 255}, []byte{2, 125, 0, 0}), ErrMalformed},
		{"v3 general query with sources (RFC 3376 §4.1.8)",
			msg([]byte{0x11, 10}, zero2, []byte{0, 0, 0, 0}, []byte{2, 125, 0, 1}, []byte{10, 0, 0, 1}), ErrMalformed},
		{"v3 query source count beyond the bytes",
			msg([]byte{0x11, 10}, zero2, []byte{232, 0, 0, 1}, []byte{2, 125, 0, 2}, []byte{10, 0, 0, 1}), ErrTruncated},
		{"v3 query source count 65535",
			msg([]byte{0x11, 10}, zero2, []byte{232, 0, 0, 1}, []byte{2, 125, 0xff, 0xff}), ErrTruncated},
		{"v1 report for unicast group", msg([]byte{0x12, 0}, zero2, []byte{192, 168, 0, 1}), ErrMalformed},
		{"v2 report for 0.0.0.0", msg([]byte{0x16, 0}, zero2, []byte{0, 0, 0, 0}), ErrMalformed},
		{"v2 leave for unicast group", msg([]byte{0x17, 0}, zero2, []byte{10, 0, 0, 1}), ErrMalformed},
		{"v3 report record count beyond the bytes", msg([]byte{0x22, 0}, zero2, []byte{0, 0, 0, 1}), ErrTruncated},
		{"v3 report record count 65535", msg([]byte{0x22, 0}, zero2, []byte{0, 0, 0xff, 0xff}, []byte{1, 0, 0, 0}, []byte{239, 1, 1, 1}), ErrTruncated},
		{"v3 report record header cut", msg([]byte{0x22, 0}, zero2, []byte{0, 0, 0, 1}, []byte{1, 0, 0, 0}), ErrTruncated},
		{"v3 report source count beyond the bytes",
			msg([]byte{0x22, 0}, zero2, []byte{0, 0, 0, 1}, []byte{1, 0, 0, 2}, []byte{232, 1, 1, 1}, []byte{10, 0, 0, 1}), ErrTruncated},
		{"v3 report aux data beyond the bytes",
			msg([]byte{0x22, 0}, zero2, []byte{0, 0, 0, 1}, []byte{1, 2, 0, 0}, []byte{232, 1, 1, 1}, []byte{1, 2, 3, 4}), ErrTruncated},
		{"v3 report unknown record cut",
			msg([]byte{0x22, 0}, zero2, []byte{0, 0, 0, 1}, []byte{9, 0, 0, 1}, []byte{232, 1, 1, 1}), ErrTruncated},
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

// TestTruncation cuts every valid message at every length. The raw prefix
// must fail (its checksum no longer adds up); with the checksum recomputed
// over the prefix it must still fail on structure. The one legal exception is
// a v3 query cut to 8 bytes, which is a well-formed v2 query.
func TestTruncation(t *testing.T) {
	for name, b := range allValid(t) {
		t.Run(name, func(t *testing.T) {
			for n := range len(b) {
				p := bytes.Clone(b[:n])
				if m, err := Parse(p); err == nil {
					t.Errorf("Parse(prefix %d = %x) = %#v, want an error", n, p, m)
				}
				if n < 4 || (n == headerLen && Type(b[0]) == TypeQuery) {
					continue
				}
				p[2], p[3] = 0, 0
				c := refChecksum(p)
				p[2], p[3] = byte(c>>8), byte(c)
				m, err := Parse(p)
				if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrMalformed) {
					t.Errorf("Parse(re-summed prefix %d = %x) = %#v, %v; want truncated or malformed", n, p, m, err)
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
		{"query version 0", &Query{Group: ip("0.0.0.0")}},
		{"query version 4", &Query{Version: 4, Group: ip("0.0.0.0")}},
		{"query zero group", &Query{Version: 2, MaxResp: time.Second}},
		{"query unicast group", &Query{Version: 2, MaxResp: time.Second, Group: ip("10.0.0.1")}},
		{"query IPv6 group", &Query{Version: 3, Group: ip("ff02::1")}},
		{"query IPv4-mapped group", &Query{Version: 3, Group: ip("::ffff:239.1.1.1")}},
		{"v1 query with max resp", &Query{Version: 1, MaxResp: time.Second, Group: ip("0.0.0.0")}},
		{"v1 query with group", &Query{Version: 1, Group: ip("239.1.1.1")}},
		{"v2 query max resp 0 reads as v1", &Query{Version: 2, Group: ip("0.0.0.0")}},
		{"v2 query max resp 99ms reads as v1", &Query{Version: 2, MaxResp: 99 * time.Millisecond, Group: ip("0.0.0.0")}},
		{"v2 query max resp above 25.5s", &Query{Version: 2, MaxResp: 25600 * time.Millisecond, Group: ip("0.0.0.0")}},
		{"v2 query with sources", &Query{Version: 2, MaxResp: time.Second, Group: ip("239.1.1.1"), Sources: []netip.Addr{ip("10.0.0.1")}}},
		{"v2 query with QRV", &Query{Version: 2, MaxResp: time.Second, Group: ip("0.0.0.0"), QRV: 2}},
		{"v1 query with QQI", &Query{Version: 1, Group: ip("0.0.0.0"), QQI: time.Second}},
		{"v2 query with S flag", &Query{Version: 2, MaxResp: time.Second, Group: ip("0.0.0.0"), SuppressRouterSide: true}},
		{"v3 QRV 8", &Query{Version: 3, Group: ip("0.0.0.0"), QRV: 8}},
		{"v3 general query with sources", &Query{Version: 3, Group: ip("0.0.0.0"), Sources: []netip.Addr{ip("10.0.0.1")}}},
		{"v3 IPv6 source", &Query{Version: 3, Group: ip("232.1.1.1"), Sources: []netip.Addr{ip("2001:db8::1")}}},
		{"v3 zero source", &Query{Version: 3, Group: ip("232.1.1.1"), Sources: []netip.Addr{{}}}},
		{"report version 3", &Report{Version: 3, Group: ip("239.1.1.1")}},
		{"report unicast group", &Report{Version: 2, Group: ip("10.0.0.1")}},
		{"report zero group", &Report{Version: 1}},
		{"leave zero group", &Leave{}},
		{"leave IPv6 group", &Leave{Group: ip("ff05::2")}},
		{"v3 report unknown record type", &V3Report{Records: []GroupRecord{{Type: 7, Group: ip("239.1.1.1")}}}},
		{"v3 report record type 0", &V3Report{Records: []GroupRecord{{Group: ip("239.1.1.1")}}}},
		{"v3 report unicast group", &V3Report{Records: []GroupRecord{{Type: ModeIsExclude, Group: ip("10.1.1.1")}}}},
		{"v3 report aux data not whole words", &V3Report{Records: []GroupRecord{{Type: ModeIsExclude, Group: ip("239.1.1.1"), AuxData: []byte{1, 2, 3}}}}},
		{"v3 report aux data too long", &V3Report{Records: []GroupRecord{{Type: ModeIsExclude, Group: ip("239.1.1.1"), AuxData: make([]byte, 1024)}}}},
		{"v3 report IPv6 source", &V3Report{Records: []GroupRecord{{Type: ModeIsInclude, Group: ip("232.1.1.1"), Sources: []netip.Addr{ip("::1")}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.m.Marshal()
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("Marshal(%#v) = %x, %v; want malformed", tt.m, b, err)
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
			name: "v2 max resp rounds down to 1/10 s",
			q:    Query{Version: 2, MaxResp: 1234 * time.Millisecond, Group: ip("0.0.0.0")},
			want: Query{Version: 2, MaxResp: 1200 * time.Millisecond, Group: ip("0.0.0.0")},
		},
		{
			name: "v2 max resp 25.5s",
			q:    Query{Version: 2, MaxResp: 25500 * time.Millisecond, Group: ip("0.0.0.0")},
			want: Query{Version: 2, MaxResp: 25500 * time.Millisecond, Group: ip("0.0.0.0")},
		},
		{
			name: "v3 codes round down and clamp",
			q:    Query{Version: 3, MaxResp: 25 * time.Second, Group: ip("0.0.0.0"), QRV: 2, QQI: 100 * time.Hour},
			want: Query{Version: 3, MaxResp: 24800 * time.Millisecond, Group: ip("0.0.0.0"), QRV: 2, QQI: 31744 * time.Second},
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
	b := bytes.Clone(vectors[len(vectors)-1].b)
	m, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	clear(b)
	if !reflect.DeepEqual(m, vectors[len(vectors)-1].m) {
		t.Errorf("message changed with its buffer: %#v", m)
	}
}

// TestSourcesAppend checks that appending to one record's sources cannot
// overwrite the next record's, although they share one allocation.
func TestSourcesAppend(t *testing.T) {
	m, err := Parse(vectors[len(vectors)-1].b)
	if err != nil {
		t.Fatal(err)
	}
	r := m.(*V3Report)
	r.Records[0].Sources = append(r.Records[0].Sources, ip("1.2.3.4"))
	if got := r.Records[2].Sources[0]; got != ip("192.168.1.1") {
		t.Errorf("third record's source became %s", got)
	}
}

func TestChecksum(t *testing.T) {
	long := bytes.Repeat([]byte{0xff}, 200001)
	tests := []struct {
		name string
		b    []byte
		want uint16
	}{
		{"empty", nil, 0xffff},
		{"zeros", []byte{0, 0, 0, 0}, 0xffff},
		// RFC 1071 §3 example: the words sum to 0xddf2.
		{"RFC 1071 example", []byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}, ^uint16(0xddf2)},
		{"odd length pads with zero", []byte{0x12, 0x34, 0x56}, ^uint16(0x1234 + 0x5600)},
		{"carry wraps around", []byte{0xff, 0xff, 0x00, 0x01}, ^uint16(0x0001)},
		{"all ones", []byte{0xff, 0xff, 0xff, 0xff}, 0},
		{"long input folds", long, refChecksum(long)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Checksum(tt.b); got != tt.want {
				t.Errorf("Checksum = 0x%04x, want 0x%04x", got, tt.want)
			}
		})
	}
	t.Run("agrees with reference", func(t *testing.T) {
		b := make([]byte, 301)
		x := uint32(1)
		for i := range b {
			x = x*1664525 + 1013904223 // LCG: deterministic, varied bytes
			b[i] = byte(x >> 24)
		}
		for n := range len(b) {
			if got, want := Checksum(b[:n]), refChecksum(b[:n]); got != want {
				t.Fatalf("len %d: Checksum = 0x%04x, reference 0x%04x", n, got, want)
			}
		}
	})
}

// TestSumInPieces: a checksum summed over pieces of even lengths, as the
// MLD checksum sums its pseudo-header and then the message, is the one of
// the whole, wherever the pieces split the 32-bit words Sum adds.
func TestSumInPieces(t *testing.T) {
	b := make([]byte, 64)
	x := uint32(7)
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x >> 24)
	}
	for n := 0; n <= len(b); n++ {
		for cut := 0; cut <= n; cut += 2 {
			if got, want := ^Fold(Sum(Sum(0, b[:cut]), b[cut:n])), refChecksum(b[:n]); got != want {
				t.Fatalf("len %d cut at %d: 0x%04x, reference 0x%04x", n, cut, got, want)
			}
		}
	}
}

// TestBadRecordIsSkipped: a record for a group that is not multicast costs
// only itself; the report's other records still count.
func TestBadRecordIsSkipped(t *testing.T) {
	b := msg([]byte{0x22, 0}, zero2, []byte{0, 0, 0, 3},
		[]byte{1, 0, 0, 1}, []byte{232, 1, 1, 1}, []byte{10, 0, 0, 9},
		[]byte{2, 0, 0, 0}, []byte{10, 1, 1, 1},
		[]byte{2, 0, 0, 0}, []byte{239, 1, 1, 1})
	m, err := Parse(b)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := &V3Report{Skipped: 1, Records: []GroupRecord{
		{Type: ModeIsInclude, Group: netip.MustParseAddr("232.1.1.1"), Sources: []netip.Addr{netip.MustParseAddr("10.0.0.9")}},
		{Type: ModeIsExclude, Group: netip.MustParseAddr("239.1.1.1")},
	}}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("Parse = %#v, want %#v", m, want)
	}
}

// TestDecoderAllocations: on the report path a Decoder allocates nothing
// once it has parsed a report of the size: under a flood of reports with
// hundreds of sources each, a fresh source list per report was most of the
// daemon's garbage.
func TestDecoderAllocations(t *testing.T) {
	g := netip.MustParseAddr("239.1.1.1")
	messages := []struct {
		name   string
		m      Message
		allocs float64
	}{
		{"v2 report", &Report{Version: 2, Group: g}, 0},
		{"v2 leave", &Leave{Group: g}, 0},
		{"v3 join, TO_EX({})", &V3Report{Records: []GroupRecord{{Type: ChangeToExclude, Group: g}}}, 0},
		{"v3 report with sources", &V3Report{Records: []GroupRecord{
			{Type: AllowNewSources, Group: g, Sources: []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")}},
			{Type: BlockOldSources, Group: g, Sources: []netip.Addr{netip.MustParseAddr("10.0.0.3")}},
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

// TestDecoderRoomIsBounded: a report with more sources than keptSources (a
// fragmented or jumbo one) is decoded in room of its own, which the decoder
// does not keep; the room it keeps serves the next report.
func TestDecoderRoomIsBounded(t *testing.T) {
	big := make([]netip.Addr, KeptSources+1)
	for i := range big {
		big[i] = netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
	}
	var d Decoder
	for _, n := range []int{3, len(big), 2} {
		b, err := (&V3Report{Records: []GroupRecord{{Type: ModeIsInclude, Group: netip.MustParseAddr("239.1.1.1"), Sources: big[:n]}}}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		m, err := d.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		if want, _ := Parse(b); !reflect.DeepEqual(m, want) {
			t.Fatalf("%d sources: Decoder.Parse = %#v, want %#v", n, m, want)
		}
		if d.sources.Kept() > KeptSources {
			t.Fatalf("%d sources: the decoder keeps room for %d, want at most %d", n, d.sources.Kept(), KeptSources)
		}
	}
	if d.sources.Kept() < 3 {
		t.Errorf("the decoder kept room for %d sources, want the 3 of the first report", d.sources.Kept())
	}
}
