package services

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/store"
)

// TestCreate: the image comes from the settings, is pulled when missing,
// and the container runs on the services network with the data bound.
func TestCreate(t *testing.T) {
	tm := newTestManager(t)
	svc := tm.create(t, "redis", "cache", "")
	if svc.Image != "redis:7" || len(svc.Password) != 64 {
		t.Errorf("service = %+v", svc)
	}
	if got := tm.eng.callsOf("pull"); len(got) != 1 || got[0] != "pull redis:7" {
		t.Errorf("pulls = %v", got)
	}
	d, err := tm.eng.InspectContainer(context.Background(), "berth.redis.cache")
	if err != nil || !d.Running {
		t.Fatalf("container = %+v, %v", d, err)
	}
	spec := tm.eng.specs[d.ID]
	if spec.Network != "berth.svc.redis.cache" || spec.NetworkAliases[0] != "dokku-redis-cache" || spec.RestartPolicy != "unless-stopped" ||
		spec.Binds[0] != tm.serviceDataDir(svc)+":/data" || spec.Labels["berth.instance"] != "test" {
		t.Errorf("spec = %+v", spec)
	}
	conf, err := os.ReadFile(filepath.Join(tm.serviceConfigDir(svc), "redis.conf"))
	if err != nil || !strings.Contains(string(conf), "requirepass "+svc.Password+"\n") {
		t.Errorf("redis.conf = %q, %v", conf, err)
	}
	if st, _ := os.Stat(tm.serviceRoot("redis", "cache")); st.Mode().Perm() != 0o700 {
		t.Errorf("service root mode = %v", st.Mode())
	}
	info, err := tm.serviceInfo(context.Background(), api.ServiceRef{Kind: "redis", Name: "cache"}, api.Output{})
	if err != nil || info.Status != "running" || info.InternalIP != "10.0.0.2" || info.ExposedPorts != "-" || info.ConfigDir == "" {
		t.Errorf("info = %+v, %v", info, err)
	}
	// A second create of the name changes nothing.
	_, err = tm.serviceCreate(context.Background(), api.ServiceCreate{ServiceRef: api.ServiceRef{Kind: "redis", Name: "cache"}}, tm.out)
	if err == nil || err.Error() != "Redis service cache already exists" {
		t.Errorf("second create: %v", err)
	}
}

