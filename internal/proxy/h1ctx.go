package proxy

import (
	"bufio"
	"context"
	"io"
	"net"
	"sync"
	"time"
)

// h1src is what the loop's reader reads: the connection, after the byte
// a watch read (h1ctx), if any.
type h1src struct {
	c   net.Conn
	b   [1]byte
	has bool
}

func (s *h1src) Read(p []byte) (int, error) {
	if s.has && len(p) > 0 {
		p[0], s.has = s.b[0], false
		return 1, nil
	}
	return s.c.Read(p)
}

// h1ctx is the context of the loop's requests. It is canceled when the
// client goes away, as net/http's is, but it only watches the connection
// (a read in its own goroutine, ended when the handler returns) once
// somebody asks for Done: the fast path does only for an answer slower
// than fastWatchAfter. So most requests cost no goroutine and no read
// beyond their own. A context nobody asked Done of is reused for the
// connection's next request (no allocation); one that was asked is
// retired, as goroutines it was handed to may ask again later
// (context.WithDeadline's, in a dial): they must never see the next
// request's state. The first Done is asked by the handler's goroutine
// (the fast path's context.AfterFunc, a dial's context.WithDeadline):
// only then may it look at the connection's reader.
type h1ctx struct {
	hc       *h1conn
	mu       sync.Mutex
	done     chan struct{}
	err      error
	watching bool
	ended    bool
	stopping bool
	dead     bool // the connection failed while watched
	used     bool // Done was asked
	exited   chan struct{}
}

// retired reports whether x was asked for Done (and must not be reused).
func (x *h1ctx) retired() bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.used
}

func (x *h1ctx) Deadline() (time.Time, bool) { return time.Time{}, false }
func (x *h1ctx) Value(any) any               { return nil }

func (x *h1ctx) Err() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.err
}

// Done starts watching the connection if the request was read whole and
// nothing more came yet (a pipelined request means the client is there).
func (x *h1ctx) Done() <-chan struct{} {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.done == nil {
		x.used = true
		x.done = make(chan struct{})
		hc := x.hc
		if !x.ended && hc.body.n == 0 && hc.br.Buffered() == 0 && !hc.src.has {
			x.watching, x.exited = true, make(chan struct{})
			go x.watch()
		}
	}
	return x.done
}

func (x *h1ctx) watch() {
	src := &x.hc.src
	n, err := x.hc.c.Read(src.b[:])
	x.mu.Lock()
	if n == 1 {
		src.has = true
	}
	if err != nil && (!x.stopping || !isTimeout(err)) {
		x.dead = true
		if x.err == nil {
			x.err = context.Canceled
			close(x.done)
		}
	}
	x.mu.Unlock()
	close(x.exited)
}

func (x *h1ctx) reset() {
	x.mu.Lock()
	x.done, x.err, x.exited = nil, nil, nil
	x.watching, x.ended, x.stopping, x.dead = false, false, false, false
	x.mu.Unlock()
}

// end stops the watch after the handler returned; false: the client is
// gone.
func (x *h1ctx) end() bool {
	x.mu.Lock()
	x.ended = true
	watching := x.watching
	x.stopping = true
	x.mu.Unlock()
	if watching {
		x.hc.c.SetReadDeadline(aLongTimeAgo)
		<-x.exited
		x.hc.c.SetReadDeadline(time.Time{})
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	return !x.dead
}

// h1body is a request body with a Content-Length, read from the loop's
// reader.
type h1body struct {
	br *bufio.Reader
	n  int64
}

func (b *h1body) Read(p []byte) (int, error) {
	if b.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	n, err := b.br.Read(p)
	b.n -= int64(n)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err == nil && b.n == 0 {
		err = io.EOF
	}
	return n, err
}

func (b *h1body) Close() error { return nil }

// discard reads what is left of the body.
func (b *h1body) discard() (int, error) {
	n, err := b.br.Discard(int(b.n))
	b.n -= int64(n)
	return n, err
}

// replayConn is a connection handed to net/http's server: the bytes the
// loop read but did not serve come first.
type replayConn struct {
	net.Conn
	buf *bufio.Reader
	src *h1src
}

func (r *replayConn) Read(p []byte) (int, error) {
	if r.buf != nil {
		if r.buf.Buffered() > 0 {
			return r.buf.Read(p)
		}
		r.buf = nil
	}
	return r.src.Read(p)
}

// CloseWrite lets net/http half-close it, as it does a TCP connection.
func (r *replayConn) CloseWrite() error {
	if cw, ok := r.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
