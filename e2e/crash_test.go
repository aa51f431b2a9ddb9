package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/docker"
)

// crashApp is an app whose deploy runs every step: app.json env,
// predeploy and postdeploy, a release command, a web and a worker.
func crashApp(version string) map[string]string {
	return map[string]string{
		"Dockerfile":  dockerfile(version),
		"Procfile":    "web: testapp web\nworker: testapp worker\nrelease: echo released\n",
		"DOKKU_SCALE": "web=1\nworker=1\n",
		"app.json":    `{"env": {"MODE": {"value": "x"}}, "scripts": {"dokku": {"predeploy": "echo predeploy", "postdeploy": "echo postdeploy"}}}`,
	}
}

// TestCrashAtEveryDeployStep SIGKILLs the daemon inside each deploy step
// (BERTH_FAILPOINTS=deploy-STEP=kill), starts it again without the
// failpoint, and checks what a restart promises: the old release serves
// (the new one once the switch happened), the interrupted release is
// marked failed in `releases`, its containers and image are gone, the old
// containers waiting to retire are drained and removed on their schedule
// (not at the start), and the next deploy works.
func TestCrashAtEveryDeployStep(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	for _, tc := range []struct {
		step     string
		switched bool
	}{
		{"source", false}, {"build", false}, {"release", false}, {"env", false},
		{"predeploy", false}, {"release-command", false}, {"start", false}, {"check", false},
		{"switch", false}, {"drain", true}, {"retire", true}, {"postdeploy", true},
	} {
		t.Run(tc.step, func(t *testing.T) {
			t.Parallel()
			crashDeploy(t, eng, tc.step, tc.switched)
		})
	}
}

// retireWait is the apps' wait-to-retire during the killed deploy: long
// enough to see the old web container outlive the restart.
const retireWait = 8

