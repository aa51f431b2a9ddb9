package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/apierr"
	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/httpapi"
	"github.com/berthpaas/berth/internal/proxy"
	"github.com/berthpaas/berth/internal/routing"
	"github.com/berthpaas/berth/internal/store"
)

// dashboardRoute names the proxy's route to the HTTP API (a name no app
// can have).
const dashboardRoute = "_berth-api"

// The dashboard's certificate is renewed this long before it expires,
// looked at this often, and tried again this long after a failure.
const (
	dashboardRenewBefore = 30 * 24 * time.Hour
	dashboardRenewEvery  = 12 * time.Hour
	dashboardRetryAfter  = time.Hour
)

// dashboard serves the HTTP API (package httpapi) on the loopback address
// of BERTH_API_ADDR, and puts it behind the proxy at the domain of
// dashboard:set, with a Let's Encrypt certificate when asked
// (dashboard.set, dashboard.report).
type dashboard struct {
	st                  *store.Store
	log                 *slog.Logger
	rt                  *routing.Manager // nil: no proxy
	listen              string           // BERTH_API_ADDR
	proxyAddr, proxyTLS string           // the proxy's listeners ("" without)
	certMu              sync.Mutex       // one certificate order at a time
	lastFailure         time.Time        // of the last order, under certMu
	mu                  sync.Mutex
	addr                string // where the API listens, once it does
	srv                 *http.Server
	stopRenew           context.CancelFunc
}

func newDashboard(st *store.Store, log *slog.Logger, rt *routing.Manager, listen, proxyAddr, proxyTLS string) *dashboard {
	return &dashboard{st: st, log: log, rt: rt, listen: listen, proxyAddr: proxyAddr, proxyTLS: proxyTLS}
}

// Register adds dashboard.set and dashboard.report.
func (d *dashboard) Register(mux *api.Mux) {
	api.Handle(mux, api.DashboardSet, d.set)
	api.Handle(mux, api.DashboardReport, d.report)
	api.Handle(mux, api.DashboardPassword, d.setPassword) // dashboard.go
}

// Serve listens on BERTH_API_ADDR and serves the API over mux's
// operations (all registered by now), then routes the domain to it and
// keeps its certificate renewed; metrics (nil: none) is served at
// /metrics to a token of every app's. A listener it cannot open is logged, not
// fatal: the control socket and ssh still work.
func (d *dashboard) Serve(ctx context.Context, mux *api.Mux, auth httpapi.Authenticator, metrics http.Handler) {
	if d.listen == "" || d.listen == "off" {
		return
	}
	ln, err := net.Listen("tcp", d.listen)
	if err != nil {
		d.log.Error("the HTTP API is off: cannot listen", "addr", d.listen, "err", err)
		return
	}
	h := httpapi.New(httpapi.Config{Ops: mux, Auth: auth, Log: d.log})
	if metrics != nil {
		// Every app's numbers: a token of every app's (not one limited
		// to some apps; metrics.app serves those).
		h.Handle("GET /metrics", h.Authenticated(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if p, _ := httpapi.PrincipalFrom(r.Context()); !p.Admin {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusForbidden)
				fmt.Fprintln(w, `{"error":"forbidden","message":"/metrics covers every app: a token limited to some apps may read its apps' metrics with the metrics.app operation"}`)
				return
			}
			metrics.ServeHTTP(w, r)
		})))
	}
	srv := &http.Server{Handler: d.withPages(h, auth), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(d.log.Handler(), slog.LevelWarn)}
	rctx, cancel := context.WithCancel(ctx)
	d.mu.Lock()
	d.addr, d.srv, d.stopRenew = ln.Addr().String(), srv, cancel
	d.mu.Unlock()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("HTTP API stopped", "err", err)
		}
	}()
	d.log.Info("HTTP API listening", "addr", d.addr)
	if err := d.syncRoute(ctx); err != nil {
		d.log.Warn("route the HTTP API's domain", "err", err)
	}
	go d.renewLoop(rctx)
}

// Shutdown stops the API server, waiting for requests in flight until ctx
// ends.
func (d *dashboard) Shutdown(ctx context.Context) {
	d.mu.Lock()
	srv, stop := d.srv, d.stopRenew
	d.mu.Unlock()
	if stop != nil {
		stop()
	}
	if srv != nil {
		if err := srv.Shutdown(ctx); err != nil {
			srv.Close()
		}
	}
}

func (d *dashboard) apiAddr() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.addr
}

// dashSettings are what dashboard:set keeps, and the certificate.
type dashSettings struct {
	domain, letsencrypt, certPEM, keyPEM, expires, certError string
}

func (d *dashboard) settings(ctx context.Context) (dashSettings, error) {
	var s dashSettings
	err := d.st.Tx(ctx, func(tx *store.Tx) error {
		for key, v := range map[string]*string{"domain": &s.domain, "letsencrypt": &s.letsencrypt, "cert_pem": &s.certPEM,
			"key_pem": &s.keyPEM, "cert_expires": &s.expires, "cert_error": &s.certError} {
			var err error
			if *v, err = tx.DashboardSetting(key); err != nil {
				return err
			}
		}
		return nil
	})
	return s, err
}

func (d *dashboard) put(ctx context.Context, kv ...string) error {
	return d.st.Tx(ctx, func(tx *store.Tx) error {
		for i := 0; i+1 < len(kv); i += 2 {
			if err := tx.SetDashboardSetting(kv[i], kv[i+1]); err != nil {
				return err
			}
		}
		return nil
	})
}

