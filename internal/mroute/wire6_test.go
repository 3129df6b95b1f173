package mroute

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
)

func TestEncodeMIF6Ctl(t *testing.T) {
	want := map[string][]byte{
		"little": {
			0x05, 0x00, // mifi 5
			0x00,       // flags: not the register MIF
			0x01,       // threshold 1
			0x02, 0x01, // pifi 258
			0x00, 0x00, // padding
			0x00, 0x00, 0x00, 0x00, // rate_limit
		},
		"big": {
			0x00, 0x05,
			0x00,
			0x01,
			0x01, 0x02,
			0x00, 0x00,
			0x00, 0x00, 0x00, 0x00,
		},
	}
	for _, bo := range byteOrders {
		t.Run(bo.name, func(t *testing.T) {
			got := encodeMIF6Ctl(bo.order, 5, 1, 258)
			if !bytes.Equal(got, want[bo.name]) {
				t.Errorf("mif6ctl\n got % x\nwant % x", got, want[bo.name])
			}
		})
	}
}

// sockaddrIn6 spells out a struct sockaddr_in6 with only family and address.
func sockaddrIn6(family []byte, addr string) []byte {
	a := netip.MustParseAddr(addr).As16()
	b := append([]byte{}, family...)
	b = append(b, 0, 0) // port
	b = append(b, 0, 0, 0, 0)
	b = append(b, a[:]...)
	return append(b, 0, 0, 0, 0) // scope id
}

func TestEncodeMF6CCtl(t *testing.T) {
	src, grp := "2001:db8::1", "ff3e::1:2"
	// MIFs 0, 1, 9 and 31 set: word 0 = 0x80000203.
	mifs := []int{0, 1, 9, 31}
	ifSetTail := make([]byte, 7*4) // words 1-7 unused with 32 MIFs
	want := map[string][]byte{
		"little": bytes.Join([][]byte{
			sockaddrIn6([]byte{0x0a, 0x00}, src),
			sockaddrIn6([]byte{0x0a, 0x00}, grp),
			{0x03, 0x00},             // parent 3
			{0x00, 0x00},             // padding
			{0x03, 0x02, 0x00, 0x80}, // if_set word 0
			ifSetTail,
		}, nil),
		// Big-endian MIPS: MIF 0 is the low bit of the last byte of word 0.
		"big": bytes.Join([][]byte{
			sockaddrIn6([]byte{0x00, 0x0a}, src),
			sockaddrIn6([]byte{0x00, 0x0a}, grp),
			{0x00, 0x03},
			{0x00, 0x00},
			{0x80, 0x00, 0x02, 0x03},
			ifSetTail,
		}, nil),
	}
	for _, bo := range byteOrders {
		t.Run(bo.name, func(t *testing.T) {
			got, err := encodeMF6CCtl(nil, bo.order, netip.MustParseAddr(src), netip.MustParseAddr(grp), 3, mifs)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != sizeofMF6CCtl {
				t.Fatalf("mf6cctl is %d bytes, want %d", len(got), sizeofMF6CCtl)
			}
			if !bytes.Equal(got, want[bo.name]) {
				t.Errorf("mf6cctl\n got % x\nwant % x", got, want[bo.name])
			}
			reused, err := encodeMF6CCtl(dirtyBuffer(), bo.order, netip.MustParseAddr(src), netip.MustParseAddr(grp), 3, mifs)
			if err != nil || !bytes.Equal(reused, want[bo.name]) {
				t.Errorf("mf6cctl in a used buffer\n got % x, %v\nwant % x", reused, err, want[bo.name])
			}
		})
	}
	t.Run("high word", func(t *testing.T) {
		got, err := encodeMF6CCtl(nil, byteOrders[1].order, netip.MustParseAddr(src), netip.MustParseAddr(grp), 0, []int{32, 255})
		if err != nil {
			t.Fatal(err)
		}
		set := got[60:]
		wantSet := make([]byte, 32)
		wantSet[7] = 0x01  // MIF 32: bit 0 of word 1
		wantSet[28] = 0x80 // MIF 255: bit 31 of word 7
		if !bytes.Equal(set, wantSet) {
			t.Errorf("if_set\n got % x\nwant % x", set, wantSet)
		}
	})
	t.Run("mif outside if_set", func(t *testing.T) {
		for _, mif := range []int{-1, 256} {
			if _, err := encodeMF6CCtl(nil, byteOrders[0].order, netip.MustParseAddr(src), netip.MustParseAddr(grp), 0, []int{mif}); err == nil {
				t.Errorf("mif %d accepted", mif)
			}
		}
	})
}

