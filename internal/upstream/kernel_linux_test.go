package upstream

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/netns"
	"golang.org/x/sys/unix"
)

// link creates an up veth interface with an address and returns its index;
// its peer is up too but has no address. Veth rather than dummy because not
// every kernel has the dummy driver.
func link(t *testing.T, name, prefix string) int {
	t.Helper()
	netns.Run(t, "ip", "link", "add", name, "type", "veth", "peer", "name", name+"p")
	netns.Run(t, "ip", "addr", "add", prefix, "dev", name)
	netns.Run(t, "ip", "link", "set", name+"p", "up")
	netns.Run(t, "ip", "link", "set", name, "up")
	return ifindex(t, name)
}

func ifindex(t *testing.T, name string) int {
	t.Helper()
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return ifi.Index
}

// procNet reads a /proc/net file of this thread's namespace; /proc/net
// itself follows the thread group leader.
func procNet(t *testing.T, name string) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/thread-self/net/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// igmpGroups parses /proc/net/igmp into group -> users for one device. The
// kernel prints the group as the raw 32-bit word in %08X, so its bytes come
// out in host order.
func igmpGroups(t *testing.T, dev string) map[netip.Addr]int {
	t.Helper()
	out := map[netip.Addr]int{}
	cur := ""
	for _, l := range procNet(t, "igmp")[1:] {
		f := strings.Fields(l)
		if !strings.HasPrefix(l, "\t") {
			cur = f[1]
			continue
		}
		if cur != dev {
			continue
		}
		v, err := strconv.ParseUint(f[0], 16, 32)
		if err != nil {
			t.Fatalf("igmp line %q: %v", l, err)
		}
		var b [4]byte
		binary.NativeEndian.PutUint32(b[:], uint32(v))
		users, _ := strconv.Atoi(f[1])
		out[netip.AddrFrom4(b)] = users
	}
	return out
}

type srcCount struct{ inc, exc int }

// mcfilter parses /proc/net/mcfilter for one device and group: source ->
// include and exclude socket counts. Addresses are printed as ntohl values.
func mcfilter(t *testing.T, dev string, group netip.Addr) map[netip.Addr]srcCount {
	t.Helper()
	out := map[netip.Addr]srcCount{}
	for _, l := range procNet(t, "mcfilter")[1:] {
		f := strings.Fields(l)
		if len(f) != 6 || f[1] != dev {
			continue
		}
		g, s := hexAddr4(t, f[2]), hexAddr4(t, f[3])
		if g != group {
			continue
		}
		inc, _ := strconv.Atoi(f[4])
		exc, _ := strconv.Atoi(f[5])
		out[s] = srcCount{inc, exc}
	}
	return out
}

func hexAddr4(t *testing.T, s string) netip.Addr {
	v, err := strconv.ParseUint(strings.TrimPrefix(s, "0x"), 16, 32)
	if err != nil {
		t.Fatalf("mcfilter address %q: %v", s, err)
	}
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(v))
	return netip.AddrFrom4(b)
}

// igmp6Groups parses /proc/net/igmp6 for one device.
func igmp6Groups(t *testing.T, dev string) map[netip.Addr]bool {
	t.Helper()
	out := map[netip.Addr]bool{}
	for _, l := range procNet(t, "igmp6") {
		f := strings.Fields(l)
		if len(f) < 3 || f[1] != dev {
			continue
		}
		b, err := hex.DecodeString(f[2])
		if err != nil || len(b) != 16 {
			t.Fatalf("igmp6 line %q", l)
		}
		out[netip.AddrFrom16([16]byte(b))] = true
	}
	return out
}

func group4(i int) netip.Addr { return netip.AddrFrom4([4]byte{239, 1, byte(i >> 8), byte(i)}) }

