package daemon

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sync"

	"github.com/berthpaas/berth/internal/deploy"
	"github.com/berthpaas/berth/internal/metrics"
	"github.com/berthpaas/berth/internal/proxy"
	"github.com/berthpaas/berth/internal/registry"
	"github.com/berthpaas/berth/internal/routing"
)

// The daemon's certificate for the nodes' proxies: DATA/cluster/tls.
const (
	peerClientCert = "client.crt"
	peerClientKey  = "client.key"
)

// nodeAddrser is the engine's one swarm call routing needs.
type nodeAddrser interface {
	NodeAddrs(ctx context.Context) (local string, others []string, err error)
}

// clusterPeers fills routing.Peers: the proxies of the swarm's other
// ready nodes when this engine is a swarm manager (none otherwise), at
// port 7950, reached with a client certificate of the cluster's CA
// (DATA/registry), issued into DATA/cluster/tls when first needed.
type clusterPeers struct {
	engine  func(context.Context) (deploy.Engine, error)
	dataDir string

	mu  sync.Mutex
	tls *tls.Config
}

var _ routing.Peers = (*clusterPeers)(nil)

func (p *clusterPeers) Nodes(ctx context.Context) (string, []string, error) {
	eng, err := p.engine(ctx)
	if err != nil {
		return "", nil, err
	}
	na, ok := eng.(nodeAddrser)
	if !ok {
		return "", nil, nil
	}
	self, others, err := na.NodeAddrs(ctx)
	if err != nil {
		return "", nil, err
	}
	peers := make([]string, 0, len(others))
	for _, o := range others {
		peers = append(peers, net.JoinHostPort(o, proxy.DefaultControlPort))
	}
	return self, peers, nil
}

func (p *clusterPeers) Dial(addr string) (routing.PeerProxy, error) {
	cfg, err := p.clientTLS()
	if err != nil {
		return nil, err
	}
	return proxy.NewRemoteClient(addr, cfg), nil
}

// peerIssueMu serialises issuing the daemon's certificate for the
// nodes' proxies.
var peerIssueMu sync.Mutex

// clientTLS loads the daemon's client certificate, issuing it (and the
// CA, if there is none yet) the first time.
func (p *clusterPeers) clientTLS() (*tls.Config, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tls != nil {
		return p.tls, nil
	}
	dir := filepath.Join(p.dataDir, "cluster", "tls")
	// Routing and metrics each have a clusterPeers: one issues.
	peerIssueMu.Lock()
	defer peerIssueMu.Unlock()
	if _, err := os.Stat(filepath.Join(dir, peerClientCert)); errors.Is(err, fs.ErrNotExist) {
		ca, err := registry.LoadOrCreateCA(filepath.Join(p.dataDir, "registry"))
		if err != nil {
			return nil, fmt.Errorf("the cluster's CA: %w", err)
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, proxy.ControlCAFile), ca.PEM, 0o644); err != nil {
			return nil, err
		}
		if err := ca.IssueClient(filepath.Join(dir, peerClientCert), filepath.Join(dir, peerClientKey), "berth manager"); err != nil {
			return nil, fmt.Errorf("issue the daemon's certificate for the nodes' proxies: %w", err)
		}
	}
	cfg, err := proxy.LoadClientTLS(dir, peerClientCert, peerClientKey)
	if err != nil {
		return nil, fmt.Errorf("the daemon's certificate for the nodes' proxies (%s; remove it to issue a new one): %w", dir, err)
	}
	p.tls = cfg
	return cfg, nil
}

// metricsNodes fills metrics.Nodes: the other nodes' proxies, as routing
// reaches them (clients kept by address, for their connections).
type metricsNodes struct {
	peers *clusterPeers

	mu      sync.Mutex
	clients map[string]metrics.Proxy
}

func (m *metricsNodes) NodeProxies(ctx context.Context) (map[string]metrics.Proxy, error) {
	_, addrs, err := m.peers.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]metrics.Proxy, len(addrs))
	for _, a := range addrs {
		c := m.clients[a]
		if c == nil {
			cfg, err := m.peers.clientTLS()
			if err != nil {
				return nil, err
			}
			c = proxy.NewRemoteClient(a, cfg)
		}
		out[a] = c
	}
	m.clients = out // nodes that left are dropped
	return out, nil
}
