package mroute

import (
	"encoding/binary"
	"errors"
	"math/bits"
	"net/netip"
	"os"
	"slices"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/mcast-proxy/mcast-proxy/internal/format"
	"github.com/mcast-proxy/mcast-proxy/internal/rawsys"
)

// Socket option numbers, at level IPPROTO_IP for IPv4 (MRT_BASE 200,
// linux/mroute.h) and IPPROTO_IPV6 for IPv6 (MRT6_BASE 200,
// linux/mroute6.h): the two families number them alike.
// golang.org/x/sys/unix does not define them.
const (
	mrtInit   = 200
	mrtDone   = 201
	mrtAddVIF = 202 // MRT6_ADD_MIF
	mrtDelVIF = 203 // MRT6_DEL_MIF
	mrtAddMFC = 204
	mrtDelMFC = 205
	mrtTable  = 209

	// siocGetSGCnt is SIOCPROTOPRIVATE+1: per-(S,G) counters
	// (SIOCGETSGCNT, and SIOCGETSGCNT_IN6 for IPv6).
	siocGetSGCnt = 0x89e1
)

// wordSize is the size of a C unsigned long, which sioc_sg_req(6) uses.
const wordSize = bits.UintSize / 8

// Socket is the raw socket that owns one kernel multicast routing table of
// one family and carries that family's IGMP or MLD.
type Socket struct {
	fam   *family
	conn  *os.File        // the raw socket; its poller lets Close unblock Read
	raw   syscall.RawConn // conn's fd, for socket options, ioctls, recvmsg and sendmsg
	table uint32

	rd readState // Read's working memory: one goroutine reads

	mu      sync.Mutex  // guards the fields below
	rec     record      // installed slots and routes; rec.closed once Close has run
	ctr     counterRead // Counters' working memory
	joinFDs []int       // sockets holding router-group memberships; -1 once closed
	joined  map[int]int // by ifindex: the index in joinFDs holding its memberships
}

// Router-group memberships live on sockets of their own, made in Open so they
// belong to the same network namespace as the routing socket whichever thread
// joins later. Unbound, they never receive anything; the routing socket sees
// every IGMP or MLD message the host stack accepts, whichever socket joined.

// Open creates the raw socket of fam and makes it the owner of the given
// multicast routing table. Table 0 means the default table, selected without
// MRT_TABLE so kernels without multiple-table support work.
func Open(fam Family, table uint32) (*Socket, error) {
	f, ok := families[fam]
	if !ok {
		return nil, format.Errorf("mroute: open: unknown family %d", int(fam))
	}
	conn, err := openRaw(f.domain, f.protocol)
	if err != nil {
		return nil, format.Errorf("mroute: open raw %s socket: %w", f.proto, err)
	}
	raw, err := rawConn(conn)
	if err != nil {
		conn.Close()
		return nil, format.Errorf("mroute: open raw %s socket: %w", f.proto, err)
	}
	s := &Socket{
		fam:     f,
		conn:    conn,
		raw:     raw,
		table:   table,
		rec:     newRecord(newMRT(raw, f), f.slot),
		joinFDs: make([]int, f.joinSockets),
		joined:  make(map[int]int),
	}
	for i := range s.joinFDs {
		s.joinFDs[i] = -1
	}
	s.rd.oob = make([]byte, f.oobLen+unix.CmsgSpace(4)) // and SO_RXQ_OVFL's count
	s.rd.recv = s.rd.recvmsg
	s.rd.recvNow = s.rd.recvmsgNow
	s.ctr.ioctl = s.ctr.ioctlOnFD
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
			errs = append(errs, format.Errorf("mroute: close membership socket: %w", err))
		}
		s.joinFDs[i] = -1
	}
	clear(s.joined)
	return errors.Join(errs...)
}

