// Package networks is Dokku's `network:*`: user networks, Docker bridge
// networks Berth creates (network:create) for apps that talk to each
// other, and the settings that put an app's containers on them:
// initial-network (the network a container is created on),
// attach-post-create (joined once created, before it starts) and
// attach-post-deploy (joined once the deploy hands the new containers
// traffic), where each container is known as APP.TYPE and APP.TYPE.N
// (with the tld setting appended when set).
//
// A user network is named as the user gave it, behind the instance's name
// prefix (none by default, so `network:create shared` makes the Docker
// network "shared", as in Dokku), and labelled as Berth's with its name
// (naming.UserNetworkLabels). Its subnet comes from Berth's address pool
// (BERTH_NETWORK_POOL), as those of the services' networks do.
//
// The per-app networks of service links (package services) are separate
// and untouched: an app's containers join those as before.
package networks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/naming"
	"github.com/berthpaas/berth/internal/store"
)

// Engine is what the networks need of the container engine.
type Engine interface {
	EnsureNetwork(ctx context.Context, name string, labels map[string]string, sub docker.SubnetPool) error
	RemoveNetwork(ctx context.Context, name string) error
	InspectNetwork(ctx context.Context, name string) (docker.NetworkInfo, error)
	ListNetworks(ctx context.Context, labels map[string]string) ([]docker.NetworkInfo, error)
	ConnectNetwork(ctx context.Context, network, container string, aliases []string) error
	ListContainers(ctx context.Context, labels map[string]string, all bool) ([]docker.ContainerInfo, error)
}

// Connector hands out the engine when it is reachable.
type Connector func(ctx context.Context) (Engine, error)

// Config is what a Manager is built with.
type Config struct {
	Store  *store.Store
	Engine Connector
	Names  naming.Names
	// Pool is where the networks' subnets come from (BERTH_NETWORK_POOL);
	// the zero value lets the engine choose.
	Pool netip.Prefix
	Log  *slog.Logger
}

// Manager serves the network:* operations and the deployer's hooks.
type Manager struct {
	store  *store.Store
	engine Connector
	names  naming.Names
	pool   netip.Prefix
	log    *slog.Logger
}

// New returns a Manager built from c.
func New(c Config) *Manager {
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return &Manager{store: c.Store, engine: c.Engine, names: c.Names, pool: c.Pool, log: c.Log}
}

// subnetBits is the size of a user network's subnet: room for the
// containers of many apps.
const subnetBits = 24

// Register adds the network operations to m.
func (m *Manager) Register(mux *api.Mux) {
	api.Handle(mux, api.NetworkCreate, m.create)
	api.Handle(mux, api.NetworkDestroy, m.destroy)
	api.Handle(mux, api.NetworkInspect, m.info)
	api.Handle(mux, api.NetworkListOp, m.list)
	api.Handle(mux, api.NetworkSetOp, m.set)
	api.Handle(mux, api.NetworkReportOp, m.report)
	api.Handle(mux, api.NetworkRebuild, m.rebuild)
	api.Handle(mux, api.NetworkRebuildAll, m.rebuildAll)
}

