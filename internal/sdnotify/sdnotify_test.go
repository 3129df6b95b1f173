package sdnotify

import (
	"strings"
	"testing"
	"time"
)

func TestSocketName(t *testing.T) {
	tests := []struct {
		addr    string
		want    string
		wantErr bool
	}{
		{addr: "/run/systemd/notify", want: "/run/systemd/notify"},
		{addr: "@/org/freedesktop/systemd1/notify/1", want: "\x00/org/freedesktop/systemd1/notify/1"},
		{addr: "@x", want: "\x00x"},
		{addr: "@", wantErr: true},
		{addr: "run/notify", wantErr: true},
		{addr: "vsock:2:1234", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			got, err := socketName(tt.addr)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "NOTIFY_SOCKET=") {
					t.Fatalf("socketName(%q) = %q, %v; want an error naming NOTIFY_SOCKET", tt.addr, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("socketName(%q) = %q, %v; want %q", tt.addr, got, err, tt.want)
			}
		})
	}
}

func TestWatchdogInterval(t *testing.T) {
	const self = 4242
	tests := []struct {
		name    string
		usec    string
		pid     string
		want    time.Duration
		wantErr string
	}{
		{name: "no watchdog", usec: "", pid: "", want: 0},
		{name: "no watchdog, pid set", usec: "", pid: "4242", want: 0},
		{name: "no pid", usec: "3000000", want: 3 * time.Second},
		{name: "our pid", usec: "3000000", pid: "4242", want: 3 * time.Second},
		{name: "another process", usec: "3000000", pid: "4243", want: 0},
		// Beyond 2^31 µs (35 min), which a 32-bit int cannot hold.
		{name: "over 32 bits", usec: "4000000000", want: 4000 * time.Second},
		{name: "largest", usec: "9223372036854775", want: 9223372036854775 * time.Microsecond},
		{name: "not a number", usec: "soon", wantErr: `sdnotify: WATCHDOG_USEC="soon": not a number of microseconds`},
		{name: "negative", usec: "-1", wantErr: `sdnotify: WATCHDOG_USEC="-1": not a number of microseconds`},
		{name: "zero", usec: "0", wantErr: `sdnotify: WATCHDOG_USEC="0": out of range (1 to 9223372036854775)`},
		{name: "too large", usec: "9223372036854776", wantErr: `sdnotify: WATCHDOG_USEC="9223372036854776": out of range (1 to 9223372036854775)`},
		{name: "infinity", usec: "18446744073709551615", wantErr: `sdnotify: WATCHDOG_USEC="18446744073709551615": out of range (1 to 9223372036854775)`},
		{name: "bad pid", usec: "3000000", pid: "init", wantErr: `sdnotify: WATCHDOG_PID="init": not a process ID`},
		{name: "pid zero", usec: "3000000", pid: "0", wantErr: `sdnotify: WATCHDOG_PID="0": not a process ID`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := watchdogInterval(tt.usec, tt.pid, self)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr || got != 0 {
					t.Fatalf("watchdogInterval(%q, %q) = %v, %v; want error %q", tt.usec, tt.pid, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("watchdogInterval(%q, %q) = %v, %v; want %v", tt.usec, tt.pid, got, err, tt.want)
			}
		})
	}
}
