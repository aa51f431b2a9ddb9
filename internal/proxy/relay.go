package proxy

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// The relay: in a cluster, the other nodes' proxies reach this node's
// apps at this node's address. A docker-local app's containers publish
// their port on 127.0.0.1 only (never on a public address), so the proxy
// of the manager's node, told its cluster address (SetRelay), listens on
// ADDR:PORT for each PORT of a loopback target in its table and splices
// each connection to 127.0.0.1:PORT: the peers' routes name ADDR:PORT
// (package routing rewrites loopback targets for them). Only ports of
// the table's loopback targets are relayed, and only on that address,
// the one the swarm's nodes use to talk to each other. The address is
// kept in memory (the daemon sets it again every few seconds) and handed
// over to a proxy taking over, which binds the ports as soon as the old
// one lets them go (retried every 250 ms).

// relayRequest sets the relay's address; "" turns it off.
type relayRequest struct {
	Addr string `json:"addr"`
}

type relays struct {
	log   *slog.Logger
	mu    sync.Mutex
	addr  string
	ports map[int]bool
	lns   map[int]net.Listener
	warn  map[int]bool // ports whose listen failure was logged
	retry *time.Timer  // set while a port failed: the next try
}

// relayRetry is how often a relay port that could not be bound (taken,
// or still held by the proxy this one took over from) is tried again.
const relayRetry = 250 * time.Millisecond

// current is the relayed address ("": none).
func (r *relays) current() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.addr
}

func (r *relays) init(log *slog.Logger) {
	r.log = log
	r.lns = map[int]net.Listener{}
	r.warn = map[int]bool{}
}

// setAddr relays addr's ports from now on ("" : none).
func (r *relays) setAddr(addr string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if addr == r.addr {
		r.syncLocked() // retries ports that failed
		return
	}
	for p, ln := range r.lns {
		ln.Close()
		delete(r.lns, p)
	}
	r.addr = addr
	clear(r.warn)
	if addr != "" {
		r.log.Info("relaying this node's address to the loopback targets, for the other nodes' proxies", "addr", addr)
	}
	r.syncLocked()
}

// want relays ports (those of the table's loopback targets).
func (r *relays) want(ports map[int]bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ports = ports
	r.syncLocked()
}

func (r *relays) syncLocked() {
	for p, ln := range r.lns {
		if !r.ports[p] || r.addr == "" {
			ln.Close()
			delete(r.lns, p)
		}
	}
	if r.addr == "" {
		return
	}
	failed := false
	for p := range r.ports {
		if r.lns[p] != nil {
			continue
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(r.addr, strconv.Itoa(p)))
		if err != nil {
			if !r.warn[p] {
				r.warn[p] = true
				r.log.Warn("relay: cannot listen (trying again every 250ms): the other nodes' proxies cannot reach this target meanwhile", "addr", r.addr, "port", p, "err", err)
			}
			failed = true
			continue
		}
		if r.warn[p] {
			r.log.Info("relay: listening", "addr", r.addr, "port", p)
			delete(r.warn, p)
		}
		r.lns[p] = ln
		go relayServe(ln, net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	}
	if failed && r.retry == nil {
		r.retry = time.AfterFunc(relayRetry, func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.retry = nil
			r.syncLocked()
		})
	}
}

func (r *relays) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.retry != nil {
		r.retry.Stop()
		r.retry = nil
	}
	for p, ln := range r.lns {
		ln.Close()
		delete(r.lns, p)
	}
	r.addr = ""
}

func relayServe(ln net.Listener, target string) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go relayConn(c, target)
	}
}

// relayConn splices c to target, each direction closed after the other
// side's end.
func relayConn(c net.Conn, target string) {
	defer c.Close()
	b, err := net.DialTimeout("tcp", target, 5*time.Second)
	if err != nil {
		return
	}
	defer b.Close()
	done := make(chan struct{})
	go func() {
		io.Copy(b, c)
		if tc, ok := b.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
		close(done)
	}()
	io.Copy(c, b)
	if tc, ok := c.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
	<-done
}

// loopbackPorts are the ports of the table's targets on loopback.
func loopbackPorts(cfg map[string]Route) map[int]bool {
	ports := map[int]bool{}
	for _, r := range cfg {
		for _, t := range r.Targets {
			host, port, err := net.SplitHostPort(t.Addr)
			if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
				continue
			}
			if p, err := strconv.Atoi(port); err == nil {
				ports[p] = true
			}
		}
	}
	return ports
}

func (s *server) handleRelay(w http.ResponseWriter, r *http.Request) {
	var req relayRequest
	if !decode(w, r, &req) {
		return
	}
	if req.Addr != "" {
		ip := net.ParseIP(req.Addr)
		if ip == nil || ip.IsLoopback() || ip.IsUnspecified() {
			fail(w, errInvalid("relay address %q is not this node's cluster address (an IP, not loopback or unspecified)", req.Addr))
			return
		}
	}
	s.relay.setAddr(req.Addr)
	reply(w, struct{}{})
}

// SetRelay makes the proxy listen on addr (this node's cluster address)
// at each port of its loopback targets and pass the connections to
// 127.0.0.1 at that port, so the other nodes' proxies reach this node's
// docker-local apps; "" stops it. Kept in memory only.
func (c *Client) SetRelay(ctx context.Context, addr string) error {
	return c.call(ctx, http.MethodPut, "/v1/relay", relayRequest{Addr: addr}, nil)
}
