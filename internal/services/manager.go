// Package services is Berth's Postgres and Redis: Dokku's dokku-postgres and
// dokku-redis commands (create, link, start/stop, expose, export/import,
// backups and schedules, upgrades) over a record in the store, a container
// and a data directory on the host. The daemon builds a Manager with what it
// needs and registers its operations on the API mux; see docs/services.md.
package services

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/store"
)

// Containers is what services need to run their containers.
type Containers interface {
	CreateContainer(ctx context.Context, spec docker.ContainerSpec) (string, error)
	StartContainer(ctx context.Context, id string) error
	StopContainer(ctx context.Context, id string, timeout time.Duration) error
	RemoveContainer(ctx context.Context, id string, force bool) error
	InspectContainer(ctx context.Context, idOrName string) (docker.ContainerDetails, error)
	Wait(ctx context.Context, id string) (int, error)
	Logs(ctx context.Context, id string, opts docker.LogsOptions, stdout, stderr io.Writer) error
}

// Execer runs a command in a running container: clients, dumps, restores
// and readiness checks.
type Execer interface {
	Exec(ctx context.Context, id string, opts docker.ExecOptions) (int, error)
}

// Pauser freezes and thaws containers (KIND:pause, KIND:start).
type Pauser interface {
	PauseContainer(ctx context.Context, id string) error
	UnpauseContainer(ctx context.Context, id string) error
}

// Images finds service images on the engine and pulls missing ones.
type Images interface {
	InspectImage(ctx context.Context, ref string) (docker.ImageInfo, error)
	PullImage(ctx context.Context, ref string, out io.Writer) error
}

// Networks are the services' and the linked apps' networks, and who is
// attached to them.
type Networks interface {
	// EnsureNetwork creates a missing network on a subnet of sub (the
	// zero SubnetPool: the engine's choice).
	EnsureNetwork(ctx context.Context, name string, labels map[string]string, sub docker.SubnetPool) error
	RemoveNetwork(ctx context.Context, name string) error
	InspectNetwork(ctx context.Context, name string) (docker.NetworkInfo, error)
	ConnectNetwork(ctx context.Context, network, container string, aliases []string) error
	DisconnectNetwork(ctx context.Context, network, container string) error
	// ListContainers finds an app's containers (to attach them to its
	// network).
	ListContainers(ctx context.Context, labels map[string]string, all bool) ([]docker.ContainerInfo, error)
}

// Engine is everything services need of the container engine
// (*docker.Client is one).
type Engine interface {
	Containers
	Execer
	Pauser
	Images
	Networks
}

var _ Engine = (*docker.Client)(nil)

// Connector returns the engine, connecting on first use; an absent engine
// is an error wrapping docker.ErrEngineUnavailable.
type Connector func(ctx context.Context) (Engine, error)

// Names are the engine-side names of Berth's objects (naming.Names is one):
// what labels mark this Berth's containers, a service's container, and the
// networks of services and apps.
type Names interface {
	Instance() string
	Service(kind, name string) string
	ServiceLabels(kind, name string) map[string]string
	ServiceNetwork(kind, name string) string
	AppNetwork(app string) string
	AppOfNetwork(network string) (string, bool)
	AppNetworkLabels(app string) map[string]string
	AppLabels(app string) map[string]string
	SharedNetwork() string
}

// Redeployer redeploys an app so it picks up changed config (a link's URL).
// It reports false when the app has nothing deployed yet.
type Redeployer interface {
	Redeploy(ctx context.Context, appName string, out api.Output) (bool, error)
}

// Image is the default image and tag of new services of a kind (Dokku's
// POSTGRES_IMAGE and POSTGRES_IMAGE_VERSION settings); empty fields fall
// back to the official image.
type Image struct{ Repo, Tag string }

