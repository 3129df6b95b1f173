package config

import (
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/mcast-proxy/mcast-proxy/internal/format"
)

// ParseUCI reads a configuration in OpenWrt's UCI syntax (/etc/config/
// mcast-proxy, mcast-proxy.conf(5) "UCI") and validates it like Parse.
//
// The syntax is what libuci reads and the uci tool writes: statements
// "package NAME", "config TYPE [NAME]", "option NAME VALUE" and
// "list NAME VALUE", one per line or separated by ";". A value is made of
// adjacent parts: '...' (taken literally), "..." (a backslash takes the
// next character literally) and unquoted text (the same), so what the uci
// tool writes for a value with a quote reads back as it was:
//
//	option description 'it'\''s mine'
//
// A backslash at the end of a line continues the statement on the next.
// "#" outside quotes starts a comment.
//
// The schema: a "config proxy" section with the global options, and one
// "config interface" section per interface that names either a netifd
// network (option network 'wan') or a device (option device 'eth0.7').
// Further, named, proxy sections are proxy instances of their own (with
// option table, ipv4, ipv6, max_memory_total); an interface section joins
// one with option proxy 'NAME'. Interface sections without it belong to the
// first proxy section, the default instance.
// Option names are the native keywords with "_" for "-". Booleans are '1'
// and '0' (and the other words OpenWrt's config_get_bool accepts); an empty
// value ” leaves the option at its default.
func ParseUCI(file string, data []byte) (*Config, error) {
	raw, errs := parseUCI(file, data)
	return raw.build(errs)
}

// Section types of the UCI schema.
const (
	uciProxy     = "proxy"
	uciInterface = "interface"
)

// uciProxyOnly are options of the proxy section that the init script reads
// (enabled, firewall); the daemon only checks that they are booleans.
var uciProxyOnly = []string{"enabled", "firewall"}

// uciWord is one argument of a UCI statement, unquoted.
type uciWord struct {
	text string
	pos  Pos
	// inner is where the first character of the text is, after any
	// opening quote.
	inner Pos
}

type uciLexer struct {
	file      string
	data      []byte
	i         int
	line, col int
	errs      *Errors
}

func (l *uciLexer) pos() Pos { return Pos{File: l.file, Line: l.line, Col: l.col} }

func (l *uciLexer) errorf(pos Pos, layout string, args ...any) {
	*l.errs = append(*l.errs, &Error{Pos: pos, Msg: format.Sprintf(layout, args...)})
}

// advance moves over one character, counting columns in characters; an
// invalid UTF-8 byte counts as one.
func (l *uciLexer) advance() {
	if l.data[l.i] == '\n' {
		l.line++
		l.col = 1
		l.i++
		return
	}
	_, n := utf8.DecodeRune(l.data[l.i:])
	l.i += n
	l.col++
}

// at reports whether the input at offset k from the cursor is c.
func (l *uciLexer) at(k int, c byte) bool {
	return l.i+k < len(l.data) && l.data[l.i+k] == c
}

// continuation reports a backslash that ends the line, which joins the
// next line to this one, and moves over it.
func (l *uciLexer) continuation() bool {
	switch {
	case l.at(0, '\\') && l.at(1, '\n'):
		l.advance()
		l.advance()
		return true
	case l.at(0, '\\') && l.at(1, '\r') && l.at(2, '\n'):
		l.advance()
		l.advance()
		l.advance()
		return true
	}
	return false
}

// statement returns the words of the next statement; ok is false at the
// end of the input.
func (l *uciLexer) statement() (words []uciWord, ok bool) {
	for l.i < len(l.data) {
		c := l.data[l.i]
		switch {
		case c == '\n' || c == ';':
			l.advance()
			if len(words) > 0 {
				return words, true
			}
		case c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f':
			l.advance()
		case l.continuation():
		case c == '#':
			for l.i < len(l.data) && l.data[l.i] != '\n' {
				l.advance()
			}
		default:
			words = append(words, l.word())
		}
	}
	return words, len(words) > 0
}

