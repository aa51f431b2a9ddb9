// Package dashboard is Berth's web dashboard: server-rendered pages
// (html/template, embedded with the CSS and a few lines of JS) mounted by
// the daemon beside the HTTP API. Every page calls the daemon's
// operations through the API's Caller, as the logged-in token's holder
// (or, after a password login, as an admin named "dashboard"), so the
// access rules are the API's. Only the login page is reachable without a
// session; every form POST carries the session's CSRF token.
package dashboard

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/httpapi"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// API is what the dashboard uses of the HTTP API's server: calling
// operations as a principal, and the limit on failed authentications.
type API interface {
	Caller(p httpapi.Principal) api.Caller
	Blocked(addr string) bool
	Failed(addr string)
}

var _ API = (*httpapi.Server)(nil)

// Config is what the dashboard needs.
type Config struct {
	API  API
	Auth httpapi.Authenticator
	// Password checks a login password (false when none is set:
	// dashboard:set password).
	Password func(ctx context.Context, password string) (bool, error)
	Log      *slog.Logger
	// SessionTTL is how long a login lasts (0: 12 hours).
	SessionTTL time.Duration
}

// PasswordPrincipal is who a password login acts as: an admin, recorded in
// the audit log as token:dashboard.
var PasswordPrincipal = httpapi.Principal{Name: "dashboard", Grant: api.Grant{Admin: true}}

// Handler serves the dashboard's pages.
type Handler struct {
	cfg   Config
	mux   *http.ServeMux
	pages map[string]*template.Template

	mu       sync.Mutex
	sessions map[string]*session
}

type session struct {
	csrf    string
	secret  string // the token's, re-checked on each request ("" for a password login)
	expires time.Time
}

const (
	sessionCookie = "berth_session"
	loginCookie   = "berth_login" // the login form's CSRF token (double submit)
)

// New returns the dashboard's handler.
func New(cfg Config) *Handler {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.SessionTTL == 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	h := &Handler{cfg: cfg, mux: http.NewServeMux(), sessions: map[string]*session{}, pages: parsePages()}
	static, _ := fs.Sub(staticFS, "static")
	h.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	h.mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	h.mux.HandleFunc("GET /login", h.loginPage)
	h.mux.HandleFunc("POST /login", h.login)
	h.mux.Handle("POST /logout", h.auth(h.logout))
	h.mux.Handle("GET /{$}", h.auth(h.overview))
	h.mux.Handle("GET /apps/{app}", h.auth(h.appPage))
	h.mux.Handle("POST /apps/{app}/scale", h.auth(h.scale))
	h.mux.Handle("POST /apps/{app}/rollback", h.auth(h.rollback))
	h.mux.Handle("POST /apps/{app}/config", h.auth(h.configPreview))
	h.mux.Handle("POST /apps/{app}/config/apply", h.auth(h.configApply))
	h.mux.Handle("GET /apps/{app}/logs", h.auth(h.logStream))
	h.mux.Handle("GET /apps/{app}/deploys", h.auth(h.deployStream))
	h.mux.Handle("POST /apps/{app}/rebuild", h.auth(h.rebuild))
	h.mux.Handle("GET /events", h.auth(h.events))
	h.mux.Handle("GET /settings", h.auth(h.settings))
	h.mux.Handle("POST /settings/tokens", h.auth(h.createToken))
	h.mux.Handle("POST /settings/tokens/revoke", h.auth(h.revokeToken))
	h.mux.Handle("POST /settings/notifications", h.auth(h.addNotification))
	h.mux.Handle("POST /settings/notifications/remove", h.auth(h.removeNotification))
	h.mux.Handle("POST /settings/notifications/test", h.auth(h.testNotification))
	h.mux.Handle("POST /settings/keys", h.auth(h.addKey))
	h.mux.Handle("POST /settings/keys/remove", h.auth(h.removeKey))
	h.mux.Handle("GET /services", h.auth(h.services))
	h.mux.Handle("GET /services/{kind}/{name}", h.auth(h.service))
	h.mux.Handle("POST /services/{kind}/{name}/backup", h.auth(h.serviceBackup))
	h.mux.Handle("POST /services/{kind}/{name}/restore", h.auth(h.serviceRestore))
	h.mux.Handle("POST /services/{kind}/{name}/schedule", h.auth(h.serviceSchedule))
	h.mux.Handle("POST /services/{kind}/{name}/unschedule", h.auth(h.serviceUnschedule))
	h.mux.Handle("POST /apps/{app}/checks", h.auth(h.runChecks))
	h.mux.Handle("/", h.auth(func(w http.ResponseWriter, r *http.Request, c *reqCtx) {
		h.fail(w, r, c, http.StatusNotFound, "No such page: "+r.URL.Path)
	}))
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("X-Content-Type-Options", "nosniff")
	if !hasPrefix(r.URL.Path, "/static/") {
		hd.Set("Cache-Control", "no-store")
	} else {
		hd.Set("Cache-Control", "max-age=3600")
	}
	h.mux.ServeHTTP(w, r)
}

