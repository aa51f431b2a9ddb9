package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/docker"
)

// sshKey makes an ed25519 key pair in dir and returns the private key path.
func sshKey(t *testing.T, dir, name string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	return path
}

func sshOpts(key string, port string) []string {
	return []string{"-i", key, "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "-p", port}
}

// gitEnv is the environment of git commands that reach the daemon's ssh
// server with key.
func gitEnv(key, port string) []string {
	return append(os.Environ(), "GIT_SSH_COMMAND=ssh "+strings.Join(sshOpts(key, port), " "),
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
}

// sshRun runs a remote command with the OpenSSH client.
func sshRun(t *testing.T, key, user, addr string, stdin io.Reader, args ...string) (string, int) {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command("ssh", append(append(sshOpts(key, port), "--", user+"@"+host), args...)...)
	cmd.Stdin = stdin
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

// repo is a git checkout of the test app.
type repo struct {
	t   *testing.T
	dir string
	env []string
}

func newRepo(t *testing.T, key, port string, files map[string]string) *repo {
	t.Helper()
	r := &repo{t: t, dir: filepath.Join(t.TempDir(), "app"), env: gitEnv(key, port)}
	os.MkdirAll(r.dir, 0o755)
	bin, _ := os.ReadFile(filepath.Join(binDir, "testapp"))
	os.WriteFile(filepath.Join(r.dir, "testapp"), bin, 0o755)
	r.write(files)
	r.git("init", "-q", "-b", "main")
	r.commit("initial")
	return r
}

func (r *repo) write(files map[string]string) {
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(r.dir, n), []byte(c), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
}

func (r *repo) commit(msg string) {
	r.git("add", "-A")
	r.git("commit", "-q", "-m", msg)
}

func (r *repo) git(args ...string) string {
	r.t.Helper()
	out, code := r.try(args...)
	if code != 0 {
		r.t.Fatalf("git %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

func (r *repo) try(args ...string) (string, int) {
	cmd := exec.Command("git", args...)
	cmd.Dir, cmd.Env = r.dir, r.env
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		return err.Error(), -1
	}
	return string(out), 0
}

// sshDaemon starts a deploy daemon and registers an admin key.
func sshDaemon(t *testing.T, eng *docker.Client, extraEnv ...string) (*daemon, string, string) {
	t.Helper()
	d := deployDaemon(t, eng, extraEnv...)
	dir := t.TempDir()
	key := sshKey(t, dir, "admin")
	d.mustBerth(t, "ssh-keys:add", "admin", key+".pub")
	_, port, _ := net.SplitHostPort(d.sshAddr)
	return d, key, port
}

func webVersion(t *testing.T, eng *docker.Client, d *daemon, app string) string {
	t.Helper()
	c, ok := containers(t, eng, d, app)["web.1"]
	if !ok {
		t.Fatalf("%s has no web.1", app)
	}
	return strings.TrimSpace(httpGet(t, c.HostPort, "/"))
}

func TestGitPushDeploysAndClones(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d, key, port := sshDaemon(t, eng)
	r := newRepo(t, key, port, map[string]string{"Dockerfile": dockerfile("v1"), "Procfile": procfile, "DOKKU_SCALE": "web=1\nworker=1\n"})
	// The seed's form: user@host:app (the port comes from GIT_SSH_COMMAND).
	r.git("remote", "add", "dokku", "dokku@127.0.0.1:shop")
	out := r.git("push", "dokku", "main")
	for _, want := range []string{"-----> Created app shop", "remote: -----> Building shop from Dockerfile", "remote: -----> Application deployed: shop release 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("push output lacks %q:\n%s", want, out)
		}
	}
	if v := webVersion(t, eng, d, "shop"); !strings.HasPrefix(v, "version=v1 dyno=web.1") {
		t.Fatalf("served %q", v)
	}
	rev := strings.TrimSpace(r.git("rev-parse", "HEAD"))
	var env map[string]string
	decodeJSON(t, httpGet(t, containers(t, eng, d, "shop")["web.1"].HostPort, "/env"), &env)
	if env["GIT_REV"] != rev {
		t.Errorf("GIT_REV = %q, want %s", env["GIT_REV"], rev)
	}

	// A new commit, pushed with the ssh:// form, is a new release.
	r.write(map[string]string{"Dockerfile": dockerfile("v2")})
	r.commit("v2")
	r.git("remote", "add", "berth", "ssh://berth@127.0.0.1:"+port+"/shop")
	out = r.git("push", "berth", "main")
	if !strings.Contains(out, "Application deployed: shop release 2") {
		t.Errorf("second push:\n%s", out)
	}
	if v := webVersion(t, eng, d, "shop"); !strings.HasPrefix(v, "version=v2") {
		t.Errorf("after second push served %q", v)
	}
	if out := d.mustBerth(t, "git:report", "shop", "--git-deploy-branch"); strings.TrimSpace(out) != "main" {
		t.Errorf("deploy branch = %q", out)
	}

	// Another branch is stored, not deployed, with a warning.
	out = r.git("push", "berth", "main:feature")
	if !strings.Contains(out, "Pushed branch feature is stored but not deployed") {
		t.Errorf("push of another branch:\n%s", out)
	}
	if strings.Contains(out, "Application deployed") {
		t.Errorf("another branch was deployed:\n%s", out)
	}

	// Clone it back (upload-pack).
	clone := filepath.Join(t.TempDir(), "clone")
	cmd := exec.Command("git", "clone", "-q", "ssh://berth@127.0.0.1:"+port+"/shop", clone)
	cmd.Env = r.env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("clone: %v\n%s", err, out)
	}
	got, _ := os.ReadFile(filepath.Join(clone, "Dockerfile"))
	if string(got) != dockerfile("v2") {
		t.Errorf("cloned Dockerfile = %q", got)
	}

	// A failed build fails the push; the old release keeps serving.
	r.write(map[string]string{"Dockerfile": dockerfile("v3", "RUN echo about to fail && exit 7")})
	r.commit("broken")
	out, code := r.try("push", "berth", "main")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code == 0 || !strings.Contains(out, "remote:  !     Deploy failed at step build") || !strings.Contains(out, "pre-receive hook declined") {
		t.Errorf("failed build: exit %d\n%s", code, out)
	}
	if len(lines) > 6 && !strings.Contains(strings.Join(lines[len(lines)-6:], "\n"), "Deploy failed") {
		t.Errorf("the reason is not in the last lines:\n%s", out)
	}
	if v := webVersion(t, eng, d, "shop"); !strings.HasPrefix(v, "version=v2") {
		t.Errorf("after a failed push served %q", v)
	}

	// keep-git-dir puts the repository in the build context.
	d.mustBerth(t, "git:set", "shop", "keep-git-dir", "true")
	r.write(map[string]string{"Dockerfile": dockerfile("v4", "COPY .git /gitdir", "RUN test -f /gitdir/HEAD && grep -q refs/heads/main /gitdir/HEAD")})
	r.commit("keep git dir")
	if out, code := r.try("push", "berth", "main"); code != 0 || !strings.Contains(out, "release") {
		t.Errorf("push with keep-git-dir: exit %d\n%s", code, out)
	}
}

func decodeJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := jsonUnmarshal([]byte(s), v); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
}

func TestConcurrentPushes(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	srv, key, port := sshDaemon(t, eng)
	slow := newRepo(t, key, port, map[string]string{"Dockerfile": dockerfile("v1", nonce(), "RUN echo slow-step && sleep 8"), "Procfile": "web: testapp web\n"})
	slow.git("remote", "add", "berth", "ssh://berth@127.0.0.1:"+port+"/one")
	other := newRepo(t, key, port, map[string]string{"Dockerfile": dockerfile("v1"), "Procfile": "web: testapp web\n"})
	other.git("remote", "add", "one", "ssh://berth@127.0.0.1:"+port+"/one")
	other.git("remote", "add", "two", "ssh://berth@127.0.0.1:"+port+"/two")
	// The app exists before the race, so both pushes reach the lock.
	srv.mustBerth(t, "apps:create", "one")
	// The second push's objects (the 8 MB test app) are sent beforehand to
	// a branch that is not deployed: under load, sending them during the
	// race took longer than the slow build, which then let it deploy.
	srv.mustBerth(t, "git:set", "one", "deploy-branch", "main")
	other.git("push", "one", "main:objects")

	cmd := exec.Command("git", "push", "berth", "main")
	cmd.Dir, cmd.Env = slow.dir, slow.env
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var slowOut strings.Builder
	building, deployed := make(chan struct{}), make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		once, once2 := sync.Once{}, sync.Once{}
		for sc.Scan() {
			slowOut.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "slow-step") {
				once.Do(func() { close(building) })
			}
			if strings.Contains(sc.Text(), "Application deployed") {
				once2.Do(func() { close(deployed) })
			}
		}
	}()
	select {
	case <-building:
	case <-time.After(60 * time.Second):
		t.Fatalf("the slow push never started building:\n%s", slowOut.String())
	}
	// Same app while it deploys: refused at once, naming the holder.
	start := time.Now()
	out, code := other.try("push", "-f", "one", "main")
	if code == 0 || !strings.Contains(out, "one is being deployed by a git push by key admin since") {
		t.Errorf("second push to the same app: exit %d\n%s", code, out)
	}
	// It did not wait for the lock: the slow deploy is still building.
	select {
	case <-deployed:
		t.Errorf("the refused push returned only after the slow deploy ended (%v): it should fail at once", time.Since(start))
	default:
	}
	// Another app deploys in parallel.
	if out, code := other.try("push", "two", "main"); code != 0 || !strings.Contains(out, "Application deployed: two release 1") {
		t.Errorf("push to another app during the deploy: exit %d\n%s", code, out)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("slow push: %v\n%s", err, slowOut.String())
	}
	pw.Close()
	<-done
}

