package mld

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"
)

// captures are ICMPv6 payloads (IPv6 header and hop-by-hop router alert
// stripped) that Linux 6.18.44 sent on this project's build machine, with the
// IPv6 source and destination they travelled with. Two namespaces were joined
// by a veth pair; the host side (fe80::a, nodad) set
// /proc/sys/net/ipv6/conf/vA/force_mld_version to 1 or 2 and, from a UDP
// socket, joined ff0e::1:1 (IPV6_JOIN_GROUP) and ff3e::1234 from
// 2001:db8::100 and ::101 (MCAST_JOIN_SOURCE_GROUP), then left ff0e::1:1 and
// source ::101. The other side was a Linux bridge acting as querier
// (mcast_querier 1, mcast_mld_version 1 or 2, query interval 5 s, query
// response interval 3 s in v1, 40 s and 1 s in v2). Captured with tcpdump on
// the bridge's veth port. The kernel computed every checksum, so they also
// check Checksum independently, and MarshalWithChecksum must give the same
// bytes back.
var captures = []struct {
	name     string
	src, dst string
	hex      string
	m        Message
}{
	{"bridge v1 general query", "fe80::b", "ff02::1",
		"820074650bb8000000000000000000000000000000000000",
		&Query{Version: 1, MaxResp: 3 * time.Second, Group: ip("::")}},
	{"bridge v1 address-specific query after done", "fe80::b064:a0ff:fe84:9505", "ff02::1",
		"8200984003e80000ff0e0000000000000000000000010001",
		&Query{Version: 1, MaxResp: time.Second, Group: ip("ff0e::1:1")}},
	{"v1 report", "fe80::a", "ff0e::1:1",
		"8300800000000000ff0e0000000000000000000000010001",
		&Report{Group: ip("ff0e::1:1")}},
	{"v1 report for a source-specific join", "fe80::a", "ff3e::1234",
		"83005b3c00000000ff3e0000000000000000000000001234",
		&Report{Group: ip("ff3e::1234")}},
	{"v1 done", "fe80::a", "ff02::2",
		"84007f0c00000000ff0e0000000000000000000000010001",
		&Done{Group: ip("ff0e::1:1")}},
	{"bridge v2 general query", "fe80::b", "ff02::1",
		"82007a2c03e800000000000000000000000000000000000002050000",
		&Query{Version: 2, MaxResp: time.Second, Group: ip("::"), QRV: 2, QQI: 5 * time.Second}},
	// The bridge was told 40 s but wrote 40000 (0x9c40) literally, which
	// RFC 3810 §5.1.3 reads as a float: hosts wait up to 115.712 s.
	{"bridge v2 general query with unencoded 40 s", "fe80::b", "ff02::1",
		"8200e1d39c4000000000000000000000000000000000000002050000",
		&Query{Version: 2, MaxResp: 115712 * time.Millisecond, Group: ip("::"), QRV: 2, QQI: 5 * time.Second}},
	{"bridge v2 address-specific query", "fe80::a48d:34ff:feb9:af32", "ff0e::1:1",
		"8200f39f03e80000ff0e000000000000000000000001000102050000",
		&Query{Version: 2, MaxResp: time.Second, Group: ip("ff0e::1:1"), QRV: 2, QQI: 5 * time.Second}},
	{"bridge v2 address-specific query with S flag", "fe80::a48d:34ff:feb9:af32", "ff0e::1:1",
		"8200eb9f03e80000ff0e00000000000000000000000100010a050000",
		&Query{Version: 2, MaxResp: time.Second, Group: ip("ff0e::1:1"), SuppressRouterSide: true, QRV: 2, QQI: 5 * time.Second}},
	{"bridge v2 address-and-source-specific query", "fe80::a48d:34ff:feb9:af32", "ff3e::1234",
		"8200a01003e80000ff3e00000000000000000000000012340205000120010db8000000000000000000000101",
		&Query{Version: 2, MaxResp: time.Second, Group: ip("ff3e::1234"), QRV: 2, QQI: 5 * time.Second,
			Sources: []netip.Addr{ip("2001:db8::101")}}},
	{"v2 state change on join", "fe80::a", "ff02::16",
		"8f00fbd50000000205000002ff3e000000000000000000000000123420010db800000000000000000000010020010db800000000000000000000010104000000ff0e0000000000000000000000010001",
		&V2Report{Records: []AddressRecord{
			{Type: AllowNewSources, Group: ip("ff3e::1234"), Sources: []netip.Addr{ip("2001:db8::100"), ip("2001:db8::101")}},
			{Type: ChangeToExclude, Group: ip("ff0e::1:1")},
		}}},
	{"v2 current state", "fe80::a", "ff02::16",
		"8f00c22f0000000401000002ff3e000000000000000000000000123420010db800000000000000000000010020010db800000000000000000000010102000000ff0e000000000000000000000001000102000000ff0200000000000000000001ffad3ebb02000000ff0200000000000000000001ff00000a",
		&V2Report{Records: []AddressRecord{
			{Type: ModeIsInclude, Group: ip("ff3e::1234"), Sources: []netip.Addr{ip("2001:db8::100"), ip("2001:db8::101")}},
			{Type: ModeIsExclude, Group: ip("ff0e::1:1")},
			{Type: ModeIsExclude, Group: ip("ff02::1:ffad:3ebb")},
			{Type: ModeIsExclude, Group: ip("ff02::1:ff00:a")},
		}}},
	{"v2 state change on leave", "fe80::a", "ff02::16",
		"8f002aa00000000203000000ff0e000000000000000000000001000106000001ff3e000000000000000000000000123420010db8000000000000000000000101",
		&V2Report{Records: []AddressRecord{
			{Type: ChangeToInclude, Group: ip("ff0e::1:1")},
			{Type: BlockOldSources, Group: ip("ff3e::1234"), Sources: []netip.Addr{ip("2001:db8::101")}},
		}}},
}

func TestCaptures(t *testing.T) {
	for _, c := range captures {
		t.Run(c.name, func(t *testing.T) {
			b := unhex(t, c.hex)
			src, dst := ip(c.src), ip(c.dst)
			if got := Checksum(src, dst, b); got != 0 {
				t.Errorf("Checksum over capture = 0x%04x, want 0", got)
			}
			zeroed := bytes.Clone(b)
			zeroed[2], zeroed[3] = 0, 0
			if got, want := Checksum(src, dst, zeroed), binary.BigEndian.Uint16(b[2:4]); got != want {
				t.Errorf("Checksum = 0x%04x, kernel sent 0x%04x", got, want)
			}
			if got := refChecksum(src, dst, b); got != 0 {
				t.Errorf("reference checksum over capture = 0x%04x, want 0", got)
			}
			checkExact(t, zeroed, c.m)
			out, err := MarshalWithChecksum(c.m, src, dst)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, b) {
				t.Errorf("MarshalWithChecksum = %x, want %x", out, b)
			}
		})
	}
}
