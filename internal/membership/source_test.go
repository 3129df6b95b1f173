package membership

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

// TestGlobalUnicastIsNetip: globalUnicast answers as netip's
// IsGlobalUnicast for every valid address: the edges of each range it
// excludes, IPv4-mapped and zoned addresses, and random addresses of both
// families, dense near the ranges that matter.
func TestGlobalUnicastIsNetip(t *testing.T) {
	edges := []string{
		"0.0.0.0", "0.0.0.1", "255.255.255.255", "255.255.255.254", "127.0.0.0", "127.255.255.255",
		"126.255.255.255", "128.0.0.0", "224.0.0.0", "223.255.255.255", "239.255.255.255", "240.0.0.1",
		"169.254.0.0", "169.254.255.255", "169.253.255.255", "169.255.0.0", "10.0.0.1", "192.0.2.1",
		"::", "::1", "::2", "ff00::", "ff02::1", "feff:ffff::1", "fe80::", "fe80::1%eth0", "febf:ffff::1",
		"fec0::1", "fe7f::1", "2001:db8::1", "2001:db8::1%lan", "::ffff:0.0.0.0", "::ffff:127.0.0.1",
		"::ffff:224.0.0.1", "::ffff:169.254.1.1", "::ffff:255.255.255.255", "::ffff:10.0.0.1",
		"::ffff:10.0.0.1%eth0", "::127.0.0.1", "::224.0.0.1",
	}
	check := func(a netip.Addr) {
		t.Helper()
		if got, want := globalUnicast(a), a.IsGlobalUnicast(); got != want {
			t.Fatalf("globalUnicast(%v) = %v, netip says %v", a, got, want)
		}
	}
	for _, s := range edges {
		check(netip.MustParseAddr(s))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	firsts := []byte{0, 10, 126, 127, 128, 169, 223, 224, 239, 240, 254, 255}
	for range 200000 {
		var b [16]byte
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		if rng.IntN(2) == 0 {
			b[0] = firsts[rng.IntN(len(firsts))]
			b[1] = []byte{0, 254, 255, b[1]}[rng.IntN(4)]
		}
		check(netip.AddrFrom4([4]byte(b[:4])))
		check(netip.AddrFrom16(b))
		mapped := [16]byte{10: 0xff, 11: 0xff, 12: b[0], 13: b[1], 14: b[2], 15: b[3]}
		check(netip.AddrFrom16(mapped))
		if rng.IntN(8) == 0 {
			b[0], b[1] = 0xfe, byte(0x80|rng.IntN(0x80))
		}
		check(netip.AddrFrom16(b).WithZone("eth0"))
	}
}
