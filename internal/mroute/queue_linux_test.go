package mroute

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSocketDrops fills the routing socket's receive queue while nobody
// reads it and checks that the kernel's drop count is read back, and that
// the queue is the size asked for.
func TestSocketDrops(t *testing.T) {
	l := newLab(t, testIPv4)
	s := l.open(t, 0)
	var rcvbuf int
	var serr error
	if err := s.raw.Control(func(fd uintptr) {
		rcvbuf, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
	}); err != nil || serr != nil {
		t.Fatalf("SO_RCVBUF: %v %v", err, serr)
	}
	if rcvbuf < receiveBuffer {
		t.Errorf("receive buffer %d bytes, want at least %d", rcvbuf, receiveBuffer)
	}
	if n, err := s.Drops(); err != nil || n != 0 {
		t.Fatalf("Drops before any packet = %d, %v; want 0, nil", n, err)
	}

	// Host A sends IGMP to all-systems, which every raw IGMP socket of
	// the router receives, far more than the queue holds.
	var fd int
	l.a.Do(t, func() {
		var err error
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_IGMP)
		if err != nil {
			t.Fatal(err)
		}
	})
	defer unix.Close(fd)
	if err := unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_IF, &unix.IPMreqn{Ifindex: int32(l.ar)}); err != nil {
		t.Fatal(err)
	}
	const sent = 20000
	msg := []byte{0x11, 0, 0xee, 0xff, 0, 0, 0, 0} // a v1 general query; the content does not matter
	to := &unix.SockaddrInet4{Addr: [4]byte{224, 0, 0, 1}}
	for range sent {
		if err := unix.Sendto(fd, msg, 0, to); err != nil && err != unix.ENOBUFS {
			t.Fatal(err)
		}
	}
	n, err := s.Drops()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d sent, %d dropped by the unread socket (receive buffer %d bytes)", sent, n, rcvbuf)
	if n == 0 || n > sent {
		t.Errorf("Drops = %d after %d packets to an unread socket, want between 1 and %d", n, sent, sent)
	}

	// The messages queued after the first drop carry the count so far
	// (SO_RXQ_OVFL): read what the queue holds (all of it queued before
	// the drops), then send a few more, which say what Drops says.
	// One goroutine reads (Read is not safe to call concurrently); its
	// channel is drained before the few more are sent, so none of those
	// is lost to a full channel.
	packets := reader(t, s)
	read := func() (Packet, bool) {
		select {
		case p := <-packets:
			return p, true
		case <-time.After(time.Second):
			return Packet{}, false // the queue is empty
		}
	}
	for {
		if _, ok := read(); !ok {
			break
		}
	}
	for range 5 {
		if err := unix.Sendto(fd, msg, 0, to); err != nil {
			t.Fatal(err)
		}
	}
	var last uint32
	for {
		p, ok := read()
		if !ok {
			break
		}
		last = p.KernelDrops
	}
	// Compared with the count now, not the first reading: sendto returns
	// before the kernel has delivered (or dropped) the datagram, so the
	// flood's last packets may still have been dropped after it (99 more
	// in one CI run). The queue has been drained since, so nothing is in
	// flight any more.
	after, err := s.Drops()
	if err != nil {
		t.Fatal(err)
	}
	if after < n {
		t.Errorf("Drops went down from %d to %d", n, after)
	}
	if uint64(last) != after {
		t.Errorf("a message queued after the drops carried %d drops, Drops says %d", last, after)
	}
}
