package config

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
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
	globalKeywords    = []string{"interface", "ipv4", "ipv6", "table"}
	interfaceKeywords = []string{
		"upstream", "downstream", "disabled", "source", "threshold",
		"igmp-version", "mld-version", "robustness", "query-interval",
		"query-response-interval", "last-member-query-interval",
		"last-member-query-count", "startup-query-interval",
		"startup-query-count", "ipv4", "ipv6", "priority", "max-groups",
		"max-sources", "fast-leave", "allow", "deny",
	}
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

func (p *parser) errorf(pos Pos, format string, args ...any) {
	p.errs = append(p.errs, &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)})
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
			switch t.text {
			case "ipv4":
				p.parseBool(t, &p.raw.ipv4, false)
			case "ipv6":
				p.parseBool(t, &p.raw.ipv6, false)
			case "table":
				p.parseUint(t, &p.raw.table)
			case "interface":
				p.parseInterface(t)
			default:
				if slices.Contains(interfaceKeywords, t.text) {
					p.errorf(t.pos, "%q belongs inside an interface block", t.text)
				} else {
					p.errorf(t.pos, "unknown option %q%s", t.text, suggest(t.text, globalKeywords))
				}
				p.skipStatement()
			}
		}
	}
}

// parseInterface parses `interface NAME { ... }` after the keyword.
func (p *parser) parseInterface(kw token) {
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
	p.raw.ifaces = append(p.raw.ifaces, ri)
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
			p.endStatement(`"}"`, false)
			return
		case tokLBrace:
			p.errorf(t.pos, "unexpected %s", t.describe())
		default:
			if t.text == "interface" {
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
	switch kw.text {
	case "upstream":
		p.setRole(ri, kw, RoleUpstream)
	case "downstream":
		p.setRole(ri, kw, RoleDownstream)
	case "disabled":
		p.setRole(ri, kw, RoleDisabled)
	case "source":
		if v, ok := p.arg(kw); ok {
			ri.sources = append(ri.sources, setting[string]{Val: v.text, Set: true, Pos: kw.pos, ValPos: v.pos})
			p.endStatement(kw.text, true)
		}
	case "threshold":
		p.parseInt(kw, &ri.threshold)
	case "igmp-version":
		p.parseInt(kw, &ri.igmpVersion)
	case "mld-version":
		p.parseInt(kw, &ri.mldVersion)
	case "robustness":
		p.parseInt(kw, &ri.robustness)
	case "last-member-query-count":
		p.parseInt(kw, &ri.lmqCount)
	case "startup-query-count":
		p.parseInt(kw, &ri.sqCount)
	case "query-interval":
		p.parseDuration(kw, &ri.queryInterval)
	case "query-response-interval":
		p.parseDuration(kw, &ri.queryRespInt)
	case "last-member-query-interval":
		p.parseDuration(kw, &ri.lastMemberQInt)
	case "startup-query-interval":
		p.parseDuration(kw, &ri.startupQInterval)
	case "ipv4":
		p.parseBool(kw, &ri.ipv4, true)
	case "ipv6":
		p.parseBool(kw, &ri.ipv6, true)
	case "priority":
		p.parseInt(kw, &ri.priority)
	case "max-groups":
		p.parseInt(kw, &ri.maxGroups)
	case "max-sources":
		p.parseInt(kw, &ri.maxSources)
	case "fast-leave":
		p.parseBool(kw, &ri.fastLeave, true)
	case "allow", "deny":
		p.parseRule(ri, kw)
	default:
		if slices.Contains(globalKeywords, kw.text) {
			p.errorf(kw.pos, "%q is a global option; it belongs outside interface blocks", kw.text)
		} else {
			p.errorf(kw.pos, "unknown option %q%s", kw.text, suggest(kw.text, interfaceKeywords))
		}
		p.skipStatement()
	}
}

// parseRule parses `allow|deny group PREFIX [source PREFIX]` after the
// keyword. Prefixes are checked by validate.
func (p *parser) parseRule(ri *rawInterface, kw token) {
	r := rawRule{allow: kw.text == "allow", pos: kw.pos}
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
		ri.role = setting[Role]{Val: r, Set: true, Pos: kw.pos, ValPos: kw.pos}
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

// set stores a parsed single-valued option, refusing a second one.
func set[T any](p *parser, kw, v token, s *setting[T], val T) {
	if s.Set {
		p.errorf(kw.pos, "duplicate %q (first at %s)", kw.text, lineCol(s.Pos))
		return
	}
	*s = setting[T]{Val: val, Set: true, Pos: kw.pos, ValPos: v.pos}
}

func (p *parser) parseBool(kw token, s *setting[bool], inBlock bool) {
	v, ok := p.arg(kw)
	if !ok {
		return
	}
	switch v.text {
	case "yes":
		set(p, kw, v, s, true)
	case "no":
		set(p, kw, v, s, false)
	default:
		p.errorf(v.pos, "%s: expected yes or no, found %q", kw.text, v.text)
	}
	p.endStatement(kw.text, inBlock)
}

func (p *parser) parseInt(kw token, s *setting[int]) {
	v, ok := p.arg(kw)
	if !ok {
		return
	}
	if n, err := parseNumber(v.text); err != nil {
		p.errorf(v.pos, "%s: %v", kw.text, err)
	} else {
		set(p, kw, v, s, n)
	}
	p.endStatement(kw.text, true)
}

func (p *parser) parseUint(kw token, s *setting[uint64]) {
	v, ok := p.arg(kw)
	if !ok {
		return
	}
	if n, err := parseUint(v.text); err != nil {
		p.errorf(v.pos, "%s: %v", kw.text, err)
	} else {
		set(p, kw, v, s, n)
	}
	p.endStatement(kw.text, false)
}

func (p *parser) parseDuration(kw token, s *setting[time.Duration]) {
	v, ok := p.arg(kw)
	if !ok {
		return
	}
	if d, err := parseDuration(v.text); err != nil {
		p.errorf(v.pos, "%s: %v", kw.text, err)
	} else {
		set(p, kw, v, s, d)
	}
	p.endStatement(kw.text, true)
}

// parseNumber accepts a non-negative decimal integer that fits an int.
func parseNumber(s string) (int, error) {
	n, err := parseUint(s)
	if err == nil && n > math.MaxInt {
		err = fmt.Errorf("%q is too large", s)
	}
	return int(n), err
}

// parseUint accepts a non-negative decimal integer of up to 64 bits, so
// that 32-bit values read the same on 32-bit routers.
func parseUint(s string) (uint64, error) {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not a whole number", s)
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is too large", s)
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
		return 0, fmt.Errorf("%q is not a duration (seconds, or a number with ms, s or m)", s)
	}
	d, err := time.ParseDuration(num + unit)
	if err != nil {
		return 0, fmt.Errorf("%q is too large", s)
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
	return fmt.Sprintf("; did you mean %q?", best)
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
