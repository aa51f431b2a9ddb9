package deploy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/failpoint"
	"github.com/berthpaas/berth/internal/naming"
	"github.com/berthpaas/berth/internal/store"
)

// deadEngine is the engine as a killed daemon's goroutines see it: once
// dead, they change nothing more (a SIGKILLed process runs nothing).
type deadEngine struct {
	*fakeEngine
	dead atomic.Bool
}

var errDead = errors.New("the daemon is dead")

func (e *deadEngine) StopContainer(ctx context.Context, id string, timeout time.Duration) error {
	if e.dead.Load() {
		return errDead
	}
	return e.fakeEngine.StopContainer(ctx, id, timeout)
}

func (e *deadEngine) RemoveContainer(ctx context.Context, id string, force bool) error {
	if e.dead.Load() {
		return errDead
	}
	return e.fakeEngine.RemoveContainer(ctx, id, force)
}

// deployer is another Deployer (another daemon process) on h's store,
// data dir and engine, with its own router and failpoints.
func (h *harness) deployer(eng Engine, router *fakeRouter, fp func(string) error) *Deployer {
	return New(Config{
		Store:     h.st,
		Engine:    func(context.Context) (Engine, error) { return eng, nil },
		DataDir:   h.d.dataDir,
		Log:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		Router:    router,
		Failpoint: fp,
	})
}

// crashFiles is an app whose deploy runs every step: app.json env,
// predeploy and postdeploy, a release command, a web and a worker.
var crashFiles = []string{
	"Procfile", "web: /bin/web\nworker: /bin/work\nrelease: /bin/migrate\n",
	"DOKKU_SCALE", "web=1\nworker=1\n",
	"app.json", `{"env": {"MODE": {"value": "x"}}, "scripts": {"dokku": {"predeploy": "./predeploy", "postdeploy": "./postdeploy"}}}`,
}

// crashSteps are the deploy's steps, and whether the new release is live
// when each begins.
var crashSteps = []struct {
	step     string
	switched bool
}{
	{"source", false}, {"build", false}, {"release", false}, {"env", false},
	{"predeploy", false}, {"release-command", false}, {"start", false}, {"check", false},
	{"switch", false}, {"drain", true}, {"retire", true}, {"postdeploy", true},
}

// TestCrashAtEveryStep kills (a goroutine that stops dead, its engine
// dead with it) or fails each step of a second deploy, then (for a kill)
// starts another Deployer on the same store and engine as a restarted
// daemon does, and checks: one release live (the old one, or the new one
// once switched), the interrupted release failed, the interrupted deploy's
// containers, image and source gone, the old containers drained and
// retired on their schedule (not removed at start), and that the next
// deploy works.
func TestCrashAtEveryStep(t *testing.T) {
	for _, tc := range crashSteps {
		for _, mode := range []string{failpoint.ModeKill, failpoint.ModeError} {
			t.Run(tc.step+"="+mode, func(t *testing.T) {
				t.Parallel()
				crashAt(t, tc.step, tc.switched, mode)
			})
		}
	}
}

