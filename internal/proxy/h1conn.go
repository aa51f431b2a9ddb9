package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// The HTTP/1.1 loop serves the proxy's plain-HTTP connections itself: it
// reads a request head, parses it (h1parse.go), runs the proxy's handler
// with its own ResponseWriter (h1writer.go) and reads the next, all on
// the connection's one goroutine: no goroutine and background read per
// request, no header maps made per request, nothing cloned. A request it
// does not take (anything its strict parser is not sure of, upgrades,
// Expect, chunked or large bodies, heads over its 8 KiB buffer) is handed
// over with the connection, its bytes replayed, to net/http's server,
// which then serves that connection to its end exactly as before: its
// checks and answers (400, 431, 100 Continue, WebSockets) stay its own.
// docs/proxy.md "Performance" has the measurements.

const h1ReadBuf = 8 << 10 // the largest request head the loop reads

// h1server runs the loop on the connections its listener accepts; it
// hands the ones it gives up to net/http's server through that listener.
type h1server struct {
	e       *entry
	track   func(net.Conn, http.ConnState) // the hand-over's hook
	idle    time.Duration                  // keep-alive idle timeout
	header  time.Duration                  // read-header timeout
	noKeep  atomic.Bool                    // keep-alives off (hand-over, shutdown)
	closing atomic.Bool
	served  atomic.Int64 // requests served by the loop (tests)

	mu    sync.Mutex
	conns map[*h1conn]struct{}
	wg    sync.WaitGroup
}

func newH1Server(e *entry, track func(net.Conn, http.ConnState), idle, header time.Duration) *h1server {
	return &h1server{e: e, track: track, idle: idle, header: header, conns: map[*h1conn]struct{}{}}
}

// h1listener is what net/http's server accepts from: the connections the
// loop hands over.
type h1listener struct {
	net.Listener
	h       *h1server
	handoff chan net.Conn
	done    chan struct{}
	once    sync.Once
	err     error
}

// listen starts accepting on ln; net/http's server must Serve the
// returned listener.
func (h *h1server) listen(ln net.Listener) *h1listener {
	l := &h1listener{Listener: ln, h: h, handoff: make(chan net.Conn), done: make(chan struct{})}
	go l.acceptLoop()
	return l
}

func (l *h1listener) acceptLoop() {
	var delay time.Duration
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				// Closed (a shutdown, a hand-over): the server goes on
				// taking the connections the loop hands over until it is
				// shut down itself.
				return
			}
			// Out of descriptors and the like: back off, as net/http.
			delay = max(5*time.Millisecond, min(2*delay, time.Second))
			time.Sleep(delay)
			continue
		}
		delay = 0
		l.h.serve(l, c)
	}
}

func (l *h1listener) stop(err error) {
	l.once.Do(func() { l.err = err; close(l.done) })
}

func (l *h1listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.handoff:
		return c, nil
	case <-l.done:
		return nil, l.err
	}
}

func (l *h1listener) Close() error {
	err := l.Listener.Close()
	if errors.Is(err, net.ErrClosed) { // closed first by Run or the hand-over
		err = nil
	}
	l.stop(net.ErrClosed)
	return err
}

// give hands c to net/http's server, or closes it if that has stopped.
func (l *h1listener) give(c net.Conn) bool {
	select {
	case l.handoff <- c:
		return true
	case <-l.done:
		c.Close()
		return false
	}
}

// h1conn is one client connection served by the loop.
type h1conn struct {
	c       net.Conn
	src     h1src
	br      *bufio.Reader
	bw      *bufio.Writer
	state   atomic.Int32 // http.StateNew, StateActive, StateIdle
	created time.Time
	req     http.Request
	tmpl    *http.Request // carries ctx
	ctx     *h1ctx
	head    h1head
	w       h1writer
	body    h1body
	reqH    http.Header
	vals    []string
	remote  string
}

func (h *h1server) serve(l *h1listener, c net.Conn) {
	hc := &h1conn{c: c, created: time.Now(), remote: c.RemoteAddr().String()}
	hc.src.c = c
	hc.br = bufio.NewReaderSize(&hc.src, h1ReadBuf)
	hc.bw = bufio.NewWriterSize(c, 4<<10)
	hc.w = h1writer{bw: hc.bw, header: http.Header{}, noKeep: &h.noKeep}
	hc.reqH = http.Header{}
	hc.newContext()
	hc.state.Store(int32(http.StateNew))
	h.mu.Lock()
	if h.closing.Load() {
		h.mu.Unlock()
		c.Close()
		return
	}
	h.conns[hc] = struct{}{}
	h.wg.Add(1)
	h.mu.Unlock()
	h.track(c, http.StateNew)
	go func() {
		handed := h.loop(hc)
		var rc *replayConn
		if handed { // tracked as new before c is not (see handover.retire)
			rc = &replayConn{Conn: c, buf: hc.br, src: &hc.src}
			h.track(rc, http.StateNew)
		}
		h.track(c, http.StateClosed)
		h.mu.Lock()
		delete(h.conns, hc)
		h.mu.Unlock()
		h.wg.Done()
		if rc == nil {
			c.Close()
		} else if !l.give(rc) {
			h.track(rc, http.StateClosed)
		}
	}()
}

