//go:build linux

package e2e

// IGMP packets built and read by hand, independent of internal/igmp, so the
// tests check the daemon against the RFCs rather than against its own codec.

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"

	"github.com/mcast-proxy/mcast-proxy/internal/netlab"
)

// IGMP message types (RFC 3376 §4, RFC 2236 §2.1, RFC 1112 appendix I).
const (
	igmpQuery        = 0x11
	igmpV1Report     = 0x12
	igmpV2Report     = 0x16
	igmpV2Leave      = 0x17
	igmpV3ReportType = 0x22
)

// IGMPv3 group record types (RFC 3376 §4.2.12).
const (
	modeIsInclude = 1
	modeIsExclude = 2
	toInclude     = 3
	toExclude     = 4
	allowNew      = 5
	blockOld      = 6
)

var (
	allHosts  = netip.MustParseAddr("224.0.0.1")
	allV3Rtrs = netip.MustParseAddr("224.0.0.22")
)

// inetChecksum is the Internet checksum (RFC 1071).
func inetChecksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// withChecksum fills the IGMP checksum at bytes 2-3.
func withChecksum(m []byte) []byte {
	binary.BigEndian.PutUint16(m[2:], 0)
	binary.BigEndian.PutUint16(m[2:], inetChecksum(m))
	return m
}

// igmpV2 builds an 8-byte IGMPv1/v2 message.
func igmpV2(typ, maxResp uint8, group netip.Addr) []byte {
	m := make([]byte, 8)
	m[0], m[1] = typ, maxResp
	copy(m[4:], group.AsSlice())
	return withChecksum(m)
}

// v3Record is a group record of an IGMPv3 report or a multicast address
// record of an MLDv2 report: the two lay them out alike, with addresses of
// their family.
type v3Record struct {
	Type    uint8
	Group   netip.Addr
	Sources []netip.Addr
}

// v3Report builds the body common to an IGMPv3 membership report (RFC 3376
// §4.2) and an MLDv2 report (RFC 3810 §5.2): type, reserved, checksum 0,
// reserved, the number of records, then the records.
func v3Report(typ uint8, recs []v3Record) []byte {
	m := make([]byte, 8)
	m[0] = typ
	binary.BigEndian.PutUint16(m[6:], uint16(len(recs)))
	for _, r := range recs {
		rec := make([]byte, 4)
		rec[0] = r.Type
		binary.BigEndian.PutUint16(rec[2:], uint16(len(r.Sources)))
		rec = append(rec, r.Group.AsSlice()...)
		for _, s := range r.Sources {
			rec = append(rec, s.AsSlice()...)
		}
		m = append(m, rec...)
	}
	return m
}

// igmpV3Report builds an IGMPv3 membership report (RFC 3376 §4.2).
func igmpV3Report(recs ...v3Record) []byte {
	return withChecksum(v3Report(igmpV3ReportType, recs))
}

// igmpV3GeneralQuery builds an IGMPv3 general query (RFC 3376 §4.1) with the
// given Max Resp Code (tenths of a second below 128).
func igmpV3GeneralQuery(maxResp uint8) []byte {
	m := make([]byte, 12)
	m[0], m[1] = igmpQuery, maxResp
	m[8] = 2   // QRV
	m[9] = 125 // QQIC
	return withChecksum(m)
}

// parseV3Report decodes an IGMPv3 report; ok is false if it is not one or is
// truncated.
func parseV3Report(m []byte) (recs []v3Record, ok bool) {
	if len(m) < 8 || m[0] != igmpV3ReportType {
		return nil, false
	}
	n := int(binary.BigEndian.Uint16(m[6:]))
	b := m[8:]
	for range n {
		if len(b) < 8 {
			return nil, false
		}
		aux := int(b[1]) * 4
		ns := int(binary.BigEndian.Uint16(b[2:]))
		need := 8 + 4*ns + aux
		if len(b) < need {
			return nil, false
		}
		r := v3Record{Type: b[0], Group: netip.AddrFrom4([4]byte(b[4:8]))}
		for i := range ns {
			r.Sources = append(r.Sources, netip.AddrFrom4([4]byte(b[8+4*i:12+4*i])))
		}
		slices.SortFunc(r.Sources, func(a, b netip.Addr) int { return a.Compare(b) })
		recs = append(recs, r)
		b = b[need:]
	}
	return recs, true
}

