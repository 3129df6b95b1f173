package daemon

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/igmp"
	"github.com/mcast-proxy/mcast-proxy/internal/membership"
)

func mustMarshal(t *testing.T, m igmp.Message) []byte {
	t.Helper()
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// v3WithBadRecord is an IGMPv3 report with an IS_IN(s) record for g and an
// IS_EX record for the unicast address 10.1.1.1.
func v3WithBadRecord(g, s netip.Addr) []byte {
	b := []byte{0x22, 0, 0, 0, 0, 0, 0, 2, 1, 0, 0, 1}
	b = append(b, g.AsSlice()...)
	b = append(b, s.AsSlice()...)
	b = append(b, 2, 0, 0, 0, 10, 1, 1, 1)
	c := igmp.Checksum(b)
	b[2], b[3] = byte(c>>8), byte(c)
	return b
}

func TestDecode(t *testing.T) {
	g := netip.MustParseAddr("239.1.1.1")
	s := netip.MustParseAddr("10.0.0.2")
	ok := packetInfo{ttl: 1, routerAlert: true}
	v2report := mustMarshal(t, &igmp.Report{Version: 2, Group: g})
	v1report := mustMarshal(t, &igmp.Report{Version: 1, Group: g})
	badSum := append([]byte(nil), v2report...)
	badSum[2] ^= 0xff

	tests := []struct {
		name    string
		info    packetInfo
		payload []byte
		want    message
		drop    int
	}{
		{"v2 report is IS_EX{}", ok, v2report,
			message{kind: "igmpv2_report", version: 2, records: []membership.Record{{Type: membership.IsExclude, Group: g}}}, -1},
		{"v1 report without router alert", packetInfo{ttl: 1}, v1report,
			message{kind: "igmpv1_report", version: 1, records: []membership.Record{{Type: membership.IsExclude, Group: g}}}, -1},
		{"v2 leave is TO_IN{}", ok, mustMarshal(t, &igmp.Leave{Group: g}),
			message{kind: "igmpv2_leave", version: 2, records: []membership.Record{{Type: membership.ToInclude, Group: g}}}, -1},
		{"v3 report", ok, mustMarshal(t, &igmp.V3Report{Records: []igmp.GroupRecord{{Type: igmp.ModeIsInclude, Group: g, Sources: []netip.Addr{s}}}}),
			message{kind: "igmpv3_report", version: 3, records: []membership.Record{{Type: membership.IsInclude, Group: g, Sources: []netip.Addr{s}}}}, -1},
		{"v3 report with a record for a unicast group keeps the others", ok, v3WithBadRecord(g, s),
			message{kind: "igmpv3_report", version: 3, skipped: 1, records: []membership.Record{{Type: membership.IsInclude, Group: g, Sources: []netip.Addr{s}}}}, -1},
		{"v2 report without router alert", packetInfo{ttl: 1}, v2report, message{}, dropRouterAlert},
		{"ttl 2", packetInfo{ttl: 2, routerAlert: true}, v2report, message{}, dropTTL},
		{"bad checksum", ok, badSum, message{}, dropChecksum},
		{"truncated", ok, v2report[:5], message{}, dropTruncated},
		{"unknown type", ok, []byte{0x99, 0, 0x66, 0xff, 0, 0, 0, 0}, message{}, dropUnknownType},
	}
	// One plane's working memory for all cases, so each decodes after
	// the case before it.
	used := &decodeMemory{records: usedRecords()}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reason, accepted := decodeIGMP(tt.info, tt.payload, &decodeMemory{})
			if tt.drop >= 0 {
				if accepted || reason != tt.drop {
					t.Fatalf("accepted=%v reason=%s, want drop %s", accepted, dropNames[reason], dropNames[tt.drop])
				}
				return
			}
			if !accepted {
				t.Fatalf("dropped: %s", dropNames[reason])
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			// The plane reuses one records slice: what an earlier report
			// left in it must not show through.
			again, _, _ := decodeIGMP(tt.info, tt.payload, used)
			if !reflect.DeepEqual(again, tt.want) {
				t.Fatalf("into used records: got %+v, want %+v", again, tt.want)
			}
		})
	}
}