func TestEncodeSGReq6(t *testing.T) {
	src, grp := "2001:db8::1", "ff3e::1:2"
	for _, bo := range byteOrders {
		for _, ws := range []int{4, 8} {
			got := encodeSGReq6(nil, bo.order, netip.MustParseAddr(src), netip.MustParseAddr(grp), ws)
			reused := encodeSGReq6(dirtyBuffer(), bo.order, netip.MustParseAddr(src), netip.MustParseAddr(grp), ws)
			fam := []byte{0x0a, 0x00}
			if bo.name == "big" {
				fam = []byte{0x00, 0x0a}
			}
			want := bytes.Join([][]byte{sockaddrIn6(fam, src), sockaddrIn6(fam, grp), make([]byte, 3*ws)}, nil)
			if !bytes.Equal(got, want) {
				t.Errorf("%s, %d-byte words:\n got % x\nwant % x", bo.name, ws, got, want)
			}
			if !bytes.Equal(reused, want) {
				t.Errorf("%s, %d-byte words, in a used buffer:\n got % x\nwant % x", bo.name, ws, reused, want)
			}
		}
	}
	if n := len(encodeSGReq6(nil, byteOrders[0].order, netip.IPv6Unspecified(), netip.IPv6Unspecified(), 8)); n != 80 {
		t.Errorf("64-bit sioc_sg_req6 is %d bytes, want 80", n)
	}
	if n := len(encodeSGReq6(nil, byteOrders[0].order, netip.IPv6Unspecified(), netip.IPv6Unspecified(), 4)); n != 68 {
		t.Errorf("32-bit sioc_sg_req6 is %d bytes, want 68", n)
	}
}