// validName is Docker's rule for network names.
var validName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`) })

// reserved are the engine's own networks, which Berth neither makes nor
// attaches apps to; "berth" starts Berth's internal networks' names.
var reserved = []string{"bridge", "host", "none"}

func checkName(name string) error {
	switch {
	case name == "":
		return app.Invalidf("No network name specified")
	case len(name) > 64 || !validName().MatchString(name):
		return app.Invalidf("Invalid network name %q: letters, digits, '_', '.' and '-', starting with a letter or digit, at most 64 characters", name)
	case slices.Contains(reserved, name):
		return app.Invalidf("Invalid network name %q: it is one of the engine's own networks", name)
	case strings.HasPrefix(name, "berth"):
		return app.Invalidf("Invalid network name %q: names starting with berth are Berth's own", name)
	}
	return nil
}

// isOurs reports whether an engine network is a user network of this
// instance, and its name as the user gave it.
func (m *Manager) isOurs(n docker.NetworkInfo) (string, bool) {
	if n.Labels[naming.LabelInstance] != m.names.Instance() || n.Labels[naming.LabelKind] != naming.KindUserNetwork {
		return "", false
	}
	name := n.Labels[naming.LabelNetwork]
	return name, name != "" && n.Name == m.names.UserNetwork(name)
}

// resolve finds the engine network a name given by the user means: the
// user network of that name, else an engine network of exactly that name
// (one made with `docker network create`). A missing one is
// docker.ErrNotFound.
func (m *Manager) resolve(ctx context.Context, eng Engine, name string) (docker.NetworkInfo, bool, error) {
	if name == "" {
		return docker.NetworkInfo{}, false, app.Invalidf("No network name specified")
	}
	n, err := eng.InspectNetwork(ctx, m.names.UserNetwork(name))
	if err == nil {
		if _, ours := m.isOurs(n); ours {
			return n, true, nil
		}
	} else if !errors.Is(err, docker.ErrNotFound) {
		return n, false, err
	}
	n, err = eng.InspectNetwork(ctx, name)
	if err != nil {
		return n, false, err
	}
	if n.Name != name { // found by ID or ID prefix: not a name
		return n, false, docker.ErrNotFound
	}
	_, ours := m.isOurs(n)
	return n, ours, nil
}

// errNoNetwork is Dokku's message for a network that does not exist.
func errNoNetwork(name string) error {
	return app.Errorf(app.ErrNotFound, "Network %s does not exist", name)
}

func (m *Manager) create(ctx context.Context, req api.NetworkRef, out api.Output) (api.Empty, error) {
	if err := checkName(req.Name); err != nil {
		return api.Empty{}, err
	}
	eng, err := m.engine(ctx)
	if err != nil {
		return api.Empty{}, err
	}
	if _, _, err := m.resolve(ctx, eng, req.Name); err == nil {
		return api.Empty{}, app.Errorf(app.ErrConflict, "Network %s already exists", req.Name)
	} else if !errors.Is(err, docker.ErrNotFound) {
		return api.Empty{}, err
	}
	fmt.Fprintf(stdout(out), "-----> Creating network %s\n", req.Name)
	sub := docker.SubnetPool{}
	if m.pool.IsValid() {
		sub = docker.SubnetPool{Pool: m.pool, Bits: subnetBits}
	}
	if err := eng.EnsureNetwork(ctx, m.names.UserNetwork(req.Name), m.names.UserNetworkLabels(req.Name), sub); err != nil {
		if errors.Is(err, docker.ErrPoolExhausted) {
			return api.Empty{}, fmt.Errorf("create network %s: %w: set BERTH_NETWORK_POOL in berth.conf to a larger or another free private range and restart the daemon", req.Name, err)
		}
		return api.Empty{}, fmt.Errorf("create network %s: %w", req.Name, err)
	}
	m.log.Info("network created", "network", req.Name)
	return api.Empty{}, nil
}

func (m *Manager) destroy(ctx context.Context, req api.NetworkRef, out api.Output) (api.Empty, error) {
	eng, err := m.engine(ctx)
	if err != nil {
		return api.Empty{}, err
	}
	n, ours, err := m.resolve(ctx, eng, req.Name)
	if errors.Is(err, docker.ErrNotFound) {
		return api.Empty{}, errNoNetwork(req.Name)
	}
	if err != nil {
		return api.Empty{}, err
	}
	if !ours {
		return api.Empty{}, app.Invalidf("Network %s was not made by network:create: Berth removes only its own networks (use docker network rm)", req.Name)
	}
	users, err := m.settingUsers(ctx, req.Name)
	if err != nil {
		return api.Empty{}, err
	}
	if len(users) > 0 {
		return api.Empty{}, app.Errorf(app.ErrConflict, "Network %s is in use: %s; clear those settings (network:set) first", req.Name, strings.Join(users, ", "))
	}
	// Inspect again: the list of containers is only in an inspect.
	if n, err = eng.InspectNetwork(ctx, n.ID); err != nil {
		return api.Empty{}, err
	}
	if len(n.Containers) > 0 {
		return api.Empty{}, app.Errorf(app.ErrConflict, "Network %s is in use by %d container(s); destroy or detach them first", req.Name, len(n.Containers))
	}
	fmt.Fprintf(stdout(out), "-----> Destroying network %s\n", req.Name)
	if err := eng.RemoveNetwork(ctx, n.Name); err != nil {
		return api.Empty{}, fmt.Errorf("destroy network %s: %w", req.Name, err)
	}
	m.log.Info("network destroyed", "network", req.Name)
	return api.Empty{}, nil
}

// settingUsers lists the apps (and "--global") whose network settings name
// the network.
func (m *Manager) settingUsers(ctx context.Context, name string) ([]string, error) {
	var users []string
	err := m.store.Tx(ctx, func(tx *store.Tx) error {
		apps, err := tx.Apps()
		if err != nil {
			return err
		}
		check := func(label string, sc store.Scope) error {
			props, err := tx.Properties(sc, Namespace)
			if err != nil {
				return err
			}
			for _, k := range networkKeys {
				if slices.Contains(splitList(props[k]), name) {
					users = append(users, label+" "+k)
				}
			}
			return nil
		}
		if err := check("--global", store.Global); err != nil {
			return err
		}
		for _, a := range apps {
			if err := check(a.Name, a.Scope()); err != nil {
				return err
			}
		}
		return nil
	})
	return users, err
}

func (m *Manager) info(ctx context.Context, req api.NetworkRef, _ api.Output) (api.NetworkInfo, error) {
	eng, err := m.engine(ctx)
	if err != nil {
		return api.NetworkInfo{}, err
	}
	n, _, err := m.resolve(ctx, eng, req.Name)
	if errors.Is(err, docker.ErrNotFound) {
		return api.NetworkInfo{}, errNoNetwork(req.Name)
	}
	if err != nil {
		return api.NetworkInfo{}, err
	}
	return m.describe(n), nil
}

func (m *Manager) describe(n docker.NetworkInfo) api.NetworkInfo {
	info := api.NetworkInfo{ID: n.ID, Name: n.Name, Driver: n.Driver, Scope: n.Scope, Internal: n.Internal, IPv6: n.IPv6, Labels: n.Labels}
	if info.Labels == nil {
		info.Labels = map[string]string{}
	}
	if !n.Created.IsZero() {
		info.CreatedAt = n.Created.UTC().Format("2006-01-02 15:04:05.999999999 -0700 MST")
	}
	if name, ours := m.isOurs(n); ours {
		info.Name, info.DokkuManaged = name, true
	}
	return info
}

func (m *Manager) list(ctx context.Context, _ api.Empty, _ api.Output) (api.NetworkList, error) {
	eng, err := m.engine(ctx)
	if err != nil {
		return api.NetworkList{}, err
	}
	ns, err := eng.ListNetworks(ctx, nil)
	if err != nil {
		return api.NetworkList{}, err
	}
	res := api.NetworkList{Networks: []api.NetworkInfo{}}
	for _, n := range ns {
		res.Networks = append(res.Networks, m.describe(n))
	}
	sort.Slice(res.Networks, func(i, j int) bool { return res.Networks[i].Name < res.Networks[j].Name })
	return res, nil
}

func stdout(out api.Output) interface{ Write([]byte) (int, error) } {
	if out.Stdout != nil {
		return out.Stdout
	}
	return discard{}
}

type discard struct{}

func (discard) Write(b []byte) (int, error) { return len(b), nil }
