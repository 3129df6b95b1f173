package mld

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
)

// refChecksum is an independent ICMPv6 checksum for the tests: it lays out
// the pseudo-header of RFC 8200 §8.1 byte by byte, adds every byte with its
// place value and reduces modulo 0xffff, which equals the end-around-carry
// sum of RFC 1071 except that a non-zero sum is 0xffff, never 0.
func refChecksum(src, dst netip.Addr, b []byte) uint16 {
	s, d := src.As16(), dst.As16()
	n := len(b)
	pseudo := bytes.Join([][]byte{s[:], d[:], {byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}, {0, 0, 0, 58}}, nil)
	var total uint64 // not int: it would overflow on 32-bit targets
	for i, c := range append(pseudo, b...) {
		if i%2 == 0 {
			total += uint64(c) * 256
		} else {
			total += uint64(c)
		}
	}
	r := total % 0xffff
	if r == 0 && total != 0 {
		r = 0xffff
	}
	return uint16(0xffff - r)
}

func TestChecksum(t *testing.T) {
	ones := ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")
	long := bytes.Repeat([]byte{0xff}, 70001)
	tests := []struct {
		name     string
		src, dst netip.Addr
		b        []byte
		want     uint16
	}{
		// Only next header 58 in the pseudo-header.
		{"empty from :: to ::", ip("::"), ip("::"), nil, ^uint16(58)},
		{"length counts", ip("::"), ip("::"), []byte{0, 0, 0, 0}, ^uint16(58 + 4)},
		{"odd length pads with zero", ip("::"), ip("::"), []byte{0x12, 0x34, 0x56}, ^uint16(58 + 3 + 0x1234 + 0x5600)},
		{"addresses count", ip("::1"), ip("::2"), nil, ^uint16(58 + 1 + 2)},
		// 16 words of 0xffff fold to 0xffff; adding 58 wraps to 58.
		{"carry wraps around", ones, ip("::"), nil, ^uint16(58)},
		{"zone ignored", ip("fe80::1%eth0"), ip("ff02::16"), []byte{143, 0, 0, 0, 0, 0, 0, 0}, refChecksum(ip("fe80::1"), ip("ff02::16"), []byte{143, 0, 0, 0, 0, 0, 0, 0})},
		{"length above 16 bits", ip("fe80::1"), ip("ff02::1"), long, refChecksum(ip("fe80::1"), ip("ff02::1"), long)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Checksum(tt.src, tt.dst, tt.b); got != tt.want {
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
		src, dst := ip("fe80::a48d:34ff:feb9:af32"), ip("ff02::16")
		for n := range len(b) {
			if got, want := Checksum(src, dst, b[:n]), refChecksum(src, dst, b[:n]); got != want {
				t.Fatalf("len %d: Checksum = 0x%04x, reference 0x%04x", n, got, want)
			}
		}
	})
}

func TestMarshalWithChecksum(t *testing.T) {
	tests := []struct {
		name     string
		m        Message
		src, dst netip.Addr
		want     error
	}{
		{"report", &Report{Group: ip("ff0e::1")}, ip("fe80::1"), ip("ff0e::1"), nil},
		{"report from :: (RFC 3810 §5.2.13)", &V2Report{}, ip("::"), ip("ff02::16"), nil},
		{"IPv4 source", &Report{Group: ip("ff0e::1")}, ip("10.0.0.1"), ip("ff0e::1"), ErrMalformed},
		{"zero destination", &Report{Group: ip("ff0e::1")}, ip("fe80::1"), netip.Addr{}, ErrMalformed},
		{"bad message", &Report{}, ip("fe80::1"), ip("ff02::2"), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := MarshalWithChecksum(tt.m, tt.src, tt.dst)
			if !errors.Is(err, tt.want) {
				t.Fatalf("MarshalWithChecksum = %x, %v; want error %v", b, err, tt.want)
			}
			if err != nil {
				return
			}
			if got := refChecksum(tt.src, tt.dst, b); got != 0 {
				t.Errorf("reference checksum over %x = 0x%04x, want 0", b, got)
			}
		})
	}
}
