package containeropts

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/store"
)

func newManager(t *testing.T) (*Manager, context.Context) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, filepath.Join(dir, "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Tx(ctx, func(tx *store.Tx) error {
		_, err := tx.CreateApp("shop", time.Now())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	m := New(st, filepath.Join(dir, "storage"), slog.New(slog.NewTextHandler(io.Discard, nil)))
	m.chown = func(string, int, int) error { return nil }
	return m, ctx
}

func discard() api.Output { return api.Output{Stdout: io.Discard, Stderr: io.Discard} }

func TestDockerOptionsApplied(t *testing.T) {
	t.Parallel()
	m, ctx := newManager(t)
	for _, ch := range []api.DockerOptionsChange{
		{App: "shop", Verb: "add", Phases: []string{"deploy", "run"}, Option: "-v /var/tmp -v /srv/data:/data:ro --label=com.dokku.test=$(id)"},
		{App: "shop", Verb: "add", Phases: []string{"deploy"}, Option: "--memory=256m --cpus 0.5 --ulimit nofile=1024:2048"},
		{App: "shop", Verb: "add", Phases: []string{"deploy"}, Processes: []string{"web"}, Option: "-p 127.0.0.1:8080:5000"},
		{App: "shop", Verb: "add", Phases: []string{"build"}, Option: "--build-arg X=Y --link foo"},
	} {
		if _, err := m.dockerOptionsUpdate(ctx, ch, discard()); err != nil {
			t.Fatalf("%+v: %v", ch, err)
		}
	}
	o, err := m.For(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	var web, worker, run docker.ContainerSpec
	for _, c := range []struct {
		phase, proc string
		s           *docker.ContainerSpec
	}{{"deploy", "web", &web}, {"deploy", "worker", &worker}, {"run", "run", &run}} {
		if err := o.Apply(c.phase, c.proc, c.s); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(web.Host.Volumes, []string{"/var/tmp"}) || !slices.Equal(web.Binds, []string{"/srv/data:/data:ro"}) {
		t.Errorf("volumes %q binds %q", web.Host.Volumes, web.Binds)
	}
	if web.Labels["com.dokku.test"] != "$(id)" {
		t.Errorf("label = %q, want $(id) verbatim", web.Labels["com.dokku.test"])
	}
	if web.Memory != 256<<20 || web.Host.NanoCPUs != 5e8 || len(web.Host.Ulimits) != 1 || web.Host.Ulimits[0].Hard != 2048 {
		t.Errorf("resources: %d %d %+v", web.Memory, web.Host.NanoCPUs, web.Host.Ulimits)
	}
	if len(web.Ports) != 1 || web.Ports[0].HostPort != 8080 || web.Ports[0].HostIP != "127.0.0.1" {
		t.Errorf("web ports %+v", web.Ports)
	}
	if len(worker.Ports) != 0 {
		t.Errorf("the web-only port reached the worker: %+v", worker.Ports)
	}
	if run.Memory != 0 || !slices.Equal(run.Binds, []string{"/srv/data:/data:ro"}) {
		t.Errorf("run: memory %d binds %q", run.Memory, run.Binds)
	}
	list, err := m.dockerOptionsList(ctx, api.DockerOptionsQuery{App: "shop", Phase: "build"}, discard())
	if err != nil || !slices.Equal(list.Options, []string{"--build-arg X=Y", "--link foo"}) {
		t.Errorf("build list = %q, %v", list.Options, err)
	}
	if _, err := m.dockerOptionsUpdate(ctx, api.DockerOptionsChange{App: "shop", Verb: "remove", Phases: []string{"build"}, Option: "--build-arg X=Y --link foo"}, discard()); err != nil {
		t.Fatal(err)
	}
	if list, _ = m.dockerOptionsList(ctx, api.DockerOptionsQuery{App: "shop", Phase: "build"}, discard()); len(list.Options) != 0 {
		t.Errorf("after remove: %q", list.Options)
	}
}

func TestDockerOptionsRefused(t *testing.T) {
	t.Parallel()
	m, ctx := newManager(t)
	for _, tc := range []struct {
		ch   api.DockerOptionsChange
		want string
	}{
		{api.DockerOptionsChange{App: "shop", Verb: "add", Phases: []string{"deploy"}, Option: "--network host"}, "does not apply the docker option --network"},
		{api.DockerOptionsChange{App: "shop", Verb: "add", Phases: []string{"deploy"}, Option: "--memory lots"}, "--memory lots"},
		{api.DockerOptionsChange{App: "shop", Verb: "add", Phases: []string{"build"}, Processes: []string{"web"}, Option: "--shm-size 256m"}, "deploy phase"},
		{api.DockerOptionsChange{App: "shop", Verb: "add", Phases: []string{"deploy"}, Processes: []string{"_default_"}, Option: "-v /tmp"}, "_default_"},
		{api.DockerOptionsChange{App: "shop", Verb: "add", Phases: []string{"bogus"}, Option: "-v /tmp"}, "Phase must be one of"},
		{api.DockerOptionsChange{App: "shop", Verb: "add", Phases: []string{"deploy"}}, "Please specify docker options"},
		{api.DockerOptionsChange{App: "shop", Verb: "add", Phases: []string{"run"}, Option: "-v /:/host", ScopedTo: []string{"shop"}}, "need an admin key"},
	} {
		_, err := m.dockerOptionsUpdate(ctx, tc.ch, discard())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.ch, err, tc.want)
		}
	}
	o, _ := m.For(ctx, "shop")
	if len(o.docker) != 0 {
		t.Errorf("refused changes stored options: %v", o.docker)
	}
}

