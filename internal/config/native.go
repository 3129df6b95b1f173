package config

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/format"
)

// Parse reads a configuration in the native mcast-proxy.conf(5) format and
// validates it. file names the input in error positions. On invalid input it
// returns Errors holding every problem found.
func Parse(file string, data []byte) (*Config, error) {
	raw, errs := parseNative(file, data)
	return raw.build(errs)
}

// Keywords, for "did you mean" hints.
var (
	globalKeywords    = append(nativeKeywords(globalOptions), "interface", "proxy")
	interfaceKeywords = nativeKeywords(interfaceOptions)
)

type parser struct {
	toks []token
	i    int
	errs Errors
	raw  *rawConfig
}

// parseNative turns the native syntax into the raw model, reporting syntax
// errors. Semantic checks are left to validate.
func parseNative(file string, data []byte) (*rawConfig, Errors) {
	p := &parser{raw: &rawConfig{file: file}}
	p.toks = lex(file, data, &p.errs)
	p.raw.end = Pos{File: file, Line: 1, Col: 1}
	for _, t := range p.toks {
		if t.kind != tokNewline && t.kind != tokEOF {
			p.raw.end = t.pos
		}
	}
	p.parseFile()
	return p.raw, p.errs
}

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) errorf(pos Pos, layout string, args ...any) {
	p.errs = append(p.errs, &Error{Pos: pos, Msg: format.Sprintf(layout, args...)})
}

// skipStatement drops the rest of a statement after an error: up to the end
// of the line or a ";", skipping whole { } blocks on the way. Inside a block
// it stops before the "}" that closes it.
func (p *parser) skipStatement() {
	depth := 0
	for {
		t := p.peek()
		switch t.kind {
		case tokEOF:
			return
		case tokNewline, tokSemi:
			if depth == 0 {
				return
			}
		case tokLBrace:
			depth++
		case tokRBrace:
			if depth == 0 {
				return
			}
			depth--
		}
		p.next()
	}
}

// endStatement requires the statement to end here: a newline, ";", end of
// file, or (inside a block) the closing "}", which is left unread.
func (p *parser) endStatement(after string, inBlock bool) {
	t := p.peek()
	switch t.kind {
	case tokEOF, tokNewline, tokSemi:
		return
	case tokRBrace:
		if inBlock {
			return
		}
	}
	p.errorf(t.pos, "unexpected %s after %s", t.describe(), after)
	p.skipStatement()
}

func (p *parser) parseFile() {
	for {
		t := p.next()
		switch t.kind {
		case tokEOF:
			return
		case tokNewline, tokSemi:
		case tokLBrace, tokRBrace:
			p.errorf(t.pos, "unexpected %s", t.describe())
		default:
			if t.text == "proxy" {
				p.parseProxy(t)
				continue
			}
			p.parseTopStatement(p.raw, t, false)
		}
	}
}

// parseTopStatement parses a statement of the top level or of a proxy
// block into r: a global option or an interface block.
func (p *parser) parseTopStatement(r *rawConfig, t token, inBlock bool) {
	if t.text == "interface" {
		p.parseInterface(r, t)
		return
	}
	if o := findOption(globalOptions, t.text, false); o != nil {
		p.parseOption(t, o.kind, o.global(r), inBlock)
		return
	}
	if slices.Contains(interfaceKeywords, t.text) {
		p.errorf(t.pos, "%q belongs inside an interface block", t.text)
	} else {
		p.errorf(t.pos, "unknown option %q%s", t.text, suggest(t.text, globalKeywords))
	}
	p.skipStatement()
}

