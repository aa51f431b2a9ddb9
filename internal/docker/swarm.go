package docker

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// SwarmState is the engine's own place in Docker Swarm (`docker info`'s
// Swarm section).
type SwarmState struct {
	// State is the local node's state: inactive, pending, active, error
	// or locked.
	State     string
	NodeID    string // "" when inactive
	Addr      string // the address the node advertises to the swarm
	Manager   bool   // the node is a manager (it answers the swarm's API)
	ClusterID string // set on managers
	// Managers are the managers' addresses (HOST:2377) the node knows.
	Managers []string
}

// Active reports whether the engine is a node of a swarm.
func (s SwarmState) Active() bool { return s.State == string(swarm.LocalNodeStateActive) }

// swarmStateFrom converts the engine's Swarm info.
func swarmStateFrom(i swarm.Info) SwarmState {
	s := SwarmState{State: string(i.LocalNodeState), NodeID: i.NodeID, Addr: i.NodeAddr, Manager: i.ControlAvailable}
	if s.State == "" {
		s.State = string(swarm.LocalNodeStateInactive)
	}
	if i.Cluster != nil {
		s.ClusterID = i.Cluster.ID
	}
	for _, p := range i.RemoteManagers {
		s.Managers = append(s.Managers, p.Addr)
	}
	slices.Sort(s.Managers)
	return s
}

// SwarmState is where the engine stands in Docker Swarm.
func (c *Client) SwarmState(ctx context.Context) (SwarmState, error) {
	res, err := c.api.Info(ctx, client.InfoOptions{})
	if err != nil {
		return SwarmState{}, c.wrap(err, "swarm state")
	}
	return swarmStateFrom(res.Info.Swarm), nil
}

// SwarmInitOptions shape a new swarm.
type SwarmInitOptions struct {
	// AdvertiseAddr is the address the other nodes reach this one at (an
	// IP, optionally with :PORT); "" lets the engine choose (the address
	// of the interface of its default route).
	AdvertiseAddr string
	// Heartbeat is the dispatcher's heartbeat period: a node is seen
	// down after a few missed ones (0: the engine's 5 s).
	Heartbeat time.Duration
	// TaskHistory is how many finished tasks are kept per replica slot
	// (0: the engine's 5).
	TaskHistory int64
}

// SwarmInit makes the engine the first manager of a new swarm and
// returns its node ID.
func (c *Client) SwarmInit(ctx context.Context, o SwarmInitOptions) (string, error) {
	opts := client.SwarmInitOptions{ListenAddr: "0.0.0.0:2377", AdvertiseAddr: o.AdvertiseAddr}
	opts.Spec.Dispatcher.HeartbeatPeriod = o.Heartbeat
	if o.TaskHistory > 0 {
		h := o.TaskHistory
		opts.Spec.Orchestration.TaskHistoryRetentionLimit = &h
	}
	res, err := c.api.SwarmInit(ctx, opts)
	c.ForgetSwarmState() // SwarmManager asks again
	if err != nil {
		return "", c.wrap(err, "swarm init")
	}
	return res.NodeID, nil
}

// JoinTokens are the secrets a node joins the swarm with, as a worker or
// as a manager.
type JoinTokens struct {
	Worker  string
	Manager string
}

// SwarmJoinTokens are the swarm's join tokens (on a manager).
func (c *Client) SwarmJoinTokens(ctx context.Context) (JoinTokens, error) {
	res, err := c.api.SwarmInspect(ctx, client.SwarmInspectOptions{})
	if err != nil {
		return JoinTokens{}, c.wrap(err, "swarm inspect")
	}
	return JoinTokens{Worker: res.Swarm.JoinTokens.Worker, Manager: res.Swarm.JoinTokens.Manager}, nil
}

// SwarmNode is one node of the swarm as a manager sees it.
type SwarmNode struct {
	ID           string
	Hostname     string
	Addr         string // the address it reported (its advertise address)
	Role         string // worker or manager
	State        string // ready, down, unknown, disconnected
	Availability string // active, pause or drain
	Leader       bool   // the managers' leader
	Reachability string // a manager's: reachable, unreachable, unknown
	Labels       map[string]string
	MemoryBytes  int64 // the node's memory
	NanoCPUs     int64
	// Tasks counts the tasks meant to run on it (desired state running).
	Tasks int
	// ReservedMemory sums those tasks' memory reservations.
	ReservedMemory int64
	EngineVersion  string
}

// FreeMemory is the memory not reserved by the node's tasks (what the
// scheduler still places reservations in); the kernel's free memory may
// be less.
func (n SwarmNode) FreeMemory() int64 { return max(0, n.MemoryBytes-n.ReservedMemory) }

