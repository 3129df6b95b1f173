//go:build linux

package e2e

import (
	"encoding/binary"
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

// procAddr decodes an address printed by the kernel as "%08X" of a network
// order __be32, which reads differently on little- and big-endian hosts.
func procAddr(hex string) (netip.Addr, bool) {
	v, err := strconv.ParseUint(strings.TrimPrefix(hex, "0x"), 16, 32)
	if err != nil {
		return netip.Addr{}, false
	}
	var b [4]byte
	binary.NativeEndian.PutUint32(b[:], uint32(v))
	return netip.AddrFrom4(b), true
}

// hostOrderAddr decodes an address the kernel printed after ntohl.
func hostOrderAddr(hex string) (netip.Addr, bool) {
	v, err := strconv.ParseUint(strings.TrimPrefix(hex, "0x"), 16, 32)
	if err != nil {
		return netip.Addr{}, false
	}
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(v))
	return netip.AddrFrom4(b), true
}

// parseVIFs reads /proc/net/ip_mr_vif:
//
//	Interface      BytesIn  PktsIn  BytesOut PktsOut Flags Local    Remote
//	 0 up0               0       0         0       0 00000 0100000A 00000000
func parseVIFs(s string) map[string]int {
	vifs := make(map[string]int)
	for _, line := range strings.Split(s, "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		if n, err := strconv.Atoi(f[0]); err == nil {
			vifs[f[1]] = n
		}
	}
	return vifs
}

// mfcEntry is a line of /proc/net/ip_mr_cache.
type mfcEntry struct {
	Group, Origin netip.Addr
	Iif           int
	Pkts          uint64
	Oifs          map[int]int // VIF -> TTL threshold
}

// parseMFC reads /proc/net/ip_mr_cache or ip6_mr_cache (net/ipv6/ip6mr.c),
// whose addresses addr decodes:
//
//	Group    Origin   Iif     Pkts    Bytes    Wrong Oifs
//	010101EF 0200000A 0          10      840        0  1:1    2:1
//	ff0e:0000:0000:0000:0000:0000:0001:0001 2001:0db8:0001:0000:0000:0000:0000:0002 0        12      576        0  1:1
//
// Unresolved entries show zero counters and no outputs.
func parseMFC(s string, addr func(string) (netip.Addr, bool)) []mfcEntry {
	var out []mfcEntry
	for _, line := range strings.Split(s, "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 6 {
			continue
		}
		g, ok1 := addr(f[0])
		o, ok2 := addr(f[1])
		iif, err := strconv.Atoi(f[2])
		if !ok1 || !ok2 || err != nil {
			continue
		}
		pkts, _ := strconv.ParseUint(f[3], 10, 64)
		e := mfcEntry{Group: g, Origin: o, Iif: iif, Pkts: pkts, Oifs: make(map[int]int)}
		for _, oif := range f[6:] {
			vif, ttl, ok := strings.Cut(oif, ":")
			if !ok {
				continue
			}
			v, err1 := strconv.Atoi(vif)
			tt, err2 := strconv.Atoi(ttl)
			if err1 == nil && err2 == nil {
				e.Oifs[v] = tt
			}
		}
		out = append(out, e)
	}
	return out
}

// parseIGMPGroups reads /proc/net/igmp into the groups joined per device:
//
//	Idx	Device    : Count Querier	Group    Users Timer	Reporter
//	2	up0       :     2      V3
//					010101EF     1 0:00000000		0
func parseIGMPGroups(s string) map[string]map[netip.Addr]bool {
	out := make(map[string]map[netip.Addr]bool)
	dev := ""
	for _, line := range strings.Split(s, "\n")[1:] {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) >= 3 && f[2] == ":" { // device line
			dev = f[1]
			if out[dev] == nil {
				out[dev] = make(map[netip.Addr]bool)
			}
			continue
		}
		if a, ok := procAddr(f[0]); ok && dev != "" {
			out[dev][a] = true
		}
	}
	return out
}

