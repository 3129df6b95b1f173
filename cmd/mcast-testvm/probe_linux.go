package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// Socket options of linux/mroute.h and linux/mroute6.h (MRT_BASE and
// MRT6_BASE are 200); x/sys/unix does not define them.
const (
	mrtInit  = 200
	mrtTable = 209
)

// probeTable is a table number no one uses; multiple-table support is
// probed with it because the tests use their own tables.
const probeTable = 4242

// probe tells whether the running kernel can do what the kernel tests need:
// IPv4 and IPv6 multicast routing with multiple tables, in a fresh network
// namespace (so no multicast router of the host is disturbed). It asks the
// kernel rather than reading a config file, which may not exist or may lie.
func probe() error {
	if os.Geteuid() != 0 {
		return errors.New("not root (network namespaces and multicast routing need root)")
	}
	errc := make(chan error, 1)
	go func() {
		// The thread is never unlocked: it ends with this goroutine, and the
		// namespace with it.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("unshare(CLONE_NEWNET): %w", err)
			return
		}
		if err := probeFamily(unix.AF_INET, unix.IPPROTO_IGMP, unix.IPPROTO_IP, "CONFIG_IP_MROUTE"); err != nil {
			errc <- err
			return
		}
		errc <- probeFamily(unix.AF_INET6, unix.IPPROTO_ICMPV6, unix.IPPROTO_IPV6, "CONFIG_IPV6_MROUTE")
	}()
	return <-errc
}

func probeFamily(family, proto, level int, config string) error {
	fd, err := unix.Socket(family, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return fmt.Errorf("raw socket: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.SetsockoptInt(fd, level, mrtTable, probeTable); err != nil {
		if errors.Is(err, unix.ENOPROTOOPT) {
			return fmt.Errorf("no multicast routing with multiple tables (%s, %s_MULTIPLE_TABLES): %w", config, config, err)
		}
		return fmt.Errorf("%s table: %w", config, err)
	}
	if err := unix.SetsockoptInt(fd, level, mrtInit, 1); err != nil {
		return fmt.Errorf("no multicast routing (%s): %w", config, err)
	}
	return nil
}
