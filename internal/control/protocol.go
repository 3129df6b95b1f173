// Package control is the daemon's control protocol: one JSON request and one
// JSON response per connection on a unix socket. The CLI ("mcast-proxy
// status", "mcast-proxy reload"), the OpenWrt rpcd plugin and LuCI use it.
// docs/status.md describes the protocol and the status schema.
package control

import "errors"

// ProtocolVersion is the version of the request/response protocol. Within a
// version fields are only added, never renamed, retyped or removed.
const ProtocolVersion = 1

// DefaultSocket is where the daemon listens unless told otherwise. It sits
// in a directory of its own so that a daemon running without root can own
// it: systemd's RuntimeDirectory=mcast-proxy, or a directory the init script
// creates for the daemon's user.
const DefaultSocket = "/var/run/mcast-proxy/mcast-proxy.sock"

// Commands.
const (
	// CommandStatus asks for a Status.
	CommandStatus = "status"
	// CommandReload asks the daemon to reread and apply its configuration.
	CommandReload = "reload"
)

// ErrInUse is returned by Listen when a daemon already answers on the socket.
var ErrInUse = errors.New("control: socket in use by a running daemon")

// Request is what a client sends.
type Request struct {
	Version int    `json:"version"`
	Command string `json:"command"`
}

// Response is what the server answers. Error is a summary when OK is false;
// Errors lists each configuration problem of a failed reload as
// "file:line:col: message".
type Response struct {
	Version int      `json:"version"`
	OK      bool     `json:"ok"`
	Error   string   `json:"error,omitempty"`
	Errors  []string `json:"errors,omitempty"`
	Status  *Status  `json:"status,omitempty"`
}

// Call is one validated request handed to the daemon loop. The loop answers by
// sending exactly one Response on Reply, which is buffered (capacity 1) so the
// send never blocks even if the client has gone. The server sets
// Response.Version.
//
// A Call with Fill set carries no request: the loop runs Fill, which fills
// a page of a status it answered before (StatusPages), and then sends any
// Response to say it has.
type Call struct {
	Req   Request
	Fill  func()
	Reply chan Response
}
