package deploy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/naming"
	"github.com/berthpaas/berth/internal/store"
)

// fakeEngine is an in-memory container engine: images, containers with
// states, one-off containers that exit with a chosen code, and a log of
// the calls that change something. Behaviours are chosen per test through
// its fields (set them before the deploy starts).
type fakeEngine struct {
	mu         sync.Mutex
	images     map[string]docker.ImageInfo // by reference (tag) and ID
	containers map[string]*fakeContainer
	seq        int
	calls      []string
	// exposed are the ports images built here expose.
	exposed []int
	// imageFiles are files inside images (ReadImageFiles), by image ref.
	imageFiles map[string]map[string][]byte
	// buildErr fails builds; buildOutput is what builds print.
	buildErr    error
	buildOutput string
	buildOpts   []docker.BuildOptions
	// crash makes containers whose command contains the key exit at once
	// with the code (checks fail); failStart makes their start fail.
	crash     map[string]int
	failStart map[string]error
	// exit is the exit code of one-off containers whose command contains
	// the key (Wait); output what they print.
	exit   map[string]int
	output map[string]string
	// failCreate fails creating containers whose name contains the key.
	failCreate map[string]error
	failRename error
	execCode   int
	// onStart, if set, is called (without the lock) as a start begins.
	onStart func(idOrName string)
	// building, if set, is sent to as a build begins; the build then waits
	// for holdBuild to be closed.
	building  chan struct{}
	holdBuild chan struct{}
}

type fakeContainer struct {
	docker.ContainerDetails
	spec docker.ContainerSpec
	logs string
	seq  int
}

func newFakeEngine() *fakeEngine {
	return &fakeEngine{images: map[string]docker.ImageInfo{}, containers: map[string]*fakeContainer{}, exposed: []int{5000}}
}

var _ Engine = (*fakeEngine)(nil)

func (f *fakeEngine) record(format string, args ...any) {
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

// callsMatching returns the recorded calls that start with prefix.
func (f *fakeEngine) callsMatching(prefix string) []string {
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

// addImage puts an image on the engine under ref.
func (f *fakeEngine) addImage(ref string, img docker.ImageInfo) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if img.ID == "" {
		f.seq++
		img.ID = fmt.Sprintf("sha256:img%d", f.seq)
	}
	img.Tags = append(img.Tags, ref)
	f.images[ref] = img
}

func (f *fakeEngine) Build(_ context.Context, buildContext io.Reader, opts docker.BuildOptions, out io.Writer) (string, error) {
	io.Copy(io.Discard, buildContext)
	if f.building != nil {
		f.building <- struct{}{}
		<-f.holdBuild
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("build %s", strings.Join(opts.Tags, ","))
	f.buildOpts = append(f.buildOpts, opts)
	io.WriteString(out, f.buildOutput)
	if f.buildErr != nil {
		return "", f.buildErr
	}
	f.seq++
	img := docker.ImageInfo{ID: fmt.Sprintf("sha256:img%d", f.seq), ExposedPorts: f.exposed, Labels: opts.Labels, Cmd: []string{"/bin/app"}}
	for _, t := range opts.Tags {
		f.images[t] = img
	}
	return img.ID, nil
}

func (f *fakeEngine) InspectImage(_ context.Context, ref string) (docker.ImageInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	img, ok := f.images[ref]
	if !ok {
		return docker.ImageInfo{}, fmt.Errorf("docker: inspect image %s: %w", ref, docker.ErrNotFound)
	}
	return img, nil
}

func (f *fakeEngine) TagImage(_ context.Context, source, target string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	img, ok := f.images[source]
	if !ok {
		return fmt.Errorf("docker: tag %s: %w", source, docker.ErrNotFound)
	}
	f.record("tag %s %s", source, target)
	f.images[target] = img
	return nil
}

func (f *fakeEngine) Commit(_ context.Context, id, ref string, labels map[string]string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.containers[id]
	if !ok {
		return "", fmt.Errorf("docker: commit %s: %w", id, docker.ErrNotFound)
	}
	f.record("commit %s %s", c.Name, ref)
	f.seq++
	img := f.images[c.spec.Image]
	img.ID = fmt.Sprintf("sha256:img%d", f.seq)
	img.Labels = labels
	f.images[ref] = img
	return img.ID, nil
}

func (f *fakeEngine) ListImages(_ context.Context, labels map[string]string) ([]docker.ImageSummary, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []docker.ImageSummary
	for ref, img := range f.images {
		if hasLabels(img.Labels, labels) {
			out = append(out, docker.ImageSummary{ID: img.ID, Tags: []string{ref}, Labels: img.Labels})
		}
	}
	return out, nil
}

func (f *fakeEngine) RemoveImage(_ context.Context, ref string, _ bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.images[ref]; !ok {
		return fmt.Errorf("docker: remove image %s: %w", ref, docker.ErrNotFound)
	}
	f.record("rmi %s", ref)
	delete(f.images, ref)
	return nil
}

func (f *fakeEngine) PruneDanglingImages(context.Context) (int, error) { return 2, nil }

func (f *fakeEngine) ReadImageFiles(_ context.Context, image string, paths []string, _ map[string]string) (map[string][]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string][]byte{}
	for _, p := range paths {
		if b, ok := f.imageFiles[image][p]; ok {
			out[p] = b
		}
	}
	return out, nil
}

func hasLabels(have, want map[string]string) bool {
	for k, v := range want {
		if hv, ok := have[k]; !ok || (v != "" && hv != v) {
			return false
		}
	}
	return true
}

// match returns the value of the first key of m contained in s.
func match[V any](m map[string]V, s string) (V, bool) {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if strings.Contains(s, k) {
			return m[k], true
		}
	}
	var zero V
	return zero, false
}

