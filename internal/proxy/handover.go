package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/berthpaas/berth/internal/failpoint"
)

// The hand-over: a new proxy (an upgrade, Config.TakeOver) takes the
// listening sockets and the routing table from the running one, with no
// moment at which nothing accepts.
//
//  1. new -> old: POST /v1/handover on the control socket (handoverRequest).
//  2. old: freezes its table (s.mu, held until step 4 or an abort), hijacks
//     the connection and sends one zero byte carrying the listeners' file
//     descriptors (SCM_RIGHTS), then a handoverOffer (JSON): its configured
//     addresses and its routes, certificates included.
//  3. new: installs the routes, serves on the inherited sockets (both
//     processes now accept from the same kernel queue) and answers
//     handoverReply{Ready: true}.
//  4. old: refuses table changes from now on, closes its control socket
//     (which unlinks the path) and releases the state file's lock, answers
//     handoverReply{Done: true}, then stops accepting and finishes its
//     requests in flight (ShutdownTimeout, WebSockets included) and returns.
//  5. new: takes the state lock and the control socket, and is ready.
//
// A new proxy that fails or dies before step 3 (the connection breaks, or
// handoverTimeout passes) leaves the old one serving as if nothing
// happened: it never stopped accepting, and its table thaws.

// handoverTimeout bounds step 3 on the old proxy's side and step 4 on the
// new one's.
var handoverTimeout = 30 * time.Second

type handoverRequest struct {
	PID     int    `json:"pid"`
	Version string `json:"version"`
}

type handoverOffer struct {
	PID     int    `json:"pid"`
	Version string `json:"version"`
	// HTTPAddr and HTTPSAddr are the old proxy's configured addresses
	// (Config.HTTPAddr, HTTPSAddr), not the bound ones: a new proxy
	// configured the same way inherits the socket.
	HTTPAddr  string   `json:"http_addr"`
	HTTPSAddr string   `json:"https_addr,omitempty"`
	FDs       []string `json:"fds"` // the role of each descriptor: "http", "https"
	Routes    []Route  `json:"routes"`
	Relay     string   `json:"relay,omitempty"` // the relayed address (relay.go)
}

type handoverReply struct {
	Ready bool   `json:"ready,omitempty"`
	Done  bool   `json:"done,omitempty"`
	Error string `json:"error,omitempty"`
}

// errHandoverUnsupported: the running proxy has no hand-over (an older
// Berth).
var errHandoverUnsupported = errors.New("the running proxy cannot hand its listeners over (it predates the hand-over); stop it to move to the new one")

// handover holds what a proxy gives up when it hands over.
type handover struct {
	busy      sync.Mutex    // one hand-over at a time
	retired   bool          // (s.mu) handed over: table changes are refused
	done      chan struct{} // closed once handed over: Run stops serving
	ln, tlsLn net.Listener
	ctl       net.Listener // the control socket
	unlock    func()       // of the state file
	released  sync.Once
	fresh     sync.Map // connections accepted whose first request is not read yet
}

// track is the servers' ConnState hook: it keeps the connections in
// StateNew (HTTP/2 ones stay there until they close).
func (h *handover) track(c net.Conn, st http.ConnState) {
	if st == http.StateNew {
		h.fresh.Store(c, struct{}{})
	} else {
		h.fresh.Delete(c)
	}
}