// word reads one argument made of quoted and unquoted parts.
func (l *uciLexer) word() uciWord {
	w := uciWord{pos: l.pos()}
	var b strings.Builder
	// literal appends the character at the cursor.
	literal := func() {
		if b.Len() == 0 {
			w.inner = l.pos()
		}
		j := l.i
		l.advance()
		b.Write(l.data[j:l.i])
	}
	for l.i < len(l.data) {
		switch c := l.data[l.i]; c {
		case ' ', '\t', '\r', '\v', '\f', '\n', ';', '#':
			w.text = b.String()
			return w
		case '\'':
			start := l.pos()
			l.advance()
			for l.i < len(l.data) && l.data[l.i] != '\'' && l.data[l.i] != '\n' {
				literal()
			}
			if !l.at(0, '\'') {
				l.errorf(start, "unterminated ' quote")
				continue
			}
			l.advance()
		case '"':
			start := l.pos()
			l.advance()
			for l.i < len(l.data) && l.data[l.i] != '"' && l.data[l.i] != '\n' {
				if l.continuation() {
					continue
				}
				if l.data[l.i] == '\\' && l.i+1 < len(l.data) && l.data[l.i+1] != '\n' {
					l.advance()
				}
				literal()
			}
			if !l.at(0, '"') {
				l.errorf(start, "unterminated \" quote")
				continue
			}
			l.advance()
		case '\\':
			if l.continuation() {
				continue
			}
			l.advance()
			if l.i < len(l.data) && l.data[l.i] != '\n' {
				literal()
			}
		default:
			literal()
		}
	}
	w.text = b.String()
	return w
}

// isUCIName reports whether s is a valid UCI section or option name:
// letters, digits and "_", as libuci checks them.
func isUCIName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
		if !ok {
			return false
		}
	}
	return true
}

// command matches the first word of a statement; libuci accepts each
// command's first letter alone too.
func command(w string) string {
	for _, c := range []string{"package", "config", "option", "list"} {
		if w == c || w == c[:1] {
			return c
		}
	}
	return ""
}

type uciParser struct {
	file string
	raw  *rawConfig
	errs Errors

	proxy     *uciWord       // the first proxy section's config statement
	proxyName string         // its name, which option proxy may name too
	instance  *rawConfig     // the proxy section being read
	proxies   map[string]Pos // named instances, where each starts
	iface     *rawInterface  // the interface section being read
	ifaceOf   setting[string]
	pending   []pendingIface // interface sections read, to be placed at the end
	ifaceName string         // its UCI name, or @interface[N] as uci shows anonymous ones
	ifaces    int            // interface sections so far
	named     map[string]Pos // named interface sections, where each starts
	inProxy   bool
	skipping  bool // inside a section of an unknown type
	netPos    Pos  // where network or device was set in iface
	netKey    string
}

// pendingIface is an interface section and the instance it names: its
// proxy section may come later in the file.
type pendingIface struct {
	ri    *rawInterface
	proxy setting[string]
}

func (p *uciParser) errorf(pos Pos, layout string, args ...any) {
	p.errs = append(p.errs, &Error{Pos: pos, Msg: format.Sprintf(layout, args...)})
}

// parseUCI turns the UCI syntax into the raw model, reporting syntax errors
// and options that do not exist. Semantic checks are left to validate.
func parseUCI(file string, data []byte) (*rawConfig, Errors) {
	p := &uciParser{file: file, raw: &rawConfig{file: file, end: Pos{File: file, Line: 1, Col: 1}}, named: map[string]Pos{}, proxies: map[string]Pos{}}
	l := &uciLexer{file: file, data: data, line: 1, col: 1, errs: &p.errs}
	for {
		words, ok := l.statement()
		if !ok {
			break
		}
		p.raw.end = words[0].pos
		p.statement(words)
	}
	p.endSection()
	p.placeInterfaces()
	return p.raw, p.errs
}