func (f *fakeEngine) CreateContainer(_ context.Context, spec docker.ContainerSpec) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err, ok := match(f.failCreate, spec.Name); ok {
		return "", err
	}
	if _, ok := f.images[spec.Image]; !ok {
		return "", fmt.Errorf("docker: create %s: image %s: %w", spec.Name, spec.Image, docker.ErrNotFound)
	}
	f.seq++
	id := fmt.Sprintf("c%02d", f.seq)
	name := spec.Name
	if name == "" {
		name = "anon-" + id
	}
	for _, c := range f.containers {
		if c.Name == name {
			return "", fmt.Errorf("docker: create %s: the name is in use by %s", name, c.ID)
		}
	}
	c := &fakeContainer{spec: spec, seq: f.seq}
	c.ID, c.Name, c.Image, c.State, c.Labels = id, name, spec.Image, "created", spec.Labels
	c.Created = time.Unix(int64(f.seq), 0)
	f.containers[id] = c
	f.record("create %s", name)
	return id, nil
}

// lookup finds a container by ID or name (f.mu held).
func (f *fakeEngine) lookup(idOrName string) (*fakeContainer, error) {
	if c, ok := f.containers[idOrName]; ok {
		return c, nil
	}
	for _, c := range f.containers {
		if c.Name == idOrName {
			return c, nil
		}
	}
	return nil, fmt.Errorf("docker: no container %s: %w", idOrName, docker.ErrNotFound)
}

