package igmp

import (
	"fmt"
	"testing"
	"time"
)

func TestEncodeCode(t *testing.T) {
	tests := []struct {
		name  string
		units int
		code  uint8
	}{
		{"negative", -5, 0},
		{"zero", 0, 0},
		{"one", 1, 1},
		{"default max resp 100", 100, 100},
		{"default qqi 125", 125, 125},
		{"largest literal", 127, 127},
		// 0x80: exp 0, mant 0: 0x10 << 3 = 128.
		{"smallest float", 128, 0x80},
		{"129 rounds down to 128", 129, 0x80},
		{"135 rounds down to 128", 135, 0x80},
		// 0x81: 0x11 << 3 = 136.
		{"136", 136, 0x81},
		// 0x8f: 0x1f << 3 = 248, the top of exponent 0.
		{"248", 248, 0x8f},
		{"255 rounds down to 248", 255, 0x8f},
		// 0x90: exp 1, 0x10 << 4 = 256.
		{"256", 256, 0x90},
		{"271 rounds down to 256", 271, 0x90},
		{"272", 272, 0x91},
		// 0xf0: exp 7, 0x10 << 10 = 16384.
		{"16384", 16384, 0xf0},
		{"31743 rounds down to 30720", 31743, 0xfe},
		{"maximum 31744", 31744, 0xff},
		{"31745 clamps", 31745, 0xff},
		{"huge clamps", 1 << 30, 0xff},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := EncodeCode(tt.units); got != tt.code {
				t.Errorf("EncodeCode(%d) = 0x%02x, want 0x%02x", tt.units, got, tt.code)
			}
		})
	}
}

func TestDecodeCode(t *testing.T) {
	tests := []struct {
		code  uint8
		units int
	}{
		{0x00, 0},
		{0x01, 1},
		{0x7f, 127},
		{0x80, 128},
		{0x81, 136},
		{0x8f, 248},
		{0x90, 256},
		{0xa5, 21 << 5}, // exp 2, mant 5: (0x10|5) << (2+3)
		{0xf0, 16384},
		{0xfe, 30720},
		{0xff, 31744},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("0x%02x", tt.code), func(t *testing.T) {
			if got := DecodeCode(tt.code); got != tt.units {
				t.Errorf("DecodeCode(0x%02x) = %d, want %d", tt.code, got, tt.units)
			}
		})
	}
}

// TestCodeRoundTrip checks the properties over the whole domain: every code
// survives decode then encode; encoding picks the largest code not above the
// value; decoded values strictly increase with the code.
func TestCodeRoundTrip(t *testing.T) {
	t.Run("codes", func(t *testing.T) {
		prev := -1
		for c := range 256 {
			u := DecodeCode(uint8(c))
			if got := EncodeCode(u); got != uint8(c) {
				t.Errorf("EncodeCode(DecodeCode(0x%02x) = %d) = 0x%02x", c, u, got)
			}
			if u <= prev {
				t.Errorf("DecodeCode(0x%02x) = %d, not above the previous code's %d", c, u, prev)
			}
			prev = u
		}
	})
	t.Run("units", func(t *testing.T) {
		for u := range MaxCodeUnits + 100 {
			c := EncodeCode(u)
			d := DecodeCode(c)
			if d > u {
				t.Fatalf("DecodeCode(EncodeCode(%d)) = %d, above the value", u, d)
			}
			if c < 0xff && DecodeCode(c+1) <= u {
				t.Fatalf("EncodeCode(%d) = 0x%02x, but 0x%02x (%d) also fits", u, c, c+1, DecodeCode(c+1))
			}
		}
	})
}

func TestDurationCodes(t *testing.T) {
	tests := []struct {
		name string
		enc  func(time.Duration) uint8
		dec  func(uint8) time.Duration
		d    time.Duration
		code uint8
		back time.Duration
	}{
		{"max resp 10s", EncodeMaxResp, DecodeMaxResp, 10 * time.Second, 100, 10 * time.Second},
		{"max resp 150ms rounds down", EncodeMaxResp, DecodeMaxResp, 150 * time.Millisecond, 1, 100 * time.Millisecond},
		{"max resp 25s float", EncodeMaxResp, DecodeMaxResp, 25 * time.Second, 0x8f, 24800 * time.Millisecond},
		{"max resp negative", EncodeMaxResp, DecodeMaxResp, -time.Second, 0, 0},
		{"max resp clamps", EncodeMaxResp, DecodeMaxResp, 1000 * time.Hour, 0xff, 3174400 * time.Millisecond},
		{"max resp overflowing int32", EncodeMaxResp, DecodeMaxResp, 1 << 62, 0xff, 3174400 * time.Millisecond},
		{"qqi 125s", EncodeQQI, DecodeQQI, 125 * time.Second, 125, 125 * time.Second},
		{"qqi 300s", EncodeQQI, DecodeQQI, 300 * time.Second, 0x92, 288 * time.Second},
		{"qqi 999ms", EncodeQQI, DecodeQQI, 999 * time.Millisecond, 0, 0},
		{"qqi clamps", EncodeQQI, DecodeQQI, 24 * time.Hour, 0xff, 31744 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.enc(tt.d)
			if c != tt.code {
				t.Fatalf("encode(%v) = 0x%02x, want 0x%02x", tt.d, c, tt.code)
			}
			if got := tt.dec(c); got != tt.back {
				t.Errorf("decode(0x%02x) = %v, want %v", c, got, tt.back)
			}
		})
	}
}
