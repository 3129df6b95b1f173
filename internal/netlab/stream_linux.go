//go:build linux

package netlab

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// Datagram layout sent by a Sender: magic, sequence number, send time.
const (
	magic = "MCPL"
	// DatagramLen is the length of a stream datagram's payload.
	DatagramLen = 4 + 8 + 8
)

// MarkDatagram writes a stream datagram's payload into buf (DatagramLen
// bytes): the magic, seq and the send time. Streams sent by other processes
// (the end-to-end tests' paced sender) use it too, so that receivers and
// sniffers read every stream alike.
func MarkDatagram(buf []byte, seq uint64, sent time.Time) {
	copy(buf, magic)
	binary.BigEndian.PutUint64(buf[4:], seq)
	binary.BigEndian.PutUint64(buf[12:], uint64(sent.UnixNano()))
}

// DatagramSeq is the sequence number of a stream datagram's payload; ok is
// false for a payload that is not one.
func DatagramSeq(payload []byte) (seq uint64, ok bool) {
	if len(payload) < 4+8 || string(payload[:4]) != magic {
		return 0, false
	}
	return binary.BigEndian.Uint64(payload[4:]), true
}

// Sender sends numbered UDP datagrams to a multicast group from one source
// address at a fixed interval until stopped. The group may be IPv4 or IPv6.
type Sender struct {
	src, dst netip.AddrPort
	conn     net.PacketConn
	stop     chan struct{}
	done     chan struct{}
	once     sync.Once

	mu   sync.Mutex // guards sent
	sent uint64
}

// SenderTTL is the TTL (IPv4) or hop limit (IPv6) of the stream's
// datagrams: enough to cross the lab.
const SenderTTL = 8

// NewSender starts sending from src (an address of ifname in namespace ns) to
// group:port every interval. The first datagram has sequence number 1. An
// IPv6 src needs an address that is usable at once (no duplicate address
// detection pending, see AddrNoDAD).
func (l *Lab) NewSender(ns, ifname string, src netip.Addr, dst netip.AddrPort, interval time.Duration) (*Sender, error) {
	var conn net.PacketConn
	err := l.Do(ns, func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		network := "udp4"
		if src.Is6() {
			network = "udp6"
		}
		c, err := net.ListenPacket(network, netip.AddrPortFrom(src, 0).String())
		if err != nil {
			return err
		}
		var opts []func() error
		if src.Is6() {
			p := ipv6.NewPacketConn(c)
			opts = []func() error{
				func() error { return p.SetMulticastInterface(ifi) },
				func() error { return p.SetMulticastHopLimit(SenderTTL) },
				func() error { return p.SetMulticastLoopback(false) },
			}
		} else {
			p := ipv4.NewPacketConn(c)
			opts = []func() error{
				func() error { return p.SetMulticastInterface(ifi) },
				func() error { return p.SetMulticastTTL(SenderTTL) },
				func() error { return p.SetMulticastLoopback(false) },
			}
		}
		for _, f := range opts {
			if err := f(); err != nil {
				c.Close()
				return err
			}
		}
		conn = c
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("netlab: sender %s -> %s in %s: %w", src, dst, ns, err)
	}
	s := &Sender{src: netip.AddrPortFrom(src, 0), dst: dst, conn: conn, stop: make(chan struct{}), done: make(chan struct{})}
	go s.loop(interval)
	l.track(s)
	return s, nil
}

func (s *Sender) loop(interval time.Duration) {
	defer close(s.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	to := net.UDPAddrFromAddrPort(s.dst)
	buf := make([]byte, DatagramLen)
	for seq := uint64(1); ; seq++ {
		MarkDatagram(buf, seq, time.Now())
		// Errors (no route yet, buffer full) just lose a datagram, as on
		// a real network; receivers see the gap.
		if _, err := s.conn.WriteTo(buf, to); err == nil {
			s.mu.Lock()
			s.sent++
			s.mu.Unlock()
		}
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
	}
}

// Sent is the number of datagrams handed to the kernel so far.
func (s *Sender) Sent() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent
}

// Source is the sender's source address.
func (s *Sender) Source() netip.Addr { return s.src.Addr() }

