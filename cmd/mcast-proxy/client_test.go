package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/control"
)

// fakeDaemon serves the control socket in a temporary directory and answers
// every call with answer.
func fakeDaemon(t *testing.T, answer func(control.Request) control.Response) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c.sock")
	srv, err := control.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	calls := make(chan control.Call)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case c := <-calls:
				c.Reply <- answer(c.Req)
			case <-done:
				return
			}
		}
	}()
	srv.Serve(calls)
	t.Cleanup(func() {
		srv.Close()
		close(done)
	})
	return path
}

var fakeStatus = &control.Status{
	Version:       "1.2.3",
	Config:        "/etc/mcast-proxy.conf",
	Started:       time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC),
	UptimeSeconds: 61,
	Interfaces: []control.Interface{
		{Name: "eth0", Family: "ipv4", Role: "upstream", State: "active", Ifindex: 2, VIF: 0, Addresses: []string{"192.0.2.1"}},
	},
}

func TestRunClient(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		answer     func(control.Request) control.Response
		wantCode   int
		wantStdout string // substring
		wantStderr string // substring
	}{
		{
			name: "status text",
			args: []string{"status"},
			answer: func(r control.Request) control.Response {
				return control.Response{OK: true, Status: fakeStatus}
			},
			wantStdout: "mcast-proxy 1.2.3, up 1m1s since 2025-03-01 08:00:00 UTC\n",
		},
		{
			name: "status json",
			args: []string{"status", "-j"},
			answer: func(r control.Request) control.Response {
				return control.Response{OK: true, Status: fakeStatus}
			},
			wantStdout: "{\n  \"version\": \"1.2.3\",\n",
		},
		{
			name: "status refused",
			args: []string{"status"},
			answer: func(r control.Request) control.Response {
				return control.Response{Error: "daemon busy"}
			},
			wantCode:   2,
			wantStderr: "mcast-proxy: status: daemon busy\n",
		},
		{
			name: "reload ok",
			args: []string{"reload"},
			answer: func(r control.Request) control.Response {
				if r.Command != control.CommandReload || r.Version != control.ProtocolVersion {
					return control.Response{Error: "wrong request"}
				}
				return control.Response{OK: true}
			},
			wantStdout: "reloaded\n",
		},
		{
			name: "reload invalid config",
			args: []string{"reload"},
			answer: func(r control.Request) control.Response {
				return control.Response{
					Error:  "configuration not reloaded",
					Errors: []string{"/etc/mcast-proxy.conf:3:1: unknown option \"upstrem\"", "/etc/mcast-proxy.conf:7:9: bad address"},
				}
			},
			wantCode:   1,
			wantStderr: "/etc/mcast-proxy.conf:3:1: unknown option \"upstrem\"\n/etc/mcast-proxy.conf:7:9: bad address\n",
		},
		{
			name: "reload not carried out",
			args: []string{"reload"},
			answer: func(r control.Request) control.Response {
				return control.Response{Error: "daemon busy"}
			},
			wantCode:   2,
			wantStderr: "mcast-proxy: reload: daemon busy\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := fakeDaemon(t, tt.answer)
			var stdout, stderr bytes.Buffer
			code, handled := runClient(append(tt.args, "-s", path), &stdout, &stderr)
			if !handled || code != tt.wantCode {
				t.Errorf("runClient = %d, %v, want %d, true; stderr %q", code, handled, tt.wantCode, stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.wantStdout) {
				t.Errorf("stdout %q does not contain %q", stdout.String(), tt.wantStdout)
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("stderr %q does not contain %q", stderr.String(), tt.wantStderr)
			}
		})
	}
}

func TestRunClientStatusJSON(t *testing.T) {
	path := fakeDaemon(t, func(control.Request) control.Response {
		return control.Response{OK: true, Status: fakeStatus}
	})
	var stdout, stderr bytes.Buffer
	if code, _ := runClient([]string{"status", "-j", "-s", path}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
	var got control.Status
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("status -j is not JSON: %v\n%s", err, stdout.String())
	}
	if got.Version != "1.2.3" || len(got.Interfaces) != 1 || got.Interfaces[0].Addresses[0] != "192.0.2.1" || !got.Started.Equal(fakeStatus.Started) {
		t.Errorf("status -j decoded to %+v", got)
	}
}

func TestRunClientNoDaemon(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing.sock")
	for _, cmd := range []string{"status", "reload"} {
		t.Run(cmd, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code, handled := runClient([]string{cmd, "-s", path}, &stdout, &stderr)
			if !handled || code != 2 {
				t.Errorf("runClient = %d, %v, want 2, true", code, handled)
			}
			want := "mcast-proxy: cannot reach the daemon on " + path + "; is mcast-proxy running?"
			if !strings.HasPrefix(stderr.String(), want) || stdout.Len() != 0 {
				t.Errorf("stderr %q, want prefix %q; stdout %q", stderr.String(), want, stdout.String())
			}
		})
	}
}

// TestRunClientCutAnswer: an answer cut short is said to be that, not
// an absent daemon.
func TestRunClientCutAnswer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cut.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		bufio.NewReader(c).ReadString('\n')
		c.Write([]byte(`{"version":1,"ok":true,"status":{"inter`))
		c.Close()
	}()
	var stdout, stderr bytes.Buffer
	code, handled := runClient([]string{"status", "-s", path}, &stdout, &stderr)
	want := "mcast-proxy: no complete answer from the daemon on " + path + " ("
	if !handled || code != 2 || !strings.HasPrefix(stderr.String(), want) || stdout.Len() != 0 {
		t.Errorf("runClient = %d, %v; stderr %q, want prefix %q", code, handled, stderr.String(), want)
	}
}

func TestRunClientNotHandled(t *testing.T) {
	for _, args := range [][]string{nil, {}, {"-f", "x.conf"}, {"-n"}, {"statuss"}} {
		var stdout, stderr bytes.Buffer
		if _, handled := runClient(args, &stdout, &stderr); handled || stdout.Len()+stderr.Len() != 0 {
			t.Errorf("runClient(%q) handled = %v, output %q %q", args, handled, stdout.String(), stderr.String())
		}
	}
}

func TestRunClientUsage(t *testing.T) {
	tests := [][]string{
		{"status", "extra"},
		{"reload", "-j"},
		{"status", "-x"},
	}
	for _, args := range tests {
		var stdout, stderr bytes.Buffer
		code, handled := runClient(args, &stdout, &stderr)
		if !handled || code != 2 || !strings.Contains(stderr.String(), "usage: mcast-proxy "+args[0]) {
			t.Errorf("runClient(%q) = %d, %v, stderr %q", args, code, handled, stderr.String())
		}
	}
}
