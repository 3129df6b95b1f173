package linkwatch

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
)

func TestDecodeRouteRequest(t *testing.T) {
	for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		b := routeRequest(netip.MustParseAddr("10.0.0.9"), 7, order)
		if len(b) != nlmsgHdrLen+rtmsgLen+rtattrHdrLen+4 {
			t.Fatalf("%v: length %d", order, len(b))
		}
		if order.Uint32(b[0:4]) != uint32(len(b)) || order.Uint16(b[4:6]) != rtmGetRoute || order.Uint16(b[6:8]) != nlmFRequest || order.Uint32(b[8:12]) != 7 {
			t.Fatalf("%v: header % x", order, b[:16])
		}
		m := b[nlmsgHdrLen:]
		if m[0] != afInet || m[1] != 32 {
			t.Fatalf("%v: rtmsg family %d dst_len %d", order, m[0], m[1])
		}
		a := m[rtmsgLen:]
		if order.Uint16(a[0:2]) != 8 || order.Uint16(a[2:4]) != rtaDst || netip.AddrFrom4([4]byte(a[4:8])) != netip.MustParseAddr("10.0.0.9") {
			t.Fatalf("%v: RTA_DST % x", order, a)
		}
		b6 := routeRequest(netip.MustParseAddr("2001:db8::1"), 1, order)
		if b6[nlmsgHdrLen] != afInet6 || b6[nlmsgHdrLen+1] != 128 || len(b6) != nlmsgHdrLen+rtmsgLen+rtattrHdrLen+16 {
			t.Fatalf("%v: IPv6 request % x", order, b6)
		}
	}
}

// routeReply builds a kernel answer: an RTM_NEWROUTE carrying RTA_OIF.
func routeReply(order binary.ByteOrder, seq uint32, oif uint32) []byte {
	n := nlmsgHdrLen + rtmsgLen + 8
	b := make([]byte, n)
	order.PutUint32(b[0:4], uint32(n))
	order.PutUint16(b[4:6], rtmNewRoute)
	order.PutUint32(b[8:12], seq)
	a := b[nlmsgHdrLen+rtmsgLen:]
	order.PutUint16(a[0:2], 8)
	order.PutUint16(a[2:4], rtaOif)
	order.PutUint32(a[4:8], oif)
	return b
}

func TestDecodeRouteReply(t *testing.T) {
	for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		oif, err := decodeRouteReply(routeReply(order, 3, 42), 3, order)
		if err != nil || oif != 42 {
			t.Fatalf("%v: oif %d, err %v", order, oif, err)
		}
		if _, err := decodeRouteReply(routeReply(order, 3, 42), 4, order); !errors.Is(err, errMalformed) {
			t.Fatalf("%v: reply to another request: err %v", order, err)
		}
		e := make([]byte, nlmsgHdrLen+4)
		order.PutUint32(e[0:4], uint32(len(e)))
		order.PutUint16(e[4:6], nlmsgError)
		order.PutUint32(e[8:12], 3)
		order.PutUint32(e[16:20], uint32(0xffffff9b)) // -ENETUNREACH (101)
		var errno errnoError
		if _, err := decodeRouteReply(e, 3, order); !errors.As(err, &errno) || int32(errno) != 101 {
			t.Fatalf("%v: error reply: err %v", order, err)
		}
		if _, err := decodeRouteReply(routeReply(order, 3, 42)[:20], 3, order); !errors.Is(err, errMalformed) {
			t.Fatalf("%v: truncated reply: err %v", order, err)
		}
	}
}
