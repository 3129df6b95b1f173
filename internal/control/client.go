package control

import (
	"bytes"
	"io"
	"os"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/format"
)

const (
	// clientTimeout covers the server's worst case until the response
	// starts: reading the request, handing it to the loop and waiting for
	// the reply. Then each piece of the response may take the server's
	// ioTimeout, and all of it its writeLimit.
	clientTimeout = ioTimeout + 2*loopTimeout + time.Second
	// maxResponse bounds a response; a status with thousands of groups
	// and hosts stays well below it.
	maxResponse = 16 << 20
)

// UnreachableError is Do's error when nothing accepts the connection: no
// daemon is listening at the path.
type UnreachableError struct{ Err error }

func (e *UnreachableError) Error() string { return "control: " + e.Err.Error() }
func (e *UnreachableError) Unwrap() error { return e.Err }

// Do sends one request to the daemon listening at path and returns its
// response. An error means the daemon could not be reached
// (*UnreachableError) or did not answer in full; a Response with OK false
// is the daemon's (or server's) refusal.
func Do(path string, req Request) (Response, error) {
	conn, err := dial(path)
	if err != nil {
		return Response{}, &UnreachableError{err}
	}
	defer conn.Close()
	start := time.Now()
	if err := conn.SetDeadline(start.Add(clientTimeout)); err != nil {
		return Response{}, format.Errorf("control: %w", err)
	}
	b, err := encodeRequest(req)
	if err != nil {
		return Response{}, format.Errorf("control: encode request: %w", err)
	}
	if _, err := conn.Write(append(b, '\n')); err != nil {
		return Response{}, format.Errorf("control: send request: %w", err)
	}
	// The server writes one response and a newline, then closes its side.
	b, err = io.ReadAll(io.LimitReader(&pieceReader{conn, start.Add(clientTimeout + writeLimit)}, maxResponse))
	if err != nil {
		return Response{}, format.Errorf("control: read response: %w", err)
	}
	resp, err := decodeResponse(bytes.TrimSpace(b))
	if err != nil {
		return Response{}, format.Errorf("control: read response: %w", err)
	}
	return resp, nil
}

// pieceReader reads a response that goes out as it is encoded: once it has
// started, each read waits up to the server's ioTimeout (and a second),
// and all of them up to end.
type pieceReader struct {
	conn *os.File
	end  time.Time
}

func (r *pieceReader) Read(b []byte) (int, error) {
	n, err := r.conn.Read(b)
	if n > 0 {
		r.conn.SetReadDeadline(earlier(time.Now().Add(ioTimeout+time.Second), r.end))
	}
	return n, err
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
