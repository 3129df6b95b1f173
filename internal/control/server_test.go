package control

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseRequest(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		want    Request
		wantErr string
	}{
		{name: "status", raw: `{"version":1,"command":"status"}`, want: Request{Version: 1, Command: "status"}},
		{name: "reload", raw: ` {"command":"reload","version":1} `, want: Request{Version: 1, Command: "reload"}},
		{name: "unknown field ignored", raw: `{"version":1,"command":"status","verbose":true}`, want: Request{Version: 1, Command: "status"}},
		{name: "unknown command", raw: `{"version":1,"command":"restart"}`, wantErr: `unknown command "restart" (known: status, reload)`},
		{name: "missing command", raw: `{"version":1}`, wantErr: "missing command"},
		{name: "missing version", raw: `{"command":"status"}`, wantErr: "unsupported protocol version 0 (this daemon speaks 1)"},
		{name: "future version", raw: `{"version":2,"command":"status"}`, wantErr: "unsupported protocol version 2 (this daemon speaks 1)"},
		{name: "empty", raw: "  ", wantErr: "empty request"},
		{name: "garbage", raw: "status", wantErr: "bad request: not a JSON object"},
		{name: "array", raw: `[1]`, wantErr: "bad request: not a JSON object"},
		{name: "truncated", raw: `{"version":1,`, wantErr: "bad request: unexpected end of JSON input"},
		{name: "trailing data", raw: `{"version":1,"command":"status"} x`, wantErr: "bad request: invalid character 'x' after top-level value"},
		{name: "wrong type", raw: `{"version":"1","command":"status"}`, wantErr: "bad request: json: cannot unmarshal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseRequest([]byte(tt.raw))
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("parseRequest(%q) error = %v, want prefix %q", tt.raw, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parseRequest(%q) = %+v, %v, want %+v", tt.raw, got, err, tt.want)
			}
		})
	}
}

func TestReadRequest(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr string
	}{
		{name: "newline", in: "{}\nrest", want: "{}"},
		{name: "eof", in: "{}", want: "{}"},
		{name: "largest", in: strings.Repeat(" ", maxRequest) + "\n", want: strings.Repeat(" ", maxRequest)},
		{name: "oversized", in: strings.Repeat(" ", maxRequest+1), wantErr: "request larger than 4096 bytes"},
		{name: "oversized with newline", in: strings.Repeat(" ", maxRequest+1) + "\n", wantErr: "request larger than 4096 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// One byte per Read exercises the reassembly.
			got, err := readRequest(&oneByteReader{s: tt.in})
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Fatalf("got %q, %v, want %q", got, err, tt.want)
			}
		})
	}
}

type oneByteReader struct{ s string }

func (r *oneByteReader) Read(p []byte) (int, error) {
	if r.s == "" {
		return 0, io.EOF
	}
	n := copy(p[:1], r.s)
	r.s = r.s[n:]
	return n, nil
}

// serve starts a server in a temporary directory; loop, if not nil, runs as
// the daemon loop. The server is closed when the test ends.
func serve(t *testing.T, tune func(*Server), loop func(Call)) (string, *Server) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c.sock")
	s, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	if tune != nil {
		tune(s)
	}
	calls := make(chan Call)
	done := make(chan struct{})
	if loop != nil {
		go func() {
			for {
				select {
				case c := <-calls:
					loop(c)
				case <-done:
					return
				}
			}
		}()
	}
	s.Serve(calls)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
		close(done)
	})
	return path, s
}

// fakeLoop answers status with a small Status and reload with config errors.
func fakeLoop(c Call) {
	switch c.Req.Command {
	case CommandStatus:
		c.Reply <- Response{OK: true, Status: &Status{Version: "1.0", Config: "/etc/mcast-proxy.conf"}}
	case CommandReload:
		c.Reply <- Response{Error: "configuration not reloaded", Errors: []string{"a.conf:1:2: bad"}}
	}
}

func TestRoundTrip(t *testing.T) {
	path, _ := serve(t, nil, fakeLoop)

	resp, err := Do(path, Request{Version: ProtocolVersion, Command: CommandStatus})
	if err != nil {
		t.Fatal(err)
	}
	if !resp.OK || resp.Version != ProtocolVersion || resp.Status == nil || resp.Status.Version != "1.0" {
		t.Fatalf("status response = %+v", resp)
	}

	resp, err = Do(path, Request{Version: ProtocolVersion, Command: CommandReload})
	if err != nil {
		t.Fatal(err)
	}
	if resp.OK || resp.Version != ProtocolVersion || len(resp.Errors) != 1 || resp.Errors[0] != "a.conf:1:2: bad" {
		t.Fatalf("reload response = %+v", resp)
	}
}

