package main

import (
	"errors"
	"io"
	"strconv"

	"github.com/mcast-proxy/mcast-proxy/internal/control"
	"github.com/mcast-proxy/mcast-proxy/internal/format"
)

// runClient runs the "status" and "reload" subcommands, which talk to a
// running daemon over its control socket. handled is false for any other
// arguments. Exit codes: 0 done; 1 the new configuration was rejected
// (reload); 2 the daemon could not be reached or did not answer, or bad
// usage.
func runClient(args []string, stdout, stderr io.Writer) (code int, handled bool) {
	if len(args) == 0 {
		return 0, false
	}
	cmd := args[0]
	if cmd != control.CommandStatus && cmd != control.CommandReload {
		return 0, false
	}
	socket := control.DefaultSocket
	asJSON := false
	options := []option{{letter: 's', arg: "socket", usage: "control socket of the daemon", set: func(v string) { socket = v }, def: socket}}
	synopsis := "usage: mcast-proxy reload [-s socket]\n"
	if cmd == control.CommandStatus {
		options = append(options, option{letter: 'j', usage: "print the status as JSON", set: func(string) { asJSON = true }})
		synopsis = "usage: mcast-proxy status [-j] [-s socket]\n"
	}
	usage := func() {
		io.WriteString(stderr, synopsis)
		printOptions(stderr, options)
	}
	rest, err := parseOptions(options, args[1:], stderr, usage)
	if errors.Is(err, errHelp) {
		return 0, true
	}
	if err != nil {
		return exitRuntime, true
	}
	if len(rest) > 0 {
		io.WriteString(stderr, "mcast-proxy: unexpected argument "+strconv.Quote(rest[0])+"\n")
		usage()
		return exitRuntime, true
	}

	resp, err := control.Do(socket, control.Request{Version: control.ProtocolVersion, Command: cmd})
	var unreachable *control.UnreachableError
	switch {
	case errors.As(err, &unreachable):
		format.Fprintf(stderr, "mcast-proxy: cannot reach the daemon on %s; is mcast-proxy running? (%v)\n", socket, err)
		return exitRuntime, true
	case err != nil:
		format.Fprintf(stderr, "mcast-proxy: no complete answer from the daemon on %s (%v)\n", socket, err)
		return exitRuntime, true
	}
	if cmd == control.CommandStatus {
		return printStatus(resp, asJSON, stdout, stderr), true
	}
	return printReload(resp, stdout, stderr), true
}

func printStatus(resp control.Response, asJSON bool, stdout, stderr io.Writer) int {
	if !resp.OK || resp.Status == nil {
		format.Fprintln(stderr, "mcast-proxy: status:", reason(resp))
		return exitRuntime
	}
	if asJSON {
		b, err := control.MarshalStatus(resp.Status, "  ")
		if err != nil {
			format.Fprintln(stderr, "mcast-proxy: status:", err)
			return exitRuntime
		}
		b = append(b, '\n')
		if _, err := stdout.Write(b); err != nil {
			format.Fprintln(stderr, "mcast-proxy: status:", err)
			return exitRuntime
		}
		return 0
	}
	if err := control.WriteText(stdout, resp.Status); err != nil {
		format.Fprintln(stderr, "mcast-proxy:", err)
		return exitRuntime
	}
	return 0
}

// printReload reports a reload. A rejected configuration always comes with
// its problems in Errors; a refusal without them means the request was not
// carried out (daemon busy or shutting down).
func printReload(resp control.Response, stdout, stderr io.Writer) int {
	if resp.OK {
		format.Fprintln(stdout, "reloaded")
		return 0
	}
	if len(resp.Errors) == 0 {
		format.Fprintln(stderr, "mcast-proxy: reload:", reason(resp))
		return exitRuntime
	}
	for _, e := range resp.Errors {
		format.Fprintln(stderr, e)
	}
	if resp.Error != "" {
		format.Fprintln(stderr, "mcast-proxy: reload:", resp.Error)
	}
	return exitConfig
}

func reason(resp control.Response) string {
	if resp.Error != "" {
		return resp.Error
	}
	return "the daemon sent no status"
}
