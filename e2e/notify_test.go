package e2e

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/api"
)

// hookReceiver is a webhook receiver on 127.0.0.1: it keeps every body
// by path; /flaky answers 500 to its first two requests.
type hookReceiver struct {
	mu     sync.Mutex
	bodies map[string][]string
	flaky  int
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	if r.URL.Path == "/flaky" {
		h.flaky++
		if h.flaky <= 2 {
			http.Error(w, "not yet", http.StatusInternalServerError)
			return
		}
	}
	h.bodies[r.URL.Path] = append(h.bodies[r.URL.Path], string(b))
}

// events are the event kinds path received, in order.
func (h *hookReceiver) events(t *testing.T, path string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, b := range h.bodies[path] {
		out = append(out, hookEventKind(t, path, b))
	}
	return out
}

// hookEventKind reads the event's kind from a body of any of the three
// formats (Slack's and Discord's say it in their headline).
func hookEventKind(t *testing.T, path, body string) string {
	var p struct{ Event, Text, Content string }
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Errorf("%s got a body that is not JSON: %q", path, body)
		return ""
	}
	line := p.Text + p.Content
	if p.Event != "" {
		return p.Event
	}
	_, rest, ok := strings.Cut(line, "] ")
	if !ok {
		t.Errorf("%s got a body without a headline: %q", path, body)
	}
	kind, _, _ := strings.Cut(rest, " ")
	return kind
}

