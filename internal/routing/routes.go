package routing

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/appfile"
	"github.com/berthpaas/berth/internal/proxy"
	"github.com/berthpaas/berth/internal/store"
)

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

// Sync pushes the app's current route to the proxy, its targets from the
// engine: the deploy pipeline calls it at the switch, and the engine
// watcher when a web container starts. A change of domains, ports,
// redirects or certificate goes through Notify (syncConfig).
func (m *Manager) Sync(ctx context.Context, app string) error {
	return m.sync(ctx, app, false)
}

// sync is Sync; with reuse, syncConfig.
func (m *Manager) sync(ctx context.Context, app string, reuse bool) error {
	if m.proxy == nil {
		return nil
	}
	defer m.lockApp(app)()
	if m.isProxyDisabled(ctx, app) {
		m.forget(app)
		if err := m.proxy.DeleteRoute(ctx, app); err != nil {
			return fmt.Errorf("remove the proxy's route for %s (proxy:disable): %w", app, err)
		}
		return nil
	}
	return m.push(ctx, app, reuse)
}

// push works out the app's route and sends it, under the app's lock. With
// reuse the targets last pushed are kept when the app's containers cannot
// have changed since (a change of domains, ports, redirects or
// certificate): the engine is not asked.
func (m *Manager) push(ctx context.Context, app string, reuse bool) error {
	var known *pushedTargets
	if reuse {
		known = m.pushedOf(app)
	}
	route, key, err := m.routeWith(ctx, app, true, known)
	if err != nil {
		m.forget(app)
		return err
	}
	if err := m.proxy.SetRoute(ctx, route); err != nil {
		m.forget(app)
		return fmt.Errorf("update the proxy's route for %s: %w", app, err)
	}
	m.remember(app, key, route.Targets)
	return nil
}

// TakeOut removes a container that stopped from its app's route at once,
// without asking the engine: the engine watcher calls it on the
// container's "die" event, when the engine may still list it as running
// (or be shutting down). The app's other targets stay; with none left the
// proxy answers 503. Sync puts the container back once it runs again.
func (m *Manager) TakeOut(ctx context.Context, app, container string) error {
	if m.proxy == nil {
		return nil
	}
	defer m.lockApp(app)()
	routes, err := m.proxy.Routes(ctx)
	if err != nil {
		return fmt.Errorf("read the proxy's routes: %w", err)
	}
	i := slices.IndexFunc(routes, func(r proxy.Route) bool { return r.App == app })
	if i < 0 || !slices.ContainsFunc(routes[i].Targets, func(t proxy.Target) bool { return t.Container == container }) {
		return nil
	}
	cur := routes[i]
	route, err := m.routeOf(ctx, app, false)
	if err != nil {
		return err
	}
	route.Targets = slices.DeleteFunc(slices.Clone(cur.Targets), func(t proxy.Target) bool { return t.Container == container })
	route.Liveness = cur.Liveness
	m.forget(app) // the engine has the last word at the next Sync
	if err := m.proxy.SetRoute(ctx, route); err != nil {
		return fmt.Errorf("update the proxy's route for %s: %w", app, err)
	}
	return nil
}

// Drain waits for requests in flight to addrs.
func (m *Manager) Drain(ctx context.Context, addrs []string, timeout time.Duration) (int, error) {
	if m.proxy == nil {
		return 0, nil
	}
	return m.proxy.Drain(ctx, addrs, timeout)
}

// SyncAll pushes every app's route (the daemon's start, and after the
// engine came back). An app whose containers cannot be listed (the engine
// is down) keeps its route without targets: the proxy answers 503 for it
// rather than send requests to host ports that may belong to another
// app's container by now.
func (m *Manager) SyncAll(ctx context.Context) error {
	return m.replaceAll(ctx, true)
}

// MarkUnavailable pushes every app's route without the targets on this
// host, so that the proxy answers 503 for an app with none left (the
// daemon, when its connection to the engine drops: the engine stops the
// containers, and the host ports they published may be taken by other
// containers when it comes back). The targets on other nodes (an app's
// Swarm tasks there) stay: the lost engine does not run them, and they
// keep serving while this node's engine restarts. SyncAll brings the
// targets back.
func (m *Manager) MarkUnavailable(ctx context.Context) error {
	return m.replaceAll(ctx, false)
}