// retire stops a proxy that handed over without losing a connection it
// accepted: http.Server.Shutdown drops a connection whose first request
// arrives after it began (the client sees EOF and, the connection being
// fresh, does not retry). So first it stops accepting (the sockets stay
// open in the new proxy), turns keep-alive off (idle connections are
// closed: clients retry on a new connection, which the new proxy
// accepts), and waits until every connection it accepted has read its
// first request or closed; Shutdown then finishes them. HTTP/2
// connections are left to Shutdown, which sends them GOAWAY.
func (h *handover) retire(ctx context.Context, srvs []*http.Server, lns []net.Listener, keepAlivesOff func()) {
	for _, ln := range lns {
		if ln != nil {
			ln.Close()
		}
	}
	for _, srv := range srvs {
		if srv != nil {
			srv.SetKeepAlivesEnabled(false)
		}
	}
	if keepAlivesOff != nil { // the HTTP/1.1 loop's connections
		keepAlivesOff()
	}
	for ctx.Err() == nil {
		waiting := 0
		h.fresh.Range(func(k, _ any) bool {
			if tc, ok := k.(*tls.Conn); ok && tc.ConnectionState().NegotiatedProtocol == "h2" {
				return true
			}
			waiting++
			return true
		})
		if waiting == 0 {
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// errRetired answers table changes that reach a proxy after it handed over.
var errRetired = errors.New("proxy: this proxy has handed over to a new one: send the change again")

// release closes the control socket (unlinking its path) and unlocks the
// state file, once.
func (h *handover) release() {
	h.released.Do(func() {
		if h.ctl != nil {
			h.ctl.Close()
		}
		if h.unlock != nil {
			h.unlock()
		}
	})
}

// listen returns the HTTP and HTTPS listeners: those inherited when the
// address is configured as the old proxy's was, new ones otherwise.
func (s *server) listen(in *inherited) (ln, tlsLn net.Listener, err error) {
	get := func(role, addr string) (net.Listener, error) {
		if in != nil {
			if l := in.take(role, addr); l != nil {
				return l, nil
			}
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("proxy: %w", err)
		}
		return l, nil
	}
	if ln, err = get("http", s.cfg.HTTPAddr); err != nil {
		return nil, nil, err
	}
	s.httpAddr = ln.Addr().String()
	if s.cfg.HTTPSAddr != "" {
		if tlsLn, err = get("https", s.cfg.HTTPSAddr); err != nil {
			ln.Close()
			return nil, nil, err
		}
		s.httpsAddr = tlsLn.Addr().String()
		_, s.httpsPort, _ = net.SplitHostPort(s.httpsAddr)
	}
	return ln, tlsLn, nil
}

// handleHandover serves POST /v1/handover (see the protocol above).
func (s *server) handleHandover(w http.ResponseWriter, r *http.Request) {
	var req handoverRequest
	if !decode(w, r, &req) {
		return
	}
	h := &s.ho
	if !h.busy.TryLock() {
		fail(w, errConflict("a hand-over to another proxy is in progress"))
		return
	}
	defer h.busy.Unlock()
	s.mu.Lock()
	frozen := true
	defer func() {
		if frozen {
			s.mu.Unlock()
		}
	}()
	if h.retired {
		fail(w, errConflict("this proxy has already handed over"))
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		fail(w, errors.New("proxy: the control connection cannot be taken over"))
		return
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		s.log.Error("hand-over: take the connection", "err", err)
		return
	}
	defer conn.Close()
	log := s.log.With("to_pid", req.PID, "to_version", req.Version)
	log.Info("hand-over: sending the listeners and routes to a new proxy")
	abort := func(why string, err error) {
		log.Warn("hand-over aborted: still serving", "why", why, "err", err)
	}
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		abort("not a unix socket", nil)
		return
	}
	offer := handoverOffer{PID: os.Getpid(), Version: s.cfg.Version, HTTPAddr: s.cfg.HTTPAddr, HTTPSAddr: s.cfg.HTTPSAddr, Routes: s.table.Load().sortedRoutes(), Relay: s.relay.current()}
	lns := []net.Listener{h.ln}
	offer.FDs = []string{"http"}
	if h.tlsLn != nil {
		lns = append(lns, h.tlsLn)
		offer.FDs = append(offer.FDs, "https")
	}
	uc.SetDeadline(time.Now().Add(handoverTimeout))
	if err := sendListeners(uc, lns); err != nil {
		abort("send the sockets", err)
		return
	}
	dec := json.NewDecoder(uc)
	enc := json.NewEncoder(uc)
	if err := enc.Encode(offer); err != nil {
		abort("send the routes", err)
		return
	}
	var reply handoverReply
	if err := dec.Decode(&reply); err != nil || !reply.Ready {
		if err == nil {
			err = errors.New(reply.Error)
		}
		abort("the new proxy did not get ready", err)
		return
	}
	// The new proxy accepts on the same sockets: retire.
	h.retired = true
	frozen = false
	s.mu.Unlock()
	close(h.done)
	h.release()
	if err := enc.Encode(handoverReply{Done: true}); err != nil {
		log.Warn("hand-over: tell the new proxy it has the control socket", "err", err)
	}
	log.Info("hand-over done: no longer accepting; finishing the requests in flight")
}

// sendListeners sends the listeners' descriptors as one zero byte with
// SCM_RIGHTS. The descriptors are sent as they are (no dup, no change of
// mode): the receiver gets its own descriptors of the same sockets.
func sendListeners(uc *net.UnixConn, lns []net.Listener) error {
	fds := make([]int, 0, len(lns))
	var conns []syscall.RawConn
	for _, ln := range lns {
		sc, ok := ln.(syscall.Conn)
		if !ok {
			return fmt.Errorf("listener %s has no descriptor", ln.Addr())
		}
		rc, err := sc.SyscallConn()
		if err != nil {
			return err
		}
		conns = append(conns, rc)
	}
	// Nest the Control calls so every descriptor stays valid while sent.
	var send func(i int) error
	send = func(i int) error {
		if i == len(conns) {
			_, _, err := uc.WriteMsgUnix([]byte{0}, syscall.UnixRights(fds...), nil)
			return err
		}
		var err error
		cerr := conns[i].Control(func(fd uintptr) {
			fds = append(fds, int(fd))
			err = send(i + 1)
		})
		if cerr != nil {
			return cerr
		}
		return err
	}
	return send(0)
}

// inherited is what a new proxy got from the old one.
type inherited struct {
	offer     handoverOffer
	conn      *net.UnixConn
	dec       *json.Decoder
	ln, tlsLn net.Listener // nil: not handed over, or not wanted
}

// closeListeners closes the inherited listeners Run did not take.
func (in *inherited) closeListeners() {
	if in.ln != nil {
		in.ln.Close()
		in.ln = nil
	}
	if in.tlsLn != nil {
		in.tlsLn.Close()
		in.tlsLn = nil
	}
}

// close closes what was not used: listeners Run did not take and the
// connection.
func (in *inherited) close() {
	in.closeListeners()
	in.conn.Close()
}

// takeOver asks the proxy answering on the control socket for its
// listeners and routes. It returns nil, nil when none answers.
func takeOver(ctx context.Context, cfg Config) (*inherited, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", cfg.ControlSocket)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, nil
		}
		return nil, fmt.Errorf("proxy: take over from the running proxy: %w", err)
	}
	uc := c.(*net.UnixConn)
	in := &inherited{conn: uc}
	ok := false
	defer func() {
		if !ok {
			in.close()
		}
	}()
	uc.SetDeadline(time.Now().Add(handoverTimeout))
	body, _ := json.Marshal(handoverRequest{PID: os.Getpid(), Version: cfg.Version})
	fmt.Fprintf(uc, "POST /v1/handover HTTP/1.1\r\nHost: berth-proxy\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	fds, first, err := receiveFDs(uc)
	if err != nil {
		return nil, fmt.Errorf("proxy: take over from the running proxy: %w", err)
	}
	if len(fds) == 0 || first != 0 {
		for _, fd := range fds {
			syscall.Close(fd)
		}
		// An HTTP answer: a refusal, or an older proxy without the endpoint.
		resp, rerr := http.ReadResponse(bufio.NewReader(io.MultiReader(bytes.NewReader([]byte{first}), uc)), nil)
		if rerr != nil {
			return nil, fmt.Errorf("proxy: take over from the running proxy: unexpected answer: %v", rerr)
		}
		defer resp.Body.Close()
		if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed {
			return nil, fmt.Errorf("proxy: %w", errHandoverUnsupported)
		}
		var e errorResponse
		if json.NewDecoder(resp.Body).Decode(&e) == nil && e.Error != nil {
			return nil, fmt.Errorf("proxy: the running proxy refused the hand-over: %s", e.Error.Message)
		}
		return nil, fmt.Errorf("proxy: the running proxy refused the hand-over: %s", resp.Status)
	}
	lns := make([]net.Listener, 0, len(fds))
	for _, fd := range fds {
		f := os.NewFile(uintptr(fd), "inherited-listener")
		ln, err := net.FileListener(f)
		f.Close()
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return nil, fmt.Errorf("proxy: inherited socket: %w", err)
		}
		lns = append(lns, ln)
	}
	in.dec = json.NewDecoder(uc)
	if err := in.dec.Decode(&in.offer); err != nil {
		for _, l := range lns {
			l.Close()
		}
		return nil, fmt.Errorf("proxy: read the running proxy's routes: %w", err)
	}
	for i, role := range in.offer.FDs {
		if i >= len(lns) {
			break
		}
		switch role {
		case "http":
			in.ln = lns[i]
		case "https":
			in.tlsLn = lns[i]
		default:
			lns[i].Close()
		}
	}
	for i := len(in.offer.FDs); i < len(lns); i++ {
		lns[i].Close()
	}
	ok = true
	return in, nil
}