// parseProxy parses `proxy NAME { ... }` after the keyword: a named proxy
// instance with its own settings and interfaces.
func (p *parser) parseProxy(kw token) {
	name := p.peek()
	if !name.isValue() {
		p.errorf(name.pos, "proxy needs a name, found %s", name.describe())
		p.skipStatement()
		return
	}
	p.next()
	for p.peek().kind == tokNewline {
		p.next()
	}
	open := p.peek()
	if open.kind != tokLBrace {
		p.errorf(open.pos, "expected \"{\" after proxy %q, found %s", name.text, open.describe())
		p.skipStatement()
		return
	}
	p.next()
	r := &rawConfig{file: p.raw.file, end: open.pos, name: name.text, pos: kw.pos, namePos: name.pos}
	p.raw.proxies = append(p.raw.proxies, r)
	for {
		t := p.next()
		switch t.kind {
		case tokEOF:
			p.errorf(open.pos, "missing \"}\" to close proxy %q", name.text)
			r.incomplete = true
			return
		case tokNewline, tokSemi:
		case tokRBrace:
			r.end = t.pos
			p.endStatement(`"}"`, false)
			return
		case tokLBrace:
			p.errorf(t.pos, "unexpected %s", t.describe())
		default:
			if t.text == "proxy" {
				p.errorf(t.pos, "missing \"}\" to close proxy %q (opened at %s); proxy blocks do not nest", name.text, lineCol(open.pos))
				r.incomplete = true
				p.i--
				return
			}
			p.parseTopStatement(r, t, true)
		}
	}
}

// parseInterface parses `interface NAME { ... }` after the keyword into r.
func (p *parser) parseInterface(r *rawConfig, kw token) {
	name := p.peek()
	if !name.isValue() {
		p.errorf(name.pos, "interface needs a name, found %s", name.describe())
		p.skipStatement()
		return
	}
	p.next()
	for p.peek().kind == tokNewline {
		p.next()
	}
	open := p.peek()
	if open.kind != tokLBrace {
		p.errorf(open.pos, "expected \"{\" after interface %q, found %s", name.text, open.describe())
		p.skipStatement()
		return
	}
	p.next()
	ri := &rawInterface{name: name.text, namePos: name.pos, pos: kw.pos}
	r.ifaces = append(r.ifaces, ri)
	nerrs := len(p.errs)
	defer func() {
		if len(p.errs) > nerrs {
			ri.incomplete = true
		}
	}()
	for {
		t := p.next()
		switch t.kind {
		case tokEOF:
			p.errorf(open.pos, "missing \"}\" to close interface %q", name.text)
			return
		case tokNewline, tokSemi:
		case tokRBrace:
			p.endStatement(`"}"`, r.name != "")
			return
		case tokLBrace:
			p.errorf(t.pos, "unexpected %s", t.describe())
		default:
			if t.text == "interface" || t.text == "proxy" {
				// Most likely the "}" was forgotten; say so and go on with
				// the next block instead of drowning it in errors.
				p.errorf(t.pos, "missing \"}\" to close interface %q (opened at %s)", name.text, lineCol(open.pos))
				p.i--
				return
			}
			p.parseInterfaceStatement(ri, t)
		}
	}
}

func (p *parser) parseInterfaceStatement(ri *rawInterface, kw token) {
	if r, ok := parseRole(kw.text); ok {
		p.setRole(ri, kw, r)
		return
	}
	if kw.text == "allow" || kw.text == "deny" {
		p.parseRule(ri, kw)
		return
	}
	o := findOption(interfaceOptions, kw.text, false)
	if o == nil || o.kind == kindRole || o.kind == kindRule {
		if slices.Contains(globalKeywords, kw.text) {
			p.errorf(kw.pos, "%q is a global option; it belongs outside interface blocks", kw.text)
		} else {
			p.errorf(kw.pos, "unknown option %q%s", kw.text, suggest(kw.text, interfaceKeywords))
		}
		p.skipStatement()
		return
	}
	p.parseOption(kw, o.kind, o.iface(ri), true)
}

// parseOption parses the value of an option of the table and stores it in
// dst, its raw setting.
func (p *parser) parseOption(kw token, k kind, dst any, inBlock bool) {
	v, ok := p.arg(kw)
	if !ok {
		return
	}
	var val any
	var err error
	switch k {
	case kindBool:
		switch v.text {
		case "yes":
			val = true
		case "no":
			val = false
		default:
			err = format.Errorf("expected yes or no, found %q", v.text)
		}
	case kindPrefix:
		val = v.text
	default:
		val, err = parseScalar(k, v.text)
	}
	if err != nil {
		p.errorf(v.pos, "%s: %v", kw.text, err)
	} else if first, ok := assign(dst, val, kw.text, kw.pos, v.pos); !ok {
		p.errorf(kw.pos, "duplicate %q (first at %s)", kw.text, lineCol(first))
	}
	p.endStatement(kw.text, inBlock)
}

