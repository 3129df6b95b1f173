//go:build !linux

package mroute

import "net/netip"

// Socket6 is the raw ICMPv6 socket that owns one kernel IPv6 multicast
// routing table; it exists only on Linux.
type Socket6 struct{}

// Open6 fails: only Linux is supported.
func Open6(table uint32) (*Socket6, error) { return nil, errUnsupported }

func (s *Socket6) Close() error                                   { return nil }
func (s *Socket6) AddVIF(ifindex, threshold int) (int, error)     { return 0, errUnsupported }
func (s *Socket6) DelVIF(ifindex int) error                       { return errUnsupported }
func (s *Socket6) VIF(ifindex int) (mif int, ok bool)             { return 0, false }
func (s *Socket6) SetRoute(r Route) error                         { return errUnsupported }
func (s *Socket6) DelRoute(src, grp netip.Addr) error             { return errUnsupported }
func (s *Socket6) Routes() []Route                                { return nil }
func (s *Socket6) Counters(src, grp netip.Addr) (Counters, error) { return Counters{}, errUnsupported }
func (s *Socket6) Read(buf []byte) (Packet, error)                { return Packet{}, errUnsupported }
func (s *Socket6) Send(ifindex int, src, dst netip.Addr, payload []byte) error {
	return errUnsupported
}
func (s *Socket6) JoinRouterGroups(ifindex int) error  { return errUnsupported }
func (s *Socket6) LeaveRouterGroups(ifindex int) error { return errUnsupported }
