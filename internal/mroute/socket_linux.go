package mroute

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"net"
	"net/netip"
	"slices"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Socket option numbers at level IPPROTO_IP (MRT_BASE 200, linux/mroute.h);
// golang.org/x/sys/unix does not define them.
const (
	mrtInit   = 200
	mrtDone   = 201
	mrtAddVIF = 202
	mrtDelVIF = 203
	mrtAddMFC = 204
	mrtDelMFC = 205
	mrtTable  = 209

	// siocGetSGCnt is SIOCPROTOPRIVATE+1: per-(S,G) counters.
	siocGetSGCnt = 0x89e1
)

// Socket is the raw IGMP socket that owns one kernel multicast routing table.
type Socket struct {
	conn  *net.IPConn     // raw IPPROTO_IGMP; its poller lets Close unblock Read
	raw   syscall.RawConn // conn's fd, for socket options, ioctls, recvmsg and sendmsg
	table uint32

	mu      sync.Mutex       // guards the fields below
	rec     record           // installed VIFs and routes; rec.closed once Close has run
	joinFDs [joinSockets]int // sockets holding router-group memberships; -1 once closed
	joined  map[int]int      // by ifindex: the index in joinFDs holding its memberships
}

// mrt issues the IPv4 multicast routing socket options (linux/mroute.h).
type mrt struct{ raw syscall.RawConn }

// Router-group memberships live on sockets of their own: one socket may hold
// only net.ipv4.igmp_max_memberships groups (20 by default), and 32 VIFs need
// 64. The sockets are made in Open, so they belong to the same network
// namespace as the routing socket whichever thread joins later. Unbound, they
// never receive anything; the raw socket sees every IGMP message the host
// stack accepts, whichever socket joined.
const (
	joinSockets       = 4
	ifacesPerJoinSock = MaxVIFs / joinSockets // 2 groups each: 16 memberships
)

// routerGroups are joined on every downstream interface so the host stack
// accepts IGMPv2 leaves (RFC 2236 §3: to all-routers) and IGMPv3 reports
// (RFC 3376 §4.2.14: to 224.0.0.22), which are link-local and therefore not
// handed to multicast routing.
var routerGroups = [...]netip.Addr{
	netip.AddrFrom4([4]byte{224, 0, 0, 2}),
	netip.AddrFrom4([4]byte{224, 0, 0, 22}),
}

// wordSize is the size of a C unsigned long, which sioc_sg_req uses.
const wordSize = bits.UintSize / 8

// Open creates the raw IGMP socket and makes it the owner of the given
// multicast routing table. Table 0 means the default table, selected without
// MRT_TABLE so kernels without multiple-table support work.
func Open(table uint32) (*Socket, error) {
	pc, err := net.ListenPacket(fmt.Sprintf("ip4:%d", ipProtoIGMP), "0.0.0.0")
	if err != nil {
		return nil, fmt.Errorf("mroute: open raw igmp socket: %w", err)
	}
	conn := pc.(*net.IPConn)
	raw, err := conn.SyscallConn()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("mroute: open raw igmp socket: %w", err)
	}
	s := &Socket{
		conn:   conn,
		raw:    raw,
		table:  table,
		rec:    newRecord(mrt{raw}, "vif"),
		joined: make(map[int]int),
	}
	for i := range s.joinFDs {
		s.joinFDs[i] = -1
	}
	if err := s.init(); err != nil {
		s.closeJoinSockets()
		conn.Close()
		return nil, err
	}
	return s, nil
}

func (s *Socket) closeJoinSockets() error {
	var errs []error
	for i, fd := range s.joinFDs {
		if fd < 0 {
			continue
		}
		if err := unix.Close(fd); err != nil {
			errs = append(errs, fmt.Errorf("mroute: close membership socket: %w", err))
		}
		s.joinFDs[i] = -1
	}
	clear(s.joined)
	return errors.Join(errs...)
}