func newJ(t *testing.T, ifindex int) *Joiner {
	t.Helper()
	j, err := New(ifindex)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

func TestKernelThousandGroups(t *testing.T) {
	netns.Enter(t)
	idx := link(t, "up0", "10.0.0.1/24")
	j := newJ(t, idx)
	const n = 1000
	for i := range n {
		if err := j.Set(group4(i), Filter{Mode: Exclude}); err != nil {
			t.Fatalf("group %d: %v", i, err)
		}
	}
	got := igmpGroups(t, "up0")
	for i := range n {
		if got[group4(i)] != 1 {
			t.Fatalf("group %s: users %d, want 1", group4(i), got[group4(i)])
		}
	}
	if len(got) != n+1 { // plus 224.0.0.1, joined by the kernel
		t.Errorf("igmp lists %d groups on up0, want %d", len(got), n+1)
	}
	if len(j.Groups()) != n || j.Sockets() != n/20 {
		t.Errorf("Groups %d, Sockets %d; want %d, %d", len(j.Groups()), j.Sockets(), n, n/20)
	}
	// Leaving half closes the sockets they emptied only.
	for i := range n / 2 {
		if err := j.Set(group4(i), Filter{}); err != nil {
			t.Fatal(err)
		}
	}
	if got := igmpGroups(t, "up0"); len(got) != n/2+1 || got[group4(0)] != 0 {
		t.Errorf("after leaving half: %d groups", len(got))
	}
	if j.Sockets() != n/40 {
		t.Errorf("Sockets %d, want %d", j.Sockets(), n/40)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if got := igmpGroups(t, "up0"); len(got) != 1 {
		t.Errorf("after Close: %d groups on up0, want only 224.0.0.1", len(got))
	}
	if err := j.Set(group4(1), Filter{Mode: Exclude}); err == nil {
		t.Error("Set after Close succeeded")
	}
}

func TestKernelFilterTransitions(t *testing.T) {
	netns.Enter(t)
	idx := link(t, "up0", "10.0.0.1/24")
	j := newJ(t, idx)
	g := netip.MustParseAddr("232.1.2.3")
	s1, s2, s3 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("198.51.100.3")
	steps := []struct {
		name   string
		f      Filter
		joined bool
		want   map[netip.Addr]srcCount
	}{
		{"asm", Filter{Mode: Exclude}, true, map[netip.Addr]srcCount{}},
		{"include two", Filter{Mode: Include, Sources: []netip.Addr{s2, s1, s1}}, true, map[netip.Addr]srcCount{s1: {1, 0}, s2: {1, 0}}},
		{"exclude one", Filter{Mode: Exclude, Sources: []netip.Addr{s3}}, true, map[netip.Addr]srcCount{s3: {0, 1}}},
		{"include one", Filter{Mode: Include, Sources: []netip.Addr{s1}}, true, map[netip.Addr]srcCount{s1: {1, 0}}},
		{"include one again", Filter{Mode: Include, Sources: []netip.Addr{s1}}, true, map[netip.Addr]srcCount{s1: {1, 0}}},
		{"leave", Filter{}, false, map[netip.Addr]srcCount{}},
	}
	for _, st := range steps {
		if err := j.Set(g, st.f); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if users := igmpGroups(t, "up0")[g]; (users == 1) != st.joined {
			t.Errorf("%s: users %d, joined want %v", st.name, users, st.joined)
		}
		got := mcfilter(t, "up0", g)
		if fmt.Sprint(got) != fmt.Sprint(st.want) {
			t.Errorf("%s: mcfilter %v, want %v", st.name, got, st.want)
		}
		f, ok := j.Get(g)
		norm, _ := normalize(g, st.f)
		if ok != st.joined || (ok && !f.Equal(norm)) {
			t.Errorf("%s: Get = %v %v, want %v", st.name, f, ok, norm)
		}
	}
}

func TestKernelManySources(t *testing.T) {
	netns.Enter(t)
	idx := link(t, "up0", "10.0.0.1/24")
	j := newJ(t, idx)
	g := netip.MustParseAddr("232.9.9.9")
	src := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)}) }
	var srcs []netip.Addr
	for i := range 25 {
		srcs = append(srcs, src(i))
	}
	check := func(name string, want []netip.Addr, c srcCount) {
		t.Helper()
		got := mcfilter(t, "up0", g)
		if len(got) != len(want) {
			t.Errorf("%s: mcfilter has %d sources, want %d", name, len(got), len(want))
		}
		for _, s := range want {
			if got[s] != c {
				t.Errorf("%s: source %s counts %v, want %v", name, s, got[s], c)
			}
		}
	}
	if err := j.Set(g, Filter{Mode: Include, Sources: srcs}); err != nil {
		t.Fatal(err)
	}
	check("include 25", srcs, srcCount{1, 0})
	if users := igmpGroups(t, "up0")[g]; users != 3 {
		t.Errorf("users %d, want 3 sockets", users)
	}
	// Drop the first, add two: sources stay on their sockets.
	srcs2 := append(append([]netip.Addr{}, srcs[1:]...), src(30), src(31))
	if err := j.Set(g, Filter{Mode: Include, Sources: srcs2}); err != nil {
		t.Fatal(err)
	}
	check("include 26", srcs2, srcCount{1, 0})

	if err := j.Set(g, Filter{Mode: Exclude, Sources: srcs}); err != nil {
		t.Fatal(err)
	}
	if n := j.Truncated(g); n != 15 {
		t.Errorf("Truncated = %d, want 15", n)
	}
	f, _ := j.Get(g)
	if f.Mode != Exclude || len(f.Sources) != 10 {
		t.Errorf("Get = %v, want exclude of 10", f)
	}
	check("exclude 25", f.Sources, srcCount{0, 1})
	if users := igmpGroups(t, "up0")[g]; users != 1 {
		t.Errorf("users %d, want 1 socket", users)
	}
}

