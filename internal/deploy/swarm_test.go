package deploy

import (
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/naming"
	"github.com/berthpaas/berth/internal/store"
)

// fakeSwarm is a swarm manager's engine in memory: services whose tasks
// run at once on three nodes in turn, each web task published on a real
// listener on 127.0.0.1 (the startup checks connect to it), or fail to
// start when their image contains a key of fail.
type fakeSwarm struct {
	mu       sync.Mutex
	t        *testing.T
	services map[string]*docker.ServiceSpec
	replicas map[string]int
	seq      int
	calls    []string
	fail     map[string]string // image substring -> the tasks' error
	ports    []int             // listeners' ports, used in turn
	overlays []string
	// worker makes the engine a swarm worker (or in no swarm).
	worker bool
}

func newFakeSwarm(t *testing.T) *fakeSwarm {
	f := &fakeSwarm{t: t, services: map[string]*docker.ServiceSpec{}, replicas: map[string]int{}, fail: map[string]string{}}
	for range 6 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				go func() { // held open, as a server that listens does
					buf := make([]byte, 1)
					c.Read(buf)
					c.Close()
				}()
			}
		}()
		f.ports = append(f.ports, l.Addr().(*net.TCPAddr).Port)
	}
	return f
}

func (f *fakeSwarm) SwarmManager(context.Context) (bool, string, error) {
	return !f.worker, "10.0.0.1", nil
}

func (f *fakeSwarm) CreateService(_ context.Context, spec docker.ServiceSpec) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	id := fmt.Sprintf("svc%d", f.seq)
	f.services[id] = &spec
	f.replicas[id] = spec.Replicas
	f.calls = append(f.calls, "create "+spec.Name)
	return id, nil
}

func (f *fakeSwarm) ScaleService(_ context.Context, id string, n int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.services[id]; !ok {
		return docker.ErrNotFound
	}
	f.replicas[id] = n
	f.calls = append(f.calls, fmt.Sprintf("scale %s %d", f.services[id].Name, n))
	return nil
}

func (f *fakeSwarm) RemoveService(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.services[id]
	if !ok {
		return docker.ErrNotFound
	}
	f.calls = append(f.calls, "remove "+s.Name)
	delete(f.services, id)
	return nil
}