// Config is what a Manager is built with.
type Config struct {
	Store   *store.Store
	Engine  Connector
	Names   Names
	DataDir string // services live in DATA/services/KIND/NAME
	Log     *slog.Logger
	// Images are the default images of new services, by kind.
	Images map[string]Image
	// Redeployer restarts linked apps after link changes; nil restarts
	// nothing.
	Redeployer Redeployer
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// NetworkPool is the range the subnets of the services' and apps'
	// networks are taken from (BERTH_NETWORK_POOL); the zero Prefix leaves
	// the choice to the engine.
	NetworkPool netip.Prefix
	// BackupFailed, if set, is told of each scheduled backup that failed
	// (notifications); a backup run by hand says so to its caller.
	BackupFailed func(kind, name string, err error)
}

// Manager runs the services: it implements the postgres:* and redis:*
// operations, keeps the scheduled backups, and tells the deployer which
// network an app's containers join.
type Manager struct {
	store    *store.Store
	connect  Connector
	names    Names
	dataDir  string
	log      *slog.Logger
	now      func() time.Time
	images   map[string]Image
	redeploy Redeployer
	// rename moves data directories (os.Rename; tests make it fail).
	rename func(oldpath, newpath string) error
	locks  sync.Map // "kind/name" -> *sync.Mutex
	sched  *backupScheduler
	// netPool is Config.NetworkPool.
	netPool netip.Prefix
	// backupFailed is Config.BackupFailed.
	backupFailed func(kind, name string, err error)
	// drills are the names of the throw-away containers of the drills
	// running now (RemoveLeftoverDrills leaves them alone).
	drills sync.Map
}

// New returns a Manager built from c.
func New(c Config) *Manager {
	m := &Manager{store: c.Store, connect: c.Engine, names: c.Names, dataDir: c.DataDir, log: c.Log,
		now: c.Now, images: c.Images, redeploy: c.Redeployer, rename: os.Rename, netPool: c.NetworkPool, backupFailed: c.BackupFailed}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.now == nil {
		m.now = time.Now
	}
	m.sched = newBackupScheduler(m.log)
	return m
}

// Register adds the services' operations to mux.
func (m *Manager) Register(mux *api.Mux) {
	api.Handle(mux, api.ServicesCreate, m.serviceCreate)
	api.Handle(mux, api.ServicesDestroy, m.serviceDestroy)
	api.Handle(mux, api.ServicesList, m.serviceList)
	api.Handle(mux, api.ServicesInfo, m.serviceInfo)
	api.Handle(mux, api.ServicesLink, m.serviceLink)
	api.Handle(mux, api.ServicesUnlink, m.serviceUnlink)
	api.Handle(mux, api.ServicesPromote, m.servicePromote)
	api.Handle(mux, api.ServicesAppLinks, m.serviceAppLinks)
	api.Handle(mux, api.ServicesStart, m.serviceStart)
	api.Handle(mux, api.ServicesStop, m.serviceStop)
	api.Handle(mux, api.ServicesRestart, m.serviceRestart)
	api.Handle(mux, api.ServicesPause, m.servicePause)
	api.Handle(mux, api.ServicesLogs, m.serviceLogs)
	api.Handle(mux, api.ServicesExpose, m.serviceExpose)
	api.Handle(mux, api.ServicesUnexpose, m.serviceUnexpose)
	api.Handle(mux, api.ServicesUpgrade, m.serviceUpgrade)
	api.HandleSession(mux, api.ServicesConnect, func(ctx context.Context, req api.ServiceConnect, sess *api.Session) (api.RunResult, error) {
		return m.serviceExec(ctx, req, sess, true)
	})
	api.HandleSession(mux, api.ServicesEnter, func(ctx context.Context, req api.ServiceConnect, sess *api.Session) (api.RunResult, error) {
		return m.serviceExec(ctx, req, sess, false)
	})
	api.HandleSession(mux, api.ServicesExport, m.serviceExport)
	api.HandleSession(mux, api.ServicesImport, m.serviceImport)
	api.Handle(mux, api.ServicesClone, m.serviceClone)
	api.Handle(mux, api.ServicesBackup, m.serviceBackup)
	api.Handle(mux, api.ServicesBackupSchedule, m.serviceBackupSchedule)
	api.Handle(mux, api.ServicesBackupUnschedule, m.serviceBackupUnschedule)
	api.Handle(mux, api.ServicesBackupScheduleCat, m.serviceBackupScheduleCat)
	api.Handle(mux, api.ServicesBackupList, m.serviceBackupList)
	api.Handle(mux, api.ServicesBackupRestore, m.serviceBackupRestore)
	api.Handle(mux, api.ServicesBackupVerify, m.serviceBackupVerify)
	api.Handle(mux, api.ServicesBackupAuth, m.serviceBackupAuth)
	api.Handle(mux, api.ServicesBackupDeauth, m.serviceBackupDeauth)
	api.Handle(mux, api.ServicesBackupSetEncryption, m.serviceBackupSetEncryption)
	api.Handle(mux, api.ServicesBackupUnsetEncryption, m.serviceBackupUnsetEncryption)
}

