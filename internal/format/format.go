// Package format writes the daemon's messages (errors, status text, usage)
// as package fmt writes them, for the verbs and types the daemon uses, and
// without reflection. fmt prints any value through package reflect, and
// linking the two cost the linux/mips binary about 250 KB, a sixteenth of
// it, for messages that only ever hold strings, numbers, addresses and
// errors.
//
// The verbs: %v and %s (a string, an error's Error, a String method's
// text; numbers, booleans, and lists of strings, addresses, prefixes or
// ints, and a map of counters in %v as fmt has them), %q (a quoted string),
// %d and %x (integers, with width and zero padding), %f with a precision
// (float64), %t (bool), %w (an error, wrapped as fmt.Errorf wraps it) and
// %%. A value of another type, or of a named integer type under %d, prints
// as "%!d(?)": TestCallSitesUseSupportedTypes type-checks the daemon's
// calls and fails on any such argument, and go vet (run with -printf.funcs
// naming these functions) checks verbs against arguments as for fmt.
package format

import (
	"errors"
	"io"
	"net/netip"
	"strconv"
	"unicode/utf8"

	"github.com/mcast-proxy/mcast-proxy/internal/sorted"
)

// Errorf formats an error. An argument of %w is wrapped: errors.Is and
// errors.As see it (with several, all of them), as with fmt.Errorf.
func Errorf(layout string, args ...any) error {
	var p printer
	p.printf(layout, args)
	msg := string(p.b)
	switch len(p.wrapped) {
	case 0:
		return errors.New(msg)
	case 1:
		return &wrapError{msg, p.wrapped[0]}
	}
	return &wrapErrors{msg, p.wrapped}
}

// Sprintf formats a string.
func Sprintf(layout string, args ...any) string {
	var p printer
	p.printf(layout, args)
	return string(p.b)
}

// Appendf appends the formatted text to b.
func Appendf(b []byte, layout string, args ...any) []byte {
	p := printer{b: b}
	p.printf(layout, args)
	return p.b
}

// Fprintf writes the formatted text to w.
func Fprintf(w io.Writer, layout string, args ...any) (int, error) {
	var p printer
	p.printf(layout, args)
	return w.Write(p.b)
}

// Fprintln writes the arguments in their %v form, separated by spaces and
// ended by a line break, to w.
func Fprintln(w io.Writer, args ...any) (int, error) {
	var p printer
	for i, a := range args {
		if i > 0 {
			p.b = append(p.b, ' ')
		}
		p.value('v', a)
	}
	p.b = append(p.b, '\n')
	return w.Write(p.b)
}

type wrapError struct {
	msg string
	err error
}

func (e *wrapError) Error() string { return e.msg }
func (e *wrapError) Unwrap() error { return e.err }

type wrapErrors struct {
	msg  string
	errs []error
}

func (e *wrapErrors) Error() string   { return e.msg }
func (e *wrapErrors) Unwrap() []error { return e.errs }

type printer struct {
	b       []byte
	wrapped []error
	// The current verb's flags, width and precision (-1: none).
	zero, plus, minus bool
	width, prec       int
}

func (p *printer) printf(layout string, args []any) {
	next := 0
verbs:
	for i := 0; i < len(layout); i++ {
		c := layout[i]
		if c != '%' {
			p.b = append(p.b, c)
			continue
		}
		p.zero, p.plus, p.minus, p.width, p.prec = false, false, false, 0, -1
		i++
	flags:
		for ; i < len(layout); i++ {
			switch layout[i] {
			case '0':
				p.zero = true
			case '+':
				p.plus = true
			case '-':
				p.minus = true
			case '#', ' ':
			default:
				break flags
			}
		}
		for ; i < len(layout) && layout[i] >= '0' && layout[i] <= '9'; i++ {
			p.width = p.width*10 + int(layout[i]-'0')
		}
		if i < len(layout) && layout[i] == '.' {
			p.prec = 0
			for i++; i < len(layout) && layout[i] >= '0' && layout[i] <= '9'; i++ {
				p.prec = p.prec*10 + int(layout[i]-'0')
			}
		}
		if i == len(layout) {
			p.b = append(p.b, "%!(NOVERB)"...)
			break verbs
		}
		verb, size := utf8.DecodeRuneInString(layout[i:])
		i += size - 1
		if verb == '%' {
			p.b = append(p.b, '%')
			continue
		}
		if next == len(args) {
			p.b = append(p.b, '%', '!')
			p.b = utf8.AppendRune(p.b, verb)
			p.b = append(p.b, "(MISSING)"...)
			continue
		}
		arg := args[next]
		next++
		if verb == 'w' {
			if err, ok := arg.(error); ok {
				p.wrapped = append(p.wrapped, err)
				verb = 'v'
			}
		}
		p.value(verb, arg)
	}
	if next < len(args) {
		p.b = append(p.b, "%!(EXTRA "...)
		for i, a := range args[next:] {
			if i > 0 {
				p.b = append(p.b, ", "...)
			}
			p.value('v', a)
		}
		p.b = append(p.b, ')')
	}
}

