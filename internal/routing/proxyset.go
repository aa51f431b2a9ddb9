package routing

import (
	"context"
	"regexp"
	"strconv"
	"sync"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/apierr"
	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/store"
)

// Dokku's proxy settings. Berth serves every app with its own proxy, which
// plays the part of Dokku's default (nginx): `type` is recorded and
// reported, so that scripts reading it see what they set, but there is no
// other proxy to switch to; proxy-port and proxy-ssl-port are recorded
// too (the ports an app is served on come from its port maps, ports:set).
// `disabled` (proxy:disable) takes the app's route out of the proxy.
const (
	proxyNS       = "proxy"
	proxyDisabled = "disabled"
	// DefaultProxyType is the type reported when none is set.
	DefaultProxyType = "nginx"
)

var proxyTypeRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z][a-z0-9-]*$`) })

func init() {
	app.Register(app.Setting{Namespace: proxyNS, Key: "type", Scope: app.ScopeBoth, Default: DefaultProxyType, Validate: func(v string) error {
		if !proxyTypeRe().MatchString(v) {
			return app.Invalidf("Invalid proxy type %q", v)
		}
		return nil
	}})
	for _, k := range []string{"proxy-port", "proxy-ssl-port"} {
		app.Register(app.Setting{Namespace: proxyNS, Key: k, Scope: app.ScopeBoth, Validate: validPort})
	}
	app.Register(app.Setting{Namespace: proxyNS, Key: proxyDisabled, Scope: app.ScopeApp, Internal: true})
}

func validPort(v string) error {
	if p, err := strconv.Atoi(v); err != nil || p < 1 || p > 65535 || strconv.Itoa(p) != v {
		return app.Invalidf("Invalid port %q: a number from 1 to 65535", v)
	}
	return nil
}

func (m *Manager) registerProxy(mux *api.Mux) {
	api.Handle(mux, api.ProxyEnable, m.proxyEnable)
	api.Handle(mux, api.ProxyBuildConfig, m.proxyBuildConfig)
}

// proxyEnable records proxy:enable / proxy:disable and pushes (or drops)
// the app's route.
func (m *Manager) proxyEnable(ctx context.Context, req api.ProxyToggle, _ api.Output) (api.ProxyToggled, error) {
	var res api.ProxyToggled
	err := m.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := apierr.App(tx, req.App)
		if err != nil {
			return err
		}
		_, disabled, err := tx.Property(a.Scope(), proxyNS, proxyDisabled)
		if err != nil || disabled != req.Enabled {
			return err // already so
		}
		res.Changed = true
		if req.Enabled {
			return tx.UnsetProperty(a.Scope(), proxyNS, proxyDisabled)
		}
		return tx.SetProperty(a.Scope(), proxyNS, proxyDisabled, "true")
	})
	if err != nil || !res.Changed {
		return res, err
	}
	m.log.Info("proxy toggled", "app", req.App, "enabled", req.Enabled)
	if m.proxy != nil {
		if err := m.Sync(ctx, req.App); err != nil {
			return res, err
		}
	}
	return res, nil
}

// proxyBuildConfig pushes the app's route again (Dokku rebuilds its
// nginx.conf; Berth has no file, the route is the config).
func (m *Manager) proxyBuildConfig(ctx context.Context, req api.AppRef, _ api.Output) (api.Empty, error) {
	if err := m.store.Tx(ctx, func(tx *store.Tx) error { _, err := apierr.App(tx, req.App); return err }); err != nil {
		return api.Empty{}, err
	}
	return api.Empty{}, m.Sync(ctx, req.App)
}

// proxyDisabledFor reports whether proxy:disable took the app out of the
// proxy.
func proxyDisabledFor(tx *store.Tx, a store.App) bool {
	_, disabled, _ := tx.Property(a.Scope(), proxyNS, proxyDisabled)
	return disabled
}

// isProxyDisabled reads proxyDisabledFor in a transaction of its own (a
// missing app is not disabled).
func (m *Manager) isProxyDisabled(ctx context.Context, appName string) bool {
	disabled := false
	m.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := tx.App(appName)
		if err == nil {
			disabled = proxyDisabledFor(tx, a)
		}
		return nil
	})
	return disabled
}
