package control

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/mcast-proxy/mcast-proxy/internal/format"
)

const (
	// maxRequest bounds a request; a valid one is a few dozen bytes.
	maxRequest = 4 << 10
	// ioTimeout bounds reading a request and writing each piece of a
	// response, so a stuck client only ever holds its own handler.
	ioTimeout = 2 * time.Second
	// writeLimit bounds writing a whole response. A response goes out as
	// it is encoded; on a slow CPU a status of thousands of groups takes
	// longer than ioTimeout to encode and send (the emulated MIPS test VM
	// cut one short at 2 s), which is not the client's fault.
	writeLimit = 20 * time.Second
	// loopTimeout bounds both handing a call to the daemon loop and waiting
	// for its reply.
	loopTimeout = 2 * time.Second
	// maxHandlers bounds concurrent connections. When all are busy, a new
	// connection evicts the one that has waited longest for its request:
	// a client that connects and sends nothing cannot hold every handler
	// (a real client sends its request at once). When every handler
	// already has its request, new connections wait in the kernel's
	// backlog until one finishes (at most ioTimeout+2*loopTimeout before
	// the response, writeLimit to write it).
	maxHandlers = 8
	// maxDrain and drainTimeout bound reading past the request.
	maxDrain     = 64 << 10
	drainTimeout = 200 * time.Millisecond
	// socketMode lets root and the socket's group talk to the daemon.
	socketMode = 0o660
)

// Server answers control requests on a unix socket. It never touches daemon
// state: each valid request becomes a Call for the daemon loop.
type Server struct {
	path string
	ln   *os.File // listening socket (socket_linux.go)

	// Timeouts, shortened by tests.
	ioTimeout   time.Duration
	loopTimeout time.Duration

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc

	// readingMu guards reading: the connections whose handler is still
	// reading the request, with when they were accepted. The accept loop
	// evicts from it, the handlers remove themselves.
	readingMu sync.Mutex
	reading   map[*os.File]time.Time

	handlers sync.WaitGroup // accept loop and connection handlers
	close    sync.Once
	closeErr error
}

// Listen creates the control socket at path with mode 0660. A leftover socket
// file that nobody answers on is replaced; if a daemon answers there, Listen
// returns an error wrapping ErrInUse. A path that exists but is not a socket
// is never removed.
func Listen(path string) (*Server, error) {
	if err := makeDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	if err := removeStale(path); err != nil {
		return nil, err
	}
	ln, err := listenUnix(path)
	if err != nil {
		return nil, format.Errorf("control: listen on %s: %w", path, err)
	}
	// With the usual umask (022) nobody but root can connect before this.
	if err := os.Chmod(path, socketMode); err != nil {
		ln.Close()
		os.Remove(path)
		return nil, format.Errorf("control: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		path:        path,
		ln:          ln,
		ioTimeout:   ioTimeout,
		loopTimeout: loopTimeout,
		ctx:         ctx,
		cancel:      cancel,
		reading:     map[*os.File]time.Time{},
	}, nil
}

// makeDir creates the socket's directory if it is missing, readable by all
// so that the socket's own mode decides who may connect. Without root that
// is usually refused: the service manager creates the directory for the
// daemon's user instead.
func makeDir(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		if errors.Is(err, fs.ErrPermission) {
			return format.Errorf("control: %w; without root, create the directory for the daemon's user first (systemd: RuntimeDirectory=)", err)
		}
		return format.Errorf("control: %w", err)
	}
	return nil
}

// removeStale removes a socket file at path that no process answers on.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return format.Errorf("control: %w", err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return format.Errorf("control: %s exists and is not a socket", path)
	}
	conn, err := dial(path)
	if err == nil {
		conn.Close()
		return format.Errorf("control: %s: %w", path, ErrInUse)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return format.Errorf("control: probe %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return format.Errorf("control: remove stale socket: %w", err)
	}
	return nil
}

// Serve starts accepting connections in the background and returns at once.
// Each valid request is sent on calls; the daemon loop must answer every Call
// it receives. A loop that does not take a call, or does not reply, within
// two seconds makes the client get "daemon busy" instead. Call Serve once.
func (s *Server) Serve(calls chan<- Call) {
	s.handlers.Add(1)
	go s.accept(calls)
}

func (s *Server) accept(calls chan<- Call) {
	defer s.handlers.Done()
	slots := make(chan struct{}, maxHandlers)
	for {
		conn, err := acceptUnix(s.ln)
		if err != nil {
			if s.ctx.Err() != nil {
				return
			}
			// Only resource exhaustion (EMFILE) gets here; back off
			// instead of spinning.
			select {
			case <-time.After(100 * time.Millisecond):
			case <-s.ctx.Done():
				return
			}
			continue
		}
		select {
		case slots <- struct{}{}:
		default:
			s.evictOldestReader()
			select {
			case slots <- struct{}{}:
			case <-s.ctx.Done():
				conn.Close()
				return
			}
		}
		s.readingMu.Lock()
		s.reading[conn] = time.Now()
		s.readingMu.Unlock()
		s.handlers.Add(1)
		go func() {
			defer s.handlers.Done()
			defer func() { <-slots }()
			s.handle(conn, calls)
		}()
	}
}

