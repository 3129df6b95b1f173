// Package config holds the validated configuration of mcast-proxy and its
// front-ends. Every front-end (the native mcast-proxy.conf(5) file, and later
// OpenWrt UCI and JSON) fills the same raw model, and one validation turns it
// into a Config, so the rules and defaults live in one place.
package config

import (
	"net/netip"
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
	Name string
	Role Role
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
	// Pos is where the interface block starts.
	Pos Pos
}

// Config is a validated configuration.
type Config struct {
	File string
	// IPv4 and IPv6 are the global settings; they are the defaults of the
	// per-interface settings, which hold the effective values.
	IPv4, IPv6 bool
	// Interfaces are in file order, disabled ones included.
	Interfaces []Interface
}

// Upstream returns the upstream interface, or nil if there is none.
func (c *Config) Upstream() *Interface {
	for i := range c.Interfaces {
		if c.Interfaces[i].Role == RoleUpstream {
			return &c.Interfaces[i]
		}
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
