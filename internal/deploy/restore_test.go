package deploy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/store"
)

// deployApps creates and deploys apps besides shop, each with one web
// container.
func (h *harness) deployApps(names ...string) {
	h.t.Helper()
	for _, n := range names {
		if n != "shop" {
			h.tx(func(tx *store.Tx) error { _, err := tx.CreateApp(n, time.Now()); return err })
		}
		if _, err := h.d.Deploy(context.Background(), n, h.source(), h.out, "test"); err != nil {
			h.t.Fatalf("deploy %s: %v\n%s", n, err, h.out)
		}
	}
}

// stopAll stops every container, as an engine restart or a reboot does.
func (h *harness) stopAll() {
	h.eng.mu.Lock()
	defer h.eng.mu.Unlock()
	for _, c := range h.eng.containers {
		c.State, c.Running, c.HostPort = "exited", false, 0
	}
}

func TestRestoreAppsInParallelOneBrokenAppDoesNotHoldUpTheOthers(t *testing.T) {
	h := newHarness(t)
	apps := []string{"shop", "a1", "a2", "a3", "a4", "a5", "broken"}
	h.deployApps(apps...)
	h.stopAll()
	// broken's container and image are gone: it cannot be brought back.
	ctx := context.Background()
	h.eng.RemoveContainer(ctx, "broken.web.1", true)
	h.eng.RemoveImage(ctx, "berth/broken:1", true)
	var running, most atomic.Int32
	h.eng.onStart = func(string) {
		n := running.Add(1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
		running.Add(-1)
	}
	h.router.synced = nil
	err := h.d.RestoreApps(ctx, h.out)
	if err == nil || !strings.Contains(err.Error(), "broken:") || strings.Contains(err.Error(), "a1:") {
		t.Errorf("RestoreApps = %v; want broken's error alone", err)
	}
	for _, n := range apps[:6] {
		if got := h.eng.byName()[n+".web.1"]; got == nil || got.State != "running" {
			t.Errorf("%s.web.1 not running after restore: %v", n, got)
		}
	}
	if m := most.Load(); m < 2 || m > restoreConcurrency {
		t.Errorf("at most %d apps started at once; want 2..%d", m, restoreConcurrency)
	}
	// Each app that came back was routed; broken was not (its route stays
	// without targets).
	synced := strings.Join(h.router.synced, " ")
	for _, n := range apps[:6] {
		if !strings.Contains(" "+synced+" ", " "+n+" ") {
			t.Errorf("%s was not synced: %s", n, synced)
		}
	}
	if strings.Contains(synced, "broken") {
		t.Errorf("broken was synced: %s", synced)
	}
	if !strings.Contains(h.logs.String(), "app=broken") {
		t.Errorf("broken's failure is not logged by name:\n%s", h.logs)
	}
}

func TestRestoreAppsRoutesEachAppWhenItIsUp(t *testing.T) {
	h := newHarness(t)
	h.deployApps("shop", "slow")
	h.stopAll()
	// slow takes long to start; shop is routed before slow is up.
	release := make(chan struct{})
	var once sync.Once
	h.eng.onStart = func(id string) {
		if strings.HasPrefix(id, "slow") || h.eng.byName()["slow.web.1"].ID == id {
			<-release
		}
	}
	done := make(chan error, 1)
	go func() { done <- h.d.RestoreApps(context.Background(), h.out) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		h.router.mu.Lock()
		synced := fmt.Sprint(h.router.synced)
		h.router.mu.Unlock()
		if strings.Contains(synced, "shop") {
			break
		}
		if time.Now().After(deadline) {
			once.Do(func() { close(release) })
			t.Fatalf("shop was not routed while slow started: %s", synced)
		}
		time.Sleep(10 * time.Millisecond)
	}
	once.Do(func() { close(release) })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestRestoreAppsWaitsForADeployInProgress(t *testing.T) {
	h := newHarness(t)
	h.deployApps("shop")
	h.stopAll()
	old := restoreLockPoll
	restoreLockPoll = 10 * time.Millisecond
	t.Cleanup(func() { restoreLockPoll = old })
	unlock, err := h.d.locks.acquire(context.Background(), "shop", "a push", time.Now)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- h.d.RestoreApps(context.Background(), h.out) }()
	time.Sleep(100 * time.Millisecond)
	if got := h.eng.byName()["shop.web.1"].State; got != "exited" {
		t.Errorf("restore started shop while a deploy held its lock: %s", got)
	}
	unlock()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("restore did not finish after the deploy let go")
	}
	if got := h.eng.byName()["shop.web.1"].State; got != "running" {
		t.Errorf("after the deploy: shop.web.1 %s", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	unlock, _ = h.d.locks.acquire(context.Background(), "shop", "a push", time.Now)
	defer unlock()
	cancel()
	if err := h.d.RestoreApps(ctx, h.out); !errors.Is(err, context.Canceled) {
		t.Errorf("restore with a cancelled context = %v", err)
	}
}

func TestReportShowsRestartsAndLastExit(t *testing.T) {
	h := newHarness(t)
	h.mustDeploy(twoTypes...)
	ctx := context.Background()
	finished := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	h.eng.mu.Lock()
	for _, c := range h.eng.containers {
		switch c.Name {
		case "shop.worker.1": // OOM-killed, not restarted (yet)
			c.State, c.Running, c.ExitCode, c.OOMKilled, c.FinishedAt = "exited", false, 137, true, finished
		case "shop.web.1": // killed and restarted by the engine
			c.RestartCount = 3
		}
	}
	h.eng.mu.Unlock()
	webID := h.eng.byName()["shop.web.1"].ID
	h.d.lastExit = func(id string) (LastExit, bool) {
		if id == webID {
			return LastExit{Code: 137, At: finished, Count: 3}, true
		}
		return LastExit{}, false
	}
	r, err := h.d.Report(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]ProcessStatus{}
	for _, c := range r.Containers {
		got[c.Name] = c
	}
	if w := got["shop.web.1"]; w.Restarts != 3 || w.LastExit == nil || w.LastExit.Code != 137 || w.LastExit.OOMKilled || w.LastExit.Count != 3 {
		t.Errorf("web.1 = %+v (last exit %+v)", w, w.LastExit)
	}
	if w := got["shop.worker.1"]; w.LastExit == nil || w.LastExit.Code != 137 || !w.LastExit.OOMKilled || !w.LastExit.At.Equal(finished) {
		t.Errorf("worker.1 = %+v (last exit %+v)", w, w.LastExit)
	}
}

func TestCommandsWaitForARestoreNotForADeploy(t *testing.T) {
	var l locks
	unlock, err := l.acquire(context.Background(), "shop", restoreHolder, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		u, err := l.acquire(context.Background(), "shop", "ps:rebuild", time.Now)
		if err == nil {
			u()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("ps:rebuild did not wait for the restore: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	unlock()
	unlock() // letting go twice is harmless (apps:rename does)
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("ps:rebuild after the restore: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ps:rebuild still waiting after the restore let go")
	}
	// A deploy in progress is refused at once, as before.
	unlock, _ = l.acquire(context.Background(), "shop", "a push", time.Now)
	defer unlock()
	if _, err := l.acquire(context.Background(), "shop", "ps:rebuild", time.Now); !errors.Is(err, app.ErrLocked) || !strings.Contains(err.Error(), "being deployed by a push") {
		t.Errorf("during a deploy: %v", err)
	}
	// A command waiting for a restore gives up with its context.
	var l2 locks
	u2, _ := l2.acquire(context.Background(), "blog", restoreHolder, time.Now)
	defer u2()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := l2.acquire(ctx, "blog", "ps:rebuild", time.Now); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiting past the context: %v", err)
	}
}
