package proxy

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"
	"sync"
	"time"
)

// entry is the handler of one listener: it knows the port clients
// connected to, for X-Forwarded-Port, and whether it serves TLS.
type entry struct {
	s    *server
	port string
	tls  bool
	// extra is the port of an extra listener (Route.Ports), served only
	// for the routes that list it; 0 on the proxy's HTTP and HTTPS ports.
	extra int
}

// exchangeKey finds a request's exchange in its context.
type exchangeKey struct{}

// exchange is one request on its way through the proxy. It is also the
// ResponseWriter the ReverseProxy writes to, to see the status and size for
// the access log and the connection of an upgrade.
type exchange struct {
	w        http.ResponseWriter // the server's
	s        *server
	rt       *route
	idx      int // the target in rt, counted in; -1: none
	id       string
	port     string
	hsts     string // Strict-Transport-Security of the response; "": none
	status   int
	bytes    int64
	retried  bool
	upgraded bool       // a hijack was begun (hijacks.begin)
	conn     net.Conn   // the hijacked connection
	realIP   [1]string  // the X-Real-Ip value, kept here to cost no allocation
	idHeader [1]string  // the X-Request-Id of the response (fast path), likewise
	body     clientBody // the request body as the target reads it, when there is one
}

// clientBody is the client's request body, remembering the error reading
// it failed with: a body the client broke (bad chunked encoding, a cut
// connection) is the client's fault, not the target's.
type clientBody struct {
	rc  io.ReadCloser
	err error
	n   int64 // bytes read, for the request counters
}

func (b *clientBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.n += int64(n)
	if err != nil && err != io.EOF && b.err == nil {
		b.err = err
	}
	return n, err
}

func (b *clientBody) Close() error { return b.rc.Close() }

func (ex *exchange) target() *backend { return ex.rt.targets[ex.idx] }

func (e *entry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := e.s
	ex := &exchange{w: w, s: s, idx: -1, port: e.port, id: requestID(r.Header.Get("X-Request-Id"))}
	host := requestHost(r.Host)
	var start time.Time
	if s.cfg.AccessLog || s.meters.on {
		start = time.Now()
	}
	if s.cfg.AccessLog {
		defer ex.logAccess(r, host, start)
	}
	defer ex.count(start) // metrics.go; nothing when metrics are off
	// ACME HTTP-01 challenges come first, for any host.
	acme := strings.HasPrefix(r.URL.Path, acmePrefix)
	if acme && ex.answerChallenge(r) {
		return
	}
	t := s.table.Load()
	v := t.lookup(host)
	if v == nil || (e.extra != 0 && !v.rt.servesPort(e.extra)) {
		ex.notFound(host)
		return
	}
	ex.rt = v.rt
	if e.tls && v.rt.tls == nil { // the handshake got the fallback certificate
		ex.noCertificate(host, v.rt.app)
		return
	}
	if e.tls {
		ex.hsts = v.rt.hsts
	}
	switch {
	case v.to != "": // a domain redirect, same scheme
		scheme := "http"
		if e.tls {
			scheme = "https"
		}
		ex.redirect(v.code, scheme+"://"+v.to+requestURI(r))
		return
	case !e.tls && v.rt.toHTTPS && s.httpsPort != "" && !acme && e.extra == 0:
		to := "https://" + host
		if s.httpsPort != "443" {
			to += ":" + s.httpsPort
		}
		ex.redirect(http.StatusMovedPermanently, to+requestURI(r))
		return
	}
	rt, i := s.acquireIn(t, v.rt, host, "", "")
	if rt == nil { // the table changed meanwhile: the host left it
		ex.rt = nil
		ex.notFound(host)
		return
	}
	if rt != v.rt && e.tls { // the host moved to another app meanwhile
		ex.hsts = rt.hsts
	}
	ex.rt = rt
	if i < 0 {
		// No target: the app is stopped, or its containers are being
		// (re)started (an engine restart, a host reboot) and the daemon
		// took them out until they run again. Never another app's target.
		ex.w.Header().Set("Retry-After", "5")
		ex.page(http.StatusServiceUnavailable, "%s has no running web process (503 Service Unavailable): it is stopped, starting or restarting. Try again in a few seconds.", rt.app)
		return
	}
	ex.idx = i
	defer ex.release() // deferred: the ReverseProxy panics to abort a response

	if r.Method == http.MethodConnect {
		ex.page(http.StatusMethodNotAllowed, "CONNECT is not supported.")
		return
	}
	limit := rt.maxBody
	if limit >= 0 && r.ContentLength > limit {
		ex.tooLarge(limit)
		return
	}
	if !s.cfg.NoFastPath && fast(r) {
		ex.serveFast(r)
		return
	}
	in := r.WithContext(context.WithValue(r.Context(), exchangeKey{}, ex))
	if r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody {
		ex.body.rc = r.Body
		if limit >= 0 && r.ContentLength < 0 { // chunked: count as it comes
			ex.body.rc = http.MaxBytesReader(w, r.Body, limit)
		}
		in.Body = &ex.body
	}
	s.rp.ServeHTTP(ex, in)
}

