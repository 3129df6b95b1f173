package daemon

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/membership"
	"github.com/mcast-proxy/mcast-proxy/internal/mld"
)

func TestDecodeMLD(t *testing.T) {
	g := netip.MustParseAddr("ff3e::1:2")
	s := netip.MustParseAddr("2001:db8::2")
	ll := netip.MustParseAddr("fe80::11")
	ok := packetInfo{src: ll, ttl: 1, routerAlert: true}
	marshal := func(m mld.Message) []byte {
		b, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	v1report := marshal(&mld.Report{Group: g})
	tests := []struct {
		name    string
		info    packetInfo
		payload []byte
		want    message
		drop    int
	}{
		{"v1 report is IS_EX{} on the v2 compat scale", ok, v1report,
			message{kind: "mldv1_report", version: 2, records: []membership.Record{{Type: membership.IsExclude, Group: g}}}, -1},
		{"v1 done is TO_IN{}", ok, marshal(&mld.Done{Group: g}),
			message{kind: "mldv1_done", version: 2, records: []membership.Record{{Type: membership.ToInclude, Group: g}}}, -1},
		{"v2 report", ok, marshal(&mld.V2Report{Records: []mld.AddressRecord{{Type: mld.ModeIsInclude, Group: g, Sources: []netip.Addr{s}}}}),
			message{kind: "mldv2_report", version: 3, records: []membership.Record{{Type: membership.IsInclude, Group: g, Sources: []netip.Addr{s}}}}, -1},
		{"v2 report from :: is accepted", packetInfo{src: netip.IPv6Unspecified(), ttl: 1, routerAlert: true}, marshal(&mld.V2Report{Records: []mld.AddressRecord{{Type: mld.ChangeToExclude, Group: g}}}),
			message{kind: "mldv2_report", version: 3, records: []membership.Record{{Type: membership.ToExclude, Group: g}}}, -1},
		{"global source", packetInfo{src: s, ttl: 1, routerAlert: true}, v1report, message{}, dropSource},
		{"query from ::", packetInfo{src: netip.IPv6Unspecified(), ttl: 1, routerAlert: true}, marshal(&mld.Query{Version: 1, Group: netip.IPv6Unspecified(), MaxResp: time.Second}), message{}, dropSource},
		{"hop limit 2", packetInfo{src: ll, ttl: 2, routerAlert: true}, v1report, message{}, dropTTL},
		{"no router alert", packetInfo{src: ll, ttl: 1}, v1report, message{}, dropRouterAlert},
		{"truncated", ok, v1report[:10], message{}, dropTruncated},
	}
	// One plane's working memory for all cases, so each decodes after
	// the case before it.
	used := &decodeMemory{records: usedRecords()}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reason, accepted := decodeMLD(tt.info, tt.payload, &decodeMemory{})
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
			again, _, _ := decodeMLD(tt.info, tt.payload, used)
			if !reflect.DeepEqual(again, tt.want) {
				t.Fatalf("into used records: got %+v, want %+v", again, tt.want)
			}
		})
	}
}

func TestEncodeMLDQuery(t *testing.T) {
	g := netip.MustParseAddr("ff3e::1:2")
	s := netip.MustParseAddr("2001:db8::2")
	tests := []struct {
		name    string
		q       membership.SendQuery
		wantDst string
		want    mld.Query
	}{
		{"v2 general", membership.SendQuery{Version: 3, MaxResp: 10 * time.Second, QRV: 2, QQI: 125 * time.Second}, "ff02::1",
			mld.Query{Version: 2, MaxResp: 10 * time.Second, Group: netip.IPv6Unspecified(), QRV: 2, QQI: 125 * time.Second}},
		{"v2 address and source specific", membership.SendQuery{Version: 3, Group: g, Sources: []netip.Addr{s}, SuppressRouterSide: true, MaxResp: time.Second, QRV: 2, QQI: 125 * time.Second}, "ff3e::1:2",
			mld.Query{Version: 2, MaxResp: time.Second, Group: g, Sources: []netip.Addr{s}, SuppressRouterSide: true, QRV: 2, QQI: 125 * time.Second}},
		{"v1 address specific", membership.SendQuery{Version: 2, Group: g, Sources: []netip.Addr{s}, MaxResp: time.Second, QRV: 2}, "ff3e::1:2",
			mld.Query{Version: 1, MaxResp: time.Second, Group: g}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			payload, dst, err := encodeMLDQuery(tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if dst.String() != tt.wantDst {
				t.Errorf("dst = %v, want %s", dst, tt.wantDst)
			}
			m, err := mld.Parse(payload)
			if err != nil {
				t.Fatalf("our own query does not parse: %v", err)
			}
			if got := m.(*mld.Query); !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("query on the wire = %+v, want %+v", *got, tt.want)
			}
		})
	}
}
