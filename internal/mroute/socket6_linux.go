package mroute

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Socket option numbers at level IPPROTO_IPV6 (MRT6_BASE 200,
// linux/mroute6.h); golang.org/x/sys/unix does not define them.
const (
	mrt6Init   = 200
	mrt6Done   = 201
	mrt6AddMIF = 202
	mrt6DelMIF = 203
	mrt6AddMFC = 204
	mrt6DelMFC = 205
	mrt6Table  = 209
)

const (
	siocGetSGCntIn6   = 0x89e1 // SIOCPROTOPRIVATE+1, as for IPv4
	mldHopLimit       = 1      // RFC 3810 §5 and RFC 2710 §3: MLD is sent with hop limit 1
	icmp6HeaderLen    = 4      // type, code, checksum
	maxHopByHopHeader = 2048   // RFC 8200 §4.3: (255+1) x 8 bytes
)

// Socket6 is the raw ICMPv6 socket that owns one kernel IPv6 multicast
// routing table (MRT6_INIT) and carries MLD. It has the method set of Socket
// and the same concurrency rules.
//
// How MLD reaches it (net/ipv6/ip6_input.c, ip6_mc_input; checked by
// TestMLDReports6): once MRT6_INIT has set mc_forwarding, a packet to a
// multicast address that is neither link-local nor loopback scope and carries
// the MLD Router Alert is delivered locally when it is an MLD message, whether
// or not the host joined its destination, so MLDv1 reports sent to the group
// itself (ff0e::1:2) reach the raw socket. Link-scope destinations follow the
// ordinary membership rule, so MLDv2 reports (ff02::16) and MLDv1 dones
// (ff02::2) arrive only because JoinRouterGroups joined those groups; MLDv1
// reports for link-scope groups (ff02::x) never arrive, and those groups are
// never proxied anyway. IPV6_ROUTER_ALERT is not needed: it only diverts
// packets the kernel would forward.
//
// Forwarding needs no sysctl: ip6mr forwards on mc_forwarding, which
// MRT6_INIT and MRT6_ADD_MIF raise, with net.ipv6.conf.*.forwarding left 0
// (TestUpcallAndForwarding6), so the router keeps its host behaviour (router
// advertisements accepted) on the upstream link.
type Socket6 struct {
	conn  *net.IPConn     // raw IPPROTO_ICMPV6; its poller lets Close unblock Read
	raw   syscall.RawConn // conn's fd, for socket options, ioctls, recvmsg and sendmsg
	table uint32

	mu     sync.Mutex   // guards the fields below
	rec    record       // installed MIFs and routes; rec.closed once Close has run
	joined map[int]bool // ifindexes whose router groups the raw socket joined
}

// mrt6 issues the IPv6 multicast routing socket options (linux/mroute6.h).
type mrt6 struct{ raw syscall.RawConn }

// routerGroups6 are joined on every downstream interface: MLDv1 dones go to
// all-routers (RFC 2710 §4) and MLDv2 reports to all-MLDv2-routers (RFC 3810
// §5.2.14). Both are link-scope, so the host stack delivers them only to
// members.
var routerGroups6 = [...]netip.Addr{
	netip.MustParseAddr("ff02::2"),
	netip.MustParseAddr("ff02::16"),
}

// Open6 creates the raw ICMPv6 socket and makes it the owner of IPv6 multicast
// routing table table (0 is the default table, selected without MRT6_TABLE so
// kernels without multiple-table support work).
func Open6(table uint32) (*Socket6, error) {
	pc, err := net.ListenPacket("ip6:ipv6-icmp", "::")
	if err != nil {
		return nil, fmt.Errorf("mroute: open raw icmpv6 socket: %w", err)
	}
	conn := pc.(*net.IPConn)
	raw, err := conn.SyscallConn()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("mroute: open raw icmpv6 socket: %w", err)
	}
	s := &Socket6{
		conn:   conn,
		raw:    raw,
		table:  table,
		rec:    newRecord(mrt6{raw}, "mif"),
		joined: make(map[int]bool),
	}
	if err := s.init(); err != nil {
		conn.Close()
		return nil, err
	}
	return s, nil
}