func (ex *exchange) notFound(host string) {
	if host == "" {
		host = "this host name"
	} else if len(host) > 100 {
		host = host[:100] + "..."
	}
	ex.page(http.StatusNotFound, "No app is configured for %s.", host)
}

// noCertificate answers a request over TLS for a host whose app has no
// certificate: 421 Misdirected Request (this server cannot answer for the
// host over HTTPS), with a page saying how to get one.
func (ex *exchange) noCertificate(host, app string) {
	if len(host) > 100 {
		host = host[:100] + "..."
	}
	ex.page(http.StatusMisdirectedRequest, "No certificate for %s on this server: add one with `berth letsencrypt:enable %s` or `berth certs:add %s`.", host, app, app)
}

// requestURI returns the path and query of r exactly as the client sent
// them (encoded characters kept), for a redirect.
func requestURI(r *http.Request) string {
	u := r.URL.RequestURI()
	if !strings.HasPrefix(u, "/") { // "*" (OPTIONS), or a path-less oddity
		return "/"
	}
	return u
}

// redirect answers code with Location to.
func (ex *exchange) redirect(code int, to string) {
	body := "Moved to " + to + "\n"
	h := ex.w.Header()
	h.Set("Location", to)
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	h["X-Request-Id"] = []string{ex.id}
	if ex.hsts != "" {
		h.Set("Strict-Transport-Security", ex.hsts)
	}
	ex.WriteHeader(code)
	io.WriteString(ex, body)
}

// release counts the request out of its target.
func (ex *exchange) release() {
	ex.target().inflight.Add(-1)
	if ex.upgraded {
		ex.s.hj.end(ex.conn)
	}
}

// rewrite prepares the request to the target: same path, query and Host
// header as the client sent, and the X-Forwarded-* and X-Request-Id
// headers.
func (s *server) rewrite(pr *httputil.ProxyRequest) {
	ex := pr.In.Context().Value(exchangeKey{}).(*exchange)
	out := pr.Out
	out.URL.Scheme = "http"
	out.URL.Host = ex.target().addr
	// out.Host stays the client's Host: apps see their own host names.
	if prior := pr.In.Header["X-Forwarded-For"]; len(prior) > 0 {
		out.Header["X-Forwarded-For"] = prior
	}
	pr.SetXForwarded() // appends the client to X-Forwarded-For; sets -Host and -Proto
	// X-Real-Ip is the proxy's word, never the client's: replaced (in the
	// exchange's array, so that it allocates nothing).
	if ip, _, err := net.SplitHostPort(pr.In.RemoteAddr); err == nil {
		ex.realIP[0] = ip
		out.Header["X-Real-Ip"] = ex.realIP[:]
	} else {
		delete(out.Header, "X-Real-Ip")
	}
	out.Header["X-Forwarded-Port"] = []string{ex.port}
	out.Header["X-Request-Id"] = []string{ex.id}
}

func modifyResponse(resp *http.Response) error {
	if ex, ok := resp.Request.Context().Value(exchangeKey{}).(*exchange); ok {
		resp.Header["X-Request-Id"] = []string{ex.id}
		if ex.hsts != "" { // the route's policy replaces the app's
			resp.Header["Strict-Transport-Security"] = []string{ex.hsts}
		}
	}
	return nil
}

