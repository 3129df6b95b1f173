package control

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/jsonlite"
)

// The protocol's JSON is read by hand with jsonlite (and written by hand,
// encode.go): encoding/json costs far more on MIPS than this. A field added
// to a protocol type must be added to its decoder here too; json_test.go
// compares every field with encoding/json and fails until it is.

// decoder fills protocol types from a parsed document the way json.Unmarshal
// does: names match case-insensitively, unknown names and nulls are skipped,
// the last of duplicate names wins, and a value of the wrong type is an
// error naming the field.
type decoder struct {
	err error
}

// decodeRequest reads a request as json.Unmarshal would.
func decodeRequest(data []byte) (Request, error) {
	var r Request
	v, err := jsonlite.Parse(data)
	if err != nil {
		return r, err
	}
	var d decoder
	d.request(v, &r)
	return r, d.err
}

// decodeResponse reads a response as json.Unmarshal would.
func decodeResponse(data []byte) (Response, error) {
	var r Response
	v, err := jsonlite.Parse(data)
	if err != nil {
		return r, err
	}
	var d decoder
	d.response(v, &r)
	return r, d.err
}

// field binds a member name to where its value goes: ptr for the plain
// types set handles, fn for the nested ones.
type field struct {
	name string
	ptr  any
	fn   func(v jsonlite.Value, path string)
}

// object decodes the object v into fields. where is the Go path of v for
// errors ("Response.status"), typ its type.
func (d *decoder) object(v jsonlite.Value, where, typ string, fields ...field) {
	if v.Kind == jsonlite.Null {
		return
	}
	if v.Kind != jsonlite.Object {
		d.fail(v, where, typ)
		return
	}
	for _, m := range v.Members {
		for _, f := range fields {
			if strings.EqualFold(m.Name, f.name) {
				if m.Value.Kind != jsonlite.Null {
					d.set(m.Value, where+"."+f.name, f)
				}
				break
			}
		}
	}
}

func (d *decoder) set(v jsonlite.Value, path string, f field) {
	switch p := f.ptr.(type) {
	case nil:
		f.fn(v, path)
	case *string:
		*p = d.str(v, path)
	case *bool:
		*p = d.bool(v, path)
	case *int:
		*p = d.int(v, path)
	case *uint32:
		*p = uint32(d.uint(v, path, 32, "uint32"))
	case *uint64:
		*p = d.uint(v, path, 64, "uint64")
	case *float64:
		*p = d.float(v, path)
	case *[]string:
		*p = d.strs(v, path)
	case *netip.Addr:
		*p = d.addr(v, path, "netip.Addr")
	case *[]netip.Addr:
		*p = d.addrs(v, path)
	case *map[string]uint64:
		*p = d.counters(v, path)
	case *time.Time:
		t, err := parseTime(d.str(v, path))
		if err != nil && d.err == nil {
			d.err = err
		}
		*p = t
	}
}

// fail records a type mismatch with encoding/json's message. path is
// "Type.field.field" or "" for the top-level value.
func (d *decoder) fail(v jsonlite.Value, path, typ string) {
	if d.err != nil {
		return
	}
	what := v.Kind.String()
	if v.Kind == jsonlite.Number {
		what += " " + v.Str
	}
	if i := strings.IndexByte(path, '.'); i >= 0 {
		d.err = errors.New("json: cannot unmarshal " + what + " into Go struct field " + path + " of type " + typ)
		return
	}
	d.err = errors.New("json: cannot unmarshal " + what + " into Go value of type " + typ)
}

func (d *decoder) str(v jsonlite.Value, path string) string {
	if v.Kind != jsonlite.String {
		d.fail(v, path, "string")
		return ""
	}
	return v.Str
}

func (d *decoder) bool(v jsonlite.Value, path string) bool {
	if v.Kind != jsonlite.Bool {
		d.fail(v, path, "bool")
		return false
	}
	return v.Bool
}

