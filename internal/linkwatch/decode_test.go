package linkwatch

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"slices"
	"testing"
)

// byteOrder reads and appends: the tests build messages in the order they parse.
type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

var orders = []struct {
	name  string
	order byteOrder
}{
	{"little-endian", binary.LittleEndian},
	{"big-endian", binary.BigEndian},
}

// attr builds one rtattr with its padding.
func attr(o byteOrder, typ uint16, val []byte) []byte {
	b := o.AppendUint16(nil, uint16(rtattrHdrLen+len(val)))
	b = o.AppendUint16(b, typ)
	b = append(b, val...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// msg builds one netlink message around payload, padded as the kernel pads
// messages inside a datagram; the length field excludes the padding.
func msg(o byteOrder, typ, flags uint16, seq uint32, payload ...[]byte) []byte {
	body := slices.Concat(payload...)
	b := o.AppendUint32(nil, uint32(nlmsgHdrLen+len(body)))
	b = o.AppendUint16(b, typ)
	b = o.AppendUint16(b, flags)
	b = o.AppendUint32(b, seq)
	b = o.AppendUint32(b, 4242) // the requester's port, as the kernel fills it in
	b = append(b, body...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// ifinfomsg: family, pad, type u16, index i32, flags u32, change u32.
func ifinfo(o byteOrder, index int32, flags uint32) []byte {
	b := []byte{0, 0}
	b = o.AppendUint16(b, 1) // ARPHRD_ETHER
	b = o.AppendUint32(b, uint32(index))
	b = o.AppendUint32(b, flags)
	return o.AppendUint32(b, 0)
}

// ifaddrmsg: family, prefixlen, flags, scope, index u32.
func ifaddr(o byteOrder, family, bits byte, index uint32) []byte {
	return o.AppendUint32([]byte{family, bits, 0x80, 0}, index)
}

func linkMsg(o byteOrder, index int32, flags uint32, name string) []byte {
	return msg(o, rtmNewLink, 2, 1, ifinfo(o, index, flags),
		attr(o, iflaIfname, append([]byte(name), 0)),
		attr(o, 4, o.AppendUint32(nil, 1500)), // IFLA_MTU, ignored
	)
}

func TestDecodeLink(t *testing.T) {
	for _, bo := range orders {
		t.Run(bo.name, func(t *testing.T) {
			o := bo.order
			tests := []struct {
				name    string
				data    []byte
				want    rawLink
				wantErr bool
			}{
				{
					name: "name and flags",
					data: slices.Concat(ifinfo(o, 7, 0x11043), attr(o, iflaIfname, []byte("pppoe-wan\x00"))),
					want: rawLink{index: 7, name: "pppoe-wan", flags: 0x11043},
				},
				{
					name: "unknown and nested attributes skipped",
					data: slices.Concat(ifinfo(o, 2, 1),
						attr(o, 0x8000|18, attr(o, 1, []byte("veth"))), // IFLA_LINKINFO, nested
						attr(o, iflaIfname, []byte("eth0\x00")),
						attr(o, 16, []byte{6})), // IFLA_OPERSTATE
					want: rawLink{index: 2, name: "eth0", flags: 1},
				},
				{name: "short header", data: ifinfo(o, 1, 0)[:15], wantErr: true},
				{name: "no name", data: ifinfo(o, 1, 0), wantErr: true},
				{name: "no index", data: slices.Concat(ifinfo(o, 0, 0), attr(o, iflaIfname, []byte("x\x00"))), wantErr: true},
				{
					name:    "attribute longer than message",
					data:    slices.Concat(ifinfo(o, 1, 0), attr(o, iflaIfname, []byte("eth0\x00"))[:8]),
					wantErr: true,
				},
				{
					name:    "attribute length below header",
					data:    slices.Concat(ifinfo(o, 1, 0), o.AppendUint16(nil, 2), o.AppendUint16(nil, iflaIfname)),
					wantErr: true,
				},
				{name: "trailing bytes", data: slices.Concat(ifinfo(o, 1, 0), []byte{1, 2}), wantErr: true},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					got, err := decodeLink(tt.data, o)
					if tt.wantErr {
						if !errors.Is(err, errMalformed) {
							t.Fatalf("decodeLink = %+v, %v; want errMalformed", got, err)
						}
						return
					}
					if err != nil || got != tt.want {
						t.Fatalf("decodeLink = %+v, %v; want %+v", got, err, tt.want)
					}
				})
			}
		})
	}
}

func TestDecodeAddr(t *testing.T) {
	v4 := []byte{192, 0, 2, 1}
	peer := []byte{192, 0, 2, 99}
	v6 := netip.MustParseAddr("fe80::1").AsSlice()
	for _, bo := range orders {
		t.Run(bo.name, func(t *testing.T) {
			o := bo.order
			tests := []struct {
				name    string
				data    []byte
				want    rawAddr
				wantOK  bool
				wantErr bool
			}{
				{
					name:   "ipv4 local and address",
					data:   slices.Concat(ifaddr(o, afInet, 24, 3), attr(o, ifaAddress, v4), attr(o, ifaLocal, v4), attr(o, 3, []byte("eth0\x00"))),
					want:   rawAddr{index: 3, prefix: netip.MustParsePrefix("192.0.2.1/24")},
					wantOK: true,
				},
				{
					name:   "ipv4 point-to-point: local wins over the peer",
					data:   slices.Concat(ifaddr(o, afInet, 32, 9), attr(o, ifaAddress, peer), attr(o, ifaLocal, v4)),
					want:   rawAddr{index: 9, prefix: netip.MustParsePrefix("192.0.2.1/32")},
					wantOK: true,
				},
				{
					name:   "ipv6 address only",
					data:   slices.Concat(ifaddr(o, afInet6, 64, 0x01020304), attr(o, ifaAddress, v6), attr(o, 8, make([]byte, 4))),
					want:   rawAddr{index: 0x01020304, prefix: netip.MustParsePrefix("fe80::1/64")},
					wantOK: true,
				},
				{name: "other family", data: slices.Concat(ifaddr(o, 17, 0, 1), attr(o, ifaAddress, []byte{1})), wantOK: false},
				{name: "short header", data: ifaddr(o, afInet, 24, 3)[:7], wantErr: true},
				{name: "no address", data: ifaddr(o, afInet, 24, 3), wantErr: true},
				{name: "ipv4 family, ipv6 length", data: slices.Concat(ifaddr(o, afInet, 24, 3), attr(o, ifaLocal, v6)), wantErr: true},
				{name: "prefix too long", data: slices.Concat(ifaddr(o, afInet, 33, 3), attr(o, ifaLocal, v4)), wantErr: true},
				{name: "truncated attribute", data: slices.Concat(ifaddr(o, afInet6, 64, 3), attr(o, ifaAddress, v6)[:10]), wantErr: true},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					got, ok, err := decodeAddr(tt.data, o)
					if tt.wantErr {
						if !errors.Is(err, errMalformed) {
							t.Fatalf("decodeAddr = %+v, %v, %v; want errMalformed", got, ok, err)
						}
						return
					}
					if err != nil || ok != tt.wantOK || got != tt.want {
						t.Fatalf("decodeAddr = %+v, %v, %v; want %+v, %v", got, ok, err, tt.want, tt.wantOK)
					}
				})
			}
		})
	}
}

