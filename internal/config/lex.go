package config

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

type tokenKind int

const (
	tokEOF tokenKind = iota
	tokNewline
	tokSemi
	tokLBrace
	tokRBrace
	tokWord   // bare word
	tokString // double-quoted string, text unquoted
)

type token struct {
	kind tokenKind
	text string
	pos  Pos
}

// describe names a token for error messages.
func (t token) describe() string {
	switch t.kind {
	case tokEOF:
		return "end of file"
	case tokNewline:
		return "end of line"
	case tokSemi:
		return `";"`
	case tokLBrace:
		return `"{"`
	case tokRBrace:
		return `"}"`
	}
	return strconv.Quote(t.text)
}

// isValue says whether the token can be a keyword or an argument.
func (t token) isValue() bool {
	return t.kind == tokWord || t.kind == tokString
}

// lex splits data into tokens. A word runs until whitespace or one of
// { } ; # ". A # starts a comment to the end of the line. Strings are
// double-quoted on one line, with \" and \\ as the only escapes. Lexical
// errors are appended to errs; the token stream always ends with tokEOF.
func lex(file string, data []byte, errs *Errors) []token {
	var toks []token
	line, col := 1, 1
	i := 0
	pos := func() Pos { return Pos{File: file, Line: line, Col: col} }
	// advance moves over one character, counting columns in characters;
	// an invalid UTF-8 byte counts as one.
	advance := func() {
		if data[i] == '\n' {
			line++
			col = 1
			i++
			return
		}
		_, n := utf8.DecodeRune(data[i:])
		i += n
		col++
	}
	for i < len(data) {
		c := data[i]
		switch {
		case c == '\n':
			toks = append(toks, token{kind: tokNewline, pos: pos()})
			advance()
		case c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f':
			advance()
		case c == '#':
			for i < len(data) && data[i] != '\n' {
				advance()
			}
		case c == ';':
			toks = append(toks, token{kind: tokSemi, pos: pos()})
			advance()
		case c == '{':
			toks = append(toks, token{kind: tokLBrace, pos: pos()})
			advance()
		case c == '}':
			toks = append(toks, token{kind: tokRBrace, pos: pos()})
			advance()
		case c == '"':
			start := pos()
			advance()
			var b strings.Builder
			closed := false
			for i < len(data) && data[i] != '\n' {
				if data[i] == '"' {
					advance()
					closed = true
					break
				}
				if data[i] == '\\' && i+1 < len(data) && (data[i+1] == '"' || data[i+1] == '\\') {
					b.WriteByte(data[i+1])
					advance()
					advance()
					continue
				}
				if data[i] == '\\' {
					*errs = append(*errs, &Error{Pos: pos(), Msg: `unknown escape in quoted string; only \" and \\ are allowed`})
				}
				j := i
				advance()
				b.Write(data[j:i])
			}
			if !closed {
				*errs = append(*errs, &Error{Pos: start, Msg: "unterminated quoted string"})
			}
			toks = append(toks, token{kind: tokString, text: b.String(), pos: start})
		default:
			start := pos()
			j := i
			for i < len(data) && !strings.ContainsRune(" \t\r\v\f\n{};#\"", rune(data[i])) {
				advance()
			}
			toks = append(toks, token{kind: tokWord, text: string(data[j:i]), pos: start})
		}
	}
	return append(toks, token{kind: tokEOF, pos: pos()})
}
