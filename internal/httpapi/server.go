// Package httpapi is Berth's HTTP API: every operation of the daemon's
// table (api.Mux) as POST /api/v1/ops/NAME, called as the holder of an API
// token with the same access rules as an ssh key (api.Grant), streamed
// output as server-sent events, and an OpenAPI 3 description built from
// the same table. It is an http.Handler with its authentication
// middleware exposed (Authenticated, PrincipalFrom, Caller), so the
// dashboard can mount its pages on the same server.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/berthpaas/berth/internal/api"
)

// Principal is an authenticated caller: a token's name and what it may do.
type Principal struct {
	Name string
	api.Grant
}

// Authenticator finds the principal of a bearer secret; ok is false for a
// secret it does not know (an error is a failure to look, not a refusal).
type Authenticator interface {
	Authenticate(ctx context.Context, secret string) (p Principal, ok bool, err error)
}

// Ops is the daemon's operations table as the API serves it.
type Ops interface {
	api.Caller
	Ops() []api.OpInfo
	Access(op string) api.Access
}

var _ Ops = (*api.Mux)(nil)

// Config is what a Server needs.
type Config struct {
	Ops  Ops
	Auth Authenticator
	Log  *slog.Logger
	// Limit bounds failed authentications per client address.
	Limit Limit
	// MaxBody bounds a request body (0: 8 MiB).
	MaxBody int64
}

// Server is the HTTP API's handler.
type Server struct {
	cfg     Config
	mux     *http.ServeMux
	limiter *limiter
	ops     map[string]api.OpInfo
	openapi []byte
}

var _ http.Handler = (*Server)(nil)

// New returns the API's handler over cfg.Ops, as registered now (register
// every operation first).
func New(cfg Config) *Server {
	if cfg.MaxBody == 0 {
		cfg.MaxBody = 8 << 20
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux(), limiter: newLimiter(cfg.Limit), ops: map[string]api.OpInfo{}}
	for _, op := range cfg.Ops.Ops() {
		s.ops[op.Name] = op
	}
	s.openapi, _ = json.Marshal(OpenAPI(cfg.Ops.Ops()))
	s.mux.Handle("POST /api/v1/ops/{op}", s.Authenticated(http.HandlerFunc(s.serveOp)))
	s.mux.Handle("GET /api/v1/openapi.json", s.Authenticated(http.HandlerFunc(s.serveOpenAPI)))
	s.mux.Handle("GET /api/v1/token", s.Authenticated(http.HandlerFunc(s.serveToken)))
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, api.CodeNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path+" (the API is POST /api/v1/ops/NAME; see /api/v1/openapi.json)")
	})
	return s
}

// Handle mounts h at pattern (http.ServeMux's patterns) beside the API:
// wrap it in Authenticated unless it is meant to be public (a login page).
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	s.mux.ServeHTTP(w, r)
}

type principalKey struct{}

