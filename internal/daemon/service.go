package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/apierr"
	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/deploy"
	"github.com/berthpaas/berth/internal/metrics"
	"github.com/berthpaas/berth/internal/routing"
	"github.com/berthpaas/berth/internal/store"
)

// Redeployer redeploys an app's current release with new config. It reports
// false when the app has nothing deployed (so there is nothing to restart).
// The deploy pipeline provides it; until then the daemon has none.
type Redeployer interface {
	Redeploy(ctx context.Context, appName string, out api.Output) (bool, error)
}

// Service implements the API operations on top of the store.
type Service struct {
	store    *store.Store
	dataDir  string
	log      *slog.Logger
	now      func() time.Time
	redeploy Redeployer
	deployer *deploy.Deployer
	// berthBin is this binary (the proxy process runs it).
	berthBin string
	// mux is the operations table, called in-process.
	mux *api.Mux
	// routing keeps domains, ports and certificates and pushes routes to
	// the proxy (default domains of new and renamed apps).
	routing *routing.Manager
	// proxyAddr and proxyTLSAddr are where the proxy listens.
	proxyAddr, proxyTLSAddr string
	// metrics samples the proxy's counters and the containers' CPU and
	// memory (metrics.go); nil in tests that do not make it.
	metrics *metrics.Collector
	// services follow the apps commands: a clone is linked to the app's
	// services, a destroyed or renamed app's network goes. Nil: no
	// services.
	services appServices
	// cronLogs writes what the app's cron runs printed, before its
	// processes' output in `logs` (nil: none).
	cronLogs cronLogsFunc
	// gitBuilds is ps:rebuild's view of the apps' repositories (an app
	// deployed by git push rebuilds its deploy branch). Nil: the live
	// release's source is rebuilt.
	gitBuilds gitRebuilder
	// previews are destroyed with their app, and a preview app with its
	// services (nil: no previews, tests).
	previews appPreviews
}

// appServices is what the apps commands ask of the services
// (services.Manager).
type appServices interface {
	OnAppCloned(tx *store.Tx, from, to store.App) ([]store.Link, error)
	OnAppDestroyed(ctx context.Context, app string)
	OnAppRenamed(ctx context.Context, from, to string)
}

// appPreviews is what apps:destroy asks of the preview apps
// (preview.Manager).
type appPreviews interface {
	DestroyIfPreview(ctx context.Context, app string, out io.Writer) (bool, error)
	DestroyPreviewsOf(ctx context.Context, parent string, out io.Writer) error
}

// NewService returns a Service keeping its files under dataDir and running
// deploys with d.
func NewService(st *store.Store, dataDir string, log *slog.Logger, d *deploy.Deployer) *Service {
	return &Service{store: st, dataDir: dataDir, log: log, now: time.Now, deployer: d, redeploy: redeployer{d}}
}

// Register adds the service's operations to m.
func (s *Service) Register(m *api.Mux) {
	s.mux = m
	api.Handle(m, api.AppsCreate, s.appsCreate)
	api.Handle(m, api.AppsList, s.appsList)
	api.Handle(m, api.AppsInfo, s.appsInfo)
	api.Handle(m, api.AppsDestroy, s.appsDestroy)
	api.Handle(m, api.AppsRename, s.appsRename)
	api.Handle(m, api.AppsClone, s.appsClone)
	api.Handle(m, api.AppsLock, s.appsLock)
	api.Handle(m, api.AppsUnlock, s.appsUnlock)
	api.Handle(m, api.ConfigGet, s.configGet)
	api.Handle(m, api.ConfigUpdate, s.configUpdate)
	api.Handle(m, api.PropertiesSet, s.propertiesSet)
	api.Handle(m, api.PropertiesReport, s.propertiesReport)
	s.registerDeploy(m)
	s.registerReleases(m)
	s.registerReleaseChanges(m)
}

// appDir is where an app's files live (source trees, build contexts).
func (s *Service) appDir(name string) string {
	return filepath.Join(s.dataDir, "apps", name)
}

// scope resolves an api.Scope to a store scope (reading the app if any).
func scope(tx *store.Tx, sc api.Scope) (store.Scope, error) {
	if sc.Global {
		if sc.App != "" {
			return 0, api.Errorf(api.CodeInvalid, "Specify either an app or --global, not both")
		}
		return store.Global, nil
	}
	if sc.App == "" {
		return 0, api.Errorf(api.CodeInvalid, "Please specify an app or --global")
	}
	a, err := apierr.App(tx, sc.App)
	if err != nil {
		return 0, err
	}
	return a.Scope(), nil
}

func (s *Service) info(tx *store.Tx, a store.App) (api.AppInfo, error) {
	props, err := tx.Properties(a.Scope(), "apps")
	if err != nil {
		return api.AppInfo{}, err
	}
	return api.AppInfo{
		Name:                 a.Name,
		CreatedAt:            a.CreatedAt,
		Locked:               a.Locked,
		Dir:                  s.appDir(a.Name),
		DeploySource:         props["deploy-source"],
		DeploySourceMetadata: props["deploy-source-metadata"],
	}, nil
}

