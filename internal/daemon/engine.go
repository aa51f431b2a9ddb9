package daemon

import (
	"context"
	"io"
	"log/slog"

	"github.com/berthpaas/berth/internal/deploy"
	"github.com/berthpaas/berth/internal/enginewatch"
	"github.com/berthpaas/berth/internal/naming"
	"github.com/berthpaas/berth/internal/notify"
	"github.com/berthpaas/berth/internal/routing"
	"github.com/berthpaas/berth/internal/services"
)

// watchEngine follows the engine (package enginewatch): at the start and
// each time the engine comes back it restores services (their
// databases first), then apps (each routed when up), then every route;
// when the engine goes away every app's targets leave the proxy (503).
// It returns when ctx ends.
func watchEngine(ctx context.Context, log *slog.Logger, eng *engineConn, exits *enginewatch.Exits, svcs *services.Manager, d *deploy.Deployer, rt *routing.Manager, notes *notify.Manager) {
	first := true
	w := enginewatch.New(enginewatch.Config{
		Connect: eng.watched,
		Labels:  map[string]string{naming.LabelInstance: d.Names().Instance(), naming.LabelKind: naming.KindProcess},
		Exits:   exits,
		Exited:  crashLoops(notes), // crash-loop notifications
		WebStopped: func(ctx context.Context, app, container string) {
			if err := rt.TakeOut(ctx, app, container); err != nil {
				log.Warn("take a stopped web container out of the route", "app", app, "container", container, "err", err)
			}
		},
		WebStarted: func(ctx context.Context, app, id string) {
			// Only a container the engine restarted (its restart policy):
			// one Berth created starts with no restarts and is routed by
			// the deploy or ps:scale once its checks pass.
			e, err := eng.get(ctx)
			if err != nil {
				return
			}
			if det, err := e.InspectContainer(ctx, id); err != nil || det.RestartCount == 0 {
				return
			}
			if err := rt.Sync(ctx, app); err != nil {
				log.Warn("update the route after a web container started", "app", app, "err", err)
			}
		},
		Log: log,
		Lost: func(ctx context.Context) {
			if err := rt.MarkUnavailable(ctx); err != nil {
				log.Warn("take the apps' targets out of the proxy", "err", err)
			}
		},
		Restore: func(ctx context.Context) {
			svcs.RestoreContainers(ctx)
			if first {
				// Backups whose time came while the daemon was down run once;
				// drills a crash interrupted leave no container behind.
				svcs.RemoveLeftoverDrills(ctx)
				go svcs.RunMissedBackups()
				first = false
			}
			if err := d.RestoreApps(ctx, io.Discard); err != nil {
				log.Warn("restore apps", "err", err)
			}
			if err := rt.SyncAll(ctx); err != nil {
				log.Warn("sync the proxy's routes", "err", err)
			}
		},
	})
	w.Run(ctx)
}

// watched is the engine as the watcher needs it.
func (e *engineConn) watched(ctx context.Context) (enginewatch.Engine, error) {
	if _, err := e.get(ctx); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.c, nil
}

// lastExit gives the deployer's reports what the watcher saw.
func lastExit(exits *enginewatch.Exits) func(id string) (deploy.LastExit, bool) {
	return func(id string) (deploy.LastExit, bool) {
		x, ok := exits.Last(id)
		return deploy.LastExit(x), ok
	}
}
