package linkwatch

import (
	"errors"
	"net"
	"os"
)

// readLoop calls read until the socket is closed, calling hint after every
// notification and after every error: ENOBUFS means notifications were lost,
// and whatever else went wrong, a fresh snapshot is the way to find out what
// changed. It ends when read reports the socket closed.
func readLoop(read func() error, hint func()) {
	for {
		err := read()
		if errors.Is(err, os.ErrClosed) || errors.Is(err, net.ErrClosed) {
			return
		}
		hint()
	}
}