// ipv4Packet builds an IPv4 header for payload with protocol IGMP. The kernel
// fills in the header checksum and length of IP_HDRINCL packets.
func ipv4Packet(src, dst netip.Addr, ttl uint8, routerAlert bool, payload []byte) []byte {
	hl := 20
	if routerAlert {
		hl = 24
	}
	h := make([]byte, hl, hl+len(payload))
	h[0] = 0x40 | byte(hl/4)
	h[1] = 0xc0 // internetwork control, as IGMP is sent (RFC 3376 §4)
	binary.BigEndian.PutUint16(h[2:], uint16(hl+len(payload)))
	h[8] = ttl
	h[9] = unix.IPPROTO_IGMP
	copy(h[12:], src.AsSlice())
	copy(h[16:], dst.AsSlice())
	if routerAlert {
		copy(h[20:], []byte{0x94, 0x04, 0x00, 0x00}) // RFC 2113
	}
	binary.BigEndian.PutUint16(h[10:], inetChecksum(h))
	return append(h, payload...)
}

// rawSender sends hand-built IPv4 packets out of one interface.
type rawSender struct {
	fd int
}

func newRawSender(t *testing.T, lab *netlab.Lab, ns, ifname string) *rawSender {
	t.Helper()
	// IPPROTO_RAW implies IP_HDRINCL.
	fd, _ := rawSocket(t, lab, ns, ifname, unix.AF_INET, unix.IPPROTO_RAW, func(fd, ifindex int) error {
		return unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_IF, &unix.IPMreqn{Ifindex: int32(ifindex)})
	})
	return &rawSender{fd: fd}
}

// rawSocket opens a raw socket of domain and protocol in ns, sets it up for
// sending out of ifname with setup (if not nil), and closes it when the test
// ends. It returns the socket and ifname's index.
func rawSocket(t *testing.T, lab *netlab.Lab, ns, ifname string, domain, proto int, setup func(fd, ifindex int) error) (fd, ifindex int) {
	t.Helper()
	fd = -1
	err := lab.Do(ns, func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		s, err := unix.Socket(domain, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
		if err != nil {
			return err
		}
		if setup != nil {
			if err := setup(s, ifi.Index); err != nil {
				unix.Close(s)
				return err
			}
		}
		fd, ifindex = s, ifi.Index
		return nil
	})
	if err != nil {
		t.Fatalf("raw socket (protocol %d) in %s: %v", proto, ns, err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd, ifindex
}

// repeat calls fn every interval from a goroutine until the test ends or
// the returned stop is called; stop returns once fn no longer runs. fn may
// not call t.Fatal (it runs off the test goroutine).
func repeat(t *testing.T, interval time.Duration, fn func()) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				return
			case <-tick.C:
				fn()
			}
		}
	}()
	stop = sync.OnceFunc(func() { close(quit); <-done })
	t.Cleanup(stop)
	return stop
}

func (rs *rawSender) send(t *testing.T, pkt []byte) {
	t.Helper()
	dst := &unix.SockaddrInet4{Addr: [4]byte(pkt[16:20])}
	if err := unix.Sendto(rs.fd, pkt, 0, dst); err != nil {
		t.Fatalf("send raw packet to %v: %v", netip.AddrFrom4(dst.Addr), err)
	}
}

// startQuerier sends an IGMPv3 general query from src out of ifname in ns at
// once and then every interval until the test ends: a querier that is not
// the router, upstream or rival.
func startQuerier(t *testing.T, lab *netlab.Lab, ns, ifname string, src netip.Addr, interval time.Duration) {
	t.Helper()
	rs := newRawSender(t, lab, ns, ifname)
	// Max Resp Code 5: hosts answer within 0.5 s.
	pkt := ipv4Packet(src, allHosts, 1, true, igmpV3GeneralQuery(5))
	rs.send(t, pkt)
	repeat(t, interval, func() {
		_ = unix.Sendto(rs.fd, pkt, 0, &unix.SockaddrInet4{Addr: allHosts.As4()})
	})
}

// igmpMsg is an IGMP message a listener received.
type igmpMsg struct {
	At   time.Time
	Src  netip.Addr
	Data []byte
}

// igmpListener records the IGMP messages a host receives (raw IGMP socket).
type igmpListener struct {
	conn net.PacketConn
	done chan struct{}

	mu   sync.Mutex // guards msgs
	msgs []igmpMsg
}

