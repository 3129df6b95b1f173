package linkwatch

import (
	"encoding/binary"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the netlink decoders as a datagram of
// a link dump and of an address dump, in both byte orders: they must never
// panic, and a snapshot built from them only holds links with a name.
func FuzzDecode(f *testing.F) {
	for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		f.Add(routeReply(order, 1, 3))
	}
	f.Add([]byte{})
	f.Add(make([]byte, 40))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
			msgs, err := splitMessages(b, order)
			if err != nil {
				continue
			}
			for _, m := range msgs {
				decodeLink(m.data, order)
				decodeAddr(m.data, order)
			}
			snap, err := buildSnapshot(msgs, msgs, order)
			if err != nil {
				continue
			}
			for name, l := range snap {
				if name == "" || l.Name != name {
					t.Fatalf("snapshot entry %q holds link %+v", name, l)
				}
			}
			decodeRouteReply(b, 1, order)
		}
	})
}
