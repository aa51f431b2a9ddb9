package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// server is one running proxy.
type server struct {
	cfg   Config
	log   *slog.Logger
	table atomic.Pointer[table]

	rp        *httputil.ReverseProxy
	transport *http.Transport // the settings of each backend's own transport
	httpAddr  string
	httpsAddr string // "": no TLS listener
	httpsPort string // of httpsAddr, for redirects to HTTPS
	hj        hijacks
	acme      expiring[string]                 // ACME HTTP-01 key authorizations by token, in memory only
	alpn      expiring[*tls.Config]            // ACME TLS-ALPN-01 handshakes by DNS name, in memory only
	fallback  func() (*tls.Certificate, error) // for names without a certificate; made once, on first use

	// The control side: changes to the table are serialized by mu.
	mu          sync.Mutex
	backends    map[string]*backend // by address: listed in the table, or busy
	probers     map[string]*prober  // by address
	probeWG     sync.WaitGroup
	probeClient *http.Client
	baseCtx     context.Context // probers run in it; canceled at the end
	stopping    chan struct{}   // closed when shutdown begins: Drain stops waiting
	ho          handover        // the listeners, control socket and state lock, for a hand-over
	xp          extraPorts      // the listeners of the routes' extra ports
	stateSync   stateSyncer     // the state file's background fsync
	relay       relays          // this node's address relayed to loopback targets (relay.go)
	meters      meters          // request counters by app and release (metrics.go)
}

