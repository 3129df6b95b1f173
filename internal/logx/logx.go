// Package logx is the daemon's logger: leveled records of a message and
// key-value pairs, written as one line each in exactly the format of
// log/slog's TextHandler ("time=... level=INFO msg=... key=value").
//
// It exists for size. log/slog links encoding/json whatever handler is
// used; on linux/mips the two are about 140 KB of code and data, this
// package about 14 KB. Keeping slog's format means the
// lines users, scripts and the tests read did not change: logx_test.go
// writes the same records through slog and through logx and compares them
// byte for byte.
package logx

import (
	"encoding"
	"io"
	"strconv"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mcast-proxy/mcast-proxy/internal/format"
)

// Level is a record's importance, with slog's values.
type Level int

// The levels.
const (
	LevelDebug Level = -4
	LevelInfo  Level = 0
	LevelWarn  Level = 4
	LevelError Level = 8
)

// String names the level as slog does: DEBUG, INFO, WARN, ERROR, and an
// offset from the nearest one below for levels in between ("INFO+2").
func (l Level) String() string {
	str := func(base string, d Level) string {
		switch {
		case d == 0:
			return base
		case d > 0:
			base += "+"
		}
		return base + strconv.Itoa(int(d))
	}
	switch {
	case l < LevelInfo:
		return str("DEBUG", l-LevelDebug)
	case l < LevelWarn:
		return str("INFO", l-LevelInfo)
	case l < LevelError:
		return str("WARN", l-LevelWarn)
	default:
		return str("ERROR", l-LevelError)
	}
}

// Options configure a Logger.
type Options struct {
	// Level is the least important level written.
	Level Level
	// NoTime leaves the time out of each line, for a supervisor (procd,
	// systemd) that stamps lines itself. As the ReplaceAttr function the
	// daemon gave slog for this did, it also drops attributes named
	// "time" outside groups.
	NoTime bool
	// Priority starts each line with its syslog priority: "<3>" error,
	// "<4>" warning, "<6>" info, "<7>" debug. systemd reads it from lines
	// on a service's stderr (SyslogLevelPrefix=, sd-daemon(3)).
	Priority bool
}

// Attr is a key and its value. A value of type []Attr is a group: its
// members are written as "key.member=value".
type Attr struct {
	Key   string
	Value any
}

// Group is an Attr of the key-value pairs (or Attrs) in args, as
// slog.Group.
func Group(key string, args ...any) Attr {
	return Attr{key, toAttrs(args)}
}

// sink is the writer all loggers derived from one New share.
type sink struct {
	mu   sync.Mutex // guards w: each line goes out in one Write, whole
	w    io.Writer
	opts Options
	now  func() time.Time // time.Now; tests set it
}

// Logger writes records. A nil *Logger is not valid; New makes one. It is
// safe for concurrent use.
type Logger struct {
	s     *sink
	pre   []byte // the With attributes, formatted, each with its leading space
	group string // the WithGroup names, each followed by '.'
}

// New returns a Logger writing to w.
func New(w io.Writer, opts Options) *Logger {
	return &Logger{s: &sink{w: w, opts: opts, now: time.Now}}
}

// With returns a Logger that adds args, key-value pairs as in Info, to
// every record.
func (l *Logger) With(args ...any) *Logger {
	if len(args) == 0 {
		return l
	}
	pre := append([]byte(nil), l.pre...)
	for _, a := range toAttrs(args) {
		pre = l.s.appendAttr(pre, l.group, a)
	}
	return &Logger{s: l.s, pre: pre, group: l.group}
}

// WithGroup returns a Logger that writes the attributes added later, by
// With or in records, in the group name: "name.key=value".
func (l *Logger) WithGroup(name string) *Logger {
	if name == "" {
		return l
	}
	return &Logger{s: l.s, pre: l.pre, group: l.group + name + "."}
}

// Enabled reports whether records of level are written.
func (l *Logger) Enabled(level Level) bool { return level >= l.s.opts.Level }

// Debug logs msg and args, alternating keys and values (or Attrs), at
// LevelDebug.
func (l *Logger) Debug(msg string, args ...any) { l.log(LevelDebug, msg, args) }

// Info logs at LevelInfo.
func (l *Logger) Info(msg string, args ...any) { l.log(LevelInfo, msg, args) }

// Warn logs at LevelWarn.
func (l *Logger) Warn(msg string, args ...any) { l.log(LevelWarn, msg, args) }

// Error logs at LevelError.
func (l *Logger) Error(msg string, args ...any) { l.log(LevelError, msg, args) }

func (l *Logger) log(level Level, msg string, args []any) {
	if !l.Enabled(level) {
		return
	}
	s := l.s
	var b []byte
	if s.opts.Priority {
		switch {
		case level >= LevelError:
			b = append(b, "<3>"...)
		case level >= LevelWarn:
			b = append(b, "<4>"...)
		case level >= LevelInfo:
			b = append(b, "<6>"...)
		default:
			b = append(b, "<7>"...)
		}
	}
	if !s.opts.NoTime {
		b = append(b, "time="...)
		b = appendTime(b, s.now().Round(0))
		b = append(b, ' ')
	}
	b = append(b, "level="...)
	b = appendString(b, level.String())
	b = append(b, " msg="...)
	b = appendString(b, msg)
	b = append(b, l.pre...)
	for len(args) > 0 {
		var a Attr
		a, args = nextAttr(args)
		b = s.appendAttr(b, l.group, a)
	}
	b = append(b, '\n')
	s.mu.Lock()
	defer s.mu.Unlock()
	s.w.Write(b) //nolint:errcheck // as slog.Logger, which drops the handler's error
}