func (m *Manager) replaceAll(ctx context.Context, withTargets bool) error {
	if m.proxy == nil {
		return nil
	}
	m.syncMu.Lock()
	defer m.syncMu.Unlock()
	m.forgetAll()
	// The targets on other nodes, from the proxy's table as it was:
	// kept when this host's engine is lost, and for an app whose
	// targets cannot be listed (a swarm not ready after the manager's
	// engine restarted: its tasks on the other nodes still run).
	elsewhere := m.remoteTargets(ctx)
	var apps []store.App
	if err := m.store.Tx(ctx, func(tx *store.Tx) (err error) { apps, err = tx.Apps(); return err }); err != nil {
		return err
	}
	var routes []proxy.Route
	for _, a := range apps {
		if m.isProxyDisabled(ctx, a.Name) {
			continue
		}
		rt, err := m.routeOf(ctx, a.Name, withTargets)
		var be *backendsError
		switch {
		case errors.As(err, &be):
			m.log.Warn("route of app: only its targets on other nodes until its containers can be listed", "app", a.Name, "err", be.err)
		case err != nil:
			m.log.Warn("route of app", "app", a.Name, "err", err)
			continue
		}
		if ts := elsewhere[a.Name]; len(ts) > 0 && (!withTargets || errors.As(err, &be)) {
			rt.Targets = ts
		}
		routes = append(routes, rt)
	}
	routes = append(routes, m.staticList()...)
	return m.proxy.Replace(ctx, routes)
}

// remoteTargets reads the proxy's routes for the targets of each app that
// are on another node (not on loopback: those are this host's
// containers). A proxy that cannot be read gives none.
func (m *Manager) remoteTargets(ctx context.Context) map[string][]proxy.Target {
	routes, err := m.proxy.Routes(ctx)
	if err != nil {
		m.log.Warn("read the proxy's routes for the targets on other nodes", "err", err)
		return nil
	}
	out := map[string][]proxy.Target{}
	for _, r := range routes {
		for _, t := range r.Targets {
			host, _, err := net.SplitHostPort(t.Addr)
			if ip := net.ParseIP(host); err != nil || host == "localhost" || ip != nil && ip.IsLoopback() {
				continue
			}
			out[r.App] = append(out[r.App], t)
		}
	}
	return out
}

// backendsError is a failure to list an app's containers; the route
// that comes with it is complete but for its targets (none).
type backendsError struct{ err error }

func (e *backendsError) Error() string { return e.err.Error() }
func (e *backendsError) Unwrap() error { return e.err }

// Notify pushes an app's route after its domains, ports, redirects or
// certificate changed (the daemon: after apps:rename). With Let's Encrypt
// enabled, a host the certificate does not cover yet gets one at once, in
// the background (Dokku only warns). Failures are logged.
func (m *Manager) Notify(ctx context.Context, app string) {
	if m.proxy == nil {
		return
	}
	if err := m.syncConfig(ctx, app); err != nil {
		m.log.Warn("update the proxy's route", "app", app, "err", err)
	}
	if !m.busy(app) {
		go func() {
			if err := m.renewAll(context.WithoutCancel(ctx), app, false); err != nil {
				m.log.Warn("certificate for new hosts", "app", app, "err", err)
			}
		}()
	}
}

// DropRoute removes an app's route from the proxy (apps:destroy, rename).
// Failures are logged.
func (m *Manager) DropRoute(ctx context.Context, app string) {
	if m.proxy == nil {
		return
	}
	m.forget(app)
	if err := m.proxy.DeleteRoute(ctx, app); err != nil {
		m.log.Warn("remove the proxy's route", "app", app, "err", err)
	}
}

// syncConfig is Sync after a change of the route's configuration only
// (domains, ports, redirects, certificate): the targets last pushed for
// the app are sent again when its live release, generation and web count
// are those they were worked out for, and the engine is not asked (with
// 200 apps its container list was a third of a domains:add).
func (m *Manager) syncConfig(ctx context.Context, app string) error {
	return m.sync(ctx, app, true)
}

// route computes an app's route from the store (domains, redirects,
// certificate, proxy settings) and its running web containers.
func (m *Manager) route(ctx context.Context, app string) (proxy.Route, error) {
	return m.routeOf(ctx, app, true)
}

