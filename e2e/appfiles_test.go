package e2e

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/berthpaas/berth/internal/docker"
)

// dockerBuild tags an image built by a test, labelled so that the
// daemon's cleanup removes it.
func dockerBuild(ref, prefix string) docker.BuildOptions {
	return docker.BuildOptions{Tags: []string{ref}, Labels: map[string]string{"berth.instance": prefix}}
}

// seedDockerfile lays the image out as the seed's Dockerfile does: the
// Dokku files stay in misc/dokku/ in the repository, CHECKS goes to /app,
// all of them to /code, WORKDIR /code, and the base image's CMD (sh) is
// kept: it serves nothing.
func seedDockerfile(extra ...string) string {
	return "FROM berth-test/busybox:1\nCOPY testapp /usr/bin/testapp\nENV APP_VERSION=seed\n" +
		"ADD misc/dokku/CHECKS /app/\nADD misc/dokku/* /code/\nWORKDIR /code\n" + strings.Join(extra, "\n") + "\n"
}

// seedFiles are the seed's project files, none at the repository root.
func seedFiles(checks string, extra ...string) map[string]string {
	return map[string]string{
		"Dockerfile":             seedDockerfile(extra...),
		"misc/dokku/Procfile":    "web: testapp web\nworker: testapp worker\n",
		"misc/dokku/app.json":    `{"scripts": {"dokku": {"predeploy": "testapp echo migrating && touch /code/migrated"}}}`,
		"misc/dokku/CHECKS":      checks,
		"misc/dokku/DOKKU_SCALE": "web=1\nworker=2\n",
	}
}

func mustContain(t *testing.T, what, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, out)
		}
	}
}

// TestSeedLayoutFilesFromImage is issue 11's item 1 (and 2 and 7's
// DOKKU_SCALE and releases:info) on a project laid out as the seed's:
// Procfile, app.json, CHECKS and DOKKU_SCALE are read from the built image.
func TestSeedLayoutFilesFromImage(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d := deployDaemon(t, eng)
	d.mustBerth(t, "apps:create", "shop")
	d.mustBerth(t, "config:set", "--no-restart", "shop", "SECRET_KEY=x")
	seed := appTar(t, seedFiles("WAIT=1\nATTEMPTS=5\n/health ok\n"))
	out, code := d.deployTar(t, "shop", seed)
	if code != 0 {
		t.Fatalf("seed deploy: exit %d\n%s", code, out)
	}
	mustContain(t, "seed deploy", out,
		"Procfile: found in the image at /code/Procfile",
		"app.json: found in the image at /code/app.json",
		"CHECKS: found in the image at /code/CHECKS",
		"DOKKU_SCALE: found in the image at /code/DOKKU_SCALE",
		"Executing predeploy task from app.json: testapp echo migrating", "migrating",
		"Releasing shop (release 1): web=1 worker=2",
		"Running 1 health check(s) for web.1")
	if strings.Contains(out, "No Procfile found") {
		t.Errorf("seed deploy says no Procfile:\n%s", out)
	}
	cs := containers(t, eng, d, "shop")
	if got := dynos(cs); got != "web.1 worker.1 worker.2" {
		t.Fatalf("dynos = %q, want web.1 worker.1 worker.2", got)
	}
	if got := httpGet(t, cs["web.1"].HostPort, "/"); !strings.Contains(got, "version=seed dyno=web.1") {
		t.Errorf("web answers %q", got)
	}
	// The predeploy's change is in the release image.
	if out := d.mustBerth(t, "run", "--no-tty", "shop", "ls", "/code/migrated"); !strings.Contains(out, "/code/migrated") {
		t.Errorf("predeploy's file: %q", out)
	}
	// A restart uses the files the release read.
	out = d.mustBerth(t, "ps:restart", "shop")
	if got := dynos(containers(t, eng, d, "shop")); got != "web.1 worker.1 worker.2" {
		t.Fatalf("after ps:restart: %q\n%s", got, out)
	}

	// CHECKS only in /app, with a path that fails: it gates the switch.
	live := containers(t, eng, d, "shop")["web.1"].ID
	out, code = d.deployTar(t, "shop", appTar(t, seedFiles("WAIT=1\nATTEMPTS=1\nTIMEOUT=2\n/health content-it-lacks\n", "RUN rm /code/CHECKS")))
	if code != 1 {
		t.Fatalf("failing CHECKS: exit %d\n%s", code, out)
	}
	mustContain(t, "failing CHECKS", out,
		"CHECKS: found in the image at /app/CHECKS",
		"Deploy failed at step check: web.1", "content-it-lacks",
		"Last output of web.1:", "listening on 5000")
	if got := containers(t, eng, d, "shop")["web.1"].ID; got != live {
		t.Errorf("web.1 changed after a failed deploy: %s -> %s", live, got)
	}
	// The failed release says what it would have run.
	info := d.mustBerth(t, "releases:info", "shop", "2")
	mustContain(t, "releases:info of the failed release", info, "failed", "web=1 worker=2", "SECRET_KEY")

	// DOKKU_SCALE overriding an earlier ps:scale says so.
	d.mustBerth(t, "ps:scale", "shop", "worker=1")
	out, code = d.deployTar(t, "shop", seed)
	if code != 0 {
		t.Fatalf("third deploy: exit %d\n%s", code, out)
	}
	mustContain(t, "third deploy", out, "DOKKU_SCALE sets worker=2, overriding the current worker=1 (as set by ps:scale)")
	if got := dynos(containers(t, eng, d, "shop")); got != "web.1 worker.1 worker.2" {
		t.Fatalf("after the third deploy: %q", got)
	}
	// A rollback runs with the files its release read.
	out = d.mustBerth(t, "releases:rollback", "shop", "1")
	mustContain(t, "rollback", out, "Using the files release 1 read", "Procfile: found in the image at /code/Procfile")
	if got := dynos(containers(t, eng, d, "shop")); got != "web.1 worker.1 worker.2" {
		t.Fatalf("after the rollback: %q", got)
	}
}

