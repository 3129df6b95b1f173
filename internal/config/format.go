package config

import (
	"strconv"
	"strings"
	"time"
)

// Format writes c in the native syntax with every default spelled out, so an
// operator sees what the daemon will do. Parsing the result gives the same
// Config, positions aside. Downstream settings are left out on the
// upstream, and priority elsewhere, where they are not allowed. Table is
// left out when it is the kernel's default, which has no spelling. A rule
// for "group any" comes out as one rule per family.
func (c *Config) Format() []byte {
	var b strings.Builder
	yesNo := func(v bool) string {
		if v {
			return "yes"
		}
		return "no"
	}
	line := func(indent bool, words ...string) {
		if indent {
			b.WriteByte('\t')
		}
		b.WriteString(strings.Join(words, " "))
		b.WriteByte('\n')
	}
	line(false, "ipv4", yesNo(c.IPv4))
	line(false, "ipv6", yesNo(c.IPv6))
	if c.Table != 0 {
		line(false, "table", strconv.FormatUint(uint64(c.Table), 10))
	}
	for _, i := range c.Interfaces {
		b.WriteByte('\n')
		line(false, "interface", quote(i.Name), "{")
		line(true, i.Role.String())
		if i.Role == RoleUpstream {
			line(true, "priority", strconv.Itoa(i.Priority))
		}
		for _, s := range i.Sources {
			line(true, "source", s.String())
		}
		line(true, "threshold", strconv.Itoa(i.Threshold))
		if i.Role != RoleUpstream {
			line(true, "igmp-version", strconv.Itoa(i.IGMPVersion))
			line(true, "mld-version", strconv.Itoa(i.MLDVersion))
			line(true, "robustness", strconv.Itoa(i.Robustness))
			line(true, "query-interval", formatDuration(i.QueryInterval))
			line(true, "query-response-interval", formatDuration(i.QueryResponseInterval))
			line(true, "last-member-query-interval", formatDuration(i.LastMemberQueryInterval))
			line(true, "last-member-query-count", strconv.Itoa(i.LastMemberQueryCount))
			line(true, "startup-query-interval", formatDuration(i.StartupQueryInterval))
			line(true, "startup-query-count", strconv.Itoa(i.StartupQueryCount))
			line(true, "max-groups", strconv.Itoa(i.MaxGroups))
			line(true, "max-sources", strconv.Itoa(i.MaxSources))
			line(true, "fast-leave", yesNo(i.FastLeave))
		}
		for _, r := range i.ACL {
			line(true, r.String())
		}
		line(true, "ipv4", yesNo(i.IPv4))
		line(true, "ipv6", yesNo(i.IPv6))
		line(false, "}")
	}
	return []byte(b.String())
}

// quote writes s as a quoted string the lexer reads back unchanged.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// formatDuration writes d the way the configuration file accepts it:
// milliseconds for whole milliseconds below a second, else seconds with as
// many decimals as needed. Integer arithmetic keeps it exact.
func formatDuration(d time.Duration) string {
	if d < time.Second && d%time.Millisecond == 0 {
		return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	}
	s := strconv.FormatInt(int64(d/time.Second), 10)
	if frac := int64(d % time.Second); frac != 0 {
		f := strconv.FormatInt(frac+int64(time.Second), 10)[1:] // zero-padded to 9 digits
		s += "." + strings.TrimRight(f, "0")
	}
	return s + "s"
}