func crashAt(t *testing.T, step string, switched bool, mode string) {
	h := newHarness(t)
	ctx := context.Background()
	h.mustDeploy(crashFiles...)
	h.tx(func(tx *store.Tx) error { return tx.SetProperty(store.Global, "checks", "wait-to-retire", "2") })
	oldWeb := h.eng.byName()["shop.web.1"]
	oldAddr := targetAddr(oldWeb.ContainerInfo)

	eng := &deadEngine{fakeEngine: h.eng}
	router1 := &fakeRouter{}
	var hits []string
	d1 := h.deployer(eng, router1, func(name string) error {
		hits = append(hits, name)
		if name != "deploy-"+step {
			return nil
		}
		if mode == failpoint.ModeKill {
			eng.dead.Store(true)
			runtime.Goexit() // the deploy stops dead here
		}
		return failpoint.Error(name)
	})
	src := h.source(crashFiles...)
	var out bytes.Buffer
	var deployErr error
	returned := false
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, deployErr = d1.Deploy(ctx, "shop", src, &out, "test")
		returned = true
	}()
	<-done
	if !slices.Contains(hits, "deploy-"+step) {
		t.Fatalf("failpoint deploy-%s not checked (checked %v)", step, hits)
	}
	d := d1
	router := router1
	if mode == failpoint.ModeKill {
		if returned {
			t.Fatalf("the deploy went on past the kill: %v", deployErr)
		}
		if step == "predeploy" || step == "release-command" || step == "postdeploy" {
			if len(oneOffs(t, h)) != 1 {
				t.Fatalf("no %s container running at the kill: %s", step, h.eng.names())
			}
		}
		// The restart: a new daemon on the same store and engine.
		router = &fakeRouter{}
		d = h.deployer(h.eng, router, func(string) error { return nil })
		d.ResumeInterrupted(ctx)
		if err := d.Restore(ctx, io.Discard); err != nil {
			t.Fatalf("restore: %v", err)
		}
		if switched {
			// Drained, and removed at its time, not at the start.
			if _, err := h.eng.InspectContainer(ctx, oldWeb.ID); err != nil {
				t.Errorf("the old web container was removed at the start, before its wait-to-retire")
			}
		}
	} else {
		stepError(t, deployErr, step)
	}
	d.WaitRetired()

	rels := h.releases()
	if len(rels) != 2 {
		t.Fatalf("%d releases, want 2", len(rels))
	}
	live, last := 1, rels[0]
	if switched {
		live = 2
		if last.Status != store.ReleaseLive || rels[1].Status != store.ReleaseSuperseded {
			t.Errorf("releases = %s, %s; want live, superseded", last.Status, rels[1].Status)
		}
	} else {
		want := interrupted
		if mode == failpoint.ModeError {
			want = step + ": failpoint deploy-" + step
		}
		if last.Status != store.ReleaseFailed || last.Error != want || last.FinishedAt.IsZero() {
			t.Errorf("release 2 = %s %q, want failed %q", last.Status, last.Error, want)
		}
		if rels[1].Status != store.ReleaseLive {
			t.Errorf("release 1 = %s, want live", rels[1].Status)
		}
		if _, err := h.eng.InspectImage(ctx, "berth/shop:2"); err == nil {
			t.Error("the image of the failed release is kept")
		}
		if dirExists(h.d.releaseDir("shop", 2)) {
			t.Error("the source of the failed release is kept")
		}
	}
	if got := h.eng.names(); got != "shop.web.1=running shop.worker.1=running" {
		t.Errorf("containers = %s", got)
	}
	for name, c := range h.eng.byName() {
		if c.Labels[naming.LabelRelease] != itoa(live) {
			t.Errorf("%s is of release %s, want %d", name, c.Labels[naming.LabelRelease], live)
		}
	}
	if cs := oneOffs(t, h); len(cs) > 0 {
		t.Errorf("deploy commands' containers left: %v", cs)
	}
	var queue []store.Retiring
	h.tx(func(tx *store.Tx) (err error) { queue, err = tx.RetireQueue(); return err })
	if len(queue) > 0 {
		t.Errorf("retire queue left: %+v", queue)
	}
	if switched && (mode == failpoint.ModeKill || step != "drain") {
		var drained []string
		for _, a := range router.drained {
			drained = append(drained, a...)
		}
		if !slices.Contains(drained, oldAddr) {
			t.Errorf("the old web container (%s) was not drained: %v", oldAddr, drained)
		}
	}

	// The next deploy works (no lock held, names free).
	h.tx(func(tx *store.Tx) error { return tx.SetProperty(store.Global, "checks", "wait-to-retire", "0") })
	d.failpoint = func(string) error { return nil }
	if _, err := d.Deploy(ctx, "shop", h.source(crashFiles...), &out, "test"); err != nil {
		t.Fatalf("the next deploy: %v\n%s", err, out.String())
	}
	d.WaitRetired()
	if got := h.eng.names(); got != "shop.web.1=running shop.worker.1=running" {
		t.Errorf("containers after the next deploy = %s", got)
	}
	if rels := h.releases(); rels[0].Number != 3 || rels[0].Status != store.ReleaseLive {
		t.Errorf("release after the next deploy = %d %s", rels[0].Number, rels[0].Status)
	}
}

// oneOffs lists the deploy commands' containers on the engine.
func oneOffs(t *testing.T, h *harness) []string {
	t.Helper()
	var out []string
	for name, c := range h.eng.byName() {
		if c.Labels[naming.LabelKind] == naming.KindRun {
			out = append(out, name+"("+c.Labels[naming.LabelProcess]+")")
		}
	}
	return out
}