func (d *decoder) int(v jsonlite.Value, path string) int {
	n, err := strconv.ParseInt(v.Str, 10, strconv.IntSize)
	if v.Kind != jsonlite.Number || err != nil {
		d.fail(v, path, "int")
	}
	return int(n)
}

func (d *decoder) uint(v jsonlite.Value, path string, bits int, typ string) uint64 {
	n, err := strconv.ParseUint(v.Str, 10, bits)
	if v.Kind != jsonlite.Number || err != nil {
		d.fail(v, path, typ)
	}
	return n
}

func (d *decoder) float(v jsonlite.Value, path string) float64 {
	f, err := strconv.ParseFloat(v.Str, 64)
	if v.Kind != jsonlite.Number || err != nil {
		d.fail(v, path, "float64")
	}
	return f
}

func (d *decoder) strs(v jsonlite.Value, path string) []string {
	if v.Kind != jsonlite.Array {
		d.fail(v, path, "[]string")
		return nil
	}
	out := make([]string, 0, len(v.Elems))
	for _, x := range v.Elems {
		if x.Kind == jsonlite.Null {
			out = append(out, "")
			continue
		}
		out = append(out, d.str(x, path))
	}
	return out
}

// addr reads an address as netip.Addr's UnmarshalText does: "" is the
// zero Addr.
func (d *decoder) addr(v jsonlite.Value, path, typ string) netip.Addr {
	if v.Kind != jsonlite.String {
		d.fail(v, path, typ)
		return netip.Addr{}
	}
	var a netip.Addr
	if err := a.UnmarshalText([]byte(v.Str)); err != nil && d.err == nil {
		d.err = err
	}
	return a
}

func (d *decoder) addrs(v jsonlite.Value, path string) []netip.Addr {
	if v.Kind != jsonlite.Array {
		d.fail(v, path, "[]netip.Addr")
		return nil
	}
	out := make([]netip.Addr, len(v.Elems))
	for i, x := range v.Elems {
		if x.Kind != jsonlite.Null {
			out[i] = d.addr(x, path, "netip.Addr")
		}
	}
	return out
}

func (d *decoder) counters(v jsonlite.Value, path string) map[string]uint64 {
	if v.Kind != jsonlite.Object {
		d.fail(v, path, "map[string]uint64")
		return nil
	}
	m := make(map[string]uint64, len(v.Members))
	for _, x := range v.Members {
		if x.Value.Kind == jsonlite.Null {
			m[x.Name] = 0
			continue
		}
		m[x.Name] = d.uint(x.Value, path, 64, "uint64")
	}
	return m
}

// decodeList decodes an array into a slice, one element at a time.
func decodeList[T any](d *decoder, v jsonlite.Value, path, typ string, elem func(jsonlite.Value, *T)) []T {
	if v.Kind != jsonlite.Array {
		d.fail(v, path, typ)
		return nil
	}
	out := make([]T, len(v.Elems))
	for i, x := range v.Elems {
		elem(x, &out[i])
	}
	return out
}

func (d *decoder) request(v jsonlite.Value, r *Request) {
	d.object(v, "Request", "control.Request", field{"version", &r.Version, nil}, field{"command", &r.Command, nil})
}

func (d *decoder) response(v jsonlite.Value, r *Response) {
	d.object(v, "Response", "control.Response",
		field{"version", &r.Version, nil},
		field{"ok", &r.OK, nil},
		field{"error", &r.Error, nil},
		field{"errors", &r.Errors, nil},
		field{"status", nil, func(v jsonlite.Value, path string) {
			r.Status = new(Status)
			d.status(v, path, r.Status)
		}})
}

