package control

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/jsonlite"
)

// fill sets every field reachable from v to a value that is not its zero
// value, varying with seed, so that a field the hand-written codec misses
// shows up in the comparison with encoding/json.
func fill(v reflect.Value, seed int) {
	switch v.Kind() {
	case reflect.String:
		v.SetString([]string{"eth0", "<br-lan & \"wan\">", "192.0.2.1", "é\u2028\x01"}[seed%4])
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		v.SetInt(int64(seed*7 - 3))
	case reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(seed)*1e9 + 1)
	case reflect.Float64:
		v.SetFloat([]float64{0.5, 1e-7, 123.456, 3e21}[seed%4])
	case reflect.Slice:
		n := 1 + seed%2
		v.Set(reflect.MakeSlice(v.Type(), n, n))
		for i := range n {
			fill(v.Index(i), seed+i+1)
		}
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for i := range 1 + seed%3 {
			k := reflect.New(v.Type().Key()).Elem()
			fill(k, seed+i)
			k.SetString(k.String() + strings.Repeat("z", i))
			e := reflect.New(v.Type().Elem()).Elem()
			fill(e, seed+i)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem(), seed)
		v.Set(p)
	case reflect.Struct:
		if a, ok := v.Addr().Interface().(*netip.Addr); ok {
			*a = []netip.Addr{{}, netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("fe80::1%<br-lan&\"x\">")}[seed%4]
			return
		}
		if t, ok := v.Addr().Interface().(*time.Time); ok {
			*t = time.Date(2025, 3, 1, 8, 0, seed, 123456789*(seed%2), time.FixedZone("", 3600*(seed%3)))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).Tag.Get("json") == "-" {
				continue // not part of the document
			}
			fill(v.Field(i), seed+i)
		}
	default:
		panic("fill: add a case for " + v.Type().String())
	}
}

func sampleResponses() map[string]Response {
	out := map[string]Response{
		"zero":          {},
		"failure":       failure("daemon busy"),
		"reload errors": {Version: 1, Error: "configuration not reloaded", Errors: []string{"a.conf:1:2: bad <x>"}},
		"empty status":  {Version: 1, OK: true, Status: &Status{}},
		"empty lists": {Version: 1, OK: true, Status: &Status{
			Interfaces: []Interface{{Addresses: []string{}, Groups: []Group{}, Counters: map[string]uint64{}}},
			Upstream:   []Subscription{{Sources: ips()}},
			Routes:     []Route{{Outputs: []string{}}},
			Counters:   []FamilyCounters{{Received: map[string]uint64{}}},
		}},
	}
	for seed := range 4 {
		var r Response
		fill(reflect.ValueOf(&r).Elem(), seed)
		out["filled "+string(rune('0'+seed))] = r
	}
	return out
}

// TestDecodeResponse: what encoding/json writes for every field of the
// protocol types, the hand-written decoder reads as encoding/json does.
func TestDecodeResponse(t *testing.T) {
	for name, resp := range sampleResponses() {
		t.Run(name, func(t *testing.T) {
			b, err := json.Marshal(&resp)
			if err != nil {
				t.Fatal(err)
			}
			var want Response
			if err := json.Unmarshal(b, &want); err != nil {
				t.Fatal(err)
			}
			got, err := decodeResponse(b)
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("decodeResponse = %+v, %v\nencoding/json %+v", got, err, want)
			}
			// Indented as "mcast-proxy status -j" prints it.
			if resp.Status == nil {
				return
			}
			ind, err := json.MarshalIndent(resp.Status, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got, err = decodeResponse([]byte(`{"status":` + string(ind) + `}`))
			if err != nil || !reflect.DeepEqual(got.Status, want.Status) {
				t.Fatalf("indented: decodeResponse = %+v, %v\nencoding/json %+v", got.Status, err, want.Status)
			}
		})
	}
}

func TestDecodeResponseTypes(t *testing.T) {
	for _, raw := range []string{
		`{"version":"1"}`,
		`{"ok":1}`,
		`{"status":{"table":-1}}`,
		`{"status":{"table":4294967296}}`,
		`{"status":{"interfaces":[{"ifindex":1.5}]}}`,
		`{"status":{"counters":[{"received":{"a":"1"}}]}}`,
		`{"status":{"started":"yesterday"}}`,
		`{"status":[]}`,
		`[]`,
	} {
		var jr Response
		jerr := json.Unmarshal([]byte(raw), &jr)
		_, err := decodeResponse([]byte(raw))
		if err == nil || jerr == nil {
			t.Errorf("%s: decodeResponse error %v, encoding/json %v", raw, err, jerr)
		}
	}
	// Names match case-insensitively, nulls and unknown names are skipped.
	raw := `{"VERSION":1,"Ok":true,"error":null,"status":{"config":"x","new_field":[1],"interfaces":null,"routes":[]}}`
	var want Response
	if err := json.Unmarshal([]byte(raw), &want); err != nil {
		t.Fatal(err)
	}
	got, err := decodeResponse([]byte(raw))
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("decodeResponse = %+v, %v; want %+v", got, err, want)
	}
}

// FuzzDecodeResponse: decoding never panics, and what both decoders accept
// they read alike.
func FuzzDecodeResponse(f *testing.F) {
	for _, resp := range sampleResponses() {
		b, _ := json.Marshal(&resp)
		f.Add(b)
	}
	f.Add([]byte(`{"status":{"interfaces":[{"querier":{"self":true}},null]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := decodeResponse(data)
		var want Response
		if err != nil || json.Unmarshal(data, &want) != nil {
			return
		}
		// encoding/json merges a repeated object into the value it
		// decoded first; decodeResponse takes the last one whole.
		if !reflect.DeepEqual(got, want) && !hasDuplicateNames(data) {
			t.Fatalf("decodeResponse(%q) = %+v\nencoding/json %+v", data, got, want)
		}
	})
}

// hasDuplicateNames reports whether some object in data repeats a name,
// ignoring case.
func hasDuplicateNames(data []byte) bool {
	v, err := jsonlite.Parse(data)
	if err != nil {
		return false
	}
	var walk func(v jsonlite.Value) bool
	walk = func(v jsonlite.Value) bool {
		seen := map[string]bool{}
		for _, m := range v.Members {
			k := strings.ToLower(m.Name)
			if seen[k] || walk(m.Value) {
				return true
			}
			seen[k] = true
		}
		for _, e := range v.Elems {
			if walk(e) {
				return true
			}
		}
		return false
	}
	return walk(v)
}
