package deploy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/logs"
	"github.com/berthpaas/berth/internal/naming"
	"github.com/berthpaas/berth/internal/store"
)

// run: a one-off container of the live release, attached, with the app's
// config and DYNO, a Procfile type's command for its first word, removed
// afterwards; its exit code is the command's.
func TestRun(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	var out bytes.Buffer
	if _, err := h.d.Run(ctx, "shop", RunOptions{Cmd: []string{"ls"}}, Streams{Stdout: &out, Stderr: &out}); !errors.Is(err, app.ErrInvalid) || err.Error() != "shop has not been deployed" {
		t.Errorf("run before a deploy: %v", err)
	}
	a := h.app()
	h.tx(func(tx *store.Tx) error { return tx.SetConfig(a.Scope(), map[string]string{"MODE": "prod"}) })
	h.mustDeploy(twoTypes...)
	h.eng.exit = map[string]int{"/bin/work --once": 4}
	h.eng.output = map[string]string{"/bin/work --once": "worked\n"}
	var errOut bytes.Buffer
	code, err := h.d.Run(ctx, "shop", RunOptions{Cmd: []string{"worker", "--once"}, Env: map[string]string{"EXTRA": "1"}}, Streams{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut})
	if err != nil || code != 4 {
		t.Fatalf("run = %d, %v", code, err)
	}
	// Dokku's line for a Procfile type comes first, on stdout, as Dokku's.
	if out.String() != "-----> Found 'worker' in Procfile, running that command\nworked\n" || errOut.String() != "" {
		t.Errorf("stdout = %q, stderr = %q", out.String(), errOut.String())
	}
	creates := h.eng.callsMatching("create shop.run.")
	if len(creates) != 1 || len(h.eng.callsMatching("rm shop.run.")) != 1 {
		t.Errorf("one-off container not created and removed: %q", h.eng.calls)
	}
	// --quiet: only the command's output.
	out.Reset()
	if _, err := h.d.Run(ctx, "shop", RunOptions{Cmd: []string{"worker", "--once"}, Quiet: true}, Streams{Stdout: &out, Stderr: &errOut}); err != nil || out.String() != "worked\n" {
		t.Errorf("quiet run: %v, stdout = %q", err, out.String())
	}

	// A command that is not in the image: the shell's code and why.
	h.eng.failStart = map[string]error{"nope": errors.New(`exec: "nope": executable file not found in $PATH: unknown`)}
	code, err = h.d.Run(ctx, "shop", RunOptions{Cmd: []string{"nope"}}, Streams{Stdout: &out, Stderr: &out})
	if code != 127 || !errors.Is(err, app.ErrInvalid) || err.Error() != `"nope": executable file not found in $PATH` {
		t.Errorf("missing command = %d, %v", code, err)
	}
}