// errUpstreamTimeout is a target that did not send response headers in
// time.
var errUpstreamTimeout = errors.New("the target did not answer in time")

// upstream is the ReverseProxy's transport: the target's connection pool,
// plus the route's timeout to response headers and one retry on another
// target when a target refuses the connection.
type upstream struct {
	s *server
}

func (u *upstream) RoundTrip(req *http.Request) (*http.Response, error) {
	ex, ok := req.Context().Value(exchangeKey{}).(*exchange)
	if !ok {
		return nil, errors.New("proxy: request without an exchange")
	}
	for {
		resp, err := once(ex.target().tr, req, ex.rt.timeout)
		// The Transport has consumed a body; ReverseProxy sends nil for
		// none.
		if err == nil || !ex.retryRefused(req, err, req.Body != nil) {
			return resp, err
		}
		u2 := *req.URL
		u2.Host = ex.target().addr
		req = req.WithContext(req.Context()) // a shallow copy
		req.URL = &u2
	}
}

// retryRefused moves ex to another target of its app after err, if
// err is a refused connection (no byte of the request was sent), the
// request has no body, the client is still there, and it was not moved
// before: the one retry rule of both paths (upstream.RoundTrip and the
// fast path).
func (ex *exchange) retryRefused(r *http.Request, err error, hasBody bool) bool {
	if ex.retried || hasBody || !isDialError(err) || r.Context().Err() != nil {
		return false
	}
	ex.retried = true
	failed, container := ex.target(), ex.rt.containers[ex.idx]
	rt, i := ex.s.acquire("", ex.rt.app, failed.addr)
	if i < 0 {
		return false
	}
	ex.rt, ex.idx = rt, i
	failed.inflight.Add(-1)
	ex.s.log.Debug("target refused the connection: retrying on another", "app", rt.app, "container", container, "err", err)
	return true
}

