package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/deploy"
	"github.com/berthpaas/berth/internal/enginewatch"
	"github.com/berthpaas/berth/internal/settings"
	"github.com/berthpaas/berth/internal/store"
)

// The hooks of daemon/notify.go turn what the capability packages tell
// into the events a target receives.
func TestNotifyHooks(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, filepath.Join(dir, "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var mu sync.Mutex
	var got []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p map[string]any
		json.NewDecoder(r.Body).Decode(&p)
		mu.Lock()
		got = append(got, p)
		mu.Unlock()
	}))
	defer srv.Close()
	n := newNotify(st, settings.Settings{NotifyRetryDelay: "10ms"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := n.Add(ctx, api.NotificationAddRequest{Name: "ops", URL: srv.URL}); err != nil {
		t.Fatal(err)
	}
	n.Start(ctx)
	defer n.Stop(ctx)

	ended := deployEnded(n)
	ended(deploy.DeployEnd{App: "shop", Release: 1, By: "admin", Took: 2 * time.Second})
	ended(deploy.DeployEnd{App: "shop", Release: 2, Err: &deploy.StepError{Step: "checks", Err: errors.New("/health: 500")}})
	ended(deploy.DeployEnd{App: "shop", Release: 3, RollbackOf: 1})
	renewalFailed(n)("shop", errors.New("Could not get a certificate for shop: 404"))
	backupFailed(n)("postgres", "db", errors.New("disk full"))
	crash := crashLoops(n)
	for i := range 3 {
		crash(ctx, enginewatch.ExitEvent{App: "shop", Process: "worker.1", ID: "c1", Name: "shop.worker.1", Code: 3, At: time.Now().Add(time.Duration(i) * time.Second)})
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= 6 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d events: %v", n, got)
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	byKind := map[string]map[string]any{}
	for _, p := range got {
		byKind[p["event"].(string)] = p
	}
	kinds := []string{}
	for k := range byKind {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	if want := []string{"backup-failed", "cert-renewal-failed", "crash-loop", "deploy-failed", "deploy-succeeded", "rollback"}; !slices.Equal(kinds, want) {
		t.Fatalf("kinds %v, want %v", kinds, want)
	}
	for kind, want := range map[string]string{
		"deploy-succeeded":    "release 1 is live",
		"deploy-failed":       "Deploy failed at step checks: /health: 500",
		"rollback":            "rolled back to release 1 (live as release 3)",
		"cert-renewal-failed": "Could not get a certificate for shop: 404",
		"backup-failed":       "the scheduled backup of postgres service db failed: disk full",
		"crash-loop":          "worker.1 failed 3 times within 5m0s (last exit code 3)",
	} {
		if m := byKind[kind]["message"]; m != want {
			t.Errorf("%s: message %q, want %q", kind, m, want)
		}
	}
	if d := byKind["backup-failed"]["details"].(map[string]any); d["service"] != "db" || d["kind"] != "postgres" {
		t.Errorf("backup-failed details: %v", d)
	}
}
