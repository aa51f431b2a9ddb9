package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestPSSettingsApplied: Dokku's ps settings act on a real deploy. A
// Dockerfile app without a Procfile scales a new type (the image's CMD);
// dockerfile-start-cmd replaces the CMD of new containers; with skip-deploy
// a push builds a release that does not run, the old one keeps serving, and
// releases:rollback deploys it.
func TestPSSettingsApplied(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d := deployDaemon(t, eng)
	d.mustBerth(t, "apps:create", "img")
	if out, code := d.deployTar(t, "img", appTar(t, map[string]string{"Dockerfile": dockerfile("v1")})); code != 0 {
		t.Fatalf("deploy v1 (exit %d):\n%s", code, out)
	}

	out := d.mustBerth(t, "ps:scale", "img", "worker=1")
	if !strings.Contains(out, "Deploying worker: starting 1") || strings.Contains(out, "Deploying web") {
		t.Errorf("ps:scale worker=1:\n%s", out)
	}
	if got := dynos(containers(t, eng, d, "img")); got != "web.1 worker.1" {
		t.Fatalf("after ps:scale worker=1: %q", got)
	}
	if got := strings.TrimSpace(d.mustBerth(t, "--quiet", "ps:scale", "img")); got != "web:  1\nworker: 1" {
		t.Errorf("--quiet ps:scale = %q", got)
	}

	// dockerfile-start-cmd: the command of containers made from now on.
	d.mustBerth(t, "ps:set", "img", "dockerfile-start-cmd", "sh -c 'exec testapp web'")
	d.mustBerth(t, "ps:restart", "img")
	var inspect []struct {
		Name   string
		Config struct{ Cmd []string }
	}
	if err := json.Unmarshal([]byte(d.mustBerth(t, "ps:inspect", "img")), &inspect); err != nil || len(inspect) == 0 {
		t.Fatalf("ps:inspect: %v", err)
	}
	for _, c := range inspect {
		if strings.Join(c.Config.Cmd, "|") != "sh|-c|exec testapp web" {
			t.Errorf("%s runs %q, want dockerfile-start-cmd's", c.Name, c.Config.Cmd)
		}
	}
	web := containers(t, eng, d, "img")["web.1"]
	if env := httpGet(t, web.HostPort, "/env"); !strings.Contains(env, `"APP_VERSION":"v1"`) {
		t.Errorf("web.1 under dockerfile-start-cmd answers %s", env)
	}

	// skip-deploy: built, kept, not run.
	d.mustBerth(t, "ps:set", "img", "skip-deploy", "true")
	out, code := d.deployTar(t, "img", appTar(t, map[string]string{"Dockerfile": dockerfile("v2")}))
	if code != 0 || !strings.Contains(out, "Skipping deployment") {
		t.Fatalf("deploy v2 with skip-deploy (exit %d):\n%s", code, out)
	}
	web = containers(t, eng, d, "img")["web.1"]
	if env := httpGet(t, web.HostPort, "/env"); !strings.Contains(env, `"APP_VERSION":"v1"`) {
		t.Errorf("after a skipped deploy web.1 answers %s, want v1", env)
	}
	if rel := d.mustBerth(t, "releases", "img"); !strings.Contains(rel, "deploy skipped") {
		t.Errorf("releases:\n%s", rel)
	}
	d.mustBerth(t, "releases:rollback", "img", "2")
	web = containers(t, eng, d, "img")["web.1"]
	if env := httpGet(t, web.HostPort, "/env"); !strings.Contains(env, `"APP_VERSION":"v2"`) {
		t.Errorf("after releases:rollback img 2 web.1 answers %s, want v2", env)
	}
}
