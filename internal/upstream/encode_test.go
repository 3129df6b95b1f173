package upstream

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"unsafe"
)

var layouts = []struct {
	name string
	abi  abi
}{
	{"le32", abi{binary.LittleEndian, 4}},
	{"le64", abi{binary.LittleEndian, 8}},
	{"be32", abi{binary.BigEndian, 4}}, // mips, the OpenWrt case
	{"be64", abi{binary.BigEndian, 8}},
}

// field is a run of expected bytes at an offset; everything else is zero.
type field struct {
	off int
	b   []byte
}

func build(size int, fs ...field) []byte {
	b := make([]byte, size)
	for _, f := range fs {
		copy(b[f.off:], f.b)
	}
	return b
}

func u16(o binary.ByteOrder, v uint16) []byte {
	b := make([]byte, 2)
	o.PutUint16(b, v)
	return b
}

func u32(o binary.ByteOrder, v uint32) []byte {
	b := make([]byte, 4)
	o.PutUint32(b, v)
	return b
}

// sockaddr returns the fields of a sockaddr_in or sockaddr_in6 at off:
// family in host order, port zero, then the address (sin_addr at 4,
// sin6_addr at 8).
func sockaddr(o binary.ByteOrder, off int, a netip.Addr) []field {
	if a.Is4() {
		return []field{{off, u16(o, 2)}, {off + 4, a.AsSlice()}}
	}
	return []field{{off, u16(o, 10)}, {off + 8, a.AsSlice()}}
}

func TestEncodeGroupReq(t *testing.T) {
	for _, l := range layouts {
		for _, g := range []string{"239.1.2.3", "ff0e::1234"} {
			t.Run(l.name+"/"+g, func(t *testing.T) {
				o, grp := l.abi.order, netip.MustParseAddr(g)
				size, goff := 132, 4
				if l.abi.word == 8 {
					size, goff = 136, 8
				}
				want := build(size, append([]field{{0, u32(o, 7)}}, sockaddr(o, goff, grp)...)...)
				if got := l.abi.groupReq(dirty(), 7, grp); !bytes.Equal(got, want) {
					t.Errorf("group_req\n got % x\nwant % x", got, want)
				}
			})
		}
	}
}

func TestEncodeGroupSourceReq(t *testing.T) {
	for _, l := range layouts {
		for _, c := range [][2]string{{"232.1.1.1", "192.0.2.9"}, {"ff3e::8000:1", "2001:db8::9"}} {
			t.Run(l.name+"/"+c[0], func(t *testing.T) {
				o, grp, src := l.abi.order, netip.MustParseAddr(c[0]), netip.MustParseAddr(c[1])
				size, goff := 260, 4
				if l.abi.word == 8 {
					size, goff = 264, 8
				}
				fs := []field{{0, u32(o, 0x01020304)}}
				fs = append(fs, sockaddr(o, goff, grp)...)
				fs = append(fs, sockaddr(o, goff+128, src)...)
				if got := l.abi.groupSourceReq(dirty(), 0x01020304, grp, src); !bytes.Equal(got, build(size, fs...)) {
					t.Errorf("group_source_req\n got % x\nwant % x", got, build(size, fs...))
				}
			})
		}
	}
}

func TestEncodeGroupFilter(t *testing.T) {
	s4 := []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("198.51.100.2")}
	s6 := []netip.Addr{netip.MustParseAddr("2001:db8::1")}
	cases := []struct {
		name    string
		group   string
		mode    Mode
		fmode   uint32
		sources []netip.Addr
	}{
		{"v4 include two", "232.1.1.1", Include, 1, s4},
		{"v4 exclude none", "239.0.0.1", Exclude, 0, nil},
		{"v4 exclude two", "239.0.0.1", Exclude, 0, s4},
		{"v6 include one", "ff3e::1", Include, 1, s6},
		{"v6 exclude none", "ff0e::1", Exclude, 0, nil},
	}
	for _, l := range layouts {
		for _, c := range cases {
			t.Run(l.name+"/"+c.name, func(t *testing.T) {
				o, grp := l.abi.order, netip.MustParseAddr(c.group)
				// GROUP_FILTER_SIZE(0): 140 on 32-bit, 144 on 64-bit;
				// gf_fmode and gf_numsrc follow gf_group.
				hdr, goff := 140, 4
				if l.abi.word == 8 {
					hdr, goff = 144, 8
				}
				fs := []field{{0, u32(o, 5)}, {goff + 128, u32(o, c.fmode)}, {goff + 132, u32(o, uint32(len(c.sources)))}}
				fs = append(fs, sockaddr(o, goff, grp)...)
				for i, s := range c.sources {
					fs = append(fs, sockaddr(o, hdr+128*i, s)...)
				}
				want := build(hdr+128*len(c.sources), fs...)
				if got := l.abi.groupFilter(dirty(), 5, grp, c.mode, c.sources); !bytes.Equal(got, want) {
					t.Errorf("group_filter\n got % x\nwant % x", got, want)
				}
			})
		}
	}
}

// TestEncodeNative checks that the layout chosen for this machine matches
// its pointer size and byte order (run it under qemu-mips too).
func TestEncodeNative(t *testing.T) {
	if w := int(unsafe.Sizeof(uintptr(0))); nativeABI.word != w {
		t.Errorf("native word %d, pointer size %d", nativeABI.word, w)
	}
	x := uint32(0x01020304)
	if got := nativeABI.order.Uint32(unsafe.Slice((*byte)(unsafe.Pointer(&x)), 4)); got != x {
		t.Errorf("native byte order %v does not match memory", nativeABI.order)
	}
}

// dirty is a buffer for the encoders to reuse, full of bytes they must
// overwrite or clear, and sometimes too small.
var dirtyCalls int

func dirty() []byte {
	dirtyCalls++
	if dirtyCalls%3 == 0 {
		return nil
	}
	return bytes.Repeat([]byte{0xa5}, 64+dirtyCalls%2*4096)
}
