package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// ContainerSpec describes a container for [Client.CreateContainer].
type ContainerSpec struct {
	// Name is the container's name; "" lets the engine pick one.
	Name string
	// Image is the image reference or ID to run.
	Image string
	// Cmd replaces the image's CMD; nil keeps it.
	Cmd []string
	// Entrypoint replaces the image's ENTRYPOINT; nil keeps it, and a
	// non-nil empty slice clears it.
	Entrypoint []string
	// Env holds KEY=VALUE entries, added to (or overriding) the image's.
	Env []string
	// Labels are added to the image's labels.
	Labels map[string]string
	// WorkingDir replaces the image's WORKDIR; "" keeps it.
	WorkingDir string
	// Init runs an init process (docker-init/tini) as PID 1 that forwards
	// signals and reaps zombies, like `docker run --init`.
	Init bool
	// RestartPolicy is "", "no", "always", "unless-stopped", "on-failure" or
	// "on-failure:N" (at most N restarts).
	RestartPolicy string
	// StopTimeout is how many seconds the engine waits after the stop signal
	// before killing the container; 0 means the engine default (10 s).
	StopTimeout int
	// PublishPort is a container TCP port to publish on 127.0.0.1 only,
	// on a host port the engine chooses (see ContainerInfo.HostPort);
	// 0 publishes nothing.
	PublishPort int
	// Network is the network to attach the container to; "" means the
	// engine's default bridge.
	Network string
	// NetworkAliases are extra DNS names for the container on Network (a
	// user-defined network; the default bridge has no aliases).
	NetworkAliases []string
	// TTY allocates a pseudo-terminal; OpenStdin keeps stdin open for
	// [Client.Attach] (and closes it when the first attached client
	// disconnects, like `docker run -i`). Both are for interactive
	// one-off containers.
	TTY, OpenStdin bool
	// AutoRemove makes the engine remove the container once it exits.
	AutoRemove bool
	// Binds are host directories mounted in the container, as
	// "/host/dir:/container/dir".
	Binds []string
	// Hostname is the container's host name; "" lets the engine pick.
	Hostname string
	// Memory limits the container's memory in bytes; 0 is no limit.
	Memory int64
	// ShmSize is the size of /dev/shm in bytes; 0 is the engine default.
	ShmSize int64
	// LogMaxSize caps the container's log (json-file and local drivers),
	// e.g. "10m"; "" or "unlimited" is the engine's default.
	LogMaxSize string
	// Ports publishes container TCP ports on fixed host addresses, in
	// addition to PublishPort.
	Ports []PortBinding
	// Host holds the options an app's settings add (hostoptions.go).
	Host HostOptions
}

// PortBinding publishes a container TCP port on a host address and port.
type PortBinding struct {
	HostIP        string
	HostPort      int
	ContainerPort int
	Proto         string // "tcp" ("" too) or "udp"
}

// parseRestartPolicy turns "on-failure:3" and friends into the engine's form.
func parseRestartPolicy(s string) (container.RestartPolicy, error) {
	name, count, hasCount := strings.Cut(s, ":")
	p := container.RestartPolicy{Name: container.RestartPolicyMode(name)}
	switch p.Name {
	case "":
		if hasCount {
			return p, fmt.Errorf("invalid restart policy %q", s)
		}
		p.Name = container.RestartPolicyDisabled
	case container.RestartPolicyDisabled, container.RestartPolicyAlways, container.RestartPolicyUnlessStopped:
		if hasCount {
			return p, fmt.Errorf("invalid restart policy %q: only on-failure takes a retry count", s)
		}
	case container.RestartPolicyOnFailure:
		if hasCount {
			n, err := strconv.Atoi(count)
			if err != nil || n < 0 {
				return p, fmt.Errorf("invalid restart policy %q: bad retry count", s)
			}
			p.MaximumRetryCount = n
		}
	default:
		return p, fmt.Errorf("invalid restart policy %q: want no, always, unless-stopped, on-failure or on-failure:N", s)
	}
	return p, nil
}

