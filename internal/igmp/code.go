package igmp

import "time"

// MaxCodeUnits is the largest value a float code can carry: mantissa 0xf and
// exponent 7 give (0x10|0xf) << (7+3) (RFC 3376 §4.1.1, §4.1.7).
const MaxCodeUnits = 31744

// Units of the two fields that use float codes.
const (
	MaxRespUnit = 100 * time.Millisecond // Max Resp Code counts 1/10 s (RFC 3376 §4.1.1)
	QQIUnit     = time.Second            // QQIC counts seconds (RFC 3376 §4.1.7)
)

// EncodeCode turns a number of units into the 8-bit float code used by the
// IGMPv3 Max Resp Code and QQIC fields (RFC 3376 §4.1.1, §4.1.7). Values below
// 128 are sent literally. Larger values are rounded down to the largest code
// that does not exceed them, so a querier never waits longer than configured
// and hosts never answer later than we expect. Values above MaxCodeUnits are
// clamped to it; negative values encode as 0.
func EncodeCode(units int) uint8 {
	switch {
	case units < 0:
		return 0
	case units < 128:
		return uint8(units)
	case units > MaxCodeUnits:
		units = MaxCodeUnits
	}
	// Find exp so that units >> (exp+3) lies in [16, 31]: that shifted value
	// is 1mmmm, the implicit leading one plus the 4-bit mantissa.
	exp := 0
	for units>>(exp+3) > 0x1f {
		exp++
	}
	mant := (units >> (exp + 3)) & 0x0f
	return 0x80 | uint8(exp)<<4 | uint8(mant)
}

// DecodeCode turns an 8-bit float code into units (RFC 3376 §4.1.1, §4.1.7):
// codes below 128 are literal, otherwise (mant | 0x10) << (exp + 3).
func DecodeCode(code uint8) int {
	if code < 128 {
		return int(code)
	}
	exp := int(code>>4) & 0x07
	mant := int(code) & 0x0f
	return (mant | 0x10) << (exp + 3)
}

// EncodeMaxResp encodes an IGMPv3 maximum response time as a Max Resp Code,
// rounding down to a multiple of 1/10 s and to a representable code.
func EncodeMaxResp(d time.Duration) uint8 { return EncodeCode(durationUnits(d, MaxRespUnit)) }

// DecodeMaxResp decodes an IGMPv3 Max Resp Code.
func DecodeMaxResp(code uint8) time.Duration {
	return time.Duration(DecodeCode(code)) * MaxRespUnit
}

// EncodeQQI encodes a querier's query interval as a QQIC (RFC 3376 §4.1.7),
// rounding down to whole seconds and to a representable code.
func EncodeQQI(d time.Duration) uint8 { return EncodeCode(durationUnits(d, QQIUnit)) }

// DecodeQQI decodes a QQIC.
func DecodeQQI(code uint8) time.Duration {
	return time.Duration(DecodeCode(code)) * QQIUnit
}

// durationUnits divides d by unit, rounding down, and clamps before converting
// to int so that huge durations cannot overflow a 32-bit int (MIPS, ARM).
func durationUnits(d, unit time.Duration) int {
	n := d / unit
	switch {
	case n < 0:
		return 0
	case n > MaxCodeUnits:
		return MaxCodeUnits + 1
	}
	return int(n)
}