func TestDecodeMessages(t *testing.T) {
	for _, bo := range orders {
		t.Run(bo.name, func(t *testing.T) {
			o := bo.order
			// An odd-length payload: the next message starts after padding.
			a := msg(o, 99, 0, 5, []byte{1, 2, 3})
			b := msg(o, 100, 0x10, 6)
			msgs, err := splitMessages(slices.Concat(a, b), o)
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs) != 2 || msgs[0].typ != 99 || !slices.Equal(msgs[0].data, []byte{1, 2, 3}) ||
				msgs[1].typ != 100 || msgs[1].flags != 0x10 || msgs[1].seq != 6 || msgs[1].pid != 4242 {
				t.Fatalf("splitMessages = %+v", msgs)
			}
			// Unpadded last message.
			if msgs, err := splitMessages(a[:len(a)-1], o); err != nil || len(msgs) != 1 || len(msgs[0].data) != 3 {
				t.Errorf("unpadded last message: %+v, %v", msgs, err)
			}
			for name, bad := range map[string][]byte{
				"short header":     a[:15],
				"length too small": slices.Concat(o.AppendUint32(nil, 8), a[4:]),
				"length too large": slices.Concat(o.AppendUint32(nil, 64), a[4:]),
			} {
				if _, err := splitMessages(bad, o); !errors.Is(err, errMalformed) {
					t.Errorf("%s: err %v, want errMalformed", name, err)
				}
			}
		})
	}
}

