package mld

import (
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/igmp"
)

// MaxRespCodeMax is the longest Maximum Response Delay an MLDv2 query can
// carry: mantissa 0xfff and exponent 7 give (0x1000|0xfff) << (7+3)
// milliseconds (RFC 3810 §5.1.3), about 2 h 20 min.
const MaxRespCodeMax = (0x1fff << 10) * time.Millisecond

// maxRespLiteral is the first Maximum Response Code value that is a float
// rather than a plain count of milliseconds (RFC 3810 §5.1.3).
const maxRespLiteral = 0x8000

// EncodeMaxRespCode turns a maximum response delay into the 16-bit Maximum
// Response Code of an MLDv2 query (RFC 3810 §5.1.3). Delays below 32768 ms
// are sent literally, in whole milliseconds. Longer ones are rounded down to
// the largest code that does not exceed them, so hosts never answer later
// than the querier expects. Delays above MaxRespCodeMax are clamped to it;
// negative ones encode as 0.
func EncodeMaxRespCode(d time.Duration) uint16 {
	ms := d / time.Millisecond
	switch {
	case ms < 0:
		return 0
	case ms < maxRespLiteral:
		return uint16(ms)
	case d > MaxRespCodeMax:
		ms = MaxRespCodeMax / time.Millisecond
	}
	// Find exp so that ms >> (exp+3) lies in [0x1000, 0x1fff]: the implicit
	// leading one plus the 12-bit mantissa. ms fits in 23 bits here, so the
	// arithmetic is safe on 32-bit targets too.
	u := uint32(ms)
	exp := uint32(0)
	for u>>(exp+3) > 0x1fff {
		exp++
	}
	mant := (u >> (exp + 3)) & 0x0fff
	return uint16(0x8000 | exp<<12 | mant)
}

// DecodeMaxRespCode turns an MLDv2 Maximum Response Code into a delay
// (RFC 3810 §5.1.3): codes below 32768 are milliseconds, otherwise
// (mant | 0x1000) << (exp + 3) milliseconds.
func DecodeMaxRespCode(code uint16) time.Duration {
	if code < maxRespLiteral {
		return time.Duration(code) * time.Millisecond
	}
	exp := uint32(code>>12) & 0x07
	mant := uint32(code) & 0x0fff
	return time.Duration((mant|0x1000)<<(exp+3)) * time.Millisecond
}

// EncodeQQI encodes a querier's query interval as a QQIC, rounding down to
// whole seconds and to a representable code. RFC 3810 §5.1.9 defines the same
// 8-bit float in seconds as IGMPv3's QQIC (RFC 3376 §4.1.7), so the IGMP
// codec does the work.
func EncodeQQI(d time.Duration) uint8 { return igmp.EncodeQQI(d) }

// DecodeQQI decodes a QQIC (RFC 3810 §5.1.9).
func DecodeQQI(code uint8) time.Duration { return igmp.DecodeQQI(code) }
