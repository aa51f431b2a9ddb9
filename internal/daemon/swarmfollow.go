package daemon

import (
	"context"
	"log/slog"
	"slices"
	"time"
)

// swarmFollowInterval is how often the daemon compares the swarm's web
// tasks with what the proxy was last given.
var swarmFollowInterval = 2 * time.Second

// webAddrs lists the web task addresses of every app on Swarm.
type webAddrs interface {
	SwarmWebAddrs(ctx context.Context) (map[string][]string, error)
}

// appSyncer pushes one app's route.
type appSyncer interface {
	Sync(ctx context.Context, app string) error
}

// followSwarm keeps the proxy's routes in step with the swarm: Swarm
// moves tasks by itself (a node lost, a task restarted elsewhere) and
// tells no one, so every interval the web tasks of the apps on Swarm are
// listed, and an app whose task addresses changed has its route synced.
// A lost node's tasks leave the proxy within an interval of Swarm seeing
// the node down; their replacements join once they run. Without a swarm
// it costs one cached question to the engine per interval.
func followSwarm(ctx context.Context, log *slog.Logger, tasks webAddrs, rt appSyncer, every time.Duration) {
	last := map[string][]string{}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now, err := tasks.SwarmWebAddrs(ctx)
		if err != nil {
			// The engine or the swarm is away (the manager restarting):
			// what the proxy holds may change meanwhile (the engine
			// watcher's Lost, a restore while the swarm is not back), so
			// every app is synced again once the tasks can be listed.
			log.Debug("list the swarm's web tasks", "err", err)
			clear(last)
			continue
		}
		for app, addrs := range now {
			if slices.Equal(last[app], addrs) {
				continue
			}
			if err := rt.Sync(ctx, app); err != nil {
				log.Warn("sync the route of an app on Swarm", "app", app, "err", err)
				continue
			}
			last[app] = addrs
		}
		for app := range last {
			if _, ok := now[app]; !ok {
				delete(last, app)
			}
		}
	}
}