func TestRunSpec(t *testing.T) {
	h := newHarness(t)
	h.d.networkFor = func(context.Context, string) (string, error) { return "berth", nil }
	h.mustDeploy(twoTypes...)
	s, err := h.d.deployedState(context.Background(), "shop")
	if err != nil {
		t.Fatal(err)
	}
	spec, name, err := h.d.runSpec(context.Background(), s, RunOptions{Cmd: []string{"web", "--debug"}, Env: map[string]string{"A": "b"}, TTY: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(name, "shop.run.") || spec.Name != name || spec.Image != "berth/shop:1" || spec.Network != "berth" || !spec.TTY || !spec.OpenStdin {
		t.Errorf("spec = %+v", spec)
	}
	if strings.Join(spec.Cmd, " ") != "/bin/web --debug" || !slices.Contains(spec.Env, "A=b") || spec.Labels[naming.LabelKind] != naming.KindRun {
		t.Errorf("cmd %q env %q labels %v", spec.Cmd, spec.Env, spec.Labels)
	}
}

func TestRunDetachedAndStopRun(t *testing.T) {
	h := newHarness(t)
	h.mustDeploy(twoTypes...)
	ctx := context.Background()
	name, err := h.d.RunDetached(ctx, "shop", RunOptions{Cmd: []string{"sleep", "60"}})
	if err != nil || !strings.HasPrefix(name, "shop.run.") {
		t.Fatalf("run:detached = %q, %v", name, err)
	}
	c := h.eng.byName()[name]
	if !c.spec.AutoRemove || c.spec.OpenStdin || c.State != "running" {
		t.Errorf("detached spec = %+v, state %s", c.spec, c.State)
	}
	runs, err := h.d.Containers(ctx, "shop", naming.KindRun, false)
	if err != nil || len(runs) != 1 || runs[0].Name != name {
		t.Errorf("run:list = %v, %v", runs, err)
	}
	if err := h.d.StopRun(ctx, "shop", name); err != nil {
		t.Fatal(err)
	}
	if _, ok := h.eng.byName()[name]; ok {
		t.Error("run:stop left the container")
	}
	if err := h.d.StopRun(ctx, "shop", "shop.run.gone"); !errors.Is(err, app.ErrNotFound) || !strings.Contains(err.Error(), "No one-off container shop.run.gone of shop; see run:list shop") {
		t.Errorf("stop of a missing one = %v", err)
	}
	// A detached command that cannot start is removed and explained.
	h.eng.failStart = map[string]error{"nope": errors.New(`exec: "nope": permission denied: unknown`)}
	if _, err := h.d.RunDetached(ctx, "shop", RunOptions{Cmd: []string{"nope"}}); !errors.Is(err, app.ErrInvalid) || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("detached failure = %v", err)
	}
	if strings.Contains(h.eng.names(), "run.") {
		t.Errorf("failed one-off left: %s", h.eng.names())
	}
}

func TestEnter(t *testing.T) {
	h := newHarness(t)
	h.mustDeploy("Procfile", procfile, "DOKKU_SCALE", "web=2\nworker=1\n")
	ctx := context.Background()
	var out bytes.Buffer
	for target, want := range map[string]string{"": "shop.web.1", "web.2": "shop.web.2", "worker": "shop.worker.1"} {
		out.Reset()
		code, err := h.d.Enter(ctx, "shop", target, nil, false, Streams{Stdout: &out, Stderr: &out})
		if err != nil || code != 0 || out.String() != "exec in "+want+"\n" {
			t.Errorf("enter %q = %d, %v, %q; want %s", target, code, err, out.String(), want)
		}
	}
	if got := h.eng.callsMatching("exec shop.web.1 "); len(got) != 1 || got[0] != "exec shop.web.1 /bin/sh" {
		t.Errorf("execs = %q", got)
	}
	_, err := h.d.Enter(ctx, "shop", "clock.1", []string{"ls"}, false, Streams{Stdout: io.Discard})
	if !errors.Is(err, app.ErrNotFound) || err.Error() != "No running container clock.1 for shop; see ps:report shop" {
		t.Errorf("enter of a missing target = %v", err)
	}
}

// scheduler:set APP shell (Dokku's key) is what enter runs without a
// command.
func TestEnterRunsTheSchedulersShell(t *testing.T) {
	h := newHarness(t)
	h.mustDeploy(twoTypes...)
	a := h.app()
	h.tx(func(tx *store.Tx) error { return tx.SetProperty(a.Scope(), "scheduler", "shell", "/bin/bash") })
	if _, err := h.d.Enter(context.Background(), "shop", "web.1", nil, false, Streams{Stdout: io.Discard}); err != nil {
		t.Fatal(err)
	}
	if got := h.eng.callsMatching("exec shop.web.1 "); len(got) != 1 || got[0] != "exec shop.web.1 /bin/bash" {
		t.Errorf("execs = %q, want the scheduler's shell", got)
	}
}

func TestLogs(t *testing.T) {
	h := newHarness(t)
	h.eng.output = map[string]string{"/bin/web": "2026-12-06T06:00:00.000000001Z listening\n", "/bin/work": "2026-12-06T06:00:00.000000002Z working"}
	h.mustDeploy(twoTypes...)
	var out bytes.Buffer
	if err := h.d.Logs(context.Background(), "shop", logs.Options{}, &out); err != nil {
		t.Fatal(err)
	}
	// Containers are read at once: lines of different ones interleave.
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	slices.Sort(lines)
	want := "2026-12-06T06:00:00.000000001Z shop[web.1]: listening\n2026-12-06T06:00:00.000000002Z shop[worker.1]: working"
	if strings.Join(lines, "\n") != want {
		t.Errorf("logs =\n%s\nwant\n%s", out.String(), want)
	}
	out.Reset()
	h.d.Logs(context.Background(), "shop", logs.Options{Process: "worker", Quiet: true}, &out)
	if out.String() != "2026-12-06T06:00:00.000000002Z working\n" {
		t.Errorf("quiet worker logs = %q", out.String())
	}
	if err := h.d.Logs(context.Background(), "nope", logs.Options{}, &out); !errors.Is(err, store.ErrAppNotFound) {
		t.Errorf("logs of a missing app = %v", err)
	}
	// Follow ends with the context.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := h.d.Logs(ctx, "shop", logs.Options{Follow: true}, io.Discard); err != nil {
		t.Errorf("follow after cancel = %v", err)
	}
}

