package mroute

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

func TestEncodeRule(t *testing.T) {
	// u16 and u32 in the named byte order.
	u16 := func(o binary.AppendByteOrder, v uint16) []byte { return o.AppendUint16(nil, v) }
	u32 := func(o binary.AppendByteOrder, v uint32) []byte { return o.AppendUint32(nil, v) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	for _, bo := range []struct {
		name  string
		order binary.AppendByteOrder
	}{{"little", binary.LittleEndian}, {"big", binary.BigEndian}} {
		o := bo.order
		t.Run(bo.name, func(t *testing.T) {
			tests := []struct {
				name string
				typ  uint16
				seq  uint32
				rule Rule
				want []byte
			}{
				{
					name: "add ipv4 iif, table above 255",
					typ:  rtmNewRule, seq: 7,
					rule: Rule{Family: 4, Iif: "eth0", Table: 300, Priority: 100},
					want: cat(
						u32(o, 56), u16(o, 32), u16(o, 0x605), u32(o, 7), u32(o, 0), // RTM_NEWRULE, REQUEST|ACK|EXCL|CREATE
						[]byte{128, 0, 0, 0, 0, 0, 0, 1}, u32(o, 0), // IPMR, table only in FRA_TABLE, FR_ACT_TO_TBL
						u16(o, 9), u16(o, 3), []byte("eth0\x00\x00\x00\x00"), // FRA_IIFNAME, padded
						u16(o, 8), u16(o, 15), u32(o, 300), // FRA_TABLE
						u16(o, 8), u16(o, 6), u32(o, 100), // FRA_PRIORITY
					),
				},
				{
					name: "delete ipv6 oif",
					typ:  rtmDelRule, seq: 1,
					rule: Rule{Family: 6, Oif: "wan", Table: 10},
					want: cat(
						u32(o, 52), u16(o, 33), u16(o, 0x5), u32(o, 1), u32(o, 0), // RTM_DELRULE, REQUEST|ACK
						[]byte{129, 0, 0, 0, 10, 0, 0, 1}, u32(o, 0), // IP6MR, table 10 in the header too
						u16(o, 8), u16(o, 17), []byte("wan\x00"), // FRA_OIFNAME
						u16(o, 8), u16(o, 15), u32(o, 10),
						u16(o, 8), u16(o, 6), u32(o, 0), // priority 0 is sent too
					),
				},
				{
					name: "both interfaces",
					typ:  rtmNewRule, seq: 2,
					rule: Rule{Family: 4, Iif: "lan", Oif: "pppoe-wan", Table: 255, Priority: 1},
					want: cat(
						u32(o, 68), u16(o, 32), u16(o, 0x605), u32(o, 2), u32(o, 0),
						[]byte{128, 0, 0, 0, 255, 0, 0, 1}, u32(o, 0),
						u16(o, 8), u16(o, 3), []byte("lan\x00"),
						u16(o, 14), u16(o, 17), []byte("pppoe-wan\x00\x00\x00"),
						u16(o, 8), u16(o, 15), u32(o, 255),
						u16(o, 8), u16(o, 6), u32(o, 1),
					),
				},
				{
					name: "with a protocol marker",
					typ:  rtmNewRule, seq: 3,
					rule: Rule{Family: 4, Iif: "lan", Table: 5000, Priority: 1000, Protocol: 77},
					want: cat(
						u32(o, 60), u16(o, 32), u16(o, 0x605), u32(o, 3), u32(o, 0),
						[]byte{128, 0, 0, 0, 0, 0, 0, 1}, u32(o, 0),
						u16(o, 8), u16(o, 3), []byte("lan\x00"),
						u16(o, 8), u16(o, 15), u32(o, 5000),
						u16(o, 8), u16(o, 6), u32(o, 1000),
						u16(o, 5), u16(o, 21), []byte{77, 0, 0, 0}, // FRA_PROTOCOL, padded
					),
				},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					got, err := encodeRule(tt.typ, tt.seq, tt.rule, o)
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, tt.want) {
						t.Errorf("encodeRule =\n% x\nwant\n% x", got, tt.want)
					}
				})
			}
		})
	}
}

func TestEncodeRuleInvalid(t *testing.T) {
	for _, tt := range []struct {
		name string
		rule Rule
		want string
	}{
		{"family", Rule{Family: 5, Iif: "eth0", Table: 10}, "family must be 4 or 6"},
		{"no table", Rule{Family: 4, Iif: "eth0"}, "no table"},
		{"iif too long", Rule{Family: 4, Iif: "sixteen-chars-xx", Table: 10}, "too long"},
		{"oif too long", Rule{Family: 6, Oif: "sixteen-chars-xx", Table: 10}, "too long"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := encodeRule(rtmNewRule, 1, tt.rule, binary.LittleEndian)
			if err == nil || !strings.HasPrefix(err.Error(), "mroute: rule ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("encodeRule = %v, want an error containing %q", err, tt.want)
			}
		})
	}
	// IFNAMSIZ is 16 with the NUL: 15 characters fit.
	if _, err := encodeRule(rtmNewRule, 1, Rule{Family: 4, Iif: "fifteen-chars-x", Table: 10}, binary.LittleEndian); err != nil {
		t.Errorf("15-character name: %v", err)
	}
}

// TestDecodeRule reads back what encodeRule writes, in both byte orders,
// as the kernel's dump carries it, and refuses what is not a whole rule.
func TestDecodeRule(t *testing.T) {
	for _, o := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		for _, r := range []Rule{
			{Family: 4, Iif: "eth0.7", Table: 5000, Priority: 1000, Protocol: 77},
			{Family: 6, Oif: "br-lan", Table: 10, Priority: 1},
			{Family: 4, Iif: "a", Oif: "fifteen-chars-x", Table: 300},
		} {
			msg, err := encodeRule(rtmNewRule, 1, r, o.(binary.AppendByteOrder))
			if err != nil {
				t.Fatal(err)
			}
			got, ok := decodeRule(msg[nlmsgHdrLen:], o)
			if !ok || got != r {
				t.Errorf("%v: decodeRule = %+v, %v; want %+v", o, got, ok, r)
			}
			for n := range fibRuleHdrLen {
				if _, ok := decodeRule(msg[nlmsgHdrLen:nlmsgHdrLen+n], o); ok {
					t.Errorf("%v: a message of %d bytes decodes", o, n)
				}
			}
			bad := bytes.Clone(msg[nlmsgHdrLen:])
			bad[fibRuleHdrLen] = 200 // the first attribute longer than the message
			if _, ok := decodeRule(bad, o); ok {
				t.Errorf("%v: an attribute past the end decodes", o)
			}
		}
	}
	if _, ok := decodeRule(append([]byte{2}, make([]byte, fibRuleHdrLen)...), binary.LittleEndian); ok {
		t.Errorf("a rule of the unicast family (AF_INET) decodes as multicast")
	}
}

func TestEncodeRuleDump(t *testing.T) {
	got := encodeRuleDump(6, 9, binary.BigEndian)
	want := []byte{0, 0, 0, 28, 0, 34, 0x3, 0x1, 0, 0, 0, 9, 0, 0, 0, 0, 129, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	if !bytes.Equal(got, want) {
		t.Errorf("encodeRuleDump =\n% x\nwant\n% x", got, want)
	}
}