// placeInterfaces puts every interface section into the instance its
// option proxy names, the default one without it.
func (p *uciParser) placeInterfaces() {
	for _, pi := range p.pending {
		name := pi.proxy.Val
		if !pi.proxy.Set || name == p.proxyName {
			p.raw.ifaces = append(p.raw.ifaces, pi.ri)
			continue
		}
		i := slices.IndexFunc(p.raw.proxies, func(r *rawConfig) bool { return r.name == name })
		if i < 0 {
			known := []string{}
			if p.proxyName != "" {
				known = append(known, p.proxyName)
			}
			for _, r := range p.raw.proxies {
				known = append(known, r.name)
			}
			p.errorf(pi.proxy.ValPos, "proxy %q: there is no proxy section of that name%s", name, suggest(name, known))
			continue
		}
		r := p.raw.proxies[i]
		r.ifaces = append(r.ifaces, pi.ri)
	}
}

// want checks the number of arguments of a statement.
func (p *uciParser) want(words []uciWord, lo, hi int, usage string) bool {
	n := len(words) - 1
	if n < lo {
		p.errorf(words[0].pos, "%s needs %s", words[0].text, usage)
		return false
	}
	if n > hi {
		p.errorf(words[hi+1].pos, "unexpected %q after %s %s", words[hi+1].text, words[0].text, usage)
		return false
	}
	return true
}

func (p *uciParser) statement(words []uciWord) {
	kw := words[0]
	switch command(kw.text) {
	case "package":
		// uci export writes it; the file's name is what counts.
		p.want(words, 1, 1, "a name")
	case "config":
		p.endSection()
		if !p.want(words, 1, 2, "a type and an optional name") {
			p.skipping = true
			return
		}
		typ := words[1]
		name := uciWord{pos: typ.pos}
		if len(words) > 2 && words[2].text != "" { // '' is anonymous, as in libuci
			name = words[2]
			if !isUCIName(name.text) {
				p.errorf(name.pos, "section name %q may hold only letters, digits and \"_\"", name.text)
			}
		}
		p.section(kw, typ, name)
	case "option", "list":
		if !p.want(words, 1, 2, "a name and a value") {
			p.markIncomplete()
			return
		}
		value := uciWord{pos: words[1].pos}
		if len(words) > 2 {
			value = words[2]
		}
		p.option(command(kw.text) == "list", words[1], value)
	default:
		p.errorf(kw.pos, "unknown statement %q; expected config, option or list", kw.text)
		p.markIncomplete()
	}
}

func (p *uciParser) markIncomplete() {
	if p.iface != nil {
		p.iface.incomplete = true
	}
}

// section starts a config section.
func (p *uciParser) section(kw, typ, name uciWord) {
	switch typ.text {
	case uciProxy:
		p.inProxy = true
		if p.proxy == nil {
			p.proxy, p.proxyName, p.instance = &kw, name.text, p.raw
			return
		}
		// A further proxy section is an instance of its own, which
		// interface sections name.
		if name.text == "" {
			p.errorf(kw.pos, "a further proxy section (the first is at %s) is a proxy instance and needs a name, which its interface sections give in option proxy", lineCol(p.proxy.pos))
			p.skipping = true
			return
		}
		if first, dup := p.proxies[name.text]; dup || name.text == p.proxyName {
			if !dup {
				first = p.proxy.pos
			}
			p.errorf(kw.pos, "proxy section %q is declared twice (first at %s); uci merges the two, so give each its own name", name.text, lineCol(first))
			p.skipping = true
			return
		}
		p.proxies[name.text] = kw.pos
		p.instance = &rawConfig{file: p.file, end: kw.pos, name: name.text, pos: kw.pos, namePos: name.pos}
		p.raw.proxies = append(p.raw.proxies, p.instance)
	case uciInterface:
		p.iface = &rawInterface{pos: kw.pos, namePos: kw.pos}
		p.ifaceName, p.netKey, p.ifaceOf = name.text, "", setting[string]{}
		if name.text == "" {
			p.ifaceName = format.Sprintf("@%s[%d]", uciInterface, p.ifaces)
		} else if first, dup := p.named[name.text]; dup {
			// uci would merge the two into one section.
			p.errorf(kw.pos, "interface section %q is declared twice (first at %s); uci merges the two, so give each its own name", name.text, lineCol(first))
		} else {
			p.named[name.text] = kw.pos
		}
		p.ifaces++
	default:
		p.errorf(typ.pos, "unknown section type %q; expected %q or %q%s", typ.text, uciProxy, uciInterface,
			suggest(typ.text, []string{uciProxy, uciInterface}))
		p.skipping = true
	}
}