// newIGMPListener opens a raw IGMP socket in ns; it joins the given groups
// on ifname so that reports sent to them are delivered to the host.
func newIGMPListener(t *testing.T, lab *netlab.Lab, ns, ifname string, join ...netip.Addr) *igmpListener {
	t.Helper()
	l := &igmpListener{done: make(chan struct{})}
	err := lab.Do(ns, func() error {
		c, err := net.ListenPacket("ip4:2", "0.0.0.0")
		if err != nil {
			return err
		}
		if len(join) > 0 {
			ifi, err := net.InterfaceByName(ifname)
			if err != nil {
				c.Close()
				return err
			}
			p := ipv4.NewPacketConn(c)
			for _, g := range join {
				if err := p.JoinGroup(ifi, &net.IPAddr{IP: g.AsSlice()}); err != nil {
					c.Close()
					return err
				}
			}
		}
		l.conn = c
		return nil
	})
	if err != nil {
		t.Fatalf("IGMP listener in %s: %v", ns, err)
	}
	go l.loop()
	t.Cleanup(func() {
		l.conn.Close()
		<-l.done
	})
	return l
}

func (l *igmpListener) loop() {
	defer close(l.done)
	buf := make([]byte, 9000)
	for {
		n, from, err := l.conn.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		ia, ok := from.(*net.IPAddr)
		if !ok {
			continue
		}
		src, _ := netip.AddrFromSlice(ia.IP.To4())
		l.mu.Lock()
		l.msgs = append(l.msgs, igmpMsg{At: time.Now(), Src: src, Data: append([]byte(nil), buf[:n]...)})
		l.mu.Unlock()
	}
}

// messages returns the messages received since t that match.
func (l *igmpListener) messages(since time.Time, match func(igmpMsg) bool) []igmpMsg {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []igmpMsg
	for _, m := range l.msgs {
		if !m.At.Before(since) && (match == nil || match(m)) {
			out = append(out, m)
		}
	}
	return out
}

// generalQueryFrom matches general queries (any version) sent by src.
func generalQueryFrom(src netip.Addr) func(igmpMsg) bool {
	return func(m igmpMsg) bool {
		return m.Src == src && len(m.Data) >= 8 && m.Data[0] == igmpQuery && binary.BigEndian.Uint32(m.Data[4:8]) == 0
	}
}

// holdMRTInit takes the IPv4 multicast routing table of ns the way another
// routing daemon (igmpproxy, smcroute, pimd) would: MRT_INIT on a raw IGMP
// socket, kept open until the test ends.
func holdMRTInit(t *testing.T, lab *netlab.Lab, ns string) {
	t.Helper()
	const mrtInit = 200 // MRT_BASE, linux/mroute.h
	fd := -1
	err := lab.Do(ns, func() error {
		s, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_IGMP)
		if err != nil {
			return err
		}
		if err := unix.SetsockoptInt(s, unix.IPPROTO_IP, mrtInit, 1); err != nil {
			unix.Close(s)
			return err
		}
		fd = s
		return nil
	})
	if err != nil {
		t.Fatalf("MRT_INIT in %s: %v", ns, err)
	}
	t.Cleanup(func() { unix.Close(fd) })
}

// TestIGMPBuilders checks the hand-built messages against each other: a
// built report parses back, checksums verify.
func TestIGMPBuilders(t *testing.T) {
	rep := igmpV3Report(v3Record{Type: toExclude, Group: g1.Addr(), Sources: []netip.Addr{s2, s1}})
	if inetChecksum(rep) != 0 {
		t.Errorf("report checksum does not verify")
	}
	recs, ok := parseV3Report(rep)
	if !ok || len(recs) != 1 || recs[0].Type != toExclude || recs[0].Group != g1.Addr() || !slices.Equal(recs[0].Sources, []netip.Addr{s1, s2}) {
		t.Errorf("parseV3Report = %+v, %v", recs, ok)
	}
	if _, ok := parseV3Report(rep[:len(rep)-1]); ok {
		t.Errorf("truncated report parsed")
	}
	pkt := ipv4Packet(s1, allHosts, 1, true, igmpV3GeneralQuery(10))
	if len(pkt) != 24+12 || inetChecksum(pkt[:24]) != 0 || inetChecksum(pkt[24:]) != 0 {
		t.Errorf("query packet: len %d, checksums %x %x", len(pkt), inetChecksum(pkt[:24]), inetChecksum(pkt[24:]))
	}
}
