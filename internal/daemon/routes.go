package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/berthpaas/berth/internal/app"

	"github.com/berthpaas/berth/internal/deploy"
	"github.com/berthpaas/berth/internal/proxy"
	"github.com/berthpaas/berth/internal/store"
)

// router is the deploy's view of the proxy: it computes an app's route
// from the store (domains) and the engine (running web containers of the
// live release within the formation) and pushes it to the proxy process.
type router struct {
	s      *Service
	client *proxy.Client
}

var _ deploy.Router = (*router)(nil)

// Sync pushes the app's current route to the proxy.
func (r *router) Sync(ctx context.Context, app string) error {
	route, err := r.route(ctx, app)
	if err != nil {
		return err
	}
	if err := r.client.SetRoute(ctx, route); err != nil {
		return fmt.Errorf("update the proxy's route for %s: %w", app, err)
	}
	return nil
}

// Drain waits for requests in flight to addrs.
func (r *router) Drain(ctx context.Context, addrs []string, timeout time.Duration) (int, error) {
	return r.client.Drain(ctx, addrs, timeout)
}

func (r *router) route(ctx context.Context, app string) (proxy.Route, error) {
	route := proxy.Route{App: app, Hosts: []string{}, Targets: []proxy.Target{}}
	hosts, err := r.s.AppHosts(ctx, app)
	if err != nil {
		return route, err
	}
	route.Hosts = hosts
	var a store.App
	var live store.Release
	var formation map[string]int
	var generation string
	deployed := false
	err = r.s.store.Tx(ctx, func(tx *store.Tx) error {
		var err error
		if a, err = tx.App(app); err != nil {
			return err
		}
		if formation, err = tx.Formation(a); err != nil {
			return err
		}
		route.MaxBodyBytes, route.UpstreamTimeout = r.s.proxySettings(tx, a)
		if err := r.s.routeTLS(tx, a, &route); err != nil {
			return err
		}
		generation, _, _ = tx.Property(a.Scope(), "ps", "generation")
		live, err = tx.LiveRelease(a)
		if errors.Is(err, store.ErrReleaseNotFound) {
			return nil
		}
		deployed = err == nil
		return err
	})
	if err != nil || !deployed || a.Stopped {
		return route, err
	}
	eng, err := r.s.engine(ctx)
	if err != nil {
		return route, err
	}
	labels := r.s.deployer.Names().KindLabels(app, deploy.KindProcess)
	labels[deploy.LabelProcess] = "web"
	labels[deploy.LabelRelease] = strconv.Itoa(live.Number)
	cs, err := eng.ListContainers(ctx, labels, false)
	if err != nil {
		return route, err
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].Name < cs[j].Name })
	for _, c := range cs {
		n, _ := strconv.Atoi(c.Labels[deploy.LabelIndex])
		if c.HostPort == 0 || n < 1 || n > formation["web"] || c.Labels[deploy.LabelGeneration] != generation {
			continue
		}
		route.Targets = append(route.Targets, proxy.Target{Addr: fmt.Sprintf("127.0.0.1:%d", c.HostPort), Container: c.Name})
	}
	if hc := r.s.deployer.LivenessCheck(ctx, app, "web"); hc != nil {
		// Probe every `wait` seconds; `attempts` failures in a row take a
		// container out of rotation, one success brings it back.
		d := hc.WithDefaults()
		route.Liveness = &proxy.Liveness{Path: hc.Path, Content: hc.Content, Interval: time.Duration(max(*d.Wait, 1)) * time.Second,
			Timeout: time.Duration(*d.Timeout) * time.Second, Failures: max(*d.Attempts, 1), Successes: 1}
		for _, h := range hc.HTTPHeaders {
			if h.Name == "Host" {
				route.Liveness.Host = h.Value
			}
		}
		if route.Liveness.Host == "" { // as the startup checks: the first domain
			route.Liveness.Host = firstHostName(hosts)
		}
	}
	return route, nil
}

// SyncAll pushes every app's route (the daemon's start).
func (r *router) SyncAll(ctx context.Context) error {
	var apps []store.App
	if err := r.s.store.Tx(ctx, func(tx *store.Tx) (err error) { apps, err = tx.Apps(); return err }); err != nil {
		return err
	}
	var routes []proxy.Route
	for _, a := range apps {
		rt, err := r.route(ctx, a.Name)
		if err != nil {
			r.s.log.Warn("route of app", "app", a.Name, "err", err)
			continue
		}
		routes = append(routes, rt)
	}
	return r.client.Replace(ctx, routes)
}

