package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// ServiceSpec is a Swarm service of one process type of a release, as
// the Swarm scheduler creates it: replicated, DNS round robin (no virtual
// IP: see docs/cluster.md), its web port published on each task's node at
// a port the engine picks (host mode), start-first updates.
type ServiceSpec struct {
	Name   string
	Image  string // REGISTRY/REPO@sha256:... (every node pulls exactly it)
	Cmd    []string
	Env    []string
	Labels map[string]string // the service's
	// TaskLabels are its tasks' containers' (never the service's labels:
	// a task container on the manager must not pass for one of Berth's
	// containers there).
	TaskLabels map[string]string
	Replicas   int
	Networks   []string
	// PublishPort is the container port published on the task's node
	// (0: none), at a port of the engine's choice (Task.Port).
	PublishPort int
	// Constraints are Swarm placement constraints ("node.labels.x==y").
	Constraints []string
	// StopGrace is how long a task has to stop after SIGTERM.
	StopGrace time.Duration
	// RestartDelay is how long Swarm waits before restarting a task that
	// ended; MaxRestarts bounds it (0: no bound).
	RestartDelay time.Duration
	MaxRestarts  int
	// Health is the task's health check command (argv); nil is none, and
	// the image's HEALTHCHECK applies. A task that fails it Retries times
	// in a row, every HealthInterval, is replaced by Swarm.
	Health                        []string
	HealthInterval, HealthTimeout time.Duration
	HealthRetries                 int
	// Options are what the app's settings add to its containers
	// (docker-options, storage mounts, resource limits), as a local
	// container would get them; swarmopts.go maps them (SwarmIgnored:
	// those Swarm has no place for).
	Options ContainerSpec
}

// ServiceInfo is a Swarm service as Berth lists it.
type ServiceInfo struct {
	ID       string
	Name     string
	Labels   map[string]string
	Replicas int
	Image    string
}

// TaskInfo is one task (replica) of a service.
type TaskInfo struct {
	ID           string
	ServiceID    string
	Slot         int
	NodeID       string
	NodeAddr     string // the node's address in the swarm ("" unknown)
	NodeHostname string
	State        string // the task's state: running, failed, ...
	DesiredState string
	Message      string // the engine's status message
	Err          string // why it failed
	ExitCode     int
	ContainerID  string
	// Port is the node's port the web port is published on (0: none).
	Port      int
	UpdatedAt time.Time
}

// Running reports whether the task runs and is meant to.
func (t TaskInfo) Running() bool { return t.State == "running" && t.DesiredState == "running" }

// CreateService creates a service of spec and returns its ID.
func (c *Client) CreateService(ctx context.Context, spec ServiceSpec) (string, error) {
	replicas := uint64(spec.Replicas)
	grace := spec.StopGrace
	delay := spec.RestartDelay
	restart := &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionAny, Delay: &delay}
	if spec.MaxRestarts > 0 {
		n := uint64(spec.MaxRestarts)
		restart.MaxAttempts = &n
	}
	cs := &swarm.ContainerSpec{Image: spec.Image, Args: spec.Cmd, Env: spec.Env, Labels: spec.TaskLabels, StopGracePeriod: &grace, Init: ptr(true)}
	if len(spec.Cmd) > 0 {
		// Args replace the image's CMD and keep its ENTRYPOINT, as
		// `docker run IMAGE CMD...` does for the local scheduler.
		cs.Args = spec.Cmd
	}
	if len(spec.Health) > 0 {
		cs.Healthcheck = &container.HealthConfig{Test: append([]string{"CMD"}, spec.Health...), Interval: spec.HealthInterval, Timeout: spec.HealthTimeout, Retries: spec.HealthRetries}
	}
	resources := swarmContainer(cs, spec.Options)
	var nets []swarm.NetworkAttachmentConfig
	for _, n := range spec.Networks {
		nets = append(nets, swarm.NetworkAttachmentConfig{Target: n})
	}
	ep := &swarm.EndpointSpec{Mode: swarm.ResolutionModeDNSRR}
	if spec.PublishPort > 0 {
		ep.Ports = []swarm.PortConfig{{Protocol: network.TCP, TargetPort: uint32(spec.PublishPort), PublishMode: swarm.PortConfigPublishModeHost}}
	}
	s := swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: spec.Name, Labels: spec.Labels},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: cs,
			Resources:     resources,
			RestartPolicy: restart,
			Placement: &swarm.Placement{
				Constraints: spec.Constraints,
				Preferences: []swarm.PlacementPreference{{Spread: &swarm.SpreadOver{SpreadDescriptor: "node.id"}}},
			},
			Networks: nets,
		},
		Mode: swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &replicas}},
		UpdateConfig: &swarm.UpdateConfig{
			Parallelism: 1, Order: swarm.UpdateOrderStartFirst, FailureAction: swarm.UpdateFailureActionRollback,
			Monitor: 5 * time.Second,
		},
		RollbackConfig: &swarm.UpdateConfig{Parallelism: 1, Order: swarm.UpdateOrderStartFirst},
		EndpointSpec:   ep,
	}
	res, err := c.api.ServiceCreate(ctx, client.ServiceCreateOptions{Spec: s})
	if err != nil {
		return "", c.wrap(err, "create service %s", spec.Name)
	}
	return res.ID, nil
}

