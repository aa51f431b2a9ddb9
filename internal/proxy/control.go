package proxy

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sort"
	"time"

	"github.com/berthpaas/berth/internal/memtrim"
)

// The control API: HTTP/1.1 with JSON bodies over the unix socket.
//
//	GET    /v1/status                Status
//	GET    /v1/routes                []Route (with RouteTLS.Uncovered)
//	PUT    /v1/routes                replaceRequest   the whole table
//	PUT    /v1/routes/{app}          Route
//	DELETE /v1/routes/{app}
//	POST   /v1/drain                 drainRequest -> drainResponse
//	GET    /v1/targets               []TargetStatus
//	GET    /v1/metrics               Snapshot: request counters by app and release (metrics.go)
//	PUT    /v1/challenges/{token}    challengeRequest   an ACME HTTP-01 challenge
//	DELETE /v1/challenges/{token}
//	PUT    /v1/alpn-certs/{name}     alpnCertRequest    an ACME TLS-ALPN-01 challenge certificate
//	DELETE /v1/alpn-certs/{name}
//	PUT    /v1/relay                 relayRequest: this node's address relayed to loopback targets (relay.go)
//	POST   /v1/handover              handoverRequest; the connection then carries the hand-over (handover.go)
//
// Errors answer 4xx/5xx with {"error": {"code": ..., "message": ...}}.

type replaceRequest struct {
	Routes []Route `json:"routes"`
}

type challengeRequest struct {
	KeyAuth string `json:"key_auth"`
}

type alpnCertRequest struct {
	CertPEM string `json:"cert_pem"`
	KeyPEM  string `json:"key_pem"`
}

type drainRequest struct {
	Addrs   []string      `json:"addrs"`
	Timeout time.Duration `json:"timeout"`
}

type drainResponse struct {
	InFlight int `json:"in_flight"`
}

type errorResponse struct {
	Error *Error `json:"error"`
}

// Error codes of the control API.
const (
	CodeInvalid  = "invalid"  // a malformed route: ErrInvalidRoute
	CodeConflict = "conflict" // a host claimed by two apps: ErrHostConflict
	CodeInternal = "internal" // e.g. the state file could not be written
)

var (
	// ErrNotRunning is returned by the client when nothing answers on the
	// control socket.
	ErrNotRunning = errors.New("the berth proxy is not running")
	// ErrHostConflict is a route claiming a host another app has.
	ErrHostConflict = errors.New("host claimed by another app")
	// ErrInvalidRoute is a route the proxy cannot serve.
	ErrInvalidRoute = errors.New("invalid route")
)

// Error is an error answered by the proxy's control API. It matches
// ErrHostConflict or ErrInvalidRoute by its code.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Message }

// Is reports whether target is the sentinel of e's code.
func (e *Error) Is(target error) bool {
	switch e.Code {
	case CodeConflict:
		return target == ErrHostConflict
	case CodeInvalid:
		return target == ErrInvalidRoute
	}
	return false
}

func errInvalid(format string, args ...any) error {
	return &Error{Code: CodeInvalid, Message: fmt.Sprintf(format, args...)}
}

func errConflict(format string, args ...any) error {
	return &Error{Code: CodeConflict, Message: fmt.Sprintf(format, args...)}
}

// Status describes a running proxy.
type Status struct {
	PID       int    `json:"pid"`
	HTTPAddr  string `json:"http_addr"`
	HTTPSAddr string `json:"https_addr,omitempty"` // empty: no TLS listener
	Routes    int    `json:"routes"`
	Version   string `json:"version"`
	Build     string `json:"build,omitempty"` // ExecutableID of its binary
	// RoutesHash identifies the table it holds (RoutesHash).
	RoutesHash string `json:"routes_hash,omitempty"`
}

// TargetStatus is one target as the proxy sees it, for reports.
type TargetStatus struct {
	App       string `json:"app,omitempty"` // empty: left the table, requests still in flight
	Addr      string `json:"addr"`
	Container string `json:"container,omitempty"`
	Checked   bool   `json:"checked"` // liveness probes run
	Healthy   bool   `json:"healthy"` // in rotation
	InFlight  int64  `json:"in_flight"`
}

