package deploy

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/logs"
	"github.com/berthpaas/berth/internal/store"
)

func (h *harness) config() map[string]string {
	h.t.Helper()
	a := h.app()
	var cfg map[string]string
	h.tx(func(tx *store.Tx) (err error) { cfg, err = tx.Config(a.Scope()); return err })
	return cfg
}

func TestEnvDefaults(t *testing.T) {
	h := newHarness(t)
	appJSON := `{"env": {"MODE": {"value": "prod"}, "SECRET": {"generator": "secret"}, "KEPT": {"value": "default"}}}`
	a := h.app()
	h.tx(func(tx *store.Tx) error { return tx.SetConfig(a.Scope(), map[string]string{"KEPT": "mine"}) })
	h.mustDeploy("Procfile", procfile, "app.json", appJSON)
	cfg := h.config()
	if cfg["MODE"] != "prod" || len(cfg["SECRET"]) != 64 || cfg["KEPT"] != "mine" {
		t.Errorf("config = %v", cfg)
	}
	if !strings.Contains(h.out.String(), "Setting 2 env var(s) from app.json: MODE, SECRET") {
		t.Errorf("output:\n%s", h.out)
	}
}

func TestEnvRequiredMissing(t *testing.T) {
	h := newHarness(t)
	h.mustDeploy(twoTypes...)
	before := h.eng.names()
	_, err := h.deploy("Procfile", procfile, "app.json", `{"env": {"NEED": {"required": true}, "MODE": {"value": "x"}}}`)
	se := stepError(t, err, "env")
	if !errors.Is(err, app.ErrInvalid) || !strings.Contains(se.Error(), "required env var NEED has no value: set it with config:set shop NEED=VALUE") {
		t.Errorf("err = %v", err)
	}
	cleanedUp(t, h, before, "env")
	if _, set := h.config()["MODE"]; set {
		t.Error("a failed env step set config")
	}
}

const predeployJSON = `{"scripts": {"dokku": {"predeploy": "./migrate", "postdeploy": "./notify"}}}`

// predeploy runs in a one-off container of the new image, whose file
// changes become the release image; the container goes either way.
func TestPredeploy(t *testing.T) {
	h := newHarness(t)
	h.eng.output = map[string]string{"./migrate": "migrating\n"}
	rel := h.mustDeploy("Procfile", procfile, "app.json", predeployJSON)
	if got := h.eng.callsMatching("commit "); len(got) != 1 || !strings.HasSuffix(got[0], " berth/shop:1") {
		t.Errorf("commits = %q", got)
	}
	img, _ := h.eng.InspectImage(context.Background(), "berth/shop:1")
	if rel.ImageID != img.ID {
		t.Errorf("release image %s, want the committed %s", rel.ImageID, img.ID)
	}
	if strings.Contains(h.eng.names(), "predeploy") || strings.Contains(h.eng.names(), "anon") {
		t.Errorf("one-off containers left: %s", h.eng.names())
	}
	for _, want := range []string{"Executing predeploy task from app.json: ./migrate", "       migrating", "Executing postdeploy task from app.json in ephemeral container: ./notify"} {
		if !strings.Contains(h.out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, h.out)
		}
	}
}

func TestPredeployFails(t *testing.T) {
	h := newHarness(t)
	h.mustDeploy(twoTypes...)
	before := h.eng.names()
	h.eng.exit = map[string]int{"./migrate": 3}
	h.eng.output = map[string]string{"./migrate": "no database\n"}
	_, err := h.deploy("Procfile", procfile, "app.json", predeployJSON)
	se := stepError(t, err, "predeploy")
	if !strings.Contains(se.Error(), "Execution of predeploy task failed: ./migrate (exit code 3)") || len(se.Tail) != 1 || se.Tail[0] != "no database" {
		t.Errorf("err = %v, tail %q", err, se.Tail)
	}
	cleanedUp(t, h, before, "predeploy")
	if len(h.eng.callsMatching("commit ")) != 0 {
		t.Error("a failed predeploy was committed")
	}
}

func TestReleaseCommand(t *testing.T) {
	h := newHarness(t)
	h.mustDeploy("Procfile", procfile+"release: /bin/release --all\n")
	if !strings.Contains(h.out.String(), "Executing release task from Procfile in ephemeral container: /bin/release --all") {
		t.Errorf("output:\n%s", h.out)
	}
	// It ran once, before any process started, and its container went.
	creates := h.eng.callsMatching("create ")
	if len(creates) != 2 || !strings.HasPrefix(creates[0], "create anon-") {
		t.Errorf("creates = %q", creates)
	}
	if strings.Contains(h.eng.names(), "anon") {
		t.Errorf("release container left: %s", h.eng.names())
	}
}

