package proxy

import (
	"bufio"
	"context"
	"errors"
	"math"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
)

// The fast path's connections to one target: kept alive between requests,
// each with its own buffers, reused newest first.
const (
	poolMaxIdle     = 100              // as the Transport's MaxIdleConnsPerHost
	poolIdleTimeout = 90 * time.Second // as its IdleConnTimeout
	// poolCheckAfter: a connection idle this long is looked at before it
	// is used (one non-blocking peek), so that one the target closed
	// meanwhile (its own idle timeout) is not written to. Busier ones are
	// used at once: a request that finds one closed is sent again when it
	// can be (serveFast).
	poolCheckAfter = 100 * time.Millisecond
)

var poolDialer = &net.Dialer{Timeout: targetDialTimeout, KeepAlive: 30 * time.Second}

// targetDialTimeout bounds a connection to a target. A target on
// loopback answers at once; one on another node of a swarm that was cut
// off the network (or lost power) answers nothing, and a request to it
// would wait out the dial: after this long it is tried once on another
// target (retryRefused), so it costs 2 s instead of failing at the
// client's own timeout. A SYN lost once is resent after 1 s, within it.
const targetDialTimeout = 2 * time.Second

type connPool struct {
	mu     sync.Mutex
	idle   []*upConn // oldest first
	closed bool
	// sweep closes connections idle over poolIdleTimeout (maxIdle in
	// tests); it is armed while any connection is idle.
	sweep   *time.Timer
	maxIdle time.Duration
}

// upConn is one connection to a target.
type upConn struct {
	c    net.Conn
	lim  limitedConn // what br reads: c, within the header limit
	br   *bufio.Reader
	bw   *bufio.Writer
	pool *connPool
	idle time.Time   // when it was put back
	rh   http.Header // the response headers, reused (h1resp.go)
	body h1body      // the response body, likewise
	// reused: it served a request before this one; nothingRead: no byte
	// of this request's response came (both decide a retry).
	reused, nothingRead bool
}

// get returns an idle connection to addr, or a new one; check: look at
// an idle one before it is used, however short its idle time.
func (p *connPool) get(ctx context.Context, addr string, check bool) (*upConn, error) {
	for {
		p.mu.Lock()
		n := len(p.idle)
		if n == 0 {
			p.mu.Unlock()
			break
		}
		pc := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		if idle := time.Since(pc.idle); idle > p.idleTimeout() || (check || idle > poolCheckAfter) && !open(pc.c) {
			pc.c.Close()
			continue
		}
		pc.reused = true
		return pc, nil
	}
	c, err := poolDialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	pc := &upConn{c: c, bw: bufio.NewWriterSize(c, 4<<10), pool: p}
	pc.lim = limitedConn{c: c, n: math.MaxInt64}
	pc.br = bufio.NewReaderSize(&pc.lim, 4<<10)
	return pc, nil
}

// maxResponseHeader is the most a target may send before its response
// headers end, as the Transport's default MaxResponseHeaderBytes.
const maxResponseHeader = 10 << 20

// errHeaderTooLong ends a response whose headers exceed maxResponseHeader.
var errHeaderTooLong = errors.New("the response headers are over 10 MiB")

// limitedConn reads from c at most n bytes (while response headers are
// read), then fails.
type limitedConn struct {
	c net.Conn
	n int64
}

func (l *limitedConn) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errHeaderTooLong
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.c.Read(p)
	l.n -= int64(n)
	return n, err
}

// put keeps pc for the next request, or closes it if the pool is full or
// closed.
func (p *connPool) put(pc *upConn) {
	pc.idle = time.Now()
	p.mu.Lock()
	if p.closed || len(p.idle) >= poolMaxIdle {
		p.mu.Unlock()
		pc.c.Close()
		return
	}
	p.idle = append(p.idle, pc)
	if p.sweep == nil {
		p.sweep = time.AfterFunc(p.idleTimeout(), p.closeExpired)
	}
	p.mu.Unlock()
}

func (p *connPool) idleTimeout() time.Duration {
	if p.maxIdle > 0 {
		return p.maxIdle
	}
	return poolIdleTimeout
}

// closeExpired closes the connections idle too long (nobody may use them
// for a long time, and each holds a connection of the app), and runs again
// while any are left.
func (p *connPool) closeExpired() {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for n < len(p.idle) && time.Since(p.idle[n].idle) >= p.idleTimeout() {
		p.idle[n].c.Close()
		n++
	}
	p.idle = append(p.idle[:0], p.idle[n:]...)
	clear(p.idle[len(p.idle):cap(p.idle)])
	if len(p.idle) == 0 || p.closed {
		p.sweep = nil
		return
	}
	p.sweep.Reset(p.idleTimeout() - time.Since(p.idle[0].idle))
}

// close closes the idle connections, and those put back later.
func (p *connPool) close() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	if p.sweep != nil {
		p.sweep.Stop()
		p.sweep = nil
	}
	p.mu.Unlock()
	for _, pc := range idle {
		pc.c.Close()
	}
}

// open reports whether an idle connection is still open: nothing to read
// (the target closed it, or sent what nobody asked for, is not).
func open(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	alive := false
	err = rc.Read(func(fd uintptr) bool {
		var b [1]byte
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		alive = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
		return true
	})
	return err == nil && alive
}
