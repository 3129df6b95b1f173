package format

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/netip"
	"os"
	"testing"
	"time"
)

type named int                 // a named integer type with a String method
func (n named) String() string { return fmt.Sprintf("named(%d)", int(n)) }

// TestSameAsFmt: for the verbs and types the daemon uses, the text is
// fmt's, byte for byte.
func TestSameAsFmt(t *testing.T) {
	addr := netip.MustParseAddr("192.0.2.1")
	zoned := netip.MustParseAddr("fe80::1%eth0")
	pfx := netip.MustParsePrefix("2001:db8::/32")
	err := errors.New("file exists")
	cases := []struct {
		layout string
		args   []any
	}{
		{"plain text, no verbs", nil},
		{"100%% done", nil},
		{"%s and %v", []any{"a string", "another"}},
		{"%q %q %q", []any{"eth0", "tab\there \"quoted\"", "é\x00\xff"}},
		{"%s: %v; %q", []any{err, err, err}},
		{"%s %v %q", []any{addr, zoned, pfx}},
		{"%s %v", []any{time.Duration(1500) * time.Millisecond, named(3)}},
		{"%d %d %d %d %d %d", []any{0, -7, int64(math.MaxInt64), int64(math.MinInt64), int8(-128), int16(300)}},
		{"%d %d %d %d %d %d", []any{int32(-5), uint(7), uint8(255), uint16(65535), uint32(1 << 31), uint64(math.MaxUint64)}},
		{"%v %v %+v %+d", []any{42, -42, 42, 42}},
		{"0x%02x 0x%04x %x %x %02x", []any{byte(7), uint16(0xbeef), 255, -255, uint32(0x1234)}},
		{"[%5d] [%-5d] [%05d] [%-05d] [%3d] [%05d]", []any{42, 42, 42, 42, 123456, -42}},
		{"[%8s] [%-8s] [%3s] [%6q]", []any{"ab", "ab", "abcdef", "x"}},
		{"%.1f %.0f %.1f %.1f %.3f %f", []any{1.25, 2.5, 1e9 / 1e6, -0.05, math.Pi, 1.0}},
		{"%t %v %t", []any{true, false, false}},
		{"%v %v %v %v", []any{[]string{"br-lan", "wlan0"}, []string{}, []string(nil), []int{3, 1}}},
		{"%s %v %v", []any{[]netip.Addr{addr, zoned}, []netip.Prefix{pfx}, []netip.Addr(nil)}},
		{"%v %+v %v", []any{map[string]uint64{"b": 2, "a": 1, "igmpv3_report": 4}, map[string]uint64{}, map[string]uint64(nil)}},
		{"%v %s", []any{nil, nil}},
		{"%v", []any{error(nil)}},
		{"missing %s and %d", []any{"one"}},
		{"%s", []any{os.ErrNotExist}},
		{"%v %v", []any{1.5, 1e21}},
		{"%v", []any{&fs.PathError{Op: "open", Path: "/x", Err: os.ErrPermission}}},
		{"ünïcode %s ✓", []any{"ß"}},
	}
	for _, c := range cases {
		want := fmt.Sprintf(c.layout, c.args...)
		if got := Sprintf(c.layout, c.args...); got != want {
			t.Errorf("Sprintf(%q, %v)\n got %q\nwant %q", c.layout, c.args, got, want)
		}
		if got := string(Appendf([]byte("> "), c.layout, c.args...)); got != "> "+want {
			t.Errorf("Appendf(%q): %q", c.layout, got)
		}
		var b bytes.Buffer
		if n, err := Fprintf(&b, c.layout, c.args...); err != nil || n != len(want) || b.String() != want {
			t.Errorf("Fprintf(%q) = %d, %v: %q", c.layout, n, err, b.String())
		}
		if got := Errorf(c.layout, c.args...).Error(); got != want {
			t.Errorf("Errorf(%q) = %q, want %q", c.layout, got, want)
		}
	}
	var b, w bytes.Buffer
	Fprintln(&b, "usage:", err, 3, nil, []string{"a"})
	fmt.Fprintln(&w, "usage:", err, 3, nil, []string{"a"})
	if b.String() != w.String() {
		t.Errorf("Fprintln: %q, want %q", b.String(), w.String())
	}
}

// TestBadVerb: a verb a type cannot print is marked, not a panic.
func TestBadVerb(t *testing.T) {
	for _, c := range []struct {
		layout string
		arg    any
		want   string
	}{
		{"%d", "x", "%!d(?)"},
		{"%s", 5, "%!s(?)"},
		{"%d", struct{}{}, "%!d(?)"},
		{"%s", nil, "%!s(<nil>)"},
		{"%w", nil, "%!w(<nil>)"},
		{"%w", "not an error", "%!w(?)"},
		{"%", nil, "%!(NOVERB)%!(EXTRA <nil>)"},
	} {
		if got := Sprintf(c.layout, c.arg); got != c.want {
			t.Errorf("Sprintf(%q, %#v) = %q, want %q", c.layout, c.arg, got, c.want)
		}
	}
}

type codeError struct{ code int }

func (e *codeError) Error() string { return fmt.Sprintf("code %d", e.code) }

// TestErrorfWraps: %w wraps as fmt.Errorf does, one error or several.
func TestErrorfWraps(t *testing.T) {
	inner := &codeError{7}
	err := Errorf("mroute: add vif %s: %w", "eth0", inner)
	var ce *codeError
	if !errors.As(err, &ce) || ce != inner || errors.Unwrap(err) != inner {
		t.Errorf("%v does not wrap %v", err, inner)
	}
	two := Errorf("%w and %w", os.ErrNotExist, inner)
	if !errors.Is(two, os.ErrNotExist) || !errors.As(two, &ce) || two.Error() != "file does not exist and code 7" {
		t.Errorf("%v: does not wrap both", two)
	}
	if plain := Errorf("no %s here", "wrapping"); errors.Unwrap(plain) != nil {
		t.Errorf("%v wraps something", plain)
	}
}

// TestExtraArguments: arguments left over are shown, without their types'
// names (fmt: "string=two, int=3").
func TestExtraArguments(t *testing.T) {
	if got, want := Sprintf("extra %s", "one", "two", 3), "extra one%!(EXTRA two, 3)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