func newServer(ctx context.Context, cfg Config) *server {
	s := &server{
		cfg:         cfg,
		log:         cfg.Log,
		backends:    make(map[string]*backend),
		probers:     make(map[string]*prober),
		probeClient: newProbeClient(),
		baseCtx:     ctx,
		stopping:    make(chan struct{}),
		ho:          handover{done: make(chan struct{})},
		fallback:    sync.OnceValues(newFallbackCert),
		meters:      newMeters(!cfg.NoMetrics),
	}
	s.hj.conns = make(map[net.Conn]struct{})
	s.xp.init(s)
	s.relay.init(cfg.Log)
	s.transport = &http.Transport{
		Proxy: nil, // never HTTP_PROXY from the environment
		DialContext: (&net.Dialer{
			Timeout:   targetDialTimeout,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConnsPerHost:   100,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true, // pass bodies through as they are
		ResponseHeaderTimeout: 0,    // per route: see upstream.RoundTrip
	}
	errLog := slog.NewLogLogger(cfg.Log.Handler(), slog.LevelWarn)
	s.rp = &httputil.ReverseProxy{
		Rewrite:   s.rewrite,
		Transport: &upstream{s: s},
		// 0: one write per sized response; streamed ones and event streams
		// are still flushed at every write (-1 cost two writes and a
		// goroutine per request: docs/proxy.md "Performance").
		FlushInterval:  0,
		ErrorLog:       errLog,
		ErrorHandler:   s.proxyError,
		ModifyResponse: modifyResponse,
		BufferPool:     bufferPool{},
	}
	s.table.Store(emptyTable())
	return s
}

func emptyTable() *table {
	return &table{
		exact:  map[string]*vhost{},
		wild:   map[string]*vhost{},
		apps:   map[string]*route{},
		config: map[string]Route{},
	}
}

// Run serves until ctx ends, then shuts down gracefully: it stops
// accepting, finishes requests in flight (WebSockets included) for up to
// ShutdownTimeout, and returns nil. At start it loads StateFile, so a
// restarted proxy serves the last routes at once.
func Run(ctx context.Context, cfg Config) error {
	cfg = cfg.withDefaults()
	if cfg.HTTPAddr == "" || cfg.ControlSocket == "" {
		return errors.New("proxy: HTTPAddr and ControlSocket are required")
	}
	if cfg.ControlAddr != "" && cfg.ControlTLS == nil {
		return errors.New("proxy: ControlAddr needs ControlTLS")
	}
	log := cfg.Log
	if os.Getenv("BERTH_PROXY_METRICS") == "off" {
		cfg.NoMetrics = true
	}
	baseCtx, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	s := newServer(baseCtx, cfg)
	defer s.stopProbers()
	defer s.closeIdle()

	// An upgrade: the sockets and routes of the running proxy.
	var in *inherited
	if cfg.TakeOver {
		var err error
		if in, err = takeOver(ctx, cfg); err != nil {
			return err
		}
	}
	if in != nil {
		defer in.close()
		log.Info("taking over from the running proxy", "pid", in.offer.PID, "version", in.offer.Version, "routes", len(in.offer.Routes))
		if err := s.load(in.offer.Routes); err != nil {
			in.abort(err)
			return err
		}
	} else if err := s.open(true); err != nil {
		return err
	}
	defer s.ho.release()

	ln, tlsLn, err := s.listen(in)
	if in != nil {
		// A socket not taken (its address changed) must not hold
		// connections nobody accepts.
		in.closeListeners()
	}
	if err != nil {
		if in != nil {
			in.abort(err)
		}
		return err
	}
	defer ln.Close()
	if tlsLn != nil {
		defer tlsLn.Close()
	}
	if in != nil {
		if err := inheritedHook(cfg); err != nil {
			in.abort(err)
			return err
		}
	}

	newServer := func(port string, tls bool) *http.Server { return s.httpServer(port, tls, 0) }
	_, port, _ := net.SplitHostPort(s.httpAddr)
	httpSrv := newServer(port, false)
	ctlSrv := &http.Server{
		Handler:           s.controlHandler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 4)
	if os.Getenv("BERTH_PROXY_H1LOOP") == "0" {
		cfg.NoH1Loop = true
	}
	var h1 *h1server // nil: net/http serves plain HTTP
	serveLn := ln
	if !cfg.NoH1Loop && !cfg.NoFastPath {
		h1 = newH1Server(httpSrv.Handler.(*entry), s.ho.track, cfg.IdleTimeout, cfg.ReadHeaderTimeout)
		serveLn = h1.listen(ln)
	}
	go func() { errc <- fmt.Errorf("proxy: serve HTTP: %w", httpSrv.Serve(serveLn)) }()
	var httpsSrv *http.Server
	if tlsLn != nil {
		httpsSrv = newServer(s.httpsPort, true)
		httpsSrv.TLSConfig = s.newTLSConfig() // with NextProtos h2: ServeTLS serves HTTP/2
		go func() { errc <- fmt.Errorf("proxy: serve HTTPS: %w", httpsSrv.ServeTLS(tlsLn, "", "")) }()
	}
	if in != nil {
		// Serving: the old proxy stops accepting and gives up the control
		// socket and the state file.
		in.ready()
		if err := s.open(false); err != nil {
			return err
		}
		// The relay's ports, once the old proxy lets them go.
		s.relay.setAddr(in.offer.Relay)
	}
	s.ho.ln, s.ho.tlsLn = ln, tlsLn
	ctl := s.ho.ctl
	go func() {
		err := ctlSrv.Serve(ctl)
		select {
		case <-s.ho.done: // handed over: the socket is the new proxy's
		default:
			errc <- fmt.Errorf("proxy: serve control socket: %w", err)
		}
	}()
	var remote *remoteControl
	if cfg.ControlAddr != "" {
		if remote, err = s.listenRemote(cfg.ControlTLS, in != nil); err != nil {
			return err
		}
		go func() { errc <- fmt.Errorf("proxy: serve control over TCP: %w", remote.srv.Serve(remote.ln)) }()
	}
	go s.xp.run(baseCtx, s.httpAddr)
	s.xp.want(s.table.Load().ports)
	log.Info("proxy started", "http", s.httpAddr, "https", s.httpsAddr, "socket", cfg.ControlSocket, "control_addr", cfg.ControlAddr, "routes", len(s.table.Load().config), "version", cfg.Version, "pid", os.Getpid(), "fast_path", !cfg.NoFastPath, "h1_loop", h1 != nil)
	if cfg.Ready != nil {
		cfg.Ready(s.httpAddr)
	}

	var runErr error
	handedOver := false
	select {
	case <-ctx.Done():
	case <-s.ho.done:
		handedOver = true
	case runErr = <-errc:
	}

	log.Info("proxy stopping: finishing requests in flight", "timeout", cfg.ShutdownTimeout)
	s.relay.close()
	if remote != nil {
		// At once: a proxy taking over binds the port next.
		remote.ln.Close()
		defer remote.srv.Close()
	}
	close(s.stopping)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if handedOver {
		// The extra ports are not handed over: let them go at once, so
		// the new proxy binds them (see ports.go).
		go s.xp.stop(sctx)
		var off func()
		if h1 != nil {
			off = h1.disableKeepAlives
		}
		s.ho.retire(sctx, []*http.Server{httpSrv, httpsSrv}, []net.Listener{ln, tlsLn}, off)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		if ctlSrv.Shutdown(sctx) != nil {
			ctlSrv.Close()
		}
	})
	wg.Go(func() { s.xp.stop(sctx) })
	shutdown := func(srv *http.Server) {
		// A listener the hand-over closed first is no error.
		if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, net.ErrClosed) {
			log.Warn("requests still in flight after the shutdown timeout: closing them", "err", err)
			srv.Close()
		}
	}
	if httpsSrv != nil {
		wg.Go(func() { shutdown(httpsSrv) })
	}
	if h1 != nil {
		// The loop's connections first: while they finish, net/http's
		// server still takes those they hand over.
		ln.Close()
		if err := h1.shutdown(sctx); err != nil {
			log.Warn("requests still in flight after the shutdown timeout: closed them", "err", err)
		}
	}
	shutdown(httpSrv)
	if n := s.hj.wait(sctx); n > 0 {
		log.Warn("upgraded connections (WebSockets) still open after the shutdown timeout: closed them", "count", n)
	}
	wg.Wait()
	log.Info("proxy stopped")
	return runErr
}

