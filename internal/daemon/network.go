package daemon

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/deploy"
	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/naming"
	"github.com/berthpaas/berth/internal/networks"
	"github.com/berthpaas/berth/internal/settings"
	"github.com/berthpaas/berth/internal/store"
)

// newNetworks builds the user networks (package networks, `network:*`) on
// the daemon's store and engine.
func newNetworks(st *store.Store, s settings.Settings, log *slog.Logger, engine func(context.Context) (deploy.Engine, error), names naming.Names) *networks.Manager {
	return networks.New(networks.Config{
		Store: st,
		Engine: func(ctx context.Context) (networks.Engine, error) {
			eng, err := engine(ctx)
			if err != nil {
				return nil, err
			}
			ne, ok := eng.(networks.Engine)
			if !ok {
				return nil, api.Errorf(api.CodeUnavailable, "the container engine cannot manage networks")
			}
			return ne, nil
		},
		Names: names,
		Pool:  s.NetworkPoolPrefix(),
		Log:   log,
	})
}

// placingEngine is the deployer's engine with the user networks' settings
// applied to each app container it creates: initial-network (the network
// it is created on) and attach-post-create (joined before it starts).
type placingEngine struct {
	deploy.Engine
	nets *networks.Manager
}

// placeContainers wraps the deployer's engine connector in placingEngine.
func placeContainers(get func(context.Context) (deploy.Engine, error), nets *networks.Manager) func(context.Context) (deploy.Engine, error) {
	return func(ctx context.Context) (deploy.Engine, error) {
		eng, err := get(ctx)
		if err != nil {
			return nil, err
		}
		return placingEngine{Engine: eng, nets: nets}, nil
	}
}

// netConnector is the part of the engine that joins networks.
type netConnector interface {
	ConnectNetwork(ctx context.Context, network, container string, aliases []string) error
}

func (e placingEngine) CreateContainer(ctx context.Context, spec docker.ContainerSpec) (string, error) {
	appName, kind := spec.Labels[naming.LabelApp], spec.Labels[naming.LabelKind]
	if appName == "" || (kind != naming.KindProcess && kind != naming.KindRun) {
		return e.Engine.CreateContainer(ctx, spec)
	}
	p, err := e.nets.Place(ctx, appName)
	if err != nil {
		return "", err
	}
	if p.Initial == "" && len(p.PostCreate) == 0 {
		return e.Engine.CreateContainer(ctx, spec)
	}
	conn, ok := e.Engine.(netConnector)
	if !ok {
		return "", api.Errorf(api.CodeUnavailable, "the container engine cannot attach containers to networks")
	}
	type join struct {
		net     string
		aliases []string
	}
	var joins []join
	aliases := e.nets.AliasesFor(ctx, spec.Labels)
	if p.Initial != "" && p.Initial != spec.Network {
		if spec.Network != "" { // the app's links network: joined after all
			joins = append(joins, join{spec.Network, spec.NetworkAliases})
		}
		spec.Network, spec.NetworkAliases = p.Initial, nil
		if userDefined(p.Initial) {
			spec.NetworkAliases = aliases
		}
	}
	for _, n := range p.PostCreate {
		if n != spec.Network {
			joins = append(joins, join{n, aliases})
		}
	}
	id, err := e.Engine.CreateContainer(ctx, spec)
	if err != nil {
		return "", err
	}
	for _, j := range joins {
		if err := conn.ConnectNetwork(ctx, j.net, id, j.aliases); err != nil {
			e.Engine.RemoveContainer(context.WithoutCancel(ctx), id, true)
			return "", fmt.Errorf("attach the container to network %s: %w", j.net, err)
		}
	}
	return id, nil
}

// userDefined reports whether containers may have aliases on the network
// (not on the engine's own).
func userDefined(net string) bool { return net != "bridge" && net != "host" && net != "none" }

// attachingRouter is the deployer's router with attach-post-deploy: each
// time new containers get traffic (a deploy's switch, scaling, a restart,
// a restore), the app's running containers join those networks first; a
// network that is missing fails that step, as the proxy refusing would.
type attachingRouter struct {
	deploy.Router
	nets *networks.Manager
}

func (r attachingRouter) Sync(ctx context.Context, app string) error {
	if err := r.nets.AttachDeployed(ctx, app, api.Output{}); err != nil {
		return err
	}
	return r.Router.Sync(ctx, app)
}
