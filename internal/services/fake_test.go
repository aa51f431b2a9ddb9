package services

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/store"
)

// fakeEngine is an in-memory container engine: containers are records,
// and Exec answers the commands services run (readiness checks, DBSIZE,
// pg_dump, psql row counts, pg_restore) from per-image tables.
type fakeEngine struct {
	mu         sync.Mutex
	n          int
	containers map[string]*docker.ContainerDetails // by ID
	specs      map[string]docker.ContainerSpec     // by ID
	images     map[string]bool                     // present images
	calls      []string
	// keys and rows are what DBSIZE and the row count query print, by
	// image.
	keys, rows map[string]string
	// failStart makes StartContainer fail for the (named) containers of an
	// image; version probes still run.
	failStart map[string]error
	// neverReady makes the readiness command fail for an image.
	neverReady map[string]bool
	restored   []byte          // what pg_restore read
	networks   map[string]bool // existing networks
}

func newFakeEngine() *fakeEngine {
	return &fakeEngine{containers: map[string]*docker.ContainerDetails{}, specs: map[string]docker.ContainerSpec{},
		images: map[string]bool{}, keys: map[string]string{}, rows: map[string]string{}, failStart: map[string]error{}, neverReady: map[string]bool{}, networks: map[string]bool{}}
}

func (f *fakeEngine) record(format string, args ...any) {
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

// find returns the container with this ID or name.
func (f *fakeEngine) find(idOrName string) *docker.ContainerDetails {
	if c, ok := f.containers[idOrName]; ok {
		return c
	}
	for _, c := range f.containers {
		if c.Name == idOrName {
			return c
		}
	}
	return nil
}

func notFound(what string) error { return fmt.Errorf("fake: %s: %w", what, docker.ErrNotFound) }

// callsOf returns the recorded calls that start with prefix.
func (f *fakeEngine) callsOf(prefix string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		if strings.HasPrefix(c, prefix) {
			out = append(out, c)
		}
	}
	return out
}

func (f *fakeEngine) CreateContainer(_ context.Context, spec docker.ContainerSpec) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if spec.Name != "" && f.find(spec.Name) != nil {
		return "", fmt.Errorf("fake: name %s in use", spec.Name)
	}
	f.n++
	id := fmt.Sprintf("c%d", f.n)
	f.containers[id] = &docker.ContainerDetails{ContainerInfo: docker.ContainerInfo{ID: id, Name: spec.Name, Image: spec.Image, State: "created", Labels: spec.Labels},
		Networks: map[string]string{}}
	if spec.Network != "" {
		f.containers[id].Networks[spec.Network] = "10.0.0.2"
	}
	f.specs[id] = spec
	f.record("create %s %s", spec.Name, spec.Image)
	return id, nil
}

func (f *fakeEngine) StartContainer(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.find(id)
	if c == nil {
		return notFound(id)
	}
	f.record("start %s %s", c.Name, c.Image)
	if err := f.failStart[c.Image]; err != nil && c.Name != "" {
		c.State, c.Status = "exited", "Exited (1)"
		return err
	}
	c.State, c.Running, c.Status = "running", true, "Up"
	return nil
}

func (f *fakeEngine) StopContainer(_ context.Context, id string, _ time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.find(id)
	if c == nil {
		return notFound(id)
	}
	f.record("stop %s", c.Name)
	c.State, c.Running, c.Status = "exited", false, "Exited (0)"
	return nil
}

func (f *fakeEngine) RemoveContainer(_ context.Context, id string, _ bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.find(id)
	if c == nil {
		return notFound(id)
	}
	f.record("remove %s", c.Name)
	delete(f.containers, c.ID)
	return nil
}

func (f *fakeEngine) InspectContainer(_ context.Context, idOrName string) (docker.ContainerDetails, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.find(idOrName)
	if c == nil {
		return docker.ContainerDetails{}, notFound(idOrName)
	}
	d := *c
	d.Networks = maps.Clone(c.Networks)
	return d, nil
}