// waitEvent waits until path received an event of kind, and returns its body.
func (h *hookReceiver) waitEvent(t *testing.T, path, kind string, within time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		h.mu.Lock()
		bodies := append([]string(nil), h.bodies[path]...)
		h.mu.Unlock()
		for _, b := range bodies {
			if hookEventKind(t, path, b) == kind {
				return b
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not receive %s within %s; it got %v", path, kind, within, h.events(t, path))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestNotifications: webhooks in the three formats are told of a deploy
// that went live, one that failed its checks, a rollback and a crash
// loop; a receiver that fails twice gets the event on the third try, and
// notifications:list shows it; notifications:test says how a delivery
// went; bad input changes nothing.
func TestNotifications(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	rcv := &hookReceiver{bodies: map[string][]string{}}
	srv := httptest.NewServer(rcv) // 127.0.0.1
	defer srv.Close()
	// A port nothing listens on, for a receiver that is down.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "http://" + ln.Addr().String() + "/hook"
	ln.Close()

	d := deployDaemon(t, eng, "BERTH_NOTIFY_RETRY_DELAY=50ms")
	d.mustBerth(t, "apps:create", "shop")
	d.mustBerth(t, "notifications:add", "ops", srv.URL+"/json")
	d.mustBerth(t, "notifications:add", "chat", srv.URL+"/slack", "--format", "slack", "--app", "shop")
	d.mustBerth(t, "notifications:add", "game", srv.URL+"/discord", "--format", "discord", "--events", "deploy-failed,rollback,crash-loop")
	d.mustBerth(t, "notifications:add", "flaky", srv.URL+"/flaky", "--events", "rollback")
	d.mustBerth(t, "notifications:add", "down", deadURL, "--events", "backup-failed")

	// Bad input: one line, a non-zero exit, nothing changed.
	before := d.mustBerth(t, "notifications:list", "--format", "json")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"notifications:add", "x", "not-a-url"}, `Invalid URL "not-a-url"`},
		{[]string{"notifications:add", "x", srv.URL, "--format", "teams"}, `Invalid format "teams"`},
		{[]string{"notifications:add", "x", srv.URL, "--events", "deploy-exploded"}, `unknown event "deploy-exploded"`},
		{[]string{"notifications:add", "ops", srv.URL}, "A notification target named ops exists"},
		{[]string{"notifications:add", "x", srv.URL, "--app", "nope"}, "App nope does not exist"},
		{[]string{"notifications:add", "x"}, "Please specify a name and a webhook URL"},
		{[]string{"notifications:remove", "nope"}, "No notification target named nope"},
		{[]string{"notifications:test", "nope"}, "No notification target named nope"},
	} {
		out, code := d.berth(c.args...)
		if code == 0 || !strings.Contains(out, c.want) || strings.Count(strings.TrimSpace(out), "\n") != 0 {
			t.Errorf("berth %s: exit %d\n%s", strings.Join(c.args, " "), code, out)
		}
	}
	if after := d.mustBerth(t, "notifications:list", "--format", "json"); after != before {
		t.Errorf("bad input changed the targets:\n%s\n%s", before, after)
	}

	// notifications:test: delivered, and a receiver that is down.
	out := d.mustBerth(t, "notifications:test", "ops")
	mustContain(t, "notifications:test ops", out, "Test notification delivered to ops (HTTP 200)")
	rcv.waitEvent(t, "/json", "test", time.Second)
	out, code := d.berth("notifications:test", "down")
	if code != 1 || !strings.Contains(out, "Test notification to down failed: ") || strings.Contains(out, "/hook") {
		t.Errorf("notifications:test down: exit %d\n%s", code, out)
	}

	// A deploy that goes live.
	if out, code := d.deployTar(t, "shop", appTar(t, map[string]string{"Dockerfile": dockerfile("v1"), "Procfile": "web: testapp web\n"})); code != 0 {
		t.Fatalf("deploy v1: exit %d\n%s", code, out)
	}
	body := rcv.waitEvent(t, "/json", "deploy-succeeded", 30*time.Second)
	var p struct {
		Event, App, Message, Time string
		Release                   int
		Details                   map[string]string
	}
	json.Unmarshal([]byte(body), &p)
	if p.App != "shop" || p.Release != 1 || p.Message != "release 1 is live" || p.Time == "" || p.Details["took"] == "" {
		t.Errorf("deploy-succeeded (json): %s", body)
	}
	slack := rcv.waitEvent(t, "/slack", "deploy-succeeded", 30*time.Second)
	mustContain(t, "slack body", slack, `"text":"[berth@`, `] deploy-succeeded shop (release 1): release 1 is live"`, `"blocks":[{"type":"section"`)

	// A deploy whose checks fail.
	failing := map[string]string{"Dockerfile": dockerfile("v2", "ENV HEALTH_FAIL=1"), "Procfile": "web: testapp web\n",
		"CHECKS": "WAIT=0\nATTEMPTS=1\nTIMEOUT=2\n/health ok\n"}
	if out, code := d.deployTar(t, "shop", appTar(t, failing)); code == 0 {
		t.Fatalf("deploy v2 with failing checks succeeded\n%s", out)
	}
	discord := rcv.waitEvent(t, "/discord", "deploy-failed", 30*time.Second)
	mustContain(t, "discord body", discord, `"content":"[berth@`, "deploy-failed shop (release 2): Deploy failed at step", `"allowed_mentions":{"parse":[]}`)
	body = rcv.waitEvent(t, "/json", "deploy-failed", 30*time.Second)
	mustContain(t, "deploy-failed (json)", body, `"release":2`, `"step":"`)

	// A rollback (to release 1, after a third release went live); the
	// flaky receiver gets it on the third try.
	if out, code := d.deployTar(t, "shop", appTar(t, map[string]string{"Dockerfile": dockerfile("v3"), "Procfile": "web: testapp web\n"})); code != 0 {
		t.Fatalf("deploy v3: exit %d\n%s", code, out)
	}
	d.mustBerth(t, "releases:rollback", "shop", "1")
	body = rcv.waitEvent(t, "/json", "rollback", 30*time.Second)
	mustContain(t, "rollback (json)", body, `"release":4`, `"rollback_of":"1"`, "rolled back to release 1")
	rcv.waitEvent(t, "/discord", "rollback", 30*time.Second)
	rcv.waitEvent(t, "/flaky", "rollback", 30*time.Second)
	var list api.NotificationTargets
	ok := poll(10*time.Second, func() bool {
		json.Unmarshal([]byte(d.mustBerth(t, "notifications:list", "--format", "json")), &list)
		for _, tg := range list.Targets {
			if tg.Name == "flaky" && tg.Last != nil {
				return true
			}
		}
		return false
	})
	for _, tg := range list.Targets {
		switch tg.Name {
		case "flaky":
			if !ok || tg.Last.Event != "rollback" || tg.Last.Status != 200 || tg.Last.Error != "" || tg.Last.Tries != 3 {
				t.Errorf("flaky's last delivery: %+v", tg.Last)
			}
		case "down":
			if tg.Last == nil || tg.Last.Event != "test" || tg.Last.Error == "" || tg.Last.Status != 0 {
				t.Errorf("down's last delivery: %+v", tg.Last)
			}
		}
	}
	out = d.mustBerth(t, "notifications:list")
	mustContain(t, "notifications:list", out, "Name", "Last delivery", "rollback delivered (HTTP 200, 3 tries)", "test failed: ", "http://127.0.0.1:")
	if strings.Contains(out, "/flaky") {
		t.Errorf("notifications:list shows the URLs' paths:\n%s", out)
	}

	// A process container that keeps failing: crash-loop, to the targets
	// of every app, not to the one of shop.
	d.mustBerth(t, "apps:create", "loop")
	looping := map[string]string{"Dockerfile": dockerfile("v1"), "Procfile": "web: testapp web\nworker: sh -c \"sleep 3; exit 3\"\n", "DOKKU_SCALE": "web=1\nworker=1\n"}
	if out, code := d.deployTar(t, "loop", appTar(t, looping)); code != 0 {
		t.Fatalf("deploy loop: exit %d\n%s", code, out)
	}
	body = rcv.waitEvent(t, "/json", "crash-loop", 60*time.Second)
	mustContain(t, "crash-loop (json)", body, `"app":"loop"`, `"process":"worker.1"`, `"exit_code":"3"`, "worker.1 failed 3 times")
	rcv.waitEvent(t, "/discord", "crash-loop", 10*time.Second)
	for _, k := range rcv.events(t, "/slack") {
		if k != "deploy-succeeded" && k != "deploy-failed" && k != "rollback" {
			t.Errorf("the shop-only slack target got %s", k)
		}
	}
	if ks := rcv.events(t, "/slack"); len(ks) < 4 {
		t.Errorf("slack got %v", ks)
	}

	// remove
	d.mustBerth(t, "notifications:remove", "flaky")
	if out := d.mustBerth(t, "notifications:list"); strings.Contains(out, "flaky") {
		t.Errorf("flaky still listed:\n%s", out)
	}
}

