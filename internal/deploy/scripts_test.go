package deploy

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/store"
)

// TestHerokuPostdeploy: app.json's scripts.postdeploy runs on the app's
// first deploy only, after the release command, in Dokku's words.
func TestHerokuPostdeploy(t *testing.T) {
	h := newHarness(t)
	files := []string{"Procfile", procfile + "release: /bin/release\n", "app.json", `{"scripts": {"postdeploy": "./seed"}}`}
	h.mustDeploy(files...)
	out := h.out.String()
	want := "Executing heroku.postdeploy task from app.json in ephemeral container: ./seed"
	if !strings.Contains(out, want) || strings.Index(out, want) < strings.Index(out, "Executing release task from Procfile") || strings.Index(out, want) > strings.Index(out, "Starting web.1") {
		t.Errorf("first deploy: want %q after the release command, before the start:\n%s", want, out)
	}
	h.out.Reset()
	h.mustDeploy(files...)
	if strings.Contains(h.out.String(), "heroku.postdeploy") {
		t.Errorf("second deploy ran it again:\n%s", h.out)
	}
}

func TestHerokuPostdeployFails(t *testing.T) {
	h := newHarness(t)
	h.eng.exit = map[string]int{"./seed": 1}
	_, err := h.deploy("Procfile", procfile, "app.json", `{"scripts": {"postdeploy": "./seed"}}`)
	se := stepError(t, err, "release-command")
	if !strings.Contains(se.Error(), "Execution of heroku.postdeploy task failed: ./seed") {
		t.Errorf("err = %v", err)
	}
	// Dokku's "ensure that a failed postdeploy does not trigger twice".
	h.eng.exit = nil
	h.out.Reset()
	h.mustDeploy("Procfile", procfile, "app.json", `{"scripts": {"postdeploy": "./seed"}}`)
	if strings.Contains(h.out.String(), "heroku.postdeploy") {
		t.Errorf("ran again after failing:\n%s", h.out)
	}
}

// TestEnvSync: an app.json env var with "sync" is set on every deploy,
// over a value set by hand; the others only fill unset vars.
func TestEnvSync(t *testing.T) {
	h := newHarness(t)
	appJSON := `{"env": {"SYNCED": {"value": "v", "sync": true}, "PLAIN": "p"}}`
	h.mustDeploy("Procfile", procfile, "app.json", appJSON)
	a := h.app()
	h.tx(func(tx *store.Tx) error {
		return tx.SetConfig(a.Scope(), map[string]string{"SYNCED": "manual", "PLAIN": "manual"})
	})
	h.out.Reset()
	h.mustDeploy("Procfile", procfile, "app.json", appJSON)
	if c := h.config(); c["SYNCED"] != "v" || c["PLAIN"] != "manual" {
		t.Errorf("config = %v", c)
	}
	for _, want := range []string{"Processing app.json env vars", "Setting 1 env var(s) from app.json: SYNCED"} {
		if !strings.Contains(h.out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, h.out)
		}
	}
	h.out.Reset()
	h.mustDeploy("Procfile", procfile, "app.json", appJSON)
	if !strings.Contains(h.out.String(), "No env vars to set from app.json") {
		t.Errorf("nothing to change:\n%s", h.out)
	}
}

// TestScriptCmd: a task runs through a shell, but an image with its own
// ENTRYPOINT gets the task's words as arguments (Dokku's constructScript);
// tini alone is not the app's entrypoint.
func TestScriptCmd(t *testing.T) {
	for _, c := range []struct {
		ep   []string
		want []string
	}{
		{nil, []string{"/bin/sh", "-c", "touch '/app/a b'"}},
		{[]string{"/usr/bin/tini", "--"}, []string{"/bin/sh", "-c", "touch '/app/a b'"}},
		{[]string{"/entrypoint.sh"}, []string{"touch", "/app/a b"}},
	} {
		j := &job{image: docker.ImageInfo{Entrypoint: c.ep}}
		got, err := j.scriptCmd("touch '/app/a b'")
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("entrypoint %q: %q %v, want %q", c.ep, got, err, c.want)
		}
	}
}

// TestBuildDir: builder:set build-dir builds a subdirectory of the source,
// reading its Procfile; a build-dir that is not there is refused.
func TestBuildDir(t *testing.T) {
	h := newHarness(t)
	a := h.app()
	h.tx(func(tx *store.Tx) error { return tx.SetProperty(a.Scope(), "builder", "build-dir", "sub") })
	rel := h.mustDeploy("Procfile", "web: /bin/top\n", "sub/Dockerfile", "FROM scratch\n", "sub/Procfile", "web: /bin/sub\nclock: /bin/clock\n")
	if rel.Processes["web"] != "/bin/sub" || rel.Processes["clock"] != "/bin/clock" {
		t.Errorf("processes = %v, want the sub directory's", rel.Processes)
	}
	if !strings.Contains(h.out.String(), "Building from the source's sub directory") {
		t.Errorf("output:\n%s", h.out)
	}
	h.tx(func(tx *store.Tx) error { return tx.SetProperty(a.Scope(), "builder", "build-dir", "missing") })
	_, err := h.deploy("Procfile", procfile)
	if !errors.Is(err, app.ErrInvalid) || !strings.Contains(err.Error(), "The build directory missing (builder:set shop build-dir) is not a directory of the source") {
		t.Errorf("missing build-dir: %v", err)
	}
}
