//go:build linux

package netlab

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Packet is one IPv4 or IPv6 packet a Sniffer saw arrive.
type Packet struct {
	At       time.Time
	Src, Dst netip.Addr
	// Proto is the IPv4 protocol or, for IPv6, the upper-layer header
	// after any hop-by-hop, routing and destination options headers
	// (58 for ICMPv6 and so MLD).
	Proto uint8
	TTL   uint8 // TTL or hop limit
	// RouterAlert is set when an IPv6 packet carried the Router Alert
	// hop-by-hop option (RFC 2711).
	RouterAlert bool
	Payload     []byte // the IP payload (for IGMP and MLD: the message), at most 64 bytes
}

// Sniffer records the IPv4 packets arriving on one interface, whether or not
// the host accepts them: it shows what is on the wire. A receiver's socket
// stops receiving as soon as it leaves; the wire shows when the router stops
// forwarding.
type Sniffer struct {
	fd     int
	parse  func([]byte) (Packet, bool)
	closed atomic.Bool
	done   chan struct{}

	mu   sync.Mutex // guards pkts
	pkts []Packet
}

// NewSniffer starts recording the IPv4 packets that arrive on ifname in ns.
func (l *Lab) NewSniffer(ns, ifname string) (*Sniffer, error) {
	return l.newSniffer(ns, ifname, unix.ETH_P_IP, parseIPv4)
}

// NewSniffer6 starts recording the IPv6 packets that arrive on ifname in ns.
func (l *Lab) NewSniffer6(ns, ifname string) (*Sniffer, error) {
	return l.newSniffer(ns, ifname, unix.ETH_P_IPV6, parseIPv6)
}

func (l *Lab) newSniffer(ns, ifname string, ethType uint16, parse func([]byte) (Packet, bool)) (*Sniffer, error) {
	s := &Sniffer{fd: -1, parse: parse, done: make(chan struct{})}
	proto := int(htons(ethType))
	err := l.Do(ns, func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, proto)
		if err != nil {
			return err
		}
		// A short receive timeout lets the reader notice Close.
		tv := unix.NsecToTimeval((100 * time.Millisecond).Nanoseconds())
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			unix.Close(fd)
			return err
		}
		// Room for bursts (one host joining 1000 groups sends 1000
		// reports at once, while streams cross the same link): at the
		// default 208 KiB the kernel dropped a quarter of such a burst
		// before the reader, slowed by the emulated test VM, got to it.
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 4<<20); err != nil {
			unix.Close(fd)
			return err
		}
		// The kernel's arrival time: a reader scheduled late on a busy
		// (or emulated) machine would otherwise shift what it records.
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
			unix.Close(fd)
			return err
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: uint16(proto), Ifindex: ifi.Index}); err != nil {
			unix.Close(fd)
			return err
		}
		s.fd = fd
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("netlab: sniffer on %s in %s: %w", ifname, ns, err)
	}
	go s.loop()
	l.track(s)
	return s, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func (s *Sniffer) loop() {
	defer close(s.done)
	buf := make([]byte, 2048)
	oob := make([]byte, unix.CmsgSpace(16))
	for !s.closed.Load() {
		n, oobn, _, from, err := unix.Recvmsg(s.fd, buf, oob, 0)
		if err != nil {
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
				continue
			}
			return
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		p, ok := s.parse(buf[:n])
		if !ok {
			continue
		}
		p.At = arrival(oob[:oobn])
		s.mu.Lock()
		s.pkts = append(s.pkts, p)
		s.mu.Unlock()
	}
}

// arrival is the kernel's receive time from an SO_TIMESTAMPNS control
// message, or now if there is none.
func arrival(oob []byte) time.Time {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return time.Now()
	}
	for _, m := range msgs {
		if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SO_TIMESTAMPNS && len(m.Data) >= 2*timespecField {
			sec := int64(readField(m.Data[:timespecField]))
			nsec := int64(readField(m.Data[timespecField : 2*timespecField]))
			return time.Unix(sec, nsec)
		}
	}
	return time.Now()
}