func TestReleaseCommandFails(t *testing.T) {
	h := newHarness(t)
	h.mustDeploy(twoTypes...)
	before := h.eng.names()
	h.eng.exit = map[string]int{"/bin/release": 1}
	_, err := h.deploy("Procfile", procfile+"release: /bin/release\n")
	if se := stepError(t, err, "release-command"); !strings.Contains(se.Error(), "Execution of release task failed: /bin/release (exit code 1)") {
		t.Errorf("err = %v", err)
	}
	cleanedUp(t, h, before, "release-command")

	// A release command that is not in the image says so with the shell's code.
	h.eng.exit = nil
	h.eng.failStart = map[string]error{"/bin/missing": errors.New(`exec: "/bin/missing": stat /bin/missing: no such file or directory: unknown`)}
	_, err = h.deploy("Procfile", procfile+"release: /bin/missing\n")
	if se := stepError(t, err, "release-command"); !strings.Contains(se.Error(), "exit 127: \"/bin/missing\": stat /bin/missing: no such file or directory") {
		t.Errorf("err = %v", err)
	}
	cleanedUp(t, h, before, "release-command")
}

// A process whose start fails removes every new container, including the
// ones that started.
func TestStartFails(t *testing.T) {
	h := newHarness(t)
	h.mustDeploy(twoTypes...)
	before := h.eng.names()
	h.eng.failStart = map[string]error{"/bin/work2": errors.New(`exec: "/bin/work2": executable file not found in $PATH: unknown`)}
	_, err := h.deploy("Procfile", "web: /bin/web\nworker: /bin/work2\n", "DOKKU_SCALE", "web=1\nworker=1\n")
	se := stepError(t, err, "start")
	if !errors.Is(err, app.ErrInvalid) || !strings.Contains(se.Error(), "worker.1 cannot start: its command was not found in the image") {
		t.Errorf("err = %v", err)
	}
	cleanedUp(t, h, before, "start")
	if len(h.eng.callsMatching("rm shop.web.1.upcoming-")) != 1 || len(h.eng.callsMatching("rm shop.worker.1.upcoming-")) != 1 {
		t.Errorf("the new containers were not removed: %q", h.eng.callsMatching("rm "))
	}
}

func TestStartCreateFails(t *testing.T) {
	h := newHarness(t)
	h.mustDeploy(twoTypes...)
	before := h.eng.names()
	h.eng.failCreate = map[string]error{"worker.1.upcoming": errors.New("docker: create: no space left on device")}
	_, err := h.deploy(twoTypes...)
	stepError(t, err, "start")
	cleanedUp(t, h, before, "start")
}

// checks:disable stops the old containers of the type first.
func TestStartChecksDisabled(t *testing.T) {
	h := newHarness(t)
	h.mustDeploy(twoTypes...)
	a := h.app()
	h.tx(func(tx *store.Tx) error { return tx.SetProperty(a.Scope(), "checks", "disabled", "worker") })
	h.mustDeploy(twoTypes...)
	stops := h.eng.callsMatching("stop ")
	if len(stops) == 0 || stops[0] != "stop shop.worker.1" {
		t.Errorf("stops = %q, want the old worker first", stops)
	}
	if !strings.Contains(h.out.String(), "Stopping shop.worker.1 first (checks are disabled for worker)") {
		t.Errorf("output:\n%s", h.out)
	}
}

