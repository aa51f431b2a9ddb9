package proxy

import (
	"context"
	"net"
	"sync"
)

// hijacks tracks connections taken over by protocol upgrades (WebSockets),
// which http.Server.Shutdown neither waits for nor closes.
type hijacks struct {
	wg      sync.WaitGroup // one per upgraded request still in its handler
	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	stopped bool // shutting down: no new upgrades
	closed  bool // shutdown timeout passed: upgraded connections are closed
}

// begin is called before a connection is hijacked; false refuses it.
func (h *hijacks) begin() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped {
		return false
	}
	h.wg.Add(1)
	return true
}

// add records a hijacked connection; end must follow when its handler ends.
func (h *hijacks) add(c net.Conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		c.Close()
	}
	h.conns[c] = struct{}{}
}

// end is called when an upgraded request's handler returns (c may be nil
// if the hijack failed).
func (h *hijacks) end(c net.Conn) {
	h.mu.Lock()
	delete(h.conns, c)
	h.mu.Unlock()
	h.wg.Done()
}

// wait refuses new upgrades and waits for upgraded connections to end until
// ctx ends; then it closes those left and waits for their handlers. It
// returns how many it closed.
func (h *hijacks) wait(ctx context.Context) int {
	h.mu.Lock()
	h.stopped = true
	h.mu.Unlock()
	done := make(chan struct{})
	go func() {
		h.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return 0
	case <-ctx.Done():
	}
	h.mu.Lock()
	h.closed = true
	n := len(h.conns)
	for c := range h.conns {
		c.Close()
	}
	h.mu.Unlock()
	<-done
	return n
}