// endSection finishes the interface section being read.
func (p *uciParser) endSection() {
	if ri := p.iface; ri != nil {
		if ri.name == "" {
			p.errorf(ri.pos, "interface section %q needs option network (a netifd network, like 'wan') or option device (like 'eth0.7')", p.ifaceName)
			// A name that cannot clash, so that validation goes on.
			ri.name = "@" + p.ifaceName
			if strings.HasPrefix(p.ifaceName, "@") {
				ri.name = format.Sprintf("@%s_%d", uciInterface, p.ifaces-1)
			}
			ri.incomplete = true
		}
		p.pending = append(p.pending, pendingIface{ri: ri, proxy: p.ifaceOf})
	}
	p.iface, p.inProxy, p.skipping, p.instance = nil, false, false, nil
}

// option handles an option or list statement.
func (p *uciParser) option(list bool, name, value uciWord) {
	if !isUCIName(name.text) {
		hint := ""
		if o := strings.ReplaceAll(name.text, "-", "_"); o != name.text && isUCIName(o) {
			hint = format.Sprintf("; did you mean %q?", o)
		}
		p.errorf(name.pos, "option name %q may hold only letters, digits and \"_\"%s", name.text, hint)
		p.markIncomplete()
		return
	}
	switch {
	case p.skipping:
		return
	case p.inProxy:
		p.proxyOption(list, name, value)
	case p.iface != nil:
		p.interfaceOption(list, name, value)
	default:
		p.errorf(name.pos, "%s before the first config section", map[bool]string{false: "option", true: "list"}[list])
	}
}

func (p *uciParser) proxyOption(list bool, name, value uciWord) {
	r := p.instance
	if r.name != "" {
		r.end = name.pos
	}
	if slices.Contains(uciProxyOnly, name.text) {
		if r.name != "" {
			p.errorf(name.pos, "%s belongs in the first proxy section, which holds the settings of the whole daemon", name.text)
			return
		}
		if list {
			p.errorf(name.pos, "%s is a single value; write option, not list", name.text)
		} else if _, ok := uciBool(value.text); !ok && value.text != "" {
			p.errorf(value.pos, "%s: expected '1' or '0', found %q", name.text, value.text)
		}
		return
	}
	o := findOption(globalOptions, name.text, true)
	if o == nil {
		if findOption(interfaceOptions, name.text, true) != nil || name.text == "network" || name.text == "device" || name.text == uciProxy {
			p.errorf(name.pos, "%q belongs in an interface section", name.text)
		} else {
			p.errorf(name.pos, "unknown option %q%s", name.text, suggest(name.text, p.names(globalOptions, uciProxyOnly...)))
		}
		return
	}
	p.store(o, o.global(r), list, name, value)
}

func (p *uciParser) interfaceOption(list bool, name, value uciWord) {
	ri := p.iface
	if name.text == uciProxy {
		switch {
		case list:
			p.errorf(name.pos, "%s is a single value; write option, not list", name.text)
		case value.text == "":
		case p.ifaceOf.Set:
			p.errorf(name.pos, "duplicate option %q (first at %s)", name.text, lineCol(p.ifaceOf.Pos))
		default:
			p.ifaceOf = setting[string]{Val: value.text, Set: true, Key: name.text, Pos: name.pos, ValPos: value.pos}
		}
		return
	}
	if name.text == "network" || name.text == "device" {
		if list {
			p.errorf(name.pos, "%s is a single value; write option, not list", name.text)
			return
		}
		if value.text == "" {
			return // as for every option: empty is not set
		}
		if p.netKey != "" && ri.name != "" {
			p.errorf(name.pos, "option %s and option %s (at %s) both name the interface; keep one", name.text, p.netKey, lineCol(p.netPos))
			ri.incomplete = true
			return
		}
		ri.name, ri.namePos = value.text, value.pos
		if name.text == "network" {
			ri.name = "@" + value.text
		}
		p.netKey, p.netPos = name.text, name.pos
		return
	}
	o := findOption(interfaceOptions, name.text, true)
	if o == nil {
		if findOption(globalOptions, name.text, false) == nil && !slices.Contains(uciProxyOnly, name.text) {
			p.errorf(name.pos, "unknown option %q%s", name.text, suggest(name.text, p.names(interfaceOptions, "network", "device", uciProxy)))
		} else {
			p.errorf(name.pos, "%q belongs in the proxy section", name.text)
		}
		ri.incomplete = true
		return
	}
	p.store(o, o.iface(ri), list, name, value)
}