func (s *Socket6) init() error {
	// The filter goes first so as little as possible that is not MLD is
	// queued before it.
	if err := s.setsockopt(unix.IPPROTO_ICMPV6, icmp6FilterOpt, encodeICMP6Filter(binary.NativeEndian, mldTypes)); err != nil {
		return fmt.Errorf("mroute: set icmpv6 filter: %w", err)
	}
	if s.table != 0 {
		// MRT6_TABLE must come before MRT6_INIT; it takes a u32.
		err := s.setsockopt(unix.IPPROTO_IPV6, mrt6Table, binary.NativeEndian.AppendUint32(nil, s.table))
		if errors.Is(err, unix.ENOPROTOOPT) {
			return fmt.Errorf("mroute: select ipv6 table %d: the kernel lacks multiple multicast routing tables (CONFIG_IPV6_MROUTE_MULTIPLE_TABLES): %w", s.table, err)
		}
		if err != nil {
			return fmt.Errorf("mroute: select ipv6 table %d: %w", s.table, err)
		}
	}
	err := s.setsockopt(unix.IPPROTO_IPV6, mrt6Init, binary.NativeEndian.AppendUint32(nil, 1))
	switch {
	case errors.Is(err, unix.EADDRINUSE):
		return fmt.Errorf("%w (ipv6 table %d: %w)", ErrInUse, s.table, err)
	case errors.Is(err, unix.ENOPROTOOPT), errors.Is(err, unix.EOPNOTSUPP):
		return fmt.Errorf("mroute: init ipv6 table %d: the kernel lacks ipv6 multicast routing (CONFIG_IPV6_MROUTE): %w", s.table, err)
	case err != nil:
		return fmt.Errorf("mroute: init ipv6 table %d: %w", s.table, err)
	}
	opts := []struct {
		name string
		opt  int
		val  int
	}{
		{"IPV6_RECVPKTINFO", unix.IPV6_RECVPKTINFO, 1},   // arrival ifindex and destination
		{"IPV6_RECVHOPLIMIT", unix.IPV6_RECVHOPLIMIT, 1}, // MLD must arrive with hop limit 1
		{"IPV6_RECVHOPOPTS", unix.IPV6_RECVHOPOPTS, 1},   // to see Router Alert
		{"IPV6_MULTICAST_HOPS", unix.IPV6_MULTICAST_HOPS, mldHopLimit},
		{"IPV6_MULTICAST_LOOP", unix.IPV6_MULTICAST_LOOP, 0}, // do not read our own queries back
	}
	for _, o := range opts {
		var serr error
		if err := s.raw.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, o.opt, o.val)
		}); err != nil {
			serr = err
		}
		if serr != nil {
			// Leave the table the way we found it; closing does the same.
			_ = s.setsockopt(unix.IPPROTO_IPV6, mrt6Done, nil)
			return fmt.Errorf("mroute: set %s: %w", o.name, serr)
		}
	}
	if err := s.setsockopt(unix.IPPROTO_IPV6, unix.IPV6_HOPOPTS, routerAlertHopByHop[:]); err != nil {
		_ = s.setsockopt(unix.IPPROTO_IPV6, mrt6Done, nil)
		return fmt.Errorf("mroute: set router alert hop-by-hop option: %w", err)
	}
	return nil
}

// setsockopt sets one option with a byte-encoded value.
func (s *Socket6) setsockopt(level, opt int, val []byte) error {
	return mrt6{s.raw}.setsockopt(level, opt, val)
}

func (m mrt6) setsockopt(level, opt int, val []byte) error {
	var serr error
	if err := m.raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptString(int(fd), level, opt, string(val))
	}); err != nil {
		return err
	}
	return serr
}

// Close removes every route and MIF this socket installed, gives up the table
// (MRT6_DONE) and closes the socket, which leaves the router groups and
// unblocks Read. A second call does nothing.
func (s *Socket6) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rec.closed {
		return nil
	}
	errs := s.rec.close()
	clear(s.joined)
	if err := s.setsockopt(unix.IPPROTO_IPV6, mrt6Done, nil); err != nil {
		errs = append(errs, fmt.Errorf("mroute: close: release ipv6 table %d: %w", s.table, err))
	}
	if err := s.conn.Close(); err != nil {
		errs = append(errs, fmt.Errorf("mroute: close: %w", err))
	}
	return errors.Join(errs...)
}