func TestDecodeSGReq6(t *testing.T) {
	head := make([]byte, 56) // the two sockaddr_in6, not read back
	tests := []struct {
		name     string
		order    int // index into byteOrders
		wordSize int
		counters []byte
		want     Counters
	}{
		{"little 64-bit", 0, 8, []byte{
			0x01, 0x02, 0, 0, 0, 0, 0, 0, // pktcnt 0x201
			0x00, 0x00, 0x00, 0x00, 0x01, 0, 0, 0, // bytecnt 0x100000000
			0x07, 0, 0, 0, 0, 0, 0, 0, // wrong_if 7
		}, Counters{Packets: 0x201, Bytes: 1 << 32, WrongIf: 7}},
		{"big 64-bit", 1, 8, []byte{
			0, 0, 0, 0, 0, 0, 0x02, 0x01,
			0, 0, 0, 0x01, 0x00, 0x00, 0x00, 0x00,
			0, 0, 0, 0, 0, 0, 0, 0x07,
		}, Counters{Packets: 0x201, Bytes: 1 << 32, WrongIf: 7}},
		{"little 32-bit", 0, 4, []byte{
			0x01, 0x02, 0, 0,
			0xff, 0xff, 0xff, 0xff,
			0x07, 0, 0, 0,
		}, Counters{Packets: 0x201, Bytes: 0xffffffff, WrongIf: 7}},
		{"big 32-bit (mips)", 1, 4, []byte{
			0, 0, 0x02, 0x01,
			0xff, 0xff, 0xff, 0xff,
			0, 0, 0, 0x07,
		}, Counters{Packets: 0x201, Bytes: 0xffffffff, WrongIf: 7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := append(append([]byte{}, head...), tt.counters...)
			got, err := decodeSGReq6(byteOrders[tt.order].order, tt.wordSize, b)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	t.Run("wrong size", func(t *testing.T) {
		if _, err := decodeSGReq6(byteOrders[0].order, 8, make([]byte, 68)); err == nil {
			t.Error("68 bytes accepted as a 64-bit sioc_sg_req6")
		}
		if _, err := decodeSGReq6(byteOrders[0].order, 2, make([]byte, 62)); err == nil {
			t.Error("word size 2 accepted")
		}
	})
}

func TestDecodeUpcall6(t *testing.T) {
	src := netip.MustParseAddr("2001:db8:a::2")
	grp := netip.MustParseAddr("ff3e::1:2")
	msg := func(mbz, typ byte, mif []byte) []byte {
		s, g := src.As16(), grp.As16()
		b := []byte{mbz, typ}
		b = append(b, mif...)
		b = append(b, 0, 0, 0, 0) // im6_pad
		b = append(b, s[:]...)
		return append(b, g[:]...)
	}
	tests := []struct {
		name  string
		order int
		b     []byte
		want  Upcall
		err   bool
	}{
		{"nocache little", 0, msg(0, 1, []byte{0x03, 0x00}), Upcall{Type: UpcallNoCache, VIF: 3, Source: src, Group: grp}, false},
		{"nocache big", 1, msg(0, 1, []byte{0x00, 0x03}), Upcall{Type: UpcallNoCache, VIF: 3, Source: src, Group: grp}, false},
		{"wrongmif", 0, msg(0, 2, []byte{0x1f, 0x00}), Upcall{Type: UpcallWrongVIF, VIF: 31, Source: src, Group: grp}, false},
		{"wholepkt with packet after", 0, append(msg(0, 3, []byte{0, 0}), 0x60, 0, 0, 0), Upcall{Type: UpcallWholePkt, VIF: 0, Source: src, Group: grp}, false},
		{"mld query is not an upcall", 0, msg(130, 0, []byte{0, 0}), Upcall{}, true},
		{"type 0", 0, msg(0, 0, []byte{0, 0}), Upcall{}, true},
		{"type 5", 0, msg(0, 5, []byte{0, 0}), Upcall{}, true},
		{"short", 0, msg(0, 1, []byte{0, 0})[:39], Upcall{}, true},
		{"empty", 0, nil, Upcall{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeUpcall6(byteOrders[tt.order].order, tt.b)
			if tt.err {
				if !errors.Is(err, ErrMalformed) {
					t.Errorf("err = %v, want ErrMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestEncodeICMP6Filter(t *testing.T) {
	// Everything blocked but 130, 131, 132 (word 4, bits 2-4) and 143 (word
	// 4, bit 15): word 4 = 0xffff7fe3.
	word4 := map[string][]byte{
		"little": {0xe3, 0x7f, 0xff, 0xff},
		"big":    {0xff, 0xff, 0x7f, 0xe3},
	}
	for _, bo := range byteOrders {
		t.Run(bo.name, func(t *testing.T) {
			want := bytes.Repeat([]byte{0xff}, 32)
			copy(want[16:20], word4[bo.name])
			got := encodeICMP6Filter(bo.order, mldTypes)
			if !bytes.Equal(got, want) {
				t.Errorf("icmp6_filter\n got % x\nwant % x", got, want)
			}
		})
	}
	t.Run("type 0 and 255", func(t *testing.T) {
		got := encodeICMP6Filter(byteOrders[1].order, []uint8{0, 255})
		want := bytes.Repeat([]byte{0xff}, 32)
		want[3] = 0xfe  // type 0: bit 0 of word 0
		want[28] = 0x7f // type 255: bit 31 of word 7
		if !bytes.Equal(got, want) {
			t.Errorf("icmp6_filter\n got % x\nwant % x", got, want)
		}
	})
}

func TestEncodeHopByHopRouterAlert(t *testing.T) {
	want := []byte{
		0x00,                   // next header, filled in by the kernel
		0x00,                   // length: 8 bytes
		0x05, 0x02, 0x00, 0x00, // Router Alert, value 0 (MLD)
		0x01, 0x00, // PadN, no data
	}
	if !bytes.Equal(routerAlertHopByHop[:], want) {
		t.Errorf("hop-by-hop\n got % x\nwant % x", routerAlertHopByHop[:], want)
	}
	ra, err := scanHopByHop(routerAlertHopByHop[:])
	if err != nil || !ra {
		t.Errorf("our own header scans as router alert %v, %v", ra, err)
	}
}

func TestDecodeHopByHop(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
		ra   bool
		err  bool
	}{
		{"router alert then padn", []byte{58, 0, 5, 2, 0, 0, 1, 0}, true, false},
		{"padn then router alert", []byte{58, 0, 1, 0, 5, 2, 0, 0}, true, false},
		{"pad1s then router alert", []byte{58, 0, 0, 0, 5, 2, 0, 0}, true, false},
		{"padn only", []byte{58, 0, 1, 4, 0, 0, 0, 0}, false, false},
		{"router alert in the second 8 bytes", []byte{58, 1, 1, 4, 0, 0, 0, 0, 1, 2, 0, 0, 5, 2, 0, 1}, true, false},
		{"unknown option skipped", []byte{58, 0, 0x3e, 2, 9, 9, 0, 0}, false, false},
		{"router alert with length 3", []byte{58, 0, 5, 3, 0, 0, 0, 0}, false, true},
		{"option past the header", []byte{58, 0, 1, 5, 0, 0, 0, 0}, false, true},
		{"option without length", []byte{58, 0, 0, 0, 0, 0, 0, 1}, false, true},
		{"length past the data", []byte{58, 1, 5, 2, 0, 0, 1, 0}, false, true},
		{"short", []byte{58, 0, 5, 2, 0, 0}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ra, err := scanHopByHop(tt.b)
			if (err != nil) != tt.err {
				t.Fatalf("err = %v, want error %v", err, tt.err)
			}
			if ra != tt.ra {
				t.Errorf("router alert = %v, want %v", ra, tt.ra)
			}
		})
	}
}

func TestDecodePktinfo6(t *testing.T) {
	dst := netip.MustParseAddr("ff02::16")
	a := dst.As16()
	want := map[string][]byte{
		"little": append(a[:], 0x02, 0x01, 0x00, 0x00),
		"big":    append(a[:], 0x00, 0x00, 0x01, 0x02),
	}
	for _, bo := range byteOrders {
		t.Run(bo.name, func(t *testing.T) {
			gotDst, ifindex, err := decodePktinfo6(bo.order, want[bo.name])
			if err != nil {
				t.Fatal(err)
			}
			if gotDst != dst || ifindex != 258 {
				t.Errorf("got %s on %d, want %s on 258", gotDst, ifindex, dst)
			}
		})
	}
	if _, _, err := decodePktinfo6(byteOrders[0].order, make([]byte, 19)); err == nil {
		t.Error("19-byte in6_pktinfo accepted")
	}
}

func TestDecodeHopLimit(t *testing.T) {
	tests := []struct {
		name  string
		order int
		b     []byte
		want  int
		err   bool
	}{
		{"little 1", 0, []byte{1, 0, 0, 0}, 1, false},
		{"big 255", 1, []byte{0, 0, 0, 255}, 255, false},
		{"negative", 0, []byte{0xff, 0xff, 0xff, 0xff}, 0, true},
		{"above 255", 1, []byte{0, 0, 1, 0}, 0, true},
		{"short", 0, []byte{1, 0}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeHopLimit(byteOrders[tt.order].order, tt.b)
			if (err != nil) != tt.err {
				t.Fatalf("err = %v, want error %v", err, tt.err)
			}
			if got != tt.want {
				t.Errorf("hop limit = %d, want %d", got, tt.want)
			}
		})
	}
}

func FuzzScanHopByHop(f *testing.F) {
	f.Add(routerAlertHopByHop[:])
	f.Add([]byte{58, 1, 1, 4, 0, 0, 0, 0, 1, 2, 0, 0, 5, 2, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		ra, err := scanHopByHop(b)
		if err != nil && ra {
			t.Error("router alert reported with an error")
		}
	})
}
