package jsonlite

import (
	"errors"
	"io"
	"math"
	"net/netip"
	"strconv"
	"time"
	"unicode/utf8"
)

// Writer writes JSON exactly as encoding/json's Marshal does (or
// MarshalIndent, with Indent set), without its reflection: the caller
// writes each field in order and decides omitempty itself. It stands in
// for encoding/json's encoder, which costs the daemon several times its
// size.
//
// Keys and values go in document order: Key before each member of an
// object, then its value. The first error (a float that is not a number,
// a time outside years 0 to 9999) sticks and is returned by Bytes, with
// encoding/json's message.
//
// With Out set, the document goes to Out in pieces of about FlushSize
// bytes as it is written, and Flush ends it: a status of thousands of
// groups then never sits in memory whole, which on a router doubled the
// daemon's peak memory for each status request.
type Writer struct {
	// Indent, when set, lays the document out as
	// json.MarshalIndent(v, "", Indent) does.
	Indent string
	// Out, when set, receives the document as it is written.
	Out io.Writer

	b        []byte
	written  int64 // bytes given to Out
	depth    int
	comma    bool // a member or element came before in this container
	afterKey bool // the next value is a member's, its key written
	err      error
}

// Bytes returns the document written, or the first error.
func (w *Writer) Bytes() ([]byte, error) {
	if w.err != nil {
		return nil, w.err
	}
	return w.b, nil
}

// FlushSize is about how much a Writer with Out set holds before it
// writes: a few pages, whatever the document's size.
const FlushSize = 4096

// Flush writes what is held to Out and returns the first error, of the
// encoding or of Out. After an error nothing more goes to Out.
func (w *Writer) Flush() error {
	w.flush()
	return w.err
}

// Written is how many bytes went to Out: when it is 0 after an encoding
// error, the receiver has seen nothing and can be sent something else.
func (w *Writer) Written() int64 { return w.written }

//go:noinline // as Open
func (w *Writer) flush() {
	if w.err == nil && len(w.b) > 0 {
		n, err := w.Out.Write(w.b)
		w.written += int64(n)
		if err != nil {
			w.err = err
		}
	}
	w.b = w.b[:0]
}

// next starts a value: after a key nothing, else in a container the comma
// and line break before an element.
//
//go:noinline // as Open
func (w *Writer) next() {
	if w.afterKey {
		w.afterKey = false
		return
	}
	w.elem()
}

func (w *Writer) elem() {
	if w.depth == 0 {
		return
	}
	if w.comma {
		w.b = append(w.b, ',')
	}
	w.newline(w.depth)
}

func (w *Writer) newline(depth int) {
	if w.Indent == "" {
		return
	}
	w.b = append(w.b, '\n')
	for range depth {
		w.b = append(w.b, w.Indent...)
	}
}

// Key starts a member of the current object.
func (w *Writer) Key(k string) {
	w.elem()
	w.b = AppendString(w.b, k)
	w.b = append(w.b, ':')
	if w.Indent != "" {
		w.b = append(w.b, ' ')
	}
	w.afterKey = true
}

// Open starts an object ('{') or array ('[').
//
//go:noinline // inlined into every caller it costs the daemon kilobytes
func (w *Writer) Open(c byte) {
	w.next()
	w.b = append(w.b, c)
	w.depth++
	w.comma = false
}

// Close ends the object ('}') or array (']') last opened. An empty one
// stays on one line, "{}" or "[]".
//
//go:noinline // as Open
func (w *Writer) Close(c byte) {
	w.depth--
	if w.comma {
		w.newline(w.depth)
	}
	w.b = append(w.b, c)
	w.done()
}

// done ends a value; streaming, it passes on a full buffer.
func (w *Writer) done() {
	w.comma = true
	if w.Out != nil && len(w.b) >= FlushSize {
		w.flush()
	}
}

// Newline ends a document with a line break, as a line-based protocol
// needs, where json.Encoder would put it.
func (w *Writer) Newline() {
	w.b = append(w.b, '\n')
}