// ensureProxy makes sure a proxy process serves on the settings' address:
// it reuses a running one (a daemon restart leaves it alone) or starts
// `berth proxy` detached, so that it outlives this daemon.
func ensureProxy(ctx context.Context, bin, dataDir, socket string, env []string) (*proxy.Client, proxy.Status, error) {
	c := proxy.NewClient(socket)
	if st, err := c.Status(ctx); err == nil {
		return c, st, nil
	}
	logPath := filepath.Join(dataDir, "proxy.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, proxy.Status{}, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, "proxy")
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, proxy.Status{}, fmt.Errorf("start the proxy: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if st, err := c.Status(ctx); err == nil {
			return c, st, nil
		}
		select {
		case err := <-exited:
			return nil, proxy.Status{}, fmt.Errorf("the proxy exited at start (%v); see %s", err, logPath)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, proxy.Status{}, fmt.Errorf("the proxy did not answer within 15s; see %s", logPath)
		}
	}
}

func init() {
	app.Register(app.Setting{Namespace: "proxy", Key: "client-max-body-size", Scope: app.ScopeBoth, Default: "100m", Validate: func(v string) error {
		_, err := parseSize(v)
		return err
	}})
	app.Register(app.Setting{Namespace: "proxy", Key: "proxy-read-timeout", Scope: app.ScopeBoth, Default: "60s", Validate: func(v string) error {
		if d, err := time.ParseDuration(v); err != nil || d <= 0 {
			return app.Invalidf("Invalid proxy-read-timeout %q: a duration such as 60s or 2m", v)
		}
		return nil
	}})
}

// parseSize reads nginx-style sizes: 1024, 10k, 100m, 1g.
func parseSize(v string) (int64, error) {
	mult := int64(1)
	num := strings.ToLower(v)
	switch {
	case strings.HasSuffix(num, "k"):
		mult, num = 1<<10, strings.TrimSuffix(num, "k")
	case strings.HasSuffix(num, "m"):
		mult, num = 1<<20, strings.TrimSuffix(num, "m")
	case strings.HasSuffix(num, "g"):
		mult, num = 1<<30, strings.TrimSuffix(num, "g")
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 {
		return 0, app.Invalidf("Invalid size %q: a number of bytes, or with k, m or g (such as 100m)", v)
	}
	return n * mult, nil
}

// proxySettings reads an app's proxy settings.
func (s *Service) proxySettings(tx *store.Tx, a store.App) (maxBody int64, readTimeout time.Duration) {
	get := func(key, def string) string {
		if v, ok, _ := tx.Property(a.Scope(), "proxy", key); ok {
			return v
		}
		if v, ok, _ := tx.Property(store.Global, "proxy", key); ok {
			return v
		}
		return def
	}
	maxBody, _ = parseSize(get("client-max-body-size", "100m"))
	readTimeout, _ = time.ParseDuration(get("proxy-read-timeout", "60s"))
	return maxBody, readTimeout
}

// notifyRoutes pushes an app's route after its domains, ports, redirects or
// certificate changed. With Let's Encrypt enabled, a host the certificate
// does not cover yet gets one at once, in the background (Dokku only
// warns).
func (s *Service) notifyRoutes(ctx context.Context, app string) {
	if s.router == nil {
		return
	}
	if err := s.router.Sync(ctx, app); err != nil {
		s.log.Warn("update the proxy's route", "app", app, "err", err)
	}
	if s.acme != nil && !s.acme.busy(app) {
		go func() {
			if err := s.acme.renewAll(context.WithoutCancel(ctx), app, false); err != nil {
				s.log.Warn("certificate for new hosts", "app", app, "err", err)
			}
		}()
	}
}

// dropRoute removes an app's route from the proxy (apps:destroy, rename).
func (s *Service) dropRoute(ctx context.Context, app string) {
	if s.router == nil {
		return
	}
	if err := s.router.client.DeleteRoute(ctx, app); err != nil {
		s.log.Warn("remove the proxy's route", "app", app, "err", err)
	}
}
