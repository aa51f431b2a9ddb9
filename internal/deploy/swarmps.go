package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/naming"
)

// The ps operations of an app whose live release runs on Swarm: scale,
// start and restore (Reconcile) set the services' replicas, stop scales
// them to zero, destroy removes them.

// swarmServices returns the engine's Swarm side and the app's process
// services when the engine is a swarm manager (nil, nil otherwise).
func (d *Deployer) swarmServices(ctx context.Context, appName string) (Swarm, []docker.ServiceInfo, error) {
	sw, ok := d.swarmEngine(ctx)
	if !ok {
		return nil, nil, nil
	}
	manager, _, err := sw.SwarmManager(ctx)
	if err != nil || !manager {
		return nil, nil, err
	}
	svcs, err := sw.ListServices(ctx, d.names.KindLabels(appName, naming.KindProcess))
	return sw, svcs, err
}

// onSwarm reports whether the live release of an app runs on Swarm: a
// service of the live generation exists, or the app is set to Swarm and
// no container of that generation runs here.
func onSwarm(svcs []docker.ServiceInfo, cs []docker.ContainerInfo, set appSettings) bool {
	for _, s := range svcs {
		if s.Labels[naming.LabelGeneration] == set.generation {
			return true
		}
	}
	if set.scheduler != SchedulerSwarm {
		return false
	}
	for _, c := range cs {
		if c.Labels[naming.LabelGeneration] == set.generation {
			return false
		}
	}
	return true
}

// reconcileSwarm makes the live release's services match the formation:
// a missing type's service is created, the others scaled; with tidy,
// services of other generations go. Scaled up services are checked
// before the route is synced.
func (j *job) reconcileSwarm(ctx context.Context, sw Swarm, svcs []docker.ServiceInfo, set appSettings, formation map[string]int, tidy bool) error {
	live := map[string]docker.ServiceInfo{}
	for _, s := range svcs {
		if s.Labels[naming.LabelGeneration] == set.generation {
			live[s.Labels[naming.LabelProcess]] = s
		} else if tidy {
			j.d.removeService(ctx, sw, j.app.Name, s)
		}
	}
	j.generation = set.generation
	var changed []swarmService
	for typ, n := range formation {
		s, ok := live[typ]
		switch {
		case ok && s.Replicas != n:
			if typ == "web" && n < s.Replicas {
				// The tasks that go leave the proxy first (the route keeps
				// slots up to the formation's count) and drain.
				j.drainSlots(ctx, sw, s, n, set)
			}
			if err := sw.ScaleService(ctx, s.ID, n); err != nil {
				return err
			}
			j.info("Scaling %s to %d", typ, n)
			if n > s.Replicas {
				changed = append(changed, swarmService{id: s.ID, name: s.Name, typ: typ, replicas: n})
			}
		case !ok && n > 0:
			ref := ""
			for _, o := range live {
				ref = o.Image // every service of a release runs its one image
			}
			if ref == "" {
				var err error
				if ref, err = j.d.publish(ctx, j.app.Name, j.rel.Image); err != nil {
					return err
				}
			}
			spec, err := j.serviceSpec(ctx, sw, set, typ, n, ref, set.generation)
			if err != nil {
				return err
			}
			id, err := sw.CreateService(ctx, spec)
			if err != nil {
				return err
			}
			j.info("Deploying %s: starting %d as Swarm service %s", typ, n, spec.Name)
			changed = append(changed, swarmService{id: id, name: spec.Name, typ: typ, replicas: n})
		}
	}
	// The changed services are checked (at once, their output one line
	// at a time: checkAll); a restore (tidy) only waits for their tasks
	// to run, as on one host.
	var checks []func(context.Context) error
	for _, s := range changed {
		if tidy {
			checks = append(checks, func(ctx context.Context) error { _, err := j.waitTasks(ctx, sw, s); return err })
		} else {
			checks = append(checks, func(ctx context.Context) error { return j.checkService(ctx, sw, s, set) })
		}
	}
	if err := j.checkAll(ctx, checks); err != nil {
		return err
	}
	if j.d.router != nil {
		return j.d.router.Sync(ctx, j.app.Name)
	}
	return nil
}

// stopServices scales an app's services to zero (ps:stop).
func (d *Deployer) stopServices(ctx context.Context, appName string, out io.Writer) error {
	sw, svcs, err := d.swarmServices(ctx, appName)
	if err != nil || sw == nil {
		return err
	}
	for _, s := range svcs {
		if s.Replicas == 0 {
			continue
		}
		fmt.Fprintf(out, "-----> Stopping %s (%d replica(s))\n", s.Name, s.Replicas)
		if err := sw.ScaleService(ctx, s.ID, 0); err != nil {
			return err
		}
	}
	return nil
}

// removeServices removes every process service of an app (apps:destroy).
func (d *Deployer) removeServices(ctx context.Context, appName string) error {
	sw, svcs, err := d.swarmServices(ctx, appName)
	if err != nil || sw == nil {
		return err
	}
	for _, s := range svcs {
		if err := sw.RemoveService(ctx, s.ID); err != nil && !errors.Is(err, docker.ErrNotFound) {
			return err
		}
	}
	return nil
}

