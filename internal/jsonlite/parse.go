// Package jsonlite reads and writes the little JSON the daemon handles:
// the control protocol's requests and responses and netifd's ubus
// answers. It stands in for encoding/json, which with its reflection
// costs a MIPS binary far more. Parse accepts the same documents as
// encoding/json (RFC 8259), with the same error messages for the common
// mistakes, and decodes strings the same way; Writer writes what
// json.Marshal and json.MarshalIndent write, byte for byte.
package jsonlite

import (
	"errors"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// Kind is the type of a JSON value.
type Kind uint8

// Kinds.
const (
	Null Kind = iota
	Bool
	Number
	String
	Array
	Object
)

// String names the kind as encoding/json's errors do.
func (k Kind) String() string {
	switch k {
	case Bool:
		return "bool"
	case Number:
		return "number"
	case String:
		return "string"
	case Array:
		return "array"
	case Object:
		return "object"
	}
	return "null"
}

// Value is a parsed JSON value.
type Value struct {
	Kind Kind
	// Bool is the value of a Bool.
	Bool bool
	// Str is the decoded text of a String, or the literal of a Number.
	Str string
	// Elems are the elements of an Array.
	Elems []Value
	// Members are the members of an Object, in document order, repeated
	// names included (encoding/json lets the last one win).
	Members []Member
}

// Member is one name/value pair of an object.
type Member struct {
	Name  string
	Value Value
}

// maxDepth bounds nesting, so a hostile document cannot exhaust the stack.
const maxDepth = 1000

// SyntaxError is a malformed document. Its message is encoding/json's for
// the same mistake.
type SyntaxError struct {
	msg    string
	Offset int // bytes read before the error
}

func (e *SyntaxError) Error() string { return e.msg }

var errDepth = errors.New("exceeded max depth")

// Parse parses one JSON document: a single value with optional white space
// around it.
func Parse(data []byte) (Value, error) {
	p := parser{data: data}
	p.space()
	if p.i == len(p.data) {
		return Value{}, p.eof()
	}
	v, err := p.value(0)
	if err != nil {
		return Value{}, err
	}
	p.space()
	if p.i < len(p.data) {
		return Value{}, p.bad("after top-level value")
	}
	return v, nil
}

type parser struct {
	data []byte
	i    int
}

func (p *parser) eof() error {
	return &SyntaxError{msg: "unexpected end of JSON input", Offset: len(p.data)}
}

// bad reports the character at p.i, or the end of input.
func (p *parser) bad(context string) error {
	if p.i >= len(p.data) {
		return p.eof()
	}
	return &SyntaxError{msg: "invalid character " + quoteChar(p.data[p.i]) + " " + context, Offset: p.i + 1}
}

// badEnd is bad for a token that the end of input cuts short: encoding/json
// reports the space it feeds its scanner at the end.
func (p *parser) badEnd(context string) error {
	if p.i >= len(p.data) {
		return &SyntaxError{msg: "invalid character ' ' " + context, Offset: len(p.data) + 1}
	}
	return p.bad(context)
}

func quoteChar(c byte) string {
	switch c {
	case '\'':
		return `'\''`
	case '"':
		return `'"'`
	}
	s := strconv.Quote(string(rune(c)))
	return "'" + s[1:len(s)-1] + "'"
}

func (p *parser) space() {
	for p.i < len(p.data) {
		switch p.data[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) value(depth int) (Value, error) {
	if p.i >= len(p.data) {
		return Value{}, p.eof()
	}
	switch c := p.data[p.i]; {
	case c == '{':
		if depth >= maxDepth {
			return Value{}, errDepth
		}
		return p.object(depth + 1)
	case c == '[':
		if depth >= maxDepth {
			return Value{}, errDepth
		}
		return p.array(depth + 1)
	case c == '"':
		s, err := p.string()
		return Value{Kind: String, Str: s}, err
	case c == '-' || ('0' <= c && c <= '9'):
		return p.number()
	case c == 't':
		return Value{Kind: Bool, Bool: true}, p.literal("true")
	case c == 'f':
		return Value{Kind: Bool}, p.literal("false")
	case c == 'n':
		return Value{}, p.literal("null")
	}
	return Value{}, p.bad("looking for beginning of value")
}

func (p *parser) literal(word string) error {
	for k := 0; k < len(word); k++ {
		if p.i >= len(p.data) || p.data[p.i] != word[k] {
			return p.badEnd("in literal " + word + " (expecting " + quoteChar(word[k]) + ")")
		}
		p.i++
	}
	return nil
}

func (p *parser) object(depth int) (Value, error) {
	p.i++ // {
	v := Value{Kind: Object}
	p.space()
	if p.i < len(p.data) && p.data[p.i] == '}' {
		p.i++
		return v, nil
	}
	for {
		p.space()
		if p.i >= len(p.data) {
			return Value{}, p.eof()
		}
		if p.data[p.i] != '"' {
			return Value{}, p.bad("looking for beginning of object key string")
		}
		name, err := p.string()
		if err != nil {
			return Value{}, err
		}
		p.space()
		if p.i >= len(p.data) {
			return Value{}, p.eof()
		}
		if p.data[p.i] != ':' {
			return Value{}, p.bad("after object key")
		}
		p.i++
		p.space()
		elem, err := p.value(depth)
		if err != nil {
			return Value{}, err
		}
		v.Members = append(v.Members, Member{Name: name, Value: elem})
		p.space()
		if p.i >= len(p.data) {
			return Value{}, p.eof()
		}
		switch p.data[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return v, nil
		default:
			return Value{}, p.bad("after object key:value pair")
		}
	}
}

func (p *parser) array(depth int) (Value, error) {
	p.i++ // [
	v := Value{Kind: Array}
	p.space()
	if p.i < len(p.data) && p.data[p.i] == ']' {
		p.i++
		return v, nil
	}
	for {
		p.space()
		elem, err := p.value(depth)
		if err != nil {
			return Value{}, err
		}
		v.Elems = append(v.Elems, elem)
		p.space()
		if p.i >= len(p.data) {
			return Value{}, p.eof()
		}
		switch p.data[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return v, nil
		default:
			return Value{}, p.bad("after array element")
		}
	}
}

// number checks the grammar of RFC 8259 section 6 and keeps the literal.
func (p *parser) number() (Value, error) {
	start := p.i
	digits := func() int {
		n := 0
		for p.i < len(p.data) && '0' <= p.data[p.i] && p.data[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.data[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i >= len(p.data):
		return Value{}, p.badEnd("in numeric literal")
	case p.data[p.i] == '0':
		p.i++
	case '1' <= p.data[p.i] && p.data[p.i] <= '9':
		digits()
	default:
		return Value{}, p.bad("in numeric literal")
	}
	if p.i < len(p.data) && p.data[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return Value{}, p.badEnd("after decimal point in numeric literal")
		}
	}
	if p.i < len(p.data) && (p.data[p.i] == 'e' || p.data[p.i] == 'E') {
		p.i++
		if p.i < len(p.data) && (p.data[p.i] == '+' || p.data[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return Value{}, p.badEnd("in exponent of numeric literal")
		}
	}
	return Value{Kind: Number, Str: string(p.data[start:p.i])}, nil
}

// string decodes a string literal. As in encoding/json, invalid UTF-8 and
// unpaired surrogates become U+FFFD.
func (p *parser) string() (string, error) {
	p.i++ // "
	start := p.i
	// The common case: nothing to decode.
	for p.i < len(p.data) {
		c := p.data[p.i]
		if c == '"' {
			s := string(p.data[start:p.i])
			p.i++
			return s, nil
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			break
		}
		p.i++
	}
	b := append([]byte(nil), p.data[start:p.i]...)
	for {
		if p.i >= len(p.data) {
			return "", p.eof()
		}
		c := p.data[p.i]
		switch {
		case c == '"':
			p.i++
			return string(b), nil
		case c < 0x20:
			return "", p.bad("in string literal")
		case c == '\\':
			p.i++
			if p.i >= len(p.data) {
				return "", p.badEnd("in string escape code")
			}
			switch e := p.data[p.i]; e {
			case '"', '\\', '/':
				b = append(b, e)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				p.i++
				r, err := p.hex4()
				if err != nil {
					return "", err
				}
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if p.i+1 < len(p.data) && p.data[p.i] == '\\' && p.data[p.i+1] == 'u' {
						save := p.i
						p.i += 2
						if r2, err = p.hex4(); err != nil {
							return "", err
						}
						if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
							b = utf8.AppendRune(b, dec)
							continue
						}
						p.i = save
					}
					r = utf8.RuneError
				}
				b = utf8.AppendRune(b, r)
				continue
			default:
				return "", p.bad("in string escape code")
			}
			p.i++
		case c < utf8.RuneSelf:
			b = append(b, c)
			p.i++
		default:
			r, size := utf8.DecodeRune(p.data[p.i:])
			b = utf8.AppendRune(b, r)
			p.i += size
		}
	}
}

// hex4 reads the four hex digits of a \u escape.
func (p *parser) hex4() (rune, error) {
	var r rune
	for k := 0; k < 4; k++ {
		if p.i >= len(p.data) {
			return 0, p.badEnd("in \\u hexadecimal character escape")
		}
		c := p.data[p.i]
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, p.bad("in \\u hexadecimal character escape")
		}
		r = r<<4 | rune(c)
		p.i++
	}
	return r, nil
}
