package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/berthpaas/berth/internal/deploy"
	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/registry"
)

// clusterRegistryPort is where the cluster's registry listens, on the
// manager's address in the swarm.
const clusterRegistryPort = registry.DefaultPort

// swarmEngine connects to the engine's Swarm side for the deployer.
func swarmEngine(get func(context.Context) (deploy.Engine, error)) func(context.Context) (deploy.Swarm, error) {
	return func(ctx context.Context) (deploy.Swarm, error) {
		eng, err := get(ctx)
		if err != nil {
			return nil, err
		}
		sw, ok := eng.(deploy.Swarm)
		if !ok {
			return nil, fmt.Errorf("the engine has no Swarm side")
		}
		return sw, nil
	}
}

// clusterRegistry is the registry Berth runs for a swarm (Debian's
// docker-registry, TLS from the CA in DATA/registry), started on the
// manager's swarm address when the first image is published or when the
// daemon starts on a manager; it is the deployer's Publisher.
type clusterRegistry struct {
	dir    string // DATA/registry
	log    *slog.Logger
	engine func(context.Context) (deploy.Engine, error)

	mu  sync.Mutex
	reg *registry.Registry
}

// pushEngine is what publishing asks of the engine.
type pushEngine interface {
	TagImage(ctx context.Context, source, target string) error
	PushImage(ctx context.Context, ref string) (string, error)
	SwarmManager(ctx context.Context) (bool, string, error)
}

var _ pushEngine = (*docker.Client)(nil)

func (r *clusterRegistry) pusher(ctx context.Context) (pushEngine, error) {
	eng, err := r.engine(ctx)
	if err != nil {
		return nil, err
	}
	p, ok := eng.(pushEngine)
	if !ok {
		return nil, fmt.Errorf("the engine cannot push images")
	}
	return p, nil
}

// ensure starts the registry if it is not running, on the manager's
// address, and makes this engine trust it.
func (r *clusterRegistry) ensure(ctx context.Context) (*registry.Registry, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.reg != nil {
		return r.reg, nil
	}
	p, err := r.pusher(ctx)
	if err != nil {
		return nil, err
	}
	manager, addr, err := p.SwarmManager(ctx)
	if err != nil {
		return nil, err
	}
	if !manager || addr == "" {
		return nil, fmt.Errorf("this server is not a Docker Swarm manager: run scheduler-swarm:cluster-init")
	}
	ca, err := registry.LoadOrCreateCA(r.dir)
	if err != nil {
		return nil, err
	}
	reg, err := registry.Start(ctx, registry.Config{Dir: r.dir, Addr: net.JoinHostPort(addr, strconv.Itoa(clusterRegistryPort)), CA: ca, Log: slogWriter{r.log}})
	if err != nil {
		return nil, err
	}
	if _, err := registry.InstallTrust(registry.DefaultCertsDir, reg.Addr(), reg.CAPEM()); err != nil {
		reg.Stop()
		return nil, err
	}
	r.log.Info("cluster registry up", "addr", reg.Addr())
	r.reg = reg
	return reg, nil
}

// Publish tags image REGISTRY/repo:TAG, pushes it, and returns
// REGISTRY/repo@DIGEST.
func (r *clusterRegistry) Publish(ctx context.Context, image, repo string) (string, error) {
	reg, err := r.ensure(ctx)
	if err != nil {
		return "", err
	}
	p, err := r.pusher(ctx)
	if err != nil {
		return "", err
	}
	tag := "latest"
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		tag = image[i+1:]
	}
	target := reg.Addr() + "/" + repo + ":" + tag
	if err := p.TagImage(ctx, image, target); err != nil {
		return "", err
	}
	digest, err := p.PushImage(ctx, target)
	if err != nil {
		return "", err
	}
	return reg.Ref(repo, digest), nil
}

// StartIfManager brings the registry up at the daemon's start when this
// engine already manages a swarm, so nodes can pull again (rescheduled
// tasks) after the manager restarted.
func (r *clusterRegistry) StartIfManager(ctx context.Context) {
	p, err := r.pusher(ctx)
	if err != nil {
		return
	}
	if manager, _, err := p.SwarmManager(ctx); err != nil || !manager {
		return
	}
	if _, err := r.ensure(ctx); err != nil {
		r.log.Warn("start the cluster registry", "err", err)
	}
}

// Stop stops the registry, if it runs.
func (r *clusterRegistry) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.reg != nil {
		r.reg.Stop()
		r.reg = nil
	}
}

// newClusterRegistry is the registry of a daemon whose data dir is dataDir.
func newClusterRegistry(dataDir string, log *slog.Logger, engine func(context.Context) (deploy.Engine, error)) *clusterRegistry {
	return &clusterRegistry{dir: filepath.Join(dataDir, "registry"), log: log, engine: engine}
}

// slogWriter logs the registry's output lines at debug level.
type slogWriter struct{ log *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	for _, l := range strings.Split(strings.TrimSpace(string(p)), "\n") {
		if l != "" {
			w.log.Debug("registry", "line", l)
		}
	}
	return len(p), nil
}