// CreateContainer creates (but does not start) a container as described by
// spec and returns its ID. A missing image gives an error matching
// [ErrNotFound]; nothing is pulled.
func (c *Client) CreateContainer(ctx context.Context, spec ContainerSpec) (id string, err error) {
	what := spec.Name
	if what == "" {
		what = "from " + spec.Image
	}
	restart, err := parseRestartPolicy(spec.RestartPolicy)
	if err != nil {
		return "", fmt.Errorf("docker: create container %s: %w", what, err)
	}
	cfg := &container.Config{
		Image:        spec.Image,
		Cmd:          spec.Cmd,
		Entrypoint:   spec.Entrypoint,
		Env:          spec.Env,
		Labels:       spec.Labels,
		WorkingDir:   spec.WorkingDir,
		Tty:          spec.TTY,
		OpenStdin:    spec.OpenStdin,
		StdinOnce:    spec.OpenStdin,
		AttachStdin:  spec.OpenStdin,
		AttachStdout: spec.OpenStdin || spec.TTY,
		AttachStderr: spec.OpenStdin || spec.TTY,
	}
	if spec.StopTimeout > 0 {
		cfg.StopTimeout = &spec.StopTimeout
	}
	host := &container.HostConfig{
		RestartPolicy: restart,
		AutoRemove:    spec.AutoRemove,
		NetworkMode:   container.NetworkMode(spec.Network),
		Binds:         spec.Binds,
	}
	cfg.Hostname = spec.Hostname
	if spec.Init {
		host.Init = &spec.Init
	}
	if spec.PublishPort != 0 {
		if spec.PublishPort < 1 || spec.PublishPort > math.MaxUint16 {
			return "", fmt.Errorf("docker: create container %s: invalid port %d", what, spec.PublishPort)
		}
		p, _ := network.PortFrom(uint16(spec.PublishPort), network.TCP)
		cfg.ExposedPorts = network.PortSet{p: {}}
		host.PortBindings = network.PortMap{p: {{HostIP: netip.MustParseAddr("127.0.0.1")}}}
		// Which binding is HostPort, when docker-options publish others.
		labels := make(map[string]string, len(spec.Labels)+1)
		maps.Copy(labels, spec.Labels)
		labels[LabelPublishedPort] = strconv.Itoa(spec.PublishPort)
		cfg.Labels = labels
	}
	host.Resources.Memory = spec.Memory
	host.ShmSize = spec.ShmSize
	for _, pb := range spec.Ports {
		ip, err := netip.ParseAddr(pb.HostIP)
		if err != nil || pb.ContainerPort < 1 || pb.ContainerPort > math.MaxUint16 || pb.HostPort < 1 || pb.HostPort > math.MaxUint16 {
			return "", fmt.Errorf("docker: create container %s: invalid port binding %s:%d:%d", what, pb.HostIP, pb.HostPort, pb.ContainerPort)
		}
		proto := network.TCP
		if pb.Proto == "udp" {
			proto = network.UDP
		}
		p, _ := network.PortFrom(uint16(pb.ContainerPort), proto)
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = network.PortSet{}
		}
		if host.PortBindings == nil {
			host.PortBindings = network.PortMap{}
		}
		cfg.ExposedPorts[p] = struct{}{}
		host.PortBindings[p] = append(host.PortBindings[p], network.PortBinding{HostIP: ip, HostPort: strconv.Itoa(pb.HostPort)})
	}
	if err := applyHostOptions(cfg, host, spec.Host); err != nil {
		return "", fmt.Errorf("docker: create container %s: %w", what, err)
	}
	var netcfg *network.NetworkingConfig
	if spec.Network != "" && len(spec.NetworkAliases) > 0 {
		netcfg = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			spec.Network: {Aliases: spec.NetworkAliases},
		}}
	}
	c.applyLogMaxSize(ctx, host, spec.LogMaxSize)
	res, err := c.api.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name:             spec.Name,
		Config:           cfg,
		HostConfig:       host,
		NetworkingConfig: netcfg,
	})
	if err != nil {
		return "", c.wrap(err, "create container %s", what)
	}
	return res.ID, nil
}

// StartContainer starts a created or stopped container. Starting a running
// container is not an error. A missing container gives an error matching
// [ErrNotFound].
func (c *Client) StartContainer(ctx context.Context, id string) error {
	_, err := c.api.ContainerStart(ctx, id, client.ContainerStartOptions{})
	return c.wrap(err, "start container %s", shortID(id))
}

