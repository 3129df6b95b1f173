package control

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

// randFill sets the fields reachable from v at random: left zero, empty
// or filled, so that every omitempty and null case comes up.
func randFill(r *rand.Rand, v reflect.Value) {
	if r.IntN(5) == 0 {
		return // the zero value: "", 0, false, nil
	}
	switch v.Kind() {
	case reflect.String:
		const alphabet = "ab09.:/<>&\"\\\x00\x1f\n\té\u2028\xff "
		var b strings.Builder
		for n := r.IntN(10); n > 0; n-- {
			b.WriteByte(alphabet[r.IntN(len(alphabet))])
		}
		v.SetString(b.String())
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 0)
	case reflect.Int, reflect.Int64:
		v.SetInt(int64(r.Uint64()) >> r.IntN(64))
	case reflect.Uint32, reflect.Uint64:
		v.SetUint(r.Uint64() >> (64 - v.Type().Bits() + r.IntN(v.Type().Bits())))
	case reflect.Float64:
		v.SetFloat((r.Float64() - 0.1) * math.Pow(10, float64(r.IntN(50)-25)))
	case reflect.Slice:
		n := r.IntN(3)
		v.Set(reflect.MakeSlice(v.Type(), n, n))
		for i := range n {
			randFill(r, v.Index(i))
		}
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for range r.IntN(4) {
			k := reflect.New(v.Type().Key()).Elem()
			randFill(r, k)
			e := reflect.New(v.Type().Elem()).Elem()
			randFill(r, e)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		randFill(r, p.Elem())
		v.Set(p)
	case reflect.Struct:
		if t, ok := v.Addr().Interface().(*time.Time); ok {
			*t = time.Unix(r.Int64N(1<<35), r.Int64N(1e9)).In(time.FixedZone("", 60*(r.IntN(1500)-750)))
			return
		}
		for i := range v.NumField() {
			randFill(r, v.Field(i))
		}
	default:
		panic("randFill: add a case for " + v.Type().String())
	}
}

// sameJSON compares what the hand-written encoders write for resp with
// json.Marshal of it and json.MarshalIndent of its status.
func sameJSON(t *testing.T, name string, resp Response) {
	t.Helper()
	check := func(what string, got []byte, err error, want []byte, werr error) {
		t.Helper()
		if (err == nil) != (werr == nil) || err != nil && err.Error() != werr.Error() {
			t.Fatalf("%s: %s: error %v, encoding/json's %v", name, what, err, werr)
		}
		if string(got) != string(want) {
			t.Fatalf("%s: %s:\n got %s\nwant %s", name, what, got, want)
		}
	}
	got, err := encodeResponse(&resp)
	want, werr := json.Marshal(resp)
	check("response", got, err, want, werr)
	if resp.Status != nil {
		got, err = MarshalStatus(resp.Status, "  ")
		want, werr = json.MarshalIndent(resp.Status, "", "  ")
		check("indented status", got, err, want, werr)
		got, err = MarshalStatus(resp.Status, "")
		want, werr = json.Marshal(resp.Status)
		check("status", got, err, want, werr)
	}
}

func TestEncodeResponse(t *testing.T) {
	for name, resp := range sampleResponses() {
		sameJSON(t, name, resp)
	}
	for seed := range 50 {
		var resp Response
		fill(reflect.ValueOf(&resp).Elem(), seed)
		sameJSON(t, "fill", resp)
	}
	sameJSON(t, "not a number", Response{OK: true, Status: &Status{UptimeSeconds: math.NaN()}})
	sameJSON(t, "infinite rate", Response{OK: true, Status: &Status{Routes: []Route{{BitsPerSecond: math.Inf(1)}}}})
	sameJSON(t, "year 10000", Response{OK: true, Status: &Status{Started: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}})
}

func TestEncodeResponseRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 1000 {
		var resp Response
		randFill(r, reflect.ValueOf(&resp).Elem())
		sameJSON(t, "random", resp)
	}
}

func TestEncodeRequest(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	reqs := []Request{{}, {Version: ProtocolVersion, Command: CommandStatus}, {Version: -1, Command: "<&>\u2028"}}
	for range 100 {
		var req Request
		randFill(r, reflect.ValueOf(&req).Elem())
		reqs = append(reqs, req)
	}
	for _, req := range reqs {
		got, err := encodeRequest(req)
		want, _ := json.Marshal(req)
		if err != nil || string(got) != string(want) {
			t.Fatalf("%#v: got %s, %v; want %s", req, got, err, want)
		}
	}
}