func (f *fakeEngine) Wait(_ context.Context, id string) (int, error) { return 0, nil }

func (f *fakeEngine) Logs(_ context.Context, id string, _ docker.LogsOptions, stdout, _ io.Writer) error {
	f.mu.Lock()
	c := f.find(id)
	f.mu.Unlock()
	if c == nil {
		return notFound(id)
	}
	// Probes print their version.
	switch {
	case strings.HasPrefix(c.Image, "postgres:"):
		fmt.Fprintf(stdout, "postgres (PostgreSQL) %s.2\n", strings.TrimPrefix(c.Image, "postgres:"))
	case strings.HasPrefix(c.Image, "redis:"):
		fmt.Fprintf(stdout, "Redis server v=%s.0.1 sha=0\n", strings.TrimPrefix(c.Image, "redis:"))
	}
	return nil
}

func (f *fakeEngine) Exec(_ context.Context, id string, opts docker.ExecOptions) (int, error) {
	f.mu.Lock()
	c := f.find(id)
	f.mu.Unlock()
	if c == nil || !c.Running {
		return 0, notFound(id)
	}
	out := opts.Stdout
	if out == nil {
		out = io.Discard
	}
	cmd := strings.Join(opts.Cmd, " ")
	switch {
	case cmd == "pg_isready -h 127.0.0.1 -U postgres" || cmd == "redis-cli ping":
		if f.neverReady[c.Image] {
			return 1, nil
		}
		fmt.Fprint(out, "PONG")
		return 0, nil
	case cmd == "redis-cli DBSIZE":
		fmt.Fprint(out, f.keys[c.Image])
		return 0, nil
	case strings.HasPrefix(cmd, "psql -X -q -A -t -v ON_ERROR_STOP=1"):
		// The counted dump (verify.go): the dump on stdout, the counts
		// and pg_dump's exit on stderr.
		script, _ := io.ReadAll(opts.Stdin)
		if !strings.Contains(string(script), "pg_dump -Fc") {
			return 3, nil
		}
		fmt.Fprint(out, "PGDMP dump of "+c.Name)
		if opts.Stderr != nil {
			for l := range strings.SplitSeq(strings.TrimSpace(f.rows[c.Image]), "\n") {
				if l != "" {
					fmt.Fprintf(opts.Stderr, "berth-count %s\n", l)
				}
			}
			fmt.Fprint(opts.Stderr, "berth-dump-exit 0\n")
		}
		return 0, nil
	case strings.HasPrefix(cmd, "pg_dump -Fc"):
		fmt.Fprint(out, "PGDMP dump of "+c.Name)
		return 0, nil
	case strings.HasPrefix(cmd, "psql ") && strings.Contains(cmd, "-Atc"):
		fmt.Fprint(out, f.rows[c.Image])
		return 0, nil
	case strings.HasPrefix(cmd, "pg_restore "):
		b, _ := io.ReadAll(opts.Stdin)
		f.mu.Lock()
		f.restored = b
		f.mu.Unlock()
		return 0, nil
	}
	return 127, nil
}

func (f *fakeEngine) PauseContainer(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.find(id)
	if c == nil {
		return notFound(id)
	}
	f.record("pause %s", c.Name)
	c.State = "paused"
	return nil
}

func (f *fakeEngine) UnpauseContainer(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.find(id)
	if c == nil {
		return notFound(id)
	}
	f.record("unpause %s", c.Name)
	c.State = "running"
	return nil
}

func (f *fakeEngine) InspectImage(_ context.Context, ref string) (docker.ImageInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.images[ref] {
		return docker.ImageInfo{}, notFound(ref)
	}
	return docker.ImageInfo{ID: "sha256:" + ref}, nil
}

func (f *fakeEngine) PullImage(_ context.Context, ref string, _ io.Writer) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("pull %s", ref)
	if strings.HasPrefix(ref, "missing/") {
		return fmt.Errorf("fake: pull access denied for %s", ref)
	}
	f.images[ref] = true
	return nil
}