// A container that fails its checks fails the deploy with how it ended
// and its last output; its output is kept for logs; the old release keeps
// running untouched.
func TestCheckFails(t *testing.T) {
	h := newHarness(t)
	h.mustDeploy(twoTypes...)
	before := h.eng.names()
	h.eng.crash = map[string]int{"/bin/web2": 3}
	_, err := h.deploy("Procfile", "web: /bin/web2\nworker: /bin/work\n", "DOKKU_SCALE", "web=1\nworker=1\n")
	se := stepError(t, err, "check")
	msg := se.Error()
	for _, want := range []string{"Deploy failed at step check: web.1", "(web.1 exited with code 3)", "\nCould not start due to 1 failed checks\n", "Last output of web.1:", "  crashing with 3"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	cleanedUp(t, h, before, "check")
	if len(h.eng.callsMatching("rename ")) != 2 {
		t.Errorf("a failed check renamed containers: %q", h.eng.callsMatching("rename "))
	}
	var kept strings.Builder
	h.d.writeFailedOutput("shop", logs.Options{}, &kept)
	if !strings.Contains(kept.String(), "crashing with 3") {
		t.Errorf("failed output not kept: %q", kept.String())
	}
}

// checks:skip starts the new containers without checks.
func TestCheckSkipped(t *testing.T) {
	h := newHarness(t)
	a := h.app()
	h.tx(func(tx *store.Tx) error { return tx.SetProperty(a.Scope(), "checks", "skipped", "_all_") })
	h.eng.crash = map[string]int{"/bin/web": 1}
	h.mustDeploy(twoTypes...)
	if strings.Contains(h.out.String(), "Waiting") {
		t.Errorf("checks ran:\n%s", h.out)
	}
}

// A command check runs inside the container; the Host of path checks
// comes from CheckHostFor.
func TestCheckCommand(t *testing.T) {
	h := newHarness(t)
	h.mustDeploy("Procfile", procfile, "app.json", `{"healthchecks": {"web": [{"type": "startup", "name": "ready", "command": ["/bin/ready"], "attempts": 1}]}}`)
	if got := h.eng.callsMatching("exec "); len(got) != 1 || !strings.HasSuffix(got[0], " /bin/ready") {
		t.Errorf("execs = %q", got)
	}
	if !strings.Contains(h.out.String(), "Running 1 health check(s) for web.1") {
		t.Errorf("output:\n%s", h.out)
	}
}

// A failed route at the switch fails the deploy before anything is
// renamed; the release is not live.
func TestSwitchRouteFails(t *testing.T) {
	h := newHarness(t)
	h.mustDeploy(twoTypes...)
	before := h.eng.names()
	h.router.syncErr = errors.New("proxy: connection refused")
	_, err := h.deploy(twoTypes...)
	stepError(t, err, "switch")
	if got := h.eng.names(); got != before {
		t.Errorf("containers = %s, want %s", got, before)
	}
	if rels := h.releases(); rels[0].Status != store.ReleaseFailed || rels[1].Status != store.ReleaseLive {
		t.Errorf("releases %s, %s; want failed, live (the old one again)", rels[0].Status, rels[1].Status)
	}
	var queue []store.Retiring
	h.tx(func(tx *store.Tx) (err error) { queue, err = tx.RetireQueue(); return err })
	if len(queue) > 0 {
		t.Errorf("the old containers are still queued to retire: %+v", queue)
	}
	// The proxy is back: the next deploy replaces the old release.
	h.router.syncErr = nil
	h.mustDeploy(twoTypes...)
	h.d.WaitRetired()
	if got := h.eng.names(); got != "shop.web.1=running shop.worker.1=running" {
		t.Errorf("containers after the next deploy = %s", got)
	}
}

// Old workers stop at the switch; the old web container is drained, then
// retired; with no wait-to-retire, before the deploy returns.
func TestSwitchDrainRetire(t *testing.T) {
	h := newHarness(t)
	h.mustDeploy(twoTypes...)
	oldWeb := h.eng.byName()["shop.web.1"]
	h.mustDeploy(twoTypes...)
	if len(h.router.drained) != 1 || len(h.router.drained[0]) != 1 || h.router.drained[0][0] != "127.0.0.1:"+itoa(oldWeb.HostPort) {
		t.Errorf("drained = %v, want the old web container at port %d", h.router.drained, oldWeb.HostPort)
	}
	for _, want := range []string{"Stopping 1 old container(s) that take no traffic: shop.worker.1.", "Retiring 1 old web container(s) in 0s: shop.web.1."} {
		if !strings.Contains(h.out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, h.out)
		}
	}
	if h.eng.byName()["shop.web.1"].ID == oldWeb.ID || strings.Contains(h.eng.names(), "shop.web.1.1") {
		t.Errorf("the old web container was not removed: %s", h.eng.names())
	}
}

// postdeploy runs after the switch: the release is live whatever it does,
// and its failure is reported and leaves the new containers.
func TestPostdeployFails(t *testing.T) {
	h := newHarness(t)
	h.eng.exit = map[string]int{"./notify": 2}
	rel, err := h.deploy("Procfile", procfile, "app.json", predeployJSON)
	se := stepError(t, err, "postdeploy")
	if !strings.Contains(se.Error(), "Execution of postdeploy task failed: ./notify (exit code 2) (release 1 is live)") {
		t.Errorf("err = %v", err)
	}
	if rels := h.releases(); rels[0].Status != store.ReleaseLive || rel.Number != 1 {
		t.Errorf("release %d is %s", rel.Number, rels[0].Status)
	}
	if got := h.eng.names(); got != "shop.web.1=running" {
		t.Errorf("containers = %s", got)
	}
}