// names lists the UCI option names of opts and extra.
func (p *uciParser) names(opts []*option, extra ...string) []string {
	out := slices.Clone(extra)
	for _, o := range opts {
		out = append(out, o.uciName())
	}
	return out
}

// store parses a value of option o into dst, its raw setting. An empty
// value leaves the option unset, as OpenWrt's shell functions read it.
func (p *uciParser) store(o *option, dst any, list bool, name, value uciWord) {
	repeatable := o.kind == kindPrefix || o.kind == kindRule
	if list && !repeatable {
		p.errorf(name.pos, "%s is a single value; write option, not list", name.text)
		p.markIncomplete()
		return
	}
	if value.text == "" {
		return
	}
	var val any
	var err error
	switch o.kind {
	case kindBool:
		b, ok := uciBool(value.text)
		if !ok {
			err = format.Errorf("expected '1' or '0', found %q", value.text)
		}
		val = b
	case kindRole:
		r, ok := parseRole(value.text)
		if !ok {
			err = format.Errorf("expected 'upstream', 'downstream' or 'disabled', found %q", value.text)
		}
		val = r
	case kindPrefix:
		val = value.text
	case kindRule:
		p.rule(name, value)
		return
	default:
		val, err = parseScalar(o.kind, value.text)
	}
	if err != nil {
		p.errorf(value.pos, "%s: %v", name.text, err)
		p.markIncomplete()
		return
	}
	if first, ok := assign(dst, val, name.text, name.pos, value.pos); !ok {
		p.errorf(name.pos, "duplicate option %q (first at %s)", name.text, lineCol(first))
	}
}

// rule reads one "list rule" entry: an allow or deny statement of the
// native syntax. Positions inside it count from the value's start.
func (p *uciParser) rule(name, value uciWord) {
	var errs Errors
	toks := lex(p.file, []byte(value.text), &errs)
	shift := func(pos Pos) Pos {
		return Pos{File: p.file, Line: value.inner.Line, Col: value.inner.Col + pos.Col - 1}
	}
	for i := range toks {
		toks[i].pos = shift(toks[i].pos)
	}
	for _, e := range errs {
		e.Pos = shift(e.Pos)
	}
	np := &parser{toks: toks, errs: errs, raw: p.raw}
	kw := np.next()
	if kw.text != "allow" && kw.text != "deny" || !kw.isValue() {
		np.errorf(value.pos, "%s: expected a rule like 'allow group 239.0.0.0/8' or 'deny group any', found %q", name.text, value.text)
	} else {
		np.parseRule(p.iface, kw)
		if t := np.peek(); t.kind != tokEOF {
			np.errorf(t.pos, "unexpected %s after the rule", t.describe())
		}
	}
	if len(np.errs) > 0 {
		p.markIncomplete()
	}
	p.errs = append(p.errs, np.errs...)
	// The rule came from the option; name the option in messages.
	rules := p.iface.rules
	if len(rules) > 0 && rules[len(rules)-1].pos == kw.pos {
		rules[len(rules)-1].key = name.text
	}
}

// uciBool reads a boolean the way OpenWrt's config_get_bool does.
func uciBool(s string) (v, ok bool) {
	switch s {
	case "1", "on", "true", "yes", "enabled":
		return true, true
	case "0", "off", "false", "no", "disabled":
		return false, true
	}
	return false, false
}
