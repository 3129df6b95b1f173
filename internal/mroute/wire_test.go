package mroute

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"

	"github.com/mcast-proxy/mcast-proxy/internal/igmp"
)

var byteOrders = []struct {
	name  string
	order binary.ByteOrder
}{
	{"little", binary.LittleEndian},
	{"big", binary.BigEndian},
}

func TestEncodeVIFCtl(t *testing.T) {
	want := map[string][]byte{
		"little": {
			0x03, 0x00, // vifi 3
			0x08,                   // VIFF_USE_IFINDEX
			0x01,                   // threshold 1
			0x00, 0x00, 0x00, 0x00, // rate_limit
			0x02, 0x01, 0x00, 0x00, // lcl_ifindex 258
			0x00, 0x00, 0x00, 0x00, // rmt_addr
		},
		"big": {
			0x00, 0x03,
			0x08,
			0x01,
			0x00, 0x00, 0x00, 0x00,
			0x00, 0x00, 0x01, 0x02,
			0x00, 0x00, 0x00, 0x00,
		},
	}
	for _, bo := range byteOrders {
		t.Run(bo.name, func(t *testing.T) {
			got := encodeVIFCtl(bo.order, 3, 1, 258)
			if !bytes.Equal(got, want[bo.name]) {
				t.Errorf("vifctl\n got % x\nwant % x", got, want[bo.name])
			}
		})
	}
}

func TestEncodeMFCCtl(t *testing.T) {
	var ttls [MaxVIFs]uint8
	ttls[1] = 1
	ttls[5] = 3
	ttls[31] = 1
	tail := []byte{
		// ttls[0..31]
		0, 1, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
		0, 0, // padding
		0, 0, 0, 0, // pkt_cnt
		0, 0, 0, 0, // byte_cnt
		0, 0, 0, 0, // wrong_if
		0, 0, 0, 0, // expire
	}
	head := []byte{
		192, 0, 2, 1, // origin
		239, 1, 2, 3, // mcastgrp
	}
	want := map[string][]byte{
		"little": append(append(append([]byte{}, head...), 0x02, 0x00), tail...),
		"big":    append(append(append([]byte{}, head...), 0x00, 0x02), tail...),
	}
	for _, bo := range byteOrders {
		t.Run(bo.name, func(t *testing.T) {
			got := encodeMFCCtl(nil, bo.order, netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("239.1.2.3"), 2, &ttls)
			if len(got) != sizeofMFCCtl {
				t.Fatalf("mfcctl is %d bytes, want %d", len(got), sizeofMFCCtl)
			}
			if !bytes.Equal(got, want[bo.name]) {
				t.Errorf("mfcctl\n got % x\nwant % x", got, want[bo.name])
			}
			// The socket reuses one buffer: what an earlier entry left
			// in it must not show through.
			reused := encodeMFCCtl(dirtyBuffer(), bo.order, netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("239.1.2.3"), 2, &ttls)
			if !bytes.Equal(reused, want[bo.name]) {
				t.Errorf("mfcctl in a used buffer\n got % x\nwant % x", reused, want[bo.name])
			}
		})
	}
}

// dirtyBuffer is a used buffer with room for any of the encodings.
func dirtyBuffer() []byte { return bytes.Repeat([]byte{0xff}, 256) }

