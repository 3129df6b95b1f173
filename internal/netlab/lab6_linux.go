//go:build linux

package netlab

import (
	"fmt"
	"net"
	"net/netip"
	"time"
)

// DisableDAD turns off IPv6 duplicate address detection in the namespaces
// (net.ipv6.conf.{all,default}.accept_dad = 0), so that addresses of links
// created afterwards, link-local ones included, are usable at once instead
// of staying tentative for a second or more.
func (l *Lab) DisableDAD(names ...string) error {
	for _, ns := range names {
		for _, key := range []string{"all", "default"} {
			if err := l.Sysctl(ns, "net/ipv6/conf/"+key+"/accept_dad", "0"); err != nil {
				return err
			}
		}
	}
	return nil
}

// AddrNoDAD adds an IPv6 address in CIDR form ("2001:db8::1/64") without
// duplicate address detection ("nodad"), so that it can be bound at once, and
// brings the interface up.
func (l *Lab) AddrNoDAD(ns, ifname, cidr string) error {
	if err := l.IP(ns, "addr", "add", cidr, "dev", ifname, "nodad"); err != nil {
		return err
	}
	return l.IP(ns, "link", "set", ifname, "up")
}

// SetLinkLocal replaces the kernel-generated IPv6 link-local address of an
// interface with cidr ("fe80::100/64"), for tests that depend on the order
// of link-local addresses (MLD querier election, RFC 3810 §7.6.2). The
// kernel is told not to generate another one.
func (l *Lab) SetLinkLocal(ns, ifname, cidr string) error {
	if err := l.IP(ns, "link", "set", ifname, "addrgenmode", "none"); err != nil {
		return err
	}
	if err := l.IP(ns, "-6", "addr", "flush", "dev", ifname, "scope", "link"); err != nil {
		return err
	}
	return l.AddrNoDAD(ns, ifname, cidr)
}

// LinkLocal returns the first IPv6 link-local address of an interface; ok is
// false if it has none (yet).
func (l *Lab) LinkLocal(ns, ifname string) (addr netip.Addr, ok bool, err error) {
	err = l.Do(ns, func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		addrs, err := ifi.Addrs()
		if err != nil {
			return err
		}
		for _, a := range addrs {
			ipn, isNet := a.(*net.IPNet)
			if !isNet {
				continue
			}
			if ip, valid := netip.AddrFromSlice(ipn.IP); valid && ip.Is6() && ip.IsLinkLocalUnicast() {
				addr, ok = ip, true
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return netip.Addr{}, false, fmt.Errorf("netlab: addresses of %s in %s: %w", ifname, ns, err)
	}
	return addr, ok, nil
}

// WaitLinkLocal waits up to timeout until an interface has an IPv6
// link-local address and returns it. Hosts send MLD from their link-local
// address (RFC 3810 §5.2.13), so a stack without one is not ready to join.
func (l *Lab) WaitLinkLocal(ns, ifname string, timeout time.Duration) (netip.Addr, error) {
	deadline := time.Now().Add(timeout)
	for {
		a, ok, err := l.LinkLocal(ns, ifname)
		if err != nil {
			return netip.Addr{}, err
		}
		if ok {
			return a, nil
		}
		if time.Now().After(deadline) {
			return netip.Addr{}, fmt.Errorf("netlab: %s in %s has no IPv6 link-local address after %v", ifname, ns, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
