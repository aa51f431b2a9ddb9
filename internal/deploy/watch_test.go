package deploy

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/store"
)

// checkedWeb is a web-only source whose web type has a startup check that
// passes at once (a command check: the fake engine's exec exits 0).
var checkedWeb = []string{"Procfile", "web: serve\n", "app.json", `{"healthchecks": {"web": [{"type": "startup", "name": "ready", "command": ["/bin/ready"], "attempts": 1}]}}`}

// watchHarness is a harness whose uptime window is 2 s, so a deploy is
// watched after its switch.
func watchHarness(t *testing.T) *harness {
	t.Helper()
	h := newHarness(t)
	h.tx(func(tx *store.Tx) error { return tx.SetProperty(store.Global, "checks", "default-uptime-seconds", "2") })
	return h
}

// stop makes the container named name exit, as a crash would.
func (f *fakeEngine) stop(name string, code int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.containers {
		if c.Name == name {
			c.State, c.Running, c.ExitCode = "exited", false, code
			c.logs += "2026-12-06T06:00:00.000000000Z dying late\n"
		}
	}
}

func (h *harness) statuses() string {
	var out []string
	for _, r := range h.releases() {
		out = append(out, itoa(r.Number)+"="+r.Status)
	}
	return strings.Join(out, " ")
}

// A checked type switches as soon as its checks pass, and the deploy
// returns then; the old web container stays until the new one has run the
// uptime window, then retires.
func TestWatchPassesThenRetires(t *testing.T) {
	h := watchHarness(t)
	h.mustDeploy(checkedWeb...)
	h.d.WaitRetired()
	old := h.eng.byName()["shop.web.1"]
	start := time.Now()
	h.mustDeploy(checkedWeb...)
	if el := time.Since(start); el > 1500*time.Millisecond {
		t.Errorf("the deploy returned after %v: it waited for the window", el)
	}
	if !strings.Contains(h.out.String(), "Watching web.1 until each has run 2s: if one stops, release 1 takes the traffic back") {
		t.Errorf("output:\n%s", h.out)
	}
	running := 0
	for _, c := range h.eng.byName() {
		if c.Running {
			running++
		}
	}
	if running != 2 {
		t.Errorf("containers during the watch = %s, want the old one kept beside the new", h.eng.names())
	}
	h.d.WaitRetired()
	if got := h.eng.names(); got != "shop.web.1=running" {
		t.Errorf("containers after the watch = %s", got)
	}
	if h.eng.byName()["shop.web.1"].ID == old.ID {
		t.Error("the old web container is still web.1")
	}
	if got := h.statuses(); got != "2=live 1=superseded" {
		t.Errorf("releases = %s", got)
	}
}

// A new container that dies within the window puts the old release back:
// live, routed, its container named web.1 again; the new one goes and the
// release is marked failed, saying why.
func TestWatchSwitchesBack(t *testing.T) {
	h := watchHarness(t)
	h.mustDeploy(checkedWeb...)
	h.d.WaitRetired()
	old := h.eng.byName()["shop.web.1"]
	h.mustDeploy(checkedWeb...)
	synced := len(h.router.synced)
	h.eng.stop("shop.web.1", 3)
	h.d.WaitRetired()
	if got := h.statuses(); got != "2=failed 1=live" {
		t.Errorf("releases = %s", got)
	}
	if r := h.releases()[0]; !strings.Contains(r.Error, "watch: web.1 stopped") || !strings.Contains(r.Error, "within the 2s uptime window") {
		t.Errorf("error = %q", r.Error)
	}
	c := h.eng.byName()["shop.web.1"]
	if c == nil || c.ID != old.ID || !c.Running || len(h.eng.byName()) != 1 {
		t.Errorf("containers = %s, want only the old web.1 running", h.eng.names())
	}
	h.router.mu.Lock()
	resynced := len(h.router.synced) > synced
	h.router.mu.Unlock()
	if !resynced {
		t.Error("the old containers were not routed to again")
	}
	var formation map[string]int
	var generation string
	a := h.app()
	h.tx(func(tx *store.Tx) (err error) {
		formation, err = tx.Formation(a)
		if err != nil {
			return err
		}
		generation, _, err = tx.Property(a.Scope(), "ps", "generation")
		return err
	})
	if formation["web"] != 1 || generation != old.Labels["berth.generation"] {
		t.Errorf("formation %v, generation %q, want the old one's %q", formation, generation, old.Labels["berth.generation"])
	}
	// The failed release's image goes at once (as on the failure path),
	// the live one's stays.
	h.eng.mu.Lock()
	_, failedImage := h.eng.images[h.d.names.Image("shop", 2)]
	_, liveImage := h.eng.images[h.d.names.Image("shop", 1)]
	h.eng.mu.Unlock()
	if failedImage || !liveImage {
		t.Errorf("image of release 2 kept: %v, of release 1 kept: %v; want only release 1's", failedImage, liveImage)
	}
}