func TestKeyAccessOverSSH(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d, admin, port := sshDaemon(t, eng)
	dir := t.TempDir()
	limited := sshKey(t, dir, "dev")
	stranger := sshKey(t, dir, "stranger")
	d.mustBerth(t, "ssh-keys:add", "--apps", "shop", "dev", limited+".pub")
	d.mustBerth(t, "apps:create", "secret")
	d.mustBerth(t, "config:set", "--no-restart", "secret", "TOKEN=hidden")
	addr := d.sshAddr

	// An unknown key is refused at authentication.
	if out, code := sshRun(t, stranger, "berth", addr, nil, "apps:list"); code != 255 || !strings.Contains(out, "Permission denied (publickey)") {
		t.Errorf("unknown key: exit %d %q", code, out)
	}
	// The limited key may push to its app (creating it)...
	r := newRepo(t, limited, port, map[string]string{"Dockerfile": dockerfile("v1"), "Procfile": "web: testapp web\n"})
	r.git("remote", "add", "shop", "berth@127.0.0.1:shop")
	r.git("remote", "add", "secret", "berth@127.0.0.1:secret")
	if out, code := r.try("push", "shop", "main"); code != 0 {
		t.Fatalf("limited key push to its app: %d\n%s", code, out)
	}
	// ... and run its app's commands...
	if out, code := sshRun(t, limited, "berth", addr, nil, "config:set", "--no-restart", "shop", "'GREETING=hello world'"); code != 0 {
		t.Errorf("config:set on own app: %d %q", code, out)
	}
	if out, _ := sshRun(t, limited, "berth", addr, nil, "config:get", "shop", "GREETING"); out != "hello world\n" {
		t.Errorf("config:get = %q: spaces did not survive", out)
	}
	if out, code := sshRun(t, limited, "berth", addr, nil, "apps:list"); code != 0 || strings.Contains(out, "secret") || !strings.Contains(out, "shop") {
		t.Errorf("apps:list for a limited key: %d %q", code, out)
	}
	// ... but nothing of other apps, and no admin command.
	if out, code := r.try("push", "secret", "main"); code == 0 || !strings.Contains(out, "Permission denied") {
		t.Errorf("push to another app: %d\n%s", code, out)
	}
	clone := exec.Command("git", "clone", "-q", "berth@127.0.0.1:secret", filepath.Join(t.TempDir(), "c"))
	clone.Env = r.env
	if out, err := clone.CombinedOutput(); err == nil || !strings.Contains(string(out), "Permission denied") {
		t.Errorf("clone of another app: %v\n%s", err, out)
	}
	for _, args := range [][]string{
		{"config:get", "secret", "TOKEN"},
		{"config", "secret"},
		{"run", "secret", "env"},
		{"logs", "secret"},
		{"--app", "secret", "config:keys"},
		{"apps:create", "new"},
		{"apps:destroy", "--force", "shop"},
		{"ssh-keys:list"},
		{"ssh-keys:add", "x"},
		{"config:set", "--global", "A=1"},
		{"ps:restart", "--all"},
		{"cleanup"},
	} {
		out, code := sshRun(t, limited, "berth", addr, nil, args...)
		if code != 1 || !strings.Contains(out, "Permission denied") || strings.Contains(out, "hidden") {
			t.Errorf("limited key %v: exit %d %q", args, code, out)
		}
	}
	// Bad names never reach git.
	for _, name := range []string{"'sh;op'", "'../etc'", "'a b'", "'$(id)'"} {
		out, code := sshRun(t, admin, "berth", addr, nil, "git-receive-pack", name)
		if code != 1 || !strings.Contains(out, "Invalid app name") {
			t.Errorf("git-receive-pack %s: exit %d %q", name, code, out)
		}
	}
	// No shell.
	if out, code := sshRun(t, admin, "berth", addr, nil); code == 0 || !strings.Contains(out, "does not give shells") {
		t.Errorf("shell request: %d %q", code, out)
	}
	// Remote exit codes are the local ones.
	for _, tc := range []struct {
		args []string
		code int
	}{{[]string{"apps:exists", "shop"}, 0}, {[]string{"apps:exists", "nope"}, 20}, {[]string{"config:set", "shop"}, 1}, {[]string{"nope:nope"}, 1}} {
		if out, code := sshRun(t, admin, "berth", addr, nil, tc.args...); code != tc.code {
			t.Errorf("ssh %v: exit %d, want %d (%q)", tc.args, code, tc.code, out)
		}
	}
	// Access can be widened later.
	d.mustBerth(t, "ssh-keys:access", "dev", "shop,secret")
	if out, code := sshRun(t, limited, "berth", addr, nil, "config:get", "secret", "TOKEN"); code != 0 || out != "hidden\n" {
		t.Errorf("after ssh-keys:access: %d %q", code, out)
	}
	// A removed key is refused.
	d.mustBerth(t, "ssh-keys:remove", "dev")
	if _, code := sshRun(t, limited, "berth", addr, nil, "apps:list"); code != 255 {
		t.Errorf("removed key: exit %d, want 255", code)
	}
}

