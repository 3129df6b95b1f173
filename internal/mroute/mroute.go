// Package mroute is the daemon's kernel edge for multicast routing, one
// Socket per address family: a raw socket (IPPROTO_IGMP for IPv4,
// IPPROTO_ICMPV6 for IPv6) that owns a Linux multicast routing table
// (MRT_INIT, MRT6_INIT), holds the interface slots (VIFs, MIFs for IPv6) and
// forwarding entries (MFC) the daemon wants, receives IGMP or MLD messages and
// kernel upcalls, and sends our own queries. The two families share every
// method; what differs (socket option level, struct layouts, how a packet is
// read and built) is a small per-family description.
//
// The socket remembers what it installed, so callers can state what they want
// (SetRoute) and only the difference reaches the kernel; ENOENT on delete is
// treated as drift, not as an error. Closing the socket removes everything it
// installed: the kernel would wipe it anyway when the owner goes away, and doing
// it explicitly keeps Routes and the kernel in step while Close runs.
//
// Concurrency: Read may be called from one goroutine while any other method
// runs in another; it returns an error wrapping os.ErrClosed once Close has
// been called. The remaining methods are safe to call from several goroutines,
// though the daemon is expected to call them from its single loop goroutine.
//
// Namespaces: Open creates all the sockets a Socket uses, in the network
// namespace of the calling thread; later calls may come from any thread.
//
// Kernel structs are encoded by hand with encoding/binary, in host byte order
// for host-order fields and network order for addresses; the pure encoders take
// the byte order as a parameter so their tests can check big-endian layouts on
// any machine.
package mroute

import (
	"errors"
	"net/netip"

	"github.com/mcast-proxy/mcast-proxy/internal/format"
)

// Family selects what a Socket routes: IPv4 (IGMP, VIFs, MRT_*) or IPv6
// (MLD, MIFs, MRT6_*).
type Family int

// The address families, numbered as a Rule numbers them.
const (
	IPv4 Family = 4
	IPv6 Family = 6
)

func (f Family) String() string { return format.Sprintf("ipv%d", int(f)) }

// ErrInUse reports that another multicast routing daemon (igmpproxy, smcroute,
// pimd, a second mcast-proxy) already owns the requested table: MRT_INIT
// failed with EADDRINUSE. The daemon turns it into a hint to pick another table.
var ErrInUse = errors.New("mroute: the kernel's multicast routing table is already owned by another daemon")

// ErrMalformed is wrapped by Read for a packet whose IP header or upcall does
// not parse. The daemon counts these and keeps reading.
var ErrMalformed = errors.New("mroute: malformed packet")

// MaxVIFs is the number of interface slots in one kernel table, the same for
// both families (MAXVIFS in linux/mroute.h, MAXMIFS in linux/mroute6.h).
const MaxVIFs = 32

// Upcall types, from IGMPMSG_* in linux/mroute.h; MRT6MSG_* in
// linux/mroute6.h has the same numbers.
const (
	UpcallNoCache    = 1 // first packet of an (S,G) without a forwarding entry
	UpcallWrongVIF   = 2 // packet arrived on a VIF other than the entry's input (only with MRT_ASSERT)
	UpcallWholePkt   = 3 // PIM register: the whole packet follows
	UpcallWrVIFWhole = 4 // wrong VIF, whole packet follows
)

// Route is one (S,G) forwarding entry as the daemon wants it.
type Route struct {
	Source, Group netip.Addr
	Input         int   // ifindex packets must arrive on
	Outputs       []int // ifindexes to forward to, sorted; empty drops the traffic silently
}

// Key names an installed forwarding entry.
type Key struct{ Source, Group netip.Addr }

// Compare orders keys by group, then source, as RouteKeys lists them:
// negative if k comes before o, 0 if they are the same.
func (k Key) Compare(o Key) int {
	if c := k.Group.Compare(o.Group); c != 0 {
		return c
	}
	return k.Source.Compare(o.Source)
}

// Counters are the kernel's per-entry counters (SIOCGETSGCNT). Packets that
// stop growing tell the daemon an entry went idle. The kernel counts in
// Packets and Bytes every packet that matched the entry, including those
// that arrived on another interface and were only counted in WrongIf.
type Counters struct {
	Packets, Bytes, WrongIf uint64
}

// Input is the number of packets that arrived on the entry's input
// interface: the ones it forwards to its outputs, if it has any.
func (c Counters) Input() uint64 {
	if c.WrongIf > c.Packets {
		// The two are read together but not atomically.
		return 0
	}
	return c.Packets - c.WrongIf
}

// Packet is one message read from the socket: either a kernel upcall or an
// IGMP or MLD message with the IP header facts the router side needs. What
// the router's own kernel sends (reports for the router groups and for
// upstream joins) is looped back and read too; only our queries are not,
// since multicast loop is off. Callers tell the kernel's reports apart by
// source address.
type Packet struct {
	// Upcall is set for a kernel upcall; the other fields are then zero.
	Upcall *Upcall

	Ifindex     int // arrival interface from IP_PKTINFO, never guessed from the source subnet
	Src, Dst    netip.Addr
	TTL         int    // the IPv4 TTL or the IPv6 hop limit
	RouterAlert bool   // Router Alert option (RFC 2113, RFC 2711) present
	Payload     []byte // the IGMP or MLD message, without IP header and options; aliases the read buffer

	// KernelDrops is how many messages the kernel had dropped on the
	// socket, its receive buffer full, when it queued this one
	// (SO_RXQ_OVFL); 0 before the first drop. Set on upcalls too.
	KernelDrops uint32
}

// Upcall is a kernel report about a multicast packet (struct igmpmsg, struct
// mrt6msg).
type Upcall struct {
	Type          int // UpcallNoCache, UpcallWrongVIF, ...
	VIF           int // the VIF or MIF the packet arrived on
	Ifindex       int // mapped from VIF through our table; 0 if the VIF is not ours
	Source, Group netip.Addr
}