func (s *Service) appsCreate(ctx context.Context, req api.AppRef, _ api.Output) (api.AppInfo, error) {
	if err := app.ValidateName(req.App); err != nil {
		return api.AppInfo{}, apierr.Invalid(err)
	}

	var info api.AppInfo
	err := s.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := tx.CreateApp(req.App, s.now())
		if errors.Is(err, store.ErrAppExists) {
			return api.Errorf(api.CodeConflict, "Name is already taken")
		}
		if err != nil {
			return err
		}
		// Files left by an app of the same name that was destroyed
		// mid-way belong to nobody.
		if err := os.RemoveAll(s.appDir(req.App)); err != nil {
			return err
		}
		if err := os.RemoveAll(s.repoDir(req.App)); err != nil {
			return err
		}
		if err := s.routing.OnAppCreated(tx, a); err != nil {
			return err
		}
		info, err = s.info(tx, a)
		return err
	})
	if err == nil {
		s.log.Info("app created", "app", req.App)
	}
	return info, err
}

func (s *Service) appsList(ctx context.Context, _ api.Empty, _ api.Output) (api.AppList, error) {
	list := api.AppList{Apps: []api.AppInfo{}}
	err := s.store.Tx(ctx, func(tx *store.Tx) error {
		apps, err := tx.Apps()
		if err != nil {
			return err
		}
		for _, a := range apps {
			info, err := s.info(tx, a)
			if err != nil {
				return err
			}
			list.Apps = append(list.Apps, info)
		}
		return nil
	})
	return list, err
}

func (s *Service) appsInfo(ctx context.Context, req api.AppRef, _ api.Output) (api.AppInfo, error) {
	var info api.AppInfo
	err := s.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := apierr.App(tx, req.App)
		if err != nil {
			return err
		}
		info, err = s.info(tx, a)
		return err
	})
	return info, err
}

func (s *Service) appsDestroy(ctx context.Context, req api.AppRef, out api.Output) (api.Empty, error) {
	w := out.Stdout
	if w == nil {
		w = io.Discard
	}
	// A preview app goes with its own services, as previews:destroy does it.
	if s.previews != nil {
		if done, err := s.previews.DestroyIfPreview(ctx, req.App, w); done || err != nil {
			return api.Empty{}, err
		}
	}
	unlock, err := s.deployer.Lock(ctx, req.App, "apps:destroy")
	if err != nil {
		return api.Empty{}, err
	}
	defer unlock()
	if _, err := s.appsInfo(ctx, req, api.Output{}); err != nil {
		return api.Empty{}, err
	}
	// An app's previews go first: without it no push reaches them.
	if s.previews != nil {
		if err := s.previews.DestroyPreviewsOf(ctx, req.App, w); err != nil {
			return api.Empty{}, err
		}
	}
	// Containers and images go first: if the engine is down the app stays,
	// whole, and destroy can be run again.
	if deployed, err := s.deployer.HasReleases(ctx, req.App); err != nil {
		return api.Empty{}, err
	} else if deployed {
		if err := s.deployer.Destroy(ctx, req.App); err != nil {
			return api.Empty{}, err
		}
	}
	// Its snapshots of linked databases (records go with the app).
	s.deployer.DropSnapshots(ctx, req.App)
	err = s.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := apierr.App(tx, req.App)
		if err != nil {
			return err
		}
		return tx.DeleteApp(a)
	})
	if err != nil {
		return api.Empty{}, err
	}
	// The database no longer knows the app; a crash before this line leaves
	// only stray files, which the next create of the name replaces.
	for _, dir := range []string{s.appDir(req.App), s.repoDir(req.App)} {
		if err := os.RemoveAll(dir); err != nil {
			s.log.Warn("remove app files", "app", req.App, "dir", dir, "err", err)
		}
	}
	s.routing.DropRoute(ctx, req.App)
	if s.services != nil {
		s.services.OnAppDestroyed(ctx, req.App)
	}
	s.log.Info("app destroyed", "app", req.App)
	return api.Empty{}, nil
}