func hasPrefix(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }

// reqCtx is a logged-in request: who, its caller and CSRF token.
type reqCtx struct {
	p      httpapi.Principal
	caller api.Caller
	csrf   string
	sid    string
}

// auth lets through requests with a live session (their token still
// valid), checking the CSRF token of every POST; others go to the login
// page.
func (h *Handler) auth(next func(http.ResponseWriter, *http.Request, *reqCtx)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := h.session(r)
		if !ok {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/login", http.StatusSeeOther)
				return
			}
			http.Error(w, "not logged in", http.StatusUnauthorized)
			return
		}
		if r.Method == http.MethodPost {
			if err := r.ParseMultipartForm(1 << 20); err != nil && err != http.ErrNotMultipart {
				http.Error(w, "bad form", http.StatusBadRequest)
				return
			}
			if !equal(r.PostFormValue("csrf"), c.csrf) {
				http.Error(w, "missing or wrong CSRF token: reload the page", http.StatusForbidden)
				return
			}
		}
		ctx := api.WithWho(r.Context(), api.Who{Kind: "token", Name: c.p.Name})
		next(w, r.WithContext(ctx), c)
	})
}

func equal(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

func (h *Handler) session(r *http.Request) (*reqCtx, bool) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return nil, false
	}
	h.mu.Lock()
	s, ok := h.sessions[ck.Value]
	if ok && time.Now().After(s.expires) {
		delete(h.sessions, ck.Value)
		ok = false
	}
	h.mu.Unlock()
	if !ok {
		return nil, false
	}
	p := PasswordPrincipal
	if s.secret != "" {
		var valid bool
		p, valid, err = h.cfg.Auth.Authenticate(r.Context(), s.secret)
		if err != nil || !valid { // revoked: the session ends
			if err == nil {
				h.drop(ck.Value)
			}
			return nil, false
		}
	}
	return &reqCtx{p: p, caller: h.cfg.API.Caller(p), csrf: s.csrf, sid: ck.Value}, true
}

func (h *Handler) drop(sid string) {
	h.mu.Lock()
	delete(h.sessions, sid)
	h.mu.Unlock()
}

func randomString() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// secure reports whether the browser reached us over HTTPS (directly, or
// through Berth's proxy, which says so in X-Forwarded-Proto).
func secure(r *http.Request) bool {
	return r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https"
}

func setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true,
		Secure: secure(r), SameSite: http.SameSiteStrictMode})
}

func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.session(r); ok {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	h.showLogin(w, r, http.StatusOK, "")
}

func (h *Handler) showLogin(w http.ResponseWriter, r *http.Request, status int, msg string) {
	// One token per browser: a second login page (another tab, the
	// favicon's redirect) must not void the first one's form.
	tok := ""
	if ck, err := r.Cookie(loginCookie); err == nil && len(ck.Value) == 43 {
		tok = ck.Value
	} else {
		tok = randomString()
	}
	setCookie(w, r, loginCookie, tok, 3600)
	h.render(w, status, "login", map[string]any{"CSRF": tok, "Error": msg})
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	addr := httpapi.ClientAddr(r)
	if h.cfg.API.Blocked(addr) {
		w.Header().Set("Retry-After", "60")
		h.showLogin(w, r, http.StatusTooManyRequests, "Too many failed logins from "+addr+": try again in a minute.")
		return
	}
	ck, err := r.Cookie(loginCookie)
	if err != nil || !equal(r.PostFormValue("csrf"), ck.Value) {
		h.showLogin(w, r, http.StatusForbidden, "The form expired: try again.")
		return
	}
	secret := r.PostFormValue("secret")
	s := &session{csrf: randomString(), expires: time.Now().Add(h.cfg.SessionTTL)}
	ok := false
	if secret != "" {
		if _, ok, err = h.cfg.Auth.Authenticate(r.Context(), secret); ok {
			s.secret = secret
		} else if err == nil && h.cfg.Password != nil {
			ok, err = h.cfg.Password(r.Context(), secret)
		}
	}
	if err != nil {
		h.cfg.Log.Error("dashboard login", "err", err)
		h.showLogin(w, r, http.StatusServiceUnavailable, "Could not check the login: try again.")
		return
	}
	if !ok {
		h.cfg.API.Failed(addr)
		h.cfg.Log.Warn("dashboard: failed login", "client", addr)
		h.showLogin(w, r, http.StatusUnauthorized, "Unknown token or wrong password.")
		return
	}
	sid := randomString()
	h.mu.Lock()
	now := time.Now()
	for id, old := range h.sessions { // sweep expired ones
		if now.After(old.expires) {
			delete(h.sessions, id)
		}
	}
	h.sessions[sid] = s
	h.mu.Unlock()
	setCookie(w, r, loginCookie, "", -1)
	setCookie(w, r, sessionCookie, sid, int(h.cfg.SessionTTL/time.Second))
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	h.drop(c.sid)
	setCookie(w, r, sessionCookie, "", -1)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