// receiveFDs reads the first byte of the old proxy's answer and the
// descriptors that came with it.
func receiveFDs(uc *net.UnixConn) ([]int, byte, error) {
	buf := make([]byte, 1)
	oob := make([]byte, syscall.CmsgSpace(4*4))
	n, oobn, _, _, err := uc.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, 0, err
	}
	if n == 0 {
		return nil, 0, io.ErrUnexpectedEOF
	}
	msgs, err := syscall.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return nil, buf[0], err
	}
	var fds []int
	for _, m := range msgs {
		rights, err := syscall.ParseUnixRights(&m)
		if err == nil {
			fds = append(fds, rights...)
		}
	}
	for _, fd := range fds {
		syscall.CloseOnExec(fd)
	}
	return fds, buf[0], nil
}

// take returns the inherited listener for a role if the new proxy is
// configured with the same address as the old one, and nil otherwise
// (the new proxy listens itself; the inherited socket is closed).
func (in *inherited) take(role, configured string) net.Listener {
	var ln *net.Listener
	var was string
	switch role {
	case "http":
		ln, was = &in.ln, in.offer.HTTPAddr
	case "https":
		ln, was = &in.tlsLn, in.offer.HTTPSAddr
	}
	l := *ln
	if l == nil || configured != was {
		return nil
	}
	*ln = nil
	return l
}