// handle answers one connection: read one request, hand it to the loop, write
// the reply, close.
func (s *Server) handle(conn *os.File, calls chan<- Call) {
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(s.ioTimeout))
	// Close interrupts a pending read; replies still get written. Set
	// after the deadline above so that it cannot be overridden.
	stop := context.AfterFunc(s.ctx, func() { conn.SetReadDeadline(time.Now()) })
	defer stop()
	resp := s.answer(conn, calls)
	resp.Version = ProtocolVersion
	var fill func(*Page) error
	if resp.Status != nil && resp.Status.Pages != nil {
		pages := resp.Status.Pages
		fill = func(pg *Page) error {
			r := s.call(calls, Call{Fill: func() { pages.FillPage(pg) }, Reply: make(chan Response, 1)})
			if r.Error != "" {
				return errors.New(r.Error)
			}
			return nil
		}
	}
	if err := writeResponse(&pieceWriter{conn: conn, timeout: s.ioTimeout, end: time.Now().Add(writeLimit)}, &resp, fill); err != nil {
		return
	}
	// Closing with unread input (an oversized request, bytes after the
	// newline) would make the client's next read fail with a reset instead
	// of a clean end; drain a little first, briefly.
	closeWrite(conn)
	conn.SetReadDeadline(time.Now().Add(drainTimeout))
	io.Copy(io.Discard, io.LimitReader(conn, maxDrain))
}

// pieceWriter gives each piece of a response its own write deadline, so
// that the deadline bounds a client that stopped reading, not the time the
// encoding takes, and refuses pieces after end.
type pieceWriter struct {
	conn    *os.File
	timeout time.Duration
	end     time.Time
}

var errWriteLimit = errors.New("control: response not written within the write limit")

func (w *pieceWriter) Write(b []byte) (int, error) {
	now := time.Now()
	if now.After(w.end) {
		return 0, errWriteLimit
	}
	w.conn.SetWriteDeadline(earlier(now.Add(w.timeout), w.end))
	return w.conn.Write(b)
}

// evictOldestReader closes the connection that has waited longest for its
// request, if any, which frees its handler at once.
func (s *Server) evictOldestReader() {
	s.readingMu.Lock()
	defer s.readingMu.Unlock()
	var oldest *os.File
	var since time.Time
	for c, t := range s.reading {
		if oldest == nil || t.Before(since) {
			oldest, since = c, t
		}
	}
	if oldest != nil {
		delete(s.reading, oldest)
		oldest.Close()
	}
}

func (s *Server) answer(conn *os.File, calls chan<- Call) Response {
	raw, err := readRequest(conn)
	s.readingMu.Lock()
	delete(s.reading, conn)
	s.readingMu.Unlock()
	if err != nil {
		return failure(err.Error())
	}
	req, err := parseRequest(raw)
	if err != nil {
		return failure(err.Error())
	}
	return s.call(calls, Call{Req: req, Reply: make(chan Response, 1)})
}

// call hands call to the loop and waits for its reply, each step at most
// the loop timeout.
func (s *Server) call(calls chan<- Call, call Call) Response {
	t := time.NewTimer(s.loopTimeout)
	defer t.Stop()
	select {
	case calls <- call:
	case <-t.C:
		return failure("daemon busy")
	case <-s.ctx.Done():
		return failure("daemon shutting down")
	}
	t.Reset(s.loopTimeout)
	select {
	case resp := <-call.Reply:
		return resp
	case <-t.C:
		return failure("daemon busy")
	case <-s.ctx.Done():
		return failure("daemon shutting down")
	}
}

func failure(msg string) Response {
	return Response{Version: ProtocolVersion, Error: msg}
}

// readRequest reads up to a newline or the client's half-close, at most
// maxRequest bytes.
func readRequest(r io.Reader) ([]byte, error) {
	buf := make([]byte, maxRequest+1)
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		if i := bytes.IndexByte(buf[n:n+m], '\n'); i >= 0 {
			return buf[:n+i], nil
		}
		n += m
		if errors.Is(err, io.EOF) {
			return buf[:n], nil
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, errors.New("request timed out")
		}
		if err != nil {
			return nil, format.Errorf("read request: %w", err)
		}
	}
	return nil, format.Errorf("request larger than %d bytes", maxRequest)
}

// parseRequest decodes and validates one request. Unknown fields are
// ignored: within a protocol version fields are only ever added.
func parseRequest(raw []byte) (Request, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return Request{}, errors.New("empty request")
	}
	if raw[0] != '{' {
		return Request{}, errors.New("bad request: not a JSON object")
	}
	req, err := decodeRequest(raw)
	if err != nil {
		return Request{}, format.Errorf("bad request: %w", err)
	}
	if req.Version != ProtocolVersion {
		return Request{}, format.Errorf("unsupported protocol version %d (this daemon speaks %d)", req.Version, ProtocolVersion)
	}
	switch req.Command {
	case CommandStatus, CommandReload:
		return req, nil
	case "":
		return Request{}, errors.New("missing command")
	}
	return Request{}, format.Errorf("unknown command %q (known: %s, %s)", req.Command, CommandStatus, CommandReload)
}

// Close stops accepting, waits for the running handlers (those waiting on the
// daemon loop answer "daemon shutting down") and removes the socket file.
func (s *Server) Close() error {
	s.close.Do(func() {
		s.cancel()
		err := s.ln.Close()
		s.handlers.Wait()
		if rerr := os.Remove(s.path); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) && err == nil {
			err = rerr
		}
		if err != nil {
			s.closeErr = format.Errorf("control: close: %w", err)
		}
	})
	return s.closeErr
}