func TestResources(t *testing.T) {
	t.Parallel()
	m, ctx := newManager(t)
	set := func(ch api.ResourceChange) string {
		t.Helper()
		var out bytes.Buffer
		if _, err := m.resourceUpdate(ctx, ch, api.Output{Stdout: &out, Stderr: &out}); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	set(api.ResourceChange{App: "shop", Kind: "limit", Values: map[string]string{"memory": "512MB", "cpu": "1.5"}})
	set(api.ResourceChange{App: "shop", Kind: "limit", Process: "worker", Values: map[string]string{"memory": "1024"}})
	set(api.ResourceChange{App: "shop", Kind: "reserve", Values: map[string]string{"memory": "256m"}})
	o, _ := m.For(ctx, "shop")
	var web, worker docker.ContainerSpec
	o.Apply("deploy", "web", &web)
	o.Apply("deploy", "worker", &worker)
	if web.Memory != 536870912 || web.Host.NanoCPUs != 1.5e9 || web.Host.MemoryReservation != 256<<20 {
		t.Errorf("web: %d %d %d", web.Memory, web.Host.NanoCPUs, web.Host.MemoryReservation)
	}
	if worker.Memory != 1024<<20 || worker.Host.NanoCPUs != 1.5e9 {
		t.Errorf("worker: %d %d", worker.Memory, worker.Host.NanoCPUs)
	}
	if out := set(api.ResourceChange{App: "shop", Kind: "limit"}); !strings.Contains(out, "resource limits shop information [defaults]") || !strings.Contains(out, "memory: 512MB") {
		t.Errorf("limit without values printed %q", out)
	}
	set(api.ResourceChange{App: "shop", Kind: "limit", Values: map[string]string{"memory": "clear"}})
	set(api.ResourceChange{App: "shop", Kind: "limit", Process: "worker", Clear: true})
	r, _ := m.resourceReport(ctx, api.AppRef{App: "shop"}, discard())
	if _, ok := r.Values["_default_.limit.memory"]; ok || r.Values["_default_.limit.cpu"] != "1.5" || r.Values["worker.limit.memory"] != "" {
		t.Errorf("after clears: %v", r.Values)
	}
	if _, err := m.resourceUpdate(ctx, api.ResourceChange{App: "shop", Kind: "limit", Values: map[string]string{"memory": "lots"}}, discard()); err == nil {
		t.Error("memory lots accepted")
	}
}

func TestStorageMounts(t *testing.T) {
	t.Parallel()
	m, ctx := newManager(t)
	mount := func(req api.StorageMountRequest) error {
		req.App = "shop"
		_, err := m.storageMount(ctx, req, discard())
		return err
	}
	if err := mount(api.StorageMountRequest{Mount: "/tmp/mount:/mount"}); err != nil {
		t.Fatal(err)
	}
	if err := mount(api.StorageMountRequest{Mount: "/tmp/mount:/mount"}); err == nil || err.Error() != "Mount path already exists." {
		t.Errorf("second mount: %v", err)
	}
	for _, bad := range []string{"/tmp/mount", "a:/x", "relative:mount", "/x:relative"} {
		if err := mount(api.StorageMountRequest{Mount: bad}); err == nil {
			t.Errorf("mount %q accepted", bad)
		}
	}
	if _, err := m.storageCreate(ctx, api.StorageCreateRequest{StorageEntry: api.StorageEntry{Name: "uploads", Mode: "750"}}, discard()); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(m.StorageRoot(), "uploads"))
	if err != nil || fi.Mode().Perm() != 0o750 {
		t.Fatalf("entry dir: %v %v", fi, err)
	}
	if err := mount(api.StorageMountRequest{Mount: "uploads", ContainerDir: "/data", Phases: []string{"deploy"}, Process: "web", Subpath: "u", Readonly: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.storageDestroy(ctx, api.StorageDestroyRequest{Name: "uploads"}, discard()); err == nil || !strings.Contains(err.Error(), "still mounted") {
		t.Errorf("destroy of a mounted entry: %v", err)
	}
	o, _ := m.For(ctx, "shop")
	var web, worker, run docker.ContainerSpec
	o.Apply("deploy", "web", &web)
	o.Apply("deploy", "worker", &worker)
	o.Apply("run", "run", &run)
	wantWeb := []string{"/tmp/mount:/mount", filepath.Join(m.StorageRoot(), "uploads", "u") + ":/data:ro"}
	if !slices.Equal(web.Binds, wantWeb) || !slices.Equal(worker.Binds, wantWeb[:1]) || !slices.Equal(run.Binds, wantWeb[:1]) {
		t.Errorf("binds: web %q worker %q run %q", web.Binds, worker.Binds, run.Binds)
	}
	if _, err := m.storageUnmount(ctx, api.StorageMountRequest{App: "shop", Mount: "/tmp/mount:/mount"}, discard()); err != nil {
		t.Fatal(err)
	}
	if _, err := m.storageUnmount(ctx, api.StorageMountRequest{App: "shop", Mount: "/tmp/mount:/mount"}, discard()); err == nil || err.Error() != "Mount path does not exist." {
		t.Errorf("second unmount: %v", err)
	}
	if _, err := m.storageUnmount(ctx, api.StorageMountRequest{App: "shop", Mount: "uploads"}, discard()); err != nil {
		t.Fatal(err)
	}
	if _, err := m.storageDestroy(ctx, api.StorageDestroyRequest{Name: "uploads", DestroyHostDir: true}, discard()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(m.StorageRoot(), "uploads")); !os.IsNotExist(err) {
		t.Errorf("--destroy-host-dir left the directory: %v", err)
	}
}

func TestEnsureDirectory(t *testing.T) {
	t.Parallel()
	m, ctx := newManager(t)
	var owner []int
	m.chown = func(_ string, uid, gid int) error { owner = []int{uid, gid}; return nil }
	for _, bad := range []string{"@", "shop/", "shop/shop", "../x", ""} {
		if _, err := m.storageEnsureDirectory(ctx, api.StorageDirRequest{Name: bad}, discard()); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	var out bytes.Buffer
	if _, err := m.storageEnsureDirectory(ctx, api.StorageDirRequest{Name: "shop", Chown: "heroku"}, api.Output{Stdout: &out, Stderr: &out}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(owner, []int{1000, 1000}) || !strings.Contains(out.String(), "Setting directory ownership to 1000:1000") || !strings.Contains(out.String(), "Deprecated:") {
		t.Errorf("owner %v, output %q", owner, out.String())
	}
	if _, err := m.storageEnsureDirectory(ctx, api.StorageDirRequest{Name: "shop", Chown: "65536"}, discard()); err == nil || !strings.Contains(err.Error(), "Unsupported chown permissions") {
		t.Errorf("chown 65536: %v", err)
	}
}

func TestStorageSet(t *testing.T) {
	t.Parallel()
	m, ctx := newManager(t)
	if _, err := m.storageCreate(ctx, api.StorageCreateRequest{StorageEntry: api.StorageEntry{Name: "db", Mode: "0755"}}, discard()); err != nil {
		t.Fatal(err)
	}
	set := func(req api.StorageSetRequest) (api.StorageEntry, error) {
		req.Name = "db"
		return m.storageSet(ctx, req, discard())
	}
	if _, err := set(api.StorageSetRequest{Properties: map[string]string{"mode": "0770"}, Annotations: map[string]string{"team": "billing", "a/b": "c"}}); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(filepath.Join(m.StorageRoot(), "db")); fi == nil || fi.Mode().Perm() != 0o770 {
		t.Errorf("mode after set: %v", fi)
	}
	e, err := set(api.StorageSetRequest{Properties: map[string]string{"mode": ""}, Annotations: map[string]string{"team": ""}, Labels: map[string]string{"tier": "cache"}})
	if err != nil || e.Mode != "" || len(e.Annotations) != 1 || e.Annotations["a/b"] != "c" || e.Labels["tier"] != "cache" {
		t.Errorf("after unsets: %+v, %v", e, err)
	}
	for p, want := range map[string]string{"bogus": "Invalid property specified", "access-mode": "cannot change access-mode in place", "mode": "Unsupported directory mode"} {
		if _, err := set(api.StorageSetRequest{Properties: map[string]string{p: "0888"}}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("set %s: %v, want %q", p, err, want)
		}
	}
	if _, err := m.storageSet(ctx, api.StorageSetRequest{Name: "absent", Labels: map[string]string{"a": "b"}}, discard()); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("set on a missing entry: %v", err)
	}
}

func TestStorageMigrate(t *testing.T) {
	t.Parallel()
	m, ctx := newManager(t)
	if _, err := m.dockerOptionsUpdate(ctx, api.DockerOptionsChange{App: "shop", Verb: "add", Phases: []string{"deploy", "run"}, Option: "-v /tmp/legacy:/legacy --label a=b -v /cache"}, discard()); err != nil {
		t.Fatal(err)
	}
	for range 2 { // a second run changes nothing
		if _, err := m.storageMigrate(ctx, api.AppRef{App: "shop"}, discard()); err != nil {
			t.Fatal(err)
		}
	}
	ats, _ := m.storageList(ctx, api.AppRef{App: "shop"}, discard())
	if len(ats.Attachments) != 1 || ColonForm(ats.Attachments[0]) != "/tmp/legacy:/legacy" || !slices.Equal(ats.Attachments[0].Phases, []string{"deploy", "run"}) {
		t.Errorf("mounts after migrate: %+v", ats.Attachments)
	}
	list, _ := m.dockerOptionsList(ctx, api.DockerOptionsQuery{App: "shop", Phase: "deploy"}, discard())
	if !slices.Equal(list.Options, []string{"--label a=b", "-v /cache"}) {
		t.Errorf("deploy options after migrate: %q", list.Options)
	}
}