func (s *Socket) init() error {
	for i := range s.joinFDs {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
		if err != nil {
			return fmt.Errorf("mroute: open membership socket: %w", err)
		}
		s.joinFDs[i] = fd
	}
	if s.table != 0 {
		// MRT_TABLE must come before MRT_INIT; it takes a u32.
		v := binary.NativeEndian.AppendUint32(nil, s.table)
		err := s.setsockopt(mrtTable, v)
		if errors.Is(err, unix.ENOPROTOOPT) {
			return fmt.Errorf("mroute: select table %d: the kernel lacks multiple multicast routing tables (CONFIG_IP_MROUTE_MULTIPLE_TABLES): %w", s.table, err)
		}
		if err != nil {
			return fmt.Errorf("mroute: select table %d: %w", s.table, err)
		}
	}
	err := s.setsockopt(mrtInit, binary.NativeEndian.AppendUint32(nil, 1))
	switch {
	case errors.Is(err, unix.EADDRINUSE):
		return fmt.Errorf("%w (table %d: %w)", ErrInUse, s.table, err)
	case errors.Is(err, unix.ENOPROTOOPT), errors.Is(err, unix.EOPNOTSUPP):
		return fmt.Errorf("mroute: init table %d: the kernel lacks multicast routing (CONFIG_IP_MROUTE): %w", s.table, err)
	case err != nil:
		return fmt.Errorf("mroute: init table %d: %w", s.table, err)
	}
	opts := []struct {
		name string
		opt  int
		val  int
	}{
		{"IP_PKTINFO", unix.IP_PKTINFO, 1},               // arrival ifindex of every packet
		{"IP_HDRINCL", unix.IP_HDRINCL, 1},               // we build the header for TTL, TOS and Router Alert
		{"IP_MULTICAST_LOOP", unix.IP_MULTICAST_LOOP, 0}, // do not read our own queries back
	}
	for _, o := range opts {
		var serr error
		if err := s.raw.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, o.opt, o.val)
		}); err != nil {
			serr = err
		}
		if serr != nil {
			// Open closes the socket, which releases the table.
			return fmt.Errorf("mroute: set %s: %w", o.name, serr)
		}
	}
	return nil
}

// setsockopt sets one IPPROTO_IP option with a byte-encoded value.
func (s *Socket) setsockopt(opt int, val []byte) error {
	return mrt{s.raw}.setsockopt(opt, val)
}

func (m mrt) setsockopt(opt int, val []byte) error {
	var serr error
	if err := m.raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptString(int(fd), unix.IPPROTO_IP, opt, string(val))
	}); err != nil {
		return err
	}
	return serr
}

// Close removes every route and VIF this socket installed, leaves the router
// groups, gives up the table (MRT_DONE) and closes the socket, which unblocks
// Read. A second call does nothing.
func (s *Socket) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rec.closed {
		return nil
	}
	errs := s.rec.close()
	// Closing the membership sockets leaves the router groups.
	if err := s.closeJoinSockets(); err != nil {
		errs = append(errs, err)
	}
	if err := s.setsockopt(mrtDone, nil); err != nil {
		errs = append(errs, fmt.Errorf("mroute: close: release table %d: %w", s.table, err))
	}
	if err := s.conn.Close(); err != nil {
		errs = append(errs, fmt.Errorf("mroute: close: %w", err))
	}
	return errors.Join(errs...)
}