// StopContainer sends the container its stop signal (SIGTERM unless the
// image says otherwise), waits up to timeout for it to exit and then kills
// it. timeout is rounded up to whole seconds; 0 uses the container's
// StopTimeout (or the engine default, 10 s) and a negative timeout kills at
// once. Stopping a container that is not running is not an error; a missing
// container gives an error matching [ErrNotFound]. Stopping cancels the
// container's restart policy until it is started again.
func (c *Client) StopContainer(ctx context.Context, id string, timeout time.Duration) error {
	var opts client.ContainerStopOptions
	switch {
	case timeout < 0:
		zero := 0
		opts.Timeout = &zero
	case timeout > 0:
		secs := int((timeout + time.Second - 1) / time.Second)
		opts.Timeout = &secs
	}
	_, err := c.api.ContainerStop(ctx, id, opts)
	return c.wrap(err, "stop container %s", shortID(id))
}

// RemoveContainer removes a container and its anonymous volumes. force
// kills a running container first; without it removing a running container
// fails. A container that is already gone, or already being removed (as
// AutoRemove does when it exits), is not an error.
func (c *Client) RemoveContainer(ctx context.Context, id string, force bool) error {
	_, err := c.api.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: force, RemoveVolumes: true})
	if err == nil || cerrdefs.IsNotFound(err) {
		return nil
	}
	if cerrdefs.IsConflict(err) && strings.Contains(err.Error(), "already in progress") {
		return nil
	}
	return c.wrap(err, "remove container %s", shortID(id))
}

// ContainerInfo describes a container, as listed by [Client.ListContainers].
type ContainerInfo struct {
	ID      string
	Name    string // without the leading "/"
	Image   string // the image reference the container was created from
	ImageID string // full "sha256:..." ID
	// State is the engine's state: "created", "running", "paused",
	// "restarting", "removing", "exited" or "dead".
	State string
	// Status is a human-readable status such as "Up 5 minutes" or
	// "Exited (0) 2 seconds ago".
	Status  string
	Labels  map[string]string
	Created time.Time
	// HostPort is the host port published on 127.0.0.1 (see
	// ContainerSpec.PublishPort), or 0. It is only known while the
	// container runs.
	HostPort int
}

// LabelPublishedPort is set on a container created with a PublishPort: the
// container port whose 127.0.0.1 binding is HostPort, so that other ports
// published by docker options (-p) are never taken for it.
const LabelPublishedPort = "berth.published-port"

// ListContainers lists the containers carrying all the given labels (a
// label with value "" only has to be present), newest first. Without all,
// only running containers are listed.
func (c *Client) ListContainers(ctx context.Context, labels map[string]string, all bool) ([]ContainerInfo, error) {
	res, err := c.api.ContainerList(ctx, client.ContainerListOptions{All: all, Filters: labelFilters(labels)})
	if err != nil {
		return nil, c.wrap(err, "list containers")
	}
	out := make([]ContainerInfo, 0, len(res.Items))
	for _, s := range res.Items {
		info := ContainerInfo{
			ID:      s.ID,
			Image:   s.Image,
			ImageID: s.ImageID,
			State:   string(s.State),
			Status:  s.Status,
			Labels:  s.Labels,
			Created: time.Unix(s.Created, 0),
		}
		if len(s.Names) > 0 {
			info.Name = strings.TrimPrefix(s.Names[0], "/")
		}
		published, _ := strconv.Atoi(s.Labels[LabelPublishedPort])
		for _, p := range s.Ports {
			if p.PublicPort != 0 && p.Type == "tcp" && p.IP == loopback && (published == 0 || int(p.PrivatePort) == published) {
				info.HostPort = int(p.PublicPort)
				break
			}
		}
		out = append(out, info)
	}
	return out, nil
}

var loopback = netip.MustParseAddr("127.0.0.1")

// ContainerDetails is the result of [Client.InspectContainer].
type ContainerDetails struct {
	ContainerInfo
	Running      bool
	ExitCode     int
	RestartCount int
	// OOMKilled reports that the kernel's OOM killer ended the container's
	// last run (the engine clears it, and ExitCode, when it starts again).
	OOMKilled bool
	// StartedAt and FinishedAt are zero when the container never started
	// or never stopped.
	StartedAt, FinishedAt time.Time
	// TTY reports whether the container has a pseudo-terminal.
	TTY bool
	// Pid is the process ID of the container's main process in the
	// engine's PID namespace (the host's, for a local engine); 0 when it is
	// not running.
	Pid int
	// Raw is the engine's inspect JSON, for ps:inspect.
	Raw json.RawMessage
	// Networks maps each attached network's name to the container's
	// address on it ("" while the container is not running).
	Networks map[string]string
}