// routeOf is route; without withTargets the route has no targets and the
// engine is not asked. A failure to list the containers is a
// *backendsError, returned with the route (without targets).
func (m *Manager) routeOf(ctx context.Context, app string, withTargets bool) (proxy.Route, error) {
	r, _, err := m.routeWith(ctx, app, withTargets, nil)
	return r, err
}

// routeWith is routeOf; with known, whose key matches the app's state, its
// targets are the route's and the engine is not asked. The key returned
// is the state the route's targets were worked out for (zero: none to
// remember: the app is not deployed, stopped, or without targets asked).
func (m *Manager) routeWith(ctx context.Context, app string, withTargets bool, known *pushedTargets) (proxy.Route, targetsKey, error) {
	route := proxy.Route{App: app, Hosts: []string{}, Targets: []proxy.Target{}}
	hosts, err := m.appHosts(ctx, app)
	if err != nil {
		return route, targetsKey{}, err
	}
	route.Hosts = hosts
	var a store.App
	var live store.Release
	var formation map[string]int
	var generation string
	deployed := false
	err = m.store.Tx(ctx, func(tx *store.Tx) error {
		var err error
		if a, err = tx.App(app); err != nil {
			return err
		}
		if formation, err = tx.Formation(a); err != nil {
			return err
		}
		route.MaxBodyBytes, route.UpstreamTimeout = proxySettings(tx, a)
		if err := routeTLS(tx, a, &route); err != nil {
			return err
		}
		generation, _, _ = tx.Property(a.Scope(), "ps", "generation")
		live, err = tx.LiveRelease(a)
		if errors.Is(err, store.ErrReleaseNotFound) {
			return nil
		}
		deployed = err == nil
		if deployed {
			route.Release = live.Number // the proxy counts requests by release
			maps, err := portMaps(tx, a)
			if err != nil {
				return err
			}
			route.Ports = m.extraPorts(maps, live.WebPort, route.TLS != nil)
		}
		return err
	})
	if err != nil || !deployed || a.Stopped || !withTargets {
		return route, targetsKey{}, err
	}
	key := targetsKey{release: live.Number, generation: generation, web: formation["web"]}
	if known != nil && known.key == key {
		route.Targets = slices.Clone(known.targets)
	} else {
		cs, err := m.backends.WebContainers(ctx, app, live.Number)
		if err != nil {
			return route, targetsKey{}, &backendsError{err}
		}
		route.Targets = webTargets(cs, formation["web"], generation)
		if len(route.Targets) == 0 && key.web > 0 {
			// No web process listed as running where one should: on
			// Swarm, the manager's view after its engine restarted
			// (it reschedules the tasks of nodes it has not heard from
			// yet, which still serve). The targets the proxy has on
			// other nodes stay until one is listed again: a gone one
			// refuses, and the proxy retries on another. Not
			// remembered: the next sync asks again.
			if kept := m.remoteTargets(ctx)[app]; len(kept) > 0 {
				m.log.Info("no web task of the app listed as running: its last targets on other nodes stay until one is", "app", app, "targets", len(kept))
				route.Targets = kept
				key = targetsKey{}
			}
		}
	}
	if hc := m.backends.LivenessCheck(ctx, app, "web"); hc != nil {
		route.Liveness = liveness(hc, hosts)
	}
	return route, key, nil
}

// targetsKey is what an app's targets were worked out for: its live
// release, ps generation and web count. A deploy, ps:restart or ps:scale
// changes one of them; a container the engine restarted (whose host port
// may change) is synced from the engine (Sync, which asks it).
type targetsKey struct {
	release    int
	generation string
	web        int
}

// pushedTargets are the targets last pushed for an app, with their key.
type pushedTargets struct {
	key     targetsKey
	targets []proxy.Target
}

func (m *Manager) pushedOf(app string) *pushedTargets {
	m.pushedMu.Lock()
	defer m.pushedMu.Unlock()
	return m.pushed[app]
}