// TestCreateRefusals: bad input, a missing image, a service that does not
// start: nothing is left behind.
func TestCreateRefusals(t *testing.T) {
	tm := newTestManager(t)
	for _, c := range []struct {
		req  api.ServiceCreate
		want string
	}{
		{api.ServiceCreate{ServiceRef: api.ServiceRef{Kind: "mysql", Name: "db"}}, `Unknown service kind "mysql"`},
		{api.ServiceCreate{ServiceRef: api.ServiceRef{Kind: "postgres", Name: "a.b"}}, `Invalid postgres service name "a.b"`},
		{api.ServiceCreate{ServiceRef: api.ServiceRef{Kind: "postgres", Name: "db"}, CustomEnv: "NOPE"}, `Invalid --custom-env entry "NOPE"`},
		{api.ServiceCreate{ServiceRef: api.ServiceRef{Kind: "postgres", Name: "db"}, Memory: "lots"}, `--memory: invalid size "lots"`},
		{api.ServiceCreate{ServiceRef: api.ServiceRef{Kind: "postgres", Name: "db"}, ShmSize: "-1"}, `--shm-size: invalid size "-1"`},
		{api.ServiceCreate{ServiceRef: api.ServiceRef{Kind: "postgres", Name: "db"}, Password: "a@b"}, "--password must not contain"},
		{api.ServiceCreate{ServiceRef: api.ServiceRef{Kind: "postgres", Name: "db"}, Image: "missing/pg"}, "Image missing/pg:17 is not on this engine and could not be pulled"},
	} {
		_, err := tm.serviceCreate(context.Background(), c.req, tm.out)
		var ae *api.Error
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.As(err, &ae) || ae.Code != api.CodeInvalid {
			t.Errorf("create %+v: %v, want %q", c.req, err, c.want)
		}
	}
	tm.eng.neverReady["postgres:17"] = true
	tm.eng.failStart["postgres:16"] = errors.New("fake: no such file")
	_, err := tm.serviceCreate(context.Background(), api.ServiceCreate{ServiceRef: api.ServiceRef{Kind: "postgres", Name: "db"}, ImageVersion: "16"}, tm.out)
	if err == nil || !strings.Contains(err.Error(), "fake: no such file") {
		t.Errorf("create that does not start: %v", err)
	}
	if _, err := os.Stat(tm.serviceRoot("postgres", "db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("service root after a failed create: %v", err)
	}
	if _, err := tm.eng.InspectContainer(context.Background(), "berth.postgres.db"); err == nil {
		t.Error("container left after a failed create")
	}
	list, err := tm.serviceList(context.Background(), api.ServiceRef{Kind: "postgres"}, api.Output{})
	if err != nil || len(list.Services) != 0 {
		t.Errorf("list = %+v, %v", list, err)
	}
}

// TestStartStopPause: the state commands, and start recreating a missing
// container.
func TestStartStopPause(t *testing.T) {
	tm := newTestManager(t)
	svc := tm.create(t, "postgres", "db", "postgres:17")
	ref := api.ServiceRef{Kind: "postgres", Name: "db"}
	ctx := context.Background()
	state := func() string {
		d, err := tm.eng.InspectContainer(ctx, tm.serviceContainer(svc))
		if err != nil {
			return "missing"
		}
		return d.State
	}
	steps := []struct {
		name string
		run  func() error
		want string
	}{
		{"pause", func() error { _, err := tm.servicePause(ctx, ref, tm.out); return err }, "paused"},
		{"pause again", func() error { _, err := tm.servicePause(ctx, ref, tm.out); return err }, "paused"},
		{"start (unpause)", func() error { _, err := tm.serviceStart(ctx, ref, tm.out); return err }, "running"},
		{"stop", func() error { _, err := tm.serviceStop(ctx, ref, tm.out); return err }, "exited"},
		{"start", func() error { _, err := tm.serviceStart(ctx, ref, tm.out); return err }, "running"},
		{"start again", func() error { _, err := tm.serviceStart(ctx, ref, tm.out); return err }, "running"},
		{"restart", func() error { _, err := tm.serviceRestart(ctx, ref, tm.out); return err }, "running"},
		{"remove by hand", func() error { return tm.eng.RemoveContainer(ctx, tm.serviceContainer(svc), true) }, "missing"},
		{"stop without a container", func() error { _, err := tm.serviceStop(ctx, ref, tm.out); return err }, "missing"},
		{"start recreates", func() error { _, err := tm.serviceStart(ctx, ref, tm.out); return err }, "running"},
	}
	for _, s := range steps {
		if err := s.run(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := state(); got != s.want {
			t.Fatalf("after %s: %s, want %s", s.name, got, s.want)
		}
	}
	for _, want := range []string{"Container paused", "Container is not running", "Unpausing container", "Container stopped", "Container already running", "No container exists"} {
		if !strings.Contains(tm.output.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	// Gone containers come back at daemon start; stopped ones stay stopped.
	tm.eng.RemoveContainer(ctx, tm.serviceContainer(svc), true)
	tm.RestoreContainers(ctx)
	if got := state(); got != "running" {
		t.Errorf("after RestoreContainers: %s", got)
	}
	tm.serviceStop(ctx, ref, tm.out)
	tm.RestoreContainers(ctx)
	if got := state(); got != "exited" {
		t.Errorf("stopped service after RestoreContainers: %s", got)
	}
	// connect needs a running service.
	_, err := tm.serviceExec(ctx, api.ServiceConnect{ServiceRef: ref}, &api.Session{}, true)
	if err == nil || err.Error() != "Postgres service db is not running; start it with postgres:start db" {
		t.Errorf("connect to a stopped service: %v", err)
	}
}

// TestExpose: expose recreates the container with a port binding, and a
// container that does not come back brings the old one back.
func TestExpose(t *testing.T) {
	tm := newTestManager(t)
	svc := tm.create(t, "redis", "cache", "redis:7")
	ctx := context.Background()
	info, err := tm.serviceExpose(ctx, api.ServiceExpose{ServiceRef: api.ServiceRef{Kind: "redis", Name: "cache"}, Addr: "127.0.0.1:16379"}, tm.out)
	if err != nil || info.ExposedPorts != "6379->127.0.0.1:16379" {
		t.Fatalf("expose = %+v, %v", info, err)
	}
	d, _ := tm.eng.InspectContainer(ctx, tm.serviceContainer(svc))
	if p := tm.eng.specs[d.ID].Ports; len(p) != 1 || p[0] != (docker.PortBinding{HostIP: "127.0.0.1", HostPort: 16379, ContainerPort: 6379}) {
		t.Errorf("ports = %+v", p)
	}
	if _, err := tm.serviceExpose(ctx, api.ServiceExpose{ServiceRef: api.ServiceRef{Kind: "redis", Name: "cache"}}, tm.out); err == nil || err.Error() != "Service cache already exposed on 127.0.0.1:16379; unexpose it first" {
		t.Errorf("second expose: %v", err)
	}
	// The unexposed container does not start: the exposed one comes back,
	// and the record keeps the exposure.
	tm.eng.neverReady["redis:7"] = true
	defer func(d time.Duration) { serviceReadyTimeout = d }(serviceReadyTimeout)
	serviceReadyTimeout = 0
	_, err = tm.serviceUnexpose(ctx, api.ServiceRef{Kind: "redis", Name: "cache"}, tm.out)
	if err == nil || !strings.Contains(err.Error(), "expose failed") {
		t.Errorf("unexpose that fails: %v", err)
	}
	delete(tm.eng.neverReady, "redis:7")
	info, err = tm.serviceUnexpose(ctx, api.ServiceRef{Kind: "redis", Name: "cache"}, tm.out)
	if err != nil || info.ExposedPorts != "-" {
		t.Errorf("unexpose = %+v, %v", info, err)
	}
	if _, err := tm.serviceUnexpose(ctx, api.ServiceRef{Kind: "redis", Name: "cache"}, tm.out); err == nil || err.Error() != "Service cache is not exposed" {
		t.Errorf("second unexpose: %v", err)
	}
}

// TestDestroy removes the container, the record and the data.
func TestDestroy(t *testing.T) {
	tm := newTestManager(t)
	svc := tm.create(t, "postgres", "db", "postgres:17")
	if _, err := tm.serviceDestroy(context.Background(), api.ServiceRef{Kind: "postgres", Name: "db"}, tm.out); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tm.serviceRoot("postgres", "db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("service root: %v", err)
	}
	if _, err := tm.eng.InspectContainer(context.Background(), tm.serviceContainer(svc)); err == nil {
		t.Error("container left")
	}
	if _, _, err := tm.loadService(context.Background(), api.ServiceRef{Kind: "postgres", Name: "db"}); err == nil || err.Error() != "Postgres service db does not exist" {
		t.Errorf("after destroy: %v", err)
	}
}

// TestEngineUnavailable: a missing engine is the API's unavailable error.
func TestEngineUnavailable(t *testing.T) {
	tm := newTestManager(t)
	tm.connect = func(context.Context) (Engine, error) {
		return nil, errors.Join(errors.New("docker: cannot connect"), docker.ErrEngineUnavailable)
	}
	_, err := tm.serviceCreate(context.Background(), api.ServiceCreate{ServiceRef: api.ServiceRef{Kind: "redis", Name: "cache"}}, tm.out)
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Code != api.CodeUnavailable || !strings.Contains(err.Error(), "docker: cannot connect") {
		t.Errorf("create without an engine: %v", err)
	}
}

// TestRestoreStartsStopped: at daemon start, services whose containers the
// engine stopped (a reboot) are started, concurrently, one failing does not
// hold up the others, and one the user stopped or paused stays so.
func TestRestoreStartsStopped(t *testing.T) {
	tm := newTestManager(t)
	ctx := context.Background()
	pg := tm.create(t, "postgres", "db", "postgres:17")
	rd := tm.create(t, "redis", "cache", "redis:7")
	broken := tm.create(t, "postgres", "broken", "postgres:16")
	kept := tm.create(t, "postgres", "kept", "postgres:17")
	paused := tm.create(t, "redis", "frozen", "redis:7")
	if _, err := tm.serviceStop(ctx, api.ServiceRef{Kind: "postgres", Name: "kept"}, tm.out); err != nil {
		t.Fatal(err)
	}
	if _, err := tm.servicePause(ctx, api.ServiceRef{Kind: "redis", Name: "frozen"}, tm.out); err != nil {
		t.Fatal(err)
	}
	// A reboot: the engine stops every container.
	for _, svc := range []store.Service{pg, rd, broken, kept, paused} {
		if err := tm.eng.StopContainer(ctx, tm.serviceContainer(svc), time.Second); err != nil {
			t.Fatal(err)
		}
	}
	tm.eng.failStart["postgres:16"] = errors.New("fake: disk on fire")
	tm.RestoreContainers(ctx)
	state := func(svc store.Service) string {
		d, err := tm.eng.InspectContainer(ctx, tm.serviceContainer(svc))
		if err != nil {
			return "missing"
		}
		return d.State
	}
	for svc, want := range map[store.Service]string{pg: "running", rd: "running", broken: "exited", kept: "exited", paused: "exited"} {
		if got := state(svc); got != want {
			t.Errorf("%s %s after RestoreContainers: %s, want %s", svc.Kind, svc.Name, got, want)
		}
	}
	if !strings.Contains(tm.logs.String(), "service not started") || !strings.Contains(tm.logs.String(), "name=broken") {
		t.Errorf("the failure is not logged with its name:\n%s", tm.logs)
	}
	// start clears the user's stop: the next daemon start brings it back.
	if _, err := tm.serviceStart(ctx, api.ServiceRef{Kind: "postgres", Name: "kept"}, tm.out); err != nil {
		t.Fatal(err)
	}
	tm.eng.StopContainer(ctx, tm.serviceContainer(kept), time.Second)
	tm.RestoreContainers(ctx)
	if got := state(kept); got != "running" {
		t.Errorf("started-again service after RestoreContainers: %s", got)
	}
}

// TestCreateCaseConflict: a name that differs from a service of the same
// kind only in case is refused (the engine's DNS aliases ignore case), and
// nothing is created; another kind may use it.
func TestCreateCaseConflict(t *testing.T) {
	tm := newTestManager(t)
	ctx := context.Background()
	tm.create(t, "postgres", "up", "postgres:17")
	_, err := tm.serviceCreate(ctx, api.ServiceCreate{ServiceRef: api.ServiceRef{Kind: "postgres", Name: "UP"}}, tm.out)
	var ae *api.Error
	if err == nil || !errors.As(err, &ae) || ae.Code != api.CodeConflict ||
		err.Error() != "Postgres service up already exists and differs from UP only in case (they would share one DNS name); choose another name" {
		t.Fatalf("create UP next to up: %v", err)
	}
	if _, err := tm.eng.InspectContainer(ctx, "berth.postgres.UP"); err == nil {
		t.Error("container created for UP")
	}
	if _, err := os.Stat(tm.serviceRoot("postgres", "UP")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("service root for UP: %v", err)
	}
	if list, _ := tm.serviceList(ctx, api.ServiceRef{Kind: "postgres"}, api.Output{}); len(list.Services) != 1 {
		t.Errorf("services = %+v", list.Services)
	}
	// Clone goes through the same check.
	_, err = tm.serviceClone(ctx, api.ServiceClone{ServiceRef: api.ServiceRef{Kind: "postgres", Name: "up"}, New: api.ServiceCreate{ServiceRef: api.ServiceRef{Name: "Up"}}}, tm.out)
	if err == nil || !strings.Contains(err.Error(), "only in case") {
		t.Errorf("clone up to Up: %v", err)
	}
	// Another kind's namespace is its own (dokku-redis-UP is another name).
	tm.create(t, "redis", "UP", "redis:7")
}