func TestEncodeSGReq(t *testing.T) {
	src, grp := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("239.1.2.3")
	for _, tc := range []struct {
		wordSize int
		want     []byte
	}{
		{4, []byte{192, 0, 2, 1, 239, 1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
		{8, []byte{192, 0, 2, 1, 239, 1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
	} {
		if got := encodeSGReq(nil, src, grp, tc.wordSize); !bytes.Equal(got, tc.want) {
			t.Errorf("word size %d\n got % x\nwant % x", tc.wordSize, got, tc.want)
		}
		if got := encodeSGReq(dirtyBuffer(), src, grp, tc.wordSize); !bytes.Equal(got, tc.want) {
			t.Errorf("word size %d, in a used buffer\n got % x\nwant % x", tc.wordSize, got, tc.want)
		}
	}
}

func TestDecodeSGReq(t *testing.T) {
	addrs := []byte{192, 0, 2, 1, 239, 1, 2, 3}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	tests := []struct {
		name     string
		order    binary.ByteOrder
		wordSize int
		in       []byte
		want     Counters
	}{
		{"32-bit little", binary.LittleEndian, 4, cat(addrs,
			[]byte{0x04, 0x03, 0x02, 0x01},
			[]byte{0x08, 0x07, 0x06, 0x05},
			[]byte{0x03, 0x00, 0x00, 0x00},
		), Counters{Packets: 0x01020304, Bytes: 0x05060708, WrongIf: 3}},
		{"32-bit big", binary.BigEndian, 4, cat(addrs,
			[]byte{0x01, 0x02, 0x03, 0x04},
			[]byte{0x05, 0x06, 0x07, 0x08},
			[]byte{0x00, 0x00, 0x00, 0x03},
		), Counters{Packets: 0x01020304, Bytes: 0x05060708, WrongIf: 3}},
		{"64-bit little", binary.LittleEndian, 8, cat(addrs,
			[]byte{0x04, 0x03, 0x02, 0x01, 0, 0, 0, 0},
			[]byte{0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01},
			[]byte{0x03, 0, 0, 0, 0, 0, 0, 0},
		), Counters{Packets: 0x01020304, Bytes: 0x0102030405060708, WrongIf: 3}},
		{"64-bit big", binary.BigEndian, 8, cat(addrs,
			[]byte{0, 0, 0, 0, 0x01, 0x02, 0x03, 0x04},
			[]byte{0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08},
			[]byte{0, 0, 0, 0, 0, 0, 0, 0x03},
		), Counters{Packets: 0x01020304, Bytes: 0x0102030405060708, WrongIf: 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeSGReq(tc.order, tc.wordSize, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	t.Run("wrong length", func(t *testing.T) {
		if _, err := decodeSGReq(binary.LittleEndian, 8, make([]byte, 20)); err == nil {
			t.Error("20 bytes decoded as a 64-bit sioc_sg_req")
		}
		if _, err := decodeSGReq(binary.LittleEndian, 2, make([]byte, 14)); err == nil {
			t.Error("word size 2 accepted")
		}
	})
}

func TestDecodeUpcall(t *testing.T) {
	// A NOCACHE upcall as the kernel writes it over the IP header of
	// 192.0.2.2 -> 239.1.2.3, followed by the 8-byte igmphdr it appends.
	nocache := []byte{
		0x45, 0x00, 0x00, 0x1c, // version, ihl, tos, total length
		0x12, 0x34, 0x00, 0x00, // unused2 (id, fragment)
		0x01,       // msgtype NOCACHE (TTL byte)
		0x00,       // mbz (protocol byte)
		0x05, 0x00, // vif 5, vif_hi 0
		192, 0, 2, 2,
		239, 1, 2, 3,
		0x01, 0x00, 0x00, 0x00, 0, 0, 0, 0,
	}
	wrongvif := bytes.Clone(nocache[:20])
	wrongvif[8] = UpcallWrongVIF
	wrongvif[10] = 31 // the highest slot (MAXVIFS 32)
	// Before Linux 5.10 byte 11 is unused3: it keeps the low byte of the
	// original header's checksum, which is almost never zero.
	pre510 := bytes.Clone(nocache)
	pre510[10], pre510[11] = 0x03, 0xa7

	tests := []struct {
		name string
		in   []byte
		want Upcall
	}{
		{"nocache", nocache, Upcall{Type: UpcallNoCache, VIF: 5, Source: netip.MustParseAddr("192.0.2.2"), Group: netip.MustParseAddr("239.1.2.3")}},
		{"wrongvif highest vif", wrongvif, Upcall{Type: UpcallWrongVIF, VIF: 31, Source: netip.MustParseAddr("192.0.2.2"), Group: netip.MustParseAddr("239.1.2.3")}},
		{"kernel before 5.10: checksum byte in unused3", pre510, Upcall{Type: UpcallNoCache, VIF: 3, Source: netip.MustParseAddr("192.0.2.2"), Group: netip.MustParseAddr("239.1.2.3")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeUpcall(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}

	bad := map[string][]byte{
		"short":    nocache[:19],
		"mbz set":  func() []byte { b := bytes.Clone(nocache); b[9] = 2; return b }(),
		"type 0":   func() []byte { b := bytes.Clone(nocache); b[8] = 0; return b }(),
		"type 5":   func() []byte { b := bytes.Clone(nocache); b[8] = 5; return b }(),
		"vif 32":   func() []byte { b := bytes.Clone(nocache); b[10] = MaxVIFs; return b }(),
		"no bytes": nil,
	}
	for name, in := range bad {
		t.Run(name, func(t *testing.T) {
			if _, err := decodeUpcall(in); !errors.Is(err, ErrMalformed) {
				t.Errorf("err = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestDecodePktinfo(t *testing.T) {
	in := map[string][]byte{
		"little": {7, 0, 0, 0, 192, 0, 2, 1, 224, 0, 0, 22},
		"big":    {0, 0, 0, 7, 192, 0, 2, 1, 224, 0, 0, 22},
	}
	for _, bo := range byteOrders {
		t.Run(bo.name, func(t *testing.T) {
			got, err := decodePktinfo(bo.order, in[bo.name])
			if err != nil || got != 7 {
				t.Errorf("got %d, %v; want 7", got, err)
			}
		})
	}
	if _, err := decodePktinfo(binary.LittleEndian, make([]byte, 11)); err == nil {
		t.Error("11-byte in_pktinfo accepted")
	}
}

// An IGMPv2 general query (RFC 2236 §2): type 0x11, max resp 10 s, checksum.
var v2Query = []byte{0x11, 0x64, 0xee, 0x9b, 0, 0, 0, 0}

func TestEncodeIGMPPacket(t *testing.T) {
	tests := []struct {
		name string
		src  netip.Addr
		want []byte
	}{
		{"with source", netip.MustParseAddr("192.0.2.1"), []byte{
			0x46, 0xc0, 0x00, 0x20, // version 4, IHL 6, TOS 0xc0, total 32
			0x00, 0x00, 0x00, 0x00, // id picked by the kernel, no fragmentation
			0x01, 0x02, 0x82, 0x15, // TTL 1, IGMP, checksum
			192, 0, 2, 1,
			224, 0, 0, 1,
			0x94, 0x04, 0x00, 0x00, // Router Alert
			0x11, 0x64, 0xee, 0x9b, 0, 0, 0, 0,
		}},
		{"kernel fills source", netip.Addr{}, []byte{
			0x46, 0xc0, 0x00, 0x20,
			0x00, 0x00, 0x00, 0x00,
			0x01, 0x02, 0x44, 0x17,
			0, 0, 0, 0,
			224, 0, 0, 1,
			0x94, 0x04, 0x00, 0x00,
			0x11, 0x64, 0xee, 0x9b, 0, 0, 0, 0,
		}},
		{"unspecified source", netip.IPv4Unspecified(), []byte{
			0x46, 0xc0, 0x00, 0x20,
			0x00, 0x00, 0x00, 0x00,
			0x01, 0x02, 0x44, 0x17,
			0, 0, 0, 0,
			224, 0, 0, 1,
			0x94, 0x04, 0x00, 0x00,
			0x11, 0x64, 0xee, 0x9b, 0, 0, 0, 0,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := buildIGMPPacket(tc.src, netip.MustParseAddr("224.0.0.1"), v2Query)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Errorf("packet\n got % x\nwant % x", got, tc.want)
			}
		})
	}
	for name, addrs := range map[string][2]netip.Addr{
		"ipv6 destination": {{}, netip.MustParseAddr("ff02::1")},
		"ipv6 source":      {netip.MustParseAddr("fe80::1"), netip.MustParseAddr("224.0.0.1")},
		"no destination":   {{}, {}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := buildIGMPPacket(addrs[0], addrs[1], v2Query); err == nil {
				t.Error("built")
			}
		})
	}
}

// withChecksum returns hdr+payload with the header checksum recomputed.
func withChecksum(hdr, payload []byte) []byte {
	b := append(bytes.Clone(hdr), payload...)
	b[10], b[11] = 0, 0
	binary.BigEndian.PutUint16(b[10:], igmp.Checksum(b[:int(b[0]&0xf)*4]))
	return b
}

func TestDecodeIPv4Header(t *testing.T) {
	// An IGMPv3 report as a Linux host sends it: 192.0.2.2 -> 224.0.0.22.
	report := []byte{0x22, 0x00, 0xf9, 0xfb, 0x00, 0x00, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 239, 1, 2, 3}
	withRA := []byte{
		0x46, 0xc0, 0x00, 0x28, 0x00, 0x00, 0x40, 0x00, 0x01, 0x02, 0, 0,
		192, 0, 2, 2, 224, 0, 0, 22, 0x94, 0x04, 0x00, 0x00,
	}
	noOpts := []byte{
		0x45, 0x00, 0x00, 0x1c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0, 0,
		192, 0, 2, 2, 239, 1, 2, 3,
	}
	nopThenRA := []byte{
		0x47, 0xc0, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0, 0,
		192, 0, 2, 2, 224, 0, 0, 22, 0x01, 0x94, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00,
	}
	eolHidesRA := []byte{
		0x47, 0xc0, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0, 0,
		192, 0, 2, 2, 224, 0, 0, 22, 0x00, 0x94, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00,
	}
	good := []struct {
		name    string
		in      []byte
		ra      bool
		hdrLen  int
		payload []byte
	}{
		{"router alert", withChecksum(withRA, report), true, 24, report},
		{"no options", withChecksum(noOpts, v2Query), false, 20, v2Query},
		{"nop then router alert", withChecksum(nopThenRA, report), true, 28, report},
		{"end of options first", withChecksum(eolHidesRA, report), false, 28, report},
		{"trailing bytes beyond total length", append(withChecksum(withRA, report), 0xde, 0xad), true, 24, report},
	}
	for _, tc := range good {
		t.Run(tc.name, func(t *testing.T) {
			h, err := parseIPv4Header(tc.in, true)
			if err != nil {
				t.Fatal(err)
			}
			if h.routerAlert != tc.ra || h.headerLen != tc.hdrLen || h.ttl != 1 || h.protocol != ipProtoIGMP ||
				h.src != netip.MustParseAddr("192.0.2.2") {
				t.Errorf("got %+v", h)
			}
			if got := tc.in[h.headerLen:h.totalLen]; !bytes.Equal(got, tc.payload) {
				t.Errorf("payload % x, want % x", got, tc.payload)
			}
		})
	}

	corrupt := func(b []byte, i int, v byte) []byte { b = bytes.Clone(b); b[i] = v; return b }
	setOpts := func(b []byte, opts ...byte) []byte { b = bytes.Clone(b); copy(b[20:], opts); return b }
	valid := withChecksum(withRA, report)
	bad := map[string][]byte{
		"empty":                  nil,
		"short":                  valid[:19],
		"version 6":              withChecksum(corrupt(withRA, 0, 0x66), report),
		"ihl 4":                  withChecksum(corrupt(withRA, 0, 0x44), report),
		"ihl past the data":      corrupt(valid, 0, 0x4f),
		"total length too long":  withChecksum(corrupt(withRA, 3, 0x40), report),
		"total below header":     withChecksum(corrupt(withRA, 3, 0x10), report),
		"bad checksum":           corrupt(valid, 11, valid[11]^0xff),
		"option length 1":        withChecksum(corrupt(withRA, 21, 1), report),
		"option past header":     withChecksum(corrupt(withRA, 21, 6), report),
		"router alert length 3":  withChecksum(corrupt(corrupt(withRA, 21, 3), 23, 1), report),
		"option without length":  withChecksum(setOpts(withRA, 1, 1, 1, 0x94), report),
		"router alert truncated": withChecksum(setOpts(nopThenRA, 1, 1, 1, 1, 1, 1, 0x94, 4), report),
	}
	for name, in := range bad {
		t.Run(name, func(t *testing.T) {
			if h, err := parseIPv4Header(in, true); !errors.Is(err, ErrMalformed) {
				t.Errorf("got %+v, %v; want ErrMalformed", h, err)
			}
		})
	}
	t.Run("checksum not verified for upcalls", func(t *testing.T) {
		if _, err := parseIPv4Header(corrupt(valid, 11, valid[11]^0xff), false); err != nil {
			t.Error(err)
		}
	})
}

func TestDecodeIGMPPacketRoundTrip(t *testing.T) {
	src, dst := netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("224.0.0.1")
	b, err := buildIGMPPacket(src, dst, v2Query)
	if err != nil {
		t.Fatal(err)
	}
	h, err := parseIPv4Header(b, true)
	if err != nil {
		t.Fatal(err)
	}
	if h.src != src || h.dst != dst || h.ttl != 1 || !h.routerAlert || !bytes.Equal(b[h.headerLen:h.totalLen], v2Query) {
		t.Errorf("round trip gave %+v", h)
	}
}

func FuzzParseIPv4Header(f *testing.F) {
	b, err := buildIGMPPacket(netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("224.0.0.1"), v2Query)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(b[:20])
	f.Fuzz(func(t *testing.T, in []byte) {
		h, err := parseIPv4Header(in, true)
		if err != nil {
			return
		}
		if h.totalLen-h.headerLen > 0xffff-igmpHeaderLen {
			return // too long to carry behind our longer header
		}
		// Whatever parses must survive being rebuilt and parsed again.
		out, err := buildIGMPPacket(h.src, h.dst, in[h.headerLen:h.totalLen])
		if err != nil {
			t.Fatal(err)
		}
		h2, err := parseIPv4Header(out, true)
		if err != nil {
			t.Fatal(err)
		}
		if h2.src != h.src || h2.dst != h.dst || !bytes.Equal(out[h2.headerLen:h2.totalLen], in[h.headerLen:h.totalLen]) {
			t.Fatalf("round trip changed %+v into %+v", h, h2)
		}
	})
}
