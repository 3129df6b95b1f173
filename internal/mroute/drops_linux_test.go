package mroute

import (
	"encoding/binary"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// cmsg builds one control message as the kernel lays it out.
func cmsg(level, typ int32, data []byte) []byte {
	b := make([]byte, unix.CmsgSpace(len(data)))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level, h.Type = level, typ
	h.SetLen(unix.CmsgLen(len(data)))
	copy(b[unix.CmsgLen(0):], data)
	return b
}

func TestDecodeKernelDrops(t *testing.T) {
	count := binary.NativeEndian.AppendUint32(nil, 4242)
	pktinfo := cmsg(unix.IPPROTO_IP, unix.IP_PKTINFO, make([]byte, sizeofPktinfo))
	for _, tc := range []struct {
		name string
		oob  []byte
		want uint32
	}{
		{"none", nil, 0},
		{"pktinfo only", pktinfo, 0},
		{"count after pktinfo", append(append([]byte{}, pktinfo...), cmsg(unix.SOL_SOCKET, unix.SO_RXQ_OVFL, count)...), 4242},
		{"count alone", cmsg(unix.SOL_SOCKET, unix.SO_RXQ_OVFL, count), 4242},
		{"count too short", cmsg(unix.SOL_SOCKET, unix.SO_RXQ_OVFL, count[:2]), 0},
		{"same type, other level", cmsg(unix.IPPROTO_IP, unix.SO_RXQ_OVFL, count), 0},
		{"truncated header", []byte{1, 2, 3}, 0},
	} {
		if got := kernelDrops(tc.oob); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}
