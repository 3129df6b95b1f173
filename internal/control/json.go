package control

import (
	"errors"
	"strconv"
	"strings"

	"github.com/mcast-proxy/mcast-proxy/internal/jsonlite"
)

// The protocol's JSON is read by hand with jsonlite: encoding/json's
// decoder costs about 40 KB more on MIPS than this. Its encoder stays, as
// log/slog links it anyway. A field added to a protocol type must be added
// to its decoder here too; json_test.go compares every field with
// encoding/json and fails until it is.

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

// fields calls set for each member of an object v, with the field name it
// matches among names ("" when none).
func (d *decoder) fields(v jsonlite.Value, where, typ string, names []string, set func(name, path string, v jsonlite.Value)) {
	if v.Kind == jsonlite.Null {
		return
	}
	if v.Kind != jsonlite.Object {
		d.fail(v, where, typ)
		return
	}
	for _, m := range v.Members {
		for _, n := range names {
			if strings.EqualFold(m.Name, n) {
				if m.Value.Kind != jsonlite.Null {
					set(n, where+"."+n, m.Value)
				}
				break
			}
		}
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
	d.fields(v, "Request", "control.Request", []string{"version", "command"}, func(name, path string, v jsonlite.Value) {
		switch name {
		case "version":
			r.Version = d.int(v, path)
		case "command":
			r.Command = d.str(v, path)
		}
	})
}

func (d *decoder) response(v jsonlite.Value, r *Response) {
	d.fields(v, "Response", "control.Response", []string{"version", "ok", "error", "errors", "status"}, func(name, path string, v jsonlite.Value) {
		switch name {
		case "version":
			r.Version = d.int(v, path)
		case "ok":
			r.OK = d.bool(v, path)
		case "error":
			r.Error = d.str(v, path)
		case "errors":
			r.Errors = d.strs(v, path)
		case "status":
			r.Status = new(Status)
			d.status(v, path, r.Status)
		}
	})
}

func (d *decoder) status(v jsonlite.Value, where string, s *Status) {
	d.fields(v, where, "control.Status", []string{"version", "config", "started", "uptime_seconds", "table", "interfaces", "upstream", "routes", "counters"}, func(name, path string, v jsonlite.Value) {
		switch name {
		case "version":
			s.Version = d.str(v, path)
		case "config":
			s.Config = d.str(v, path)
		case "started":
			if err := s.Started.UnmarshalText([]byte(d.str(v, path))); err != nil && d.err == nil {
				d.err = err
			}
		case "uptime_seconds":
			s.UptimeSeconds = d.float(v, path)
		case "table":
			s.Table = uint32(d.uint(v, path, 32, "uint32"))
		case "interfaces":
			s.Interfaces = decodeList(d, v, path, "[]control.Interface", func(v jsonlite.Value, i *Interface) { d.iface(v, path, i) })
		case "upstream":
			s.Upstream = decodeList(d, v, path, "[]control.Subscription", func(v jsonlite.Value, x *Subscription) { d.subscription(v, path, x) })
		case "routes":
			s.Routes = decodeList(d, v, path, "[]control.Route", func(v jsonlite.Value, r *Route) { d.route(v, path, r) })
		case "counters":
			s.Counters = decodeList(d, v, path, "[]control.FamilyCounters", func(v jsonlite.Value, f *FamilyCounters) { d.familyCounters(v, path, f) })
		}
	})
}

func (d *decoder) iface(v jsonlite.Value, where string, i *Interface) {
	d.fields(v, where, "control.Interface", []string{"name", "family", "role", "state", "ifindex", "vif", "addresses", "querier", "groups", "counters"}, func(name, path string, v jsonlite.Value) {
		switch name {
		case "name":
			i.Name = d.str(v, path)
		case "family":
			i.Family = d.str(v, path)
		case "role":
			i.Role = d.str(v, path)
		case "state":
			i.State = d.str(v, path)
		case "ifindex":
			i.Ifindex = d.int(v, path)
		case "vif":
			i.VIF = d.int(v, path)
		case "addresses":
			i.Addresses = d.strs(v, path)
		case "querier":
			q := new(Querier)
			d.fields(v, path, "control.Querier", []string{"address", "self", "version"}, func(name, path string, v jsonlite.Value) {
				switch name {
				case "address":
					q.Address = d.str(v, path)
				case "self":
					q.Self = d.bool(v, path)
				case "version":
					q.Version = d.int(v, path)
				}
			})
			i.Querier = q
		case "groups":
			i.Groups = decodeList(d, v, path, "[]control.Group", func(v jsonlite.Value, g *Group) { d.group(v, path, g) })
		case "counters":
			i.Counters = d.counters(v, path)
		}
	})
}

func (d *decoder) group(v jsonlite.Value, where string, g *Group) {
	d.fields(v, where, "control.Group", []string{"group", "mode", "sources", "excluded", "expires_in", "compat", "hosts", "untracked"}, func(name, path string, v jsonlite.Value) {
		switch name {
		case "group":
			g.Group = d.str(v, path)
		case "mode":
			g.Mode = d.str(v, path)
		case "sources":
			g.Sources = decodeList(d, v, path, "[]control.Source", func(v jsonlite.Value, s *Source) {
				d.fields(v, path, "control.Source", []string{"address", "expires_in"}, func(name, path string, v jsonlite.Value) {
					switch name {
					case "address":
						s.Address = d.str(v, path)
					case "expires_in":
						s.ExpiresIn = d.float(v, path)
					}
				})
			})
		case "excluded":
			g.Excluded = d.strs(v, path)
		case "expires_in":
			g.ExpiresIn = d.float(v, path)
		case "compat":
			g.Compat = d.int(v, path)
		case "hosts":
			g.Hosts = decodeList(d, v, path, "[]control.Host", func(v jsonlite.Value, h *Host) { d.host(v, path, h) })
		case "untracked":
			g.Untracked = d.bool(v, path)
		}
	})
}

func (d *decoder) host(v jsonlite.Value, where string, h *Host) {
	d.fields(v, where, "control.Host", []string{"address", "mode", "sources", "sources_omitted", "expires_in"}, func(name, path string, v jsonlite.Value) {
		switch name {
		case "address":
			h.Address = d.str(v, path)
		case "mode":
			h.Mode = d.str(v, path)
		case "sources":
			h.Sources = d.strs(v, path)
		case "sources_omitted":
			h.SourcesOmitted = d.int(v, path)
		case "expires_in":
			h.ExpiresIn = d.float(v, path)
		}
	})
}

func (d *decoder) subscription(v jsonlite.Value, where string, s *Subscription) {
	d.fields(v, where, "control.Subscription", []string{"family", "interface", "group", "mode", "sources"}, func(name, path string, v jsonlite.Value) {
		switch name {
		case "family":
			s.Family = d.str(v, path)
		case "interface":
			s.Interface = d.str(v, path)
		case "group":
			s.Group = d.str(v, path)
		case "mode":
			s.Mode = d.str(v, path)
		case "sources":
			s.Sources = d.strs(v, path)
		}
	})
}

func (d *decoder) route(v jsonlite.Value, where string, r *Route) {
	d.fields(v, where, "control.Route", []string{"family", "source", "group", "input", "outputs", "packets", "bytes", "wrong_if", "packets_per_second", "bits_per_second"}, func(name, path string, v jsonlite.Value) {
		switch name {
		case "family":
			r.Family = d.str(v, path)
		case "source":
			r.Source = d.str(v, path)
		case "group":
			r.Group = d.str(v, path)
		case "input":
			r.Input = d.str(v, path)
		case "outputs":
			r.Outputs = d.strs(v, path)
		case "packets":
			r.Packets = d.uint(v, path, 64, "uint64")
		case "bytes":
			r.Bytes = d.uint(v, path, 64, "uint64")
		case "wrong_if":
			r.WrongIf = d.uint(v, path, 64, "uint64")
		case "packets_per_second":
			r.PacketsPerSecond = d.float(v, path)
		case "bits_per_second":
			r.BitsPerSecond = d.float(v, path)
		}
	})
}

func (d *decoder) familyCounters(v jsonlite.Value, where string, f *FamilyCounters) {
	d.fields(v, where, "control.FamilyCounters", []string{"family", "received", "queries_sent", "dropped", "upcalls", "routes_added", "routes_changed", "routes_removed"}, func(name, path string, v jsonlite.Value) {
		switch name {
		case "family":
			f.Family = d.str(v, path)
		case "received":
			f.Received = d.counters(v, path)
		case "queries_sent":
			f.QueriesSent = d.uint(v, path, 64, "uint64")
		case "dropped":
			f.Dropped = d.counters(v, path)
		case "upcalls":
			f.Upcalls = d.uint(v, path, 64, "uint64")
		case "routes_added":
			f.RoutesAdded = d.uint(v, path, 64, "uint64")
		case "routes_changed":
			f.RoutesChanged = d.uint(v, path, 64, "uint64")
		case "routes_removed":
			f.RoutesRemoved = d.uint(v, path, 64, "uint64")
		}
	})
}
