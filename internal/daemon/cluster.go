package daemon

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/cluster"
	"github.com/berthpaas/berth/internal/deploy"
	"github.com/berthpaas/berth/internal/registry"
	"github.com/berthpaas/berth/internal/settings"
)

// newCluster builds the cluster commands (package cluster,
// scheduler-swarm:cluster-*) on the daemon's engine: its ssh key and the
// nodes' records in DATA/cluster, the cluster CA in DATA/registry (the
// registry's), the running binary as the nodes' node part.
func newCluster(s settings.Settings, log *slog.Logger, engine func(context.Context) (deploy.Engine, error), berthBin string) *cluster.Manager {
	dir := filepath.Join(s.DataDir, "cluster")
	return cluster.New(cluster.Config{
		Engine: func(ctx context.Context) (cluster.Engine, error) {
			eng, err := engine(ctx)
			if err != nil {
				return nil, err
			}
			ce, ok := eng.(cluster.Engine)
			if !ok {
				return nil, api.Errorf(api.CodeUnavailable, "the container engine cannot manage a swarm")
			}
			return ce, nil
		},
		SSH: &cluster.OpenSSH{KeyFile: filepath.Join(dir, "id_ed25519"), KnownHosts: filepath.Join(dir, "known_hosts")},
		CA: func() (cluster.CA, error) {
			ca, err := registry.LoadOrCreateCA(filepath.Join(s.DataDir, "registry"))
			if err != nil {
				return nil, err
			}
			return clusterCA{ca}, nil
		},
		DataDir:      dir,
		Binary:       berthBin,
		Heartbeat:    s.SwarmHeartbeatDuration(),
		RegistryPort: registry.DefaultPort,
		CertsDir:     registry.DefaultCertsDir,
		Log:          log,
	})
}

// clusterCA is the registry's CA as package cluster uses it.
type clusterCA struct{ ca *registry.CA }

func (c clusterCA) CertPEM() []byte { return c.ca.PEM }

// IssueServer issues through a private temporary directory (the
// registry's CA writes files).
func (c clusterCA) IssueServer(hosts ...string) ([]byte, []byte, error) {
	dir, err := os.MkdirTemp("", "berth-node-cert-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(dir)
	cf, kf := filepath.Join(dir, "node.crt"), filepath.Join(dir, "node.key")
	if err := c.ca.IssueServer(cf, kf, hosts...); err != nil {
		return nil, nil, err
	}
	cert, err := os.ReadFile(cf)
	if err != nil {
		return nil, nil, err
	}
	key, err := os.ReadFile(kf)
	return cert, key, err
}
