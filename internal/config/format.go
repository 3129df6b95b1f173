package config

import (
	"strconv"
	"strings"
	"time"
)

// Format writes c in the native syntax with every default spelled out, so an
// operator sees what the daemon will do. Parsing the result gives the same
// Config, positions aside. Options are written in the order of the option
// table, and only on the roles they are allowed on. Table is left out when
// it is the kernel's default, which has no spelling. A rule for "group any"
// comes out as one rule per family.
func (c *Config) Format() []byte {
	var b strings.Builder
	c.format(&b, "")
	for _, pc := range c.Proxies {
		b.WriteString("\nproxy " + quote(pc.Name) + " {\n")
		pc.format(&b, "\t")
		b.WriteString("}\n")
	}
	return []byte(b.String())
}

// format writes the settings and interfaces of one instance, each line
// after indent.
func (c *Config) format(b *strings.Builder, indent string) {
	line := func(in bool, words ...string) {
		b.WriteString(indent)
		if in {
			b.WriteByte('\t')
		}
		b.WriteString(strings.Join(words, " "))
		b.WriteByte('\n')
	}
	for _, o := range globalOptions {
		if v, ok := o.value(c, nil); ok {
			for _, w := range formatValue(v) {
				line(false, o.name, w)
			}
		}
	}
	for _, i := range c.Interfaces {
		b.WriteByte('\n')
		name := i.Name
		if i.Network != "" {
			name = "@" + i.Network
		}
		line(false, "interface", quote(name), "{")
		for _, o := range interfaceOptions {
			v, ok := o.value(c, &i)
			if !ok || !o.allowedOn(i.Role) {
				continue
			}
			for _, w := range formatValue(v) {
				switch o.kind {
				case kindRole, kindRule:
					line(true, w)
				default:
					line(true, o.name, w)
				}
			}
		}
		line(false, "}")
	}
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
