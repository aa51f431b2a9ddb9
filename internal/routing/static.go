package routing

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/proxy"
	"github.com/berthpaas/berth/internal/store"
)

// staticRoutes are routes that are no app's (the HTTP API at the domain
// of dashboard:set, to the daemon's loopback address): pushed beside the
// apps' and kept when every route is replaced (SyncAll). Their names
// start with "_", which no app name can.
type staticRoutes struct {
	mu     sync.Mutex
	routes map[string]proxy.Route
}

// SetStatic pushes route (route.App names it, starting with "_") and
// keeps it across SyncAll.
func (m *Manager) SetStatic(ctx context.Context, route proxy.Route) error {
	if len(route.App) < 2 || route.App[0] != '_' {
		return fmt.Errorf("static route %q: its name must start with _", route.App)
	}
	m.static.mu.Lock()
	if m.static.routes == nil {
		m.static.routes = map[string]proxy.Route{}
	}
	m.static.routes[route.App] = route
	m.static.mu.Unlock()
	if m.proxy == nil {
		return nil
	}
	if err := m.proxy.SetRoute(ctx, route); err != nil {
		return fmt.Errorf("update the proxy's route %s: %w", route.App, err)
	}
	return nil
}

// DropStatic removes the static route name.
func (m *Manager) DropStatic(ctx context.Context, name string) error {
	m.static.mu.Lock()
	delete(m.static.routes, name)
	m.static.mu.Unlock()
	if m.proxy == nil {
		return nil
	}
	return m.proxy.DeleteRoute(ctx, name)
}

// staticList is every static route, for a full replace.
func (m *Manager) staticList() []proxy.Route {
	m.static.mu.Lock()
	defer m.static.mu.Unlock()
	var out []proxy.Route
	for _, r := range m.static.routes {
		out = append(out, r)
	}
	return out
}

// ObtainCert gets a certificate for hosts (not an app's: the HTTP API's
// domain) from the ACME server of the global letsencrypt settings (email,
// server, challenge), with the same client, account keys and challenge
// answers as the apps' certificates. It returns the PEM certificate chain
// and key, and when the certificate expires.
func (m *Manager) ObtainCert(ctx context.Context, hosts []string) (certPEM, keyPEM string, notAfter time.Time, err error) {
	if m.proxy == nil {
		return "", "", notAfter, api.Errorf(api.CodeUnavailable, "Let's Encrypt needs the proxy (BERTH_HTTP_ADDR is off)")
	}
	var set leSettings
	if err := m.store.Tx(ctx, func(tx *store.Tx) (err error) { set, err = leSettingsOf(tx, store.App{}); return err }); err != nil {
		return "", "", notAfter, err
	}
	if set.email == "" {
		return "", "", notAfter, api.Errorf(api.CodeInvalid, "Cannot request a certificate without an e-mail address! Set one with letsencrypt:set --global email you@example.com")
	}
	m.orderMu.Lock()
	defer m.orderMu.Unlock()
	certPEM, keyPEM, err = m.acme.order(ctx, set, hosts)
	if err != nil {
		m.log.Warn("certificate request failed", "hosts", hosts, "err", err)
		return "", "", notAfter, api.Errorf(api.CodeUnavailable, "Could not get a certificate for %s: %v", hosts[0], firstLine(err.Error()))
	}
	leaf, err := parseCertPair(certPEM, keyPEM)
	if err != nil {
		return "", "", notAfter, err
	}
	return certPEM, keyPEM, leaf.NotAfter, nil
}