// usedRecords is a plane's records slice after an earlier report.
func usedRecords() []membership.Record {
	used := []membership.Record{
		{Type: membership.Block, Group: netip.MustParseAddr("239.9.9.9"), Sources: []netip.Addr{netip.MustParseAddr("10.9.9.9")}},
		{Type: membership.IsExclude, Group: netip.MustParseAddr("ff3e::9")},
	}
	return used[:0]
}

// TestDecodeReportAllocations: a report decoded with a plane's working
// memory allocates nothing: neither the codec's message nor a records
// slice per report (a record's source list would be the one allocation).
func TestDecodeReportAllocations(t *testing.T) {
	g := netip.MustParseAddr("239.1.1.1")
	for _, m := range []igmp.Message{
		&igmp.Report{Version: 2, Group: g},
		&igmp.Leave{Group: g},
		&igmp.V3Report{Records: []igmp.GroupRecord{{Type: igmp.ChangeToExclude, Group: g}}},
	} {
		b := mustMarshal(t, m)
		var w decodeMemory
		allocs := testing.AllocsPerRun(100, func() {
			msg, _, ok := decodeIGMP(packetInfo{ttl: 1, routerAlert: true}, b, &w)
			if !ok || len(msg.records) != 1 {
				t.Fatalf("%T not decoded: %+v", m, msg)
			}
			w.records = msg.records[:0] // as the loop hands it back
		})
		if allocs != 0 {
			t.Errorf("decoding a %T allocates %.0f times, want 0", m, allocs)
		}
	}
}

func TestDecodeQuery(t *testing.T) {
	q := &igmp.Query{Version: 3, MaxResp: time.Second, Group: netip.IPv4Unspecified(), QRV: 2, QQI: 20 * time.Second}
	got, _, ok := decodeIGMP(packetInfo{ttl: 1, routerAlert: true}, mustMarshal(t, q), &decodeMemory{})
	if !ok || got.query == nil {
		t.Fatalf("query not accepted: %+v", got)
	}
	want := membership.Query{Version: 3, MaxResp: time.Second, Group: netip.IPv4Unspecified(), QRV: 2, QQI: 20 * time.Second}
	if !reflect.DeepEqual(*got.query, want) {
		t.Fatalf("query = %+v, want %+v", *got.query, want)
	}
}

func TestEncodeQuery(t *testing.T) {
	g := netip.MustParseAddr("239.1.1.1")
	s := netip.MustParseAddr("10.0.0.2")
	tests := []struct {
		name    string
		q       membership.SendQuery
		wantDst string
		want    igmp.Query
	}{
		{"v3 general", membership.SendQuery{Version: 3, MaxResp: 10 * time.Second, QRV: 2, QQI: 125 * time.Second}, "224.0.0.1",
			igmp.Query{Version: 3, MaxResp: 10 * time.Second, Group: netip.IPv4Unspecified(), QRV: 2, QQI: 125 * time.Second}},
		{"v3 group and source specific", membership.SendQuery{Version: 3, Group: g, Sources: []netip.Addr{s}, SuppressRouterSide: true, MaxResp: time.Second, QRV: 2, QQI: 125 * time.Second}, "239.1.1.1",
			igmp.Query{Version: 3, MaxResp: time.Second, Group: g, Sources: []netip.Addr{s}, SuppressRouterSide: true, QRV: 2, QQI: 125 * time.Second}},
		{"v2 group specific drops v3 fields", membership.SendQuery{Version: 2, Group: g, Sources: []netip.Addr{s}, SuppressRouterSide: true, MaxResp: time.Second, QRV: 2}, "239.1.1.1",
			igmp.Query{Version: 2, MaxResp: time.Second, Group: g}},
		{"v1 general", membership.SendQuery{Version: 1, MaxResp: 10 * time.Second}, "224.0.0.1",
			igmp.Query{Version: 1, Group: netip.IPv4Unspecified()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			payload, dst, err := encodeIGMPQuery(tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if dst.String() != tt.wantDst {
				t.Errorf("dst = %v, want %s", dst, tt.wantDst)
			}
			m, err := igmp.Parse(payload)
			if err != nil {
				t.Fatalf("our own query does not parse: %v", err)
			}
			if got := m.(*igmp.Query); !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("query on the wire = %+v, want %+v", *got, tt.want)
			}
		})
	}
}