const badKey = "!BADKEY"

// nextAttr takes the first Attr off args as slog does: a string key and
// the value after it, an Attr, or a lone value under "!BADKEY".
func nextAttr(args []any) (Attr, []any) {
	switch x := args[0].(type) {
	case string:
		if len(args) == 1 {
			return Attr{badKey, x}, nil
		}
		return Attr{x, args[1]}, args[2:]
	case Attr:
		return x, args[1:]
	default:
		return Attr{badKey, x}, args[1:]
	}
}

func toAttrs(args []any) []Attr {
	var as []Attr
	for len(args) > 0 {
		var a Attr
		a, args = nextAttr(args)
		as = append(as, a)
	}
	return as
}

// appendAttr appends " key=value", or for a group each member's under
// prefix+key+".". Like slog it leaves out an attribute with neither key
// nor value and a group without members.
func (s *sink) appendAttr(b []byte, prefix string, a Attr) []byte {
	if g, ok := a.Value.([]Attr); ok {
		if a.Key != "" {
			prefix += a.Key + "."
		}
		for _, m := range g {
			b = s.appendAttr(b, prefix, m)
		}
		return b
	}
	if a.Key == "" && a.Value == nil {
		return b
	}
	if s.opts.NoTime && prefix == "" && a.Key == "time" {
		return b
	}
	b = append(b, ' ')
	switch {
	case prefix == "":
		b = appendString(b, a.Key)
	case needsQuoting(prefix) || needsQuoting(a.Key):
		// slog quotes the whole name when either part needs it: an
		// empty key in a group is quoted too.
		b = strconv.AppendQuote(b, prefix+a.Key)
	default:
		b = append(append(b, prefix...), a.Key...)
	}
	b = append(b, '=')
	return appendValue(b, a.Value)
}

// appendValue formats v as slog's TextHandler does: numbers, booleans and
// durations bare, times in RFC 3339 with milliseconds, a TextMarshaler's
// text, a []byte quoted, and anything else as fmt's %+v; strings are
// quoted when they need it.
func appendValue(b []byte, v any) (out []byte) {
	defer func() {
		if r := recover(); r != nil {
			out = appendString(b, format.Sprintf("!PANIC: %v", r))
		}
	}()
	switch v := v.(type) {
	case string:
		return appendString(b, v)
	case int:
		return strconv.AppendInt(b, int64(v), 10)
	case int8:
		return strconv.AppendInt(b, int64(v), 10)
	case int16:
		return strconv.AppendInt(b, int64(v), 10)
	case int32:
		return strconv.AppendInt(b, int64(v), 10)
	case int64:
		return strconv.AppendInt(b, v, 10)
	case uint:
		return strconv.AppendUint(b, uint64(v), 10)
	case uint8:
		return strconv.AppendUint(b, uint64(v), 10)
	case uint16:
		return strconv.AppendUint(b, uint64(v), 10)
	case uint32:
		return strconv.AppendUint(b, uint64(v), 10)
	case uint64:
		return strconv.AppendUint(b, v, 10)
	case uintptr:
		return strconv.AppendUint(b, uint64(v), 10)
	case float32:
		return strconv.AppendFloat(b, float64(v), 'g', -1, 64)
	case float64:
		return strconv.AppendFloat(b, v, 'g', -1, 64)
	case bool:
		return strconv.AppendBool(b, v)
	case time.Duration:
		return append(b, v.String()...)
	case time.Time:
		return appendTime(b, v)
	case encoding.TextMarshaler:
		t, err := v.MarshalText()
		if err != nil {
			return appendString(b, format.Sprintf("!ERROR:%v", err))
		}
		return appendString(b, string(t))
	case []byte:
		return strconv.AppendQuote(b, string(v))
	}
	return appendString(b, format.Sprintf("%+v", v))
}

// appendTime appends t as RFC 3339 with exactly three decimals, as slog.
func appendTime(b []byte, t time.Time) []byte {
	const prefixLen = len("2006-01-02T15:04:05.000")
	n := len(b)
	t = t.Truncate(time.Millisecond).Add(time.Millisecond / 10)
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b[:n+prefixLen], b[n+prefixLen+1:]...) // drop the 4th digit
}

// appendString appends s, quoted with strconv.Quote when it is empty or
// holds a space, '=', '"', an ASCII control character other than DEL, or
// a non-ASCII rune that is a space, invalid or not printable.
func appendString(b []byte, s string) []byte {
	if needsQuoting(s) {
		return strconv.AppendQuote(b, s)
	}
	return append(b, s...)
}

func needsQuoting(s string) bool {
	if len(s) == 0 {
		return true
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			// ASCII from '!' up goes bare but '=' and '"' (DEL too, as
			// slog's table says).
			if c <= ' ' || c == '=' || c == '"' {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return true
		}
		i += size
	}
	return false
}
