package mroute

import (
	"encoding/binary"
	"errors"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mcast-proxy/mcast-proxy/internal/format"
)

// ruleTimeout bounds the wait for the kernel's acknowledgement, which comes
// at once unless something is badly wrong.
const ruleTimeout = 5 * time.Second

// AddRule installs r in the calling thread's network namespace. A rule that
// is already there is not an error.
func AddRule(r Rule) error {
	req, err := encodeRule(rtmNewRule, ruleSeq, r, binary.NativeEndian)
	if err != nil {
		return err
	}
	err = ruleRequest(req)
	if errors.Is(err, unix.EEXIST) {
		return nil
	}
	if err != nil {
		return format.Errorf("mroute: add rule %s: %w", r, err)
	}
	return nil
}

// DelRule removes r from the calling thread's network namespace. A rule that
// is not there is not an error: removing is how the daemon cleans up, and
// someone may have been there first.
func DelRule(r Rule) error {
	req, err := encodeRule(rtmDelRule, ruleSeq, r, binary.NativeEndian)
	if err != nil {
		return err
	}
	err = ruleRequest(req)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return format.Errorf("mroute: delete rule %s: %w", r, err)
	}
	return nil
}

// ruleSeq numbers every request: each goes over its own socket.
const ruleSeq = 1

// ruleRequest sends one rule request over a fresh NETLINK_ROUTE socket and
// returns the kernel's answer: rules change only at start, reload and exit.
func ruleRequest(req []byte) error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return format.Errorf("netlink socket: %w", err)
	}
	defer unix.Close(fd)
	tv := unix.NsecToTimeval(ruleTimeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return format.Errorf("netlink receive timeout: %w", err)
	}
	kernel := &unix.SockaddrNetlink{Family: unix.AF_NETLINK}
	if err := unix.Sendto(fd, req, 0, kernel); err != nil {
		return format.Errorf("netlink send: %w", err)
	}
	buf := make([]byte, 4096)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return format.Errorf("netlink receive: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return format.Errorf("netlink reply: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Seq != ruleSeq || m.Header.Type != unix.NLMSG_ERROR {
				continue
			}
			if len(m.Data) < 4 {
				return format.Errorf("netlink reply: error message of %d bytes", len(m.Data))
			}
			// nlmsgerr.error is a negative errno, or 0 for the ACK.
			if errno := -int32(binary.NativeEndian.Uint32(m.Data[:4])); errno != 0 {
				return unix.Errno(errno)
			}
			return nil
		}
	}
}

// Rules lists the multicast routing rules of a family (4 or 6) in the
// calling thread's network namespace that carry protocol as their
// Protocol; 0 lists all.
func Rules(family int, protocol uint8) ([]Rule, error) {
	if family != 4 && family != 6 {
		return nil, format.Errorf("mroute: rules of family %d: family must be 4 or 6", family)
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, format.Errorf("mroute: list rules: netlink socket: %w", err)
	}
	defer unix.Close(fd)
	tv := unix.NsecToTimeval(ruleTimeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return nil, format.Errorf("mroute: list rules: netlink receive timeout: %w", err)
	}
	if err := unix.Sendto(fd, encodeRuleDump(family, ruleSeq, binary.NativeEndian), 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, format.Errorf("mroute: list rules: netlink send: %w", err)
	}
	var out []Rule
	buf := make([]byte, 32768)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, format.Errorf("mroute: list rules: netlink receive: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return nil, format.Errorf("mroute: list rules: netlink reply: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Seq != ruleSeq {
				continue
			}
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				return out, nil
			case unix.NLMSG_ERROR:
				if len(m.Data) >= 4 {
					if errno := -int32(binary.NativeEndian.Uint32(m.Data[:4])); errno != 0 {
						return nil, format.Errorf("mroute: list rules: %w", unix.Errno(errno))
					}
				}
				return out, nil
			case rtmNewRule:
				if r, ok := decodeRule(m.Data, binary.NativeEndian); ok && r.Family == family && (protocol == 0 || r.Protocol == protocol) {
					out = append(out, r)
				}
			}
		}
	}
}