// controlHandler is the control API; memory its changes freed (old tables,
// decoded routes) goes back to the kernel once it is quiet (package
// memtrim).
func (s *server) controlHandler() http.Handler {
	mux := http.NewServeMux()
	trim := memtrim.New(memtrim.Quiet)
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		t := s.table.Load()
		reply(w, Status{PID: os.Getpid(), HTTPAddr: s.httpAddr, HTTPSAddr: s.httpsAddr, Routes: len(t.config), Version: s.cfg.Version, Build: s.cfg.Build, RoutesHash: t.hash()})
	})
	mux.HandleFunc("POST /v1/handover", s.handleHandover)
	mux.HandleFunc("PUT /v1/relay", s.handleRelay)
	mux.HandleFunc("GET /v1/routes", func(w http.ResponseWriter, r *http.Request) {
		reply(w, s.table.Load().reportedRoutes())
	})
	mux.HandleFunc("GET /v1/targets", func(w http.ResponseWriter, r *http.Request) {
		reply(w, s.targets())
	})
	mux.HandleFunc("GET /v1/metrics", func(w http.ResponseWriter, r *http.Request) {
		reply(w, s.metrics())
	})
	mux.HandleFunc("PUT /v1/routes", func(w http.ResponseWriter, r *http.Request) {
		var req replaceRequest
		if decode(w, r, &req) {
			s.answer(w, "replace routes", s.replace(req.Routes))
		}
	})
	mux.HandleFunc("PUT /v1/routes/{app}", func(w http.ResponseWriter, r *http.Request) {
		var req Route
		if !decode(w, r, &req) {
			return
		}
		if req.App != r.PathValue("app") {
			fail(w, errInvalid("route of app %q sent to the address of app %q", req.App, r.PathValue("app")))
			return
		}
		s.answer(w, "set route", s.setRoute(req))
	})
	mux.HandleFunc("DELETE /v1/routes/{app}", func(w http.ResponseWriter, r *http.Request) {
		s.answer(w, "delete route", s.deleteRoute(r.PathValue("app")))
	})
	mux.HandleFunc("PUT /v1/challenges/{token}", func(w http.ResponseWriter, r *http.Request) {
		var req challengeRequest
		if !decode(w, r, &req) {
			return
		}
		token := r.PathValue("token")
		if err := checkChallenge(token, req.KeyAuth); err != nil {
			fail(w, err)
			return
		}
		s.acme.set(token, req.KeyAuth, time.Now())
		reply(w, struct{}{})
	})
	mux.HandleFunc("DELETE /v1/challenges/{token}", func(w http.ResponseWriter, r *http.Request) {
		s.acme.clear(r.PathValue("token"))
		reply(w, struct{}{})
	})
	mux.HandleFunc("PUT /v1/alpn-certs/{name}", func(w http.ResponseWriter, r *http.Request) {
		var req alpnCertRequest
		if !decode(w, r, &req) {
			return
		}
		name, err := checkALPNName(r.PathValue("name"))
		if err != nil {
			fail(w, err)
			return
		}
		config, err := parseALPNCert(name, req.CertPEM, req.KeyPEM)
		if err != nil {
			fail(w, err)
			return
		}
		s.alpn.set(name, config, time.Now())
		reply(w, struct{}{})
	})
	mux.HandleFunc("DELETE /v1/alpn-certs/{name}", func(w http.ResponseWriter, r *http.Request) {
		name, err := checkALPNName(r.PathValue("name"))
		if err != nil {
			fail(w, err)
			return
		}
		s.alpn.clear(name)
		reply(w, struct{}{})
	})
	mux.HandleFunc("POST /v1/drain", func(w http.ResponseWriter, r *http.Request) {
		var req drainRequest
		if !decode(w, r, &req) {
			return
		}
		n, err := s.drain(r.Context(), req.Addrs, req.Timeout)
		if err != nil {
			fail(w, err)
			return
		}
		reply(w, drainResponse{InFlight: n})
	})
	return trim.Handler(mux)
}

// answer replies to a table change: an empty object, or the error.
func (s *server) answer(w http.ResponseWriter, op string, err error) {
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			s.log.Error(op, "err", err)
		}
		fail(w, err)
		return
	}
	reply(w, struct{}{})
}

func (s *server) targets() []TargetStatus {
	t := s.table.Load()
	var out []TargetStatus
	seen := make(map[*backend]bool)
	for app, rt := range t.apps {
		for i, b := range rt.targets {
			seen[b] = true
			out = append(out, TargetStatus{App: app, Addr: b.addr, Container: rt.containers[i], Checked: b.probe.Load() != nil, Healthy: b.healthy(), InFlight: b.inflight.Load()})
		}
	}
	s.mu.Lock()
	for _, b := range s.backends {
		if !seen[b] {
			out = append(out, TargetStatus{Addr: b.addr, Healthy: b.healthy(), InFlight: b.inflight.Load()})
		}
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].App != out[j].App {
			return out[i].App < out[j].App
		}
		return out[i].Addr < out[j].Addr
	})
	return out
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<20)).Decode(v); err != nil {
		fail(w, errInvalid("decode request: %v", err))
		return false
	}
	return true
}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, err error) {
	e, ok := err.(*Error)
	if !ok && !errors.As(err, &e) {
		e = &Error{Code: CodeInternal, Message: err.Error()}
	}
	code := http.StatusInternalServerError
	switch e.Code {
	case CodeInvalid:
		code = http.StatusBadRequest
	case CodeConflict:
		code = http.StatusConflict
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(errorResponse{Error: e})
}