func (f *fakeSwarm) ListServices(_ context.Context, labels map[string]string) ([]docker.ServiceInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []docker.ServiceInfo
outer:
	for id, s := range f.services {
		for k, v := range labels {
			if s.Labels[k] != v {
				continue outer
			}
		}
		out = append(out, docker.ServiceInfo{ID: id, Name: s.Name, Labels: s.Labels, Replicas: f.replicas[id], Image: s.Image})
	}
	slices.SortFunc(out, func(a, b docker.ServiceInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (f *fakeSwarm) ServiceTasks(_ context.Context, id string) ([]docker.TaskInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.services[id]
	if !ok {
		return nil, docker.ErrNotFound
	}
	var out []docker.TaskInfo
	for slot := 1; slot <= f.replicas[id]; slot++ {
		t := docker.TaskInfo{ID: fmt.Sprintf("%s.%d", id, slot), ServiceID: id, Slot: slot, NodeAddr: "127.0.0.1", NodeHostname: fmt.Sprintf("node%d", slot%3+1), State: "running", DesiredState: "running"}
		failed := false
		for key, msg := range f.fail {
			if strings.Contains(s.Image, key) {
				// Swarm starts a new task after each failure.
				for k := range swarmStartFailures {
					out = append(out, docker.TaskInfo{ID: fmt.Sprintf("%s.%d.%d", id, slot, k), ServiceID: id, Slot: slot, NodeAddr: "127.0.0.1", State: "failed", DesiredState: "shutdown", Err: msg})
				}
				failed = true
			}
		}
		if failed {
			continue
		}
		if s.PublishPort != 0 {
			t.Port = f.ports[(slot-1)%len(f.ports)]
		}
		out = append(out, t)
	}
	return out, nil
}

func (f *fakeSwarm) ServiceLogs(context.Context, string, docker.LogsOptions, io.Writer, io.Writer) error {
	return nil
}

func (f *fakeSwarm) EnsureOverlay(_ context.Context, name string, _ map[string]string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !slices.Contains(f.overlays, name) {
		f.overlays = append(f.overlays, name)
	}
	return nil
}

func (f *fakeSwarm) live() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]int{}
	for id, s := range f.services {
		out[s.Labels[naming.LabelProcess]] += f.replicas[id]
	}
	return out
}

var _ Swarm = (*fakeSwarm)(nil)

// fakePublisher names each release image as a registry reference.
type fakePublisher struct{ published []string }

func (p *fakePublisher) Publish(_ context.Context, image, repo string) (string, error) {
	p.published = append(p.published, image)
	return "10.0.0.1:5000/" + repo + "@sha256:" + strings.ReplaceAll(image, "/", "-"), nil
}

// swarmHarness is the harness with the shop app on the Swarm scheduler.
func swarmHarness(t *testing.T) (*harness, *fakeSwarm, *fakePublisher) {
	h := newHarness(t)
	sw, pub := newFakeSwarm(t), &fakePublisher{}
	h.d.swarm = func(context.Context) (Swarm, error) { return sw, nil }
	h.d.publisher = pub
	setScheduler(h, SchedulerSwarm)
	return h, sw, pub
}

func TestSwarmDeployRunsAServicePerType(t *testing.T) {
	h, sw, pub := swarmHarness(t)
	rel := h.mustDeploy("Procfile", procfile, "DOKKU_SCALE", "web=3\nworker=1\n")
	if rels := h.releases(); len(rels) != 1 || rels[0].Status != store.ReleaseLive {
		t.Fatalf("releases %+v, want release 1 live\n%s", rels, h.out)
	}
	if len(pub.published) != 1 || pub.published[0] != rel.Image {
		t.Errorf("published %v, want the release image %s once", pub.published, rel.Image)
	}
	if got := sw.live(); got["web"] != 3 || got["worker"] != 1 {
		t.Errorf("services' replicas %v, want web=3 worker=1", got)
	}
	svcs, _ := sw.ListServices(context.Background(), map[string]string{naming.LabelApp: "shop"})
	for _, s := range svcs {
		spec := sw.services[s.ID]
		typ := s.Labels[naming.LabelProcess]
		if !strings.HasPrefix(spec.Image, "10.0.0.1:5000/berth/shop@sha256:") {
			t.Errorf("%s runs %s, want the registry's digest reference", s.Name, spec.Image)
		}
		if !slices.Contains(spec.Env, "DYNO="+typ+".{{.Task.Slot}}") {
			t.Errorf("%s env %v lacks DYNO from the task's slot", s.Name, spec.Env)
		}
		if spec.TaskLabels[naming.LabelKind] != naming.KindSwarmTask || spec.TaskLabels[naming.LabelProcess] != "" {
			t.Errorf("%s's task containers are labelled %v: they must not pass for process containers", s.Name, spec.TaskLabels)
		}
		if (typ == "web") != (spec.PublishPort == 5000) {
			t.Errorf("%s publishes port %d", s.Name, spec.PublishPort)
		}
		if want := []string{"berth-swarm-shop"}; !slices.Equal(spec.Networks, want) {
			t.Errorf("%s networks %v, want %v", s.Name, spec.Networks, want)
		}
	}
	if n := processContainers(t, h); n != 0 {
		t.Errorf("%d containers were created on the local engine, want none", n)
	}
	if !strings.Contains(h.out.String(), "as Swarm service") || len(h.router.synced) == 0 {
		t.Errorf("no switch through the proxy:\n%s", h.out)
	}
	// The proxy's targets are the running web tasks of the live release.
	tasks, err := h.d.WebTasks(context.Background(), "shop", rel.Number)
	if err != nil || len(tasks) != 3 {
		t.Fatalf("WebTasks: %v %v, want 3", tasks, err)
	}
}

func TestSwarmDeployFailingTasksKeepTheOldRelease(t *testing.T) {
	h, sw, _ := swarmHarness(t)
	v1 := h.mustDeploy(twoTypes...)
	before := sw.live()
	sw.fail["shop:2"] = "starting container failed: exec: not found"
	_, err := h.deploy(twoTypes...)
	se := stepError(t, err, "check")
	if !strings.Contains(se.Error(), "exec: not found") {
		t.Errorf("the error does not say why the tasks failed: %v", se)
	}
	if got := sw.live(); !sameFormation(got, before) {
		t.Errorf("after the failed deploy the services run %v, want v1's %v", got, before)
	}
	a := h.app()
	h.tx(func(tx *store.Tx) error {
		live, err := tx.LiveRelease(a)
		if err != nil || live.Number != v1.Number {
			t.Errorf("live release %d (%v), want %d", live.Number, err, v1.Number)
		}
		return nil
	})
}

func sameFormation(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestSwarmRedeployRetiresTheOldServices(t *testing.T) {
	h, sw, _ := swarmHarness(t)
	h.mustDeploy(twoTypes...)
	h.mustDeploy(twoTypes...)
	h.d.WaitRetired()
	svcs, _ := sw.ListServices(context.Background(), map[string]string{naming.LabelApp: "shop"})
	if len(svcs) != 2 {
		t.Fatalf("%d services after two deploys, want the second's 2: %v", len(svcs), sw.calls)
	}
	for _, s := range svcs {
		if s.Labels[naming.LabelRelease] != "2" {
			t.Errorf("service %s of release %s is left", s.Name, s.Labels[naming.LabelRelease])
		}
	}
}

func TestSwarmScaleAndStop(t *testing.T) {
	h, sw, _ := swarmHarness(t)
	h.mustDeploy(twoTypes...)
	if _, err := h.d.Scale(context.Background(), "shop", map[string]int{"web": 3, "worker": 0}, false, h.out, "test"); err != nil {
		t.Fatalf("scale: %v\n%s", err, h.out)
	}
	if got := sw.live(); got["web"] != 3 || got["worker"] != 0 {
		t.Errorf("after ps:scale web=3 worker=0: %v", got)
	}
	if err := h.d.Stop(context.Background(), "shop", h.out); err != nil {
		t.Fatal(err)
	}
	if got := sw.live(); got["web"] != 0 {
		t.Errorf("after ps:stop: %v", got)
	}
	if err := h.d.Start(context.Background(), "shop", h.out); err != nil {
		t.Fatalf("start: %v\n%s", err, h.out)
	}
	if got := sw.live(); got["web"] != 3 {
		t.Errorf("after ps:start: %v, want web=3 again", got)
	}
	if err := h.d.Destroy(context.Background(), "shop"); err != nil {
		t.Fatal(err)
	}
	if svcs, _ := sw.ListServices(context.Background(), nil); len(svcs) != 0 {
		t.Errorf("after destroy %d services are left", len(svcs))
	}
}

func TestSwarmBackToDockerLocal(t *testing.T) {
	h, sw, _ := swarmHarness(t)
	h.mustDeploy(twoTypes...)
	setScheduler(h, SchedulerLocal)
	h.mustDeploy(twoTypes...)
	h.d.WaitRetired()
	if svcs, _ := sw.ListServices(context.Background(), nil); len(svcs) != 0 {
		t.Errorf("back on docker-local %d services are left: %v", len(svcs), sw.calls)
	}
	if n := processContainers(t, h); n != 2 {
		t.Errorf("back on docker-local %d containers run, want 2", n)
	}
}

func TestSwarmNeedsAManager(t *testing.T) {
	h, sw, _ := swarmHarness(t)
	sw.worker = true
	_, err := h.deploy(twoTypes...)
	if err == nil || !strings.Contains(err.Error(), "scheduler-swarm:cluster-init") {
		t.Fatalf("a Swarm deploy on an engine that manages no swarm: %v, want the way to make one", err)
	}
	if svcs, _ := sw.ListServices(context.Background(), nil); len(svcs) != 0 {
		t.Errorf("%d services were created", len(svcs))
	}
}

func TestOnSwarm(t *testing.T) {
	svc := func(gen string) docker.ServiceInfo {
		return docker.ServiceInfo{Labels: map[string]string{naming.LabelGeneration: gen}}
	}
	ctr := func(gen string) docker.ContainerInfo {
		return docker.ContainerInfo{Labels: map[string]string{naming.LabelGeneration: gen}}
	}
	for _, c := range []struct {
		name string
		svcs []docker.ServiceInfo
		cs   []docker.ContainerInfo
		set  appSettings
		want bool
	}{
		{"live services", []docker.ServiceInfo{svc("g1")}, nil, appSettings{generation: "g1"}, true},
		{"old services only", []docker.ServiceInfo{svc("g0")}, []docker.ContainerInfo{ctr("g1")}, appSettings{generation: "g1", scheduler: SchedulerSwarm}, false},
		{"set to swarm, nothing here", nil, nil, appSettings{generation: "g1", scheduler: SchedulerSwarm}, true},
		{"set to swarm, not redeployed", nil, []docker.ContainerInfo{ctr("g1")}, appSettings{generation: "g1", scheduler: SchedulerSwarm}, false},
		{"docker-local", nil, nil, appSettings{generation: "g1", scheduler: SchedulerLocal}, false},
	} {
		if got := onSwarm(c.svcs, c.cs, c.set); got != c.want {
			t.Errorf("%s: onSwarm = %v, want %v", c.name, got, c.want)
		}
	}
}

// processContainers counts the running process containers on the local
// engine.
func processContainers(t *testing.T, h *harness) int {
	t.Helper()
	cs, err := h.eng.ListContainers(context.Background(), map[string]string{naming.LabelKind: naming.KindProcess}, false)
	if err != nil {
		t.Fatal(err)
	}
	return len(cs)
}

// setScheduler sets the shop app's scheduler:set selected.
func setScheduler(h *harness, name string) {
	a := h.app()
	h.tx(func(tx *store.Tx) error { return tx.SetProperty(a.Scope(), "scheduler", "selected", name) })
}

func TestNullSchedulerDeploysNothing(t *testing.T) {
	h := newHarness(t)
	setScheduler(h, SchedulerNull)
	_, err := h.deploy(twoTypes...)
	if err == nil || !strings.Contains(err.Error(), "scheduler is null") {
		t.Fatalf("a deploy with the null scheduler: %v, want one line saying so", err)
	}
	if rels := h.releases(); len(rels) != 0 {
		t.Errorf("the refused deploy left %d release(s)", len(rels))
	}
}

func TestSwarmLivenessCommandIsTheTasksHealthCheck(t *testing.T) {
	h, sw, _ := swarmHarness(t)
	h.mustDeploy(append(slices.Clone(twoTypes), "app.json",
		`{"healthchecks": {"worker": [{"type": "liveness", "name": "alive", "command": ["/bin/alive", "--quick"], "attempts": 2, "wait": 3, "timeout": 4}]}}`)...)
	svcs, _ := sw.ListServices(context.Background(), map[string]string{naming.LabelApp: "shop"})
	for _, s := range svcs {
		spec := sw.services[s.ID]
		switch s.Labels[naming.LabelProcess] {
		case "worker":
			if !slices.Equal(spec.Health, []string{"/bin/alive", "--quick"}) || spec.HealthRetries != 2 || spec.HealthInterval.Seconds() != 3 || spec.HealthTimeout.Seconds() != 4 {
				t.Errorf("worker's health check %v every %s (timeout %s, %d retries)", spec.Health, spec.HealthInterval, spec.HealthTimeout, spec.HealthRetries)
			}
		case "web":
			if spec.Health != nil {
				t.Errorf("web has a health check %v without one in app.json", spec.Health)
			}
		}
	}
}

func TestSwarmRollbackRunsTheOldImage(t *testing.T) {
	h, sw, pub := swarmHarness(t)
	v1 := h.mustDeploy(twoTypes...)
	h.mustDeploy(twoTypes...)
	rb, err := h.d.Rollback(context.Background(), "shop", 0, h.out, "test")
	if err != nil {
		t.Fatalf("rollback: %v\n%s", err, h.out)
	}
	h.d.WaitRetired()
	// The rollback is release 3, its image a tag of release 1's.
	ctx := context.Background()
	img1, err1 := h.eng.InspectImage(ctx, v1.Image)
	img3, err3 := h.eng.InspectImage(ctx, rb.Image)
	if err1 != nil || err3 != nil || img1.ID != img3.ID {
		t.Fatalf("release %d's image %s (%v) is not release 1's %s (%v)", rb.Number, img3.ID, err3, img1.ID, err1)
	}
	if last := pub.published[len(pub.published)-1]; last != rb.Image {
		t.Errorf("the rollback published %s, want its image %s", last, rb.Image)
	}
	svcs, _ := sw.ListServices(ctx, map[string]string{naming.LabelApp: "shop"})
	if len(svcs) != 2 {
		t.Fatalf("%d services after the rollback, want its 2", len(svcs))
	}
	for _, s := range svcs {
		if s.Labels[naming.LabelRelease] != strconv.Itoa(rb.Number) {
			t.Errorf("service %s of release %s is left after the rollback", s.Name, s.Labels[naming.LabelRelease])
		}
	}
}
