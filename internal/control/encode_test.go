package control

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/jsonlite"
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
		if a, ok := v.Addr().Interface().(*netip.Addr); ok {
			var b16 [16]byte
			for i := range b16 {
				b16[i] = byte(r.Uint32())
			}
			switch r.IntN(4) {
			case 0: // none: ""
			case 1:
				*a = netip.AddrFrom4([4]byte(b16[:4]))
			case 2:
				*a = netip.AddrFrom16(b16)
			default:
				*a = netip.AddrFrom16(b16).WithZone(string([]byte{'a', "<>&\"\\\x00\xff"[r.IntN(7)]}))
			}
			return
		}
		if t, ok := v.Addr().Interface().(*time.Time); ok {
			*t = time.Unix(r.Int64N(1<<35), r.Int64N(1e9)).In(time.FixedZone("", 60*(r.IntN(1500)-750)))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).Tag.Get("json") == "-" {
				continue // not part of the document
			}
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

// encodeResponse is the response as one piece, to compare with json.Marshal.
func encodeResponse(r *Response) ([]byte, error) {
	var w jsonlite.Writer
	writeResponseJSON(&w, r, nil)
	return w.Bytes()
}

// writeRecorder keeps each Write apart; failAfter > 0 fails the writes
// after that many.
type writeRecorder struct {
	writes    [][]byte
	failAfter int
}

func (r *writeRecorder) Write(b []byte) (int, error) {
	if r.failAfter > 0 && len(r.writes) >= r.failAfter {
		return 0, errors.New("broken pipe")
	}
	r.writes = append(r.writes, slices.Clone(b))
	return len(b), nil
}

func (r *writeRecorder) all() string { return string(bytes.Join(r.writes, nil)) }

// bigStatus is a status of n groups, each with a host, a route and an
// upstream subscription, as a busy router's.
func bigStatus(n int) *Status {
	s := &Status{Version: "test", Started: time.Unix(1700000000, 0).UTC()}
	down := Interface{Name: "br-lan", Family: FamilyIPv4, Role: RoleDownstream, State: StateActive, Addresses: []string{"192.168.1.1"}}
	for i := range n {
		g := netip.AddrFrom4([4]byte{239, 1, byte(i >> 8), byte(i)})
		down.Groups = append(down.Groups, Group{Group: g, Mode: ModeExclude, ExpiresIn: 259.5, Compat: 2,
			Hosts: []Host{{Address: ip("192.168.1.100"), Mode: ModeExclude, ExpiresIn: 259.5}}})
		s.Routes = append(s.Routes, Route{Family: FamilyIPv4, Source: ip("10.0.0.1"), Group: g, Input: "wan", Outputs: []string{"br-lan"}, Packets: uint64(i), Bytes: uint64(i) * 1316, PacketsPerSecond: 100, BitsPerSecond: 1052800})
		s.Upstream = append(s.Upstream, Subscription{Family: FamilyIPv4, Interface: "wan", Group: g, Mode: ModeExclude})
	}
	s.Interfaces = []Interface{down}
	return s
}

// TestWriteResponseStreams: a large status goes out in pieces of a few
// kilobytes, and the pieces make exactly json.Marshal's document.
func TestWriteResponseStreams(t *testing.T) {
	resp := Response{Version: ProtocolVersion, OK: true, Status: bigStatus(1000)}
	want, err := json.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	var rec writeRecorder
	if err := writeResponse(&rec, &resp, nil); err != nil {
		t.Fatal(err)
	}
	if got := rec.all(); got != string(want)+"\n" {
		t.Fatalf("streamed response differs from json.Marshal's (%d bytes against %d)", len(got), len(want)+1)
	}
	if len(rec.writes) < len(want)/jsonlite.FlushSize {
		t.Errorf("%d bytes in %d writes: not streamed", len(want), len(rec.writes))
	}
	for i, w := range rec.writes {
		// A piece is what was held when a value ended past FlushSize: at
		// most FlushSize plus one value (here a short string or number).
		if len(w) > jsonlite.FlushSize+256 {
			t.Errorf("write %d is %d bytes: the whole response was held", i, len(w))
		}
	}
}

// TestWriteResponseSmall: a small response is one write, the document and
// its newline.
func TestWriteResponseSmall(t *testing.T) {
	var rec writeRecorder
	if err := writeResponse(&rec, &Response{Version: ProtocolVersion, OK: true}, nil); err != nil {
		t.Fatal(err)
	}
	if len(rec.writes) != 1 || rec.all() != `{"version":1,"ok":true}`+"\n" {
		t.Fatalf("writes %q", rec.writes)
	}
}

// TestWriteResponseEncodingError: a value JSON cannot hold, found before
// anything went out, is answered with a failure the client can read.
func TestWriteResponseEncodingError(t *testing.T) {
	var rec writeRecorder
	resp := Response{Version: ProtocolVersion, OK: true, Status: &Status{UptimeSeconds: math.NaN()}}
	if err := writeResponse(&rec, &resp, nil); err != nil {
		t.Fatal(err)
	}
	var got Response
	if err := json.Unmarshal([]byte(rec.all()), &got); err != nil {
		t.Fatalf("%q: %v", rec.all(), err)
	}
	if got.OK || got.Status != nil || got.Error != "cannot encode response: json: unsupported value: NaN" {
		t.Fatalf("got %+v", got)
	}
}

// TestWriteResponseWriteError: once a write fails, nothing more is written
// and the error is returned.
func TestWriteResponseWriteError(t *testing.T) {
	rec := writeRecorder{failAfter: 2}
	resp := Response{Version: ProtocolVersion, OK: true, Status: bigStatus(200)}
	if err := writeResponse(&rec, &resp, nil); err == nil || err.Error() != "broken pipe" {
		t.Fatalf("error %v, want broken pipe", err)
	}
	if len(rec.writes) != 2 {
		t.Fatalf("%d writes, want 2 before the failure", len(rec.writes))
	}
}

// BenchmarkWriteStatus: encoding a status of 1000 groups as the server
// does, straight to the connection.
func BenchmarkWriteStatus(b *testing.B) {
	resp := Response{Version: ProtocolVersion, OK: true, Status: bigStatus(1000)}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := writeResponse(io.Discard, &resp, nil); err != nil {
			b.Fatal(err)
		}
	}
}
