// Package cluster is the cluster commands (scheduler-swarm:cluster-*):
// this server's engine becomes a Docker Swarm manager (cluster-init),
// nodes are added over ssh (cluster-add: Docker, the ports, the join, the
// registry's CA, Berth's node part), listed (cluster-list) and removed,
// drained first (cluster-remove). The swarm itself is the engine's: Berth
// keeps only which ssh address each node was added with.
package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/docker"
)

// Engine is the part of the Docker Engine the cluster commands use (the
// engine this daemon drives, the swarm's manager).
type Engine interface {
	SwarmState(ctx context.Context) (docker.SwarmState, error)
	SwarmInit(ctx context.Context, o docker.SwarmInitOptions) (string, error)
	SwarmJoinTokens(ctx context.Context) (docker.JoinTokens, error)
	Nodes(ctx context.Context) ([]docker.SwarmNode, error)
	NodeSetAvailability(ctx context.Context, id, availability string) error
	NodeDemote(ctx context.Context, id string) error
	NodeRemove(ctx context.Context, id string, force bool) error
	Tasks(ctx context.Context, nodeID string) ([]docker.SwarmTask, error)
}

// CA is the cluster's certificate authority (package registry's): the
// nodes trust it for the registry, and the node part's certificate is
// issued by it.
type CA interface {
	CertPEM() []byte
	// IssueServer returns a certificate and key (PEM) for hosts.
	IssueServer(hosts ...string) (cert, key []byte, err error)
}

// Config is what a Manager is built with.
type Config struct {
	Engine func(ctx context.Context) (Engine, error)
	SSH    SSH
	// CA is loaded (or made) when cluster-add first needs it.
	CA func() (CA, error)
	// DataDir is where the nodes' records are kept (DATA/cluster).
	DataDir string
	// Binary is the running berth binary, copied to the nodes.
	Binary string
	// Heartbeat is the dispatcher heartbeat of a swarm cluster-init makes.
	Heartbeat time.Duration
	// RegistryPort is the cluster registry's port on the manager.
	RegistryPort int
	// CertsDir is where a node's engine finds registries' CAs
	// (/etc/docker/certs.d).
	CertsDir string
	// DrainTimeout bounds cluster-remove's wait for a drained node's
	// tasks (default 60 s); JoinTimeout the wait for a joined node to be
	// ready (default 60 s).
	DrainTimeout, JoinTimeout time.Duration
	Log                       *slog.Logger
}

// Manager serves the cluster operations.
type Manager struct {
	c  Config
	mu sync.Mutex // one cluster command at a time
}

// New returns a Manager built from c.
func New(c Config) *Manager {
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = 60 * time.Second
	}
	if c.JoinTimeout <= 0 {
		c.JoinTimeout = 60 * time.Second
	}
	if c.RegistryPort == 0 {
		c.RegistryPort = 5000
	}
	if c.CertsDir == "" {
		c.CertsDir = "/etc/docker/certs.d"
	}
	return &Manager{c: c}
}

// Register adds the cluster operations to mux.
func (m *Manager) Register(mux *api.Mux) {
	api.Handle(mux, api.ClusterInit, m.init)
	api.Handle(mux, api.ClusterAdd, m.add)
	api.Handle(mux, api.ClusterList, m.list)
	api.Handle(mux, api.ClusterRemove, m.remove)
}

// taskHistory is how many finished tasks the swarm keeps per replica
// slot: enough to see why a task failed, few enough to list quickly.
const taskHistory = 2

func stdout(out api.Output) io.Writer {
	if out.Stdout == nil {
		return io.Discard
	}
	return out.Stdout
}

