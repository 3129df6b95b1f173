// Package config holds the validated configuration of mcast-proxy and its
// front-ends. Both front-ends (the native mcast-proxy.conf(5) file and
// OpenWrt UCI) fill the same raw model, and one validation turns it into a
// Config, so the rules and defaults live in one place.
package config

import (
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Role is what an interface does in the proxy (RFC 4605 §1).
type Role int

// Interface roles.
const (
	RoleDisabled Role = iota
	RoleUpstream
	RoleDownstream
)

// String returns the keyword used in the configuration file.
func (r Role) String() string {
	switch r {
	case RoleDisabled:
		return "disabled"
	case RoleUpstream:
		return "upstream"
	case RoleDownstream:
		return "downstream"
	}
	return "role(" + strconv.Itoa(int(r)) + ")"
}

// Pos is a position in a configuration file. Line and Col are 1-based; Col
// counts characters, not bytes. A zero Line or Col is left out when printed,
// for front-ends that cannot tell them.
type Pos struct {
	File      string
	Line, Col int
}

// String formats the position as "file:line:col".
func (p Pos) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		if b.Len() > 0 {
			b.WriteByte(':')
		}
		b.WriteString(strconv.Itoa(p.Line))
		if p.Col > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(p.Col))
		}
	}
	return b.String()
}

// Interface is the validated configuration of one interface, with every
// default filled in.
type Interface struct {
	// Name is the kernel's name of the interface (a device). An interface
	// configured by its netifd network has "@" and the network's name here
	// until Resolve finds the network's device.
	Name string
	// Network is the netifd logical network (OpenWrt's "wan", "lan") the
	// interface follows, or "" when it names a device.
	Network string
	Role    Role
	// Sources are extra source prefixes accepted on the upstream besides the
	// interface's own subnets. Upstream only.
	Sources []netip.Prefix
	// Threshold is the TTL threshold of the multicast VIF.
	Threshold int
	// IGMPVersion and MLDVersion are the highest versions used when querying
	// on a downstream.
	IGMPVersion int
	MLDVersion  int
	// Querier variables, RFC 3376 §8 and RFC 3810 §9.
	Robustness              int
	QueryInterval           time.Duration
	QueryResponseInterval   time.Duration
	LastMemberQueryInterval time.Duration
	StartupQueryInterval    time.Duration
	LastMemberQueryCount    int
	StartupQueryCount       int
	// IPv4 and IPv6 are the effective settings: the interface's own value,
	// else the global one.
	IPv4, IPv6 bool
	// Priority orders the upstreams for failover: lower wins, ties go to
	// the one declared first. Zero on other roles.
	Priority int
	// ACL decides, first match wins, what hosts may join on a downstream and
	// what may be requested on an upstream. Empty allows everything.
	ACL ACL
	// MaxGroups is how many groups hosts may join on a downstream, and
	// MaxSources how many sources per group; records beyond are ignored.
	// On an upstream they hold the defaults and mean nothing.
	MaxGroups, MaxSources int
	// MaxMemory is the byte budget of the state hosts on a downstream can
	// create: groups, sources, tracked hosts and their source lists, and
	// forwarding entries for traffic they send. In bytes.
	MaxMemory int
	// FastLeave stops forwarding a group (or source) on a downstream as soon
	// as the last host that reported it leaves, without last-member queries.
	FastLeave bool
	// Pos is where the interface block starts.
	Pos Pos
}

// Equal reports whether a and b have the same settings. Positions, the
// interface's and its rules', are ignored, and an empty list is a nil one.
// TestInterfaceEqualComparesEveryField changes each field in turn and fails
// until a new one is compared here. (reflect.DeepEqual did this without
// code, for 10 KB of the binary.)
func (a Interface) Equal(b Interface) bool {
	return a.Name == b.Name && a.Network == b.Network && a.Role == b.Role &&
		slices.Equal(a.Sources, b.Sources) && a.Threshold == b.Threshold &&
		a.IGMPVersion == b.IGMPVersion && a.MLDVersion == b.MLDVersion &&
		a.Robustness == b.Robustness && a.QueryInterval == b.QueryInterval &&
		a.QueryResponseInterval == b.QueryResponseInterval &&
		a.LastMemberQueryInterval == b.LastMemberQueryInterval &&
		a.StartupQueryInterval == b.StartupQueryInterval &&
		a.LastMemberQueryCount == b.LastMemberQueryCount && a.StartupQueryCount == b.StartupQueryCount &&
		a.IPv4 == b.IPv4 && a.IPv6 == b.IPv6 && a.Priority == b.Priority &&
		a.ACL.equal(b.ACL) && a.MaxGroups == b.MaxGroups && a.MaxSources == b.MaxSources &&
		a.MaxMemory == b.MaxMemory && a.FastLeave == b.FastLeave
}

