package routing

import (
	"context"
	"fmt"
	"sync"

	"github.com/berthpaas/berth/internal/proxy"
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