// TestNotifyBackupFailure: a scheduled backup that fails (its service is
// stopped) is told to the targets of backup-failed.
func TestNotifyBackupFailure(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	rcv := &hookReceiver{bodies: map[string][]string{}}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	d := serviceDaemon(t, eng, "BERTH_NOTIFY_RETRY_DELAY=50ms")
	d.mustBerth(t, "notifications:add", "ops", srv.URL+"/json", "--events", "backup-failed")
	d.mustBerth(t, "redis:create", "cache")
	d.mustBerth(t, "redis:stop", "cache")
	d.mustBerth(t, "redis:backup-schedule", "cache", "@every 1s", t.TempDir())
	body := rcv.waitEvent(t, "/json", "backup-failed", 60*time.Second)
	d.mustBerth(t, "redis:backup-unschedule", "cache")
	mustContain(t, "backup-failed (json)", body, `"service":"cache"`, `"kind":"redis"`, "the scheduled backup of redis service cache failed")
}

// TestNotifyCertRenewalFailure: a certificate renewal that fails (the
// ACME server went away) is told to the targets of cert-renewal-failed.
func TestNotifyCertRenewalFailure(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	rcv := &hookReceiver{bodies: map[string][]string{}}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	d, acme := pebbleDaemon(t, eng, "BERTH_NOTIFY_RETRY_DELAY=50ms")
	d.mustBerth(t, "notifications:add", "ops", srv.URL+"/json", "--events", "cert-renewal-failed")
	d.mustBerth(t, "apps:create", "shop")
	d.mustBerth(t, "domains:add", "shop", "shop.test")
	if out, code := d.deployTar(t, "shop", appTar(t, zdtApp("v1", nil))); code != 0 {
		t.Fatalf("deploy: %d\n%s", code, out)
	}
	d.mustBerth(t, "letsencrypt:set", "--global", "email", "me@example.com")
	d.mustBerth(t, "letsencrypt:set", "--global", "server", acme.Directory)
	if out := d.mustBerth(t, "letsencrypt:enable", "shop"); !strings.Contains(out, "Certificate installed") {
		t.Fatalf("letsencrypt:enable:\n%s", out)
	}
	// The ACME server is gone; a new domain makes the certificate due.
	d.mustBerth(t, "letsencrypt:set", "--global", "server", "https://127.0.0.1:1/dir")
	d.mustBerth(t, "domains:add", "shop", "more.test")
	if out, code := d.berth("letsencrypt:auto-renew", "shop"); code == 0 {
		t.Errorf("renewal against a dead server succeeded:\n%s", out)
	}
	body := rcv.waitEvent(t, "/json", "cert-renewal-failed", 30*time.Second)
	mustContain(t, "cert-renewal-failed (json)", body, `"app":"shop"`, "Could not get a certificate for shop")
}

// TestNotifyAccess: over ssh, a key limited to some apps is refused every
// notifications:* command (a target may follow every app, and its URL is
// a secret) and changes nothing; an admin key may use them.
func TestNotifyAccess(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d, admin, _ := sshDaemon(t, eng)
	limited := sshKey(t, t.TempDir(), "dev")
	d.mustBerth(t, "ssh-keys:add", "--apps", "shop", "dev", limited+".pub")
	d.mustBerth(t, "apps:create", "shop")
	d.mustBerth(t, "notifications:add", "ops", "https://hooks.example.com/services/secret-path")
	for _, args := range [][]string{
		{"notifications:list"}, {"notifications:list", "--format", "json"},
		{"notifications:add", "mine", "http://127.0.0.1:1/x", "--app", "shop"},
		{"notifications:remove", "ops"}, {"notifications:test", "ops"},
	} {
		out, code := sshTry(limited, d.sshAddr, args...)
		if code != 1 || !strings.Contains(out, "Permission denied") || strings.Contains(out, "secret-path") {
			t.Errorf("limited key: %v: exit %d %q", args, code, out)
		}
	}
	out, code := sshTry(admin, d.sshAddr, "notifications:list", "--format", "json")
	if code != 0 || !strings.Contains(out, "secret-path") || strings.Contains(out, `"mine"`) {
		t.Errorf("admin key: notifications:list: exit %d %q", code, out)
	}
}
