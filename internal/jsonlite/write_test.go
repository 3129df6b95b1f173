package jsonlite

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// write writes v, built of what json.Unmarshal makes plus time.Time and
// integers, as json.Marshal would: object keys sorted.
func write(w *Writer, v any) {
	switch v := v.(type) {
	case nil:
		w.Null()
	case bool:
		w.Bool(v)
	case float64:
		w.Float(v)
	case int64:
		w.Int(v)
	case uint64:
		w.Uint(v)
	case string:
		w.String(v)
	case time.Time:
		w.Time(v)
	case []string:
		w.Strings(v)
	case netip.Addr:
		w.Addr(v)
	case []netip.Addr:
		w.Addrs(v)
	case []any:
		if v == nil {
			w.Null()
			return
		}
		w.Open('[')
		for _, e := range v {
			write(w, e)
		}
		w.Close(']')
	case map[string]any:
		w.Open('{')
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			w.Key(k)
			write(w, v[k])
		}
		w.Close('}')
	default:
		panic("unexpected type")
	}
}

// same compares the Writer with json.Marshal and json.MarshalIndent.
func same(t *testing.T, v any) {
	t.Helper()
	for _, indent := range []string{"", "  ", "\t"} {
		var want []byte
		var werr error
		if indent == "" {
			want, werr = json.Marshal(v)
		} else {
			want, werr = json.MarshalIndent(v, "", indent)
		}
		w := Writer{Indent: indent}
		write(&w, v)
		got, err := w.Bytes()
		if (err == nil) != (werr == nil) || err != nil && err.Error() != werr.Error() {
			t.Fatalf("%#v indent %q: error %v, encoding/json's %v", v, indent, err, werr)
		}
		if string(got) != string(want) {
			t.Fatalf("%#v indent %q:\n got %s\nwant %s", v, indent, got, want)
		}
	}
}

func TestWriter(t *testing.T) {
	for _, v := range []any{
		nil, true, false, 0.0, -0.0, 1.0, -1.5, 1e20, 1e21, 1e-6, 1e-7, 123456789.125, 5e-324, math.MaxFloat64, 1e-9, 1.5e-10,
		int64(-3), uint64(math.MaxUint64), "", "a<b>&c", "\u2028\u2029", "\xff\xfe", "\x00\x1f\x7f", "\b\f\n\r\t\"\\", "é😀",
		time.Date(2026, 12, 5, 21, 0, 0, 123456789, time.FixedZone("", -5400)), time.Time{},
		[]string(nil), []string{}, []string{"a", "<"},
		[]any{}, map[string]any{}, []any{[]any{}, map[string]any{}},
		map[string]any{"b": 1.0, "a": []any{nil, map[string]any{"x&": "y"}}, "": map[string]any{}},
		math.NaN(), math.Inf(1), []any{1.0, math.Inf(-1)},
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		netip.Addr{}, netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1"),
		netip.MustParseAddr("::ffff:192.0.2.1"), netip.MustParseAddr("fe80::1%eth0"),
		netip.MustParseAddr("fe80::1").WithZone("br<\"lan\">&\x01\u2028\xff"),
		[]netip.Addr(nil), []netip.Addr{}, []netip.Addr{{}, netip.MustParseAddr("ff02::16")},
		map[string]any{"a": netip.MustParseAddr("10.0.0.1"), "b": []netip.Addr{netip.MustParseAddr("fe80::2%a&b")}},
	} {
		same(t, v)
	}
}

func TestWriterRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		same(t, randJSON(r, 0))
	}
}

func randString(r *rand.Rand) string {
	const alphabet = "ab<>&\"\\\x00\x1f\x7f\n\té\u2028\u2029\xff\xc3 "
	var b strings.Builder
	for n := r.IntN(8); n > 0; n-- {
		b.WriteByte(alphabet[r.IntN(len(alphabet))])
	}
	return b.String()
}

func randJSON(r *rand.Rand, depth int) any {
	n := 9
	if depth > 3 {
		n = 7
	}
	switch r.IntN(n) {
	case 0:
		return nil
	case 1:
		return r.IntN(2) == 0
	case 2:
		return math.Float64frombits(r.Uint64() &^ (0x7ff << 52 & r.Uint64()))
	case 3:
		return (r.Float64() - 0.5) * math.Pow(10, float64(r.IntN(60)-30))
	case 4:
		return randString(r)
	case 5:
		return time.Unix(r.Int64N(1<<34), r.Int64N(1e9)).In(time.FixedZone("", 60*(r.IntN(1500)-750)))
	case 6:
		if r.IntN(2) == 0 {
			return int64(r.Uint64())
		}
		return r.Uint64()
	case 7:
		var a []any
		if r.IntN(5) > 0 {
			a = []any{}
		}
		for range r.IntN(4) {
			a = append(a, randJSON(r, depth+1))
		}
		return a
	default:
		m := map[string]any{}
		for range r.IntN(4) {
			m[randString(r)] = randJSON(r, depth+1)
		}
		return m
	}
}

// FuzzString compares string escaping with encoding/json's.
func FuzzString(f *testing.F) {
	for _, s := range []string{"", "a", "<script>&amp;", "\u2028", "\xff", "\x00", "\"\\", "é😀"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := AppendString(nil, s); string(got) != string(want) {
			t.Fatalf("%q: got %s, want %s", s, got, want)
		}
	})
}

// chunks records each write to it.
type chunks [][]byte

func (c *chunks) Write(b []byte) (int, error) {
	*c = append(*c, slices.Clone(b))
	return len(b), nil
}

// TestWriterStreams: with Out set, random documents of many kilobytes go
// out in pieces near FlushSize that add up to what Bytes would return.
func TestWriterStreams(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for range 50 {
		doc := make([]any, 2000)
		for i := range doc {
			doc[i] = randJSON(r, 0)
		}
		for _, indent := range []string{"", "  "} {
			whole := Writer{Indent: indent}
			write(&whole, doc)
			want, werr := whole.Bytes()
			var out chunks
			w := Writer{Indent: indent, Out: &out}
			write(&w, doc)
			err := w.Flush()
			if (err == nil) != (werr == nil) {
				t.Fatalf("streamed error %v, whole %v", err, werr)
			}
			if err != nil {
				// Nothing goes out after an encoding error.
				if got := bytes.Join(out, nil); !bytes.HasPrefix(whole.b, got) || w.Written() != int64(len(got)) {
					t.Fatalf("after an error: %d bytes written, not a prefix of the document", len(got))
				}
				continue
			}
			if got := bytes.Join(out, nil); !bytes.Equal(got, want) || w.Written() != int64(len(want)) {
				t.Fatalf("streamed %d bytes (Written %d), whole %d: they differ", len(got), w.Written(), len(want))
			}
			if len(out) < len(want)/FlushSize {
				t.Fatalf("%d bytes in %d writes: not streamed", len(want), len(out))
			}
			for i, c := range out[:len(out)-1] {
				if len(c) < FlushSize {
					t.Fatalf("write %d of %d is %d bytes, under FlushSize", i, len(out), len(c))
				}
			}
		}
	}
}