// remember records the targets pushed for app (a zero key forgets them).
func (m *Manager) remember(app string, key targetsKey, targets []proxy.Target) {
	if key == (targetsKey{}) {
		m.forget(app)
		return
	}
	m.pushedMu.Lock()
	defer m.pushedMu.Unlock()
	if m.pushed == nil {
		m.pushed = map[string]*pushedTargets{}
	}
	m.pushed[app] = &pushedTargets{key: key, targets: slices.Clone(targets)}
}

func (m *Manager) forget(app string) {
	m.pushedMu.Lock()
	defer m.pushedMu.Unlock()
	delete(m.pushed, app)
}

func (m *Manager) forgetAll() {
	m.pushedMu.Lock()
	defer m.pushedMu.Unlock()
	clear(m.pushed)
}

// webTargets picks, in name order, the containers the proxy sends traffic
// to: those with a published port, within the formation's web count, of
// the current ps generation.
func webTargets(cs []WebContainer, web int, generation string) []proxy.Target {
	cs = slices.Clone(cs)
	sort.Slice(cs, func(i, j int) bool { return cs[i].Name < cs[j].Name })
	targets := []proxy.Target{}
	for _, c := range cs {
		if c.HostPort == 0 || c.Index < 1 || c.Index > web || c.Generation != generation {
			continue
		}
		addr := c.Addr
		if addr == "" {
			addr = fmt.Sprintf("127.0.0.1:%d", c.HostPort)
		}
		targets = append(targets, proxy.Target{Addr: addr, Container: c.Name})
	}
	return targets
}

// liveness turns app.json's liveness check into the proxy's: probe every
// `wait` seconds; `attempts` failures in a row take a container out of
// rotation, one success brings it back. Its Host is the check's own, else
// (as the startup checks) the app's first host name.
func liveness(hc *appfile.Healthcheck, hosts []string) *proxy.Liveness {
	d := hc.WithDefaults()
	l := &proxy.Liveness{Path: hc.Path, Content: hc.Content, Interval: time.Duration(max(*d.Wait, 1)) * time.Second,
		Timeout: time.Duration(*d.Timeout) * time.Second, Failures: max(*d.Attempts, 1), Successes: 1}
	for _, h := range hc.HTTPHeaders {
		if h.Name == "Host" {
			l.Host = h.Value
		}
	}
	if l.Host == "" {
		l.Host = firstHostName(hosts)
	}
	return l
}

// routeTLS adds an app's certificate, HSTS and redirects to its route.
func routeTLS(tx *store.Tx, a store.App, route *proxy.Route) error {
	rs, err := tx.Redirects(a)
	if err != nil {
		return err
	}
	for _, r := range rs {
		route.Redirects = append(route.Redirects, proxy.Redirect{From: r.Src, To: r.Dest, Code: r.Code})
		route.Hosts = slices.DeleteFunc(route.Hosts, func(h string) bool { return h == r.Src })
	}
	c, err := tx.Cert(a)
	if errors.Is(err, store.ErrNoCert) {
		return nil
	}
	if err != nil {
		return err
	}
	get := proxySetting(tx, a)
	route.TLS = &proxy.RouteTLS{CertPEM: c.CertPEM, KeyPEM: c.KeyPEM, RedirectHTTP: true}
	if get("hsts", "true") == "true" {
		age, _ := strconv.Atoi(get("hsts-max-age", "15724800"))
		route.TLS.HSTS = &proxy.HSTS{MaxAge: time.Duration(age) * time.Second,
			IncludeSubdomains: get("hsts-include-subdomains", "false") == "true", Preload: get("hsts-preload", "false") == "true"}
	}
	return nil
}

// proxySetting reads an app's proxy settings: the app's value, else the
// global one, else def.
func proxySetting(tx *store.Tx, a store.App) func(key, def string) string {
	return func(key, def string) string {
		if v, ok, _ := tx.Property(a.Scope(), "proxy", key); ok {
			return v
		}
		if v, ok, _ := tx.Property(store.Global, "proxy", key); ok {
			return v
		}
		return def
	}
}

// proxySettings reads an app's body size limit and upstream timeout.
func proxySettings(tx *store.Tx, a store.App) (maxBody int64, readTimeout time.Duration) {
	get := proxySetting(tx, a)
	maxBody, _ = parseSize(get("client-max-body-size", "100m"))
	readTimeout, _ = time.ParseDuration(get("proxy-read-timeout", "60s"))
	return maxBody, readTimeout
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
