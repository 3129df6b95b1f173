package mld

import (
	"fmt"
	"testing"
	"time"
)

func TestEncodeMaxRespCode(t *testing.T) {
	tests := []struct {
		name string
		d    time.Duration
		code uint16
	}{
		{"negative", -time.Second, 0},
		{"zero", 0, 0},
		{"sub-millisecond rounds down", 999 * time.Microsecond, 0},
		{"one millisecond", time.Millisecond, 1},
		{"default 10 s", 10 * time.Second, 10000},
		{"1.5 ms rounds down", 1500 * time.Microsecond, 1},
		{"largest literal", 32767 * time.Millisecond, 0x7fff},
		// 0x8000: exp 0, mant 0: 0x1000 << 3 = 32768.
		{"smallest float", 32768 * time.Millisecond, 0x8000},
		{"32775 rounds down to 32768", 32775 * time.Millisecond, 0x8000},
		// 0x8001: 0x1001 << 3 = 32776.
		{"32776", 32776 * time.Millisecond, 0x8001},
		// 0x8fff: 0x1fff << 3 = 65528, the top of exponent 0.
		{"65528", 65528 * time.Millisecond, 0x8fff},
		{"65535 rounds down to 65528", 65535 * time.Millisecond, 0x8fff},
		// 0x9000: exp 1, 0x1000 << 4 = 65536.
		{"65536", 65536 * time.Millisecond, 0x9000},
		{"65551 rounds down to 65536", 65551 * time.Millisecond, 0x9000},
		{"65552", 65552 * time.Millisecond, 0x9001},
		// 0xf000: exp 7, 0x1000 << 10 = 4194304.
		{"4194304", 4194304 * time.Millisecond, 0xf000},
		{"just below the maximum", MaxRespCodeMax - time.Millisecond, 0xfffe},
		{"maximum", MaxRespCodeMax, 0xffff},
		{"above the maximum clamps", MaxRespCodeMax + time.Millisecond, 0xffff},
		{"a day clamps", 24 * time.Hour, 0xffff},
		{"overflowing int32 clamps", 1 << 62, 0xffff},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := EncodeMaxRespCode(tt.d); got != tt.code {
				t.Errorf("EncodeMaxRespCode(%v) = 0x%04x, want 0x%04x", tt.d, got, tt.code)
			}
		})
	}
}

func TestDecodeMaxRespCode(t *testing.T) {
	tests := []struct {
		code uint16
		ms   int64
	}{
		{0x0000, 0},
		{0x0001, 1},
		{0x03e8, 1000},
		{0x7fff, 32767},
		{0x8000, 32768},
		{0x8001, 32776},
		{0x8fff, 65528},
		{0x9000, 65536},
		{0xa123, 0x1123 << 5}, // exp 2, mant 0x123: (0x1000|0x123) << (2+3)
		{0xf000, 4194304},
		{0xffff, 8387584},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("0x%04x", tt.code), func(t *testing.T) {
			want := time.Duration(tt.ms) * time.Millisecond
			if got := DecodeMaxRespCode(tt.code); got != want {
				t.Errorf("DecodeMaxRespCode(0x%04x) = %v, want %v", tt.code, got, want)
			}
		})
	}
}

// TestMaxRespCodeRoundTrip checks the properties over the whole domain:
// every code survives decode then encode; decoded values strictly increase
// with the code; encoding picks the largest code not above the delay.
func TestMaxRespCodeRoundTrip(t *testing.T) {
	t.Run("codes", func(t *testing.T) {
		prev := time.Duration(-1)
		for c := range 0x10000 {
			d := DecodeMaxRespCode(uint16(c))
			if got := EncodeMaxRespCode(d); got != uint16(c) {
				t.Fatalf("EncodeMaxRespCode(DecodeMaxRespCode(0x%04x) = %v) = 0x%04x", c, d, got)
			}
			if d <= prev {
				t.Fatalf("DecodeMaxRespCode(0x%04x) = %v, not above the previous code's %v", c, d, prev)
			}
			prev = d
		}
	})
	t.Run("delays", func(t *testing.T) {
		check := func(ms int64) {
			d := time.Duration(ms) * time.Millisecond
			c := EncodeMaxRespCode(d)
			back := DecodeMaxRespCode(c)
			if back > d {
				t.Fatalf("DecodeMaxRespCode(EncodeMaxRespCode(%v)) = %v, above the delay", d, back)
			}
			if c < 0xffff && DecodeMaxRespCode(c+1) <= d {
				t.Fatalf("EncodeMaxRespCode(%v) = 0x%04x, but 0x%04x (%v) also fits", d, c, c+1, DecodeMaxRespCode(c+1))
			}
		}
		// Every millisecond up to a little past the maximum.
		for ms := range int64(MaxRespCodeMax/time.Millisecond) + 100 {
			check(ms)
		}
	})
}

func TestQQI(t *testing.T) {
	tests := []struct {
		name string
		d    time.Duration
		code uint8
		back time.Duration
	}{
		{"default 125 s", 125 * time.Second, 125, 125 * time.Second},
		{"300 s rounds down to a float", 300 * time.Second, 0x92, 288 * time.Second},
		{"below a second", 999 * time.Millisecond, 0, 0},
		{"negative", -time.Second, 0, 0},
		{"clamps", 24 * time.Hour, 0xff, 31744 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := EncodeQQI(tt.d)
			if c != tt.code {
				t.Fatalf("EncodeQQI(%v) = 0x%02x, want 0x%02x", tt.d, c, tt.code)
			}
			if got := DecodeQQI(c); got != tt.back {
				t.Errorf("DecodeQQI(0x%02x) = %v, want %v", c, got, tt.back)
			}
		})
	}
}
