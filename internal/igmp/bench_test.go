package igmp

import (
	"net/netip"
	"testing"
	"time"
)

func benchV3Report(b *testing.B) []byte {
	r := &V3Report{}
	for i := range 4 {
		rec := GroupRecord{Type: ModeIsInclude, Group: netip.AddrFrom4([4]byte{232, 1, 1, byte(i)})}
		for j := range 4 {
			rec.Sources = append(rec.Sources, netip.AddrFrom4([4]byte{10, 0, byte(i), byte(j)}))
		}
		r.Records = append(r.Records, rec)
	}
	p, err := r.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	return p
}

func BenchmarkParseV3Report(b *testing.B) {
	p := benchV3Report(b)
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
	q := &Query{Version: 3, MaxResp: 10 * time.Second, Group: netip.IPv4Unspecified(), QRV: 2, QQI: 125 * time.Second}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := q.Marshal(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkChecksum: a full-sized report's checksum, which the daemon
// verifies before it reads the report.
func BenchmarkChecksum(b *testing.B) {
	p := make([]byte, 1480)
	for i := range p {
		p[i] = byte(i * 7)
	}
	b.SetBytes(int64(len(p)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Checksum(p)
	}
}