func TestDecodeDump(t *testing.T) {
	for _, bo := range orders {
		t.Run(bo.name, func(t *testing.T) {
			o := bo.order
			done := msg(o, nlmsgDone, 2, 7, o.AppendUint32(nil, 0))
			tests := []struct {
				name     string
				grams    [][]byte
				wantMsgs int
				wantErr  error
			}{
				{
					name:     "two datagrams",
					grams:    [][]byte{msg(o, rtmNewLink, 2, 7, []byte{1}), slices.Concat(msg(o, rtmNewLink, 2, 7, []byte{2}), done)},
					wantMsgs: 2,
				},
				{
					name:     "stale reply skipped",
					grams:    [][]byte{slices.Concat(msg(o, rtmNewLink, 2, 6, []byte{1}), msg(o, nlmsgDone, 2, 6), done)},
					wantMsgs: 0,
				},
				{
					name:    "interrupted",
					grams:   [][]byte{msg(o, rtmNewLink, 2|nlmFDumpIntr, 7, []byte{1})},
					wantErr: errDumpInterrupted,
				},
				{
					name:    "error reply",
					grams:   [][]byte{msg(o, nlmsgError, 0, 7, o.AppendUint32(nil, uint32(0xffffffff-11)), make([]byte, 16))},
					wantErr: errnoError(12),
				},
				{
					name:    "short error reply",
					grams:   [][]byte{msg(o, nlmsgError, 0, 7, []byte{1})},
					wantErr: errMalformed,
				},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					r := dumpReader{seq: 7}
					var err error
					for _, g := range tt.grams {
						if err = r.add(g, o); err != nil {
							break
						}
					}
					if tt.wantErr != nil {
						if !errors.Is(err, tt.wantErr) {
							t.Fatalf("err %v, want %v", err, tt.wantErr)
						}
						return
					}
					if err != nil || !r.done || len(r.msgs) != tt.wantMsgs {
						t.Fatalf("done %v, %d messages, err %v; want %d messages", r.done, len(r.msgs), err, tt.wantMsgs)
					}
				})
			}
		})
	}
}

func TestDecodeSnapshot(t *testing.T) {
	for _, bo := range orders {
		t.Run(bo.name, func(t *testing.T) {
			o := bo.order
			split := func(grams ...[]byte) []message {
				msgs, err := splitMessages(slices.Concat(grams...), o)
				if err != nil {
					t.Fatal(err)
				}
				return msgs
			}
			addr := func(index uint32, family, bits byte, ip string) []byte {
				return msg(o, rtmNewAddr, 2, 1, ifaddr(o, family, bits, index), attr(o, ifaLocal, netip.MustParseAddr(ip).AsSlice()))
			}
			links := split(
				linkMsg(o, 1, 0x10049, "lo"),   // UP LOOPBACK RUNNING LOWER_UP
				linkMsg(o, 5, 0x1003, "wan"),   // UP BROADCAST MULTICAST, no carrier
				linkMsg(o, 6, 0x11043, "lan"),  // UP, RUNNING
				linkMsg(o, 7, 0x1042, "down0"), // RUNNING without UP
			)
			addrs := split(
				addr(6, afInet6, 64, "fe80::1"),
				addr(6, afInet, 24, "192.168.1.1"),
				addr(6, afInet6, 64, "2001:db8::1"),
				addr(6, afInet, 24, "10.0.0.1"),
				addr(1, afInet, 8, "127.0.0.1"),
				addr(42, afInet, 8, "10.9.9.9"), // link appeared after the link dump
				msg(o, 99, 0, 1, []byte{1, 2}),  // not an address: ignored
			)
			s, err := buildSnapshot(links, addrs, o)
			if err != nil {
				t.Fatal(err)
			}
			want := Snapshot{
				"lo":  {Index: 1, Name: "lo", Up: true, Flags: 0x10049, Addrs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/8")}},
				"wan": {Index: 5, Name: "wan", Flags: 0x1003},
				"lan": {Index: 6, Name: "lan", Up: true, Flags: 0x11043, Addrs: []netip.Prefix{
					netip.MustParsePrefix("10.0.0.1/24"), netip.MustParsePrefix("192.168.1.1/24"),
					netip.MustParsePrefix("2001:db8::1/64"), netip.MustParsePrefix("fe80::1/64"),
				}},
				"down0": {Index: 7, Name: "down0", Flags: 0x1042},
			}
			if d := Diff(want, s); !d.Empty() || len(s) != len(want) {
				t.Fatalf("snapshot %+v, differs from want by %+v", s, d)
			}
			if _, err := buildSnapshot(split(msg(o, rtmNewLink, 0, 1, []byte{1})), nil, o); !errors.Is(err, errMalformed) {
				t.Errorf("malformed link: err %v", err)
			}
			if _, err := buildSnapshot(links, split(msg(o, rtmNewAddr, 0, 1, []byte{1})), o); !errors.Is(err, errMalformed) {
				t.Errorf("malformed address: err %v", err)
			}
		})
	}
}