func (s *Socket) init() error {
	f := s.fam
	for i := range s.joinFDs {
		fd, err := unix.Socket(f.joinDomain, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
		if err != nil {
			return format.Errorf("mroute: open membership socket: %w", err)
		}
		s.joinFDs[i] = fd
	}
	for _, o := range f.early {
		if err := s.setsockopt(o.level, o.opt, o.val); err != nil {
			return format.Errorf("mroute: set %s: %w", o.name, err)
		}
	}
	if err := s.dropLoopedBack(); err != nil {
		return format.Errorf("mroute: attach the looped-back filter: %w", err)
	}
	// Each message then says how many the kernel dropped before it: the
	// daemon learns of a full receive buffer with no call of its own.
	if err := s.setsockopt(unix.SOL_SOCKET, unix.SO_RXQ_OVFL, binary.NativeEndian.AppendUint32(nil, 1)); err != nil {
		return format.Errorf("mroute: set SO_RXQ_OVFL: %w", err)
	}
	if s.table != 0 {
		// MRT_TABLE must come before MRT_INIT; it takes a u32.
		err := s.setsockopt(f.level, mrtTable, binary.NativeEndian.AppendUint32(nil, s.table))
		if errors.Is(err, unix.ENOPROTOOPT) {
			return format.Errorf("mroute: select %s table %d: the kernel lacks multiple multicast routing tables (%s_MULTIPLE_TABLES): %w", f, s.table, f.kconfig, err)
		}
		if err != nil {
			return format.Errorf("mroute: select %s table %d: %w", f, s.table, err)
		}
	}
	err := s.setsockopt(f.level, mrtInit, binary.NativeEndian.AppendUint32(nil, 1))
	switch {
	case errors.Is(err, unix.EADDRINUSE):
		return format.Errorf("%w (%s table %d: %w)", ErrInUse, f, s.table, err)
	case errors.Is(err, unix.ENOPROTOOPT), errors.Is(err, unix.EOPNOTSUPP):
		return format.Errorf("mroute: init %s table %d: the kernel lacks %s multicast routing (%s): %w", f, s.table, f, f.kconfig, err)
	case err != nil:
		return format.Errorf("mroute: init %s table %d: %w", f, s.table, err)
	}
	for _, o := range f.options {
		if err := s.setsockopt(o.level, o.opt, o.val); err != nil {
			// Leave the table the way we found it; closing does the same.
			_ = s.setsockopt(f.level, mrtDone, nil)
			return format.Errorf("mroute: set %s: %w", o.name, err)
		}
	}
	if err := setReceiveBuffer(s.raw, receiveBuffer); err != nil {
		_ = s.setsockopt(f.level, mrtDone, nil)
		return err
	}
	return nil
}

// skfAdPktType is where a classic BPF program loads the packet's type
// from: SKF_AD_OFF (-0x1000) + SKF_AD_PKTTYPE (4), linux/filter.h, which
// golang.org/x/sys/unix does not define.
const skfAdPktType = 0xfffff000 + 4

// loopedBackFilter is a classic BPF program that drops what the host's
// own multicast output loops back (packet type PACKET_LOOPBACK) and keeps
// the rest. That is the MLD reports the router's kernel sends for the
// upstream subscription and for its own memberships on every link (IPv4's
// do not reach the socket): each would wake the daemon only to be dropped
// as its own. The socket's own queries do not
// loop back (multicast loop is off); kernel upcalls are built as new packets
// of type PACKET_HOST and pass.
var loopedBackFilter = []unix.SockFilter{
	// A = skb->pkt_type; drop if PACKET_LOOPBACK, else keep it all.
	{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: skfAdPktType},
	{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 1, K: unix.PACKET_LOOPBACK},
	{Code: unix.BPF_RET | unix.BPF_K, K: 0xffffffff},
	{Code: unix.BPF_RET | unix.BPF_K, K: 0},
}

func (s *Socket) dropLoopedBack() error {
	prog := unix.SockFprog{Len: uint16(len(loopedBackFilter)), Filter: &loopedBackFilter[0]}
	var serr error
	if err := s.raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptSockFprog(int(fd), unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &prog)
	}); err != nil {
		return err
	}
	return serr
}

// setsockopt sets one option with a byte-encoded value.
func (s *Socket) setsockopt(level, opt int, val []byte) error {
	return setOption(s.raw, level, opt, val)
}

func setOption(raw syscall.RawConn, level, opt int, val []byte) error {
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = rawsys.Setsockopt(int(fd), level, opt, val)
	}); err != nil {
		return err
	}
	return serr
}

// mrt issues the multicast routing socket options of one family; it is the
// kernelTable of a Socket's record. The record's calls are serialized (by
// the Socket's mutex), so one buffer and one bound call serve them all and
// installing a forwarding entry allocates nothing: a burst of joins would
// leave each allocation as garbage the heap grows into.
type mrt struct {
	raw syscall.RawConn
	fam *family
	buf []byte // the last mfcctl built

	// The pending option, which set passes to the kernel, and its result.
	level, opt int
	val        []byte
	err        error
	set        func(fd uintptr) // m.setOnFD, bound once
}

func newMRT(raw syscall.RawConn, fam *family) *mrt {
	m := &mrt{raw: raw, fam: fam}
	m.set = m.setOnFD
	return m
}

func (m *mrt) setOnFD(fd uintptr) {
	m.err = rawsys.Setsockopt(int(fd), m.level, m.opt, m.val)
}