// Replica is where one replica of a Swarm app's process runs (ps:report).
type Replica struct {
	Type    string
	Slot    int
	Service string // the Swarm service's name
	TaskID  string
	Node    string // the node's hostname
	Addr    string // the node's address
	Port    int    // its web port on that node (0: none)
	State   string
}

// Replicas lists where the replicas of an app's live release run, when
// it runs on Swarm (nil otherwise).
func (d *Deployer) Replicas(ctx context.Context, appName string) ([]Replica, error) {
	sw, svcs, err := d.swarmServices(ctx, appName)
	if err != nil || sw == nil {
		return nil, err
	}
	s, err := d.state(ctx, appName)
	if err != nil {
		return nil, err
	}
	set, err := d.settings(ctx, s.app)
	if err != nil {
		return nil, err
	}
	var out []Replica
	for _, svc := range svcs {
		if svc.Labels[naming.LabelGeneration] != set.generation {
			continue
		}
		tasks, err := sw.ServiceTasks(ctx, svc.ID)
		if err != nil {
			return nil, err
		}
		for _, t := range tasks {
			if t.DesiredState != "running" {
				continue
			}
			out = append(out, Replica{Type: svc.Labels[naming.LabelProcess], Slot: t.Slot, Service: svc.Name, TaskID: t.ID, Node: t.NodeHostname, Addr: t.NodeAddr, Port: t.Port, State: t.State})
		}
	}
	return out, nil
}

// WebTask is a running web task of a Swarm app's release, as the proxy
// reaches it.
type WebTask struct {
	Dyno       string // web.SLOT
	Slot       int
	Generation string
	Addr       string // its node's address
	Port       int    // its web port there
}

// WebTasks lists the running web tasks of release of an app (none when
// the engine is not a swarm manager).
func (d *Deployer) WebTasks(ctx context.Context, appName string, release int) ([]WebTask, error) {
	sw, svcs, err := d.swarmServices(ctx, appName)
	if err != nil || sw == nil {
		return nil, err
	}
	var out []WebTask
	for _, s := range svcs {
		if s.Labels[naming.LabelProcess] != "web" || s.Labels[naming.LabelRelease] != strconv.Itoa(release) {
			continue
		}
		tasks, err := sw.ServiceTasks(ctx, s.ID)
		if err != nil {
			return nil, err
		}
		for _, t := range tasks {
			if t.Running() && t.Port != 0 && t.NodeAddr != "" {
				out = append(out, WebTask{Dyno: "web." + strconv.Itoa(t.Slot), Slot: t.Slot, Generation: s.Labels[naming.LabelGeneration], Addr: t.NodeAddr, Port: t.Port})
			}
		}
	}
	return out, nil
}

// SwarmWebAddrs lists, per app, the addresses of the running web tasks of
// its services (nil when the engine is not a swarm manager): the daemon
// compares them over time to follow tasks Swarm moved (a node lost).
func (d *Deployer) SwarmWebAddrs(ctx context.Context) (map[string][]string, error) {
	sw, ok := d.swarmEngine(ctx)
	if !ok {
		return nil, nil
	}
	if manager, _, err := sw.SwarmManager(ctx); err != nil || !manager {
		return nil, err
	}
	svcs, err := sw.ListServices(ctx, map[string]string{naming.LabelInstance: d.names.Instance(), naming.LabelKind: naming.KindProcess, naming.LabelProcess: "web"})
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, s := range svcs {
		tasks, err := sw.ServiceTasks(ctx, s.ID)
		if err != nil {
			return nil, err
		}
		a := s.Labels[naming.LabelApp]
		out[a] = append(out[a], s.ID) // a service that comes or goes counts too
		for _, t := range tasks {
			if t.Running() && t.Port != 0 && t.NodeAddr != "" {
				out[a] = append(out[a], t.NodeAddr+":"+strconv.Itoa(t.Port))
			}
		}
	}
	for a := range out {
		slices.Sort(out[a])
	}
	return out, nil
}

// drainSlots takes a web service's tasks above slot keep out of the
// proxy (the formation, already lowered, excludes them from the route)
// and waits for their requests in flight.
func (j *job) drainSlots(ctx context.Context, sw Swarm, s docker.ServiceInfo, keep int, set appSettings) {
	if j.d.router == nil {
		return
	}
	if err := j.d.router.Sync(ctx, j.app.Name); err != nil {
		j.d.log.Warn("route before scaling down", "app", j.app.Name, "err", err)
		return
	}
	tasks, err := sw.ServiceTasks(ctx, s.ID)
	if err != nil {
		return
	}
	var addrs []string
	for _, t := range tasks {
		if t.Slot > keep && t.Running() && t.Port != 0 {
			addrs = append(addrs, t.NodeAddr+":"+strconv.Itoa(t.Port))
		}
	}
	if len(addrs) > 0 {
		j.d.router.Drain(ctx, addrs, time.Duration(set.drainTimeout)*time.Second)
	}
}