// Stop stops sending and closes the socket. It may be called more than once.
func (s *Sender) Stop() {
	s.once.Do(func() {
		close(s.stop)
		<-s.done
		s.conn.Close()
	})
}

// Close is Stop, for io.Closer.
func (s *Sender) Close() error {
	s.Stop()
	return nil
}

// FilterMode says how a Receiver joins its group.
type FilterMode int

const (
	// AnySource joins (*,G): IGMPv3 EXCLUDE{} or an IGMPv1/v2 report.
	AnySource FilterMode = iota
	// Include joins the listed sources only (IGMPv3 INCLUDE{sources}).
	Include
	// Exclude joins the group but blocks the listed sources (IGMPv3 EXCLUDE{sources}).
	Exclude
)

func (m FilterMode) String() string {
	switch m {
	case AnySource:
		return "any-source"
	case Include:
		return "INCLUDE"
	case Exclude:
		return "EXCLUDE"
	}
	return fmt.Sprintf("FilterMode(%d)", int(m))
}

// Receiver is a UDP socket in a namespace that joins a group on one interface
// and records the numbered datagrams it receives, per source. The group may
// be IPv4 (IGMP) or IPv6 (MLD).
type Receiver struct {
	ns      string
	ifi     *net.Interface
	group   netip.AddrPort
	mode    FilterMode
	sources []netip.Addr
	conn    net.PacketConn
	mc      groupJoiner // conn's multicast options, per family
	done    chan struct{}

	mu     sync.Mutex // guards the fields below
	joined bool
	got    map[netip.Addr][]Arrival
}

// groupJoiner is what ipv4.PacketConn and ipv6.PacketConn have in common for
// joining and leaving groups.
type groupJoiner interface {
	JoinGroup(ifi *net.Interface, group net.Addr) error
	LeaveGroup(ifi *net.Interface, group net.Addr) error
	JoinSourceSpecificGroup(ifi *net.Interface, group, source net.Addr) error
	LeaveSourceSpecificGroup(ifi *net.Interface, group, source net.Addr) error
	ExcludeSourceSpecificGroup(ifi *net.Interface, group, source net.Addr) error
}

// NewReceiver creates a receiver in namespace ns bound to group:port and joins
// the group on ifname in the given mode.
func (l *Lab) NewReceiver(ns, ifname string, group netip.AddrPort, mode FilterMode, sources ...netip.Addr) (*Receiver, error) {
	r := &Receiver{ns: ns, group: group, mode: mode, sources: sources, done: make(chan struct{}), got: make(map[netip.Addr][]Arrival)}
	err := l.Do(ns, func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		// Go binds a multicast address as the wildcard address with
		// SO_REUSEADDR, so the socket sees the datagrams of every group
		// the host has joined on this port: give each group its own port.
		network := "udp4"
		if group.Addr().Is6() {
			network = "udp6"
		}
		c, err := net.ListenPacket(network, group.String())
		if err != nil {
			return err
		}
		r.ifi, r.conn = ifi, c
		if group.Addr().Is6() {
			r.mc = ipv6.NewPacketConn(c)
		} else {
			r.mc = ipv4.NewPacketConn(c)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("netlab: receiver %s in %s: %w", group, ns, err)
	}
	if err := r.Join(); err != nil {
		r.conn.Close()
		return nil, err
	}
	go r.loop()
	l.track(r)
	return r, nil
}

func (r *Receiver) loop() {
	defer close(r.done)
	buf := make([]byte, 1500)
	for {
		n, from, err := r.conn.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		now := time.Now()
		ua, ok := from.(*net.UDPAddr)
		if !ok || n != DatagramLen {
			continue
		}
		seq, ok := DatagramSeq(buf[:n])
		if !ok {
			continue
		}
		src := ua.AddrPort().Addr().Unmap()
		r.mu.Lock()
		r.got[src] = append(r.got[src], Arrival{Seq: seq, At: now})
		r.mu.Unlock()
	}
}

// Join joins the group in the receiver's mode (again, after Leave).
func (r *Receiver) Join() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.joined {
		return nil
	}
	g := &net.UDPAddr{IP: r.group.Addr().AsSlice()}
	var err error
	switch r.mode {
	case AnySource:
		err = r.mc.JoinGroup(r.ifi, g)
	case Include:
		for _, s := range r.sources {
			if err = r.mc.JoinSourceSpecificGroup(r.ifi, g, &net.UDPAddr{IP: s.AsSlice()}); err != nil {
				break
			}
		}
	case Exclude:
		// Blocking a source needs an any-source membership first.
		if err = r.mc.JoinGroup(r.ifi, g); err != nil {
			break
		}
		for _, s := range r.sources {
			if err = r.mc.ExcludeSourceSpecificGroup(r.ifi, g, &net.UDPAddr{IP: s.AsSlice()}); err != nil {
				break
			}
		}
	}
	if err != nil {
		return fmt.Errorf("netlab: join %s %s %v on %s in %s: %w", r.group.Addr(), r.mode, r.sources, r.ifi.Name, r.ns, err)
	}
	r.joined = true
	return nil
}