func ptr[T any](v T) *T { return &v }

// ScaleService sets a replicated service's replicas.
func (c *Client) ScaleService(ctx context.Context, id string, replicas int) error {
	res, err := c.api.ServiceInspect(ctx, id, client.ServiceInspectOptions{})
	if err != nil {
		return c.wrap(err, "inspect service %s", id)
	}
	spec := res.Service.Spec
	if spec.Mode.Replicated == nil {
		return fmt.Errorf("docker: scale service %s: not a replicated service", id)
	}
	n := uint64(replicas)
	spec.Mode.Replicated.Replicas = &n
	_, err = c.api.ServiceUpdate(ctx, id, client.ServiceUpdateOptions{Version: res.Service.Version, Spec: spec})
	return c.wrap(err, "scale service %s", id)
}

// RemoveService removes a service; its tasks stop (each given the stop
// grace period).
func (c *Client) RemoveService(ctx context.Context, id string) error {
	_, err := c.api.ServiceRemove(ctx, id, client.ServiceRemoveOptions{})
	return c.wrap(err, "remove service %s", id)
}

// ListServices lists the services carrying all the labels.
func (c *Client) ListServices(ctx context.Context, labels map[string]string) ([]ServiceInfo, error) {
	f := client.Filters{}
	for k, v := range labels {
		f = f.Add("label", k+"="+v)
	}
	res, err := c.api.ServiceList(ctx, client.ServiceListOptions{Filters: f})
	if err != nil {
		return nil, c.wrap(err, "list services")
	}
	out := make([]ServiceInfo, 0, len(res.Items))
	for _, s := range res.Items {
		si := ServiceInfo{ID: s.ID, Name: s.Spec.Name, Labels: s.Spec.Labels}
		if s.Spec.Mode.Replicated != nil && s.Spec.Mode.Replicated.Replicas != nil {
			si.Replicas = int(*s.Spec.Mode.Replicated.Replicas)
		}
		if s.Spec.TaskTemplate.ContainerSpec != nil {
			si.Image = s.Spec.TaskTemplate.ContainerSpec.Image
		}
		out = append(out, si)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// ServiceTasks lists a service's tasks, the nodes' addresses filled in,
// newest first within a slot.
func (c *Client) ServiceTasks(ctx context.Context, serviceID string) ([]TaskInfo, error) {
	res, err := c.api.TaskList(ctx, client.TaskListOptions{Filters: client.Filters{}.Add("service", serviceID)})
	if err != nil {
		return nil, c.wrap(err, "list tasks of service %s", serviceID)
	}
	nodes, err := c.api.NodeList(ctx, client.NodeListOptions{})
	if err != nil {
		return nil, c.wrap(err, "list nodes")
	}
	addr, host := map[string]string{}, map[string]string{}
	for _, n := range nodes.Items {
		addr[n.ID], host[n.ID] = nodeAddr(n), n.Description.Hostname
	}
	out := make([]TaskInfo, 0, len(res.Items))
	for _, t := range res.Items {
		ti := TaskInfo{
			ID: t.ID, ServiceID: t.ServiceID, Slot: t.Slot, NodeID: t.NodeID, NodeAddr: addr[t.NodeID], NodeHostname: host[t.NodeID],
			State: string(t.Status.State), DesiredState: string(t.DesiredState), Message: t.Status.Message, Err: t.Status.Err,
			UpdatedAt: t.UpdatedAt,
		}
		if cs := t.Status.ContainerStatus; cs != nil {
			ti.ContainerID, ti.ExitCode = cs.ContainerID, cs.ExitCode
		}
		for _, p := range t.Status.PortStatus.Ports {
			if p.PublishedPort != 0 {
				ti.Port = int(p.PublishedPort)
				break
			}
		}
		out = append(out, ti)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Slot != out[j].Slot {
			return out[i].Slot < out[j].Slot
		}
		return out[i].UpdatedAt.After(out[j].UpdatedAt)
	})
	return out, nil
}

// ServiceLogs writes the output of a service's tasks (every node's); with
// opts.Details each line names its task (com.docker.swarm.task.id=...).
func (c *Client) ServiceLogs(ctx context.Context, serviceID string, opts LogsOptions, stdout, stderr io.Writer) error {
	o := client.ServiceLogsOptions{ShowStdout: true, ShowStderr: true, Follow: opts.Follow, Timestamps: opts.Timestamps, Details: opts.Details}
	o.Tail = opts.Tail
	if !opts.Since.IsZero() {
		o.Since = fmt.Sprintf("%d.%09d", opts.Since.Unix(), opts.Since.Nanosecond())
	}
	rc, err := c.api.ServiceLogs(ctx, serviceID, o)
	if err != nil {
		return c.wrap(err, "logs of service %s", serviceID)
	}
	defer rc.Close()
	if err := c.Demux(rc, stdout, stderr); err != nil && !errors.Is(err, io.EOF) && ctx.Err() == nil {
		return err
	}
	return nil
}

// EnsureOverlay makes sure an attachable overlay network called name
// exists (services' tasks on every node and the manager's own containers
// join it).
func (c *Client) EnsureOverlay(ctx context.Context, name string, labels map[string]string) error {
	networkMu.Lock()
	defer networkMu.Unlock()
	if same, err := c.networksNamed(ctx, name); err != nil || len(same) > 0 {
		return err
	}
	_, err := c.api.NetworkCreate(ctx, name, client.NetworkCreateOptions{Driver: "overlay", Attachable: true, Labels: labels})
	if err != nil && strings.Contains(err.Error(), "already exists") {
		return nil
	}
	return c.wrap(err, "create overlay network %s", name)
}

// SwarmManager reports whether the engine is a manager of an active
// swarm, and the address it advertises to the other nodes.
func (c *Client) SwarmManager(ctx context.Context) (bool, string, error) {
	l, err := c.localSwarm(ctx)
	return l.active && l.manager, l.addr, err
}

// swarmLocal is where the engine stands in a swarm.
type swarmLocal struct {
	active, manager bool
	nodeID, addr    string
}

// localSwarm reads where the engine stands in a swarm, kept for
// swarmStateTTL: route syncs, the task follower and the peers' resync all
// ask, and a node joins or leaves a swarm rarely.
func (c *Client) localSwarm(ctx context.Context) (swarmLocal, error) {
	c.swarmMu.Lock()
	defer c.swarmMu.Unlock()
	if time.Since(c.swarmAt) < swarmStateTTL {
		return c.swarm, nil
	}
	res, err := c.api.Info(ctx, client.InfoOptions{})
	if err != nil {
		return swarmLocal{}, c.wrap(err, "info")
	}
	sw := res.Info.Swarm
	switch sw.LocalNodeState {
	case swarm.LocalNodeStatePending, swarm.LocalNodeStateError, swarm.LocalNodeStateLocked:
		// In a swarm, but not back in it yet (its engine restarted) or
		// cut off: not "no swarm", which would read as an app with no
		// tasks. Not kept: asked again next time.
		return swarmLocal{}, fmt.Errorf("%w: this node's swarm state is %s", ErrSwarmNotReady, sw.LocalNodeState)
	}
	c.swarm = swarmLocal{active: sw.LocalNodeState == swarm.LocalNodeStateActive, manager: sw.ControlAvailable, nodeID: sw.NodeID, addr: sw.NodeAddr}
	c.swarmAt = time.Now()
	return c.swarm, nil
}

// swarmStateTTL is how long SwarmManager's answer is kept.
const swarmStateTTL = 5 * time.Second

// ForgetSwarmState makes the next SwarmManager ask the engine (after
// this process changed the swarm: init, join, leave).
func (c *Client) ForgetSwarmState() {
	c.swarmMu.Lock()
	c.swarmAt = time.Time{}
	c.swarmMu.Unlock()
}