func TestKernelRefused(t *testing.T) {
	netns.Enter(t)
	idx := link(t, "up0", "10.0.0.1/24")
	j := newJ(t, idx)
	for _, s := range []string{"224.0.0.5", "224.0.0.251", "224.0.0.0", "10.0.0.2", "0.0.0.0", "ff02::1:3", "ff12::5", "ff31::1", "ff00::1", "2001:db8::1"} {
		if err := j.Set(netip.MustParseAddr(s), Filter{Mode: Exclude}); err == nil {
			t.Errorf("Set(%s) succeeded", s)
		}
	}
	if got := igmpGroups(t, "up0"); len(got) != 1 {
		t.Errorf("igmp has %d groups, want only 224.0.0.1", len(got))
	}
	if j.Sockets() != 0 || len(j.Groups()) != 0 {
		t.Errorf("Sockets %d Groups %v", j.Sockets(), j.Groups())
	}
	// The first group outside 224.0.0.0/24 is fine.
	if err := j.Set(netip.MustParseAddr("224.0.1.1"), Filter{Mode: Exclude}); err != nil {
		t.Error(err)
	}
}

func TestKernelSetInterface(t *testing.T) {
	netns.Enter(t)
	a := link(t, "upa", "10.0.0.1/24")
	b := link(t, "upb", "10.0.1.1/24")
	j := newJ(t, a)
	s1 := netip.MustParseAddr("192.0.2.1")
	for i := range 30 {
		f := Filter{Mode: Exclude}
		if i%2 == 1 {
			f = Filter{Mode: Include, Sources: []netip.Addr{s1}}
		}
		if err := j.Set(group4(i), f); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.SetInterface(b); err != nil {
		t.Fatal(err)
	}
	if j.Ifindex() != b {
		t.Errorf("Ifindex %d, want %d", j.Ifindex(), b)
	}
	if got := igmpGroups(t, "upa"); len(got) != 1 {
		t.Errorf("old interface keeps %d groups", len(got)-1)
	}
	got := igmpGroups(t, "upb")
	for i := range 30 {
		if got[group4(i)] != 1 {
			t.Errorf("group %s not on new interface", group4(i))
		}
	}
	if inc := mcfilter(t, "upb", group4(1))[s1]; inc != (srcCount{1, 0}) {
		t.Errorf("source filter not moved: %v", inc)
	}
	// The old index may vanish (a link recreated): moving still works.
	netns.Run(t, "ip", "link", "del", "upb")
	c := link(t, "upc", "10.0.2.1/24")
	if err := j.SetInterface(c); err != nil {
		t.Fatal(err)
	}
	if got := igmpGroups(t, "upc"); len(got) != 31 {
		t.Errorf("new interface has %d groups, want 31", len(got))
	}
}

func TestKernelIPv6(t *testing.T) {
	netns.Enter(t)
	idx := link(t, "up0", "2001:db8::1/64")
	j := newJ(t, idx)
	g := netip.MustParseAddr("ff0e::1234")
	if err := j.Set(g, Filter{Mode: Exclude}); err != nil {
		t.Fatal(err)
	}
	if !igmp6Groups(t, "up0")[g] {
		t.Fatalf("%s not in igmp6", g)
	}
	src := netip.MustParseAddr("2001:db8:1::5")
	if err := j.Set(g, Filter{Mode: Include, Sources: []netip.Addr{src}}); err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, l := range procNet(t, "mcfilter6") {
		found = found || strings.Contains(l, "ff0e0000000000000000000000001234 20010db8000100000000000000000005")
	}
	if !found {
		t.Errorf("source %s not in mcfilter6: %q", src, procNet(t, "mcfilter6"))
	}
	if err := j.Set(g, Filter{}); err != nil {
		t.Fatal(err)
	}
	if igmp6Groups(t, "up0")[g] {
		t.Fatalf("%s still in igmp6 after leave", g)
	}
}

// TestKernelWireReport checks what the upstream querier sees: with IGMPv3
// forced, changing the filter makes the kernel send a v3 report with the
// matching record, captured in a peer namespace across a veth.
func TestKernelWireReport(t *testing.T) {
	netns.Enter(t)
	peer := netns.New(t)
	netns.Run(t, "ip", "link", "add", "v0", "type", "veth", "peer", "name", "v1", "netns", peer.Name)
	netns.Run(t, "ip", "addr", "add", "10.9.0.1/24", "dev", "v0")
	if err := os.WriteFile("/proc/sys/net/ipv4/conf/v0/force_igmp_version", []byte("3"), 0o644); err != nil {
		t.Fatal(err)
	}
	netns.Run(t, "ip", "link", "set", "v0", "up")
	peer.IP(t, "addr", "add", "10.9.0.2/24", "dev", "v1")
	peer.IP(t, "link", "set", "v1", "up")

	fd := peerIGMPSocket(t, peer, "v1")
	j := newJ(t, ifindex(t, "v0"))
	g := netip.MustParseAddr("232.4.5.6")
	s1, s3 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("198.51.100.3")

	if err := j.Set(g, Filter{Mode: Include, Sources: []netip.Addr{s1}}); err != nil {
		t.Fatal(err)
	}
	waitRecord(t, fd, g, 5, []netip.Addr{s1}) // ALLOW_NEW_SOURCES (RFC 3376 section 4.2.12)
	if err := j.Set(g, Filter{Mode: Exclude, Sources: []netip.Addr{s3}}); err != nil {
		t.Fatal(err)
	}
	waitRecord(t, fd, g, 4, []netip.Addr{s3}) // CHANGE_TO_EXCLUDE_MODE
	if err := j.Set(g, Filter{}); err != nil {
		t.Fatal(err)
	}
	waitRecord(t, fd, g, 3, nil) // CHANGE_TO_INCLUDE_MODE {}: leave
}

// peerIGMPSocket opens a raw IGMP socket in the peer namespace, joined to
// 224.0.0.22 on dev so IGMPv3 reports are delivered to it.
func peerIGMPSocket(t *testing.T, peer *netns.NS, dev string) int {
	t.Helper()
	fd := -1
	var err error
	peer.Do(t, func() {
		fd, err = func() (int, error) {
			ifi, err := net.InterfaceByName(dev)
			if err != nil {
				return -1, err
			}
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_IGMP)
			if err != nil {
				return -1, err
			}
			mreq := &unix.IPMreqn{Multiaddr: [4]byte{224, 0, 0, 22}, Ifindex: int32(ifi.Index)}
			if err := unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_ADD_MEMBERSHIP, mreq); err != nil {
				unix.Close(fd)
				return -1, err
			}
			return fd, nil
		}()
	})
	if err != nil {
		t.Fatalf("peer socket: %v", err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// waitRecord reads IGMPv3 reports until one carries a record of type rtype
// for group with exactly sources, or fails after a few seconds.
func waitRecord(t *testing.T, fd int, group netip.Addr, rtype byte, sources []netip.Addr) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	buf := make([]byte, 1500)
	for time.Now().Before(deadline) {
		tv := unix.NsecToTimeval(int64(time.Until(deadline)))
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			t.Fatal(err)
		}
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if errors.Is(err, unix.EINTR) {
			// Never restarted on a socket with a receive timeout, and
			// the Go runtime signals its threads to preempt.
			continue
		}
		if err != nil {
			break
		}
		for _, rec := range v3Records(buf[:n]) {
			if rec.group == group && rec.rtype == rtype && fmt.Sprint(rec.sources) == fmt.Sprint(sources) {
				return
			}
		}
	}
	t.Fatalf("no IGMPv3 record type %d for %s %v", rtype, group, sources)
}

type v3Record struct {
	rtype   byte
	group   netip.Addr
	sources []netip.Addr
}

// v3Records extracts the group records of an IGMPv3 report (RFC 3376
// section 4.2) from an IPv4 packet; anything else yields none.
func v3Records(p []byte) []v3Record {
	if len(p) < 20 {
		return nil
	}
	p = p[int(p[0]&0x0f)*4:]
	if len(p) < 8 || p[0] != 0x22 {
		return nil
	}
	nrec := int(binary.BigEndian.Uint16(p[6:]))
	p = p[8:]
	var out []v3Record
	for range nrec {
		if len(p) < 8 {
			return out
		}
		nsrc := int(binary.BigEndian.Uint16(p[2:]))
		size := 8 + 4*nsrc + 4*int(p[1])
		if len(p) < size {
			return out
		}
		r := v3Record{rtype: p[0], group: netip.AddrFrom4([4]byte(p[4:8]))}
		for i := range nsrc {
			r.sources = append(r.sources, netip.AddrFrom4([4]byte(p[8+4*i:])))
		}
		out = append(out, r)
		p = p[size:]
	}
	return out
}
