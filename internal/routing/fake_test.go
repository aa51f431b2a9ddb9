package routing

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/appfile"
	"github.com/berthpaas/berth/internal/proxy"
	"github.com/berthpaas/berth/internal/store"
)

// fakeProxy records what routing asks of the proxy process.
type fakeProxy struct {
	mu         sync.Mutex
	routes     map[string]proxy.Route
	replaced   int
	deleted    []string
	challenges map[string]string // token -> key authorization
	alpn       map[string]string // name -> certificate
	drained    []string
	fail       error // every call fails with it
}

func newFakeProxy() *fakeProxy {
	return &fakeProxy{routes: map[string]proxy.Route{}, challenges: map[string]string{}, alpn: map[string]string{}}
}

func (p *fakeProxy) SetRoute(_ context.Context, r proxy.Route) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail != nil {
		return p.fail
	}
	p.routes[r.App] = r
	return nil
}

func (p *fakeProxy) DeleteRoute(_ context.Context, app string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail != nil {
		return p.fail
	}
	delete(p.routes, app)
	p.deleted = append(p.deleted, app)
	return nil
}

func (p *fakeProxy) Replace(_ context.Context, routes []proxy.Route) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail != nil {
		return p.fail
	}
	p.replaced++
	p.routes = map[string]proxy.Route{}
	for _, r := range routes {
		p.routes[r.App] = r
	}
	return nil
}

func (p *fakeProxy) Drain(_ context.Context, addrs []string, _ time.Duration) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.drained = append(p.drained, addrs...)
	return 0, p.fail
}

func (p *fakeProxy) SetChallenge(_ context.Context, token, keyAuth string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.challenges[token] = keyAuth
	return p.fail
}

func (p *fakeProxy) ClearChallenge(_ context.Context, token string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.challenges, token)
	return p.fail
}

func (p *fakeProxy) SetALPNCert(_ context.Context, name, certPEM, _ string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.alpn[name] = certPEM
	return p.fail
}

func (p *fakeProxy) ClearALPNCert(_ context.Context, name string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.alpn, name)
	return p.fail
}

func (p *fakeProxy) Routes(context.Context) ([]proxy.Route, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail != nil {
		return nil, p.fail
	}
	var out []proxy.Route
	for _, r := range p.routes {
		out = append(out, r)
	}
	return out, nil
}

// route returns the route the proxy holds for app.
func (p *fakeProxy) route(app string) (proxy.Route, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.routes[app]
	return r, ok
}

// fakeBackends answers with fixed web containers and liveness checks.
type fakeBackends struct {
	mu         sync.Mutex
	containers map[string][]WebContainer // by "app/release"
	liveness   map[string]*appfile.Healthcheck
	err        error
	asked      []string
}

func newFakeBackends() *fakeBackends {
	return &fakeBackends{containers: map[string][]WebContainer{}, liveness: map[string]*appfile.Healthcheck{}}
}

func (b *fakeBackends) WebContainers(_ context.Context, app string, release int) ([]WebContainer, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	key := app + "/" + strconv.Itoa(release)
	b.asked = append(b.asked, key)
	return b.containers[key], b.err
}

func (b *fakeBackends) LivenessCheck(_ context.Context, app, _ string) *appfile.Healthcheck {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.liveness[app]
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a Manager on a real store (in a temp dir), a fake proxy, fake
// backends and a fake clock, with its operations on a mux.
type env struct {
	t        *testing.T
	ctx      context.Context
	st       *store.Store
	m        *Manager
	proxy    *fakeProxy
	backends *fakeBackends
	clock    *fakeClock
	mux      *api.Mux
}

// newEnv builds an env; cfg may adjust the Config (nil Proxy: no proxy).
func newEnv(t *testing.T, cfg func(*Config)) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, filepath.Join(dir, "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{t: t, ctx: ctx, st: st, proxy: newFakeProxy(), backends: newFakeBackends(),
		clock: &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}}
	c := Config{Store: st, Proxy: e.proxy, Backends: e.backends, Now: e.clock.now,
		HTTPAddr: ":80", HTTPSAddr: ":443", DataDir: dir}
	if cfg != nil {
		cfg(&c)
	}
	e.m = New(c)
	t.Cleanup(e.m.StopRenewals)
	e.mux = api.NewMux(slog.New(slog.DiscardHandler), nil)
	e.m.Register(e.mux)
	return e
}

// tx runs fn in a transaction, failing the test on error.
func (e *env) tx(fn func(tx *store.Tx) error) {
	e.t.Helper()
	if err := e.st.Tx(e.ctx, fn); err != nil {
		e.t.Fatal(err)
	}
}

// createApp creates an app as apps:create does (with its default domain).
func (e *env) createApp(name string) store.App {
	e.t.Helper()
	var a store.App
	e.tx(func(tx *store.Tx) (err error) {
		if a, err = tx.CreateApp(name, e.clock.now()); err != nil {
			return err
		}
		return e.m.OnAppCreated(tx, a)
	})
	return a
}

// deploy gives an app a live release with web scaled to web.
func (e *env) deploy(a store.App, web int) store.Release {
	e.t.Helper()
	var r store.Release
	e.tx(func(tx *store.Tx) (err error) {
		if r, err = tx.CreateRelease(a, store.Release{Processes: map[string]string{"web": ""}, CreatedAt: e.clock.now()}); err != nil {
			return err
		}
		if err := tx.SetFormation(a, map[string]int{"web": web}); err != nil {
			return err
		}
		return tx.MakeLive(r, e.clock.now())
	})
	return r
}

// errCode is the API code of err ("" when it is not an api.Error).
func errCode(err error) api.Code {
	var ae *api.Error
	if errors.As(err, &ae) {
		return ae.Code
	}
	return ""
}
