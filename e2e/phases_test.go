package e2e

import (
	"context"
	"strings"
	"testing"
	"time"
)

const appJSONGood = `{
  "env": {
    "DEFAULTED": "from app.json",
    "GENERATED": {"generator": "secret"},
    "OPTIONAL": {"required": false}
  },
  "scripts": {"dokku": {"predeploy": "echo migrated > /migrated.txt && echo predeploy ran", "postdeploy": "echo postdeploy ran"}},
  "healthchecks": {
    "web": [
      {"type": "startup", "name": "health", "path": "/health", "content": "ok", "attempts": 10, "wait": 1},
      {"type": "liveness", "path": "/health", "attempts": 2, "wait": 1, "timeout": 1}
    ]
  }
}`

// TestDeployPhasesAndHealthchecks: app.json env defaults, predeploy whose
// files reach the release image, the release command, postdeploy, app.json
// healthchecks, and liveness taking a broken container out of rotation.
func TestDeployPhasesAndHealthchecks(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d := deployDaemon(t, eng)
	d.mustBerth(t, "checks:set", "--global", "wait-to-retire", "1")
	d.mustBerth(t, "apps:create", "shop")
	d.mustBerth(t, "domains:add", "shop", "shop.test")
	files := map[string]string{
		"Dockerfile": dockerfile("v1"),
		"Procfile":   "web: testapp web\nrelease: testapp echo release ran\n",
		"app.json":   appJSONGood,
	}
	out, code := d.deployTar(t, "shop", appTar(t, files))
	if code != 0 {
		t.Fatalf("deploy: %d\n%s", code, out)
	}
	for _, want := range []string{"Setting 2 env var(s) from app.json: DEFAULTED, GENERATED", "predeploy ran", "release ran", "postdeploy ran", "Running 1 health check(s) for web.1"} {
		if !strings.Contains(out, want) {
			t.Errorf("deploy output lacks %q:\n%s", want, out)
		}
	}
	if strings.Index(out, "predeploy ran") > strings.Index(out, "release ran") || strings.Index(out, "release ran") > strings.Index(out, "Starting web.1") {
		t.Errorf("wrong order: predeploy, release command, start:\n%s", out)
	}
	if got := d.mustBerth(t, "config:get", "shop", "DEFAULTED"); got != "from app.json\n" {
		t.Errorf("DEFAULTED = %q", got)
	}
	if got := strings.TrimSpace(d.mustBerth(t, "config:get", "shop", "GENERATED")); len(got) != 64 {
		t.Errorf("GENERATED = %q, want 64 hex characters", got)
	}
	// The predeploy's file is in the release image.
	if got, code := d.berth("run", "shop", "cat", "/migrated.txt"); code != 0 || got != "migrated\n" {
		t.Errorf("predeploy file in the image: %d %q", code, got)
	}

	// Liveness: with two web containers, a broken one leaves rotation.
	d.mustBerth(t, "ps:scale", "shop", "web=2")
	cs := containers(t, eng, d, "shop")
	if len(cs) != 2 {
		t.Fatalf("containers %v", dynos(cs))
	}
	hits := func(n int) map[string]int {
		got := map[string]int{}
		for range n {
			_, body := served(t, d, "shop.test", "/")
			got[strings.TrimSpace(body[strings.Index(body, "dyno=")+5:])]++
		}
		return got
	}
	if h := hits(20); h["web.1"] == 0 || h["web.2"] == 0 {
		t.Fatalf("both should serve: %v", h)
	}
	exec := func(dyno string, cmd ...string) {
		t.Helper()
		if o, code := d.berth(append([]string{"enter", "shop", dyno}, cmd...)...); code != 0 {
			t.Fatalf("enter %s: %d %s", dyno, code, o)
		}
	}
	exec("web.2", "touch", "/tmp/unhealthy")
	waitFor(t, 20*time.Second, "web.2 out of rotation", func() bool { h := hits(20); return h["web.2"] == 0 })
	exec("web.2", "rm", "/tmp/unhealthy")
	waitFor(t, 20*time.Second, "web.2 back in rotation", func() bool { h := hits(20); return h["web.2"] > 0 })
}

func waitFor(t *testing.T, timeout time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestBadHealthchecksAndRollbacks: malformed CHECKS and healthchecks, a
// missing required env, and a rollback to a pruned release are refused in
// one line with nothing changed.
func TestBadHealthchecksAndRollbacks(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d := deployDaemon(t, eng)
	d.mustBerth(t, "checks:set", "--global", "wait-to-retire", "0")
	d.mustBerth(t, "apps:create", "shop")
	base := map[string]string{"Dockerfile": dockerfile("v1"), "Procfile": "web: testapp web\n"}
	if out, code := d.deployTar(t, "shop", appTar(t, base)); code != 0 {
		t.Fatalf("deploy: %d\n%s", code, out)
	}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range base {
			m[a] = b
		}
		m[k] = v
		return m
	}
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"malformed CHECKS", with("CHECKS", "WAIT=2\nATTEMPTS=x\n/health ok\n"), "CHECKS line 2"},
		{"malformed healthchecks", with("app.json", "{\"healthchecks\": {\"web\": [{\"path\": \"/health\",\n \"attempts\": \"three\"}]}}"), "app.json line 2"},
		{"required env", with("app.json", `{"env": {"API_TOKEN": {"required": true}}}`), "required env var API_TOKEN has no value"},
	} {
		out, code := d.deployTar(t, "shop", appTar(t, tc.files))
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if code != 1 || !strings.Contains(lines[len(lines)-1], tc.want) {
			t.Errorf("%s: exit %d, last line %q, want %q", tc.name, code, lines[len(lines)-1], tc.want)
		}
	}
	if got := dynos(containers(t, eng, d, "shop")); got != "web.1" {
		t.Errorf("running %q", got)
	}
	// Keep one release's image: the first one's goes, and rolling back to
	// it is refused with nothing changed.
	d.mustBerth(t, "releases:set", "shop", "keep", "1")
	for _, v := range []string{"v2", "v3"} {
		if out, code := d.deployTar(t, "shop", appTar(t, with("Dockerfile", dockerfile(v)))); code != 0 {
			t.Fatalf("deploy %s: %d\n%s", v, code, out)
		}
	}
	before := d.mustBerth(t, "releases", "shop")
	out, code := d.berth("releases:rollback", "shop", "1")
	if code != 1 || !strings.Contains(out, "The image of release 1") || !strings.Contains(out, "no longer kept") {
		t.Errorf("rollback to a pruned release: %d %q", code, out)
	}
	if after := d.mustBerth(t, "releases", "shop"); after != before {
		t.Errorf("releases changed:\n%s\n%s", before, after)
	}
	if out, code := d.berth("releases:rollback", "shop", "99"); code != 1 || !strings.Contains(out, "no release 99") {
		t.Errorf("rollback to a missing release: %d %q", code, out)
	}
	if out, code := d.berth("releases:rollback", "shop", "abc"); code != 1 || !strings.Contains(out, "Invalid release") {
		t.Errorf("rollback to a bad number: %d %q", code, out)
	}
	info := d.mustBerth(t, "releases:info", "shop", "6")
	for _, want := range []string{"Status:", "live", "Started by:", "git:from-archive", "Formation:", "web=1"} {
		if !strings.Contains(info, want) {
			t.Errorf("releases:info lacks %q:\n%s", want, info)
		}
	}
	_ = context.Background
}
