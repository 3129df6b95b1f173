package netifd

import (
	"encoding/json"
	"errors"
	"testing"
)

// parseStatusStd is ParseStatus as it was written with encoding/json, the
// reference the hand-written reader is held to.
func parseStatusStd(data []byte) (string, error) {
	var st struct {
		Up       bool   `json:"up"`
		L3Device string `json:"l3_device"`
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return "", err
	}
	if !st.Up || st.L3Device == "" {
		return "", ErrDown
	}
	return st.L3Device, nil
}

// FuzzParseStatus: whatever ubus prints, ParseStatus never panics and
// agrees with encoding/json on the device, on ErrDown and on rejecting.
func FuzzParseStatus(f *testing.F) {
	for _, s := range []string{
		pppoeUp, pppoeConnecting, bridgeUp, `{"up":true}`, `{"UP":true,"L3_Device":"eth0.7"}`,
		`{"up":true,"l3_device":"a","l3_device":"b"}`, `{"up":null,"l3_device":"x"}`, `{"up":"yes"}`,
		`[]`, `null`, `Command failed: Not found`, `{"up":true,"l3_device":"\u00e9"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ParseStatus(data)
		want, werr := parseStatusStd(data)
		if got != want || errors.Is(err, ErrDown) != errors.Is(werr, ErrDown) || (err == nil) != (werr == nil) {
			t.Fatalf("ParseStatus(%q) = %q, %v; encoding/json %q, %v", data, got, err, want, werr)
		}
	})
}
