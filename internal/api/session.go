package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// Session is the terminal side of an interactive operation (run, enter,
// connect): stdin flows to the daemon while stdout and stderr flow back, and
// the terminal's size follows the user's window.
type Session struct {
	Stdin  io.Reader // nil: no input (EOF at once)
	Stdout io.Writer
	Stderr io.Writer
	// Resize delivers the terminal's size (height, width) when it changes;
	// nil when there is no terminal.
	Resize <-chan [2]uint
}

// SessionOp names an interactive operation and declares which ssh keys
// may call it (see Access).
type SessionOp[Req, Resp any] struct {
	Name   string
	Access Access
}

// Sessioner performs interactive operations. The socket client and the Mux
// both implement it.
type Sessioner interface {
	Session(ctx context.Context, op string, req, resp any, s *Session) error
}

// Run performs the operation through c with the session's streams.
func (o SessionOp[Req, Resp]) Run(ctx context.Context, c Caller, req Req, s *Session) (Resp, error) {
	var resp Resp
	sc, ok := c.(Sessioner)
	if !ok {
		return resp, Errorf(CodeUnavailable, "%s needs an interactive connection", o.Name)
	}
	err := sc.Session(ctx, o.Name, req, &resp, s)
	return resp, err
}

type sessionHandler func(ctx context.Context, req json.RawMessage, s *Session) (any, error)

// HandleSession registers fn as the handler of an interactive operation.
func HandleSession[Req, Resp any](m *Mux, op SessionOp[Req, Resp], fn func(ctx context.Context, req Req, s *Session) (Resp, error)) {
	if m.sessions == nil {
		m.sessions = map[string]sessionHandler{}
	}
	if _, dup := m.sessions[op.Name]; dup {
		panic("api: duplicate session handler for " + op.Name)
	}
	declare[Req, Resp](m, op.Name, op.Access, true)
	m.sessions[op.Name] = func(ctx context.Context, raw json.RawMessage, s *Session) (any, error) {
		var req Req
		if len(raw) > 0 {
			if err := json.Unmarshal(raw, &req); err != nil {
				return nil, Errorf(CodeInvalid, "malformed request for %s: %v", op.Name, err)
			}
		}
		started := time.Now()
		ended := func(error) {}
		if m.tee != nil {
			var out Output
			out, ended = m.teed(ctx, op.Name, raw, Output{Stdout: s.Stdout, Stderr: s.Stderr})
			s = &Session{Stdin: s.Stdin, Stdout: out.Stdout, Stderr: out.Stderr, Resize: s.Resize}
		}
		resp, err := callTeed(ended, func() (Resp, error) { return fn(ctx, req, s) })
		m.observed(ctx, op.Name, raw, started, err)
		return resp, err
	}
}

// Session runs an interactive operation in-process.
func (m *Mux) Session(ctx context.Context, op string, req, resp any, s *Session) error {
	h, ok := m.sessions[op]
	if !ok {
		return Errorf(CodeNotFound, "unknown operation %s", op)
	}
	raw, err := json.Marshal(req)
	if err != nil {
		return err
	}
	if s.Stdin == nil {
		s.Stdin = eofReader{}
	}
	res, err := h(ctx, raw, s)
	if err != nil {
		return m.toAPIError(op, err)
	}
	b, err := json.Marshal(res)
	if err != nil || resp == nil {
		return err
	}
	return json.Unmarshal(b, resp)
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// Frame types of a session on the wire: a type byte, a big-endian uint32
// length, the payload.
const (
	frameStdin    = 'i' // client → daemon: input bytes
	frameStdinEOF = 'I' // client → daemon: no more input
	frameResize   = 'r' // client → daemon: height, width (uint32 each)
	frameStdout   = 'o' // daemon → client
	frameStderr   = 'e' // daemon → client
	frameResult   = 'R' // daemon → client: JSON result, last frame
	frameError    = 'E' // daemon → client: JSON *Error, last frame
)

const sessionProtocol = "berth-session"

type frameConn struct {
	mu sync.Mutex
	w  io.Writer
	fl func() error
}

func (f *frameConn) send(t byte, p []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var hdr [5]byte
	hdr[0] = t
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(p)))
	if _, err := f.w.Write(hdr[:]); err != nil {
		return err
	}
	if _, err := f.w.Write(p); err != nil {
		return err
	}
	if f.fl != nil {
		return f.fl()
	}
	return nil
}

func readFrame(r io.Reader) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > 16<<20 {
		return 0, nil, fmt.Errorf("session frame of %d bytes is too large", n)
	}
	p := make([]byte, n)
	_, err := io.ReadFull(r, p)
	return hdr[0], p, err
}

type frameWriterFor struct {
	fc *frameConn
	t  byte
}

