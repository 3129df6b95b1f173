package linkwatch

import (
	"errors"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"
)

func TestDiff(t *testing.T) {
	pfx := func(ss ...string) []netip.Prefix {
		var ps []netip.Prefix
		for _, s := range ss {
			ps = append(ps, netip.MustParsePrefix(s))
		}
		return ps
	}
	lan := Link{Index: 3, Name: "lan", Up: true, Flags: 0x11043, Addrs: pfx("192.168.1.1/24", "fe80::1/64")}
	wan := Link{Index: 4, Name: "pppoe-wan", Up: true, Flags: 0x10d1, Addrs: pfx("203.0.113.7/32")}
	guest := Link{Index: 5, Name: "guest", Flags: 0x1002}
	with := func(l Link, f func(*Link)) Link {
		l.Addrs = append([]netip.Prefix(nil), l.Addrs...)
		f(&l)
		return l
	}
	wanNew := with(wan, func(l *Link) { l.Index = 9; l.Addrs = pfx("203.0.113.8/32") })
	lanDown := with(lan, func(l *Link) { l.Up = false; l.Flags &^= 0x40 })
	lanAddr := with(lan, func(l *Link) { l.Addrs = pfx("192.168.1.1/24", "192.168.2.1/24", "fe80::1/64") })

	tests := []struct {
		name     string
		old, new Snapshot
		want     Change
	}{
		{name: "both empty", old: nil, new: Snapshot{}},
		{name: "same", old: Snapshot{"lan": lan, "guest": guest}, new: Snapshot{"lan": lan, "guest": guest}},
		{
			name: "first snapshot",
			old:  nil,
			new:  Snapshot{"pppoe-wan": wan, "lan": lan, "guest": guest},
			want: Change{Added: []Link{guest, lan, wan}},
		},
		{
			name: "all gone",
			old:  Snapshot{"pppoe-wan": wan, "lan": lan},
			new:  Snapshot{},
			want: Change{Removed: []Link{lan, wan}},
		},
		{
			name: "recreated with a new index",
			old:  Snapshot{"pppoe-wan": wan, "lan": lan},
			new:  Snapshot{"pppoe-wan": wanNew, "lan": lan},
			want: Change{Changed: []LinkChange{{Old: wan, New: wanNew}}},
		},
		{
			name: "carrier lost and address added, sorted by name",
			old:  Snapshot{"lan": lan, "guest": guest, "pppoe-wan": wan},
			new:  Snapshot{"lan": lanAddr, "guest": with(guest, func(l *Link) { l.Flags |= 1 }), "pppoe-wan": wan},
			want: Change{Changed: []LinkChange{
				{Old: guest, New: with(guest, func(l *Link) { l.Flags |= 1 })},
				{Old: lan, New: lanAddr},
			}},
		},
		{
			name: "added, removed and changed at once",
			old:  Snapshot{"lan": lan, "pppoe-wan": wan},
			new:  Snapshot{"lan": lanDown, "guest": guest},
			want: Change{Added: []Link{guest}, Removed: []Link{wan}, Changed: []LinkChange{{Old: lan, New: lanDown}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Diff(tt.old, tt.new)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Diff = %+v\nwant   %+v", got, tt.want)
			}
			if got.Empty() != reflect.DeepEqual(tt.want, Change{}) {
				t.Errorf("Empty() = %v", got.Empty())
			}
			if back := Diff(tt.new, tt.old); len(back.Added) != len(got.Removed) || len(back.Removed) != len(got.Added) {
				t.Errorf("reverse Diff %+v does not mirror %+v", back, got)
			}
		})
	}
}

func TestFlushAt(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	settle := 50 * time.Millisecond
	tests := []struct {
		name        string
		first, last time.Time
		want        time.Time
	}{
		{"single notification", ms(0), ms(0), ms(50)},
		{"short burst waits for quiet", ms(0), ms(30), ms(80)},
		{"long burst is cut at five settle periods", ms(0), ms(220), ms(250)},
		{"exactly at the limit", ms(0), ms(200), ms(250)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := flushAt(tt.first, tt.last, settle); !got.Equal(tt.want) {
				t.Errorf("flushAt = %v, want %v", got.Sub(t0), tt.want.Sub(t0))
			}
		})
	}
}

func TestReadLoop(t *testing.T) {
	done := make(chan struct{})
	// Two notifications, a lost one, another notification, then Close.
	script := []error{nil, nil, errors.New("no buffer space available"), nil, errors.New("use of closed file")}
	var hints int
	readLoop(func() error {
		err := script[0]
		script = script[1:]
		if len(script) == 0 {
			close(done)
		}
		return err
	}, func() { hints++ }, done, func(d time.Duration) bool {
		t.Errorf("waited %v after a single error", d)
		return true
	})
	if hints != 4 {
		t.Errorf("%d hints, want 4 (three notifications and the lost one)", hints)
	}
}

// TestReadLoopBacksOff: a read error that persists must not spin: from the
// second error of a run on, the loop waits, longer each time up to a
// second; a good read starts over.
func TestReadLoopBacksOff(t *testing.T) {
	done := make(chan struct{})
	bad := errors.New("persistent")
	script := []error{bad, bad, bad, bad, bad, bad, bad, bad, bad, nil, bad, bad, bad}
	var waits []time.Duration
	readLoop(func() error {
		err := script[0]
		script = script[1:]
		if len(script) == 0 {
			close(done)
		}
		return err
	}, func() {}, done, func(d time.Duration) bool {
		waits = append(waits, d)
		return true
	})
	ms := time.Millisecond
	want := []time.Duration{10 * ms, 20 * ms, 40 * ms, 80 * ms, 160 * ms, 320 * ms, 640 * ms, time.Second, 10 * ms}
	if !slices.Equal(waits, want) {
		t.Errorf("waits %v, want %v", waits, want)
	}
}
