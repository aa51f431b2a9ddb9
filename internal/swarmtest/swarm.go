package swarmtest

import (
	"context"
	"fmt"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// HeartbeatPeriod is the rig's dispatcher heartbeat (the engine's default
// is 5 s): a stopped node is seen down after a few periods, so tests of
// node failure take seconds, not half a minute.
const HeartbeatPeriod = time.Second

// formSwarm initialises the swarm on node 1 and joins the others through
// the Engine API, the first managers as managers, the rest as workers,
// and waits until the manager lists every node ready.
func (r *Rig) formSwarm(ctx context.Context, managers int) error {
	first := r.Nodes[0]
	res, err := first.Client().SwarmInit(ctx, client.SwarmInitOptions{
		ListenAddr:    first.Addr + ":2377",
		AdvertiseAddr: first.Addr + ":2377",
		Spec: swarm.Spec{
			Dispatcher: swarm.DispatcherConfig{HeartbeatPeriod: HeartbeatPeriod},
		},
	})
	if err != nil {
		return fmt.Errorf("node 1: swarm init: %v", err)
	}
	first.ID = res.NodeID
	info, err := first.Client().SwarmInspect(ctx, client.SwarmInspectOptions{})
	if err != nil {
		return fmt.Errorf("node 1: swarm inspect: %v", err)
	}
	tokens := info.Swarm.JoinTokens
	for i, n := range r.Nodes[1:] {
		token := tokens.Worker
		if i+1 < managers {
			token = tokens.Manager
		}
		if _, err := n.Client().SwarmJoin(ctx, client.SwarmJoinOptions{
			ListenAddr:    n.Addr + ":2377",
			AdvertiseAddr: n.Addr + ":2377",
			RemoteAddrs:   []string{first.Addr + ":2377"},
			JoinToken:     token,
		}); err != nil {
			return fmt.Errorf("node %d: swarm join %s: %v", n.Index, first.Addr, err)
		}
		inf, err := n.Client().Info(ctx, client.InfoOptions{})
		if err != nil {
			return fmt.Errorf("node %d: info: %v", n.Index, err)
		}
		n.ID = inf.Info.Swarm.NodeID
	}
	for {
		ready, err := r.ReadyNodes(ctx)
		if err == nil && len(ready) == len(r.Nodes) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("swarm: %d of %d nodes ready: %v (%v)", len(ready), len(r.Nodes), ctx.Err(), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Manager is node 1, where the swarm was initialised.
func (r *Rig) Manager() *Node { return r.Nodes[0] }

// ReadyNodes lists the IDs of the nodes the manager sees ready.
func (r *Rig) ReadyNodes(ctx context.Context) ([]string, error) {
	c := r.Manager().Client()
	if c == nil {
		return nil, fmt.Errorf("the manager's daemon is stopped")
	}
	res, err := c.NodeList(ctx, client.NodeListOptions{})
	if err != nil {
		return nil, err
	}
	var ready []string
	for _, n := range res.Items {
		if n.Status.State == swarm.NodeStateReady {
			ready = append(ready, n.ID)
		}
	}
	return ready, nil
}

// NodeByID is the rig's node with swarm node ID id, or nil.
func (r *Rig) NodeByID(id string) *Node {
	for _, n := range r.Nodes {
		if n.ID == id {
			return n
		}
	}
	return nil
}