// TestRawRequests speaks to the socket the way rpcd or a shell script
// would, including badly.
func TestRawRequests(t *testing.T) {
	path, _ := serve(t, nil, fakeLoop)
	tests := []struct {
		name      string
		send      string
		halfClose bool
		wantOK    bool
		wantErr   string
	}{
		{name: "newline", send: `{"version":1,"command":"status"}` + "\n", wantOK: true},
		{name: "half-close", send: `{"version":1,"command":"status"}`, halfClose: true, wantOK: true},
		{name: "unknown command", send: `{"version":1,"command":"flush"}` + "\n", wantErr: `unknown command "flush" (known: status, reload)`},
		{name: "bad version", send: `{"version":9,"command":"status"}` + "\n", wantErr: "unsupported protocol version 9 (this daemon speaks 1)"},
		{name: "garbage", send: "\x00\x01hello\n", wantErr: "bad request: not a JSON object"},
		{name: "oversized", send: `{"version":1,"command":"` + strings.Repeat("x", 5000) + `"}`, halfClose: true, wantErr: "request larger than 4096 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.WriteString(conn, tt.send); err != nil {
				t.Fatal(err)
			}
			if tt.halfClose {
				conn.(*net.UnixConn).CloseWrite()
			}
			raw, err := io.ReadAll(conn)
			if err != nil {
				t.Fatal(err)
			}
			var resp Response
			if err := json.Unmarshal(raw, &resp); err != nil {
				t.Fatalf("response %q: %v", raw, err)
			}
			if resp.OK != tt.wantOK || resp.Error != tt.wantErr || resp.Version != ProtocolVersion {
				t.Fatalf("response = %+v, want ok %v error %q", resp, tt.wantOK, tt.wantErr)
			}
		})
	}
}

func TestDaemonBusy(t *testing.T) {
	tests := []struct {
		name string
		loop func(Call)
	}{
		{name: "loop never takes the call"},
		{name: "loop never replies", loop: func(Call) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, _ := serve(t, func(s *Server) { s.loopTimeout = 100 * time.Millisecond }, tt.loop)
			start := time.Now()
			resp, err := Do(path, Request{Version: 1, Command: CommandStatus})
			if err != nil {
				t.Fatal(err)
			}
			if resp.OK || resp.Error != "daemon busy" {
				t.Fatalf("response = %+v, want daemon busy", resp)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("answered after %v", d)
			}
		})
	}
}

