package control

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// Dial errors read as package net's did: the rpcd plugin passes them to
// LuCI, and Listen tells a stale socket (refused) from a live one.
func TestDialErrors(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, path string)
		wantErr error
		wantMsg string
	}{
		{
			name:    "no socket",
			setup:   func(*testing.T, string) {},
			wantErr: os.ErrNotExist,
			wantMsg: "dial unix %s: connect: no such file or directory",
		},
		{
			name: "stale socket",
			setup: func(t *testing.T, path string) {
				ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
				if err != nil {
					t.Fatal(err)
				}
				ln.SetUnlinkOnClose(false)
				ln.Close()
			},
			wantErr: syscall.ECONNREFUSED,
			wantMsg: "dial unix %s: connect: connection refused",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.sock")
			tt.setup(t, path)
			conn, err := dial(path)
			if err == nil {
				conn.Close()
				t.Fatal("dial succeeded")
			}
			if want := fmt.Sprintf(tt.wantMsg, path); err.Error() != want || !errors.Is(err, tt.wantErr) {
				t.Fatalf("dial error = %v, want %q (%v)", err, want, tt.wantErr)
			}
		})
	}
}

// The descriptors of the listener and of both ends of a connection are
// non-blocking (so the runtime's poller waits, and deadlines work) and
// close-on-exec (so the ubus tool the daemon runs does not inherit them).
func TestSocketFlags(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.sock")
	ln, err := listenUnix(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := dial(path)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := acceptUnix(ln)
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	for name, f := range map[string]*os.File{"listener": ln, "client": client, "server": server} {
		rc, err := f.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var fl, fdfl int
		var ferr error
		rc.Control(func(fd uintptr) {
			if fl, ferr = unix.FcntlInt(fd, unix.F_GETFL, 0); ferr == nil {
				fdfl, ferr = unix.FcntlInt(fd, unix.F_GETFD, 0)
			}
		})
		if ferr != nil {
			t.Fatal(ferr)
		}
		if fl&unix.O_NONBLOCK == 0 || fdfl&unix.FD_CLOEXEC == 0 {
			t.Errorf("%s: O_NONBLOCK %v, FD_CLOEXEC %v; want both", name, fl&unix.O_NONBLOCK != 0, fdfl&unix.FD_CLOEXEC != 0)
		}
	}
}
