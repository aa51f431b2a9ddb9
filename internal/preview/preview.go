// Package preview is preview apps (previews:*): a push of a branch other
// than the deploy branch, to an app with previews enabled, makes the app
// APP-BRANCH with the parent's config, copies of its Postgres and Redis
// services restored from their latest backups (optionally masked by the
// repository's .berth/preview-mask.sql), its own domain, and app.json's
// environments.review; deleting the branch, previews:destroy or the expiry
// sweep destroys it with its services. The Manager reaches apps, config,
// domains, services and the deployer through the small interfaces below,
// filled by the daemon's wiring (daemon/preview.go). See docs/previews.md.
package preview

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/store"
)

// Apps creates and destroys apps (the apps commands).
type Apps interface {
	CreateApp(ctx context.Context, name string) error
	// DestroyApp destroys an app with its containers and repository.
	DestroyApp(ctx context.Context, name string) error
}

// ConfigVars reads and sets an app's own config vars, without a restart.
type ConfigVars interface {
	Vars(ctx context.Context, app string) (map[string]string, error)
	SetVars(ctx context.Context, app string, vars map[string]string) error
}

// Domains are the routing an app's preview needs.
type Domains interface {
	// GlobalDomains are the global domains (domains:set-global).
	GlobalDomains(ctx context.Context) ([]string, error)
	AppDomains(ctx context.Context, app string) ([]string, error)
	SetDomains(ctx context.Context, app string, domains []string) error
	// URL is the app's main URL ("" when it has none).
	URL(ctx context.Context, app string) (string, error)
	// LetsEncrypt reports whether the app has Let's Encrypt enabled.
	LetsEncrypt(ctx context.Context, app string) (bool, error)
	EnableLetsEncrypt(ctx context.Context, app string, out io.Writer) error
}

// Link is a service linked to an app and the config var the link set.
type Link struct {
	Kind, Name, Var string
}

// Services copies, links and destroys services.
type Services interface {
	Links(ctx context.Context, app string) ([]Link, error)
	// Copy creates service name of src's kind and image and restores
	// src's latest backup into it (taking a fresh one when there is
	// none: fresh); from says which backup.
	Copy(ctx context.Context, src Link, name, freshDir string, out io.Writer) (from string, fresh bool, err error)
	// RunScript runs an SQL script in a Postgres service.
	RunScript(ctx context.Context, kind, name, script string, out io.Writer) error
	// Link links a service to an app under the config var name.
	Link(ctx context.Context, kind, name, app, varName string) error
	// Destroy unlinks and destroys a service; a missing one is no error.
	Destroy(ctx context.Context, kind, name string) error
}

// Deploy is one deploy of a preview: a tar of the pushed tree.
type Deploy struct {
	App, Branch, Rev, Holder string
	Tree                     io.Reader
	// Apps, when not nil, are the apps the pushing key may touch.
	Apps []string
}

// Deployer deploys trees and runs one-off commands in an app's image.
type Deployer interface {
	Deploy(ctx context.Context, d Deploy, out io.Writer) (release int, err error)
	// Run runs a shell script in a one-off container of the app.
	Run(ctx context.Context, app, script string, out io.Writer) error
	// Scale sets an app's formation without deploying (ps:scale
	// --skip-deploy).
	Scale(ctx context.Context, app string, formation map[string]int) error
}

// Config is what a Manager is built with.
type Config struct {
	Store    *store.Store
	Apps     Apps
	Config   ConfigVars
	Domains  Domains
	Services Services
	Deployer Deployer
	// DataDir holds the fresh backups taken for previews (DATA/previews),
	// removed once restored.
	DataDir string
	Log     *slog.Logger
	Now     func() time.Time
}

// Manager runs preview apps.
type Manager struct {
	store    *store.Store
	apps     Apps
	config   ConfigVars
	domains  Domains
	services Services
	deployer Deployer
	dataDir  string
	log      *slog.Logger
	now      func() time.Time
	locks    sync.Map // parent/branch -> *sync.Mutex
}

// New returns a Manager built from c.
func New(c Config) *Manager {
	m := &Manager{store: c.Store, apps: c.Apps, config: c.Config, domains: c.Domains, services: c.Services,
		deployer: c.Deployer, dataDir: c.DataDir, log: c.Log, now: c.Now}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.now == nil {
		m.now = time.Now
	}
	return m
}

// lock serialises the work on one preview; it returns the unlock.
func (m *Manager) lock(parent, branch string) func() {
	l, _ := m.locks.LoadOrStore(parent+"\x00"+branch, new(sync.Mutex))
	mu := l.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

func (m *Manager) freshDir() string { return filepath.Join(m.dataDir, "backups") }

// Register adds the previews' operations to mux.
func (m *Manager) Register(mux *api.Mux) {
	api.Handle(mux, api.PreviewsEnable, func(ctx context.Context, req api.AppRef, _ api.Output) (api.PreviewSettings, error) {
		return m.setEnabled(ctx, req.App, true)
	})
	api.Handle(mux, api.PreviewsDisable, func(ctx context.Context, req api.AppRef, _ api.Output) (api.PreviewSettings, error) {
		return m.setEnabled(ctx, req.App, false)
	})
	api.Handle(mux, api.PreviewsSet, m.set)
	api.Handle(mux, api.PreviewsList, m.list)
	api.Handle(mux, api.PreviewsReport, m.report)
	api.Handle(mux, api.PreviewsDestroy, func(ctx context.Context, req api.PreviewRef, out api.Output) (api.Empty, error) {
		return api.Empty{}, m.destroyOp(ctx, req, out)
	})
	api.HandleSession(mux, api.PreviewsDeploy, m.deploy)
}

// Enabled reports whether pushes of other branches of app make previews
// (gitserver's push plan asks).
func (m *Manager) Enabled(ctx context.Context, appName string) (bool, error) {
	var on bool
	err := m.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := tx.App(appName)
		if err != nil {
			return err
		}
		s, err := tx.PreviewSettings(a)
		on = s.Enabled
		return err
	})
	return on, err
}