// value formats one argument with verb.
func (p *printer) value(verb rune, arg any) {
	switch v := arg.(type) {
	case nil:
		if verb == 'v' {
			p.b = append(p.b, "<nil>"...)
			return
		}
	case error:
		p.text(verb, v.Error())
		return
	case interface{ String() string }:
		p.text(verb, v.String())
		return
	case string:
		p.text(verb, v)
		return
	case bool:
		if verb == 'v' || verb == 't' {
			p.b = strconv.AppendBool(p.b, v)
			return
		}
	case int:
		p.integer(verb, v < 0, absInt64(int64(v)))
		return
	case int8:
		p.integer(verb, v < 0, absInt64(int64(v)))
		return
	case int16:
		p.integer(verb, v < 0, absInt64(int64(v)))
		return
	case int32:
		p.integer(verb, v < 0, absInt64(int64(v)))
		return
	case int64:
		p.integer(verb, v < 0, absInt64(v))
		return
	case uint:
		p.integer(verb, false, uint64(v))
		return
	case uint8:
		p.integer(verb, false, uint64(v))
		return
	case uint16:
		p.integer(verb, false, uint64(v))
		return
	case uint32:
		p.integer(verb, false, uint64(v))
		return
	case uint64:
		p.integer(verb, false, v)
		return
	case float64:
		if verb == 'f' {
			prec := p.prec
			if prec < 0 {
				prec = 6
			}
			p.pad(strconv.AppendFloat(nil, v, 'f', prec, 64))
			return
		}
		if verb == 'v' {
			p.b = strconv.AppendFloat(p.b, v, 'g', -1, 64)
			return
		}
	case []string:
		if verb == 'v' || verb == 's' {
			list(p, len(v), func(i int) { p.b = append(p.b, v[i]...) })
			return
		}
	case []int:
		if verb == 'v' || verb == 'd' {
			list(p, len(v), func(i int) { p.b = strconv.AppendInt(p.b, int64(v[i]), 10) })
			return
		}
	case []netip.Addr:
		if verb == 'v' || verb == 's' {
			list(p, len(v), func(i int) { p.b = v[i].AppendTo(p.b) })
			return
		}
	case []netip.Prefix:
		if verb == 'v' || verb == 's' {
			list(p, len(v), func(i int) { p.b = v[i].AppendTo(p.b) })
			return
		}
	case map[string]uint64:
		if verb == 'v' {
			// As fmt prints a map: keys sorted.
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			sorted.Strings(keys)
			p.b = append(p.b, "map"...)
			list(p, len(keys), func(i int) {
				p.b = append(p.b, keys[i]...)
				p.b = append(p.b, ':')
				p.b = strconv.AppendUint(p.b, v[keys[i]], 10)
			})
			return
		}
	}
	p.bad(verb, arg)
}

// text formats a string, or what an error or String method gave.
func (p *printer) text(verb rune, s string) {
	switch verb {
	case 'v', 's':
		p.pad([]byte(s))
	case 'q':
		p.pad(strconv.AppendQuote(nil, s))
	default:
		p.bad(verb, s)
	}
}

func (p *printer) integer(verb rune, negative bool, abs uint64) {
	base := 10
	switch verb {
	case 'd', 'v':
	case 'x':
		base = 16
	default:
		p.bad(verb, abs)
		return
	}
	digits := strconv.AppendUint(nil, abs, base)
	if p.zero && !p.minus && p.width > len(digits) {
		n := p.width - len(digits)
		if negative || (p.plus && verb != 'v') {
			n--
		}
		for ; n > 0; n-- {
			digits = append([]byte{'0'}, digits...)
		}
	}
	switch {
	case negative:
		digits = append([]byte{'-'}, digits...)
	case p.plus && verb != 'v': // %+v is fmt's "with field names"
		digits = append([]byte{'+'}, digits...)
	}
	p.pad(digits)
}

// pad appends s in the verb's width: right-aligned, or left with '-'.
func (p *printer) pad(s []byte) {
	n := p.width - utf8.RuneCount(s)
	if p.minus {
		p.b = append(p.b, s...)
	}
	for ; n > 0; n-- {
		p.b = append(p.b, ' ')
	}
	if !p.minus {
		p.b = append(p.b, s...)
	}
}

// bad marks a value the verb cannot print, as fmt marks a wrong verb
// (without the type's name, which would need reflection).
func (p *printer) bad(verb rune, arg any) {
	p.b = append(p.b, '%', '!')
	p.b = utf8.AppendRune(p.b, verb)
	if arg == nil {
		p.b = append(p.b, "(<nil>)"...)
		return
	}
	p.b = append(p.b, "(?)"...)
}

// list appends n elements as fmt prints a slice: "[a b c]".
func list(p *printer, n int, elem func(i int)) {
	p.b = append(p.b, '[')
	for i := range n {
		if i > 0 {
			p.b = append(p.b, ' ')
		}
		elem(i)
	}
	p.b = append(p.b, ']')
}

func absInt64(v int64) uint64 {
	if v < 0 {
		return uint64(-v) // -MinInt64 wraps to itself, which is its absolute value as a uint64
	}
	return uint64(v)
}
