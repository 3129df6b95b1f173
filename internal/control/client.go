package control

import (
	"bytes"
	"fmt"
	"io"
	"time"
)

const (
	// clientTimeout covers the server's worst case: reading the request,
	// handing it to the loop and waiting for the reply.
	clientTimeout = ioTimeout + 2*loopTimeout + time.Second
	// maxResponse bounds a response; a status with thousands of groups
	// and hosts stays well below it.
	maxResponse = 16 << 20
)

// Do sends one request to the daemon listening at path and returns its
// response. An error means the daemon could not be reached or did not
// answer; a Response with OK false is the daemon's (or server's) refusal.
func Do(path string, req Request) (Response, error) {
	conn, err := dial(path)
	if err != nil {
		return Response{}, fmt.Errorf("control: %w", err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(clientTimeout)); err != nil {
		return Response{}, fmt.Errorf("control: %w", err)
	}
	b, err := encodeRequest(req)
	if err != nil {
		return Response{}, fmt.Errorf("control: encode request: %w", err)
	}
	if _, err := conn.Write(append(b, '\n')); err != nil {
		return Response{}, fmt.Errorf("control: send request: %w", err)
	}
	// The server writes one response and a newline, then closes its side.
	b, err = io.ReadAll(io.LimitReader(conn, maxResponse))
	if err != nil {
		return Response{}, fmt.Errorf("control: read response: %w", err)
	}
	resp, err := decodeResponse(bytes.TrimSpace(b))
	if err != nil {
		return Response{}, fmt.Errorf("control: read response: %w", err)
	}
	return resp, nil
}