func (f *fakeEngine) StartContainer(_ context.Context, id string) error {
	if f.onStart != nil {
		f.onStart(id)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.lookup(id)
	if err != nil {
		return err
	}
	cmd := strings.Join(c.spec.Cmd, " ")
	if err, ok := match(f.failStart, cmd); ok {
		return err
	}
	f.record("start %s", c.Name)
	c.State, c.Running, c.StartedAt = "running", true, time.Now()
	if c.spec.PublishPort != 0 {
		c.HostPort = 32000 + c.seq
	}
	if out, ok := match(f.output, cmd); ok {
		c.logs += out
	}
	if code, ok := match(f.crash, cmd); ok {
		c.State, c.Running, c.ExitCode = "exited", false, code
		c.logs += fmt.Sprintf("2026-12-06T06:00:00.000000000Z crashing with %d\n", code)
	}
	return nil
}

func (f *fakeEngine) InspectContainer(_ context.Context, idOrName string) (docker.ContainerDetails, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.lookup(idOrName)
	if err != nil {
		return docker.ContainerDetails{}, err
	}
	return c.ContainerDetails, nil
}

func (f *fakeEngine) ListContainers(_ context.Context, labels map[string]string, all bool) ([]docker.ContainerInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var cs []*fakeContainer
	for _, c := range f.containers {
		if hasLabels(c.Labels, labels) && (all || c.State == "running") {
			cs = append(cs, c)
		}
	}
	slices.SortFunc(cs, func(a, b *fakeContainer) int { return b.seq - a.seq }) // newest first
	var out []docker.ContainerInfo
	for _, c := range cs {
		out = append(out, c.ContainerInfo)
	}
	return out, nil
}

func (f *fakeEngine) RenameContainer(_ context.Context, id, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failRename != nil {
		return f.failRename
	}
	c, err := f.lookup(id)
	if err != nil {
		return err
	}
	f.record("rename %s %s", c.Name, name)
	c.Name = name
	return nil
}

func (f *fakeEngine) Wait(_ context.Context, id string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.lookup(id)
	if err != nil {
		return 0, err
	}
	code, _ := match(f.exit, strings.Join(c.spec.Cmd, " "))
	c.State, c.Running, c.ExitCode = "exited", false, code
	return code, nil
}

func (f *fakeEngine) StopContainer(_ context.Context, id string, _ time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.lookup(id)
	if err != nil {
		return err
	}
	f.record("stop %s", c.Name)
	c.State, c.Running = "exited", false
	return nil
}

func (f *fakeEngine) RemoveContainer(_ context.Context, id string, _ bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.lookup(id)
	if err != nil {
		return err
	}
	f.record("rm %s", c.Name)
	delete(f.containers, c.ID)
	return nil
}

func (f *fakeEngine) Exec(_ context.Context, id string, opts docker.ExecOptions) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.lookup(id)
	if err != nil {
		return 0, err
	}
	f.record("exec %s %s", c.Name, strings.Join(opts.Cmd, " "))
	if opts.Stdout != nil {
		fmt.Fprintf(opts.Stdout, "exec in %s\n", c.Name)
	}
	return f.execCode, nil
}

func (f *fakeEngine) Logs(_ context.Context, id string, _ docker.LogsOptions, stdout, _ io.Writer) error {
	f.mu.Lock()
	c, err := f.lookup(id)
	var logs string
	if err == nil {
		logs = c.logs
	}
	f.mu.Unlock()
	if err != nil {
		return err
	}
	_, err = io.WriteString(stdout, logs)
	return err
}

func (f *fakeEngine) Events(ctx context.Context, _ map[string]string) (<-chan docker.Event, <-chan error) {
	ev, errc := make(chan docker.Event), make(chan error, 1)
	go func() { <-ctx.Done(); errc <- ctx.Err() }()
	return ev, errc
}

func (f *fakeEngine) Attach(_ context.Context, id string, _ bool) (docker.Attachment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.lookup(id)
	if err != nil {
		return nil, err
	}
	out, _ := match(f.output, strings.Join(c.spec.Cmd, " "))
	return &fakeAttachment{r: strings.NewReader(out)}, nil
}

func (f *fakeEngine) Demux(r io.Reader, stdout, _ io.Writer) error {
	_, err := io.Copy(stdout, r)
	return err
}

func (f *fakeEngine) ResizeTTY(context.Context, string, uint, uint) error { return nil }

// fakeAttachment gives the container's output and swallows its input.
type fakeAttachment struct {
	r  io.Reader
	in bytes.Buffer
}

func (a *fakeAttachment) Read(p []byte) (int, error)  { return a.r.Read(p) }
func (a *fakeAttachment) Write(p []byte) (int, error) { return a.in.Write(p) }
func (a *fakeAttachment) CloseWrite() error           { return nil }
func (a *fakeAttachment) Close() error                { return nil }

// byName returns the engine's containers by name.
func (f *fakeEngine) byName() map[string]*fakeContainer {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]*fakeContainer{}
	for _, c := range f.containers {
		cc := *c
		out[c.Name] = &cc
	}
	return out
}

