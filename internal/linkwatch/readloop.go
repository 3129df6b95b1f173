package linkwatch

// readLoop calls read until done is closed, calling hint after every
// notification and after every error: ENOBUFS means notifications were lost,
// and whatever else went wrong, a fresh snapshot is the way to find out what
// changed. Close closes done before the socket, so the error that a closed
// socket returns ends the loop.
func readLoop(read func() error, hint func(), done <-chan struct{}) {
	for {
		err := read()
		if err != nil {
			select {
			case <-done:
				return
			default:
			}
		}
		hint()
	}
}
