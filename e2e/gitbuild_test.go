package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestGitRevAndRebuildOfTheDeployBranch: a push sets the rev-env-var in
// the app's config; a push to another branch says, in Dokku's words, that
// it did not deploy; ps:rebuild builds the deploy branch (a new one once
// git:set changes it) and refuses a branch with no commits; git:report
// shows the computed and global values.
func TestGitRevAndRebuildOfTheDeployBranch(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d, key, port := sshDaemon(t, eng)
	d.mustBerth(t, "apps:create", "shop")
	if out := strings.TrimSpace(d.mustBerth(t, "git:report", "shop", "--git-computed-deploy-branch")); out != "master" {
		t.Errorf("computed deploy branch before a push = %q, want master", out)
	}
	d.mustBerth(t, "git:set", "shop", "rev-env-var", "COMMIT_SHA")
	r := newRepo(t, key, port, map[string]string{"Dockerfile": dockerfile("v1"), "Procfile": "web: testapp web\n"})
	r.git("remote", "add", "dokku", "dokku@127.0.0.1:shop")
	r.git("push", "dokku", "main")
	rev1 := strings.TrimSpace(r.git("rev-parse", "HEAD"))
	if out := strings.TrimSpace(d.mustBerth(t, "config:get", "shop", "COMMIT_SHA")); out != rev1 {
		t.Errorf("COMMIT_SHA = %q, want %s", out, rev1)
	}
	if out, code := d.berth("config:get", "shop", "GIT_REV"); code == 0 {
		t.Errorf("GIT_REV is set with rev-env-var COMMIT_SHA: %q", out)
	}

	// Another branch: stored, not deployed, in Dokku's words.
	r.write(map[string]string{"Dockerfile": dockerfile("v2")})
	r.commit("v2")
	rev2 := strings.TrimSpace(r.git("rev-parse", "HEAD"))
	out := r.git("push", "dokku", "main:feature")
	if !strings.Contains(out, "WARNING: deploy did not complete, you must push to main.") || strings.Contains(out, "Application deployed") {
		t.Errorf("push of another branch:\n%s", out)
	}

	// ps:rebuild builds the deploy branch: now feature's commit.
	d.mustBerth(t, "git:set", "shop", "deploy-branch", "feature")
	out = d.mustBerth(t, "ps:rebuild", "shop")
	if !strings.Contains(out, "Deploying shop (feature, "+rev2[:12]+")") {
		t.Errorf("rebuild of feature:\n%s", out)
	}
	if v := webVersion(t, eng, d, "shop"); !strings.HasPrefix(v, "version=v2") {
		t.Errorf("after the rebuild served %q", v)
	}
	if out := strings.TrimSpace(d.mustBerth(t, "git:report", "shop", "--git-sha")); out != rev2 {
		t.Errorf("git sha = %q, want %s", out, rev2)
	}

	// A deploy branch with no commits: refused, the release keeps serving.
	d.mustBerth(t, "git:set", "shop", "deploy-branch", "non-existing-branch")
	out, code := d.berth("ps:rebuild", "shop")
	if code == 0 || !strings.Contains(out, "Cannot build from 'non-existing-branch' as there are no commits stored at that branch.") {
		t.Errorf("rebuild of a branch with no commits: exit %d\n%s", code, out)
	}
	if v := webVersion(t, eng, d, "shop"); !strings.HasPrefix(v, "version=v2") {
		t.Errorf("after the refused rebuild served %q", v)
	}

	// git:report --global: computed and global values only.
	d.mustBerth(t, "git:set", "--global", "keep-git-dir", "true")
	var rep map[string]string
	if err := json.Unmarshal([]byte(d.mustBerth(t, "git:report", "--global", "--format", "json")), &rep); err != nil {
		t.Fatal(err)
	}
	if rep["computed-deploy-branch"] != "master" || rep["global-keep-git-dir"] != "true" || rep["computed-archive-max-files"] != "10000" {
		t.Errorf("git:report --global = %v", rep)
	}
	if _, ok := rep["deploy-branch"]; ok {
		t.Errorf("git:report --global has an app's value: %v", rep)
	}
}

// TestBuilderBuildDir: builder:set build-dir builds a subdirectory of the
// source, with its own Dockerfile and Procfile; builder:set selected takes
// only dockerfile.
func TestBuilderBuildDir(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d := deployDaemon(t, eng)
	d.mustBerth(t, "apps:create", "mono")
	if out, code := d.berth("builder:set", "mono", "selected", "pack"); code == 0 || !strings.Contains(out, "Berth builds from a Dockerfile only") {
		t.Errorf("builder:set selected pack: exit %d\n%s", code, out)
	}
	d.mustBerth(t, "builder:set", "mono", "selected", "dockerfile")
	d.mustBerth(t, "builder:set", "mono", "build-dir", "svc")
	out, code := d.deployTar(t, "mono", appTar(t, map[string]string{
		"Dockerfile":      "FROM scratch\n", // not this one
		"svc/Dockerfile":  "FROM berth-test/busybox:1\nENV APP_VERSION=svc\nCMD [\"sleep\", \"3600\"]\n",
		"svc/Procfile":    "clock: sleep 3600\n",
		"svc/DOKKU_SCALE": "clock=1\n",
	}))
	if code != 0 || !strings.Contains(out, "Building from the source's svc directory") || !strings.Contains(out, "clock=1") {
		t.Fatalf("deploy with build-dir svc: exit %d\n%s", code, out)
	}
	if _, ok := containers(t, eng, d, "mono")["clock.1"]; !ok {
		t.Errorf("no clock.1 from svc/Procfile: %v", containers(t, eng, d, "mono"))
	}
	if got := strings.TrimSpace(d.mustBerth(t, "builder:report", "mono", "--builder-computed-build-dir")); got != "svc" {
		t.Errorf("builder:report computed build-dir = %q", got)
	}
}
