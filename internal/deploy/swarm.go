package deploy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/health"
	"github.com/berthpaas/berth/internal/naming"
	"github.com/berthpaas/berth/internal/store"
)

// The Swarm scheduler (scheduler:set APP selected swarm) runs each process
// type of a release as one Swarm service, its tasks spread over the nodes.
// A deploy is the same pipeline as on one host: the new release's services
// start beside the old ones (start-first, at the level of the release),
// Berth checks every task, the proxy switches to the new tasks' addresses,
// the old services drain and go. Swarm's own rolling update is not used
// for deploys: it stops an old task as soon as its replacement is healthy,
// without knowing the proxy, so requests in flight to it would be lost
// (docs/cluster.md, "Deploys").

// swarmService is a service a deploy created.
type swarmService struct {
	id, name, typ string
	replicas      int
}

// swarmStartTimeout bounds how long the check step waits for a service's
// tasks to run (image pulls on the nodes included).
var swarmStartTimeout = 3 * time.Minute

// swarmStartFailures is how many of a service's tasks may fail to start
// before the deploy gives up on it.
const swarmStartFailures = 3

type swarmScheduler struct{}

func (swarmScheduler) start(ctx context.Context, j *job) error {
	sw, err := j.d.swarmOf(ctx)
	if err != nil {
		return err
	}
	set, err := j.d.settings(ctx, j.app)
	if err != nil {
		return err
	}
	ref, err := j.d.publish(ctx, j.app.Name, j.rel.Image)
	if err != nil {
		return err
	}
	j.info("Published %s to the cluster's registry as %s", j.rel.Image, ref)
	for _, typ := range j.plan.Order() {
		n := j.plan.Formation[typ]
		if n == 0 {
			continue
		}
		spec, err := j.serviceSpec(ctx, sw, set, typ, n, ref, j.generation)
		if err != nil {
			return err
		}
		if ig := docker.SwarmIgnored(spec.Options); len(ig) > 0 {
			j.info("Not applied to %s on Swarm (a Swarm task has no such option): %s", typ, strings.Join(ig, ", "))
		}
		id, err := sw.CreateService(ctx, spec)
		if err != nil {
			return err
		}
		j.services = append(j.services, swarmService{id: id, name: spec.Name, typ: typ, replicas: n})
		j.info("Starting %s: %d replica(s) as Swarm service %s", typ, n, spec.Name)
	}
	return nil
}

// publish puts a release image in the cluster's registry.
func (d *Deployer) publish(ctx context.Context, appName, image string) (string, error) {
	if d.publisher == nil {
		return "", app.Invalidf("this Berth has no cluster registry: run scheduler-swarm:cluster-init")
	}
	return d.publisher.Publish(ctx, image, d.names.ImageRepo(appName))
}

// serviceSpec is the Swarm service of process type typ of release rel:
// the container spec of the local scheduler (command, env, labels), with
// DYNO taken from the task's slot, on the app's overlay network (created
// if missing), its web port published on each task's node.
func (j *job) serviceSpec(ctx context.Context, sw Swarm, set appSettings, typ string, replicas int, ref, generation string) (docker.ServiceSpec, error) {
	d, a, rel := j.d, j.app, j.rel
	c, err := d.spec(a, rel, set, typ, 0, "", generation)
	if err != nil {
		return docker.ServiceSpec{}, err
	}
	env := make([]string, 0, len(c.Env))
	for _, kv := range c.Env {
		if strings.HasPrefix(kv, "DYNO=") {
			kv = "DYNO=" + typ + ".{{.Task.Slot}}"
		}
		env = append(env, kv)
	}
	labels := maps.Clone(c.Labels)
	delete(labels, naming.LabelIndex)
	net := d.names.SwarmNetwork(a.Name)
	if err := sw.EnsureOverlay(ctx, net, d.names.KindLabels(a.Name, naming.KindNetwork)); err != nil {
		return docker.ServiceSpec{}, err
	}
	if d.attachOverlay != nil {
		if err := d.attachOverlay(ctx, a.Name, net); err != nil {
			return docker.ServiceSpec{}, fmt.Errorf("attach the app's services to its overlay network: %w", err)
		}
	}
	spec := docker.ServiceSpec{
		Name: d.names.SwarmService(a.Name, typ, generation), Image: ref, Cmd: c.Cmd, Env: env, Labels: labels,
		TaskLabels: map[string]string{naming.LabelInstance: d.names.Instance(), naming.LabelKind: naming.KindSwarmTask, naming.LabelApp: a.Name},
		Replicas:   replicas, Networks: []string{net}, Constraints: set.constraints, Options: c,
		StopGrace: time.Duration(set.stopTimeout) * time.Second, RestartDelay: time.Second,
	}
	if typ == "web" {
		spec.PublishPort = rel.WebPort
	}
	// app.json's liveness command check is the task's health check:
	// Swarm replaces a task that keeps failing it. (Path checks need an
	// HTTP client in the image; Berth runs those itself before the
	// switch, and the proxy probes the liveness path check.)
	if hc := j.files.LivenessCommand(typ); hc != nil {
		h := hc.WithDefaults()
		spec.Health, spec.HealthRetries = h.Command, *h.Attempts
		spec.HealthInterval, spec.HealthTimeout = time.Duration(*h.Wait)*time.Second, time.Duration(*h.Timeout)*time.Second
	}
	return spec, nil
}

