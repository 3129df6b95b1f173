package linkwatch

import (
	"encoding/binary"
	"net/netip"

	"github.com/mcast-proxy/mcast-proxy/internal/format"
)

// Route lookup (RTM_GETROUTE) numbers from linux/rtnetlink.h.
const (
	rtmNewRoute  = 24
	rtmGetRoute  = 26
	rtmsgLen     = 12 // struct rtmsg
	rtaDst       = 1
	rtaOif       = 4
	nlmFRequest  = 0x1
	routeReqSize = nlmsgHdrLen + rtmsgLen + rtattrHdrLen + 16
)

// routeRequest builds an RTM_GETROUTE request asking which interface the
// kernel would send a packet to dst out of.
func routeRequest(dst netip.Addr, seq uint32, order binary.ByteOrder) []byte {
	dst = dst.Unmap()
	raw := dst.AsSlice()
	n := nlmsgHdrLen + rtmsgLen + rtattrHdrLen + len(raw)
	b := make([]byte, n)
	order.PutUint32(b[0:4], uint32(n))
	order.PutUint16(b[4:6], rtmGetRoute)
	order.PutUint16(b[6:8], nlmFRequest)
	order.PutUint32(b[8:12], seq)
	m := b[nlmsgHdrLen:]
	m[0] = afInet
	if dst.Is6() {
		m[0] = afInet6
	}
	m[1] = byte(len(raw) * 8) // rtm_dst_len: a host route lookup
	a := m[rtmsgLen:]
	order.PutUint16(a[0:2], uint16(rtattrHdrLen+len(raw)))
	order.PutUint16(a[2:4], rtaDst)
	copy(a[rtattrHdrLen:], raw)
	return b
}

// decodeRouteReply returns the output interface of the route in the kernel's
// answer to routeRequest, or the errno it sent instead.
func decodeRouteReply(b []byte, seq uint32, order binary.ByteOrder) (int, error) {
	msgs, err := splitMessages(b, order)
	if err != nil {
		return 0, err
	}
	for _, m := range msgs {
		if m.seq != seq {
			continue
		}
		switch m.typ {
		case nlmsgError:
			errno, err := decodeError(m.data, order)
			if err != nil {
				return 0, err
			}
			return 0, errnoError(errno)
		case rtmNewRoute:
			if len(m.data) < rtmsgLen {
				return 0, format.Errorf("%w: route message of %d bytes", errMalformed, len(m.data))
			}
			oif := 0
			err := attrs(m.data[rtmsgLen:], order, func(typ uint16, val []byte) {
				if typ == rtaOif && len(val) >= 4 {
					oif = int(order.Uint32(val[0:4]))
				}
			})
			if err != nil {
				return 0, err
			}
			return oif, nil
		}
	}
	return 0, format.Errorf("%w: no route reply", errMalformed)
}
