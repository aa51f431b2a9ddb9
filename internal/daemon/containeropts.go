package daemon

import (
	"context"
	"log/slog"

	"github.com/berthpaas/berth/internal/containeropts"
	"github.com/berthpaas/berth/internal/deploy"
	"github.com/berthpaas/berth/internal/store"
)

// newContainerOpts builds the docker-options, storage and resource
// manager (containeropts) and the deployer's hook into it.
func newContainerOpts(st *store.Store, storageDir string, log *slog.Logger) (*containeropts.Manager, func(ctx context.Context, app string) (deploy.ContainerOptions, error)) {
	m := containeropts.New(st, storageDir, log)
	return m, func(ctx context.Context, app string) (deploy.ContainerOptions, error) {
		o, err := m.For(ctx, app)
		if err != nil {
			return nil, err
		}
		return o, nil
	}
}