// Config is a validated configuration. The top level is the default proxy
// instance: the settings and interfaces outside proxy blocks (native) or of
// the first proxy section and the interface sections that name no other
// (UCI). Each named instance is a Config of its own in Proxies.
type Config struct {
	File string
	// Name is the proxy instance's name; "" for the default instance.
	Name string
	// Pos is where a named instance's block or section starts.
	Pos Pos
	// IPv4 and IPv6 are the instance's settings (a named instance inherits
	// the global ones); they are the defaults of the per-interface
	// settings, which hold the effective values.
	IPv4, IPv6 bool
	// Table is the kernel multicast routing table (MRT_TABLE, MRT6_TABLE)
	// to use. 0 means the kernel's default table for the default instance,
	// and a table chosen by the daemon (AutoTableFirst and up) for a named
	// one.
	Table uint32
	// MaxMemoryTotal is the byte budget shared by all downstreams, besides
	// each one's MaxMemory. In bytes. At the top level it bounds every
	// instance together; a named instance's bounds its own downstreams
	// (and defaults to the top level's).
	MaxMemoryTotal int
	// Interfaces are in file order, disabled ones included.
	Interfaces []Interface
	// Proxies are the named instances, in file order; empty in each of
	// them.
	Proxies []*Config
}

// The tables the daemon gives named proxy instances without a table of
// their own: far from the kernel's reserved ones (0, 253 to 255) and from
// the small numbers administrators pick by hand.
const (
	AutoTableFirst = 5000
	AutoTableLast  = 5999
)

// Instances returns the proxy instances: the default one first, when it
// has interfaces or no named instance exists, then the named ones in file
// order. The default instance's Config has no Proxies.
func (c *Config) Instances() []*Config {
	var out []*Config
	if len(c.Interfaces) > 0 || len(c.Proxies) == 0 {
		def := *c
		def.Proxies = nil
		out = append(out, &def)
	}
	return append(out, c.Proxies...)
}

// Instance returns the named instance, or the default one for "".
func (c *Config) Instance(name string) *Config {
	for _, in := range c.Instances() {
		if in.Name == name {
			return in
		}
	}
	return nil
}

// Upstreams returns the upstream interfaces in failover order: by Priority,
// lowest first, and in file order among equal priorities.
func (c *Config) Upstreams() []*Interface {
	var us []*Interface
	for i := range c.Interfaces {
		if c.Interfaces[i].Role == RoleUpstream {
			us = append(us, &c.Interfaces[i])
		}
	}
	sort.SliceStable(us, func(i, j int) bool { return us[i].Priority < us[j].Priority })
	return us
}

// Upstream returns the preferred upstream interface, the first of
// Upstreams, or nil if there is none.
func (c *Config) Upstream() *Interface {
	if us := c.Upstreams(); len(us) > 0 {
		return us[0]
	}
	return nil
}

// Downstreams returns the downstream interfaces in file order.
func (c *Config) Downstreams() []*Interface {
	var ds []*Interface
	for i := range c.Interfaces {
		if c.Interfaces[i].Role == RoleDownstream {
			ds = append(ds, &c.Interfaces[i])
		}
	}
	return ds
}

// Error is one problem in a configuration, with where it is.
type Error struct {
	Pos Pos
	Msg string
}

// Error returns "file:line:col: msg".
func (e *Error) Error() string {
	p := e.Pos.String()
	if p == "" {
		return e.Msg
	}
	return p + ": " + e.Msg
}

// Errors is every problem found in a configuration, in file order. Parse and
// Load return it for invalid input.
type Errors []*Error

// Error returns the errors one per line.
func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap returns the individual errors, for errors.As.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}