// logs shows the live release's containers: an old release's web, still
// draining or stopped, does not mix its lines in (as Dokku's logs). Follow
// (-t) still takes every container, to carry on across deploys.
func TestLogsShowTheLiveRelease(t *testing.T) {
	h := newHarness(t)
	h.eng.output = map[string]string{"/bin/one": "2026-12-06T06:00:00.000000001Z v1\n", "/bin/two": "2026-12-06T06:00:00.000000002Z v2\n"}
	h.mustDeploy("Procfile", "web: /bin/one\n")
	// The old web drains for a while after the switch (a minute by default).
	h.tx(func(tx *store.Tx) error { return tx.SetProperty(store.Global, "checks", "wait-to-retire", "2") })
	h.mustDeploy("Procfile", "web: /bin/two\n")
	old, err := h.eng.ListContainers(context.Background(), map[string]string{naming.LabelRelease: "1"}, true)
	if err != nil || len(old) == 0 {
		t.Fatalf("release 1's container is gone (%v, %v): the test needs it kept", old, err)
	}
	var out bytes.Buffer
	if err := h.d.Logs(context.Background(), "shop", logs.Options{}, &out); err != nil {
		t.Fatal(err)
	}
	if out.String() != "2026-12-06T06:00:00.000000002Z shop[web.1]: v2\n" {
		t.Errorf("logs = %q, want release 2's line only", out.String())
	}
}

func TestStopStartRestore(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if err := h.d.Start(ctx, "shop", h.out); !errors.Is(err, app.ErrInvalid) {
		t.Errorf("start before a deploy = %v", err)
	}
	h.mustDeploy(twoTypes...)
	if err := h.d.Stop(ctx, "shop", h.out); err != nil {
		t.Fatal(err)
	}
	if got := h.eng.names(); got != "shop.web.1=exited shop.worker.1=exited" || !h.app().Stopped {
		t.Errorf("after stop: %s, stopped %v", got, h.app().Stopped)
	}
	// A stopped app is left alone by Reconcile, and by cleanup.
	if err := h.d.Reconcile(ctx, "shop", h.out, true); err != nil || h.eng.names() != "shop.web.1=exited shop.worker.1=exited" {
		t.Errorf("reconcile of a stopped app: %v, %s", err, h.eng.names())
	}
	if err := h.d.Cleanup(ctx, h.out); err != nil || h.eng.names() != "shop.web.1=exited shop.worker.1=exited" {
		t.Errorf("cleanup removed a stopped app's containers: %v, %s", err, h.eng.names())
	}
	if err := h.d.Start(ctx, "shop", h.out); err != nil {
		t.Fatal(err)
	}
	if got := h.eng.names(); got != "shop.web.1=running shop.worker.1=running" || h.app().Stopped {
		t.Errorf("after start: %s", got)
	}
	// Restore (the daemon's start) fails deploys a stop interrupted and
	// brings missing containers back.
	h.eng.RemoveContainer(ctx, "shop.worker.1", true)
	a := h.app()
	h.tx(func(tx *store.Tx) error {
		_, err := tx.CreateRelease(a, store.Release{Source: SourceArchive, StartedBy: "t"})
		return err
	})
	if err := h.d.Restore(ctx, h.out); err != nil {
		t.Fatal(err)
	}
	if got := h.eng.names(); got != "shop.web.1=running shop.worker.1=running" {
		t.Errorf("after restore: %s", got)
	}
	if rels := h.releases(); rels[0].Status != store.ReleaseFailed || !strings.Contains(rels[0].Error, "interrupted") {
		t.Errorf("interrupted release = %s %q", rels[0].Status, rels[0].Error)
	}
}