// AddVIF makes ifindex a MIF in the lowest free slot and returns the slot.
// The threshold is handed to the kernel and kept, but ip6mr forwards by the
// route alone: every output of an entry has threshold 1, so a packet needs a
// hop limit above 1 whatever the MIF says. Adding an ifindex that already has
// a MIF returns that MIF.
func (s *Socket6) AddVIF(ifindex, threshold int) (int, error) {
	// mif6ctl.mif6c_pifi is a u16.
	if ifindex <= 0 || ifindex > 0xffff {
		return 0, fmt.Errorf("mroute: add mif: invalid ifindex %d", ifindex)
	}
	if threshold < 0 || threshold > 255 {
		return 0, fmt.Errorf("mroute: add mif for ifindex %d: hop limit threshold %d out of range 0-255", ifindex, threshold)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec.addVIF(ifindex, threshold)
}

// DelVIF removes the MIF of ifindex. Routes arriving on it are deleted and it
// is stripped from the outputs of the others (which are re-installed), so our
// record matches the kernel and a later MIF in the same slot inherits nothing.
// Deleting an ifindex without a MIF does nothing.
func (s *Socket6) DelVIF(ifindex int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec.delVIF(ifindex)
}

// VIF returns the MIF slot of ifindex.
func (s *Socket6) VIF(ifindex int) (mif int, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec.lookup(ifindex)
}

// route6Addrs checks and normalises the addresses of an IPv6 (S,G): zones are
// dropped, since ip6mr keys entries on the bare addresses.
func route6Addrs(src, grp netip.Addr) (netip.Addr, netip.Addr, bool) {
	src, grp = src.WithZone(""), grp.WithZone("")
	ok := src.Is6() && !src.Is4In6() && grp.Is6() && grp.IsMulticast()
	return src, grp, ok
}

// SetRoute installs or updates the (S,G) entry; MRT6_ADD_MFC replaces an
// existing one in place, so traffic keeps flowing during the update. Outputs
// are sorted and deduplicated and the input is dropped from them; Routes
// reports them that way. A route already installed as asked is left alone.
func (s *Socket6) SetRoute(r Route) error {
	src, grp, ok := route6Addrs(r.Source, r.Group)
	if !ok {
		return fmt.Errorf("mroute: set route (%s,%s): want an ipv6 source and multicast group", r.Source, r.Group)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec.setRoute(Route{Source: src, Group: grp, Input: r.Input, Outputs: r.Outputs})
}

// addVIF, delVIF, addMFC and delMFC make mrt6 the kernelTable of a Socket6.

func (m mrt6) addVIF(mif, ifindex, threshold int) error {
	return m.setsockopt(unix.IPPROTO_IPV6, mrt6AddMIF, encodeMIF6Ctl(binary.NativeEndian, mif, threshold, ifindex))
}

func (m mrt6) delVIF(mif, ifindex int) error {
	return m.setsockopt(unix.IPPROTO_IPV6, mrt6DelMIF, encodeMIF6Ctl(binary.NativeEndian, mif, 0, ifindex))
}

// addMFC passes only which MIFs are outputs: ip6mr gives each a threshold
// of 1 whatever the MIF says.
func (m mrt6) addMFC(src, grp netip.Addr, parent int, ttls *[MaxVIFs]uint8) error {
	var mifs []int
	for mif, ttl := range ttls {
		if ttl > 0 {
			mifs = append(mifs, mif)
		}
	}
	b, err := encodeMF6CCtl(binary.NativeEndian, src, grp, parent, mifs)
	if err != nil {
		return err
	}
	return m.setsockopt(unix.IPPROTO_IPV6, mrt6AddMFC, b)
}

func (m mrt6) delMFC(src, grp netip.Addr) error {
	b, err := encodeMF6CCtl(binary.NativeEndian, src, grp, 0, nil)
	if err != nil {
		return err
	}
	return m.setsockopt(unix.IPPROTO_IPV6, mrt6DelMFC, b)
}

// DelRoute deletes the (S,G) entry. An entry the kernel no longer has is
// drift, not an error: it is forgotten and nil returned.
func (s *Socket6) DelRoute(src, grp netip.Addr) error {
	src, grp, ok := route6Addrs(src, grp)
	if !ok {
		return fmt.Errorf("mroute: delete route (%s,%s): want an ipv6 source and multicast group", src, grp)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec.delRoute(src, grp)
}

// Routes returns the installed entries sorted by group, then source.
func (s *Socket6) Routes() []Route {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec.list()
}

// Counters reads the kernel's counters of the (S,G) entry.
func (s *Socket6) Counters(src, grp netip.Addr) (Counters, error) {
	src, grp, ok := route6Addrs(src, grp)
	if !ok {
		return Counters{}, fmt.Errorf("mroute: counters (%s,%s): want an ipv6 source and multicast group", src, grp)
	}
	req := encodeSGReq6(binary.NativeEndian, src, grp, wordSize)
	var errno syscall.Errno
	if err := s.raw.Control(func(fd uintptr) {
		_, _, errno = unix.Syscall(unix.SYS_IOCTL, fd, siocGetSGCntIn6, uintptr(unsafe.Pointer(&req[0])))
	}); err != nil {
		return Counters{}, fmt.Errorf("mroute: counters (%s,%s): %w", src, grp, err)
	}
	if errno != 0 {
		return Counters{}, fmt.Errorf("mroute: counters (%s,%s): %w", src, grp, errno)
	}
	c, err := decodeSGReq6(binary.NativeEndian, wordSize, req)
	if err != nil {
		return Counters{}, fmt.Errorf("mroute: counters (%s,%s): %w", src, grp, err)
	}
	return c, nil
}

// Read blocks until one MLD message or kernel upcall arrives. A raw ICMPv6
// socket returns the message without the IPv6 header, so the first byte is
// the ICMPv6 type for MLD and mrt6msg.im6_mbz (0) for an upcall. No ICMPv6
// message can start with 0: type 0 is reserved (IANA), and the filter set in
// Open6 passes only the MLD types, while ip6mr_cache_report queues upcalls
// with sock_queue_rcv_skb, past the filter. The kernel
// has verified the ICMPv6 checksum: raw ICMPv6 sockets always checksum, and
// recvmsg drops a message that fails.
func (s *Socket6) Read(buf []byte) (Packet, error) {
	oob := make([]byte, unix.CmsgSpace(sizeofPktinfo6)+unix.CmsgSpace(4)+unix.CmsgSpace(maxHopByHopHeader))
	var n, oobn, flags int
	var from unix.Sockaddr
	var rerr error
	err := s.raw.Read(func(fd uintptr) bool {
		n, oobn, flags, from, rerr = unix.Recvmsg(int(fd), buf, oob, 0)
		return rerr != unix.EAGAIN
	})
	if err != nil {
		// The poller reports net.ErrClosed after Close.
		return Packet{}, fmt.Errorf("mroute: read: %w", err)
	}
	if rerr != nil {
		return Packet{}, fmt.Errorf("mroute: read: %w", rerr)
	}
	if flags&unix.MSG_TRUNC != 0 {
		return Packet{}, fmt.Errorf("%w: packet longer than the %d-byte buffer", ErrMalformed, len(buf))
	}
	b := buf[:n]
	if n > 0 && b[0] == upcall6MbzByte {
		u, err := decodeUpcall6(binary.NativeEndian, b)
		if err != nil {
			return Packet{}, err
		}
		s.mu.Lock()
		u.Ifindex = s.rec.ifindex(u.VIF)
		s.mu.Unlock()
		return Packet{Upcall: &u}, nil
	}
	if n < icmp6HeaderLen {
		return Packet{}, fmt.Errorf("%w: icmpv6 message of %d bytes", ErrMalformed, n)
	}
	if flags&unix.MSG_CTRUNC != 0 {
		return Packet{}, fmt.Errorf("%w: control messages truncated", ErrMalformed)
	}
	sa, ok := from.(*unix.SockaddrInet6)
	if !ok {
		return Packet{}, fmt.Errorf("%w: icmpv6 message without an ipv6 sender", ErrMalformed)
	}
	p := Packet{Src: netip.AddrFrom16(sa.Addr), Payload: b}
	if err := parseControl6(oob[:oobn], &p); err != nil {
		return Packet{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return p, nil
}

// parseControl6 fills the arrival interface, destination, hop limit and
// Router Alert of p from the control messages. Pktinfo and hop limit are
// required: without them the arrival interface or the hop-limit check of RFC
// 3810 §5 would be guessed.
func parseControl6(oob []byte, p *Packet) error {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return fmt.Errorf("control messages: %w", err)
	}
	var havePktinfo, haveHopLimit bool
	for _, m := range msgs {
		if m.Header.Level != unix.IPPROTO_IPV6 {
			continue
		}
		switch m.Header.Type {
		case unix.IPV6_PKTINFO:
			if p.Dst, p.Ifindex, err = decodePktinfo6(binary.NativeEndian, m.Data); err != nil {
				return err
			}
			havePktinfo = true
		case unix.IPV6_HOPLIMIT:
			if p.TTL, err = decodeHopLimit(binary.NativeEndian, m.Data); err != nil {
				return err
			}
			haveHopLimit = true
		case unix.IPV6_HOPOPTS:
			if p.RouterAlert, err = scanHopByHop(m.Data); err != nil {
				return err
			}
		}
	}
	if !havePktinfo {
		return errors.New("no ipv6_pktinfo control message")
	}
	if !haveHopLimit {
		return errors.New("no ipv6_hoplimit control message")
	}
	return nil
}

// Send sends one MLD message out of ifindex with hop limit 1 and the
// Router Alert hop-by-hop option (both set on the socket in Open6). The
// egress interface and source travel with the packet as an IPV6_PKTINFO
// control message, so concurrent sends cannot pick each other's interface.
// src should be our link-local address on ifindex (RFC 3810 §5: MLD is sent
// from a link-local address); an invalid src lets the kernel choose. The
// kernel computes the ICMPv6 checksum: it always does on raw ICMPv6 sockets
// (RFC 3542 §3.1; Linux even refuses IPV6_CHECKSUM on them), whatever the
// checksum field of payload holds.
func (s *Socket6) Send(ifindex int, src, dst netip.Addr, payload []byte) error {
	if ifindex <= 0 {
		return fmt.Errorf("mroute: send mld: invalid ifindex %d", ifindex)
	}
	if !dst.Is6() || dst.Is4In6() || !dst.IsMulticast() {
		return fmt.Errorf("mroute: send mld: destination %s is not ipv6 multicast", dst)
	}
	if src.IsValid() && (!src.Is6() || src.Is4In6()) {
		return fmt.Errorf("mroute: send mld: source %s is not ipv6", src)
	}
	info := &unix.Inet6Pktinfo{Ifindex: uint32(ifindex)}
	if src.IsValid() {
		info.Addr = src.As16()
	}
	oob := unix.PktInfo6(info)
	to := &unix.SockaddrInet6{Addr: dst.As16(), ZoneId: uint32(ifindex)}
	var werr error
	err := s.raw.Write(func(fd uintptr) bool {
		werr = unix.Sendmsg(int(fd), payload, oob, to, 0)
		return werr != unix.EAGAIN
	})
	if err == nil {
		err = werr
	}
	if err != nil {
		return fmt.Errorf("mroute: send mld to %s on ifindex %d: %w", dst, ifindex, err)
	}
	return nil
}

// JoinRouterGroups joins ff02::2 and ff02::16 on ifindex so the host stack
// hands us MLDv1 dones and MLDv2 reports. The raw socket itself holds the
// memberships: IPv6 has no per-socket membership count limit like IPv4's
// igmp_max_memberships (only socket option memory, net.core.optmem_max, far
// above 64 entries), and the memberships live in the routing socket's
// namespace whichever thread calls. Joining twice does nothing.
func (s *Socket6) JoinRouterGroups(ifindex int) error {
	if ifindex <= 0 {
		return fmt.Errorf("mroute: join ipv6 router groups: invalid ifindex %d", ifindex)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rec.closed {
		return fmt.Errorf("mroute: join ipv6 router groups on ifindex %d: %w", ifindex, net.ErrClosed)
	}
	if s.joined[ifindex] {
		return nil
	}
	for j, g := range routerGroups6 {
		if err := s.membership(unix.IPV6_JOIN_GROUP, g, ifindex); err != nil {
			// Undo the half-done join so a retry starts clean.
			for _, done := range routerGroups6[:j] {
				_ = s.membership(unix.IPV6_LEAVE_GROUP, done, ifindex)
			}
			return fmt.Errorf("mroute: join %s on ifindex %d: %w", g, ifindex, err)
		}
	}
	s.joined[ifindex] = true
	return nil
}

// LeaveRouterGroups undoes JoinRouterGroups. Leaving an interface never
// joined, or one that has vanished, does nothing.
func (s *Socket6) LeaveRouterGroups(ifindex int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.joined[ifindex] {
		return nil
	}
	delete(s.joined, ifindex)
	var errs []error
	for _, g := range routerGroups6 {
		err := s.membership(unix.IPV6_LEAVE_GROUP, g, ifindex)
		// The kernel drops memberships of an interface that went away.
		if err != nil && !errors.Is(err, unix.ENODEV) && !errors.Is(err, unix.EADDRNOTAVAIL) {
			errs = append(errs, fmt.Errorf("mroute: leave %s on ifindex %d: %w", g, ifindex, err))
		}
	}
	return errors.Join(errs...)
}

func (s *Socket6) membership(op int, grp netip.Addr, ifindex int) error {
	mreq := &unix.IPv6Mreq{Multiaddr: grp.As16(), Interface: uint32(ifindex)}
	var serr error
	if err := s.raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptIPv6Mreq(int(fd), unix.IPPROTO_IPV6, op, mreq)
	}); err != nil {
		return err
	}
	return serr
}
