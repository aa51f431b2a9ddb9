// Package containeropts owns what a container gets when Berth creates it,
// beyond the release's image and command: the docker-options of the
// build, deploy and run phases, storage mounts (storage:*) and resource
// limits and reservations (resource:*). It serves their operations and
// gives the deployer, through deploy.ContainerOptions, what to add to each
// process container and one-off container.
//
// Everything is kept in the store's properties: docker-options under the
// app's "docker-options" keys (PHASE, deploy.TYPE), resources under
// "resource" (TYPE.limit.KEY, TYPE.reserve.KEY, as Dokku names them),
// mounts as the app's "storage" "attachments", storage entries as global
// "storage-entries" properties. So apps:clone copies them and
// apps:rename keeps them.
package containeropts

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/store"
)

// Manager serves docker-options, storage and resource.
type Manager struct {
	store *store.Store
	// storageRoot is where storage:ensure-directory and storage:create
	// make directories (BERTH_STORAGE_DIR; Dokku's /var/lib/dokku/data/storage).
	storageRoot string
	log         *slog.Logger
	// chown sets a directory's owner (os.Chown; tests replace it).
	chown func(path string, uid, gid int) error
}

// New returns a Manager making storage directories in storageDir
// (BERTH_STORAGE_DIR, by default DATA-DIR/storage).
func New(st *store.Store, storageDir string, log *slog.Logger) *Manager {
	return &Manager{store: st, storageRoot: filepath.Clean(storageDir), log: log, chown: lchown}
}

// StorageRoot is the directory named storage directories are made in.
func (m *Manager) StorageRoot() string { return m.storageRoot }

// Register adds the operations to mux.
func (m *Manager) Register(mux *api.Mux) {
	api.Handle(mux, api.DockerOptionsUpdate, m.dockerOptionsUpdate)
	api.Handle(mux, api.DockerOptionsList, m.dockerOptionsList)
	api.Handle(mux, api.DockerOptionsReport, m.dockerOptionsReport)
	api.Handle(mux, api.ResourceUpdate, m.resourceUpdate)
	api.Handle(mux, api.ResourceReport, m.resourceReport)
	api.Handle(mux, api.StorageEnsureDirectory, m.storageEnsureDirectory)
	api.Handle(mux, api.StorageMount, m.storageMount)
	api.Handle(mux, api.StorageUnmount, m.storageUnmount)
	api.Handle(mux, api.StorageList, m.storageList)
	api.Handle(mux, api.StorageCreate, m.storageCreate)
	api.Handle(mux, api.StorageDestroy, m.storageDestroy)
	api.Handle(mux, api.StorageEntryList, m.storageEntries)
	api.Handle(mux, api.StorageInfo, m.storageInfo)
	api.Handle(mux, api.StorageSet, m.storageSet)
	api.Handle(mux, api.StorageMigrate, m.storageMigrate)
}

// Options are an app's container options, read at once for a deploy or a
// one-off container.
type Options struct {
	docker      map[string][]string // docker-options by key (deploy, run, deploy.TYPE)
	resources   map[string]string   // TYPE.KIND.KEY
	attachments []api.StorageAttachment
}

// For reads app's container options (deploy.ContainerOptions).
func (m *Manager) For(ctx context.Context, appName string) (*Options, error) {
	o := &Options{}
	err := m.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := tx.App(appName)
		if err != nil {
			return err
		}
		if o.docker, err = dockerOptions(tx, a); err != nil {
			return err
		}
		if o.resources, err = tx.Properties(a.Scope(), "resource"); err != nil {
			return err
		}
		o.attachments, err = m.attachments(tx, a)
		return err
	})
	return o, err
}

// Apply adds the options of phase ("deploy", "run") and process type to
// spec: the mounts first, then docker-options (app-wide, then the process
// type's), then resources (which win over a --memory docker option, as
// Dokku passes them last).
func (o *Options) Apply(phase, process string, spec *docker.ContainerSpec) error {
	for _, at := range o.attachments {
		if at.Missing || !hasPhase(at.Phases, phase) || (at.Process != "_default_" && at.Process != process) {
			continue
		}
		spec.Binds = append(spec.Binds, bindOf(at))
	}
	keys := []string{phase}
	if phase == "deploy" {
		keys = append(keys, "deploy."+process)
	}
	for _, k := range keys {
		for _, opt := range o.docker[k] {
			if err := applyRunOption(spec, phase, opt); err != nil {
				return fmt.Errorf("docker-options %s: %w", k, err)
			}
		}
	}
	if phase == "deploy" {
		return applyResources(spec, o.resources, process)
	}
	return nil
}

func hasPhase(phases []string, p string) bool {
	for _, x := range phases {
		if x == p {
			return true
		}
	}
	return false
}
