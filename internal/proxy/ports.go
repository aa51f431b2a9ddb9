package proxy

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Extra ports. A route may ask to be served on more host ports than the
// proxy's HTTP and HTTPS listeners (Route.Ports: Dokku's port maps such
// as http:8080:5000). The proxy listens on the union of the ports its
// routes ask for, on the host address of its HTTP listener, and stops
// listening on a port no route asks for any more (finishing the requests
// in flight there). Requests on an extra port are routed by Host as on
// the main listeners, to routes that list the port; the request path costs
// one scan of the route's few ports more, and nothing on the main ports.
//
// Opening a port is done outside the table's lock, by one goroutine
// (run): a port that cannot be bound (taken by another program, or by
// the proxy being replaced in a hand-over, which closes its extra
// listeners as it retires) is retried every retryPortsEvery until it is
// bound or no longer wanted, and logged once.

// retryPortsEvery is how often ports that could not be bound are tried
// again.
const retryPortsEvery = 250 * time.Millisecond

// extraPorts are the extra listeners of one proxy.
type extraPorts struct {
	s *server

	mu      sync.Mutex
	host    string       // of the HTTP listener; set by start
	wanted  map[int]bool // port -> TLS, of the live table
	open    map[int]*extraPort
	failed  map[int]string // port -> the error last logged
	kick    chan struct{}
	stopped bool
	// after is the retry timer (time.After; tests count its calls).
	after func(time.Duration) <-chan time.Time
}

type extraPort struct {
	tls bool
	srv *http.Server
}

func (x *extraPorts) init(s *server) {
	x.s = s
	x.open = map[int]*extraPort{}
	x.failed = map[int]string{}
	x.kick = make(chan struct{}, 1)
	if x.after == nil {
		x.after = time.After
	}
}

// want records the ports the live table asks for (install calls it, with
// the table's lock held) and wakes run.
func (x *extraPorts) want(ports map[int]bool) {
	x.mu.Lock()
	x.wanted = ports
	x.mu.Unlock()
	select {
	case x.kick <- struct{}{}:
	default:
	}
}

// run opens and closes listeners as the table asks until ctx ends; host
// is the HTTP listener's address (its port is ignored).
func (x *extraPorts) run(ctx context.Context, httpAddr string) {
	host, _, _ := net.SplitHostPort(httpAddr)
	x.mu.Lock()
	x.host = host
	x.mu.Unlock()
	for {
		// Only a port that could not be bound is retried on a timer: an
		// idle proxy whose ports are all open sleeps until the table
		// changes (no polling).
		var retry <-chan time.Time
		if x.sync() {
			retry = x.after(retryPortsEvery)
		}
		select {
		case <-ctx.Done():
			return
		case <-x.kick:
		case <-retry:
		}
	}
}

// sync makes the open listeners match the wanted ports; it reports
// whether some port could not be bound.
func (x *extraPorts) sync() bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.stopped {
		return false
	}
	for port, p := range x.open {
		if tlsWanted, ok := x.wanted[port]; !ok || tlsWanted != p.tls {
			delete(x.open, port)
			go x.shutdown(port, p.srv)
		}
	}
	pending := false
	for port, useTLS := range x.wanted {
		if _, ok := x.open[port]; ok {
			continue
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(x.host, strconv.Itoa(port)))
		if err != nil {
			pending = true
			if x.failed[port] != err.Error() {
				x.failed[port] = err.Error()
				x.s.log.Error("cannot listen on a port a route asks for: retrying", "port", port, "err", err)
			}
			continue
		}
		if x.failed[port] != "" {
			x.s.log.Info("listening on the port at last", "port", port)
		}
		delete(x.failed, port)
		srv := x.s.httpServer(strconv.Itoa(port), useTLS, port)
		if useTLS {
			srv.TLSConfig = x.s.newTLSConfig()
			ln = tls.NewListener(ln, srv.TLSConfig)
		}
		x.open[port] = &extraPort{tls: useTLS, srv: srv}
		x.s.log.Info("listening on an extra port", "port", port, "tls", useTLS)
		go srv.Serve(ln)
	}
	for port := range x.failed {
		if _, ok := x.wanted[port]; !ok {
			delete(x.failed, port)
		}
	}
	return pending
}

// shutdown stops a listener no route wants, finishing its requests.
func (x *extraPorts) shutdown(port int, srv *http.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), x.s.cfg.ShutdownTimeout)
	defer cancel()
	if srv.Shutdown(ctx) != nil {
		srv.Close()
	}
	x.s.log.Info("stopped listening on an extra port", "port", port)
}

// stop closes every extra listener and finishes their requests (the proxy
// stopping, or retiring after a hand-over: the new proxy binds the ports
// once they are free).
func (x *extraPorts) stop(ctx context.Context) {
	x.mu.Lock()
	x.stopped = true
	open := x.open
	x.open = map[int]*extraPort{}
	x.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range open {
		wg.Go(func() {
			if p.srv.Shutdown(ctx) != nil {
				p.srv.Close()
			}
		})
	}
	wg.Wait()
}