// Leave leaves the group; the kernel sends the leave (IGMPv2 leave or IGMPv3
// TO_IN{}) at once.
func (r *Receiver) Leave() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.joined {
		return nil
	}
	g := &net.UDPAddr{IP: r.group.Addr().AsSlice()}
	var err error
	if r.mode == Include {
		for _, s := range r.sources {
			if err = r.mc.LeaveSourceSpecificGroup(r.ifi, g, &net.UDPAddr{IP: s.AsSlice()}); err != nil {
				break
			}
		}
	} else {
		err = r.mc.LeaveGroup(r.ifi, g)
	}
	if err != nil {
		return fmt.Errorf("netlab: leave %s on %s in %s: %w", r.group.Addr(), r.ifi.Name, r.ns, err)
	}
	r.joined = false
	return nil
}

// Close leaves the group and closes the socket.
func (r *Receiver) Close() error {
	err := r.conn.Close()
	<-r.done
	return err
}

// Group is the group and port the receiver listens on.
func (r *Receiver) Group() netip.AddrPort { return r.group }

// Arrivals returns a copy of what arrived from src, oldest first.
func (r *Receiver) Arrivals(src netip.Addr) []Arrival {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Arrival(nil), r.got[src]...)
}

// Total is the number of datagrams received from all sources.
func (r *Receiver) Total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, a := range r.got {
		n += len(a)
	}
	return n
}

// CountSince is the number of datagrams from src received at or after t.
// An invalid src counts every source.
func (r *Receiver) CountSince(src netip.Addr, t time.Time) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for s, as := range r.got {
		if src.IsValid() && s != src {
			continue
		}
		for _, a := range as {
			if !a.At.Before(t) {
				n++
			}
		}
	}
	return n
}

// FirstSince is the arrival time of the first datagram from src at or after
// t; ok is false if none arrived.
func (r *Receiver) FirstSince(src netip.Addr, t time.Time) (at time.Time, ok bool) {
	for _, a := range r.Arrivals(src) {
		if !a.At.Before(t) {
			return a.At, true
		}
	}
	return time.Time{}, false
}

// Last is the arrival time of the latest datagram from src; ok is false if
// none arrived.
func (r *Receiver) Last(src netip.Addr) (at time.Time, ok bool) {
	as := r.Arrivals(src)
	if len(as) == 0 {
		return time.Time{}, false
	}
	return as[len(as)-1].At, true
}

// GapsBetween returns the sequence gaps from src among datagrams that arrived
// in [from, to]; a zero to means up to now. A datagram that arrives after a
// later one is reordered, not lost (see SeqGaps).
func (r *Receiver) GapsBetween(src netip.Addr, from, to time.Time) []Gap {
	gaps, _ := SeqGaps(r.between(src, from, to))
	return gaps
}

// ReorderedBetween counts the datagrams from src that arrived in [from, to]
// after a datagram with a higher sequence number.
func (r *Receiver) ReorderedBetween(src netip.Addr, from, to time.Time) int {
	_, reordered := SeqGaps(r.between(src, from, to))
	return reordered
}

// between returns the arrivals from src in [from, to]; a zero to means up to now.
func (r *Receiver) between(src netip.Addr, from, to time.Time) []Arrival {
	var in []Arrival
	for _, a := range r.Arrivals(src) {
		if a.At.Before(from) || (!to.IsZero() && a.At.After(to)) {
			continue
		}
		in = append(in, a)
	}
	return in
}
