package mld

import (
	"net/netip"
	"testing"
	"time"
)

func benchV2Report(b *testing.B) []byte {
	r := &V2Report{}
	for i := range 4 {
		rec := AddressRecord{Type: ModeIsInclude, Group: netip.AddrFrom16([16]byte{0xff, 0x3e, 15: byte(i)})}
		for j := range 4 {
			rec.Sources = append(rec.Sources, netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: byte(i), 15: byte(j)}))
		}
		r.Records = append(r.Records, rec)
	}
	p, err := r.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	return p
}

func BenchmarkParseV2Report(b *testing.B) {
	p := benchV2Report(b)
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Parse(p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshalQuery(b *testing.B) {
	q := &Query{Version: 2, MaxResp: 10 * time.Second, Group: netip.IPv6Unspecified(), QRV: 2, QQI: 125 * time.Second}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := q.Marshal(); err != nil {
			b.Fatal(err)
		}
	}
}