// IPAddress is the container's address on the named network ("" when it
// is not attached).
func (d ContainerDetails) IPAddress(network string) string { return d.Networks[network] }

// InspectContainer describes the container with the given ID, ID prefix or
// name. A missing container gives an error matching [ErrNotFound].
func (c *Client) InspectContainer(ctx context.Context, idOrName string) (ContainerDetails, error) {
	res, err := c.api.ContainerInspect(ctx, idOrName, client.ContainerInspectOptions{})
	if err != nil {
		return ContainerDetails{}, c.wrap(err, "inspect container %s", shortID(idOrName))
	}
	ci := res.Container
	d := ContainerDetails{
		ContainerInfo: ContainerInfo{
			ID:      ci.ID,
			Name:    strings.TrimPrefix(ci.Name, "/"),
			ImageID: ci.Image,
		},
		RestartCount: ci.RestartCount,
		Raw:          res.Raw,
	}
	d.Created, _ = time.Parse(time.RFC3339Nano, ci.Created)
	if cfg := ci.Config; cfg != nil {
		d.Image = cfg.Image
		d.Labels = cfg.Labels
		d.TTY = cfg.Tty
	}
	if st := ci.State; st != nil {
		d.State = string(st.Status)
		d.Running = st.Running
		d.ExitCode = st.ExitCode
		d.Pid = st.Pid
		d.OOMKilled = st.OOMKilled
		d.StartedAt = parseEngineTime(st.StartedAt)
		d.FinishedAt = parseEngineTime(st.FinishedAt)
		d.Status = describeState(st, d.StartedAt, d.FinishedAt)
	}
	if ns := ci.NetworkSettings; ns != nil {
		d.Networks = map[string]string{}
		for name, ep := range ns.Networks {
			// A created or stopped container is attached with no
			// address: it is listed, with "".
			d.Networks[name] = ""
			if ep != nil && ep.IPAddress.IsValid() {
				d.Networks[name] = ep.IPAddress.String()
			}
		}
		published, _ := strconv.Atoi(d.Labels[LabelPublishedPort])
	ports:
		for port, bindings := range ns.Ports {
			if port.Proto() != network.TCP || published != 0 && int(port.Num()) != published {
				continue
			}
			for _, b := range bindings {
				if b.HostIP == loopback {
					if n, err := strconv.Atoi(b.HostPort); err == nil {
						d.HostPort = n
						break ports
					}
				}
			}
		}
	}
	return d, nil
}

// parseEngineTime parses an RFC 3339 time from the engine, mapping the
// engine's "0001-01-01T00:00:00Z" (never) to the zero time.
func parseEngineTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() <= 1 {
		return time.Time{}
	}
	return t
}

// describeState renders a state the way `docker ps` does.
func describeState(st *container.State, started, finished time.Time) string {
	switch {
	case st.Restarting:
		return fmt.Sprintf("Restarting (%d) %s ago", st.ExitCode, humanDuration(time.Since(finished)))
	case st.Running && st.Paused:
		return "Up " + humanDuration(time.Since(started)) + " (Paused)"
	case st.Running:
		return "Up " + humanDuration(time.Since(started))
	case st.Status == container.StateRemoving:
		return "Removal In Progress"
	case st.Dead:
		return "Dead"
	case started.IsZero():
		return "Created"
	case finished.IsZero():
		return ""
	}
	return fmt.Sprintf("Exited (%d) %s ago", st.ExitCode, humanDuration(time.Since(finished)))
}