// ready tells the old proxy the new one accepts, and waits until the old
// one has given up the control socket and the state lock (or is gone).
func (in *inherited) ready() {
	in.conn.SetDeadline(time.Now().Add(handoverTimeout))
	json.NewEncoder(in.conn).Encode(handoverReply{Ready: true})
	var r handoverReply
	in.dec.Decode(&r) // Done, or the old proxy is gone: either way it no longer holds them
}

// abort tells the old proxy the hand-over failed: it keeps serving.
func (in *inherited) abort(err error) {
	json.NewEncoder(in.conn).Encode(handoverReply{Error: err.Error()})
}

// inheritedHook runs once a proxy taking over has the sockets and the
// routes, before it serves them: Config.afterInherit (unit tests), and the
// failpoint proxy-handover-crash (package failpoint), which makes the
// process exit there, as a crash would: the end-to-end tests' way to prove
// the old proxy keeps serving. Unset in production.
func inheritedHook(cfg Config) error {
	if cfg.afterInherit != nil {
		if err := cfg.afterInherit(); err != nil {
			return err
		}
	}
	if failpoint.Mode("proxy-handover-crash") != "" {
		cfg.Log.Error("failpoint proxy-handover-crash: exiting with the inherited sockets")
		os.Exit(3)
	}
	return nil
}