func (s *Service) appsRename(ctx context.Context, req api.RenameRequest, out api.Output) (api.AppInfo, error) {
	if err := app.ValidateName(req.To); err != nil {
		return api.AppInfo{}, apierr.Invalid(err)
	}
	unlock, err := s.deployer.Lock(ctx, req.From, "apps:rename")
	if err != nil {
		return api.AppInfo{}, err
	}
	defer unlock()
	unlockTo, err := s.deployer.Lock(ctx, req.To, "apps:rename")
	if err != nil {
		return api.AppInfo{}, err
	}
	defer unlockTo()
	if _, err := s.appsInfo(ctx, api.AppRef{App: req.From}, out); err != nil {
		return api.AppInfo{}, err
	}
	if _, err := s.appsInfo(ctx, api.AppRef{App: req.To}, out); err == nil {
		return api.AppInfo{}, api.Errorf(api.CodeConflict, "Name is already taken")
	}
	deployed, err := s.deployer.HasReleases(ctx, req.From)
	if err != nil {
		return api.AppInfo{}, err
	}
	if deployed {
		// Containers are named after the app: the old ones go, and the app
		// is rebuilt under its new name (as Dokku does); its release images
		// are renamed once the store has the new name.
		if err := s.deployer.RemoveContainers(ctx, req.From); err != nil {
			return api.AppInfo{}, err
		}
	}
	var info api.AppInfo
	err = s.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := apierr.App(tx, req.From)
		if err != nil {
			return err
		}
		if err := tx.RenameApp(a, req.To); errors.Is(err, store.ErrAppExists) {
			return api.Errorf(api.CodeConflict, "Name is already taken")
		} else if err != nil {
			return err
		}
		// Move the app's files inside the transaction, so a failed move
		// leaves the old name in place.
		if err := renameIfExists(s.appDir(req.From), s.appDir(req.To)); err != nil {
			return err
		}
		if err := renameIfExists(s.repoDir(req.From), s.repoDir(req.To)); err != nil {
			return err
		}
		a.Name = req.To
		if err := s.routing.OnAppRenamed(tx, a, req.From); err != nil {
			return err
		}
		if err := tx.RenameAppInKeys(req.From, req.To); err != nil {
			return err
		}
		info, err = s.info(tx, a)
		return err
	})
	if err != nil {
		return info, err
	}
	s.log.Info("app renamed", "from", req.From, "to", req.To)
	if deployed {
		if err := s.deployer.RenameImages(ctx, req.From, req.To); err != nil {
			s.log.Warn("rename release images", "app", req.To, "err", err)
		}
	}
	if s.services != nil {
		s.services.OnAppRenamed(ctx, req.From, req.To)
	}
	s.routing.DropRoute(ctx, req.From)
	s.routing.Notify(ctx, req.To)
	if deployed && !req.SkipDeploy {
		unlockTo()
		_, err := s.deployer.Deploy(ctx, req.To, deploy.Source{Kind: deploy.SourceRebuild}, writerOf(out), "apps:rename")
		return info, err
	}
	return info, nil
}

// renameIfExists moves from to to, replacing whatever is at to (files of a
// destroyed app of that name), which is removed even when from is missing.
func renameIfExists(from, to string) error {
	if err := os.RemoveAll(to); err != nil {
		return err
	}
	if _, err := os.Stat(from); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := os.Rename(from, to); err != nil {
		return fmt.Errorf("move app files: %w", err)
	}
	return nil
}

func (s *Service) appsClone(ctx context.Context, req api.RenameRequest, out api.Output) (api.AppInfo, error) {
	if err := app.ValidateName(req.To); err != nil {
		return api.AppInfo{}, apierr.Invalid(err)
	}
	var info api.AppInfo
	var links []store.Link
	created := false
	err := s.store.Tx(ctx, func(tx *store.Tx) error {
		from, err := apierr.App(tx, req.From)
		if err != nil {
			return err
		}
		to, err := tx.CreateApp(req.To, s.now())
		if errors.Is(err, store.ErrAppExists) {
			if req.IgnoreExisting {
				existing, err := tx.App(req.To)
				if err != nil {
					return err
				}
				info, err = s.info(tx, existing)
				return err
			}
			return api.Errorf(api.CodeConflict, "Name is already taken")
		}
		if err != nil {
			return err
		}
		created = true
		if err := tx.CopyAppState(from, to); err != nil {
			return err
		}
		// The copied URLs resolve only from apps linked to their
		// services: the clone is linked to the same ones.
		if s.services != nil {
			if links, err = s.services.OnAppCloned(tx, from, to); err != nil {
				return err
			}
		}
		if err := s.routing.OnAppCreated(tx, to); err != nil {
			return err
		}
		info, err = s.info(tx, to)
		return err
	})
	if err != nil || !created {
		return info, err
	}
	s.log.Info("app cloned", "from", req.From, "to", req.To)
	for _, l := range links {
		fmt.Fprintf(writerOf(out), "-----> Linked %s service %s to clone %s\n", l.Service.Kind, l.Service.Name, req.To)
	}
	if req.SkipDeploy {
		return info, nil
	}
	src, deployed, err := s.deployer.SourceOf(ctx, req.From)
	if err != nil || !deployed {
		return info, err
	}
	_, err = s.deployer.Deploy(ctx, req.To, src, writerOf(out), "apps:clone")
	return info, err
}

func (s *Service) setLock(ctx context.Context, name string, locked bool) (api.LockResult, error) {
	var res api.LockResult
	err := s.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := apierr.App(tx, name)
		if err != nil {
			return err
		}
		res.WasLocked = a.Locked
		return tx.SetLocked(a, locked)
	})
	return res, err
}

func (s *Service) appsLock(ctx context.Context, req api.AppRef, _ api.Output) (api.LockResult, error) {
	return s.setLock(ctx, req.App, true)
}

func (s *Service) appsUnlock(ctx context.Context, req api.AppRef, _ api.Output) (api.LockResult, error) {
	return s.setLock(ctx, req.App, false)
}