// PrincipalFrom is the principal Authenticated found for the request.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// Authenticated lets through requests with a valid token
// (Authorization: Bearer SECRET), with their Principal in the context
// (PrincipalFrom) and the audit log's caller set (api.WithWho). Others
// get 401, or 429 once their address failed too often.
func (s *Server) Authenticated(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		addr := ClientAddr(r)
		if s.limiter.blocked(addr) {
			w.Header().Set("Retry-After", "60")
			writeError(w, http.StatusTooManyRequests, "rate_limited", "too many failed authentications from "+addr+"; try again later")
			return
		}
		secret, ok := bearer(r)
		if !ok {
			s.limiter.fail(addr)
			w.Header().Set("WWW-Authenticate", `Bearer realm="berth"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", "an API token is needed: Authorization: Bearer TOKEN (tokens:create)")
			return
		}
		p, ok, err := s.cfg.Auth.Authenticate(r.Context(), secret)
		if err != nil {
			s.cfg.Log.Error("authenticate an API token", "err", err)
			writeError(w, http.StatusServiceUnavailable, api.CodeUnavailable, "could not check the token; try again")
			return
		}
		if !ok {
			s.limiter.fail(addr)
			s.cfg.Log.Warn("API request with an unknown token", "client", addr)
			w.Header().Set("WWW-Authenticate", `Bearer realm="berth", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", "unknown or revoked API token")
			return
		}
		ctx := context.WithValue(r.Context(), principalKey{}, p)
		ctx = api.WithWho(ctx, api.Who{Kind: "token", Name: p.Name})
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, secret, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	secret = strings.TrimSpace(secret)
	return secret, secret != ""
}

// ClientAddr is the address a request is counted by: the peer's IP, or,
// for a request from loopback that Berth's proxy forwarded, the
// X-Real-Ip the proxy set (the proxy replaces any the client sent).
func ClientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		if real := r.Header.Get("X-Real-Ip"); real != "" && net.ParseIP(real) != nil {
			return real
		}
	}
	return host
}

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	p, _ := PrincipalFrom(r.Context())
	writeJSON(w, http.StatusOK, map[string]any{"name": p.Name, "admin": p.Admin, "apps": p.Apps, "read_only": p.ReadOnly})
}

func (s *Server) serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(s.openapi)
}

// serveOp calls one operation as the request's principal.
func (s *Server) serveOp(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("op")
	info, ok := s.ops[name]
	if !ok {
		writeError(w, http.StatusNotFound, api.CodeNotFound, "unknown operation "+name)
		return
	}
	if info.Session {
		writeError(w, http.StatusBadRequest, api.CodeInvalid, name+" is interactive: use the CLI or ssh (run.detached runs a command without a terminal)")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, api.CodeInvalid, "read request: "+err.Error())
		return
	}
	req := info.NewRequest()
	if len(strings.TrimSpace(string(body))) > 0 {
		if err := json.Unmarshal(body, req); err != nil {
			writeError(w, http.StatusBadRequest, api.CodeInvalid, "malformed request for "+name+": "+err.Error())
			return
		}
	}
	p, _ := PrincipalFrom(r.Context())
	caller := s.Caller(p)
	if IsEventStream(r) {
		serveEvents(w, r, caller, name, req)
		return
	}
	var out buffers
	var resp json.RawMessage
	err = caller.Call(r.Context(), name, req, &resp, api.Output{Stdout: &out.stdout, Stderr: &out.stderr})
	if err != nil {
		writeAPIError(w, err)
		return
	}
	env := map[string]any{"result": resp}
	if out.stdout.Len() > 0 {
		env["stdout"] = out.stdout.String()
	}
	if out.stderr.Len() > 0 {
		env["stderr"] = out.stderr.String()
	}
	writeJSON(w, http.StatusOK, env)
}

// StatusOf is the HTTP status of an API error code.
func StatusOf(code api.Code) int {
	switch code {
	case api.CodeInvalid:
		return http.StatusBadRequest
	case api.CodeAppNotFound, api.CodeNotFound:
		return http.StatusNotFound
	case api.CodeConflict:
		return http.StatusConflict
	case api.CodeLocked:
		return http.StatusLocked
	case api.CodeForbidden:
		return http.StatusForbidden
	case api.CodeUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func asAPIError(err error) *api.Error {
	var e *api.Error
	if !errors.As(err, &e) {
		e = api.Errorf(api.CodeInternal, "%v", err)
	}
	return e
}

func writeAPIError(w http.ResponseWriter, err error) {
	e := asAPIError(err)
	writeError(w, StatusOf(e.Code), e.Code, e.Message)
}

// writeError answers with one line of JSON: {"error": MESSAGE, "code": CODE}.
func writeError(w http.ResponseWriter, status int, code api.Code, msg string) {
	writeJSON(w, status, map[string]string{"error": firstLine(msg), "code": string(code)})
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// timeNow is time.Now, replaced in tests.
var timeNow = time.Now