func (m *Manager) init(ctx context.Context, req api.ClusterInitRequest, out api.Output) (api.ClusterInitResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w := stdout(out)
	if req.AdvertiseAddr != "" && strings.ContainsAny(req.AdvertiseAddr, " /") {
		return api.ClusterInitResult{}, app.Invalidf("Invalid --advertise-addr %q: an IP address (or an interface name) the other nodes reach this server at", req.AdvertiseAddr)
	}
	key, err := m.c.SSH.PublicKey()
	if err != nil {
		return api.ClusterInitResult{}, fmt.Errorf("the daemon's ssh key: %w", err)
	}
	eng, err := m.c.Engine(ctx)
	if err != nil {
		return api.ClusterInitResult{}, err
	}
	st, err := eng.SwarmState(ctx)
	if err != nil {
		return api.ClusterInitResult{}, err
	}
	res := api.ClusterInitResult{PublicKey: key}
	switch {
	case st.Active() && st.Manager:
		res.NodeID, res.Addr, res.Already = st.NodeID, st.Addr, true
		fmt.Fprintf(w, "-----> This server is already a swarm manager (node %s, address %s)\n", st.NodeID, st.Addr)
	case st.Active():
		return res, app.Errorf(app.ErrConflict, "This server's engine is a worker of another swarm (managers %s): run `docker swarm leave` on it first", strings.Join(st.Managers, ", "))
	case st.State != "inactive":
		return res, app.Errorf(app.ErrConflict, "This server's engine is in swarm state %q: see `docker info`, then `docker swarm leave --force` if it is stuck", st.State)
	default:
		if req.AdvertiseAddr == "" {
			fmt.Fprintf(w, "-----> Making this server a swarm manager (advertise address: the engine's choice, its default route's)\n")
		} else {
			fmt.Fprintf(w, "-----> Making this server a swarm manager (advertise address %s)\n", req.AdvertiseAddr)
		}
		id, err := eng.SwarmInit(ctx, docker.SwarmInitOptions{AdvertiseAddr: req.AdvertiseAddr, Heartbeat: m.c.Heartbeat, TaskHistory: taskHistory})
		if err != nil {
			if req.AdvertiseAddr == "" && strings.Contains(err.Error(), "advertise") {
				return res, fmt.Errorf("%w: pass --advertise-addr ADDR (the address the other nodes reach this server at)", err)
			}
			return res, err
		}
		if st, err = eng.SwarmState(ctx); err != nil {
			return res, err
		}
		res.NodeID, res.Addr = id, st.Addr
		m.c.Log.Info("swarm initialised", "node", id, "addr", st.Addr, "heartbeat", m.c.Heartbeat)
		fmt.Fprintf(w, "       Swarm manager: node %s, address %s (dispatcher heartbeat %s)\n", id, st.Addr, m.c.Heartbeat)
	}
	fmt.Fprintf(w, "       Ports the nodes must reach here: %d/tcp (management), %d/tcp+udp (gossip), %d/udp (overlay), %d/tcp (registry)\n", PortManagement, PortGossip, PortOverlay, m.c.RegistryPort)
	fmt.Fprintf(w, "       Authorise Berth's ssh key for root on each node (/root/.ssh/authorized_keys), then run scheduler-swarm:cluster-add ssh://root@HOST:\n")
	fmt.Fprintf(w, "%s\n", key)
	return res, nil
}

// manager checks that this server is a swarm manager.
func (m *Manager) manager(ctx context.Context) (Engine, docker.SwarmState, error) {
	eng, err := m.c.Engine(ctx)
	if err != nil {
		return nil, docker.SwarmState{}, err
	}
	st, err := eng.SwarmState(ctx)
	if err != nil {
		return nil, st, err
	}
	if !st.Active() || !st.Manager {
		return nil, st, app.Errorf(app.ErrConflict, "This server is not a swarm manager: run scheduler-swarm:cluster-init first")
	}
	return eng, st, nil
}

func (m *Manager) list(ctx context.Context, _ api.Empty, _ api.Output) (api.ClusterNodeList, error) {
	eng, st, err := m.manager(ctx)
	if err != nil {
		return api.ClusterNodeList{}, err
	}
	nodes, err := eng.Nodes(ctx)
	if err != nil {
		return api.ClusterNodeList{}, err
	}
	recs, _ := m.records()
	res := api.ClusterNodeList{Nodes: []api.ClusterNode{}}
	for _, n := range nodes {
		res.Nodes = append(res.Nodes, toAPI(n, st.NodeID, recs))
	}
	return res, nil
}

func toAPI(n docker.SwarmNode, self string, recs map[string]record) api.ClusterNode {
	return api.ClusterNode{
		ID: n.ID, Hostname: n.Hostname, Addr: n.Addr, Role: n.Role, State: n.State, Availability: n.Availability,
		Leader: n.Leader, Self: n.ID == self, Tasks: n.Tasks, MemoryBytes: n.MemoryBytes, FreeMemory: n.FreeMemory(),
		Labels: n.Labels, SSH: recs[n.ID].SSH,
	}
}

// record is what Berth keeps of a node it added.
type record struct {
	SSH     string `json:"ssh"`      // ssh://USER@HOST:PORT
	NodeDir string `json:"node_dir"` // where its node part lives
}

func (m *Manager) recordsFile() string { return filepath.Join(m.c.DataDir, "nodes.json") }

// records are the nodes added by cluster-add, by node ID.
func (m *Manager) records() (map[string]record, error) {
	recs := map[string]record{}
	b, err := os.ReadFile(m.recordsFile())
	if errors.Is(err, os.ErrNotExist) {
		return recs, nil
	}
	if err != nil {
		return recs, err
	}
	if err := json.Unmarshal(b, &recs); err != nil {
		return map[string]record{}, fmt.Errorf("%s: %v", m.recordsFile(), err)
	}
	return recs, nil
}

// setRecord keeps (or, with a zero record, forgets) a node's record.
func (m *Manager) setRecord(id string, r record) error {
	recs, err := m.records()
	if err != nil {
		return err
	}
	if r == (record{}) {
		delete(recs, id)
	} else {
		recs[id] = r
	}
	b, err := json.MarshalIndent(recs, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(m.c.DataDir, 0o700); err != nil {
		return err
	}
	return writeAtomic(m.recordsFile(), append(b, '\n'), 0o600)
}
