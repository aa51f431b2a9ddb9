package daemon

import (
	"context"
	"errors"
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

// dashboard serves the HTTP API (package httpapi) on the loopback address
// of BERTH_API_ADDR, and puts it behind the proxy at the domain of
// dashboard:set (dashboard.set, dashboard.report).
type dashboard struct {
	st        *store.Store
	log       *slog.Logger
	rt        *routing.Manager // nil: no proxy
	listen    string           // BERTH_API_ADDR
	proxyAddr string           // the proxy's HTTP listener ("" without one)

	mu   sync.Mutex
	addr string // where the API listens, once it does
	srv  *http.Server
}

func newDashboard(st *store.Store, log *slog.Logger, rt *routing.Manager, listen, proxyAddr string) *dashboard {
	return &dashboard{st: st, log: log, rt: rt, listen: listen, proxyAddr: proxyAddr}
}

// Register adds dashboard.set and dashboard.report.
func (d *dashboard) Register(mux *api.Mux) {
	api.Handle(mux, api.DashboardSet, d.set)
	api.Handle(mux, api.DashboardReport, d.report)
}

// Serve listens on BERTH_API_ADDR and serves the API over mux's
// operations (all registered by now), then routes the domain to it. A
// listener it cannot open is logged, not fatal: the control socket and ssh
// still work.
func (d *dashboard) Serve(ctx context.Context, mux *api.Mux, auth httpapi.Authenticator) {
	if d.listen == "" || d.listen == "off" {
		return
	}
	ln, err := net.Listen("tcp", d.listen)
	if err != nil {
		d.log.Error("the HTTP API is off: cannot listen", "addr", d.listen, "err", err)
		return
	}
	h := httpapi.New(httpapi.Config{Ops: mux, Auth: auth, Log: d.log})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(d.log.Handler(), slog.LevelWarn)}
	d.mu.Lock()
	d.addr, d.srv = ln.Addr().String(), srv
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
}

// Shutdown stops the API server, waiting for requests in flight until ctx
// ends.
func (d *dashboard) Shutdown(ctx context.Context) {
	d.mu.Lock()
	srv := d.srv
	d.mu.Unlock()
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

func (d *dashboard) domain(ctx context.Context) (string, error) {
	var v string
	err := d.st.Tx(ctx, func(tx *store.Tx) (err error) { v, err = tx.DashboardSetting("domain"); return err })
	return v, err
}

// syncRoute pushes the proxy's route from the domain to the API, or
// removes it.
func (d *dashboard) syncRoute(ctx context.Context) error {
	if d.rt == nil {
		return nil
	}
	domain, err := d.domain(ctx)
	if err != nil {
		return err
	}
	addr := d.apiAddr()
	if domain == "" || addr == "" {
		return d.rt.DropStatic(ctx, dashboardRoute)
	}
	return d.rt.SetStatic(ctx, proxy.Route{App: dashboardRoute, Hosts: []string{domain},
		Targets: []proxy.Target{{Addr: addr, Container: "berth-daemon"}}, MaxBodyBytes: -1})
}

func (d *dashboard) set(ctx context.Context, req api.DashboardChange, _ api.Output) (api.Empty, error) {
	if req.Key != "domain" {
		return api.Empty{}, api.Errorf(api.CodeInvalid, "Invalid property %q: dashboard:set takes domain", req.Key)
	}
	value := app.NormalizeDomain(strings.TrimSpace(req.Value))
	if req.Unset {
		value = ""
	}
	if value != "" {
		if err := app.ValidateDomain(value); err != nil {
			return api.Empty{}, apierr.Invalid(err)
		}
		if app.IsWildcardDomain(value) {
			return api.Empty{}, api.Errorf(api.CodeInvalid, "The dashboard's domain must be one host name, not a wildcard")
		}
	}
	if err := d.st.Tx(ctx, func(tx *store.Tx) error { return tx.SetDashboardSetting("domain", value) }); err != nil {
		return api.Empty{}, err
	}
	return api.Empty{}, d.syncRoute(ctx)
}

func (d *dashboard) report(ctx context.Context, _ api.Empty, _ api.Output) (api.DashboardInfo, error) {
	domain, err := d.domain(ctx)
	if err != nil {
		return api.DashboardInfo{}, err
	}
	info := api.DashboardInfo{Listen: d.apiAddr(), Domain: domain}
	if domain != "" && d.rt != nil && d.proxyAddr != "" {
		info.URL = "http://" + domain
		if _, port, err := net.SplitHostPort(d.proxyAddr); err == nil && port != "80" {
			info.URL += ":" + port
		}
	}
	return info, nil
}
