package deploy

import (
	"context"
	"io"
	"regexp"
	"strings"
	"sync"

	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/docker"
)

// Schedulers, Dokku's scheduler:set APP selected names (k3s is Dokku's
// cluster scheduler; Berth's is Docker Swarm).
const (
	SchedulerLocal = "docker-local"
	SchedulerSwarm = "swarm"
	// SchedulerNull is Dokku's scheduler that runs nothing: it may be
	// set (Dokku's scripts and tests set it), and a deploy then stops
	// with one line before anything is built.
	SchedulerNull = "null"
)

var constraintRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^node\.(id|hostname|role|platform\.os|platform\.arch|labels\.[A-Za-z0-9_.-]+)\s*(==|!=)\s*[^\s,]+$`)
})

func init() {
	app.Register(app.Setting{Namespace: "scheduler", Key: "selected", Scope: app.ScopeBoth, Default: SchedulerLocal, Validate: func(v string) error {
		switch v {
		case SchedulerLocal, SchedulerSwarm, SchedulerNull:
			return nil
		case "k3s", "nomad":
			return app.Invalidf("Berth has no %s scheduler: use docker-local (one server) or swarm (a Docker Swarm, see scheduler-swarm:cluster-init)", v)
		}
		return app.Invalidf("Invalid scheduler %q: use docker-local or swarm", v)
	}})
	// Dokku's shell of enter and run without a command.
	app.Register(app.Setting{Namespace: "scheduler", Key: "shell", Scope: app.ScopeBoth})
	// Placement of a Swarm app's tasks: Swarm constraints, comma
	// separated (node.labels.tier==web,node.role!=manager).
	app.Register(app.Setting{Namespace: "scheduler-swarm", Key: "constraint", Scope: app.ScopeBoth, Validate: func(v string) error {
		for _, c := range splitConstraints(v) {
			if !constraintRE().MatchString(c) {
				return app.Invalidf("Invalid constraint %q: use node.labels.KEY==VALUE (or !=), node.hostname, node.id or node.role, comma separated", c)
			}
		}
		return nil
	}})
}

func splitConstraints(v string) []string {
	var out []string
	for _, c := range strings.Split(v, ",") {
		if c = strings.TrimSpace(c); c != "" {
			out = append(out, c)
		}
	}
	return out
}

// scheduler runs a release's processes: the steps of a deploy that depend
// on where and how they run. Everything before (source, build, release,
// predeploy) and the release records are the same for every scheduler.
// localScheduler is Docker on this host (containers, the default);
// swarmScheduler is Docker Swarm (a service per process type, tasks on
// every node). The next scheduler (k3s) implements the same five steps.
type scheduler interface {
	// start starts the release's processes beside the old ones.
	start(ctx context.Context, j *job) error
	// check runs the new processes' startup checks.
	check(ctx context.Context, j *job) error
	// switchOver makes the release live and routes traffic to it.
	switchOver(ctx context.Context, j *job) error
	// drain waits for requests in flight to the old processes.
	drain(ctx context.Context, j *job) error
	// retire takes the old processes away.
	retire(ctx context.Context, j *job) error
	// undo removes what start made (a deploy failed before the switch).
	undo(ctx context.Context, j *job)
}

// schedulerFor is the scheduler an app's settings select.
func (d *Deployer) schedulerFor(set appSettings) scheduler {
	if set.scheduler == SchedulerSwarm {
		return swarmScheduler{}
	}
	return localScheduler{}
}

// localScheduler runs processes as containers on this host's engine.
type localScheduler struct{}

func (localScheduler) start(ctx context.Context, j *job) error      { return j.start(ctx) }
func (localScheduler) check(ctx context.Context, j *job) error      { return j.check(ctx) }
func (localScheduler) switchOver(ctx context.Context, j *job) error { return j.switchOver(ctx) }
func (localScheduler) drain(ctx context.Context, j *job) error      { return j.drain(ctx) }

func (localScheduler) retire(ctx context.Context, j *job) error {
	// An app that comes back from Swarm: its services go once the
	// release is live here.
	j.retireServices(ctx)
	return j.retire(ctx)
}

func (localScheduler) undo(ctx context.Context, j *job) {
	for _, s := range j.started {
		if rerr := j.eng.RemoveContainer(ctx, s.id, true); rerr != nil {
			j.d.log.Warn("remove container of failed deploy", "app", j.app.Name, "container", s.id, "err", rerr)
		}
	}
}

// Swarm is what the Swarm scheduler asks of a swarm manager's engine
// (*docker.Client): services of process types, their tasks, and the
// app's overlay network.
type Swarm interface {
	SwarmManager(ctx context.Context) (bool, string, error)
	CreateService(ctx context.Context, spec docker.ServiceSpec) (string, error)
	ScaleService(ctx context.Context, id string, replicas int) error
	RemoveService(ctx context.Context, id string) error
	ListServices(ctx context.Context, labels map[string]string) ([]docker.ServiceInfo, error)
	ServiceTasks(ctx context.Context, serviceID string) ([]docker.TaskInfo, error)
	ServiceLogs(ctx context.Context, serviceID string, opts docker.LogsOptions, stdout, stderr io.Writer) error
	EnsureOverlay(ctx context.Context, name string, labels map[string]string) error
}

var _ Swarm = (*docker.Client)(nil)

// Publisher puts a release image where every node of the swarm can pull
// it (the registry Berth runs for the cluster) and returns its exact
// reference, REGISTRY/REPO@sha256:....
type Publisher interface {
	Publish(ctx context.Context, image, repo string) (string, error)
}

// swarmOf is the engine's Swarm side when it is a swarm manager's, else
// an error saying what to do.
func (d *Deployer) swarmOf(ctx context.Context) (Swarm, error) {
	sw, ok := d.swarmEngine(ctx)
	if !ok {
		return nil, app.Invalidf("this engine cannot run Swarm services")
	}
	manager, _, err := sw.SwarmManager(ctx)
	if err != nil {
		return nil, err
	}
	if !manager {
		return nil, app.Invalidf("this server is not a Docker Swarm manager: run scheduler-swarm:cluster-init, or scheduler:set APP selected docker-local")
	}
	return sw, nil
}

// swarmEngine is the engine's Swarm side, if it has one (it may not be
// in a swarm: ask SwarmManager).
func (d *Deployer) swarmEngine(ctx context.Context) (Swarm, bool) {
	if d.swarm == nil {
		return nil, false
	}
	sw, err := d.swarm(ctx)
	return sw, err == nil && sw != nil
}