func (d *decoder) status(v jsonlite.Value, where string, s *Status) {
	d.object(v, where, "control.Status",
		field{"version", &s.Version, nil},
		field{"config", &s.Config, nil},
		field{"started", &s.Started, nil},
		field{"uptime_seconds", &s.UptimeSeconds, nil},
		field{"table", &s.Table, nil},
		field{"interfaces", nil, func(v jsonlite.Value, path string) {
			s.Interfaces = decodeList(d, v, path, "[]control.Interface", func(v jsonlite.Value, i *Interface) { d.iface(v, path, i) })
		}},
		field{"upstream", nil, func(v jsonlite.Value, path string) {
			s.Upstream = decodeList(d, v, path, "[]control.Subscription", func(v jsonlite.Value, x *Subscription) {
				d.object(v, path, "control.Subscription",
					field{"proxy", &x.Proxy, nil},
					field{"family", &x.Family, nil},
					field{"interface", &x.Interface, nil},
					field{"group", &x.Group, nil},
					field{"mode", &x.Mode, nil},
					field{"sources", &x.Sources, nil})
			})
		}},
		field{"routes", nil, func(v jsonlite.Value, path string) {
			s.Routes = decodeList(d, v, path, "[]control.Route", func(v jsonlite.Value, r *Route) {
				d.object(v, path, "control.Route",
					field{"proxy", &r.Proxy, nil},
					field{"family", &r.Family, nil},
					field{"source", &r.Source, nil},
					field{"group", &r.Group, nil},
					field{"input", &r.Input, nil},
					field{"outputs", &r.Outputs, nil},
					field{"packets", &r.Packets, nil},
					field{"bytes", &r.Bytes, nil},
					field{"wrong_if", &r.WrongIf, nil},
					field{"packets_per_second", &r.PacketsPerSecond, nil},
					field{"bits_per_second", &r.BitsPerSecond, nil})
			})
		}},
		field{"counters", nil, func(v jsonlite.Value, path string) {
			s.Counters = decodeList(d, v, path, "[]control.FamilyCounters", func(v jsonlite.Value, f *FamilyCounters) {
				d.object(v, path, "control.FamilyCounters",
					field{"proxy", &f.Proxy, nil},
					field{"family", &f.Family, nil},
					field{"received", &f.Received, nil},
					field{"queries_sent", &f.QueriesSent, nil},
					field{"dropped", &f.Dropped, nil},
					field{"upcalls", &f.Upcalls, nil},
					field{"routes_added", &f.RoutesAdded, nil},
					field{"routes_changed", &f.RoutesChanged, nil},
					field{"routes_removed", &f.RoutesRemoved, nil})
			})
		}},
		field{"proxies", nil, func(v jsonlite.Value, path string) {
			s.Proxies = decodeList(d, v, path, "[]control.Proxy", func(v jsonlite.Value, p *Proxy) {
				d.object(v, path, "control.Proxy",
					field{"name", &p.Name, nil},
					field{"table", &p.Table, nil},
					field{"upstream", &p.Upstream, nil},
					field{"memory_bytes", &p.MemoryBytes, nil},
					field{"memory_limit", &p.MemoryLimit, nil})
			})
		}})
}

func (d *decoder) iface(v jsonlite.Value, where string, i *Interface) {
	d.object(v, where, "control.Interface",
		field{"proxy", &i.Proxy, nil},
		field{"name", &i.Name, nil},
		field{"family", &i.Family, nil},
		field{"role", &i.Role, nil},
		field{"state", &i.State, nil},
		field{"ifindex", &i.Ifindex, nil},
		field{"vif", &i.VIF, nil},
		field{"addresses", &i.Addresses, nil},
		field{"querier", nil, func(v jsonlite.Value, path string) {
			q := new(Querier)
			d.object(v, path, "control.Querier",
				field{"address", &q.Address, nil},
				field{"self", &q.Self, nil},
				field{"version", &q.Version, nil})
			i.Querier = q
		}},
		field{"expiry_held", &i.ExpiryHeld, nil},
		field{"groups", nil, func(v jsonlite.Value, path string) {
			i.Groups = decodeList(d, v, path, "[]control.Group", func(v jsonlite.Value, g *Group) { d.group(v, path, g) })
		}},
		field{"counters", &i.Counters, nil})
}

