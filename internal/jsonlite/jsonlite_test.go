package jsonlite

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// toAny turns a Value into what json.Unmarshal into an any gives, numbers
// as float64.
func toAny(t *testing.T, v Value) any {
	switch v.Kind {
	case Bool:
		return v.Bool
	case Number:
		f, err := strconv.ParseFloat(v.Str, 64)
		if err != nil {
			return "range:" + v.Str
		}
		return f
	case String:
		return v.Str
	case Array:
		out := []any{}
		for _, e := range v.Elems {
			out = append(out, toAny(t, e))
		}
		return out
	case Object:
		out := map[string]any{}
		for _, m := range v.Members {
			out[m.Name] = toAny(t, m.Value)
		}
		return out
	}
	return nil
}

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string // encoding/json's message, or "" when both accept
	}{
		{in: `{"version":1,"command":"status"}`},
		{in: " \t\r\n[1, -0.5e+3, 0, true, false, null, \"x\", {}, []] "},
		{in: `"a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00\ud83d\u0041\udc00x"`},
		{in: "\"\xff\xfe ok \xe2\x80\xa8\""},
		{in: `{"a":1,"a":2}`},
		{in: ``, wantErr: "unexpected end of JSON input"},
		{in: `  `, wantErr: "unexpected end of JSON input"},
		{in: `{"version":1,`, wantErr: "unexpected end of JSON input"},
		{in: `{"version":1,"command":"status"} x`, wantErr: "invalid character 'x' after top-level value"},
		{in: `status`, wantErr: "invalid character 's' looking for beginning of value"},
		{in: `{"a" 1}`, wantErr: "invalid character '1' after object key"},
		{in: `{"a":1 "b"}`, wantErr: "invalid character '\"' after object key:value pair"},
		{in: `[1 2]`, wantErr: "invalid character '2' after array element"},
		{in: `{1:2}`, wantErr: "invalid character '1' looking for beginning of object key string"},
		{in: `tru`, wantErr: "invalid character ' ' in literal true (expecting 'e')"},
		{in: `"\u12`, wantErr: "invalid character ' ' in \\u hexadecimal character escape"},
		{in: `"\`, wantErr: "invalid character ' ' in string escape code"},
		{in: `trUe`, wantErr: "invalid character 'U' in literal true (expecting 'u')"},
		{in: `01`, wantErr: "invalid character '1' after top-level value"},
		{in: `-`, wantErr: "invalid character ' ' in numeric literal"},
		{in: `-x`, wantErr: "invalid character 'x' in numeric literal"},
		{in: `1.`, wantErr: "invalid character ' ' after decimal point in numeric literal"},
		{in: `1.e3`, wantErr: "invalid character 'e' after decimal point in numeric literal"},
		{in: `1e`, wantErr: "invalid character ' ' in exponent of numeric literal"},
		{in: `1e+x`, wantErr: "invalid character 'x' in exponent of numeric literal"},
		{in: "\"a\nb\"", wantErr: "invalid character '\\n' in string literal"},
		{in: `"\x"`, wantErr: "invalid character 'x' in string escape code"},
		{in: `"\u12g4"`, wantErr: "invalid character 'g' in \\u hexadecimal character escape"},
		{in: `"abc`, wantErr: "unexpected end of JSON input"},
		{in: `[1,]`, wantErr: "invalid character ']' looking for beginning of value"},
		{in: `'a'`, wantErr: "invalid character '\\'' looking for beginning of value"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			v, err := Parse([]byte(tt.in))
			var want any
			jerr := json.Unmarshal([]byte(tt.in), &want)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Errorf("Parse error %v, want %q", err, tt.wantErr)
				}
				if jerr == nil || jerr.Error() != tt.wantErr {
					t.Errorf("encoding/json says %v, the test wants %q", jerr, tt.wantErr)
				}
				return
			}
			if err != nil || jerr != nil {
				t.Fatalf("Parse: %v, encoding/json: %v", err, jerr)
			}
			if got := toAny(t, v); !reflect.DeepEqual(got, want) {
				t.Errorf("Parse gave %#v, encoding/json %#v", got, want)
			}
		})
	}
}

func TestParseDepth(t *testing.T) {
	deep := strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth)
	if _, err := Parse([]byte(deep)); err != nil {
		t.Errorf("depth %d: %v", maxDepth, err)
	}
	deeper := "[" + deep + "]"
	if _, err := Parse([]byte(deeper)); err == nil {
		t.Errorf("depth %d accepted", maxDepth+1)
	}
}

// FuzzParse: Parse accepts exactly what encoding/json accepts, gives the
// same value, and never panics.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"version":1,"command":"status"}`, `{"up":true,"l3_device":"pppoe-wan","ipv4-address":[{"address":"192.0.2.1","mask":32}]}`,
		`[1,-0.5e+3,true,false,null,"\u00e9\ud83d\ude00"]`, `{"a":`, "\"\xff\"", `1e400`, `"\ud800\u0041"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Parse(data)
		if err == errDepth {
			return
		}
		if (err == nil) != json.Valid(data) {
			t.Fatalf("Parse error %v, but json.Valid says %v, for %q", err, json.Valid(data), data)
		}
		var want any
		if err != nil || json.Unmarshal(data, &want) != nil {
			// Rejected by both, or a number beyond float64, which
			// encoding/json refuses only when decoding into a float.
			return
		}
		got := toAny(t, v)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Parse(%q) = %#v, encoding/json %#v", data, got, want)
		}
	})
}
