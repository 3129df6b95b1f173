package control

import (
	"encoding/json"
	"testing"
)

// FuzzParseRequest: whatever a local client sends, parsing never panics,
// and an accepted request is one of the known commands at our version and
// survives a JSON round trip unchanged.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		`{"version":1,"command":"status"}`,
		`{"version":1,"command":"reload"}` + "\n",
		`{"version":2,"command":"status"}`,
		`{"version":1,"command":"status","extra":[1,2,{"x":null}]}`,
		`{"version":1}`,
		`[]`, ``, `{`, "\x00\xff", `{"version":1e400,"command":"status"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		req, err := parseRequest(raw)
		if err != nil {
			return
		}
		if req.Version != ProtocolVersion || (req.Command != CommandStatus && req.Command != CommandReload) {
			t.Fatalf("accepted %+v from %q", req, raw)
		}
		b, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		again, err := parseRequest(b)
		if err != nil || again != req {
			t.Fatalf("round trip: %+v, %v; want %+v", again, err, req)
		}
	})
}
