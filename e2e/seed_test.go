package e2e

import (
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/testacme"
)

// seedProject copies the seed's Django project (e2e/testdata/seed/project,
// laid out as the walkthrough lays it out: the Dokku files in misc/dokku/,
// copied into the image by the Dockerfile) into a new git repository.
func seedProject(t *testing.T, env []string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "yourproject")
	src := filepath.Join("testdata", "seed", "project")
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dir, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if info, _ := d.Info(); info != nil && info.Mode()&0o111 != 0 {
			mode = 0o755
		}
		return os.WriteFile(filepath.Join(dir, rel), b, mode)
	})
	if err != nil {
		t.Fatal(err)
	}
	// manage.py is run as /code/manage.py by the Procfile's neighbours.
	os.Chmod(filepath.Join(dir, "manage.py"), 0o755)
	for _, args := range [][]string{{"init", "-q", "-b", "master"}, {"add", "-A"}, {"commit", "-qm", "yourproject"}} {
		cmd := exec.Command("git", args...)
		cmd.Dir, cmd.Env = dir, env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	return dir
}

// dokku runs the dokku name of the binary, as the walkthrough does.
func (d *daemon) dokku(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "dokku"), args...)
	cmd.Env = d.env()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("dokku %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// viaProxy sends GET url to the proxy at addr, whatever the URL's host.
func viaProxy(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestSeedWalkthrough runs the walkthrough in ../shared/seed as written, on
// its own project: Django served by uwsgi, a Celery worker, Postgres and
// Redis, with app.json, CHECKS, DOKKU_SCALE and the Procfile in
// misc/dokku/, copied into the image at /code and /app by the Dockerfile.
// The push goes over the host's OpenSSH as dokku@host:yourproject. The
// image's Procfile runs web and worker, its app.json migrates in predeploy,
// its CHECKS (//www.yourproject.com/, which Django's ALLOWED_HOSTS
// accepts) gate the switch, and DOKKU_SCALE sets the formation; then the
// domain, Let's Encrypt (Pebble), redirect and `--rm run` steps pass.
func TestSeedWalkthrough(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	requireImage(t, eng, "berth-test/python:3")
	acme := testacme.Start(t)
	roots := filepath.Join(t.TempDir(), "pebble-roots.pem")
	if err := os.WriteFile(roots, acme.CARoots, 0o600); err != nil {
		t.Fatal(err)
	}
	sshEnv, sshUser := seedSSHUser(t)
	d := serviceDaemon(t, eng, append(sshEnv, fmt.Sprintf("BERTH_HTTP_ADDR=127.0.0.1:%d", acme.HTTPPort), "BERTH_ACME_CA_ROOTS="+roots)...)
	// The server as Dokku's installer leaves it: a global domain, so a new
	// app answers at APP.yourdokku.com ("the testing subdomain"). Pebble
	// stands in for Let's Encrypt.
	d.dokku(t, "domains:set-global", "yourdokku.com")
	d.dokku(t, "letsencrypt:set", "--global", "server", acme.Directory)

	// "Preparing the server", as written (sudo dropped: the test is root).
	for _, args := range [][]string{
		{"apps:create", "yourproject"},
		{"plugin:install", "https://github.com/dokku/dokku-postgres.git"},
		{"postgres:create", "yourproject-database"},
		{"plugin:install", "https://github.com/dokku/dokku-redis.git", "redis"},
		{"redis:create", "yourproject-redis"},
		{"postgres:link", "yourproject-database", "yourproject"},
		{"redis:link", "yourproject-redis", "yourproject"},
		{"config:set", "--no-restart", "--global", "NODEBUG=1"},
		{"config:set", "--no-restart", "yourproject", "SECRET_KEY=somelongkey"},
	} {
		d.dokku(t, args...)
	}

	// git remote add dokku dokku@yourdokku.com:yourproject; git push dokku master
	// The host's own sshd on port 22's behalf; the daemon set up the dokku
	// user and its authorized_keys, and keeps them in step with ssh-keys:add.
	key := sshKey(t, t.TempDir(), "me")
	d.dokku(t, "ssh-keys:add", "me", key+".pub")
	_, sshPort, _ := net.SplitHostPort(startSSHD(t, ".ssh/authorized_keys"))
	env := gitEnv(key, sshPort)
	dir := seedProject(t, env)
	git := func(args ...string) (string, error) {
		cmd := exec.Command("git", args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := git("remote", "add", "dokku", sshUser+"@127.0.0.1:yourproject"); err != nil {
		t.Fatalf("git remote add: %v\n%s", err, out)
	}
	out, err := git("push", "dokku", "master")
	if err != nil {
		t.Fatalf("git push dokku master: %v\n%s", err, out)
	}
	for _, want := range []string{
		"Procfile: found in the image at /code/Procfile",
		"app.json: found in the image at /code/app.json",
		"CHECKS: found in the image at /code/CHECKS",
		"DOKKU_SCALE: found in the image at /code/DOKKU_SCALE",
		"Applying main.0001_initial... OK",   // the predeploy migration, against Postgres
		"(GET /, Host: www.yourproject.com)", // CHECKS //www.yourproject.com/, as the seed wrote it
		"Application deployed: yourproject release 1",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("push output lacks %q:\n%s", want, out)
		}
	}
	cs := containers(t, eng, d, "yourproject")
	if got := dynos(cs); got != "web.1 worker.1" {
		t.Errorf("processes after the push: %s (want web.1 worker.1 from DOKKU_SCALE)", got)
	}
	for dyno, c := range cs {
		if want := d.prefix() + "-yourproject." + dyno; c.Name != want {
			t.Errorf("container %s is named %s, want %s", dyno, c.Name, want)
		}
	}

	// Django answers through Berth's proxy at the host its settings allow,
	// and a Celery job goes web → Redis → worker → Postgres.
	plain := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: dialTo(d.proxyAddr)}}
	d.dokku(t, "domains:add", "yourproject", "yourproject.com", "www.yourproject.com")
	d.dokku(t, "domains:remove", "yourproject", "yourproject.yourdokku.com")
	if code, body := viaProxy(t, plain, "http://www.yourproject.com/"); code != 200 || body != "yourproject is up\n" {
		t.Fatalf("http://www.yourproject.com/: %d %q", code, body)
	}
	if code, body := viaProxy(t, plain, "http://www.yourproject.com/enqueue?name=first"); code != 200 {
		t.Fatalf("enqueue: %d %q", code, body)
	}
	waitFor(t, 60*time.Second, "the Celery worker to complete the job", func() bool {
		_, body := viaProxy(t, plain, "http://www.yourproject.com/done?name=first")
		return body == "done"
	})

	// TLS and the redirect, as written.
	for _, args := range [][]string{
		{"plugin:install", "https://github.com/dokku/dokku-letsencrypt.git"},
		{"config:set", "--no-restart", "--global", "DOKKU_LETSENCRYPT_EMAIL=me@example.com"},
		{"letsencrypt", "yourproject"},
		{"letsencrypt:cron-job", "--add"},
		{"plugin:install", "https://github.com/dokku/dokku-redirect.git"},
		{"redirect:set", "yourproject", "yourproject.com", "www.yourproject.com"},
	} {
		d.dokku(t, args...)
	}
	https := issuedClient(t, acme, d.proxyTLSAddr)
	resp, body := get(t, https, "https://www.yourproject.com/")
	if resp.StatusCode != 200 || body != "yourproject is up\n" {
		t.Errorf("https://www.yourproject.com/: %d %q", resp.StatusCode, body)
	}
	resp, _ = get(t, https, "https://yourproject.com/enqueue?x=1")
	if loc := resp.Header.Get("Location"); resp.StatusCode/100 != 3 || loc != "https://www.yourproject.com/enqueue?x=1" {
		t.Errorf("https://yourproject.com/: %d to %q", resp.StatusCode, loc)
	}

	// sudo dokku --rm run yourproject /code/manage.py shell
	cmd := exec.Command(filepath.Join(binDir, "dokku"), "--rm", "run", "yourproject", "/code/manage.py", "shell")
	cmd.Env = d.env()
	cmd.Stdin = strings.NewReader("from main.models import Job\nprint('jobs done:', Job.objects.filter(done=True).count())\n")
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "jobs done: 1") {
		t.Errorf("--rm run yourproject /code/manage.py shell: %v\n%s", err, out)
	}
	if runs := d.dokku(t, "run:list", "yourproject"); strings.Contains(runs, "run.") {
		t.Errorf("--rm left a one-off container:\n%s", runs)
	}
}

// seedSSHUser turns OpenSSH mode on for the test's daemon as the user
// dokku, as the walkthrough pushes (dokku@host:app), with its home in a
// temporary directory; the user is deleted at the end. On a machine where a
// dokku user already exists (a real install), that user is left alone and
// the test's own user stands in for it.
func seedSSHUser(t *testing.T) ([]string, string) {
	t.Helper()
	env, users := opensshUsers(t)
	user := "dokku"
	if exec.Command("getent", "passwd", "dokku").Run() == nil {
		user = users[1]
		t.Logf("a dokku user exists on this machine: the push goes as %s@ instead, leaving it alone", user)
	} else {
		t.Cleanup(func() { exec.Command("userdel", "dokku").Run() })
	}
	for i, kv := range env {
		if strings.HasPrefix(kv, "BERTH_OPENSSH_USERS=") {
			env[i] = "BERTH_OPENSSH_USERS=" + user
		}
	}
	return env, user
}