// once sends req, failing with errUpstreamTimeout if the response headers
// do not arrive within timeout. The body may take as long as it needs.
func once(tr http.RoundTripper, req *http.Request, timeout time.Duration) (*http.Response, error) {
	ctx, cancel := context.WithCancel(req.Context())
	timer := time.AfterFunc(timeout, cancel)
	resp, err := tr.RoundTrip(req.WithContext(ctx))
	if !timer.Stop() {
		if err == nil {
			resp.Body.Close()
		}
		return nil, fmt.Errorf("%w (%s)", errUpstreamTimeout, timeout)
	}
	if err != nil {
		cancel()
	}
	return resp, err
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// proxyError answers a request the target failed.
func (s *server) proxyError(w http.ResponseWriter, req *http.Request, err error) {
	ex, ok := w.(*exchange)
	if !ok { // not ours; cannot happen
		http.Error(w, "Bad gateway.", http.StatusBadGateway)
		return
	}
	var tooLarge *http.MaxBytesError
	var netErr net.Error
	switch {
	case errors.As(err, &tooLarge):
		ex.tooLarge(tooLarge.Limit)
	case ex.body.err != nil: // the client's body broke, not the target
		if req.Context().Err() != nil { // the client went away
			ex.status = 499
			return
		}
		s.log.Info("client sent a malformed request body", "app", ex.rt.app, "request_id", ex.id, "err", ex.body.err)
		ex.page(http.StatusBadRequest, "Malformed request body (400 Bad Request).")
	case errors.Is(err, errUpstreamTimeout) || errors.As(err, &netErr) && netErr.Timeout():
		s.log.Warn("target did not answer in time", "app", ex.rt.app, "container", ex.rt.containers[ex.idx], "request_id", ex.id, "err", err)
		ex.page(http.StatusGatewayTimeout, "%s did not answer in time (504 Gateway Timeout).", ex.rt.app)
	case req.Context().Err() != nil: // the client went away
		ex.status = 499
	default:
		s.log.Warn("target failed", "app", ex.rt.app, "container", ex.rt.containers[ex.idx], "request_id", ex.id, "err", err)
		ex.page(http.StatusBadGateway, "%s did not answer (502 Bad Gateway).", ex.rt.app)
	}
}

func (ex *exchange) tooLarge(limit int64) {
	ex.page(http.StatusRequestEntityTooLarge, "Request body too large: the limit is %s.", formatSize(limit))
}

// page answers with a short plain-text page. It names apps and host names,
// never internal addresses.
func (ex *exchange) page(code int, format string, args ...any) {
	body := fmt.Sprintf(format, args...) + "\n"
	h := ex.w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h["X-Request-Id"] = []string{ex.id}
	if ex.hsts != "" {
		h.Set("Strict-Transport-Security", ex.hsts)
	}
	ex.WriteHeader(code)
	io.WriteString(ex, body)
}

func formatSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// requestID returns the client's X-Request-Id if it looks sane (1 to 128
// characters of a URL-safe, base64 or UUID alphabet), else a new one of 16
// random bytes in hex. Ids need to be unique, not secret: math/rand/v2 is
// seeded from the OS and takes no lock.
func requestID(in string) string {
	if n := len(in); n > 0 && n <= 128 {
		ok := true
		for i := 0; i < n && ok; i++ {
			c := in[i]
			ok = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
				c == '-' || c == '_' || c == '.' || c == ':' || c == '+' || c == '/' || c == '='
		}
		if ok {
			return in
		}
	}
	var raw [16]byte
	for i := 0; i < 16; i += 8 {
		v := rand.Uint64()
		for j := range 8 {
			raw[i+j] = byte(v >> (8 * j))
		}
	}
	var out [32]byte
	hex.Encode(out[:], raw[:])
	return string(out[:])
}

func (ex *exchange) logAccess(r *http.Request, host string, start time.Time) {
	status := ex.status
	if status == 0 {
		status = 499 // nothing written: the client went away
	}
	attrs := []slog.Attr{
		slog.String("method", r.Method),
		slog.String("host", host),
		slog.String("path", r.URL.Path), // not the query: it may hold secrets
		slog.Int("status", status),
		slog.Int64("bytes", ex.bytes),
		slog.Duration("duration", time.Since(start)),
		slog.String("request_id", ex.id),
	}
	if ex.rt != nil {
		attrs = append(attrs, slog.String("app", ex.rt.app))
		if ex.idx >= 0 {
			attrs = append(attrs, slog.String("target", ex.target().addr), slog.String("container", ex.rt.containers[ex.idx]))
		}
	}
	ex.s.log.LogAttrs(context.Background(), slog.LevelInfo, "request", attrs...)
}

// The ResponseWriter side of exchange.

func (ex *exchange) Header() http.Header { return ex.w.Header() }

func (ex *exchange) WriteHeader(code int) {
	if code >= 200 && ex.status == 0 { // not 1xx: those come from the transport's goroutine
		ex.status = code
	}
	ex.w.WriteHeader(code)
}

func (ex *exchange) Write(p []byte) (int, error) {
	if ex.status == 0 {
		ex.status = http.StatusOK
	}
	n, err := ex.w.Write(p)
	ex.bytes += int64(n)
	return n, err
}

// FlushError flushes buffered data to the client (streaming responses).
func (ex *exchange) FlushError() error { return http.NewResponseController(ex.w).Flush() }

// Flush is FlushError for callers that want an http.Flusher.
func (ex *exchange) Flush() { ex.FlushError() }

// Hijack takes over the client's connection for a protocol upgrade; the
// request stays counted in on its target until the connection closes.
func (ex *exchange) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if !ex.s.hj.begin() {
		return nil, nil, errors.New("the proxy is shutting down")
	}
	c, brw, err := http.NewResponseController(ex.w).Hijack()
	if err != nil {
		ex.s.hj.end(nil)
		return nil, nil, err
	}
	ex.upgraded, ex.conn, ex.status = true, c, http.StatusSwitchingProtocols
	ex.s.hj.add(c)
	return c, brw, nil
}

// Unwrap gives http.ResponseController the server's ResponseWriter.
func (ex *exchange) Unwrap() http.ResponseWriter { return ex.w }

// bufferPool recycles the ReverseProxy's copy buffers.
type bufferPool struct{}

var buffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *buffers.Get().(*[]byte) }
func (bufferPool) Put(b []byte) { buffers.Put(&b) }

var _ httputil.BufferPool = bufferPool{}