func crashDeploy(t *testing.T, eng *docker.Client, step string, switched bool) {
	fp := filepath.Join(t.TempDir(), "failpoints")
	if err := os.WriteFile(fp, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	d := deployDaemon(t, eng, "BERTH_FAILPOINTS=@"+fp)
	app, host := "crash", "crash.test"
	d.mustBerth(t, "apps:create", app)
	d.mustBerth(t, "domains:add", app, host)
	if out, code := d.deployTar(t, app, appTar(t, crashApp("v1"))); code != 0 {
		t.Fatalf("first deploy: %d\n%s", code, out)
	}
	waitServed(t, d, host, "version=v1")
	oldWeb := containers(t, eng, d, app)["web.1"]
	d.mustBerth(t, "checks:set", app, "wait-to-retire", strconv.Itoa(retireWait))

	// The push dies with the daemon.
	if err := os.WriteFile(fp, []byte("deploy-"+step+"=kill\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	killedAt := time.Now()
	out, code := d.deployTar(t, app, appTar(t, crashApp("v2")))
	if code == 0 {
		t.Fatalf("the deploy succeeded through a kill at %s:\n%s", step, out)
	}
	select {
	case err := <-d.done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("the daemon ended with %v, want SIGKILL", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the daemon did not die at %s:\n%s", step, out)
	}
	if step == "predeploy" || step == "release-command" || step == "postdeploy" {
		if n := len(oneOffContainers(t, eng, d, app)); n != 1 {
			t.Errorf("%d deploy command containers at the kill, want 1", n)
		}
	}

	// The restart, without the failpoint.
	os.WriteFile(fp, nil, 0o600)
	d2, err := startDaemon(d.dataDir, d.extraEnv...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d2.stop(syscall.SIGKILL)
		d2.logTailIfFailed(t, "restarted daemon's")
	})
	d2.proxyAddr = firstNonEmpty(d2.proxyAddr, d.proxyAddr)
	live, want := 1, "version=v1"
	if switched {
		live, want = 2, "version=v2"
	}
	waitServed(t, d2, host, want)
	if switched {
		// Still there: it retires at its time, drained first.
		if time.Since(killedAt) < retireWait*time.Second-time.Second {
			if _, err := eng.InspectContainer(context.Background(), oldWeb.ID); err != nil {
				t.Errorf("the old web container is gone at the restart, before its wait-to-retire: %v", err)
			}
		}
		waitFor(t, 3*retireWait*time.Second, "the old web container to retire", func() bool {
			_, err := eng.InspectContainer(context.Background(), oldWeb.ID)
			return errors.Is(err, docker.ErrNotFound)
		})
		if !strings.Contains(d2.log.String(), "resuming the retirement of old containers") {
			t.Error("the restarted daemon did not resume the retire queue")
		}
	}
	// Every container of the app is the live release's, one per process.
	var left []string
	if !poll(30*time.Second, func() bool {
		cs, err := eng.ListContainers(context.Background(), map[string]string{"berth.instance": d.prefix(), "berth.app": app}, true)
		if err != nil {
			t.Fatal(err)
		}
		left = nil
		seen := map[string]bool{}
		ok := true
		for _, c := range cs {
			left = append(left, fmt.Sprintf("%s(%s %s release %s)", c.Name, c.Labels["berth.kind"], c.State, c.Labels["berth.release"]))
			if c.Labels["berth.kind"] != "process" || c.Labels["berth.release"] != strconv.Itoa(live) || c.State != "running" {
				ok = false
			}
			seen[c.Labels["berth.process"]+"."+c.Labels["berth.index"]] = true
		}
		return ok && len(cs) == 2 && seen["web.1"] && seen["worker.1"]
	}) {
		t.Fatalf("containers after the restart: %v, want web.1 and worker.1 of release %d", left, live)
	}
	// The image goes in the background (removing one can wait on the
	// engine's builds).
	var imgs []docker.ImageSummary
	gone := poll(60*time.Second, func() bool {
		var err error
		imgs, err = eng.ListImages(context.Background(), map[string]string{"berth.instance": d.prefix(), "berth.app": app, "berth.release": "2"})
		if err != nil {
			t.Fatal(err)
		}
		return switched || len(imgs) == 0
	})
	if !gone {
		t.Errorf("the interrupted release's image is left: %s %v", imgs[0].ID, imgs[0].Tags)
	}
	if switched && len(imgs) == 0 {
		t.Error("the live release's image is gone")
	}
	var rels []struct {
		Number int    `json:"number"`
		Status string `json:"status"`
		Error  string `json:"error"`
	}
	if err := jsonUnmarshal([]byte(d2.mustBerth(t, "releases", app, "--format", "json")), &rels); err != nil {
		t.Fatal(err)
	}
	wantStatus := "live superseded"
	if !switched {
		wantStatus = "failed live"
	}
	if len(rels) != 2 || rels[0].Status+" "+rels[1].Status != wantStatus || (!switched && !strings.HasPrefix(rels[0].Error, "interrupted")) {
		t.Errorf("releases = %+v, want %s (the failed one interrupted)", rels, wantStatus)
	}

	// The next deploy works: no lock held, names free.
	d2.mustBerth(t, "checks:set", app, "wait-to-retire", "0")
	if out, code := d2.deployTar(t, app, appTar(t, crashApp("v3"))); code != 0 {
		t.Fatalf("the deploy after the restart: %d\n%s", code, out)
	}
	waitServed(t, d2, host, "version=v3")
	if got := dynos(containers(t, eng, d2, app)); got != "web.1 worker.1" {
		t.Errorf("containers after the next deploy = %s", got)
	}
}

// oneOffContainers are the app's deploy command containers.
func oneOffContainers(t *testing.T, eng *docker.Client, d *daemon, app string) []docker.ContainerInfo {
	t.Helper()
	cs, err := eng.ListContainers(context.Background(), map[string]string{"berth.instance": d.prefix(), "berth.app": app, "berth.kind": "run"}, true)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// waitServed waits until the proxy answers for host with a body starting
// with want.
func waitServed(t *testing.T, d *daemon, host, want string) {
	t.Helper()
	var last string
	ok := poll(30*time.Second, func() bool {
		code, body := servedOnce(d, host, "/")
		last = strconv.Itoa(code) + " " + body
		return code == 200 && strings.HasPrefix(body, want)
	})
	if !ok {
		t.Fatalf("%s not served through the proxy: last answer %q", want, last)
	}
}

func poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// servedOnce asks the proxy for host's path once (0 when it did not answer).
func servedOnce(d *daemon, host, path string) (int, string) {
	req, _ := http.NewRequest(http.MethodGet, "http://"+d.proxyAddr+path, nil)
	req.Host = host
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