// humanDuration is a rough, docker-like rendering of d ("5 minutes").
func humanDuration(d time.Duration) string {
	plural := func(n int, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	switch s := int(d.Seconds()); {
	case s < 1:
		return "Less than a second"
	case s < 60:
		return plural(s, "second")
	case d < time.Hour:
		return plural(int(d.Minutes()), "minute")
	case d < 48*time.Hour:
		return plural(int(d.Hours()), "hour")
	case d < 14*24*time.Hour:
		return plural(int(d.Hours()/24), "day")
	case d < 60*24*time.Hour:
		return plural(int(d.Hours()/24/7), "week")
	case d < 2*365*24*time.Hour:
		return plural(int(d.Hours()/24/30), "month")
	default:
		return plural(int(d.Hours()/24/365), "year")
	}
}

// Wait waits until the container is not running and returns its exit code.
//
// It may be called before [Client.StartContainer] (it then waits for the
// container to start and exit, like `docker run` does) or while the
// container runs; for a container that already exited it returns the
// recorded exit code at once. For an AutoRemove container, call Wait before
// the container can exit (typically between CreateContainer and
// StartContainer): once the engine has removed it Wait fails with
// [ErrNotFound]. For a container with a restart policy, Wait returns at
// the first exit. Cancelling ctx stops the wait.
func (c *Client) Wait(ctx context.Context, id string) (exitCode int, err error) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Register for the next exit first, then look at the state, so that an
	// exit between the two is not missed.
	res := c.api.ContainerWait(wctx, id, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
	select {
	case err := <-res.Error:
		return 0, c.wrap(err, "wait for container %s", shortID(id))
	default:
	}
	ins, err := c.api.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return 0, c.wrap(err, "wait for container %s", shortID(id))
	}
	if st := ins.Container.State; st != nil {
		switch st.Status {
		case container.StateExited, container.StateDead:
			return st.ExitCode, nil
		}
	}
	select {
	case r := <-res.Result:
		if r.Error != nil && r.Error.Message != "" {
			return int(r.StatusCode), fmt.Errorf("docker: wait for container %s: %s", shortID(id), firstLine(r.Error.Message))
		}
		return int(r.StatusCode), nil
	case err := <-res.Error:
		return 0, c.wrap(err, "wait for container %s", shortID(id))
	case <-ctx.Done():
		return 0, c.wrap(ctx.Err(), "wait for container %s", shortID(id))
	}
}

// LogsOptions selects what [Client.Logs] returns.
type LogsOptions struct {
	// Follow keeps streaming new output until the container stops (or ctx
	// ends).
	Follow bool
	// Timestamps prefixes each line with its RFC 3339 timestamp.
	Timestamps bool
	// Tail is "" (all output) or the number of lines to show from the end.
	Tail string
	// Since, if not zero, drops output older than this time.
	Since time.Time
	// Details starts each line (after its timestamp) with the engine's
	// attributes, "k=v,k=v " (ServiceLogs: com.docker.swarm.task.id).
	Details bool
}

// Logs writes the container's output to stdout/stderr (demultiplexed unless the container has a TTY).
//
// A container with a TTY has a single output stream, all written to
// stdout. With opts.Follow, Logs returns when the container stops; if ctx
// ends first it returns ctx's error (wrapped). stderr may be nil to drop
// standard error. A missing container gives an error matching [ErrNotFound].
func (c *Client) Logs(ctx context.Context, id string, opts LogsOptions, stdout, stderr io.Writer) error {
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	ins, err := c.api.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return c.wrap(err, "logs of container %s", shortID(id))
	}
	o := client.ContainerLogsOptions{
		ShowStdout: true,
		ShowStderr: true,
		Follow:     opts.Follow,
		Timestamps: opts.Timestamps,
		Tail:       opts.Tail,
	}
	if !opts.Since.IsZero() {
		o.Since = fmt.Sprintf("%d.%09d", opts.Since.Unix(), opts.Since.Nanosecond())
	}
	rc, err := c.api.ContainerLogs(ctx, ins.Container.ID, o)
	if err != nil {
		return c.wrap(err, "logs of container %s", shortID(id))
	}
	defer rc.Close()
	if ins.Container.Config != nil && ins.Container.Config.Tty {
		_, err = io.Copy(stdout, rc)
	} else {
		_, err = stdcopy.StdCopy(stdout, stderr, rc)
	}
	if ctx.Err() != nil {
		return c.wrap(ctx.Err(), "logs of container %s", shortID(id))
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return c.wrap(err, "logs of container %s", shortID(id))
	}
	return nil
}

// shortID shortens a 64-hex-digit ID to 12 digits for messages; names and
// short IDs are returned unchanged.
func shortID(id string) string {
	if len(id) == 64 {
		return id[:12]
	}
	return id
}