func TestReportAndInspect(t *testing.T) {
	h := newHarness(t)
	h.mustDeploy(twoTypes...)
	r, err := h.d.Report(context.Background(), "shop")
	if err != nil {
		t.Fatal(err)
	}
	if !r.Deployed || r.Release != 1 || r.Image != "berth/shop:1" || !r.CanScale || len(r.Containers) != 2 || r.RestartPolicy != DefaultRestartPolicy {
		t.Errorf("report = %+v", r)
	}
	if c := r.Containers[0]; c.Type != "web" || c.Index != 1 || c.State != "running" || c.HostPort == 0 {
		t.Errorf("web.1 = %+v", c)
	}
	h.engErr = errors.New("engine down")
	r, err = h.d.Report(context.Background(), "shop")
	if err != nil || r.EngineError != "engine down" || len(r.Containers) != 0 {
		t.Errorf("report without engine = %+v, %v", r, err)
	}
	h.engErr = nil
	raws, err := h.d.Inspect(context.Background(), "shop")
	if err != nil || len(raws) != 2 {
		t.Errorf("inspect = %d, %v", len(raws), err)
	}
}

func TestDestroyAndCleanup(t *testing.T) {
	h := newHarness(t)
	h.mustDeploy(twoTypes...)
	h.mustDeploy(twoTypes...)
	ctx := context.Background()
	if ok, err := h.d.HasReleases(ctx, "shop"); !ok || err != nil {
		t.Errorf("HasReleases = %v, %v", ok, err)
	}
	h.out.Reset()
	if err := h.d.Cleanup(ctx, h.out); err != nil || !strings.Contains(h.out.String(), "Removed 0 stopped containers and 2 dangling images") {
		t.Errorf("cleanup: %v, %q", err, h.out)
	}
	if err := h.d.Destroy(ctx, "shop"); err != nil {
		t.Fatal(err)
	}
	if got := h.eng.names(); got != "" {
		t.Errorf("containers after destroy: %s", got)
	}
	if imgs, _ := h.eng.ListImages(ctx, nil); len(imgs) != 0 {
		t.Errorf("images after destroy: %v", imgs)
	}
}

// Old releases' images and sources go beyond releases:set keep; the live
// one always stays.
func TestPruneReleases(t *testing.T) {
	h := newHarness(t)
	a := h.app()
	h.tx(func(tx *store.Tx) error { return tx.SetProperty(a.Scope(), "releases", "keep", "2") })
	for range 4 {
		h.mustDeploy(twoTypes...)
	}
	if got := h.eng.callsMatching("rmi "); strings.Join(got, " ") != "rmi berth/shop:1 rmi berth/shop:2" {
		t.Errorf("removed images = %q", got)
	}
	if dirExists(h.d.releaseDir("shop", 1)) || !dirExists(h.d.releaseDir("shop", 3)) {
		t.Error("release sources not pruned as kept")
	}
	src, ok, err := h.d.SourceOf(context.Background(), "shop")
	if !ok || err != nil || src.Kind != SourceGit || !strings.HasSuffix(src.Dir, "releases/4/src") {
		t.Errorf("SourceOf = %+v, %v, %v", src, ok, err)
	}
}

