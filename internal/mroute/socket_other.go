//go:build !linux

package mroute

import (
	"errors"
	"net/netip"

	"github.com/mcast-proxy/mcast-proxy/internal/format"
)

// errUnsupported is returned everywhere: multicast routing here is Linux's.
var errUnsupported = format.Errorf("mroute: linux multicast routing: %w", errors.ErrUnsupported)

// Socket is the raw socket that owns one kernel multicast routing table of
// one family; it exists only on Linux.
type Socket struct{}

// Open fails: only Linux is supported.
func Open(fam Family, table uint32) (*Socket, error) { return nil, errUnsupported }

func (s *Socket) Close() error                                   { return nil }
func (s *Socket) AddVIF(ifindex, threshold int) (int, error)     { return 0, errUnsupported }
func (s *Socket) DelVIF(ifindex int) error                       { return errUnsupported }
func (s *Socket) VIF(ifindex int) (vif int, ok bool)             { return 0, false }
func (s *Socket) SetRoute(r Route) error                         { return errUnsupported }
func (s *Socket) DelRoute(src, grp netip.Addr) error             { return errUnsupported }
func (s *Socket) Routes() []Route                                { return nil }
func (s *Socket) NumRoutes() int                                 { return 0 }
func (s *Socket) RouteKeys() []Key                               { return nil }
func (s *Socket) Route(k Key, outputs []int) (Route, bool)       { return Route{}, false }
func (s *Socket) Counters(src, grp netip.Addr) (Counters, error) { return Counters{}, errUnsupported }
func (s *Socket) Read(buf []byte) (Packet, error)                { return Packet{}, errUnsupported }
func (s *Socket) ReadWaiting(buf []byte) (Packet, bool, error) {
	return Packet{}, false, errUnsupported
}
func (s *Socket) Descriptor() int { return -1 }
func (s *Socket) Send(ifindex int, src, dst netip.Addr, payload []byte) error {
	return errUnsupported
}
func (s *Socket) JoinRouterGroups(ifindex int) error  { return errUnsupported }
func (s *Socket) LeaveRouterGroups(ifindex int) error { return errUnsupported }