// TestDisconnectMidPushReleasesTheLock kills a push while it builds: the
// deploy is abandoned, no release stays pending, and the next push works.
func TestDisconnectMidPushReleasesTheLock(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d, key, port := sshDaemon(t, eng)
	r := newRepo(t, key, port, map[string]string{"Dockerfile": dockerfile("v1", nonce(), "RUN echo slow-step && sleep 5"), "Procfile": "web: testapp web\n"})
	r.git("remote", "add", "berth", "ssh://berth@127.0.0.1:"+port+"/shop")
	cmd := exec.Command("git", "push", "berth", "main")
	cmd.Dir, cmd.Env = r.dir, r.env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "slow-step") {
			break
		}
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // git and its ssh
	cmd.Wait()
	pw.Close()
	// The daemon notices, the deploy unwinds and the lock goes.
	deadline := time.Now().Add(30 * time.Second)
	for {
		out := d.mustBerth(t, "releases", "shop")
		if strings.Contains(out, "failed") && !strings.Contains(out, "pending") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the abandoned deploy is still going:\n%s", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	r.write(map[string]string{"Dockerfile": dockerfile("v2")})
	r.commit("fast")
	if out, code := r.try("push", "berth", "main"); code != 0 || !strings.Contains(out, "Application deployed") {
		t.Errorf("push after the disconnect: %d\n%s", code, out)
	}
	if got := dynos(containers(t, eng, d, "shop")); got != "web.1" {
		t.Errorf("running %q", got)
	}
	_ = fmt.Sprint()
}
