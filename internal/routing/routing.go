// Package routing is how requests reach apps: domains (domains:*), port
// maps (ports:*), redirects (redirect:*), certificates (certs:*) and Let's
// Encrypt (letsencrypt:*), and the proxy routes built from them and the
// app's running web containers. It owns the client of the proxy process,
// implements the deploy pipeline's router (Sync, Drain) and renews
// certificates in the background. The daemon builds a Manager with what it
// needs and registers its operations on the API mux.
package routing

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/appfile"
	"github.com/berthpaas/berth/internal/proxy"
	"github.com/berthpaas/berth/internal/store"
)

// Routes is the proxy's routing table as routing changes it.
type Routes interface {
	SetRoute(ctx context.Context, r proxy.Route) error
	DeleteRoute(ctx context.Context, app string) error
	Replace(ctx context.Context, routes []proxy.Route) error
	Drain(ctx context.Context, addrs []string, timeout time.Duration) (int, error)
	// Routes is the table as the proxy holds it.
	Routes(ctx context.Context) ([]proxy.Route, error)
}

// Challenges is where ACME challenge answers go: the proxy holds the
// listeners, so it answers them.
type Challenges interface {
	SetChallenge(ctx context.Context, token, keyAuth string) error
	ClearChallenge(ctx context.Context, token string) error
	SetALPNCert(ctx context.Context, name, certPEM, keyPEM string) error
	ClearALPNCert(ctx context.Context, name string) error
}

// Proxy is the proxy process (*proxy.Client is one).
type Proxy interface {
	Routes
	Challenges
}

var _ Proxy = (*proxy.Client)(nil)

// WebContainer is one running web container of a release, as the engine
// reports it.
type WebContainer struct {
	Name       string
	Index      int    // N of web.N
	Generation string // the ps generation it was started in
	HostPort   int    // 0: no published port
	// Addr is where the proxy reaches it, HOST:PORT, when not on this
	// host (a Swarm task published on its node); "" is 127.0.0.1:HostPort.
	Addr string
}

// Backends is what routing needs of the deploy pipeline: where an app's
// web traffic can go, and how the proxy checks it is alive.
type Backends interface {
	// WebContainers lists the running web containers of an app's release.
	WebContainers(ctx context.Context, app string, release int) ([]WebContainer, error)
	// LivenessCheck is the liveness path check of a process type from the
	// live release's app.json, or nil.
	LivenessCheck(ctx context.Context, app, typ string) *appfile.Healthcheck
}

// Config is what a Manager is built with.
type Config struct {
	Store *store.Store
	// Proxy is the proxy process; nil when there is none (BERTH_HTTP_ADDR
	// off): routes are not pushed and Let's Encrypt refuses.
	Proxy    Proxy
	Backends Backends
	Log      *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// HTTPAddr and HTTPSAddr are the proxy's listen settings (urls, the
	// port map the HTTP listener serves); "" or "off" is off.
	HTTPAddr, HTTPSAddr string
	// DataDir holds the ACME account keys (DATA/acme).
	DataDir string
	// ACMERoots verifies the ACME server (nil: the system's roots).
	ACMERoots *x509.CertPool
	// RenewEvery is how often certificates are checked for renewal (an
	// hour when 0).
	RenewEvery time.Duration
	// ImagePorts lists the TCP and UDP ports an image exposes (the
	// detected port maps of ports:report); nil: none known.
	ImagePorts func(ctx context.Context, image string) (tcp, udp []int, err error)
	// Peers are the other nodes' proxies, kept in step with Proxy
	// (peers.go); nil: this node's proxy only.
	Peers Peers
	// PeerTimeout bounds each call to a peer, PeerResync is how often
	// they are checked (DefaultPeerTimeout, DefaultPeerResync when 0).
	PeerTimeout, PeerResync time.Duration
	// RenewalFailed, if set, is told of each certificate that a renewal
	// (the hourly loop, after a route change, letsencrypt:auto-renew)
	// could not obtain (notifications); letsencrypt:enable's is not.
	RenewalFailed func(app string, err error)
}