func (m *mrt) setsockopt(level, opt int, val []byte) error {
	m.level, m.opt, m.val = level, opt, val
	err := m.raw.Control(m.set)
	m.val = nil
	if err != nil {
		return err
	}
	return m.err
}

func (m *mrt) addVIF(slot, ifindex, threshold int) error {
	return m.setsockopt(m.fam.level, mrtAddVIF, m.fam.vifctl(binary.NativeEndian, slot, threshold, ifindex))
}

func (m *mrt) delVIF(slot, ifindex int) error {
	return m.setsockopt(m.fam.level, mrtDelVIF, m.fam.vifctl(binary.NativeEndian, slot, 0, ifindex))
}

func (m *mrt) addMFC(src, grp netip.Addr, parent int, ttls *[MaxVIFs]uint8) error {
	b, err := m.fam.mfcctl(m.buf, binary.NativeEndian, src, grp, parent, ttls)
	if err != nil {
		return err
	}
	m.buf = b
	return m.setsockopt(m.fam.level, mrtAddMFC, b)
}

// noOutputs is the outputs of an entry being deleted, which the kernel
// ignores; shared and never written, so that deleting allocates nothing.
var noOutputs [MaxVIFs]uint8

func (m *mrt) delMFC(src, grp netip.Addr) error {
	b, err := m.fam.mfcctl(m.buf, binary.NativeEndian, src, grp, 0, &noOutputs)
	if err != nil {
		return err
	}
	m.buf = b
	return m.setsockopt(m.fam.level, mrtDelMFC, b)
}

// Close removes every route and slot this socket installed, leaves the
// router groups, gives up the table (MRT_DONE) and closes the socket, which
// unblocks Read. A second call does nothing.
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
	if err := s.setsockopt(s.fam.level, mrtDone, nil); err != nil {
		errs = append(errs, format.Errorf("mroute: close: release %s table %d: %w", s.fam, s.table, err))
	}
	if err := s.conn.Close(); err != nil {
		errs = append(errs, format.Errorf("mroute: close: %w", err))
	}
	return errors.Join(errs...)
}

// AddVIF makes ifindex a VIF (MIF) in the lowest free slot and returns the
// slot. Adding an ifindex that already has a slot returns that slot and keeps
// its threshold.
//
// IPv4: a packet must have a TTL above threshold to be forwarded out of the
// VIF (0 is treated as 1, since a TTL-1 packet must never leave the link).
// IPv6: the threshold is handed to the kernel and kept, but ip6mr forwards by
// the route alone: every output of an entry has threshold 1, so a packet
// needs a hop limit above 1 whatever the MIF says.
func (s *Socket) AddVIF(ifindex, threshold int) (int, error) {
	if ifindex <= 0 || ifindex > s.fam.maxIfindex {
		return 0, format.Errorf("mroute: add %s: invalid ifindex %d", s.fam.slot, ifindex)
	}
	if threshold < 0 || threshold > 255 {
		return 0, format.Errorf("mroute: add %s for ifindex %d: threshold %d out of range 0-255", s.fam.slot, ifindex, threshold)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec.addVIF(ifindex, threshold)
}

// DelVIF removes the slot of ifindex. Routes arriving on it are deleted and
// it is stripped from the outputs of the others (which are re-installed), so
// our record matches the kernel and a later interface in the same slot
// inherits nothing. Deleting an ifindex without a slot does nothing.
func (s *Socket) DelVIF(ifindex int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec.delVIF(ifindex)
}

// VIF returns the VIF (MIF) slot of ifindex.
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
	src, grp, ok := s.fam.routeAddrs(r.Source, r.Group)
	if !ok {
		return format.Errorf("mroute: set route (%s,%s): want an %s source and multicast group", r.Source, r.Group, s.fam)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec.setRoute(Route{Source: src, Group: grp, Input: r.Input, Outputs: r.Outputs})
}

// DelRoute deletes the (S,G) entry. An entry the kernel no longer has is
// drift, not an error: it is forgotten and nil returned.
func (s *Socket) DelRoute(src, grp netip.Addr) error {
	src, grp, ok := s.fam.routeAddrs(src, grp)
	if !ok {
		return format.Errorf("mroute: delete route (%s,%s): want an %s source and multicast group", src, grp, s.fam)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec.delRoute(src, grp)
}

// NumRoutes returns how many entries are installed.
func (s *Socket) NumRoutes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.rec.routes)
}

// Routes returns the installed entries sorted by group, then source.
func (s *Socket) Routes() []Route {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec.list()
}