// syncRoute pushes the proxy's route from the domain to the API (with
// its certificate when it has one), or removes it.
func (d *dashboard) syncRoute(ctx context.Context) error {
	if d.rt == nil {
		return nil
	}
	s, err := d.settings(ctx)
	if err != nil {
		return err
	}
	addr := d.apiAddr()
	if s.domain == "" || addr == "" {
		return d.rt.DropStatic(ctx, dashboardRoute)
	}
	route := proxy.Route{App: dashboardRoute, Hosts: []string{s.domain},
		Targets: []proxy.Target{{Addr: addr, Container: "berth-daemon"}}, MaxBodyBytes: -1}
	if s.certPEM != "" {
		route.TLS = &proxy.RouteTLS{CertPEM: s.certPEM, KeyPEM: s.keyPEM, RedirectHTTP: true,
			HSTS: &proxy.HSTS{MaxAge: 15724800 * time.Second}}
	}
	return d.rt.SetStatic(ctx, route)
}

// ensureCert gets a certificate for the domain when Let's Encrypt is on
// and none is there, or it expires within dashboardRenewBefore; after a
// failure not again for dashboardRetryAfter unless forced.
func (d *dashboard) ensureCert(ctx context.Context, force bool, out func(string, ...any)) error {
	if d.rt == nil {
		return nil
	}
	d.certMu.Lock()
	defer d.certMu.Unlock()
	s, err := d.settings(ctx)
	if err != nil || s.domain == "" || s.letsencrypt != "true" {
		return err
	}
	if exp, err := time.Parse(time.RFC3339, s.expires); err == nil && s.certPEM != "" && time.Until(exp) > dashboardRenewBefore {
		return nil
	}
	if !force && time.Since(d.lastFailure) < dashboardRetryAfter {
		return nil
	}
	out("Getting a certificate for %s", s.domain)
	certPEM, keyPEM, notAfter, err := d.rt.ObtainCert(ctx, []string{s.domain})
	if err != nil {
		d.lastFailure = time.Now()
		d.put(context.WithoutCancel(ctx), "cert_error", firstLine(err.Error()))
		return err
	}
	d.lastFailure = time.Time{}
	if err := d.put(ctx, "cert_pem", certPEM, "key_pem", keyPEM, "cert_expires", notAfter.UTC().Format(time.RFC3339), "cert_error", ""); err != nil {
		return err
	}
	out("Certificate installed: expires %s", notAfter.UTC().Format("2006-01-02"))
	return d.syncRoute(ctx)
}

func (d *dashboard) renewLoop(ctx context.Context) {
	t := time.NewTicker(dashboardRenewEvery)
	defer t.Stop()
	for {
		if err := d.ensureCert(ctx, false, func(string, ...any) {}); err != nil && ctx.Err() == nil {
			d.log.Warn("the HTTP API's certificate", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (d *dashboard) set(ctx context.Context, req api.DashboardChange, out api.Output) (api.Empty, error) {
	value := strings.TrimSpace(req.Value)
	if req.Unset {
		value = ""
	}
	switch req.Key {
	case "domain":
		value = app.NormalizeDomain(value)
		if value != "" {
			if err := app.ValidateDomain(value); err != nil {
				return api.Empty{}, apierr.Invalid(err)
			}
			if app.IsWildcardDomain(value) {
				return api.Empty{}, api.Errorf(api.CodeInvalid, "The dashboard's domain must be one host name, not a wildcard")
			}
		}
		// A certificate names the old domain: it goes with it.
		if err := d.put(ctx, "domain", value, "cert_pem", "", "key_pem", "", "cert_expires", "", "cert_error", ""); err != nil {
			return api.Empty{}, err
		}
	case "letsencrypt":
		switch value {
		case "true", "false", "":
		default:
			return api.Empty{}, api.Errorf(api.CodeInvalid, "letsencrypt takes true or false, not %q", value)
		}
		if value != "true" {
			value = ""
		}
		if err := d.put(ctx, "letsencrypt", value); err != nil {
			return api.Empty{}, err
		}
	default:
		return api.Empty{}, api.Errorf(api.CodeInvalid, "Invalid property %q: dashboard:set takes domain or letsencrypt", req.Key)
	}
	if err := d.syncRoute(ctx); err != nil {
		return api.Empty{}, err
	}
	say := func(format string, args ...any) {
		if out.Stdout != nil {
			fmt.Fprintf(out.Stdout, "-----> "+format+"\n", args...)
		}
	}
	return api.Empty{}, d.ensureCert(ctx, true, say)
}

func (d *dashboard) report(ctx context.Context, _ api.Empty, _ api.Output) (api.DashboardInfo, error) {
	s, err := d.settings(ctx)
	if err != nil {
		return api.DashboardInfo{}, err
	}
	info := api.DashboardInfo{Listen: d.apiAddr(), Domain: s.domain, TLS: s.certPEM != "", LetsEncrypt: s.letsencrypt == "true", CertError: s.certError}
	if exp, err := time.Parse(time.RFC3339, s.expires); err == nil {
		info.CertExpires = &exp
	}
	if s.domain != "" && d.rt != nil && d.proxyAddr != "" {
		info.URL = urlOf("http", s.domain, d.proxyAddr, "80")
		if info.TLS && d.proxyTLS != "" {
			info.URL = urlOf("https", s.domain, d.proxyTLS, "443")
		}
	}
	return info, nil
}

// urlOf is scheme://host, with the listener's port unless it is def.
func urlOf(scheme, host, listener, def string) string {
	u := scheme + "://" + host
	if _, port, err := net.SplitHostPort(listener); err == nil && port != def {
		u += ":" + port
	}
	return u
}