var _ Engine = (*fakeEngine)(nil)

// testNames are the engine-side names of the tests' Berth.
type testNames struct{}

func (testNames) Instance() string                 { return "test" }
func (testNames) Service(kind, name string) string { return "berth." + kind + "." + name }
func (testNames) ServiceLabels(kind, name string) map[string]string {
	return map[string]string{"berth.instance": "test", "berth.kind": "service", "berth.service.kind": kind, "berth.service.name": name}
}
func (testNames) ServiceNetwork(kind, name string) string { return "berth.svc." + kind + "." + name }
func (testNames) AppNetwork(app string) string            { return "berth.app." + app }
func (testNames) AppOfNetwork(n string) (string, bool) {
	app, ok := strings.CutPrefix(n, "berth.app.")
	return app, ok && app != ""
}
func (n testNames) AppNetworkLabels(app string) map[string]string {
	l := n.AppLabels(app)
	l["berth.kind"] = "network"
	return l
}
func (testNames) AppLabels(app string) map[string]string {
	return map[string]string{"berth.instance": "test", "berth.app": app}
}
func (testNames) SharedNetwork() string { return "berth" }

// fakeRedeployer records the apps it redeploys.
type fakeRedeployer struct {
	apps     []string
	deployed bool
}

func (r *fakeRedeployer) Redeploy(_ context.Context, app string, _ api.Output) (bool, error) {
	r.apps = append(r.apps, app)
	return r.deployed, nil
}

// testManager is a Manager on a fake engine and a fresh store, with its
// log in logs.
type testManager struct {
	*Manager
	eng    *fakeEngine
	logs   *bytes.Buffer
	redep  *fakeRedeployer
	output *bytes.Buffer // stdout of out
	out    api.Output
}

func newTestManager(t *testing.T) *testManager {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(context.Background(), filepath.Join(dir, "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	tm := &testManager{eng: newFakeEngine(), logs: &bytes.Buffer{}, redep: &fakeRedeployer{deployed: true}, output: &bytes.Buffer{}}
	tm.out = api.Output{Stdout: tm.output, Stderr: tm.output}
	tm.Manager = New(Config{
		Store:      st,
		Engine:     func(context.Context) (Engine, error) { return tm.eng, nil },
		Names:      testNames{},
		DataDir:    dir,
		Log:        slog.New(slog.NewTextHandler(tm.logs, nil)),
		Images:     map[string]Image{"redis": {Repo: "redis", Tag: "7"}},
		Redeployer: tm.redep,
		Now:        func() time.Time { return time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC) },
	})
	return tm
}

// create makes a running service through the create command.
func (tm *testManager) create(t *testing.T, kind, name, image string) store.Service {
	t.Helper()
	repo, tag := splitImage(image)
	if _, err := tm.serviceCreate(context.Background(), api.ServiceCreate{ServiceRef: api.ServiceRef{Kind: kind, Name: name}, Image: repo, ImageVersion: tag}, tm.out); err != nil {
		t.Fatalf("create %s %s: %v", kind, name, err)
	}
	_, svc, err := tm.loadService(context.Background(), api.ServiceRef{Kind: kind, Name: name})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// createApp records an app.
func (tm *testManager) createApp(t *testing.T, name string) {
	t.Helper()
	err := tm.store.Tx(context.Background(), func(tx *store.Tx) error { _, err := tx.CreateApp(name, time.Now()); return err })
	if err != nil {
		t.Fatal(err)
	}
}

// config returns an app's config.
func (tm *testManager) config(t *testing.T, app string) map[string]string {
	t.Helper()
	var vars map[string]string
	err := tm.store.Tx(context.Background(), func(tx *store.Tx) error {
		a, err := tx.App(app)
		if err != nil {
			return err
		}
		vars, err = tx.Config(a.Scope())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return vars
}