// Manager keeps the routing state of apps and pushes it to the proxy.
type Manager struct {
	store    *store.Store
	proxy    Proxy // nil: no proxy
	backends Backends
	log      *slog.Logger
	now      func() time.Time

	httpAddr, httpsAddr string
	imagePorts          func(ctx context.Context, image string) (tcp, udp []int, err error)

	acme       *acmeClient
	renewEvery time.Duration
	// renewalFailed is Config.RenewalFailed.
	renewalFailed func(app string, err error)
	// obtaining is the set of apps whose certificate is being obtained:
	// installing it syncs the route, which must not start another order.
	obtaining sync.Map
	// orderMu allows one ACME order at a time.
	orderMu sync.Mutex

	renewMu   sync.Mutex
	renewStop context.CancelFunc
	renewDone chan struct{}

	// syncMu and appSync make each push (a route worked out from the store
	// and the engine, then sent) one step: a push that read older state
	// never lands after one that read newer (a deploy's switch and the
	// engine watcher's sync after a container restarted, say). A push of
	// one app's route holds syncMu shared and that app's lock, so that
	// different apps' pushes overlap (a restore brings up eight at a time);
	// a push of every route holds syncMu alone.
	syncMu  sync.RWMutex
	appSync keyedMutex
	// pushed are the targets last pushed per app (syncConfig reuses
	// them); an entry changes under its app's sync lock.
	pushedMu sync.Mutex
	pushed   map[string]*pushedTargets

	fanout *fanout // nil: no peers

	static staticRoutes // routes that are no app's (static.go)
}

// keyedMutex is a mutex per key; a key's entry lives while it is held or
// waited for.
type keyedMutex struct {
	mu   sync.Mutex
	keys map[string]*keyedEntry
}

type keyedEntry struct {
	mu   sync.Mutex
	refs int
}

// lock locks key and returns its unlock.
func (k *keyedMutex) lock(key string) func() {
	k.mu.Lock()
	if k.keys == nil {
		k.keys = map[string]*keyedEntry{}
	}
	e := k.keys[key]
	if e == nil {
		e = &keyedEntry{}
		k.keys[key] = e
	}
	e.refs++
	k.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		k.mu.Lock()
		if e.refs--; e.refs == 0 {
			delete(k.keys, key)
		}
		k.mu.Unlock()
	}
}

// lockApp holds the sync lock for one app's push; the returned func
// releases it.
func (m *Manager) lockApp(app string) func() {
	m.syncMu.RLock()
	unlock := m.appSync.lock(app)
	return func() {
		unlock()
		m.syncMu.RUnlock()
	}
}

// New returns a Manager built from c.
func New(c Config) *Manager {
	m := &Manager{store: c.Store, proxy: c.Proxy, backends: c.Backends, log: c.Log, now: c.Now,
		httpAddr: c.HTTPAddr, httpsAddr: c.HTTPSAddr, renewEvery: c.RenewEvery, imagePorts: c.ImagePorts, renewalFailed: c.RenewalFailed}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.renewEvery <= 0 {
		m.renewEvery = time.Hour
	}
	if c.Proxy != nil && c.Peers != nil {
		m.fanout = newFanout(c.Proxy, c.Peers, c.PeerTimeout, c.PeerResync, m.log)
		m.proxy = m.fanout
	}
	m.acme = &acmeClient{dataDir: c.DataDir, roots: c.ACMERoots}
	if m.proxy != nil {
		m.acme.challenges = m.proxy
	}
	return m
}

// StartPeers starts keeping the other nodes' proxies in step (every
// PeerResync); without Config.Peers it does nothing.
func (m *Manager) StartPeers() {
	if m.fanout != nil {
		m.fanout.start()
	}
}

// StopPeers stops it.
func (m *Manager) StopPeers() {
	if m.fanout != nil {
		m.fanout.close()
	}
}

// Register adds the domains, ports, certs, redirect and letsencrypt
// operations to mux.
func (m *Manager) Register(mux *api.Mux) {
	m.registerDomains(mux)
	m.registerCerts(mux)
	m.registerRedirects(mux)
	m.registerLE(mux)
	m.registerProxy(mux)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// forApps runs fn for the app of a PSRequest, or for every app with --all
// (failures are collected, not fatal), as the daemon's ps commands do.
func (m *Manager) forApps(fn func(ctx context.Context, app string, out io.Writer) error) func(context.Context, api.PSRequest, api.Output) (api.Empty, error) {
	return func(ctx context.Context, req api.PSRequest, out api.Output) (api.Empty, error) {
		stdout := out.Stdout
		if stdout == nil {
			stdout = io.Discard
		}
		if !req.All {
			if req.App == "" {
				return api.Empty{}, api.Errorf(api.CodeInvalid, "Please specify an app to run the command on")
			}
			return api.Empty{}, fn(ctx, req.App, stdout)
		}
		var apps []store.App
		if err := m.store.Tx(ctx, func(tx *store.Tx) (err error) { apps, err = tx.Apps(); return err }); err != nil {
			return api.Empty{}, err
		}
		var failed []string
		for _, a := range apps {
			if err := fn(ctx, a.Name, stdout); err != nil {
				fmt.Fprintf(out.Stderr, " !     %s: %s\n", a.Name, firstLine(err.Error()))
				failed = append(failed, a.Name)
			}
		}
		if len(failed) > 0 {
			return api.Empty{}, api.Errorf(api.CodeInvalid, "Failed for %s", strings.Join(failed, ", "))
		}
		return api.Empty{}, nil
	}
}