func TestSilentClientBlocksNobody(t *testing.T) {
	path, _ := serve(t, func(s *Server) { s.ioTimeout = time.Minute }, fakeLoop)
	// All handlers but one are held by clients that send nothing.
	for range maxHandlers - 1 {
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	start := time.Now()
	resp, err := Do(path, Request{Version: 1, Command: CommandStatus})
	if err != nil || !resp.OK {
		t.Fatalf("Do = %+v, %v", resp, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("answered after %v", d)
	}
}

// TestSilentClientsCannotHoldEverySlot: clients that connect and send
// nothing, more of them than there are handlers, must not keep a real
// client from its answer.
func TestSilentClientsCannotHoldEverySlot(t *testing.T) {
	path, _ := serve(t, func(s *Server) { s.ioTimeout = time.Minute }, fakeLoop)
	for range 2 * maxHandlers {
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	resp, err := Do(path, Request{Version: 1, Command: CommandStatus})
	if err != nil || !resp.OK {
		t.Fatalf("Do = %+v, %v", resp, err)
	}
}

func TestSilentClientTimesOut(t *testing.T) {
	path, _ := serve(t, func(s *Server) { s.ioTimeout = 100 * time.Millisecond }, fakeLoop)
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	raw, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	var resp Response
	if err := json.Unmarshal(raw, &resp); err != nil || resp.OK || resp.Error != "request timed out" {
		t.Fatalf("response %q, %v", raw, err)
	}
}

func TestListenInUse(t *testing.T) {
	path, _ := serve(t, nil, fakeLoop)
	s, err := Listen(path)
	if !errors.Is(err, ErrInUse) {
		if s != nil {
			s.Close()
		}
		t.Fatalf("second Listen error = %v, want ErrInUse", err)
	}
	// The running server is untouched.
	if resp, err := Do(path, Request{Version: 1, Command: CommandStatus}); err != nil || !resp.OK {
		t.Fatalf("Do after refused Listen = %+v, %v", resp, err)
	}
}

func TestListenReplacesStaleSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close() // as if the daemon had been killed
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("stale socket missing: %v", err)
	}

	s, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	calls := make(chan Call, 1)
	s.Serve(calls)
	go func() { fakeLoop(<-calls) }()
	resp, err := Do(path, Request{Version: 1, Command: CommandStatus})
	if err != nil || !resp.OK {
		t.Fatalf("Do = %+v, %v", resp, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestListenKeepsOtherFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.sock")
	if err := os.WriteFile(path, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := Listen(path); err == nil {
		s.Close()
		t.Fatal("Listen replaced a regular file")
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "keep" {
		t.Fatalf("file now %q, %v", b, err)
	}
}

func TestCloseRemovesSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.sock")
	s, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o660 {
		t.Fatalf("socket mode = %v, want socket 0660", fi.Mode())
	}
	s.Serve(make(chan Call))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket still there after Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := Do(path, Request{Version: 1, Command: CommandStatus}); err == nil {
		t.Fatal("Do succeeded after Close")
	}
}

func TestClosePendingCall(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.sock")
	s, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	taken := make(chan struct{})
	calls := make(chan Call)
	s.Serve(calls)
	go func() {
		<-calls // taken, never answered
		close(taken)
	}()
	got := make(chan Response, 1)
	go func() {
		resp, _ := Do(path, Request{Version: 1, Command: CommandReload})
		got <- resp
	}()
	<-taken
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if resp := <-got; resp.OK || resp.Error != "daemon shutting down" {
		t.Fatalf("response = %+v, want daemon shutting down", resp)
	}
}

func TestDoNoDaemon(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none.sock")
	_, err := Do(path, Request{Version: 1, Command: CommandStatus})
	var unreachable *UnreachableError
	if err == nil || !strings.HasPrefix(err.Error(), "control: ") || !errors.Is(err, os.ErrNotExist) || !errors.As(err, &unreachable) {
		t.Fatalf("Do error = %v", err)
	}
}

// TestSlowLargeResponse: a response that takes longer than ioTimeout to
// go out in all, each piece well within it, arrives whole: the deadline is
// per piece, for a client that stopped reading, not for the response.
func TestSlowLargeResponse(t *testing.T) {
	const timeout = 250 * time.Millisecond
	_, c := askBigStatus(t, timeout)
	start := time.Now()
	var raw []byte
	buf := make([]byte, 16<<10)
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		// A slow reader, but a reader: the writer, blocked on a full
		// socket buffer, is woken once a quarter of it is free again,
		// within about a hundred milliseconds here.
		time.Sleep(10 * time.Millisecond)
		n, err := c.Read(buf)
		raw = append(raw, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if took := time.Since(start); took < 2*timeout {
		t.Fatalf("read %d bytes in %v: not slow enough to test the deadline", len(raw), took)
	}
	resp, err := decodeResponse(bytes.TrimSpace(raw))
	if err != nil || len(resp.Status.Routes) != 3000 {
		t.Fatalf("%d bytes: %v", len(raw), err)
	}
}

// askBigStatus serves a status of 3000 groups with the given ioTimeout
// and sends a status request on a connection of its own.
func askBigStatus(t *testing.T, ioTimeout time.Duration) (path string, conn net.Conn) {
	t.Helper()
	big := bigStatus(3000)
	path, _ = serve(t, func(s *Server) { s.ioTimeout = ioTimeout }, func(c Call) {
		c.Reply <- Response{OK: true, Status: big}
	})
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Write([]byte(`{"version":1,"command":"status"}` + "\n")); err != nil {
		t.Fatal(err)
	}
	return path, c
}

// TestStalledClientCut: a client that stops reading a large response is
// cut off after ioTimeout, and the daemon answers others.
func TestStalledClientCut(t *testing.T) {
	path, c := askBigStatus(t, 200*time.Millisecond)
	time.Sleep(time.Second) // the server's write deadline passes
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	raw, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decodeResponse(bytes.TrimSpace(raw)); err == nil {
		t.Fatalf("a stalled client got the whole response (%d bytes)", len(raw))
	}
	if resp, err := Do(path, Request{Version: ProtocolVersion, Command: CommandStatus}); err != nil || len(resp.Status.Routes) != 3000 {
		t.Fatalf("the next client: %v", err)
	}
}

// TestDoCutResponse: a response cut short is Do's error, not an
// unreachable daemon.
func TestDoCutResponse(t *testing.T) {
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
		c.Write([]byte(`{"version":1,"ok":true,"status":{"ver`))
		c.Close()
	}()
	_, err = Do(path, Request{Version: ProtocolVersion, Command: CommandStatus})
	var unreachable *UnreachableError
	if err == nil || errors.As(err, &unreachable) || !strings.Contains(err.Error(), "read response") {
		t.Fatalf("Do error = %v", err)
	}
}

// The socket's directory is created when missing (as root); an existing
// one is used as it is.
func TestListenCreatesDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	path := filepath.Join(dir, "c.sock")
	s, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() || fi.Mode().Perm()&0o005 != 0o005 {
		t.Fatalf("directory %s: %v, %v; want a directory others may search", dir, fi, err)
	}
	s2, err := Listen(filepath.Join(dir, "other.sock"))
	if err != nil {
		t.Fatalf("Listen in the existing directory: %v", err)
	}
	s2.Close()
}