// TestFromImageReadsItsFiles: git:from-image reads the image's Procfile,
// app.json, CHECKS and DOKKU_SCALE the same way.
func TestFromImageReadsItsFiles(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d := deployDaemon(t, eng)
	ref := "berth-test/seed-" + d.prefix() + ":1"
	var buildOut bytes.Buffer
	if _, err := eng.Build(context.Background(), bytes.NewReader(appTar(t, seedFiles("WAIT=1\n/health ok\n"))),
		dockerBuild(ref, d.prefix()), &buildOut); err != nil {
		t.Fatalf("build: %v\n%s", err, buildOut.String())
	}
	t.Cleanup(func() { removeImageKeepParents(ref) })
	d.mustBerth(t, "apps:create", "img")
	out := d.mustBerth(t, "git:from-image", "img", ref)
	mustContain(t, "git:from-image", out,
		"Procfile: found in the image at /code/Procfile",
		"Executing predeploy task from app.json", "Releasing img (release 1): web=1 worker=2")
	if got := dynos(containers(t, eng, d, "img")); got != "web.1 worker.1 worker.2" {
		t.Fatalf("dynos = %q", got)
	}
}

// TestFailedStartSaysWhy is issue 11's item 2: a container that exits says
// its exit code and last output, logs shows it, and web running the image's
// CMD for want of a Procfile says so.
func TestFailedStartSaysWhy(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d := deployDaemon(t, eng)
	d.mustBerth(t, "apps:create", "bare")
	out, code := d.deployTar(t, "bare", appTar(t, map[string]string{"Dockerfile": "FROM berth-test/busybox:1\nCOPY testapp /usr/bin/testapp\n"}))
	if code != 1 {
		t.Fatalf("bare deploy: exit %d\n%s", code, out)
	}
	mustContain(t, "bare deploy", out,
		"Procfile: none (looked in the source at Procfile, the image at /Procfile and /app/Procfile)",
		`No Procfile found (looked in the source at Procfile, the image at /Procfile and /app/Procfile): web runs the image's default command (CMD ["sh"])`,
		"Deploy failed at step check: web.1", "(web.1 exited with code 0)", "web.1 printed nothing")
	logs := d.mustBerth(t, "logs", "bare")
	mustContain(t, "logs bare", logs, "bare[web.1, failed release 1]: (no output; exited with code 0)")

	d.mustBerth(t, "apps:create", "crash")
	out, code = d.deployTar(t, "crash", appTar(t, map[string]string{"Dockerfile": dockerfile("v1"), "Procfile": "web: testapp exit 3\n"}))
	if code != 1 {
		t.Fatalf("crash deploy: exit %d\n%s", code, out)
	}
	mustContain(t, "crash deploy", out, "Deploy failed at step check: web.1", "with code 3", "Last output of web.1:", "exiting with 3")
	logs = d.mustBerth(t, "logs", "crash", "-n", "5")
	mustContain(t, "logs crash", logs, "crash[web.1, failed release 1]: exiting with 3")
}