// mcfilterEntry is a line of /proc/net/mcfilter or mcfilter6: how many
// sockets include and exclude Source for Group on Dev.
type mcfilterEntry struct {
	Dev           string
	Group, Source netip.Addr
	Include       int
	Exclude       int
}

// parseMcfilter reads /proc/net/mcfilter or mcfilter6, whose addresses addr
// decodes; the header line does not parse and is skipped:
//
//	Idx Device        MCA        SRC    INC    EXC
//	  2    up0 0xef010101 0x0a000002      1      0
//	Idx Device                Multicast Address                   Source Address    INC    EXC
//	  2    up0 ff3e0000000000000000000000010002 20010db8000100000000000000000002      1      0
func parseMcfilter(s string, addr func(string) (netip.Addr, bool)) []mcfilterEntry {
	var out []mcfilterEntry
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) < 6 {
			continue
		}
		g, ok1 := addr(f[2])
		src, ok2 := addr(f[3])
		inc, err1 := strconv.Atoi(f[4])
		exc, err2 := strconv.Atoi(f[5])
		if ok1 && ok2 && err1 == nil && err2 == nil {
			out = append(out, mcfilterEntry{Dev: f[1], Group: g, Source: src, Include: inc, Exclude: exc})
		}
	}
	return out
}

// TestProcParsers pins the parsers to the kernel's formats (little-endian
// host order for the "%08X" fields).
func TestProcParsers(t *testing.T) {
	le := binary.NativeEndian.Uint16([]byte{1, 0}) == 1
	if !le {
		t.Skip("sample lines are written for a little-endian host")
	}
	vifs := parseVIFs("Interface      BytesIn  PktsIn  BytesOut PktsOut Flags Local    Remote\n" +
		" 0 up0               0       0         0       0 00000 0100000A 00000000\n" +
		" 2 br-lan            0       0         0       0 00000 0101A8C0 00000000\n")
	if vifs["up0"] != 0 || vifs["br-lan"] != 2 || len(vifs) != 2 {
		t.Errorf("parseVIFs = %v", vifs)
	}
	mfc := parseMFC("Group    Origin   Iif     Pkts    Bytes    Wrong Oifs\n"+
		"010101EF 0200000A 0          10      840        0  1:1    2:1   \n"+
		"020202EF 0200000A -1          0        0        0\n", procAddr)
	if len(mfc) != 2 || mfc[0].Group != g1.Addr() || mfc[0].Origin != s1 || mfc[0].Iif != 0 ||
		mfc[0].Pkts != 10 || len(mfc[0].Oifs) != 2 || mfc[0].Oifs[2] != 1 || len(mfc[1].Oifs) != 0 || mfc[1].Iif != -1 {
		t.Errorf("parseMFC = %+v", mfc)
	}
	igmp := parseIGMPGroups("Idx\tDevice    : Count Querier\tGroup    Users Timer\tReporter\n" +
		"1\tlo        :     1      V3\n\t\t\t\t010000E0     1 0:00000000\t\t0\n" +
		"3\tup0       :     2      V3\n\t\t\t\t010101EF     1 0:00000000\t\t0\n\t\t\t\t010000E0     1 0:00000000\t\t0\n")
	if !igmp["up0"][g1.Addr()] || len(igmp["up0"]) != 2 || len(igmp["lo"]) != 1 {
		t.Errorf("parseIGMPGroups = %v", igmp)
	}
	mcf := parseMcfilter("Idx Device        MCA        SRC    INC    EXC\n"+
		"  3    up0 0xef010101 0x0a000002      1      0\n", hostOrderAddr)
	if len(mcf) != 1 || mcf[0].Dev != "up0" || mcf[0].Group != g1.Addr() || mcf[0].Source != s1 || mcf[0].Include != 1 {
		t.Errorf("parseMcfilter = %+v", mcf)
	}
}