// RouteKeys returns the keys of the installed routes sorted by group, then
// source: a status answer lists them a page at a time (Route).
func (s *Socket) RouteKeys() []Key {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec.keys()
}

// Route returns the installed route k. Its outputs are appended to
// outputs, so a caller that passes the same room each time allocates
// nothing.
func (s *Socket) Route(k Key, outputs []int) (Route, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec.lookupRoute(k, outputs)
}

// Counters reads the kernel's counters of the (S,G) entry.
func (s *Socket) Counters(src, grp netip.Addr) (Counters, error) {
	src, grp, ok := s.fam.routeAddrs(src, grp)
	if !ok {
		return Counters{}, format.Errorf("mroute: counters (%s,%s): want an %s source and multicast group", src, grp, s.fam)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := &s.ctr
	c.req = s.fam.sgReq(c.req, binary.NativeEndian, src, grp, wordSize)
	if err := s.raw.Control(c.ioctl); err != nil {
		return Counters{}, format.Errorf("mroute: counters (%s,%s): %w", src, grp, err)
	}
	if c.errno != 0 {
		return Counters{}, format.Errorf("mroute: counters (%s,%s): %w", src, grp, c.errno)
	}
	cnt, err := s.fam.sgCounters(binary.NativeEndian, wordSize, c.req)
	if err != nil {
		return Counters{}, format.Errorf("mroute: counters (%s,%s): %w", src, grp, err)
	}
	return cnt, nil
}

// counterRead is what Counters keeps between calls so that reading an
// entry's counters allocates nothing: the daemon reads every flow's at each
// ageing check and every route's for a status answer, a thousand reads at
// a time with a thousand groups.
type counterRead struct {
	req   []byte // the sioc_sg_req(6) the kernel fills in
	errno syscall.Errno
	ioctl func(fd uintptr) // ioctlOnFD, bound once
}

func (c *counterRead) ioctlOnFD(fd uintptr) {
	_, _, c.errno = unix.RawSyscall(unix.SYS_IOCTL, fd, siocGetSGCnt, uintptr(unsafe.Pointer(&c.req[0])))
}

// readState is what Read keeps between reads so that reading a report
// allocates nothing: the control message buffer, the sender's address,
// and the function the poller calls, bound once (a closure over Read's
// variables would escape to the heap on every read).
type readState struct {
	buf, oob       []byte
	from           unix.RawSockaddrAny
	n, oobn, flags int
	err            error
	recv           func(fd uintptr) bool // recvmsg, bound to this reader
	recvNow        func(fd uintptr)      // the same, for ReadWaiting
}

func (r *readState) recvmsg(fd uintptr) bool {
	r.n, r.oobn, r.flags, r.err = rawsys.Recvmsg(int(fd), r.buf, r.oob, &r.from)
	return r.err != unix.EAGAIN
}

func (r *readState) recvmsgNow(fd uintptr) { r.recvmsg(fd) }

// Read blocks until one IGMP or MLD message or kernel upcall arrives. One
// goroutine reads: Read and ReadWaiting must not be called concurrently.
func (s *Socket) Read(buf []byte) (Packet, error) {
	r := &s.rd
	r.buf = buf
	err := s.raw.Read(r.recv)
	r.buf = nil
	if err != nil {
		// The poller reports os.ErrClosed after Close.
		return Packet{}, format.Errorf("mroute: read: %w", err)
	}
	return s.received(buf)
}

// ReadWaiting reads one message or upcall if one is waiting in the
// socket's receive buffer, and reports false if none is: it never blocks.
// It is for a caller that waits for the socket itself (Descriptor).
func (s *Socket) ReadWaiting(buf []byte) (Packet, bool, error) {
	r := &s.rd
	r.buf = buf
	err := s.raw.Control(r.recvNow)
	r.buf = nil
	if err != nil {
		// os.ErrClosed after Close.
		return Packet{}, false, format.Errorf("mroute: read: %w", err)
	}
	if r.err == unix.EAGAIN {
		return Packet{}, false, nil
	}
	p, err := s.received(buf)
	return p, true, err
}

// Descriptor is the socket's file descriptor, for a caller that waits for
// it to become readable (epoll) and then calls ReadWaiting; -1 once closed.
// It stays valid until Close.
func (s *Socket) Descriptor() int {
	fd := -1
	if err := s.raw.Control(func(f uintptr) { fd = int(f) }); err != nil {
		return -1
	}
	return fd
}

// received decodes what the last recvmsg put in buf.
func (s *Socket) received(buf []byte) (Packet, error) {
	r := &s.rd
	if r.err != nil {
		return Packet{}, format.Errorf("mroute: read: %w", r.err)
	}
	if r.flags&unix.MSG_TRUNC != 0 {
		return Packet{}, format.Errorf("%w: packet longer than the %d-byte buffer", ErrMalformed, len(buf))
	}
	b, oob := buf[:r.n], r.oob[:r.oobn]
	drops := kernelDrops(oob)
	if s.fam.isUpcall(b) {
		u, err := s.fam.upcall(binary.NativeEndian, b)
		if err != nil {
			return Packet{}, err
		}
		s.mu.Lock()
		u.Ifindex = s.rec.ifindex(u.VIF)
		if u.Type == UpcallNoCache {
			s.rec.kernelHasNoRoute(u.Source, u.Group)
		}
		s.mu.Unlock()
		return Packet{Upcall: &u, KernelDrops: drops}, nil
	}
	p, err := s.fam.parse(b, oob, r.flags, rawsys.SenderAddr(&r.from))
	p.KernelDrops = drops
	return p, err
}

// kernelDrops is the drop count of the SO_RXQ_OVFL control message in oob,
// or 0 if there is none (the kernel leaves it out until the first drop).
func kernelDrops(oob []byte) uint32 {
	for len(oob) > 0 {
		h, data, rest, err := unix.ParseOneSocketControlMessage(oob)
		if err != nil {
			return 0
		}
		if h.Level == unix.SOL_SOCKET && h.Type == unix.SO_RXQ_OVFL && len(data) >= 4 {
			return binary.NativeEndian.Uint32(data)
		}
		oob = rest
	}
	return 0
}

// Send sends one IGMP or MLD message out of ifindex with TTL (hop limit) 1
// and Router Alert. The egress interface travels with the packet as a
// packet-info control message, so no socket-wide state is changed and
// concurrent sends cannot pick each other's interface. An invalid src lets
// the kernel choose the interface's address.
func (s *Socket) Send(ifindex int, src, dst netip.Addr, payload []byte) error {
	if ifindex <= 0 {
		return format.Errorf("mroute: send %s: invalid ifindex %d", s.fam.proto, ifindex)
	}
	pkt, oob, to, err := s.fam.message(ifindex, src, dst, payload)
	if err != nil {
		return err
	}
	var werr error
	err = s.raw.Write(func(fd uintptr) bool {
		werr = rawsys.Sendmsg(int(fd), pkt, oob, to)
		return werr != unix.EAGAIN
	})
	if err == nil {
		err = werr
	}
	if err != nil {
		return format.Errorf("mroute: send %s to %s on ifindex %d: %w", s.fam.proto, dst, ifindex, err)
	}
	return nil
}

// JoinRouterGroups joins the family's router groups on ifindex (224.0.0.2
// and 224.0.0.22, ff02::2 and ff02::16) so the host stack hands us leaves,
// dones and version 2/3 reports, which go to those link-scope groups. Joining
// twice does nothing.
func (s *Socket) JoinRouterGroups(ifindex int) error {
	if ifindex <= 0 {
		return format.Errorf("mroute: join router groups: invalid ifindex %d", ifindex)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rec.closed {
		return format.Errorf("mroute: join router groups on ifindex %d: %w", ifindex, os.ErrClosed)
	}
	if _, ok := s.joined[ifindex]; ok {
		return nil
	}
	use := make([]int, len(s.joinFDs))
	for _, i := range s.joined {
		use[i]++
	}
	perSocket := MaxVIFs / len(s.joinFDs)
	i := slices.IndexFunc(use, func(n int) bool { return n < perSocket })
	if i < 0 {
		return format.Errorf("mroute: join router groups on ifindex %d: already joined on %d interfaces", ifindex, len(s.joined))
	}
	for j, g := range s.fam.routerGroups {
		if err := s.fam.membership(s.joinFDs[i], true, g, ifindex); err != nil {
			// Undo the half-done join so a retry starts clean.
			for _, done := range s.fam.routerGroups[:j] {
				_ = s.fam.membership(s.joinFDs[i], false, done, ifindex)
			}
			return format.Errorf("mroute: join %s on ifindex %d: %w", g, ifindex, err)
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
	for _, g := range s.fam.routerGroups {
		err := s.fam.membership(s.joinFDs[i], false, g, ifindex)
		// ENODEV: the interface is gone and took its memberships with it.
		if err != nil && !errors.Is(err, unix.ENODEV) && !errors.Is(err, unix.EADDRNOTAVAIL) {
			errs = append(errs, format.Errorf("mroute: leave %s on ifindex %d: %w", g, ifindex, err))
		}
	}
	return errors.Join(errs...)
}
