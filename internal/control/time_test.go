package control

import (
	"math/rand/v2"
	"reflect"
	"regexp"
	"testing"
	"time"
	_ "time/tzdata" // a zone with summer time for the local-zone cases
)

// rfc3339 is the form RFC 3339 gives a time (section 5.6), in upper case.
var rfc3339 = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$`)

// sameTime compares parseTime with time.Time's UnmarshalText, which
// encoding/json uses: what parseTime accepts, UnmarshalText reads to the
// same value, and what UnmarshalText accepts in RFC 3339's form parseTime
// accepts too (time.Parse, which UnmarshalText falls back to, also takes
// a comma before the fraction and offsets such as +24:00 or +01:60).
func sameTime(t *testing.T, s string) {
	t.Helper()
	got, err := parseTime(s)
	var want time.Time
	werr := want.UnmarshalText([]byte(s))
	switch {
	case err == nil && werr != nil:
		t.Fatalf("parseTime(%q) = %v, UnmarshalText: %v", s, got, werr)
	case err == nil && !reflect.DeepEqual(got, want):
		t.Fatalf("parseTime(%q) = %#v (%v)\nUnmarshalText  %#v (%v)", s, got, got, want, want)
	case err != nil && werr == nil && rfc3339.MatchString(s):
		t.Fatalf("parseTime(%q): %v; UnmarshalText read %v", s, err, want)
	}
}

func TestParseTime(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	local := time.Local
	time.Local = berlin
	defer func() { time.Local = local }()

	for _, s := range []string{
		"2026-12-07T05:00:31Z", "2026-12-07T05:00:31.123456789Z", "2026-12-07T05:00:31.1Z",
		"2026-12-07T05:00:31.1234567891234Z", "2026-12-07T06:00:31+01:00", "2026-07-07T07:00:31+02:00",
		"2026-07-07T06:00:31+01:00", "2026-12-07T10:30:31+05:30", "2026-12-07T02:00:31-03:00",
		"0000-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999-23:59", "2024-02-29T12:00:00Z",
		"2023-02-29T12:00:00Z", "2026-04-31T12:00:00Z", "2026-12-07T24:00:00Z", "2026-12-07T23:60:00Z",
		"2026-12-07T23:59:60Z", "2026-12-07T05:00:31+24:00", "2026-12-07T05:00:31+01:60",
		"2026-12-07T05:00:31.Z", "2026-12-07T05:00:31,5Z", "2026-12-07t05:00:31z", "2026-12-07T05:00:31",
		"2026-12-07T5:00:31Z", "2026-1-07T05:00:31Z", "2026-12-07T05:00:31+0100", "2026-12-07 05:00:31Z",
		"+026-12-07T05:00:31Z", "2026-12-07T05:00:31Z ", "", "yesterday", "2026-12-07T05:00:31.5.5Z",
	} {
		sameTime(t, s)
	}
	r := rand.New(rand.NewPCG(5, 6))
	zones := []*time.Location{time.UTC, berlin, time.FixedZone("", 19800), time.FixedZone("X", -10800), time.FixedZone("", 0)}
	for range 5000 {
		at := time.Unix(r.Int64N(1<<36)-1<<35, r.Int64N(1e9)).In(zones[r.IntN(len(zones))])
		sameTime(t, at.Format(time.RFC3339Nano))
		sameTime(t, at.Format(time.RFC3339))
	}
}

// FuzzParseTime: parseTime never panics and agrees with UnmarshalText.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2026-12-07T05:00:31.123Z", "2026-12-07T06:00:31+01:00", "2024-02-29T12:00:00-23:59", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { sameTime(t, s) })
}