// names lists the engine's containers' names with their states, sorted.
func (f *fakeEngine) names() string {
	var out []string
	for name, c := range f.byName() {
		out = append(out, name+"="+c.State)
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

// fakeRouter records what the deployer asks of the proxy.
type fakeRouter struct {
	mu      sync.Mutex
	synced  []string
	drained [][]string
	syncErr error
}

func (r *fakeRouter) Sync(_ context.Context, app string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.synced = append(r.synced, app)
	return r.syncErr
}

func (r *fakeRouter) Drain(_ context.Context, addrs []string, _ time.Duration) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.drained = append(r.drained, addrs)
	return 0, nil
}

var _ Router = (*fakeRouter)(nil)

// harness is a Deployer on a real store in a temp dir and a fake engine,
// with one app, "shop", and settings that keep tests fast (no uptime wait,
// no wait-to-retire).
type harness struct {
	t      *testing.T
	st     *store.Store
	eng    *fakeEngine
	router *fakeRouter
	d      *Deployer
	out    *bytes.Buffer
	logs   *bytes.Buffer
	engErr error
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(context.Background(), filepath.Join(dir, "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := &harness{t: t, st: st, eng: newFakeEngine(), router: &fakeRouter{}, out: &bytes.Buffer{}, logs: &bytes.Buffer{}}
	h.d = New(Config{
		Store: st,
		Engine: func(context.Context) (Engine, error) {
			if h.engErr != nil {
				return nil, h.engErr
			}
			return h.eng, nil
		},
		Names:   naming.Names{},
		DataDir: dir,
		Log:     slog.New(slog.NewTextHandler(h.logs, nil)),
		Router:  h.router,
	})
	t.Cleanup(h.d.WaitRetired)
	h.tx(func(tx *store.Tx) error {
		if _, err := tx.CreateApp("shop", time.Now()); err != nil {
			return err
		}
		for k, v := range map[string]string{"default-uptime-seconds": "0", "wait-to-retire": "0", "drain-timeout": "0"} {
			if err := tx.SetProperty(store.Global, "checks", k, v); err != nil {
				return err
			}
		}
		return nil
	})
	return h
}

func (h *harness) tx(fn func(tx *store.Tx) error) {
	h.t.Helper()
	if err := h.st.Tx(context.Background(), fn); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) app() store.App {
	h.t.Helper()
	var a store.App
	h.tx(func(tx *store.Tx) (err error) { a, err = tx.App("shop"); return err })
	return a
}

func (h *harness) releases() []store.Release {
	h.t.Helper()
	var rels []store.Release
	a := h.app()
	h.tx(func(tx *store.Tx) (err error) { rels, err = tx.Releases(a); return err })
	return rels
}

// source is an archive with a Dockerfile and the given files.
func (h *harness) source(files ...string) Source {
	h.t.Helper()
	entries := []entry{file("Dockerfile", "FROM scratch\n")}
	for i := 0; i+1 < len(files); i += 2 {
		entries = append(entries, file(files[i], files[i+1]))
	}
	return Source{Kind: SourceArchive, Ref: "test.tar", Archive: bytes.NewReader(makeTar(h.t, entries...))}
}

// deploy deploys files and returns the release and the error.
func (h *harness) deploy(files ...string) (store.Release, error) {
	h.t.Helper()
	return h.d.Deploy(context.Background(), "shop", h.source(files...), h.out, "test")
}

// mustDeploy deploys files and fails the test if the deploy fails.
func (h *harness) mustDeploy(files ...string) store.Release {
	h.t.Helper()
	rel, err := h.deploy(files...)
	if err != nil {
		h.t.Fatalf("deploy: %v\n%s", err, h.out)
	}
	return rel
}

// stepError returns err as a StepError naming step.
func stepError(t *testing.T, err error, step string) *StepError {
	t.Helper()
	var se *StepError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v (%T), want a StepError", err, err)
	}
	if se.Step != step {
		t.Fatalf("failed at step %q (%v), want %q", se.Step, err, step)
	}
	return se
}

const procfile = "web: /bin/web\nworker: /bin/work\n"

// twoTypes is a source with a web and a worker process, one of each.
var twoTypes = []string{"Procfile", procfile, "DOKKU_SCALE", "web=1\nworker=1\n"}

func itoa(n int) string { return strconv.Itoa(n) }
