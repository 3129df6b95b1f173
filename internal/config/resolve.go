package config

import (
	"slices"

	"github.com/mcast-proxy/mcast-proxy/internal/format"
)

// NetworkError says why an interface's netifd network was not resolved.
type NetworkError struct {
	Network string
	msg     string
	err     error
}

func (e *NetworkError) Error() string { return e.msg }

// Unwrap returns the resolver's error, if it was one.
func (e *NetworkError) Unwrap() error { return e.err }

// Resolve returns a copy of c in which every interface that follows a
// netifd network (Network is set) carries the name of the network's device
// as l3 reports it, so the daemon can treat it like any other interface.
// An interface whose network l3 cannot resolve (down, unknown, or no way
// to ask) keeps its "@network" name, which no device has, and is waited for
// like a device that does not exist yet; the returned errors say why, one
// per such interface. When a network's device is already another
// interface's, the interface named by its device, or else the first in the
// file, keeps it. The errors are *NetworkError.
func (c *Config) Resolve(l3 func(network string) (string, error)) (*Config, []error) {
	all := append([]*Config{c}, c.Proxies...)
	used := map[string]string{} // device -> the interface that has it
	for _, in := range all {
		for _, i := range in.Interfaces {
			if i.Network == "" {
				used[i.Name] = i.Name
			}
		}
	}
	var errs []error
	resolved := make([]*Config, len(all))
	for n, in := range all {
		out := *in
		out.Interfaces = slices.Clone(in.Interfaces)
		for k := range out.Interfaces {
			i := &out.Interfaces[k]
			if i.Network == "" {
				continue
			}
			dev, err := l3(i.Network)
			switch {
			case err != nil:
				errs = append(errs, &NetworkError{Network: i.Network, msg: format.Sprintf("network %q: %v", i.Network, err), err: err})
			case used[dev] != "":
				errs = append(errs, &NetworkError{Network: i.Network,
					msg: format.Sprintf("network %q has device %q, which interface %q already uses", i.Network, dev, used[dev])})
			default:
				used[dev] = i.Name
				i.Name = dev
			}
		}
		resolved[n] = &out
	}
	top := resolved[0]
	top.Proxies = resolved[1:]
	if len(c.Proxies) == 0 {
		top.Proxies = nil
	}
	return top, errs
}