// timespecField is the size of the fields of struct timespec (long).
const timespecField = int(unsafe.Sizeof(uintptr(0)))

func readField(b []byte) uint64 {
	if len(b) == 8 {
		return binary.NativeEndian.Uint64(b)
	}
	return uint64(binary.NativeEndian.Uint32(b))
}

func parseIPv4(b []byte) (Packet, bool) {
	if len(b) < 20 || b[0]>>4 != 4 {
		return Packet{}, false
	}
	ihl := int(b[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(b[2:]))
	if ihl < 20 || total < ihl || len(b) < total {
		return Packet{}, false
	}
	payload := b[ihl:total]
	if len(payload) > 64 {
		payload = payload[:64]
	}
	return Packet{
		Src:     netip.AddrFrom4([4]byte(b[12:16])),
		Dst:     netip.AddrFrom4([4]byte(b[16:20])),
		Proto:   b[9],
		TTL:     b[8],
		Payload: append([]byte(nil), payload...),
	}, true
}

// IPv6 extension headers that parseIPv6 steps over (RFC 8200 §4).
const (
	ipv6HopByHop = 0
	ipv6Routing  = 43
	ipv6DestOpts = 60
)

func parseIPv6(b []byte) (Packet, bool) {
	const hdrLen = 40
	if len(b) < hdrLen || b[0]>>4 != 6 {
		return Packet{}, false
	}
	end := hdrLen + int(binary.BigEndian.Uint16(b[4:]))
	if len(b) < end {
		return Packet{}, false
	}
	p := Packet{
		Src: netip.AddrFrom16([16]byte(b[8:24])),
		Dst: netip.AddrFrom16([16]byte(b[24:40])),
		TTL: b[7],
	}
	next, off := b[6], hdrLen
	for next == ipv6HopByHop || next == ipv6Routing || next == ipv6DestOpts {
		if off+8 > end {
			return Packet{}, false
		}
		size := (int(b[off+1]) + 1) * 8
		if off+size > end {
			return Packet{}, false
		}
		if next == ipv6HopByHop {
			p.RouterAlert = hasRouterAlert(b[off+2 : off+size])
		}
		next, off = b[off], off+size
	}
	p.Proto = next
	payload := b[off:end]
	if len(payload) > 64 {
		payload = payload[:64]
	}
	p.Payload = append([]byte(nil), payload...)
	return p, true
}

// hasRouterAlert walks hop-by-hop options (RFC 8200 §4.2) for Router Alert
// (type 5, RFC 2711).
func hasRouterAlert(opts []byte) bool {
	for i := 0; i < len(opts); {
		switch opts[i] {
		case 0: // Pad1
			i++
			continue
		case 5:
			return true
		}
		if i+1 >= len(opts) {
			return false
		}
		i += 2 + int(opts[i+1])
	}
	return false
}

// Packets returns the recorded packets that match (all, if match is nil).
func (s *Sniffer) Packets(match func(Packet) bool) []Packet {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Packet
	for _, p := range s.pkts {
		if match == nil || match(p) {
			out = append(out, p)
		}
	}
	return out
}

// UDPTo matches UDP packets to dst, from src unless src is the zero Addr,
// that arrived at or after since.
func UDPTo(dst, src netip.Addr, since time.Time) func(Packet) bool {
	return func(p Packet) bool {
		return p.Proto == unix.IPPROTO_UDP && p.Dst == dst && (!src.IsValid() || p.Src == src) && !p.At.Before(since)
	}
}

// Count is the number of recorded packets that match.
func (s *Sniffer) Count(match func(Packet) bool) int { return len(s.Packets(match)) }

// Last is the arrival time of the latest matching packet; ok is false if none.
func (s *Sniffer) Last(match func(Packet) bool) (at time.Time, ok bool) {
	ps := s.Packets(match)
	if len(ps) == 0 {
		return time.Time{}, false
	}
	return ps[len(ps)-1].At, true
}

// Close stops recording.
func (s *Sniffer) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	<-s.done
	return unix.Close(s.fd)
}
