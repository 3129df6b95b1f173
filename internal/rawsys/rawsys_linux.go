// Package rawsys makes the socket calls of the report path (reading a
// report, changing a forwarding entry, changing the upstream subscription)
// as raw system calls, outside the Go scheduler's bookkeeping.
//
// A call through syscall.Syscall tells the scheduler it may block: it wakes
// the runtime's monitor thread if that was asleep, and a call that takes
// more than 20 µs lets the monitor hand the goroutine's P to another
// thread, which must then be woken and hand it back. On a slow router CPU
// (or in the emulated test VM) that costs far more than the call: a join
// woke the daemon's threads 17 times and took 5 ms of CPU. The calls made
// here never wait for anything but a kernel lock (the sockets are
// non-blocking, or the option is set synchronously), so they can hold the
// P for their short time instead.
package rawsys

import (
	"net/netip"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Setsockopt sets a socket option whose value is the bytes of val.
func Setsockopt(fd, level, opt int, val []byte) error {
	var p unsafe.Pointer
	if len(val) > 0 {
		p = unsafe.Pointer(&val[0])
	}
	_, _, errno := unix.RawSyscall6(unix.SYS_SETSOCKOPT, uintptr(fd), uintptr(level), uintptr(opt), uintptr(p), uintptr(len(val)), 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// Recvmsg receives one message on the non-blocking socket fd into buf, its
// control messages into oob and its sender into from. It returns
// unix.EAGAIN when nothing is queued.
func Recvmsg(fd int, buf, oob []byte, from *unix.RawSockaddrAny) (n, oobn, flags int, err error) {
	var iov unix.Iovec
	msg := msghdr(&iov, buf, oob, unsafe.Pointer(from), unix.SizeofSockaddrAny)
	r, _, errno := unix.RawSyscall(unix.SYS_RECVMSG, uintptr(fd), uintptr(unsafe.Pointer(&msg)), 0)
	if errno != 0 {
		return 0, 0, 0, errno
	}
	return int(r), int(msg.Controllen), int(msg.Flags), nil
}

// msghdr describes one buffer (through iov, which the caller keeps alive),
// its control messages and an address for recvmsg or sendmsg.
func msghdr(iov *unix.Iovec, buf, oob []byte, name unsafe.Pointer, namelen uint32) unix.Msghdr {
	if len(buf) > 0 {
		iov.Base = &buf[0]
		iov.SetLen(len(buf))
	}
	msg := unix.Msghdr{Name: (*byte)(name), Namelen: namelen, Iov: iov}
	msg.SetIovlen(1)
	if len(oob) > 0 {
		msg.Control = &oob[0]
		msg.SetControllen(len(oob))
	}
	return msg
}

// SenderAddr is the address of the sender Recvmsg filled in: IPv4 or
// IPv6 (without zone), or the zero Addr for any other family. It
// allocates nothing, unlike a unix.Sockaddr.
func SenderAddr(rsa *unix.RawSockaddrAny) netip.Addr {
	switch rsa.Addr.Family {
	case unix.AF_INET:
		return netip.AddrFrom4((*unix.RawSockaddrInet4)(unsafe.Pointer(rsa)).Addr)
	case unix.AF_INET6:
		return netip.AddrFrom16((*unix.RawSockaddrInet6)(unsafe.Pointer(rsa)).Addr)
	}
	return netip.Addr{}
}

// atFDCWD is AT_FDCWD (-100) as a system call argument, sign-extended
// (Go does not convert a negative constant to uintptr).
var atFDCWD = func() uintptr { fd := unix.AT_FDCWD; return uintptr(fd) }()

// Sendmsg sends p with the control messages oob to an IPv4 or IPv6 address
// on the non-blocking socket fd. It returns unix.EAGAIN when the socket's
// buffer is full.
func Sendmsg(fd int, p, oob []byte, to unix.Sockaddr) error {
	var name unsafe.Pointer
	var namelen uint32
	switch sa := to.(type) {
	case *unix.SockaddrInet4:
		raw := &unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: sa.Addr}
		port := (*[2]byte)(unsafe.Pointer(&raw.Port))
		port[0], port[1] = byte(sa.Port>>8), byte(sa.Port)
		name, namelen = unsafe.Pointer(raw), unix.SizeofSockaddrInet4
	case *unix.SockaddrInet6:
		raw := &unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: sa.Addr, Scope_id: sa.ZoneId}
		port := (*[2]byte)(unsafe.Pointer(&raw.Port))
		port[0], port[1] = byte(sa.Port>>8), byte(sa.Port)
		name, namelen = unsafe.Pointer(raw), unix.SizeofSockaddrInet6
	case nil:
	default:
		return unix.EAFNOSUPPORT
	}
	var iov unix.Iovec
	msg := msghdr(&iov, p, oob, name, namelen)
	_, _, errno := unix.RawSyscall(unix.SYS_SENDMSG, uintptr(fd), uintptr(unsafe.Pointer(&msg)), 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// BootTime reads CLOCK_BOOTTIME, which the vDSO does not serve on every
// architecture, so time.Now cannot stand in for it.
func BootTime() (unix.Timespec, error) {
	var ts unix.Timespec
	_, _, errno := unix.RawSyscall(unix.SYS_CLOCK_GETTIME, unix.CLOCK_BOOTTIME, uintptr(unsafe.Pointer(&ts)), 0)
	if errno != 0 {
		return ts, errno
	}
	return ts, nil
}

// WriteFileAtomic replaces path with data through a temporary file beside
// it and a rename, so a reader never sees half a file. It is meant for
// files on a tmpfs (the runtime directory), where nothing it does waits
// for a disk; on a disk the calls would hold the thread while they wait.
func WriteFileAtomic(path string, data []byte, perm uint32) error {
	tmp := path + ".tmp"
	err := writeNew(tmp, data, perm)
	if err == nil {
		err = rename(tmp, path)
	}
	if err != nil {
		if p, perr := unix.BytePtrFromString(tmp); perr == nil {
			unix.RawSyscall(unix.SYS_UNLINKAT, atFDCWD, uintptr(unsafe.Pointer(p)), 0)
		}
		return &os.PathError{Op: "write", Path: path, Err: err}
	}
	return nil
}

func writeNew(path string, data []byte, perm uint32) error {
	p, err := unix.BytePtrFromString(path)
	if err != nil {
		return err
	}
	r, _, errno := unix.RawSyscall6(unix.SYS_OPENAT, atFDCWD, uintptr(unsafe.Pointer(p)),
		uintptr(unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC), uintptr(perm), 0, 0)
	if errno != 0 {
		return errno
	}
	fd := r
	for len(data) > 0 {
		n, _, errno := unix.RawSyscall(unix.SYS_WRITE, fd, uintptr(unsafe.Pointer(&data[0])), uintptr(len(data)))
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			err = errno
			break
		}
		data = data[n:]
	}
	if _, _, errno := unix.RawSyscall(unix.SYS_CLOSE, fd, 0, 0); errno != 0 && err == nil {
		err = errno
	}
	return err
}

func rename(from, to string) error {
	f, err := unix.BytePtrFromString(from)
	if err != nil {
		return err
	}
	t, err := unix.BytePtrFromString(to)
	if err != nil {
		return err
	}
	_, _, errno := unix.RawSyscall6(unix.SYS_RENAMEAT2, atFDCWD, uintptr(unsafe.Pointer(f)),
		atFDCWD, uintptr(unsafe.Pointer(t)), 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// EpollReady fills events with what is ready in the epoll instance epfd,
// without waiting, and returns how many there are.
func EpollReady(epfd int, events []unix.EpollEvent) (int, error) {
	if len(events) == 0 {
		return 0, nil
	}
	n, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