// AddVIF makes ifindex a VIF in the lowest free slot and returns the slot. A
// packet must have a TTL above threshold to be forwarded out of it (0 is
// treated as 1, since a TTL-1 packet must never leave the link). Adding an
// ifindex that already has a VIF returns that VIF and keeps its threshold.
func (s *Socket) AddVIF(ifindex, threshold int) (int, error) {
	if ifindex <= 0 {
		return 0, fmt.Errorf("mroute: add vif: invalid ifindex %d", ifindex)
	}
	if threshold < 0 || threshold > 255 {
		return 0, fmt.Errorf("mroute: add vif for ifindex %d: ttl threshold %d out of range 0-255", ifindex, threshold)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec.addVIF(ifindex, threshold)
}

// DelVIF removes the VIF of ifindex. Routes arriving on it are deleted and it
// is stripped from the outputs of the others (which are re-installed), so our
// record matches the kernel and a later VIF in the same slot inherits nothing.
// Deleting an ifindex without a VIF does nothing.
func (s *Socket) DelVIF(ifindex int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec.delVIF(ifindex)
}

// VIF returns the VIF slot of ifindex.
func (s *Socket) VIF(ifindex int) (vif int, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec.lookup(ifindex)
}

// SetRoute installs or updates the (S,G) entry; MRT_ADD_MFC replaces an
// existing one in place, so traffic keeps flowing during the update. Outputs
// are sorted and deduplicated and the input is dropped from them (the kernel
// never forwards back out of the input); Routes reports them that way. A route
// already installed as asked is left alone.
func (s *Socket) SetRoute(r Route) error {
	src, grp := r.Source.Unmap(), r.Group.Unmap()
	if !src.Is4() || !grp.Is4() || !grp.IsMulticast() {
		return fmt.Errorf("mroute: set route (%s,%s): want an ipv4 source and multicast group", r.Source, r.Group)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec.setRoute(Route{Source: src, Group: grp, Input: r.Input, Outputs: r.Outputs})
}

// addVIF, delVIF, addMFC and delMFC make mrt the kernelTable of a Socket.

func (m mrt) addVIF(vif, ifindex, threshold int) error {
	return m.setsockopt(mrtAddVIF, encodeVIFCtl(binary.NativeEndian, vif, threshold, ifindex))
}

func (m mrt) delVIF(vif, ifindex int) error {
	return m.setsockopt(mrtDelVIF, encodeVIFCtl(binary.NativeEndian, vif, 0, ifindex))
}

func (m mrt) addMFC(src, grp netip.Addr, parent int, ttls *[MaxVIFs]uint8) error {
	return m.setsockopt(mrtAddMFC, encodeMFCCtl(binary.NativeEndian, src, grp, parent, ttls))
}

func (m mrt) delMFC(src, grp netip.Addr) error {
	var ttls [MaxVIFs]uint8
	return m.setsockopt(mrtDelMFC, encodeMFCCtl(binary.NativeEndian, src, grp, 0, &ttls))
}

// DelRoute deletes the (S,G) entry. An entry the kernel no longer has is
// drift, not an error: it is forgotten and nil returned.
func (s *Socket) DelRoute(src, grp netip.Addr) error {
	src, grp = src.Unmap(), grp.Unmap()
	if !src.Is4() || !grp.Is4() {
		return fmt.Errorf("mroute: delete route (%s,%s): want ipv4 addresses", src, grp)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec.delRoute(src, grp)
}

// Routes returns the installed entries sorted by group, then source.
func (s *Socket) Routes() []Route {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec.list()
}

// Counters reads the kernel's counters of the (S,G) entry.
func (s *Socket) Counters(src, grp netip.Addr) (Counters, error) {
	src, grp = src.Unmap(), grp.Unmap()
	if !src.Is4() || !grp.Is4() {
		return Counters{}, fmt.Errorf("mroute: counters (%s,%s): want ipv4 addresses", src, grp)
	}
	req := encodeSGReq(src, grp, wordSize)
	var errno syscall.Errno
	if err := s.raw.Control(func(fd uintptr) {
		_, _, errno = unix.Syscall(unix.SYS_IOCTL, fd, siocGetSGCnt, uintptr(unsafe.Pointer(&req[0])))
	}); err != nil {
		return Counters{}, fmt.Errorf("mroute: counters (%s,%s): %w", src, grp, err)
	}
	if errno != 0 {
		return Counters{}, fmt.Errorf("mroute: counters (%s,%s): %w", src, grp, errno)
	}
	c, err := decodeSGReq(binary.NativeEndian, wordSize, req)
	if err != nil {
		return Counters{}, fmt.Errorf("mroute: counters (%s,%s): %w", src, grp, err)
	}
	return c, nil
}

// Read blocks until one IGMP message or kernel upcall arrives. Upcalls carry
// the protocol byte 0 in the copied IP header, IGMP carries 2.
func (s *Socket) Read(buf []byte) (Packet, error) {
	oob := make([]byte, unix.CmsgSpace(sizeofPktinfo))
	var n, oobn, flags int
	var rerr error
	err := s.raw.Read(func(fd uintptr) bool {
		n, oobn, flags, _, rerr = unix.Recvmsg(int(fd), buf, oob, 0)
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
	if n >= ipHeaderLen && b[9] == upcallProtoByte {
		u, err := decodeUpcall(b)
		if err != nil {
			return Packet{}, err
		}
		s.mu.Lock()
		u.Ifindex = s.rec.ifindex(u.VIF)
		s.mu.Unlock()
		return Packet{Upcall: &u}, nil
	}
	h, err := parseIPv4Header(b, true)
	if err != nil {
		return Packet{}, err
	}
	if h.protocol != ipProtoIGMP {
		return Packet{}, fmt.Errorf("%w: ip protocol %d on the igmp socket", ErrMalformed, h.protocol)
	}
	ifindex, err := pktinfoIfindex(oob[:oobn])
	if err != nil {
		return Packet{}, err
	}
	return Packet{
		Ifindex:     ifindex,
		Src:         h.src,
		Dst:         h.dst,
		TTL:         h.ttl,
		RouterAlert: h.routerAlert,
		Payload:     b[h.headerLen:h.totalLen],
	}, nil
}

// pktinfoIfindex finds the IP_PKTINFO control message; without it the
// arrival interface is unknown, and guessing from the source would be wrong.
func pktinfoIfindex(oob []byte) (int, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return 0, fmt.Errorf("%w: control messages: %w", ErrMalformed, err)
	}
	for _, m := range msgs {
		if m.Header.Level == unix.IPPROTO_IP && m.Header.Type == unix.IP_PKTINFO {
			ifindex, err := decodePktinfo(binary.NativeEndian, m.Data)
			if err != nil {
				return 0, fmt.Errorf("%w: %w", ErrMalformed, err)
			}
			return ifindex, nil
		}
	}
	return 0, fmt.Errorf("%w: no ip_pktinfo control message", ErrMalformed)
}

// Send sends one IGMP message out of ifindex with our own IP header (TTL
// 1, TOS 0xc0, Router Alert). The egress interface travels with the packet as
// an IP_PKTINFO control message, so no socket-wide state is changed and
// concurrent sends cannot pick each other's interface. An invalid or
// unspecified src lets the kernel use the interface's address.
func (s *Socket) Send(ifindex int, src, dst netip.Addr, payload []byte) error {
	if ifindex <= 0 {
		return fmt.Errorf("mroute: send igmp: invalid ifindex %d", ifindex)
	}
	pkt, err := buildIGMPPacket(src.Unmap(), dst.Unmap(), payload)
	if err != nil {
		return err
	}
	oob := unix.PktInfo4(&unix.Inet4Pktinfo{Ifindex: int32(ifindex)})
	to := &unix.SockaddrInet4{Addr: dst.Unmap().As4()}
	var werr error
	err = s.raw.Write(func(fd uintptr) bool {
		werr = unix.Sendmsg(int(fd), pkt, oob, to, 0)
		return werr != unix.EAGAIN
	})
	if err == nil {
		err = werr
	}
	if err != nil {
		return fmt.Errorf("mroute: send igmp to %s on ifindex %d: %w", dst, ifindex, err)
	}
	return nil
}

// JoinRouterGroups joins 224.0.0.2 and 224.0.0.22 on ifindex so the host
// stack hands us IGMPv2 leaves and IGMPv3 reports. Joining twice does nothing.
func (s *Socket) JoinRouterGroups(ifindex int) error {
	if ifindex <= 0 {
		return fmt.Errorf("mroute: join router groups: invalid ifindex %d", ifindex)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rec.closed {
		return fmt.Errorf("mroute: join router groups on ifindex %d: %w", ifindex, net.ErrClosed)
	}
	if _, ok := s.joined[ifindex]; ok {
		return nil
	}
	var use [joinSockets]int
	for _, i := range s.joined {
		use[i]++
	}
	i := slices.IndexFunc(use[:], func(n int) bool { return n < ifacesPerJoinSock })
	if i < 0 {
		return fmt.Errorf("mroute: join router groups on ifindex %d: already joined on %d interfaces", ifindex, len(s.joined))
	}
	for j, g := range routerGroups {
		if err := membership(unix.IP_ADD_MEMBERSHIP, s.joinFDs[i], g, ifindex); err != nil {
			// Undo the half-done join so a retry starts clean.
			for _, done := range routerGroups[:j] {
				_ = membership(unix.IP_DROP_MEMBERSHIP, s.joinFDs[i], done, ifindex)
			}
			return fmt.Errorf("mroute: join %s on ifindex %d: %w", g, ifindex, err)
		}
	}
	s.joined[ifindex] = i
	return nil
}

// LeaveRouterGroups undoes JoinRouterGroups. Leaving an interface never
// joined, or one that has vanished, does nothing.
func (s *Socket) LeaveRouterGroups(ifindex int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.joined[ifindex]
	if !ok {
		return nil
	}
	delete(s.joined, ifindex)
	var errs []error
	for _, g := range routerGroups {
		err := membership(unix.IP_DROP_MEMBERSHIP, s.joinFDs[i], g, ifindex)
		// ENODEV: the interface is gone and took its memberships with it.
		if err != nil && !errors.Is(err, unix.ENODEV) && !errors.Is(err, unix.EADDRNOTAVAIL) {
			errs = append(errs, fmt.Errorf("mroute: leave %s on ifindex %d: %w", g, ifindex, err))
		}
	}
	return errors.Join(errs...)
}

func membership(op, fd int, grp netip.Addr, ifindex int) error {
	return unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, op, &unix.IPMreqn{Multiaddr: grp.As4(), Ifindex: int32(ifindex)})
}
