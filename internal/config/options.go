package config

import (
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// The option table. Every setting of the configuration is declared here
// once; the entry drives its keyword in both syntaxes, parsing into the raw
// model, where it may appear, the "did you mean" hints, and formatting.
// Reload diffs compare Interfaces field by field (Interface.Equal), and
// TestInterfaceEqualComparesEveryField fails until a new field is named
// there. TestOptionTable fails when an
// entry is missing for a field of Config or Interface, or when validation
// or formatting forgets an entry.
//
// To add an option: add the field to Interface (or Config), the raw field
// to rawInterface (or rawConfig), an entry below, and its range check in
// validate.go.

// kind is the type of an option's value.
type kind int

const (
	kindBool     kind = iota // native yes|no, UCI '1'|'0'
	kindInt                  // non-negative decimal integer
	kindUint                 // non-negative decimal integer of up to 64 bits
	kindDuration             // seconds, or a number with ms, s or m
	kindPrefix               // an address prefix, repeatable (a UCI list)
	kindRole                 // native: the bare keyword; UCI: option role
	kindRule                 // native: allow|deny statement; UCI: list rule
)

// option is one entry of the table.
type option struct {
	// name is the native keyword; the UCI option is the same word with
	// underscores (uciName).
	name string
	kind kind
	// only is the one role the option is allowed on, when it is not
	// RoleDisabled; elsewhere it is an error.
	only Role
	// global and iface return the raw setting the option fills: a
	// *setting[T] of the kind's type, or a *[]setting[string] for
	// kindPrefix. Exactly one of them is set.
	global func(*rawConfig) any
	iface  func(*rawInterface) any
	// field is the Config or Interface field the option ends up in.
	field string
	// value returns the option's validated value, for formatting: bool,
	// int, uint32, time.Duration, Role, []netip.Prefix or ACL. ok false
	// leaves the option out.
	value func(c *Config, i *Interface) (v any, ok bool)
	// sample is a valid value, different from the default, in the native
	// spelling, that TestOptionTable sets.
	sample string
}

// allowedOn says whether the option may be set on an interface of role r.
// A disabled interface may keep downstream settings, to be switched back on
// later.
func (o *option) allowedOn(r Role) bool {
	return o.only == RoleDisabled || o.only == r || (o.only == RoleDownstream && r == RoleDisabled)
}

// uciName is the option's name in UCI: lower case with underscores.
func (o *option) uciName() string {
	switch o.kind {
	case kindRole:
		return "role"
	case kindRule:
		return "rule"
	}
	return strings.ReplaceAll(o.name, "-", "_")
}

// always is a value function for options shown in every formatted file.
func always[T any](f func(c *Config, i *Interface) T) func(*Config, *Interface) (any, bool) {
	return func(c *Config, i *Interface) (any, bool) { return f(c, i), true }
}

var globalOptions = []*option{
	{name: "ipv4", kind: kindBool, field: "IPv4", sample: "no",
		global: func(r *rawConfig) any { return &r.ipv4 },
		value:  always(func(c *Config, _ *Interface) bool { return c.IPv4 })},
	{name: "ipv6", kind: kindBool, field: "IPv6", sample: "yes",
		global: func(r *rawConfig) any { return &r.ipv6 },
		value:  always(func(c *Config, _ *Interface) bool { return c.IPv6 })},
	// The kernel's default table has no spelling.
	{name: "table", kind: kindUint, field: "Table", sample: "100",
		global: func(r *rawConfig) any { return &r.table },
		value:  func(c *Config, _ *Interface) (any, bool) { return c.Table, c.Table != 0 }},
	{name: "max-memory-total", kind: kindInt, field: "MaxMemoryTotal", sample: "8192",
		global: func(r *rawConfig) any { return &r.maxMemoryTotal },
		value:  always(func(c *Config, _ *Interface) int { return c.MaxMemoryTotal >> 10 })},
}

var interfaceOptions = []*option{
	{name: "role", kind: kindRole, field: "Role", sample: "disabled",
		iface: func(r *rawInterface) any { return &r.role },
		value: always(func(_ *Config, i *Interface) Role { return i.Role })},
	{name: "priority", kind: kindInt, only: RoleUpstream, field: "Priority", sample: "5",
		iface: func(r *rawInterface) any { return &r.priority },
		value: always(func(_ *Config, i *Interface) int { return i.Priority })},
	{name: "source", kind: kindPrefix, only: RoleUpstream, field: "Sources", sample: "10.0.0.0/8",
		iface: func(r *rawInterface) any { return &r.sources },
		value: func(_ *Config, i *Interface) (any, bool) { return i.Sources, len(i.Sources) > 0 }},
	{name: "threshold", kind: kindInt, field: "Threshold", sample: "2",
		iface: func(r *rawInterface) any { return &r.threshold },
		value: always(func(_ *Config, i *Interface) int { return i.Threshold })},
	{name: "igmp-version", kind: kindInt, only: RoleDownstream, field: "IGMPVersion", sample: "2",
		iface: func(r *rawInterface) any { return &r.igmpVersion },
		value: always(func(_ *Config, i *Interface) int { return i.IGMPVersion })},
	{name: "mld-version", kind: kindInt, only: RoleDownstream, field: "MLDVersion", sample: "1",
		iface: func(r *rawInterface) any { return &r.mldVersion },
		value: always(func(_ *Config, i *Interface) int { return i.MLDVersion })},
	{name: "robustness", kind: kindInt, only: RoleDownstream, field: "Robustness", sample: "3",
		iface: func(r *rawInterface) any { return &r.robustness },
		value: always(func(_ *Config, i *Interface) int { return i.Robustness })},
	{name: "query-interval", kind: kindDuration, only: RoleDownstream, field: "QueryInterval", sample: "60",
		iface: func(r *rawInterface) any { return &r.queryInterval },
		value: always(func(_ *Config, i *Interface) time.Duration { return i.QueryInterval })},
	{name: "query-response-interval", kind: kindDuration, only: RoleDownstream, field: "QueryResponseInterval", sample: "5",
		iface: func(r *rawInterface) any { return &r.queryRespInt },
		value: always(func(_ *Config, i *Interface) time.Duration { return i.QueryResponseInterval })},
	{name: "last-member-query-interval", kind: kindDuration, only: RoleDownstream, field: "LastMemberQueryInterval", sample: "500ms",
		iface: func(r *rawInterface) any { return &r.lastMemberQInt },
		value: always(func(_ *Config, i *Interface) time.Duration { return i.LastMemberQueryInterval })},
	{name: "last-member-query-count", kind: kindInt, only: RoleDownstream, field: "LastMemberQueryCount", sample: "3",
		iface: func(r *rawInterface) any { return &r.lmqCount },
		value: always(func(_ *Config, i *Interface) int { return i.LastMemberQueryCount })},
	{name: "startup-query-interval", kind: kindDuration, only: RoleDownstream, field: "StartupQueryInterval", sample: "10",
		iface: func(r *rawInterface) any { return &r.startupQInterval },
		value: always(func(_ *Config, i *Interface) time.Duration { return i.StartupQueryInterval })},
	{name: "startup-query-count", kind: kindInt, only: RoleDownstream, field: "StartupQueryCount", sample: "4",
		iface: func(r *rawInterface) any { return &r.sqCount },
		value: always(func(_ *Config, i *Interface) int { return i.StartupQueryCount })},
	{name: "max-groups", kind: kindInt, only: RoleDownstream, field: "MaxGroups", sample: "10",
		iface: func(r *rawInterface) any { return &r.maxGroups },
		value: always(func(_ *Config, i *Interface) int { return i.MaxGroups })},
	{name: "max-sources", kind: kindInt, only: RoleDownstream, field: "MaxSources", sample: "10",
		iface: func(r *rawInterface) any { return &r.maxSources },
		value: always(func(_ *Config, i *Interface) int { return i.MaxSources })},
	{name: "max-memory", kind: kindInt, only: RoleDownstream, field: "MaxMemory", sample: "512",
		iface: func(r *rawInterface) any { return &r.maxMemory },
		value: always(func(_ *Config, i *Interface) int { return i.MaxMemory >> 10 })},
	{name: "fast-leave", kind: kindBool, only: RoleDownstream, field: "FastLeave", sample: "yes",
		iface: func(r *rawInterface) any { return &r.fastLeave },
		value: always(func(_ *Config, i *Interface) bool { return i.FastLeave })},
	{name: "rule", kind: kindRule, field: "ACL", sample: "deny group 239.0.0.0/8",
		iface: func(r *rawInterface) any { return &r.rules },
		value: func(_ *Config, i *Interface) (any, bool) { return i.ACL, len(i.ACL) > 0 }},
	{name: "ipv4", kind: kindBool, field: "IPv4", sample: "no",
		iface: func(r *rawInterface) any { return &r.ipv4 },
		value: always(func(_ *Config, i *Interface) bool { return i.IPv4 })},
	{name: "ipv6", kind: kindBool, field: "IPv6", sample: "no",
		iface: func(r *rawInterface) any { return &r.ipv6 },
		value: always(func(_ *Config, i *Interface) bool { return i.IPv6 })},
}

// roleWords are the native spellings of the roles, in Role order.
var roleWords = []string{"disabled", "upstream", "downstream"}

// parseRole reads a role keyword.
func parseRole(s string) (Role, bool) {
	for r, w := range roleWords {
		if s == w {
			return Role(r), true
		}
	}
	return 0, false
}

// nativeKeywords lists the keywords of options in the native syntax, for
// "did you mean" hints.
func nativeKeywords(opts []*option) []string {
	var out []string
	for _, o := range opts {
		switch o.kind {
		case kindRole:
			out = append(out, roleWords[1:]...)
			out = append(out, roleWords[0])
		case kindRule:
			out = append(out, "allow", "deny")
		default:
			out = append(out, o.name)
		}
	}
	return out
}

func findOption(opts []*option, name string, uci bool) *option {
	for _, o := range opts {
		if (!uci && o.name == name) || (uci && o.uciName() == name) {
			return o
		}
	}
	return nil
}

// parseScalar reads the text of a number or duration option.
func parseScalar(k kind, text string) (any, error) {
	switch k {
	case kindInt:
		return parseNumber(text)
	case kindUint:
		return parseUint(text)
	case kindDuration:
		return parseDuration(text)
	}
	panic("config: parseScalar of kind " + strconv.Itoa(int(k)))
}

// assign records val in dst, one of the raw settings an option's accessor
// returns. A second value of a single-valued option is refused: first
// says where the first one was.
func assign(dst any, val any, key string, pos, valPos Pos) (first Pos, ok bool) {
	switch d := dst.(type) {
	case *setting[bool]:
		return setOnce(d, val.(bool), key, pos, valPos)
	case *setting[int]:
		return setOnce(d, val.(int), key, pos, valPos)
	case *setting[uint64]:
		return setOnce(d, val.(uint64), key, pos, valPos)
	case *setting[time.Duration]:
		return setOnce(d, val.(time.Duration), key, pos, valPos)
	case *setting[Role]:
		return setOnce(d, val.(Role), key, pos, valPos)
	case *[]setting[string]:
		*d = append(*d, setting[string]{Val: val.(string), Set: true, Key: key, Pos: pos, ValPos: valPos})
		return Pos{}, true
	}
	panic("config: assign to a type this switch lacks")
}

func setOnce[T any](s *setting[T], val T, key string, pos, valPos Pos) (Pos, bool) {
	if s.Set {
		return s.Pos, false
	}
	*s = setting[T]{Val: val, Set: true, Key: key, Pos: pos, ValPos: valPos}
	return Pos{}, true
}

// placed lists the positions and spellings of an interface option that is
// set, one per value for lists.
func placed(dst any) []setting[struct{}] {
	at := func(set bool, key string, pos Pos) []setting[struct{}] {
		if !set {
			return nil
		}
		return []setting[struct{}]{{Set: true, Key: key, Pos: pos}}
	}
	switch d := dst.(type) {
	case *setting[bool]:
		return at(d.Set, d.Key, d.Pos)
	case *setting[int]:
		return at(d.Set, d.Key, d.Pos)
	case *setting[uint64]:
		return at(d.Set, d.Key, d.Pos)
	case *setting[time.Duration]:
		return at(d.Set, d.Key, d.Pos)
	case *setting[Role]:
		return at(d.Set, d.Key, d.Pos)
	case *[]setting[string]:
		var out []setting[struct{}]
		for _, s := range *d {
			out = append(out, at(true, s.Key, s.Pos)...)
		}
		return out
	case *[]rawRule:
		var out []setting[struct{}]
		for _, r := range *d {
			out = append(out, at(true, r.key, r.pos)...)
		}
		return out
	}
	panic("config: placed of a type this switch lacks")
}

// forget forgets a raw setting, so that validation applies the default.
func forget(dst any) {
	switch d := dst.(type) {
	case *setting[bool]:
		*d = setting[bool]{}
	case *setting[int]:
		*d = setting[int]{}
	case *setting[uint64]:
		*d = setting[uint64]{}
	case *setting[time.Duration]:
		*d = setting[time.Duration]{}
	case *setting[Role]:
		*d = setting[Role]{}
	case *[]setting[string]:
		*d = nil
	case *[]rawRule:
		*d = nil
	default:
		panic("config: forget of a type this switch lacks")
	}
}

// formatValue writes a validated value in the native spelling.
func formatValue(v any) []string {
	switch v := v.(type) {
	case bool:
		if v {
			return []string{"yes"}
		}
		return []string{"no"}
	case int:
		return []string{strconv.Itoa(v)}
	case uint32:
		return []string{strconv.FormatUint(uint64(v), 10)}
	case time.Duration:
		return []string{formatDuration(v)}
	case Role:
		return []string{v.String()}
	case []netip.Prefix:
		out := make([]string, len(v))
		for i, p := range v {
			out[i] = p.String()
		}
		return out
	case ACL:
		out := make([]string, len(v))
		for i, r := range v {
			out[i] = r.String()
		}
		return out
	}
	panic("config: formatValue of a type this switch lacks")
}