// A later deploy of the app ends the watch (it does not wait for the window
// nor fail on the lock), and the old containers of the first retire.
func TestWatchEndsOnNextDeploy(t *testing.T) {
	h := watchHarness(t)
	h.mustDeploy(checkedWeb...)
	start := time.Now()
	if ok, err := h.d.Redeploy(context.Background(), "shop", h.out, "config:set"); !ok || err != nil {
		t.Fatalf("redeploy during the watch: %v %v", ok, err)
	}
	if el := time.Since(start); el > 1500*time.Millisecond {
		t.Errorf("the redeploy waited %v for the first deploy's watch", el)
	}
	h.d.WaitRetired()
	if got := h.eng.names(); got != "shop.web.1=running" {
		t.Errorf("containers = %s", got)
	}
	if got := h.statuses(); got != "1=live" {
		t.Errorf("releases = %s", got)
	}
}

// A type without checks switches once it has stayed up for settle, not
// the whole window; the watch covers the rest, with the old containers
// (workers included) kept running until then, and takes them back when a
// new one dies within it.
func TestWatchCoversTypesWithoutChecks(t *testing.T) {
	h := newHarness(t)
	h.tx(func(tx *store.Tx) error { return tx.SetProperty(store.Global, "checks", "default-uptime-seconds", "4") })
	plain := []string{"Procfile", "web: serve\nworker: work\n", "app.json", `{"formation": {"worker": {"quantity": 1}}}`}
	h.mustDeploy(plain...)
	h.d.WaitRetired()
	oldWorker := h.eng.byName()["shop.worker.1"]
	h.out.Reset()
	start := time.Now()
	h.mustDeploy(plain...)
	if el := time.Since(start); el > 3500*time.Millisecond {
		t.Errorf("the deploy returned after %v: it waited for the window", el)
	}
	for _, want := range []string{
		"Waiting 2s for web.1 to stay up (then watched until it has run 4s)",
		"Waiting 2s for worker.1 to stay up (then watched until it has run 4s)",
		"Watching web.1, worker.1 until each has run 4s: if one stops, release 1 takes the traffic back",
	} {
		if !strings.Contains(h.out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, h.out)
		}
	}
	if c := h.eng.byName(); len(c) != 4 {
		t.Errorf("containers during the watch = %s, want the old web and worker kept beside the new", h.eng.names())
	}
	h.eng.stop("shop.worker.1", 1)
	h.d.WaitRetired()
	if got := h.statuses(); got != "2=failed 1=live" {
		t.Errorf("releases = %s", got)
	}
	if c := h.eng.byName()["shop.worker.1"]; c == nil || c.ID != oldWorker.ID || !c.Running {
		t.Errorf("containers = %s, want the old worker.1 running again under its name", h.eng.names())
	}
}

// ps:stop during the watch ends the watch first: the stopped containers
// are not taken for a crash, the release stays live, and ps:start brings
// it back.
func TestWatchEndsOnStop(t *testing.T) {
	h := watchHarness(t)
	h.mustDeploy(checkedWeb...)
	h.d.WaitRetired()
	h.mustDeploy(checkedWeb...)
	if err := h.d.Stop(context.Background(), "shop", h.out); err != nil {
		t.Fatalf("ps:stop during the watch: %v", err)
	}
	h.d.WaitRetired()
	if got := h.statuses(); got != "2=live 1=superseded" {
		t.Errorf("releases = %s, want the stopped release still live", got)
	}
	if got := h.eng.names(); got != "shop.web.1=exited" {
		t.Errorf("containers = %s, want the new web.1 stopped and the old one retired", got)
	}
	if err := h.d.Start(context.Background(), "shop", h.out); err != nil {
		t.Errorf("ps:start: %v", err)
	}
}

// Config.Idle hears when background work (the watch, the old containers'
// retirement) ends, so the daemon can give freed memory back after it.
func TestIdleCalledWhenBackgroundWorkEnds(t *testing.T) {
	h := watchHarness(t)
	var idle atomic.Int32
	h.d.idle = func() { idle.Add(1) }
	h.mustDeploy(checkedWeb...)
	h.d.WaitRetired()
	before := idle.Load()
	h.mustDeploy(checkedWeb...)
	h.d.WaitRetired()
	if idle.Load() <= before {
		t.Errorf("Idle called %d times before the watched deploy, %d after: want more", before, idle.Load())
	}
}

// Scaling up is not watched after: a type without checks waits the whole
// uptime window before its new containers count, as before the settle.
func TestScaleWaitsTheWholeWindow(t *testing.T) {
	h := newHarness(t)
	h.tx(func(tx *store.Tx) error { return tx.SetProperty(store.Global, "checks", "default-uptime-seconds", "3") })
	h.mustDeploy("Procfile", "web: serve\nworker: work\n")
	h.d.WaitRetired()
	h.out.Reset()
	if _, err := h.d.Scale(context.Background(), "shop", map[string]int{"worker": 1}, false, h.out, "ps:scale"); err != nil {
		t.Fatalf("ps:scale: %v", err)
	}
	if !strings.Contains(h.out.String(), "Waiting 3s for worker.1 to stay up\n") {
		t.Errorf("ps:scale output:\n%s", h.out)
	}
}