func TestRunChecks(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if err := h.d.RunChecks(ctx, "shop", nil, h.out); !errors.Is(err, app.ErrInvalid) {
		t.Errorf("checks:run before a deploy = %v", err)
	}
	h.mustDeploy(twoTypes...)
	h.out.Reset()
	if err := h.d.RunChecks(ctx, "shop", []string{"worker"}, h.out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(h.out.String(), "for worker.1") || strings.Contains(h.out.String(), "web.1") {
		t.Errorf("checks:run worker:\n%s", h.out)
	}
	if err := h.d.RunChecks(ctx, "shop", []string{"clock"}, h.out); !errors.Is(err, app.ErrInvalid) || !strings.Contains(err.Error(), "has no running container clock to check") {
		t.Errorf("checks:run of nothing = %v", err)
	}
	// One container by its TYPE.N; one that does not run is refused.
	h.out.Reset()
	if err := h.d.RunChecks(ctx, "shop", []string{"worker.1"}, h.out); err != nil || !strings.Contains(h.out.String(), "for worker.1") || strings.Contains(h.out.String(), "web.1") {
		t.Errorf("checks:run worker.1 = %v\n%s", err, h.out)
	}
	for _, bad := range [][]string{{"web.2"}, {"web", "web2"}} {
		if err := h.d.RunChecks(ctx, "shop", bad, h.out); !errors.Is(err, app.ErrInvalid) {
			t.Errorf("checks:run %v = %v", bad, err)
		}
	}
}

// A linked app whose network cannot be made (its pool is full) fails its
// deploy saying why, before anything is built, and the live release serves.
func TestDeployFailsWhenTheAppsNetworkCannotBeMade(t *testing.T) {
	h := newHarness(t)
	live := h.mustDeploy(twoTypes...)
	h.d.networkFor = func(context.Context, string) (string, error) {
		return "", errors.New("no free subnet of /24 in 10.210.0.0/16: set BERTH_NETWORK_POOL")
	}
	if _, err := h.deploy(twoTypes...); err == nil || !strings.Contains(err.Error(), "BERTH_NETWORK_POOL") {
		t.Fatalf("deploy err = %v, want the pool's line", err)
	}
	for _, r := range h.releases() {
		if (r.Status == store.ReleaseLive) != (r.Number == live.Number) {
			t.Errorf("release %d is %s; only %d should be live", r.Number, r.Status, live.Number)
		}
	}
}

// run:retire: one-off containers older than their deadline label are
// stopped and removed; younger ones, and process containers, stay. Extra
// labels reach the container; Berth's own cannot be given.
func TestRetireRuns(t *testing.T) {
	h := newHarness(t)
	h.mustDeploy(twoTypes...)
	ctx := context.Background()
	short, err := h.d.RunDetached(ctx, "shop", RunOptions{Cmd: []string{"sleep", "300"}, TTLSeconds: 1, Labels: map[string]string{"com.example.team": "ops"}})
	if err != nil {
		t.Fatal(err)
	}
	long, err := h.d.RunDetached(ctx, "shop", RunOptions{Cmd: []string{"sleep", "300"}})
	if err != nil {
		t.Fatal(err)
	}
	byName := h.eng.byName()
	if l := byName[short].Labels; l[naming.LabelDeadline] != "1" || l["com.example.team"] != "ops" {
		t.Errorf("labels of the short one = %v", l)
	}
	if l := byName[long].Labels; l[naming.LabelDeadline] != "86400" {
		t.Errorf("default deadline = %v", l)
	}
	// The fake engine's containers were created at second 1..N of 1970.
	h.d.now = func() time.Time { return time.Unix(3600, 0) }
	var out bytes.Buffer
	if err := h.d.RetireRuns(ctx, "", &out); err != nil {
		t.Fatal(err)
	}
	names := h.eng.names()
	if strings.Contains(names, short) || !strings.Contains(names, long) || !strings.Contains(names, "shop.web.1") {
		t.Errorf("after retire: %s", names)
	}
	if out.String() != "       Retiring container "+short+"\n" {
		t.Errorf("output = %q", out.String())
	}
	if err := h.d.RetireRuns(ctx, "nosuch", &out); !errors.Is(err, store.ErrAppNotFound) {
		t.Errorf("retire of a missing app = %v", err)
	}
	if _, err := h.d.RunDetached(ctx, "shop", RunOptions{Cmd: []string{"ls"}, Labels: map[string]string{naming.LabelApp: "other"}}); !errors.Is(err, app.ErrInvalid) {
		t.Errorf("a berth.* label = %v", err)
	}
}
