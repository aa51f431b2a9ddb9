package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The fast path sends a plain HTTP/1.x request to its target itself, over
// a pooled keep-alive connection, from the request's own goroutine: no
// http.Transport (whose connections each run a read and a write goroutine
// that every request is handed to and back over channels), no cloned
// request, no per-request context and timer. What it forwards is what
// httputil.ReverseProxy with Server.rewrite forwards, header by header
// (fastpath_test.go compares the two); what it does not take (upgrades,
// Expect: 100-continue, chunked or large request bodies, HTTP/2, odd
// queries) goes through the ReverseProxy as before. docs/proxy.md
// "Performance" has the measurements.

// fastMaxBody is the largest request body the fast path takes. It reads
// it whole before it takes a connection to the target (as nginx buffers
// request bodies), so that a client sending slowly holds no connection to
// the app, and the body, which fits the socket buffers, is then written
// without waiting on a target that answers before reading it (the
// Transport reads and writes at once).
const fastMaxBody = 64 << 10

// bodyBuffers hold request bodies on the fast path.
var bodyBuffers = sync.Pool{New: func() any { b := make([]byte, fastMaxBody+1); return &b }}

// fastMax1xx is how many informational responses a request may get, as
// the Transport allows.
const fastMax1xx = 5

// fast reports whether r can take the fast path.
func fast(r *http.Request) bool {
	if r.ProtoMajor != 1 || r.TransferEncoding != nil || r.ContentLength < 0 || r.ContentLength > fastMaxBody || r.URL.Opaque != "" {
		return false
	}
	h := r.Header
	if h["Upgrade"] != nil || h["Expect"] != nil {
		return false
	}
	for i := 0; i < len(r.Host); i++ { // the Transport would punycode it
		if c := r.Host[i]; c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return plainQuery(r.URL.RawQuery)
}

// plainQuery reports whether the ReverseProxy sends q as it is (it
// re-encodes queries with semicolons, bad escapes or over 10,000
// parameters).
func plainQuery(q string) bool {
	if strings.Count(q, "&") >= 10000 {
		return false
	}
	for i := 0; i < len(q); i++ {
		switch q[i] {
		case ';':
			return false
		case '%':
			if i+2 >= len(q) || !ishex(q[i+1]) || !ishex(q[i+2]) {
				return false
			}
			i += 2
		}
	}
	return true
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// errClientGone ends a request whose client went away.
var errClientGone = context.Canceled

// serveFast proxies r to ex's target over the fast path, with the same
// retries and error pages as the ReverseProxy's path.
func (ex *exchange) serveFast(r *http.Request) {
	var body []byte // nil: none
	if r.ContentLength > 0 {
		buf := bodyBuffers.Get().(*[]byte)
		defer bodyBuffers.Put(buf)
		ex.body.rc = r.Body
		// Read to the end, as the Transport does: the server then
		// watches the connection, and a client that leaves cancels r.
		n, err := io.ReadFull(&ex.body, (*buf)[:r.ContentLength+1])
		if int64(n) != r.ContentLength || err != io.ErrUnexpectedEOF {
			if err == nil {
				err = errors.New("more body than its Content-Length")
			}
			if ex.body.err == nil {
				ex.body.err = err
			}
			ex.fastError(r, err)
			return
		}
		body = (*buf)[:n]
	}
	for {
		b := ex.target()
		// A request that cannot be sent again has its connection checked
		// first, however recently it was used.
		pc, err := b.pool.get(r.Context(), b.addr, body != nil || !idempotent(r))
		if err != nil {
			// A refused connection is tried once on another target, as
			// upstream.RoundTrip does.
			if !ex.retryRefused(r, err, body != nil) {
				ex.fastError(r, err)
				return
			}
			continue
		}
		b.fastSent.Add(1)
		resp, err := pc.roundTrip(ex, r, body)
		if err != nil {
			pc.c.Close()
			// A kept-alive connection the target had closed meanwhile:
			// send again on another, as the Transport does, when nothing
			// came back and the request can be replayed.
			if pc.reused && pc.nothingRead && body == nil && idempotent(r) && r.Context().Err() == nil && !errors.Is(err, errUpstreamTimeout) {
				continue
			}
			ex.fastError(r, err)
			return
		}
		ex.respondFast(pc, resp)
		return
	}
}

func idempotent(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return r.Header["Idempotency-Key"] != nil || r.Header["X-Idempotency-Key"] != nil
}

// fastError answers a request the fast path could not send or got no
// response to, as the ReverseProxy's ErrorHandler does.
func (ex *exchange) fastError(r *http.Request, err error) {
	if r.Context().Err() != nil && ex.body.err == nil {
		err = errClientGone
	}
	ex.s.proxyError(ex, r, err)
}

// roundTrip writes r to the target and reads the response headers, within
// the route's timeout; informational responses are passed on to the client.
func (pc *upConn) roundTrip(ex *exchange, r *http.Request, body []byte) (*http.Response, error) {
	timeout := ex.rt.timeout
	now := time.Now()
	full := now.Add(timeout)
	// Most answers come at once: the wait is first bounded by
	// fastWatchAfter, and only a slower answer pays for watching the
	// client (a context.AfterFunc per request was 4 % of the proxy's CPU).
	readBy := full
	if timeout > fastWatchAfter {
		readBy = now.Add(fastWatchAfter)
	}
	pc.c.SetWriteDeadline(full)
	pc.c.SetReadDeadline(readBy)
	var stop func() bool
	pc.nothingRead = true
	pc.lim.n = maxResponseHeader
	err := writeRequest(pc.bw, ex, r, body)
	if err == nil {
		err = pc.bw.Flush()
	}
	var resp *http.Response
	for n := 0; err == nil; n++ {
		_, err = pc.br.Peek(1)
		if err != nil && readBy != full && isTimeout(err) {
			// A client that goes away from now on ends the wait (the
			// server cancels r's context when it sees the connection
			// close).
			readBy = full
			pc.c.SetReadDeadline(full)
			stop = context.AfterFunc(r.Context(), func() { pc.c.SetReadDeadline(aLongTimeAgo) })
			_, err = pc.br.Peek(1)
		}
		if err != nil {
			break
		}
		if readBy != full { // the rest of the headers may take the route's time
			readBy = full
			pc.c.SetReadDeadline(full)
		}
		pc.nothingRead = false
		resp, err = pc.readResponse(r)
		if err != nil || resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
		if n == fastMax1xx {
			err = errors.New("too many 1xx informational responses")
			break
		}
		h := ex.w.Header()
		for k, vv := range resp.Header {
			h[k] = vv
		}
		ex.WriteHeader(resp.StatusCode)
		clear(h)
	}
	if stop != nil && !stop() || r.Context().Err() != nil {
		return nil, errClientGone
	}
	if err != nil {
		if isTimeout(err) {
			return nil, fmt.Errorf("%w (%s)", errUpstreamTimeout, timeout)
		}
		return nil, err
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		return nil, errors.New("the target switched protocols though the request asked for no upgrade")
	}
	pc.c.SetDeadline(time.Time{}) // the body may take as long as it needs
	pc.lim.n = math.MaxInt64      // and be as long
	return resp, nil
}

// fastWatchAfter is how long the fast path waits for an answer before it
// watches the client too.
const fastWatchAfter = 10 * time.Millisecond

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// aLongTimeAgo is a deadline that has passed: it ends a blocked read.
var aLongTimeAgo = time.Unix(1, 0)

// writeRequest writes the request the ReverseProxy would send for r:
// the same method, path, query and Host, without the hop-by-hop headers,
// with X-Forwarded-* and X-Request-Id set as Server.rewrite sets them.
func writeRequest(w *bufio.Writer, ex *exchange, r *http.Request, body []byte) error {
	w.WriteString(r.Method)
	w.WriteByte(' ')
	if p := r.URL.EscapedPath(); p != "" {
		w.WriteString(p)
	} else {
		w.WriteByte('/')
	}
	if r.URL.ForceQuery || r.URL.RawQuery != "" {
		w.WriteByte('?')
		w.WriteString(r.URL.RawQuery)
	}
	w.WriteString(" HTTP/1.1\r\nHost: ")
	if r.Host != "" {
		w.WriteString(r.Host)
	} else {
		w.WriteString(ex.target().addr)
	}
	w.WriteString("\r\n")
	h := r.Header
	conn := h["Connection"]
	for k, vv := range h {
		if dropRequestHeader(k) || listed(conn, k) {
			continue
		}
		if k == "User-Agent" { // the Transport sends the first, if not empty
			if vv[0] != "" {
				writeField(w, k, vv[0])
			}
			continue
		}
		for _, v := range vv {
			writeField(w, k, v)
		}
	}
	if hasToken(h["Te"], "trailers") {
		w.WriteString("Te: trailers\r\n")
	}
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err == nil {
		w.WriteString("X-Forwarded-For: ")
		for _, v := range h["X-Forwarded-For"] {
			w.WriteString(v)
			w.WriteString(", ")
		}
		w.WriteString(ip)
		w.WriteString("\r\n")
	}
	writeField(w, "X-Forwarded-Host", r.Host)
	if r.TLS != nil {
		w.WriteString("X-Forwarded-Proto: https\r\n")
	} else {
		w.WriteString("X-Forwarded-Proto: http\r\n")
	}
	if err == nil {
		writeField(w, "X-Real-Ip", ip)
	}
	writeField(w, "X-Forwarded-Port", ex.port)
	writeField(w, "X-Request-Id", ex.id)
	switch m := r.Method; {
	case r.ContentLength > 0:
		w.WriteString("Content-Length: ")
		var num [20]byte
		w.Write(strconv.AppendInt(num[:0], r.ContentLength, 10))
		w.WriteString("\r\n")
	case m == http.MethodPost || m == http.MethodPut || m == http.MethodPatch:
		w.WriteString("Content-Length: 0\r\n")
	}
	w.WriteString("\r\n")
	_, err = w.Write(body)
	return err
}

// writeField writes one header line, with line breaks made spaces as the
// Transport does (a parsed request has none).
func writeField(w *bufio.Writer, k, v string) {
	w.WriteString(k)
	w.WriteString(": ")
	if strings.ContainsAny(v, "\r\n") {
		v = strings.NewReplacer("\r\n", " ", "\r", " ", "\n", " ").Replace(v)
		v = strings.TrimSpace(v)
	}
	w.WriteString(v)
	w.WriteString("\r\n")
}

// dropRequestHeader: the hop-by-hop headers, the ones Server.rewrite
// sets, and those the Transport writes itself.
func dropRequestHeader(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade",
		"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-Ip",
		"X-Forwarded-Port", "X-Request-Id", "Host", "Content-Length":
		return true
	}
	return false
}

// dropResponseHeader: the hop-by-hop headers.
func dropResponseHeader(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// listed reports whether the Connection header values conn name k (a
// hop-by-hop header of this connection).
func listed(conn []string, k string) bool {
	for _, f := range conn {
		for f != "" {
			var name string
			name, f, _ = strings.Cut(f, ",")
			if name = strings.TrimSpace(name); name != "" && strings.EqualFold(name, k) {
				return true
			}
		}
	}
	return false
}

// hasToken reports whether the comma-separated values vv hold token
// (case-insensitive).
func hasToken(vv []string, token string) bool {
	for _, v := range vv {
		for v != "" {
			var t string
			t, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// respondFast sends the target's response to the client, as the
// ReverseProxy does, and puts the connection back when the response was
// read to its end.
func (ex *exchange) respondFast(pc *upConn, resp *http.Response) {
	h := ex.w.Header()
	conn := resp.Header["Connection"]
	for k, vv := range resp.Header {
		if !dropResponseHeader(k) && !listed(conn, k) {
			h[k] = vv
		}
	}
	ex.idHeader[0] = ex.id
	h["X-Request-Id"] = ex.idHeader[:]
	if ex.hsts != "" {
		h["Strict-Transport-Security"] = []string{ex.hsts}
	}
	announced := len(resp.Trailer)
	if announced > 0 {
		keys := make([]string, 0, announced)
		for k := range resp.Trailer {
			keys = append(keys, k)
		}
		h.Add("Trailer", strings.Join(keys, ", "))
	}
	ex.WriteHeader(resp.StatusCode)

	flush := resp.ContentLength == -1
	if !flush {
		if ct := resp.Header["Content-Type"]; len(ct) > 0 && strings.Contains(ct[0], "event-stream") {
			base, _, _ := mime.ParseMediaType(ct[0])
			flush = base == "text/event-stream"
		}
	}
	buf := buffers.Get().(*[]byte) // not bufferPool: its Put allocates
	err := copyBody(ex, resp.Body, *buf, flush)
	buffers.Put(buf)
	if err != nil {
		pc.c.Close()
		// Cut the client's connection, as the ReverseProxy does: the
		// response is incomplete.
		panic(http.ErrAbortHandler)
	}
	resp.Body.Close()
	if resp.Close || pc.br.Buffered() > 0 { // spare bytes: not a connection to trust
		pc.c.Close()
	} else {
		pc.pool.put(pc)
	}
	if len(resp.Trailer) > 0 {
		ex.FlushError()
	}
	if len(resp.Trailer) == announced {
		for k, vv := range resp.Trailer {
			h[k] = vv
		}
		return
	}
	for k, vv := range resp.Trailer {
		for _, v := range vv {
			h.Add(http.TrailerPrefix+k, v)
		}
	}
}

// copyBody copies a response body to the client, flushing every write
// when flush is set (streamed responses, event streams).
func copyBody(ex *exchange, src io.Reader, buf []byte, flush bool) error {
	for {
		n, rerr := src.Read(buf)
		if n > 0 {
			if _, err := ex.Write(buf[:n]); err != nil {
				return err
			}
			if flush {
				if err := ex.FlushError(); err != nil {
					return err
				}
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}