// engine connects to the container engine; an absent engine is the API's
// "unavailable" error.
func (m *Manager) engine(ctx context.Context) (Engine, error) {
	eng, err := m.connect(ctx)
	if errors.Is(err, docker.ErrEngineUnavailable) {
		return nil, api.Errorf(api.CodeUnavailable, "%s", err.Error())
	}
	return eng, err
}

// lock serialises the commands that change one service; it returns the
// unlock. Names that differ only in case share a lock, so two creates of
// UP and up cannot both pass the check that refuses the second.
func (m *Manager) lock(kind, name string) func() {
	l, _ := m.locks.LoadOrStore(kind+"/"+strings.ToLower(name), new(sync.Mutex))
	mu := l.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// lockPair locks two services in a fixed order.
func (m *Manager) lockPair(a, b store.Service) func() {
	key := func(s store.Service) string { return s.Kind + "/" + strings.ToLower(s.Name) }
	if key(a) == key(b) {
		return m.lock(a.Kind, a.Name)
	}
	keys := []store.Service{a, b}
	sort.Slice(keys, func(i, j int) bool { return key(keys[i]) < key(keys[j]) })
	u1 := m.lock(keys[0].Kind, keys[0].Name)
	u2 := m.lock(keys[1].Kind, keys[1].Name)
	return func() { u2(); u1() }
}

func (m *Manager) getService(tx *store.Tx, ref api.ServiceRef) (store.Service, error) {
	svc, err := tx.Service(ref.Kind, ref.Name)
	if errors.Is(err, store.ErrServiceNotFound) {
		return svc, api.Errorf(api.CodeNotFound, "%s service %s does not exist", titleKind(ref.Kind), ref.Name)
	}
	return svc, err
}

// loadService reads a service by reference.
func (m *Manager) loadService(ctx context.Context, ref api.ServiceRef) (serviceKind, store.Service, error) {
	sk, err := kindOf(ref.Kind)
	if err != nil {
		return sk, store.Service{}, err
	}
	var svc store.Service
	err = m.store.Tx(ctx, func(tx *store.Tx) (err error) { svc, err = m.getService(tx, ref); return err })
	return sk, svc, err
}

// onService loads a service, takes its lock and the engine, and runs fn:
// the start of every command that changes a service.
func (m *Manager) onService(ctx context.Context, ref api.ServiceRef, fn func(eng Engine, sk serviceKind, svc store.Service) error) error {
	sk, svc, err := m.loadService(ctx, ref)
	if err != nil {
		return err
	}
	defer m.lock(ref.Kind, ref.Name)()
	eng, err := m.engine(ctx)
	if err != nil {
		return err
	}
	return fn(eng, sk, svc)
}

// quiet drops a step's progress output.
var quiet = api.Output{Stdout: io.Discard, Stderr: io.Discard}