func (swarmScheduler) check(ctx context.Context, j *job) error {
	sw, err := j.d.swarmOf(ctx)
	if err != nil {
		return err
	}
	set, err := j.d.settings(ctx, j.app)
	if err != nil {
		return err
	}
	var checks []func(context.Context) error
	for _, s := range j.services {
		checks = append(checks, func(ctx context.Context) error { return j.checkService(ctx, sw, s, set) })
	}
	return j.checkAll(ctx, checks)
}

// checkService waits for every replica of a service to run, then runs
// each task's startup checks (as for a container on one host, reaching
// the task's web port on its node).
func (j *job) checkService(ctx context.Context, sw Swarm, s swarmService, set appSettings) error {
	running, err := j.waitTasks(ctx, sw, s)
	if err != nil {
		return err
	}
	if set.checksOff(s.typ) {
		return nil
	}
	checks, err := j.files.StartupChecks(s.typ, set.env)
	if err != nil {
		return err
	}
	window := time.Duration(set.uptime) * time.Second
	up := window
	if j.settles {
		up = min(window, settle)
	}
	errs := make(chan error, len(running))
	var wg sync.WaitGroup
	for _, t := range running {
		wg.Go(func() {
			c := taskContainer{sw: sw, task: t, name: fmt.Sprintf("%s.%d", s.typ, t.Slot)}
			j.info("Checking %s on %s (%s)", c.name, t.NodeHostname, t.NodeAddr)
			opts := health.RunOptions{DefaultUptime: up, WebPort: j.rel.WebPort}
			if j.d.checkHostFor != nil {
				opts.Host = j.d.checkHostFor(ctx, j.app.Name)
			}
			results, err := health.RunWith(ctx, c, checks, opts, j.out)
			if err == nil || errors.Is(err, context.Canceled) {
				return
			}
			failed := 0
			for _, r := range results {
				if !r.Passed && !r.Warned {
					failed++
				}
			}
			more := []string{}
			if failed > 0 {
				fmt.Fprintf(j.out, "       %s: Could not start due to %d failed checks\n", c.name, failed)
				more = append(more, fmt.Sprintf("Could not start due to %d failed checks", failed))
			}
			errs <- &StepError{Step: "check", Err: fmt.Errorf("%w (%s on %s)", err, c.name, t.NodeAddr), More: more}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// waitTasks waits until every replica of s runs and returns the running
// tasks; it gives up when swarmStartFailures tasks failed or after
// swarmStartTimeout, naming why the last one failed.
func (j *job) waitTasks(ctx context.Context, sw Swarm, s swarmService) ([]docker.TaskInfo, error) {
	deadline := time.Now().Add(swarmStartTimeout)
	for {
		tasks, err := sw.ServiceTasks(ctx, s.id)
		if err != nil {
			return nil, err
		}
		var running []docker.TaskInfo
		var failed []docker.TaskInfo
		for _, t := range tasks {
			switch {
			case t.Running():
				running = append(running, t)
			case t.State == "failed" || t.State == "rejected":
				failed = append(failed, t)
			}
		}
		why := func() string {
			if len(failed) == 0 {
				return ""
			}
			f := failed[0]
			msg := f.Err
			if msg == "" {
				msg = f.Message
			}
			if f.ExitCode != 0 {
				msg += fmt.Sprintf(" (exit code %d)", f.ExitCode)
			}
			return fmt.Sprintf(": %s.%d on %s: %s", s.typ, f.Slot, f.NodeAddr, msg)
		}
		if len(failed) >= swarmStartFailures {
			return nil, &StepError{Step: "check", Err: fmt.Errorf("%d task(s) of %s failed to start%s", len(failed), s.name, why())}
		}
		if len(running) >= s.replicas {
			return running[:s.replicas], nil
		}
		if time.Now().After(deadline) {
			return nil, &StepError{Step: "check", Err: fmt.Errorf("%d of %d replica(s) of %s run after %s%s", len(running), s.replicas, s.name, swarmStartTimeout, why())}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// taskContainer is a Swarm task as health checks see it.
type taskContainer struct {
	sw   Swarm
	task docker.TaskInfo
	name string
}

func (c taskContainer) Name() string  { return c.name }
func (c taskContainer) HostPort() int { return c.task.Port }
func (c taskContainer) Addr() string {
	if c.task.Port == 0 || c.task.NodeAddr == "" {
		return ""
	}
	return c.task.NodeAddr + ":" + strconv.Itoa(c.task.Port)
}

// State is the task's: a task Swarm restarted is a new task, so this one
// then no longer runs.
func (c taskContainer) State(ctx context.Context) (bool, int, time.Time, error) {
	tasks, err := c.sw.ServiceTasks(ctx, c.task.ServiceID)
	if err != nil {
		return false, 0, time.Time{}, err
	}
	for _, t := range tasks {
		if t.ID == c.task.ID {
			return t.Running(), 0, c.task.UpdatedAt, nil
		}
	}
	return false, 0, time.Time{}, nil
}

func (c taskContainer) Exec(ctx context.Context, cmd []string) (int, string, error) {
	return 0, "", errors.New("command checks cannot run in a Swarm task yet (use a path check)")
}

var _ health.Addresser = taskContainer{}

func (swarmScheduler) switchOver(ctx context.Context, j *job) error {
	var undo switchUndo
	err := j.d.store.Tx(ctx, func(tx *store.Tx) error {
		var err error
		if undo, err = j.undoOf(tx); err != nil {
			return err
		}
		return j.makeLive(tx)
	})
	if err != nil {
		return err
	}
	j.undo = undo
	if j.d.router != nil {
		if err := j.d.router.Sync(ctx, j.app.Name); err != nil {
			if uerr := j.unswitch(context.WithoutCancel(ctx), undo); uerr != nil {
				j.d.log.Error("undo a switch the proxy refused", "app", j.app.Name, "err", uerr)
			}
			return err
		}
	}
	j.switched = true
	j.d.forgetFailedOutput(j.app.Name)
	j.info("Switched %s to release %d", j.app.Name, j.rel.Number)
	// Swarm restarts a task that dies and the proxy follows the tasks:
	// there is no watch to switch back from.
	j.watch = 0
	// Containers left on this host (the app ran on docker-local before)
	// retire as after a switch there: web ones drained, after
	// wait-to-retire; the others at once.
	ctx = context.WithoutCancel(ctx)
	cs, err := j.eng.ListContainers(ctx, j.d.names.KindLabels(j.app.Name, naming.KindProcess), true)
	if err != nil {
		j.d.log.Warn("list the containers the switch to Swarm retires", "app", j.app.Name, "err", err)
		return nil
	}
	var now []oldContainer
	for _, c := range cs {
		if c.Labels[naming.LabelProcess] == "web" && c.State == "running" {
			j.retiring = append(j.retiring, oldContainer{id: c.ID, name: c.Name, addr: targetAddr(c)})
		} else {
			now = append(now, oldContainer{id: c.ID, name: c.Name})
		}
	}
	if len(now) > 0 {
		set, err := j.d.settings(ctx, j.app)
		if err != nil {
			return err
		}
		j.d.retiring.Add(1)
		go func() {
			defer j.d.backgroundDone()
			j.d.stopAndRemove(j.eng, j.app.Name, now, time.Duration(set.stopTimeout)*time.Second)
		}()
	}
	return nil
}

func (swarmScheduler) drain(ctx context.Context, j *job) error {
	if j.d.router == nil {
		return nil
	}
	var addrs []string
	for _, o := range j.retiring {
		addrs = append(addrs, o.addr)
	}
	if sw, ok := j.d.swarmEngine(ctx); ok {
		for _, s := range j.oldServices(ctx, sw) {
			if s.Labels[naming.LabelProcess] != "web" {
				continue
			}
			tasks, err := sw.ServiceTasks(ctx, s.ID)
			if err != nil {
				continue
			}
			for _, t := range tasks {
				if t.Running() && t.Port != 0 {
					addrs = append(addrs, t.NodeAddr+":"+strconv.Itoa(t.Port))
				}
			}
		}
	}
	if len(addrs) == 0 {
		return nil
	}
	set, err := j.d.settings(ctx, j.app)
	if err != nil {
		return err
	}
	if left, err := j.d.router.Drain(ctx, addrs, time.Duration(set.drainTimeout)*time.Second); err != nil {
		j.d.log.Warn("drain old targets", "app", j.app.Name, "err", err)
	} else if left > 0 {
		j.d.log.Warn("drain timed out", "app", j.app.Name, "in_flight", left)
	}
	return nil
}

func (swarmScheduler) retire(ctx context.Context, j *job) error {
	j.retireServices(ctx)
	if err := j.retire(ctx); err != nil {
		return err
	}
	if sw, ok := j.d.swarmEngine(ctx); ok {
		for _, s := range j.services {
			tasks, err := sw.ServiceTasks(ctx, s.id)
			if err != nil {
				continue
			}
			for _, t := range tasks {
				if t.Running() {
					where := t.NodeAddr
					if t.Port != 0 {
						where = fmt.Sprintf("http://%s:%d", t.NodeAddr, t.Port)
					}
					j.detail("%s.%d: %s", s.typ, t.Slot, where)
				}
			}
		}
	}
	return nil
}

func (swarmScheduler) undo(ctx context.Context, j *job) {
	sw, ok := j.d.swarmEngine(ctx)
	if !ok {
		return
	}
	for _, s := range j.services {
		if err := sw.RemoveService(ctx, s.id); err != nil && !errors.Is(err, docker.ErrNotFound) {
			j.d.log.Warn("remove service of failed deploy", "app", j.app.Name, "service", s.name, "err", err)
		}
	}
}

// oldServices are the app's services of other generations than the job's.
func (j *job) oldServices(ctx context.Context, sw Swarm) []docker.ServiceInfo {
	manager, _, err := sw.SwarmManager(ctx)
	if err != nil || !manager {
		return nil
	}
	svcs, err := sw.ListServices(ctx, j.d.names.KindLabels(j.app.Name, naming.KindProcess))
	if err != nil {
		j.d.log.Warn("list the app's services", "app", j.app.Name, "err", err)
		return nil
	}
	var old []docker.ServiceInfo
	for _, s := range svcs {
		if s.Labels[naming.LabelGeneration] != j.generation {
			old = append(old, s)
		}
	}
	return old
}

// retireServices removes the app's services of earlier deploys in the
// background: web ones after wait-to-retire (the proxy stopped sending
// them requests at the switch), the others at once.
func (j *job) retireServices(ctx context.Context) {
	sw, ok := j.d.swarmEngine(ctx)
	if !ok {
		return
	}
	old := j.oldServices(ctx, sw)
	if len(old) == 0 {
		return
	}
	set, err := j.d.settings(ctx, j.app)
	if err != nil {
		j.d.log.Warn("read settings to retire services", "app", j.app.Name, "err", err)
		return
	}
	j.d.retiring.Add(1)
	go func(appName string) {
		defer j.d.backgroundDone()
		ctx := context.Background()
		var web []docker.ServiceInfo
		for _, s := range old {
			if s.Labels[naming.LabelProcess] == "web" {
				web = append(web, s)
				continue
			}
			j.d.removeService(ctx, sw, appName, s)
		}
		if len(web) > 0 {
			time.Sleep(time.Duration(set.waitToRetire) * time.Second)
			for _, s := range web {
				j.d.removeService(ctx, sw, appName, s)
			}
		}
	}(j.app.Name)
}

func (d *Deployer) removeService(ctx context.Context, sw Swarm, appName string, s docker.ServiceInfo) {
	if err := sw.RemoveService(ctx, s.ID); err != nil && !errors.Is(err, docker.ErrNotFound) {
		d.log.Warn("remove an old service", "app", appName, "service", s.Name, "err", err)
	}
}
