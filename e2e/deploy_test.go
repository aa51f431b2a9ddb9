package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/docker"
)

// requireDocker returns a client for the test's own checks on the engine.
// It fails when BERTH_REQUIRE_DOCKER=1 (CI) and skips otherwise.
func requireDocker(t *testing.T) *docker.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := docker.New(ctx)
	if err == nil {
		if _, err = c.InspectImage(ctx, "berth-test/busybox:1"); err != nil {
			err = fmt.Errorf("image berth-test/busybox:1: %w (run scripts/build-test-images)", err)
		}
	}
	if err != nil {
		if os.Getenv("BERTH_REQUIRE_DOCKER") == "1" {
			t.Fatalf("Docker is required (BERTH_REQUIRE_DOCKER=1): %v", err)
		}
		t.Skipf("no usable Docker Engine (set BERTH_REQUIRE_DOCKER=1 to fail instead): %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

var prefixSeq atomic.Int64

// deployDaemon starts a daemon with its own Docker name prefix and a short
// uptime check, and removes what it created on the engine at the end.
func deployDaemon(t *testing.T, eng *docker.Client, extraEnv ...string) *daemon {
	t.Helper()
	return deployDaemonOn(t, eng, shortTempDir(t), extraEnv...)
}

// deployDaemonOn is deployDaemon on a data dir the test made (a tmpfs, say).
func deployDaemonOn(t *testing.T, eng *docker.Client, dir string, extraEnv ...string) *daemon {
	t.Helper()
	d := instanceDaemon(t, eng, dir, extraEnv...)
	d.mustBerth(t, "checks:set", "--global", "default-uptime-seconds", "1")
	// Old containers retire as soon as the new ones took over (after the
	// drain), so tests see one generation; zero-downtime tests set more.
	d.mustBerth(t, "checks:set", "--global", "wait-to-retire", "0")
	return d
}

// instanceDaemon starts a daemon on dir with a name prefix of its own. At
// the end of the test it is killed, its log's tail shown if the test
// failed, and (when eng is not nil) what its instance made on eng removed.
func instanceDaemon(t *testing.T, eng *docker.Client, dir string, extraEnv ...string) *daemon {
	t.Helper()
	prefix := fmt.Sprintf("bt%d-%d", os.Getpid()%100000, prefixSeq.Add(1))
	d, err := startDaemon(dir, append([]string{"BERTH_NAME_PREFIX=" + prefix}, extraEnv...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.stop(syscall.SIGKILL)
		d.logTailIfFailed(t, "daemon")
		if eng != nil {
			removeInstance(eng, prefix)
		}
	})
	return d
}

// logTailIfFailed shows the end of the daemon's log when t failed.
func (d *daemon) logTailIfFailed(t *testing.T, what string) {
	if t.Failed() {
		l := d.log.String()
		t.Logf("%s log (tail):\n%s", what, l[max(0, len(l)-8000):])
	}
}

// removeInstance removes the containers, images and networks of one
// instance (a name prefix) from eng.
func removeInstance(eng *docker.Client, prefix string) {
	ctx := context.Background()
	cs, _ := eng.ListContainers(ctx, map[string]string{"berth.instance": prefix}, true)
	for _, c := range cs {
		eng.RemoveContainer(ctx, c.ID, true)
	}
	imgs, _ := eng.ListImages(ctx, map[string]string{"berth.instance": prefix})
	for _, img := range imgs {
		removeImageKeepParents(img.ID)
	}
	// The services' and apps' networks: left behind, networks use up the
	// address pools.
	nets, _ := eng.ListNetworks(ctx, map[string]string{"berth.instance": prefix})
	for _, n := range nets {
		eng.RemoveNetwork(ctx, n.Name)
	}
	eng.RemoveNetwork(ctx, prefix+"-berth")
}

// mustBerth runs berth and fails the test unless it exits 0.
func (d *daemon) mustBerth(t *testing.T, args ...string) string {
	t.Helper()
	out, code := d.berth(args...)
	if code != 0 {
		t.Fatalf("berth %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// berthIn runs berth with stdin.
func (d *daemon) berthIn(stdin io.Reader, args ...string) (string, int) {
	cmd := exec.Command(filepath.Join(binDir, "berth"), args...)
	cmd.Env = d.env()
	cmd.Stdin = stdin
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		return err.Error(), -1
	}
	return string(out), 0
}

// appTar makes a tar.gz of a test app: the testapp binary plus files.
func appTar(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	bin, err := os.ReadFile(filepath.Join(binDir, "testapp"))
	if err != nil {
		t.Fatal(err)
	}
	add := func(name string, mode int64, data []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(data)
	}
	add("testapp", 0o755, bin)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		add(n, 0o644, []byte(files[n]))
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

// dockerfile is the test app's Dockerfile, with an APP_VERSION.
func dockerfile(version string, extra ...string) string {
	return "FROM berth-test/busybox:1\nCOPY testapp /usr/bin/testapp\nENV APP_VERSION=" + version + "\n" + strings.Join(extra, "\n") + "\nCMD [\"testapp\", \"web\"]\n"
}

const procfile = "web: testapp web\nworker: testapp worker\nonce: testapp exit 4\n"

// deployTar deploys a tar through git:from-archive on stdin.
func (d *daemon) deployTar(t *testing.T, app string, tarball []byte) (string, int) {
	t.Helper()
	return d.berthIn(bytes.NewReader(tarball), "git:from-archive", app, "-")
}

// containers returns the app's running containers by dyno (TYPE.N).
func containers(t *testing.T, eng *docker.Client, d *daemon, app string) map[string]docker.ContainerInfo {
	t.Helper()
	cs, err := eng.ListContainers(context.Background(), map[string]string{"berth.instance": d.prefix(), "berth.app": app, "berth.kind": "process"}, false)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]docker.ContainerInfo{}
	for _, c := range cs {
		out[c.Labels["berth.process"]+"."+c.Labels["berth.index"]] = c
	}
	return out
}

func dynos(m map[string]docker.ContainerInfo) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, " ")
}

func httpGet(t *testing.T, port int, path string) string {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	var lastErr error
	for range 50 {
		resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return string(b)
		}
		lastErr = err
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("GET 127.0.0.1:%d%s: %v", port, path, lastErr)
	return ""
}

// TestDeployFromArchive is the "done when": a tar of a repo with a
// Dockerfile, a Procfile (web, worker) and DOKKU_SCALE runs with the right
// containers, env and scale.
func TestDeployFromArchive(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d := deployDaemon(t, eng)
	d.mustBerth(t, "apps:create", "shop")
	d.mustBerth(t, "config:set", "--global", "NODEBUG=1", "SHARED=global")
	d.mustBerth(t, "config:set", "--no-restart", "shop", "SECRET_KEY=s3cret value", "SHARED=app")
	out, code := d.deployTar(t, "shop", appTar(t, map[string]string{
		"Dockerfile":  dockerfile("v1"),
		"Procfile":    procfile,
		"DOKKU_SCALE": "web=1\nworker=2\n",
	}))
	if code != 0 {
		t.Fatalf("deploy failed (exit %d):\n%s", code, out)
	}
	for _, want := range []string{"-----> Building shop from Dockerfile", "Step 1/", "-----> Releasing shop (release 1): web=1 once=0 worker=2", "-----> Application deployed: shop release 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("deploy output lacks %q:\n%s", want, out)
		}
	}
	cs := containers(t, eng, d, "shop")
	if got := dynos(cs); got != "web.1 worker.1 worker.2" {
		t.Fatalf("running dynos = %q, want web.1 worker.1 worker.2", got)
	}
	web := cs["web.1"]
	if web.HostPort == 0 {
		t.Fatalf("web.1 publishes no port: %+v", web)
	}
	if !strings.HasSuffix(web.Name, "shop.web.1") {
		t.Errorf("web container name = %q, want PREFIX-shop.web.1", web.Name)
	}
	var env map[string]string
	if err := json.Unmarshal([]byte(httpGet(t, web.HostPort, "/env")), &env); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"PORT": "5000", "DYNO": "web.1", "NODEBUG": "1", "SHARED": "app", "SECRET_KEY": "s3cret value", "APP_VERSION": "v1"} {
		if env[k] != want {
			t.Errorf("web env %s = %q, want %q", k, env[k], want)
		}
	}
	det, err := eng.InspectContainer(context.Background(), cs["worker.2"].ID)
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		HostConfig struct {
			Init          *bool
			RestartPolicy struct {
				Name              string
				MaximumRetryCount int
			}
			PortBindings map[string][]struct{ HostIP string }
		}
		Config struct {
			StopTimeout *int
			Env         []string
		}
	}
	json.Unmarshal(det.Raw, &raw)
	if raw.HostConfig.Init == nil || !*raw.HostConfig.Init || raw.HostConfig.RestartPolicy.Name != "on-failure" || raw.HostConfig.RestartPolicy.MaximumRetryCount != 10 || raw.Config.StopTimeout == nil || *raw.Config.StopTimeout != 30 {
		t.Errorf("worker.2 host config: init=%v restart=%+v stop-timeout=%v", raw.HostConfig.Init, raw.HostConfig.RestartPolicy, raw.Config.StopTimeout)
	}
	if !contains(raw.Config.Env, "DYNO=worker.2") || contains(raw.Config.Env, "PORT=5000") {
		t.Errorf("worker.2 env = %v: want DYNO=worker.2 and no PORT", raw.Config.Env)
	}
	wdet, _ := eng.InspectContainer(context.Background(), web.ID)
	json.Unmarshal(wdet.Raw, &raw)
	for _, b := range raw.HostConfig.PortBindings["5000/tcp"] {
		if b.HostIP != "127.0.0.1" {
			t.Errorf("web port bound on %q, want 127.0.0.1 only", b.HostIP)
		}
	}

	// Scaling up and down, checked on the engine.
	d.mustBerth(t, "ps:scale", "shop", "web=2", "worker=1")
	if got := dynos(containers(t, eng, d, "shop")); got != "web.1 web.2 worker.1" {
		t.Fatalf("after ps:scale web=2 worker=1: %q", got)
	}
	out = d.mustBerth(t, "ps:scale", "shop", "--format", "json")
	if strings.TrimSpace(out) != `[{"process_type":"once","quantity":0},{"process_type":"web","quantity":2},{"process_type":"worker","quantity":1}]` {
		t.Errorf("ps:scale --format json = %s", out)
	}
	d.mustBerth(t, "ps:scale", "shop", "worker=0")
	if got := dynos(containers(t, eng, d, "shop")); got != "web.1 web.2" {
		t.Fatalf("after worker=0: %q", got)
	}
	// --skip-deploy records without touching containers.
	d.mustBerth(t, "ps:scale", "--skip-deploy", "shop", "worker=1")
	if got := dynos(containers(t, eng, d, "shop")); got != "web.1 web.2" {
		t.Fatalf("after --skip-deploy: %q", got)
	}

	// Bad scale input: one line, exit 1, nothing changed.
	for _, tc := range []struct{ arg, want string }{
		{"nope=1", "nope is not a valid process name to scale up"},
		{"web=-1", "Invalid count for process type web"},
		{"web=x", "Invalid count for process type web"},
		{"web", "Missing count for process type web"},
	} {
		out, code := d.berth("ps:scale", "shop", tc.arg)
		if code != 1 || !strings.Contains(out, tc.want) {
			t.Errorf("ps:scale %s: exit %d %q, want 1 and %q", tc.arg, code, out, tc.want)
		}
	}
	if got := dynos(containers(t, eng, d, "shop")); got != "web.1 web.2" {
		t.Fatalf("after bad scale input: %q", got)
	}

	// ps:report and releases.
	out = d.mustBerth(t, "ps:report", "shop", "--running")
	if strings.TrimSpace(out) != "true" {
		t.Errorf("ps:report --running = %q", out)
	}
	out = d.mustBerth(t, "releases", "shop")
	if !strings.Contains(out, "v1    live") {
		t.Errorf("releases:\n%s", out)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// prefix is the daemon's BERTH_NAME_PREFIX.
func (d *daemon) prefix() string {
	for _, e := range d.extraEnv {
		if v, ok := strings.CutPrefix(e, "BERTH_NAME_PREFIX="); ok {
			return v
		}
	}
	return ""
}

var jsonUnmarshal = json.Unmarshal

// nonce returns a Dockerfile line that defeats the build cache for the lines
// after it, so a slow step is slow on every run.
func nonce() string {
	return fmt.Sprintf("ENV BERTH_TEST_NONCE=%d", time.Now().UnixNano())
}

// removeImageKeepParents removes a test's image but not its untagged parent
// layers: tests build the same Dockerfiles in parallel, and another test's
// build may be about to use one of those layers as its cache (removing it
// fails that build with "failed to get digest"). The layers left are
// dangling and small; `docker image prune` takes them.
func removeImageKeepParents(ref string) {
	exec.Command("docker", "image", "rm", "--force", "--no-prune", ref).Run()
}