func (w frameWriterFor) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if err := w.fc.send(w.t, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// serveSession upgrades the HTTP connection and runs a session handler on it.
func (m *Mux) serveSession(w http.ResponseWriter, r *http.Request, op string, h sessionHandler) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	if err != nil {
		http.Error(w, "read request", http.StatusBadRequest)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "sessions need a hijackable connection", http.StatusInternalServerError)
		return
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	defer cancel()
	fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: %s\r\nConnection: Upgrade\r\n\r\n", sessionProtocol)
	fc := &frameConn{w: brw, fl: brw.Flush}
	if err := brw.Flush(); err != nil {
		return
	}

	stdinR, stdinW := io.Pipe()
	resize := make(chan [2]uint, 4)
	// Input is queued so that a handler that is not reading stdin yet does
	// not hold up resize frames behind it.
	stdinQ := make(chan []byte, 256)
	go func() {
		for p := range stdinQ {
			if _, err := stdinW.Write(p); err != nil {
				for range stdinQ { // the handler stopped reading: drop input
				}
				return
			}
		}
		stdinW.Close()
	}()
	// Reader: client frames → stdin queue and resize channel. The client
	// going away cancels the handler.
	go func() {
		defer cancel()
		defer close(resize)
		closed := false
		closeStdin := func() {
			if !closed {
				closed = true
				close(stdinQ)
			}
		}
		defer closeStdin()
		for {
			t, p, err := readFrame(brw)
			if err != nil {
				return
			}
			switch t {
			case frameStdin:
				if !closed {
					stdinQ <- p
				}
			case frameStdinEOF:
				closeStdin()
			case frameResize:
				if len(p) == 8 {
					select {
					case resize <- [2]uint{uint(binary.BigEndian.Uint32(p)), uint(binary.BigEndian.Uint32(p[4:]))}:
					default:
					}
				}
			}
		}
	}()
	s := &Session{Stdin: stdinR, Stdout: frameWriterFor{fc, frameStdout}, Stderr: frameWriterFor{fc, frameStderr}, Resize: resize}
	res, err := h(ctx, raw, s)
	stdinR.Close()
	if err != nil {
		b, _ := json.Marshal(m.toAPIError(op, err))
		fc.send(frameError, b)
		return
	}
	b, err := json.Marshal(res)
	if err != nil {
		b, _ = json.Marshal(m.toAPIError(op, err))
		fc.send(frameError, b)
		return
	}
	fc.send(frameResult, b)
}

// Session runs an interactive operation on the daemon over the socket.
func (c *Client) Session(ctx context.Context, op string, req, resp any, s *Session) error {
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://berth/v1/"+op, bytes.NewReader(body))
	if err != nil {
		return err
	}
	hreq.Header.Set("Connection", "Upgrade")
	hreq.Header.Set("Upgrade", sessionProtocol)
	hresp, err := c.http.Do(hreq)
	if err != nil {
		return c.dialError(err)
	}
	if hresp.StatusCode != http.StatusSwitchingProtocols {
		defer hresp.Body.Close()
		// An ordinary (non-session) answer carries an error frame stream.
		if err := readFrames(hresp.Body, nil, Output{}); err != nil {
			return err
		}
		return fmt.Errorf("the daemon did not start an interactive session for %s (%s)", op, hresp.Status)
	}
	rwc, ok := hresp.Body.(io.ReadWriteCloser)
	if !ok {
		hresp.Body.Close()
		return errors.New("interactive session: the connection cannot be written to")
	}
	defer rwc.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fc := &frameConn{w: rwc}
	go func() {
		if s.Stdin != nil {
			buf := make([]byte, 32<<10)
			for {
				n, err := s.Stdin.Read(buf)
				if n > 0 {
					if fc.send(frameStdin, buf[:n]) != nil {
						return
					}
				}
				if err != nil {
					break
				}
			}
		}
		fc.send(frameStdinEOF, nil)
	}()
	if s.Resize != nil {
		go func() {
			for {
				var sz [2]uint
				var ok bool
				select {
				case sz, ok = <-s.Resize:
				case <-ctx.Done():
					return
				}
				if !ok {
					return
				}
				var p [8]byte
				binary.BigEndian.PutUint32(p[:], uint32(sz[0]))
				binary.BigEndian.PutUint32(p[4:], uint32(sz[1]))
				if fc.send(frameResize, p[:]) != nil {
					return
				}
			}
		}()
	}
	go func() {
		<-ctx.Done()
		rwc.Close()
	}()
	br := bufio.NewReader(rwc)
	for {
		t, p, err := readFrame(br)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return errors.New("the daemon closed the interactive session before answering (did it stop?)")
		}
		switch t {
		case frameStdout:
			if s.Stdout != nil {
				s.Stdout.Write(p)
			}
		case frameStderr:
			if s.Stderr != nil {
				s.Stderr.Write(p)
			}
		case frameError:
			var e Error
			if err := json.Unmarshal(p, &e); err != nil {
				return fmt.Errorf("read daemon error: %w", err)
			}
			return &e
		case frameResult:
			if resp == nil || len(p) == 0 {
				return nil
			}
			return json.Unmarshal(p, resp)
		}
	}
}