// restore installs the routes of the state file. Routes that are invalid
// or claim a host another route has are dropped, loudly: the daemon pushes
// the whole table when it starts.
func (s *server) restore() error {
	routes, err := loadState(s.cfg.StateFile)
	var corrupt *corruptStateError
	if errors.As(err, &corrupt) {
		aside := s.cfg.StateFile + ".corrupt"
		if rerr := os.Rename(s.cfg.StateFile, aside); rerr != nil {
			return fmt.Errorf("%v; move it aside: %w", err, rerr)
		}
		s.log.Error("state file unreadable: moved aside, starting with no routes", "err", err, "moved_to", aside)
		return nil
	}
	if err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	return s.load(routes)
}

// load installs routes (of the state file, or handed over by the proxy
// this one replaces).
func (s *server) load(routes []Route) error {
	cfg := make(map[string]Route, len(routes))
	certs := make(map[string]*routeCert)
	for _, r := range routes {
		n, err := normalizeRoute(r)
		var cert *routeCert
		if err == nil && n.TLS != nil {
			cert, err = parseCert(n)
		}
		if err == nil {
			if _, dup := cfg[n.App]; dup {
				err = errInvalid("app %s is listed twice", n.App)
			} else if cfg[n.App] = n; checkConflicts(cfg) != nil {
				err = checkConflicts(cfg)
				delete(cfg, n.App)
			} else if cert != nil {
				certs[n.App] = cert
			}
		}
		if err != nil {
			s.log.Error("state file: route dropped", "app", r.App, "err", err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, fresh := s.build(cfg, certs)
	old := s.table.Load()
	s.install(t, fresh)
	s.reportCerts(old, t)
	return nil
}

// build makes a table of cfg, reusing the backends of addresses the proxy
// knows; certs are the parsed certificates of the routes with TLS (see
// parseCerts). Backends it had to create are returned, to be registered
// once the table is installed.
func (s *server) build(cfg map[string]Route, certs map[string]*routeCert) (*table, map[string]*backend) {
	t := &table{
		exact:  make(map[string]*vhost),
		wild:   make(map[string]*vhost),
		apps:   make(map[string]*route, len(cfg)),
		config: cfg,
		ports:  make(map[int]bool),
	}
	fresh := make(map[string]*backend)
	s.meters.begin()
	add := func(pattern string, v *vhost) {
		if d, ok := strings.CutPrefix(pattern, "*."); ok {
			t.wild[d] = v
		} else {
			t.exact[pattern] = v
		}
	}
	for app, r := range cfg {
		rt := &route{app: app, maxBody: r.MaxBodyBytes, timeout: r.UpstreamTimeout, meter: s.meters.get(app, r.Release)}
		if rt.maxBody == 0 {
			rt.maxBody = s.cfg.MaxBodyBytes
		}
		if rt.timeout == 0 {
			rt.timeout = s.cfg.UpstreamTimeout
		}
		if r.TLS != nil && certs[app] != nil {
			rt.tls = certs[app]
			rt.uncovered = uncoveredHosts(rt.tls.leaf(), r)
			if r.TLS.HSTS != nil {
				rt.hsts = r.TLS.HSTS.header()
			}
			rt.toHTTPS = r.TLS.RedirectHTTP
		}
		for _, p := range r.Ports {
			rt.ports = append(rt.ports, p.Port)
			t.ports[p.Port] = p.TLS
		}
		for _, tg := range r.Targets {
			b := s.backends[tg.Addr]
			if b == nil {
				if b = fresh[tg.Addr]; b == nil {
					b = &backend{addr: tg.Addr, tr: s.transport.Clone()}
					fresh[tg.Addr] = b
				}
			}
			rt.targets = append(rt.targets, b)
			rt.containers = append(rt.containers, tg.Container)
		}
		t.apps[app] = rt
		served := &vhost{rt: rt}
		for _, h := range r.Hosts {
			add(h, served)
		}
		for _, rd := range r.Redirects {
			code := rd.Code
			if code == 0 {
				code = DefaultRedirectCode
			}
			add(rd.From, &vhost{rt: rt, to: rd.To, code: code})
		}
	}
	return t, fresh
}

// install makes t the live table. Called with s.mu held.
func (s *server) install(t *table, fresh map[string]*backend) {
	s.table.Store(t)
	maps.Copy(s.backends, fresh)
	s.collect()
	s.syncProbers(t)
	s.xp.want(t.ports)
	s.relay.want(loopbackPorts(t.config))
	s.meters.prune(t)
}

// commit validates, persists and installs a new table. If any step fails,
// the live table is unchanged. Called with s.mu held.
func (s *server) commit(cfg map[string]Route) error {
	if s.ho.retired {
		return errRetired
	}
	if err := checkConflicts(cfg); err != nil {
		return err
	}
	certs, err := s.parseCerts(cfg)
	if err != nil {
		return err
	}
	t, fresh := s.build(cfg, certs)
	if s.cfg.StateFile != "" {
		if err := saveState(s.cfg.StateFile, &s.stateSync, t.sortedRoutes()); err != nil {
			return err
		}
	}
	old := s.table.Load()
	s.install(t, fresh)
	s.reportCerts(old, t)
	return nil
}

// collect forgets backends that are neither in the table nor busy. A
// request may still count in on one it picked from an older table; it then
// sees the table changed and picks again (see acquire). Called with s.mu
// held.
func (s *server) collect() {
	listed := make(map[*backend]bool, len(s.backends))
	for _, rt := range s.table.Load().apps {
		for _, b := range rt.targets {
			listed[b] = true
		}
	}
	for addr, b := range s.backends {
		if !listed[b] && b.inflight.Load() == 0 {
			delete(s.backends, addr)
			b.closeIdle()
		}
	}
}

// closeIdle closes the idle connections to every target (shutdown).
func (s *server) closeIdle() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.backends {
		b.closeIdle()
	}
}

func (s *server) setRoute(r Route) error {
	r, err := normalizeRoute(r)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cfg := maps.Clone(s.table.Load().config)
	if old, ok := cfg[r.App]; ok && reflect.DeepEqual(old, r) {
		return nil // nothing to change or persist
	}
	cfg[r.App] = r
	return s.commit(cfg)
}

func (s *server) deleteRoute(app string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cfg := maps.Clone(s.table.Load().config)
	if _, ok := cfg[app]; !ok {
		return nil
	}
	delete(cfg, app)
	return s.commit(cfg)
}

func (s *server) replace(routes []Route) error {
	cfg := make(map[string]Route, len(routes))
	for _, r := range routes {
		r, err := normalizeRoute(r)
		if err != nil {
			return err
		}
		if _, dup := cfg[r.App]; dup {
			return errInvalid("app %s has two routes", r.App)
		}
		cfg[r.App] = r
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.commit(cfg)
}

// drain waits until no request is in flight to addrs, or timeout, and
// returns how many still are. It polls the targets' counters, so the
// request path stays lock-free.
func (s *server) drain(ctx context.Context, addrs []string, timeout time.Duration) (int, error) {
	s.mu.Lock()
	var bs []*backend
	for _, a := range addrs {
		if b := s.backends[a]; b != nil {
			bs = append(bs, b)
		}
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.collect()
		s.mu.Unlock()
	}()
	count := func() int {
		n := int64(0)
		for _, b := range bs {
			n += b.inflight.Load()
		}
		return int(n)
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		n := count()
		if n == 0 {
			return 0, nil
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			return count(), nil
		case <-s.stopping:
			return n, nil
		case <-ctx.Done():
			return n, ctx.Err()
		}
	}
}

// httpServer is the server of one listener: the proxy's HTTP or HTTPS
// port (extra 0), or an extra port a route asks for.
func (s *server) httpServer(port string, tls bool, extra int) *http.Server {
	return &http.Server{
		Handler:           &entry{s: s, port: port, tls: tls, extra: extra},
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout, // also bounds the TLS handshake
		IdleTimeout:       s.cfg.IdleTimeout,
		ErrorLog:          newErrorLog(s.log),
		ConnState:         s.ho.track,
	}
}
