package upstream

import (
	"golang.org/x/sys/unix"

	"github.com/mcast-proxy/mcast-proxy/internal/format"
	"github.com/mcast-proxy/mcast-proxy/internal/rawsys"
	"github.com/mcast-proxy/mcast-proxy/internal/sysctl"
)

// New returns a Joiner for the interface with index ifindex. It reads the
// per-socket limits from /proc/sys of the calling thread's network
// namespace, falling back to the kernel defaults, and opens no socket until
// a group is set.
func New(ifindex int) (*Joiner, error) {
	optmem := sysctl.Int("net/core/optmem_max", 10240) // 32-bit default before Linux 6.9
	lim := [nfam]limits{
		fam4: newLimits(sysctl.Int("net/ipv4/igmp_max_memberships", 20), sysctl.Int("net/ipv4/igmp_max_msf", 10), optmem, 4),
		// IPv6 has no membership count limit, only option memory.
		fam6: newLimits(0, sysctl.Int("net/ipv6/mld_max_msf", 64), optmem, 16),
	}
	return newJoiner(sysKernel{}, nativeABI, ifindex, lim)
}

// sysKernel carries memberships on unbound UDP sockets: an unbound UDP
// socket sits in no lookup table, so it receives nothing and queues no
// buffers, and it is the cheapest socket that accepts the MCAST_* options
// (a raw socket would get a copy of every packet of its protocol).
type sysKernel struct{}

func (sysKernel) socket(v6 bool) (int, error) {
	domain := unix.AF_INET
	if v6 {
		domain = unix.AF_INET6
	}
	fd, err := unix.Socket(domain, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return -1, format.Errorf("socket: %w", err)
	}
	return fd, nil
}

func (sysKernel) setsockopt(fd, level, name int, val []byte) error {
	return rawsys.Setsockopt(fd, level, name, val)
}

func (sysKernel) close(fd int) error { return unix.Close(fd) }
