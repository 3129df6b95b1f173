package rawsys

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// udpSocket opens a non-blocking UDP socket of the family of addr bound
// to it (port 0: the kernel picks one) and returns it with its address.
func udpSocket(t *testing.T, addr netip.Addr) (int, unix.Sockaddr) {
	t.Helper()
	domain, sa := unix.AF_INET6, unix.Sockaddr(&unix.SockaddrInet6{Addr: addr.As16()})
	if addr.Is4() {
		domain, sa = unix.AF_INET, &unix.SockaddrInet4{Addr: addr.As4()}
	}
	fd, err := unix.Socket(domain, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, sa); err != nil {
		t.Fatalf("bind %s: %v", addr, err)
	}
	bound, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return fd, bound
}

// TestSendmsgRecvmsg sends a datagram with Sendmsg and reads it, its
// sender and its packet-info control message with Recvmsg, over loopback
// in both families, and finds the queue empty afterwards.
func TestSendmsgRecvmsg(t *testing.T) {
	for _, tc := range []struct {
		name string
		addr netip.Addr
	}{
		{"ipv4", netip.MustParseAddr("127.0.0.1")},
		{"ipv6", netip.IPv6Loopback()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rfd, to := udpSocket(t, tc.addr)
			sfd, from := udpSocket(t, tc.addr)
			// The option's value is a C int, in the host's byte order.
			one := binary.NativeEndian.AppendUint32(nil, 1)
			if err := Setsockopt(rfd, levelOf(tc.addr), pktinfoOpt(tc.addr), one); err != nil {
				t.Fatalf("Setsockopt: %v", err)
			}
			payload := []byte("report")
			if err := Sendmsg(sfd, payload, nil, to); err != nil {
				t.Fatalf("Sendmsg: %v", err)
			}
			buf, oob := make([]byte, 64), make([]byte, 128)
			var rsa unix.RawSockaddrAny
			var n, oobn, flags int
			var err error
			for range 1000 {
				if n, oobn, flags, err = Recvmsg(rfd, buf, oob, &rsa); err != unix.EAGAIN {
					break
				}
			}
			if err != nil {
				t.Fatalf("Recvmsg: %v", err)
			}
			if !bytes.Equal(buf[:n], payload) || flags&unix.MSG_TRUNC != 0 {
				t.Errorf("got %q, flags %#x; want %q", buf[:n], flags, payload)
			}
			if got, want := SenderAddr(&rsa), addrOf(from); got != want {
				t.Errorf("sender %v, want %v", got, want)
			}
			msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
			want := int32(unix.IP_PKTINFO)
			if tc.addr.Is6() {
				want = unix.IPV6_PKTINFO
			}
			if err != nil || len(msgs) != 1 || msgs[0].Header.Type != want {
				t.Errorf("control messages %+v, %v; want one packet info", msgs, err)
			}
			if _, _, _, err := Recvmsg(rfd, buf, oob, &rsa); err != unix.EAGAIN {
				t.Errorf("Recvmsg on an empty queue: %v, want EAGAIN", err)
			}
		})
	}
}

func levelOf(a netip.Addr) int {
	if a.Is6() {
		return unix.IPPROTO_IPV6
	}
	return unix.IPPROTO_IP
}

func pktinfoOpt(a netip.Addr) int {
	if a.Is6() {
		return unix.IPV6_RECVPKTINFO
	}
	return unix.IP_PKTINFO
}

func addrOf(sa unix.Sockaddr) netip.Addr {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrFrom4(sa.Addr)
	case *unix.SockaddrInet6:
		return netip.AddrFrom16(sa.Addr)
	}
	return netip.Addr{}
}

// TestSenderAddrOtherFamily: a sender of another family (a unix socket's)
// is no address.
func TestSenderAddrOtherFamily(t *testing.T) {
	var rsa unix.RawSockaddrAny
	rsa.Addr.Family = unix.AF_UNIX
	if got := SenderAddr(&rsa); got.IsValid() {
		t.Errorf("SenderAddr of AF_UNIX = %v, want none", got)
	}
}

// TestSetsockoptErrors: the kernel's refusal comes back as its errno.
func TestSetsockoptErrors(t *testing.T) {
	fd, _ := udpSocket(t, netip.MustParseAddr("127.0.0.1"))
	for _, tc := range []struct {
		name string
		opt  int
		val  []byte
		want error
	}{
		{"unknown option", 9999, binary.NativeEndian.AppendUint32(nil, 1), unix.ENOPROTOOPT},
	} {
		if err := Setsockopt(fd, unix.IPPROTO_IP, tc.opt, tc.val); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if err := Setsockopt(-1, unix.IPPROTO_IP, unix.IP_MULTICAST_TTL, binary.NativeEndian.AppendUint32(nil, 1)); !errors.Is(err, unix.EBADF) {
		t.Errorf("closed socket: %v, want EBADF", err)
	}
	if err := Sendmsg(fd, []byte("x"), nil, &unix.SockaddrUnix{Name: "x"}); !errors.Is(err, unix.EAFNOSUPPORT) {
		t.Errorf("Sendmsg to a unix address: %v, want EAFNOSUPPORT", err)
	}
}

// TestWriteFileAtomic writes, replaces and fails without leaving the
// temporary file behind.
func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state")
	for _, data := range [][]byte{[]byte("first, longer content"), []byte("second"), nil} {
		if err := WriteFileAtomic(path, data, 0o600); err != nil {
			t.Fatalf("WriteFileAtomic: %v", err)
		}
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("read back %q, %v; want %q", got, err, data)
		}
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("mode %v, %v; want 0600", fi.Mode(), err)
		}
	}
	missing := filepath.Join(dir, "no-such-dir", "state")
	err := WriteFileAtomic(missing, []byte("x"), 0o600)
	var pe *os.PathError
	if !errors.As(err, &pe) || pe.Path != missing || !errors.Is(err, unix.ENOENT) {
		t.Errorf("write into a missing directory: %v, want a path error naming %s with ENOENT", err, missing)
	}
	// A directory where the file should go: the rename fails, and the
	// temporary file is removed again.
	blocked := filepath.Join(dir, "blocked")
	if err := os.MkdirAll(filepath.Join(blocked, "child"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(blocked, []byte("x"), 0o600); err == nil {
		t.Error("replacing a non-empty directory succeeded")
	}
	if _, err := os.Stat(blocked + ".tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary file left behind: %v", err)
	}
}

// TestBootTime: CLOCK_BOOTTIME runs and is at least CLOCK_MONOTONIC (it
// adds the time suspended).
func TestBootTime(t *testing.T) {
	var mono unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &mono); err != nil {
		t.Fatal(err)
	}
	boot, err := BootTime()
	if err != nil {
		t.Fatal(err)
	}
	if boot.Nano() < mono.Nano() {
		t.Errorf("boot time %v before monotonic %v", boot.Nano(), mono.Nano())
	}
}