// nodeFrom converts the engine's node and adds its tasks.
func nodeFrom(n swarm.Node, tasks []SwarmTask) SwarmNode {
	out := SwarmNode{
		ID:            n.ID,
		Hostname:      n.Description.Hostname,
		Addr:          nodeAddr(n),
		Role:          string(n.Spec.Role),
		State:         string(n.Status.State),
		Availability:  string(n.Spec.Availability),
		Labels:        n.Spec.Labels,
		MemoryBytes:   n.Description.Resources.MemoryBytes,
		NanoCPUs:      n.Description.Resources.NanoCPUs,
		EngineVersion: n.Description.Engine.EngineVersion,
	}
	if n.ManagerStatus != nil {
		out.Leader = n.ManagerStatus.Leader
		out.Reachability = string(n.ManagerStatus.Reachability)
	}
	for _, t := range tasks {
		if t.NodeID == n.ID && t.DesiredState == string(swarm.TaskStateRunning) {
			out.Tasks++
			out.ReservedMemory += t.MemoryReservation
		}
	}
	return out
}

// Nodes lists the swarm's nodes (on a manager), with their tasks
// counted, ordered managers first, then by hostname and address.
func (c *Client) Nodes(ctx context.Context) ([]SwarmNode, error) {
	res, err := c.api.NodeList(ctx, client.NodeListOptions{})
	if err != nil {
		return nil, c.wrap(err, "list swarm nodes")
	}
	tasks, err := c.Tasks(ctx, "")
	if err != nil {
		return nil, err
	}
	out := make([]SwarmNode, 0, len(res.Items))
	for _, n := range res.Items {
		out = append(out, nodeFrom(n, tasks))
	}
	sortNodes(out)
	return out, nil
}

func sortNodes(nodes []SwarmNode) {
	slices.SortStableFunc(nodes, func(a, b SwarmNode) int {
		if (a.Role == "manager") != (b.Role == "manager") {
			if a.Role == "manager" {
				return -1
			}
			return 1
		}
		if c := strings.Compare(a.Hostname, b.Hostname); c != 0 {
			return c
		}
		return strings.Compare(a.Addr, b.Addr)
	})
}

// updateNode changes a node's spec: read it, change it, write it back at
// the version read (the engine refuses a stale one).
func (c *Client) updateNode(ctx context.Context, id, what string, change func(*swarm.NodeSpec)) error {
	res, err := c.api.NodeInspect(ctx, id, client.NodeInspectOptions{})
	if err != nil {
		return c.wrap(err, "inspect swarm node %s", id)
	}
	spec := res.Node.Spec
	change(&spec)
	if _, err := c.api.NodeUpdate(ctx, res.Node.ID, client.NodeUpdateOptions{Version: res.Node.Version, Spec: spec}); err != nil {
		return c.wrap(err, "%s swarm node %s", what, id)
	}
	return nil
}

// NodeSetAvailability sets a node's availability: active, pause or drain
// (a drained node's tasks are moved to the other nodes).
func (c *Client) NodeSetAvailability(ctx context.Context, id, availability string) error {
	switch availability {
	case "active", "pause", "drain":
	default:
		return fmt.Errorf("docker: node availability %q is not one of active, pause, drain", availability)
	}
	return c.updateNode(ctx, id, "set availability of", func(s *swarm.NodeSpec) { s.Availability = swarm.NodeAvailability(availability) })
}

// NodeDemote makes a manager a worker.
func (c *Client) NodeDemote(ctx context.Context, id string) error {
	return c.updateNode(ctx, id, "demote", func(s *swarm.NodeSpec) { s.Role = swarm.NodeRoleWorker })
}

// NodeRemove removes a node from the swarm; without force the engine
// refuses a node that is not down.
func (c *Client) NodeRemove(ctx context.Context, id string, force bool) error {
	if _, err := c.api.NodeRemove(ctx, id, client.NodeRemoveOptions{Force: force}); err != nil {
		return c.wrap(err, "remove swarm node %s", id)
	}
	return nil
}

// SwarmTask is one task of a swarm service.
type SwarmTask struct {
	ID           string
	ServiceID    string
	NodeID       string
	Slot         int
	State        string // its actual state: running, shutdown, failed, ...
	DesiredState string
	// MemoryReservation is what its spec reserves (bytes; 0: none).
	MemoryReservation int64
}

func taskFrom(t swarm.Task) SwarmTask {
	out := SwarmTask{ID: t.ID, ServiceID: t.ServiceID, NodeID: t.NodeID, Slot: t.Slot, State: string(t.Status.State), DesiredState: string(t.DesiredState)}
	if r := t.Spec.Resources; r != nil && r.Reservations != nil {
		out.MemoryReservation = r.Reservations.MemoryBytes
	}
	return out
}

// Tasks lists the swarm's tasks (on a manager); with nodeID, only that
// node's.
func (c *Client) Tasks(ctx context.Context, nodeID string) ([]SwarmTask, error) {
	opts := client.TaskListOptions{}
	if nodeID != "" {
		opts.Filters = client.Filters{}.Add("node", nodeID)
	}
	res, err := c.api.TaskList(ctx, opts)
	if err != nil {
		return nil, c.wrap(err, "list swarm tasks")
	}
	out := make([]SwarmTask, 0, len(res.Items))
	for _, t := range res.Items {
		out = append(out, taskFrom(t))
	}
	return out, nil
}