// loop serves hc's requests until the connection ends (false) or a
// request is for net/http's server (true).
func (h *h1server) loop(hc *h1conn) (handed bool) {
	c := hc.c
	for n := 0; ; n++ {
		if n > 0 {
			hc.state.Store(int32(http.StateIdle))
			if h.noKeep.Load() {
				return false
			}
			if hc.br.Buffered() == 0 {
				c.SetReadDeadline(time.Now().Add(h.idle))
				if _, err := hc.br.Peek(1); err != nil {
					return false
				}
			}
		}
		c.SetReadDeadline(time.Now().Add(h.header))
		head, ok := hc.readHead()
		if head == nil {
			// Nothing, a timeout or an error: net/http closes too.
			// Bytes that end in EOF, or a head over the buffer:
			// net/http answers them (400, 431).
			return ok
		}
		hc.state.Store(int32(http.StateActive))
		p := &hc.head
		var fine bool
		hc.vals, fine = parseHead(string(head), p, hc.reqH, hc.vals)
		if !fine {
			return true
		}
		if n == 0 {
			h.track(c, http.StateActive)
		}
		r := &hc.req
		if hc.ctx.retired() {
			hc.newContext()
		}
		*r = *hc.tmpl
		r.Method, r.RequestURI, r.Proto, r.ProtoMajor, r.ProtoMinor = p.method, p.target, p.proto, 1, p.minor
		r.URL, r.Host, r.RemoteAddr, r.Close = &p.u, p.host, hc.remote, p.close
		r.Header, r.ContentLength, r.Body = hc.reqH, p.contentLength, http.NoBody
		hc.br.Discard(len(head))
		c.SetReadDeadline(time.Time{})
		hc.body = h1body{}
		if p.contentLength > 0 {
			hc.body = h1body{br: hc.br, n: p.contentLength}
			r.Body = &hc.body
		}
		hc.w.reset(p)
		hc.ctx.reset()
		h.served.Add(1)
		ok = h.run(hc, r)
		if !hc.ctx.end() || !ok {
			return false
		}
	}
}

// readHead reads up to the blank line ending a request head and returns
// it (still buffered); nil and true: bytes for net/http's server; nil
// and false: the connection is done.
func (hc *h1conn) readHead() ([]byte, bool) {
	for {
		buf, _ := hc.br.Peek(hc.br.Buffered())
		if i := bytes.Index(buf, crlfcrlf); i >= 0 {
			return buf[:i+4], true
		}
		if len(buf) == h1ReadBuf {
			return nil, true
		}
		if _, err := hc.br.Peek(len(buf) + 1); err != nil {
			var ne net.Error
			if hc.br.Buffered() == 0 || errors.As(err, &ne) && ne.Timeout() {
				return nil, false
			}
			return nil, true
		}
	}
}

var crlfcrlf = []byte("\r\n\r\n")

// run runs the handler on r and ends the response; false: close the
// connection.
func (h *h1server) run(hc *h1conn, r *http.Request) (ok bool) {
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler {
				h.e.s.log.Error("panic serving a request", "remote", hc.remote, "panic", v, "stack", string(debug.Stack()))
			}
			hc.bw.Flush()
			ok = false
		}
	}()
	h.e.ServeHTTP(&hc.w, r)
	// A body the handler left unread (an error page) is read and
	// dropped, as net/http does, unless the client stopped sending it.
	if hc.body.n > 0 {
		hc.c.SetReadDeadline(time.Now().Add(h.header))
		if _, err := hc.body.discard(); err != nil {
			hc.w.closeAfter = true
		}
		hc.c.SetReadDeadline(time.Time{})
	}
	return hc.w.finish(!h.noKeep.Load())
}

// disableKeepAlives makes each connection close after its current
// request, and closes the idle ones (the hand-over).
func (h *h1server) disableKeepAlives() {
	h.noKeep.Store(true)
	h.closeIdle(false)
}

// closeIdle closes the connections waiting for a request: those between
// requests, and with all, those that never sent one for 5 s (as
// http.Server.Shutdown does).
func (h *h1server) closeIdle(all bool) (active int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for hc := range h.conns {
		switch http.ConnState(hc.state.Load()) {
		case http.StateIdle:
			hc.c.Close()
		case http.StateNew:
			if all && time.Since(hc.created) > 5*time.Second {
				hc.c.Close()
			} else {
				active++
			}
		default:
			active++
		}
	}
	return active
}

// shutdown ends the loop gracefully, as http.Server.Shutdown does: the
// listener is closed by the server; idle connections are closed, and
// the others once their request is answered; when ctx ends, all are.
func (h *h1server) shutdown(ctx context.Context) error {
	h.closing.Store(true)
	h.noKeep.Store(true)
	wait := time.Millisecond
	for {
		if h.closeIdle(true) == 0 {
			h.wg.Wait()
			return nil
		}
		select {
		case <-ctx.Done():
			h.mu.Lock()
			for hc := range h.conns {
				hc.c.Close()
			}
			h.mu.Unlock()
			h.wg.Wait()
			return ctx.Err()
		case <-time.After(wait):
			wait = min(2*wait, 500*time.Millisecond)
		}
	}
}

// newContext gives the connection's next requests a new context: the
// last one was handed out (see h1ctx.retired).
func (hc *h1conn) newContext() {
	hc.ctx = &h1ctx{hc: hc}
	hc.tmpl = (&http.Request{}).WithContext(hc.ctx)
}
