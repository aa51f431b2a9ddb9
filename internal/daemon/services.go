package daemon

import (
	"context"
	"log/slog"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/deploy"
	"github.com/berthpaas/berth/internal/notify"
	"github.com/berthpaas/berth/internal/services"
	"github.com/berthpaas/berth/internal/settings"
	"github.com/berthpaas/berth/internal/store"
)

// newServices builds Postgres and Redis (package services) on the daemon's
// store, engine and deployer: links redeploy apps through redeploy, and the
// settings name the default images of new services.
func newServices(st *store.Store, s settings.Settings, log *slog.Logger, engine func(context.Context) (deploy.Engine, error), d *deploy.Deployer, redeploy Redeployer, notes *notify.Manager) *services.Manager {
	return services.New(services.Config{
		Store:   st,
		Engine:  serviceEngine(engine),
		Names:   d.Names(),
		DataDir: s.DataDir,
		Log:     log,
		Images: map[string]services.Image{
			"postgres": {Repo: s.PostgresImage, Tag: s.PostgresImageVersion},
			"redis":    {Repo: s.RedisImage, Tag: s.RedisImageVersion},
		},
		Redeployer:   redeploy,
		NetworkPool:  s.NetworkPoolPrefix(),
		BackupFailed: backupFailed(notes), // nil notes: told to no one
	})
}

// serviceEngine narrows the deployer's engine to what services need.
func serviceEngine(engine func(context.Context) (deploy.Engine, error)) services.Connector {
	return func(ctx context.Context) (services.Engine, error) {
		eng, err := engine(ctx)
		if err != nil {
			return nil, err
		}
		se, ok := eng.(services.Engine)
		if !ok {
			return nil, api.Errorf(api.CodeUnavailable, "the container engine cannot run services")
		}
		return se, nil
	}
}