// Null writes null.
func (w *Writer) Null() {
	w.next()
	w.b = append(w.b, "null"...)
	w.done()
}

// String writes s as a JSON string.
func (w *Writer) String(s string) {
	w.next()
	w.b = AppendString(w.b, s)
	w.done()
}

// Bool writes true or false.
func (w *Writer) Bool(v bool) {
	w.next()
	w.b = strconv.AppendBool(w.b, v)
	w.done()
}

// Int writes an integer.
func (w *Writer) Int(v int64) {
	w.next()
	w.b = strconv.AppendInt(w.b, v, 10)
	w.done()
}

// Uint writes an unsigned integer.
func (w *Writer) Uint(v uint64) {
	w.next()
	w.b = strconv.AppendUint(w.b, v, 10)
	w.done()
}

// Float writes a float64 as encoding/json does: like ECMAScript, plain
// decimals from 1e-6 up to 1e21, exponents outside. NaN and infinities are
// an error.
func (w *Writer) Float(f float64) {
	w.next()
	if math.IsInf(f, 0) || math.IsNaN(f) {
		w.fail(errors.New("json: unsupported value: " + strconv.FormatFloat(f, 'g', -1, 64)))
		w.b = append(w.b, "null"...)
		w.done()
		return
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	w.b = strconv.AppendFloat(w.b, f, format, -1, 64)
	if format == 'e' {
		// e-09 becomes e-9.
		n := len(w.b)
		if n >= 4 && w.b[n-4] == 'e' && w.b[n-3] == '-' && w.b[n-2] == '0' {
			w.b[n-2] = w.b[n-1]
			w.b = w.b[:n-1]
		}
	}
	w.done()
}

// Time writes t as time.Time's MarshalJSON does: RFC 3339 with
// nanoseconds.
func (w *Writer) Time(t time.Time) {
	w.next()
	b, err := t.MarshalJSON()
	if err != nil {
		w.fail(errors.New("json: error calling MarshalJSON for type time.Time: " + err.Error()))
		b = []byte("null")
	}
	w.b = append(w.b, b...)
	w.done()
}

// Strings writes a list of strings, null for a nil one.
func (w *Writer) Strings(s []string) {
	if s == nil {
		w.Null()
		return
	}
	w.Open('[')
	for _, x := range s {
		w.String(x)
	}
	w.Close(']')
}

// Addr writes a as netip.Addr's MarshalText does, as a JSON string: ""
// for the zero Addr. It builds no string: a status answer writes
// thousands of addresses.
func (w *Writer) Addr(a netip.Addr) {
	w.next()
	if a.Zone() == "" {
		// Digits, dots, colons and hex letters: nothing to escape.
		w.b = append(w.b, '"')
		w.b = a.AppendTo(w.b)
		w.b = append(w.b, '"')
	} else {
		// A zone is an interface name, which may hold what JSON
		// escapes.
		w.b = AppendString(w.b, a.String())
	}
	w.done()
}

// Addrs writes a list of addresses, null for a nil one.
func (w *Writer) Addrs(as []netip.Addr) {
	if as == nil {
		w.Null()
		return
	}
	w.Open('[')
	for _, a := range as {
		w.Addr(a)
	}
	w.Close(']')
}

// Err returns the writer's error, nil while it has none.
func (w *Writer) Err() error { return w.err }

// Fail makes err the writer's error, unless it has one already: the
// document stops there, and Bytes and Flush return the error.
func (w *Writer) Fail(err error) { w.fail(err) }

func (w *Writer) fail(err error) {
	if w.err == nil {
		w.err = err
	}
}

const hex = "0123456789abcdef"

// AppendString appends s as a JSON string, escaped as encoding/json
// does: '"', '\\' and control characters, also '<', '>' and '&' (as
// \u003c, \u003e, \u0026), U+2028 and U+2029; invalid UTF-8 becomes
// \ufffd.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= ' ' && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '\\', '"':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