func (d *decoder) group(v jsonlite.Value, where string, g *Group) {
	d.object(v, where, "control.Group",
		field{"group", &g.Group, nil},
		field{"mode", &g.Mode, nil},
		field{"sources", nil, func(v jsonlite.Value, path string) {
			g.Sources = decodeList(d, v, path, "[]control.Source", func(v jsonlite.Value, s *Source) {
				d.object(v, path, "control.Source", field{"address", &s.Address, nil}, field{"expires_in", &s.ExpiresIn, nil})
			})
		}},
		field{"excluded", &g.Excluded, nil},
		field{"expires_in", &g.ExpiresIn, nil},
		field{"compat", &g.Compat, nil},
		field{"hosts", nil, func(v jsonlite.Value, path string) {
			g.Hosts = decodeList(d, v, path, "[]control.Host", func(v jsonlite.Value, h *Host) {
				d.object(v, path, "control.Host",
					field{"address", &h.Address, nil},
					field{"mode", &h.Mode, nil},
					field{"sources", &h.Sources, nil},
					field{"sources_omitted", &h.SourcesOmitted, nil},
					field{"expires_in", &h.ExpiresIn, nil})
			})
		}},
		field{"untracked", &g.Untracked, nil})
}

// parseTime reads an RFC 3339 time, "2006-01-02T15:04:05.999999999Z07:00"
// with the fraction optional, into what time.Time's UnmarshalText makes of
// it: an offset of the local zone at that instant gives a time in
// time.Local, another a fixed zone without a name, "Z" UTC. It is
// stricter only where RFC 3339 is (no comma for the point). time.Parse
// would cost the binary 45 KB for the one time a status carries.
func parseTime(s string) (time.Time, error) {
	if len(s) < len("2006-01-02T15:04:05Z") || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, badTime(s)
	}
	year, y := digits(s[0:4], 0, 9999)
	month, mo := digits(s[5:7], 1, 12)
	day, d := digits(s[8:10], 1, 31)
	hour, h := digits(s[11:13], 0, 23)
	minute, mi := digits(s[14:16], 0, 59)
	sec, se := digits(s[17:19], 0, 59)
	rest := s[19:]
	nsec := 0
	if len(rest) > 1 && rest[0] == '.' {
		i := 1
		for ; i < len(rest) && rest[i] >= '0' && rest[i] <= '9'; i++ {
			if i <= 9 {
				nsec = nsec*10 + int(rest[i]-'0')
			}
		}
		if i == 1 {
			return time.Time{}, badTime(s)
		}
		for n := i; n <= 9; n++ {
			nsec *= 10
		}
		rest = rest[i:]
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if !(y && mo && d && h && mi && se) || t.Day() != day {
		return time.Time{}, badTime(s) // not a number, or the 30th of February
	}
	if rest == "Z" {
		return t, nil
	}
	if len(rest) != len("+07:00") || (rest[0] != '+' && rest[0] != '-') || rest[3] != ':' {
		return time.Time{}, badTime(s)
	}
	oh, h := digits(rest[1:3], 0, 23)
	om, mi := digits(rest[4:6], 0, 59)
	if !h || !mi {
		return time.Time{}, badTime(s)
	}
	offset := (oh*60 + om) * 60
	if rest[0] == '-' {
		offset = -offset
	}
	t = t.Add(-time.Duration(offset) * time.Second)
	if _, local := t.In(time.Local).Zone(); local == offset {
		return t.In(time.Local), nil
	}
	return t.In(time.FixedZone("", offset)), nil
}

// digits reads the decimal number s, which must lie in [lo, hi]. Out of
// line: inlined at its eight calls it cost 2 KB.
//
//go:noinline
func digits(s string, lo, hi int) (int, bool) {
	n := 0
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, n >= lo && n <= hi
}

func badTime(s string) error {
	return errors.New("parsing time " + strconv.Quote(s) + ": not an RFC 3339 time")
}