// parseRule parses `allow|deny group PREFIX [source PREFIX]` after the
// keyword. Prefixes are checked by validate.
func (p *parser) parseRule(ri *rawInterface, kw token) {
	r := rawRule{allow: kw.text == "allow", key: kw.text, pos: kw.pos}
	var ok bool
	if r.group, ok = p.ruleField(kw, "group"); !ok {
		return
	}
	if t := p.peek(); t.isValue() {
		if t.text != "source" {
			p.errorf(t.pos, "unexpected %s in %s rule; expected \"source\" or the end of the statement", t.describe(), kw.text)
			p.skipStatement()
			return
		}
		if r.source, ok = p.ruleField(kw, "source"); !ok {
			return
		}
	}
	ri.rules = append(ri.rules, r)
	p.endStatement(kw.text+" rule", true)
}

// ruleField reads `name VALUE` inside a rule.
func (p *parser) ruleField(kw token, name string) (setting[string], bool) {
	t := p.peek()
	if !t.isValue() || t.text != name {
		p.errorf(t.pos, "%s: expected %q, found %s", kw.text, name, t.describe())
		p.skipStatement()
		return setting[string]{}, false
	}
	p.next()
	v := p.peek()
	if !v.isValue() {
		p.errorf(t.pos, "%s %s needs a value", kw.text, name)
		p.skipStatement()
		return setting[string]{}, false
	}
	p.next()
	return setting[string]{Val: v.text, Set: true, Pos: t.pos, ValPos: v.pos}, true
}

func (p *parser) setRole(ri *rawInterface, kw token, r Role) {
	switch {
	case !ri.role.Set:
		ri.role = setting[Role]{Val: r, Set: true, Key: kw.text, Pos: kw.pos, ValPos: kw.pos}
	case ri.role.Val == r:
		p.errorf(kw.pos, "duplicate %q (first at %s)", kw.text, lineCol(ri.role.Pos))
	default:
		p.errorf(kw.pos, "interface %q has two roles: %q (at %s) and %q",
			ri.name, ri.role.Val, lineCol(ri.role.Pos), kw.text)
	}
	p.endStatement(kw.text, true)
}

// arg reads the one argument of a statement.
func (p *parser) arg(kw token) (token, bool) {
	v := p.peek()
	if !v.isValue() {
		p.errorf(kw.pos, "%s needs a value", kw.text)
		p.skipStatement()
		return v, false
	}
	return p.next(), true
}

// parseNumber accepts a non-negative decimal integer that fits an int.
func parseNumber(s string) (int, error) {
	n, err := parseUint(s)
	if err == nil && n > math.MaxInt {
		err = format.Errorf("%q is too large", s)
	}
	return int(n), err
}

// parseUint accepts a non-negative decimal integer of up to 64 bits, so
// that 32-bit values read the same on 32-bit routers.
func parseUint(s string) (uint64, error) {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return 0, format.Errorf("%q is not a whole number", s)
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, format.Errorf("%q is too large", s)
	}
	return n, nil
}

// parseDuration accepts a number of seconds with optional decimals, or a
// number followed by ms, s or m: "125", "0.5", "100ms", "2s", "1.5m".
func parseDuration(s string) (time.Duration, error) {
	num, unit := s, "s"
	for _, u := range []string{"ms", "s", "m"} {
		if n, ok := strings.CutSuffix(s, u); ok {
			num, unit = n, u
			break
		}
	}
	whole, frac, dot := strings.Cut(num, ".")
	if whole == "" || strings.Trim(whole, "0123456789") != "" ||
		(dot && (frac == "" || strings.Trim(frac, "0123456789") != "")) {
		return 0, format.Errorf("%q is not a duration (seconds, or a number with ms, s or m)", s)
	}
	d, err := time.ParseDuration(num + unit)
	if err != nil {
		return 0, format.Errorf("%q is too large", s)
	}
	return d, nil
}

// suggest returns a "did you mean" hint for a near miss of a keyword.
func suggest(word string, keywords []string) string {
	best, bestDist := "", 3
	for _, k := range keywords {
		if d := editDistance(word, k); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best == "" {
		return ""
	}
	return format.Sprintf("; did you mean %q?", best)
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	if len(a) > 64 {
		return len(a)
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
