package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/app"
)

// procScanner reads every process's command line (/proc/*/cmdline) until
// stopped, and remembers those that contain one of the needles.
type procScanner struct {
	needles []string
	stop    chan struct{}
	done    chan struct{}
	mu      sync.Mutex
	found   []string
	scans   int
}

func scanProcs(needles ...string) *procScanner {
	s := &procScanner{needles: needles, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			s.once()
			select {
			case <-s.stop:
				s.once()
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	return s
}

func (s *procScanner) once() {
	paths, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		line := strings.ReplaceAll(string(b), "\x00", " ")
		for _, n := range s.needles {
			if strings.Contains(line, n) {
				s.mu.Lock()
				s.found = append(s.found, p+": "+line)
				s.mu.Unlock()
			}
		}
	}
	s.mu.Lock()
	s.scans++
	s.mu.Unlock()
}

func (s *procScanner) finish() (found []string, scans int) {
	close(s.stop)
	<-s.done
	return s.found, s.scans
}

// TestSecretsNeverShown: config values, a linked service's password and a
// certificate's private key appear in no process's command line while the
// app deploys, nor in ps:report and the other reports, error messages, the
// release image's metadata (env, labels, history) or the daemon's log
// (at debug level). ps:inspect is left out: it is the engine's inspect
// JSON, env included, for a key that may read the config anyway.
func TestSecretsNeverShown(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	requireServiceImages(t)
	d := deployDaemon(t, eng, append([]string{"BERTH_LOG_LEVEL=debug"}, serviceImageEnv...)...)
	d.mustBerth(t, "apps:create", "shop")
	d.mustBerth(t, "domains:set", "shop", "shop.test")
	value := "cfg-9d2b41e7"
	d.mustBerth(t, "config:set", "--no-restart", "shop", "SECRET_KEY="+value, "API_TOKEN=tok-"+value)
	d.mustBerth(t, "postgres:create", "db")
	d.mustBerth(t, "postgres:link", "--no-restart", "db", "shop")
	dsn := strings.TrimSpace(d.mustBerth(t, "config:get", "shop", "DATABASE_URL"))
	_, rest, _ := strings.Cut(dsn, "://")
	userinfo, _, _ := strings.Cut(rest, "@")
	_, password, _ := strings.Cut(userinfo, ":")
	if len(password) < 8 {
		t.Fatalf("DATABASE_URL %q has no password", dsn)
	}
	d.mustBerth(t, "certs:generate", "shop", "shop.test")
	keyPEM := d.mustBerth(t, "certs:show", "shop", "key")
	keyLines := strings.Split(strings.TrimSpace(keyPEM), "\n")
	if len(keyLines) < 3 {
		t.Fatalf("certs:show key: %q", keyPEM)
	}
	keyPart := keyLines[1][:32] // a piece of the key's base64
	secrets := []string{value, password, keyPart}

	procs := scanProcs(secrets...)
	files := map[string]string{
		"Dockerfile": dockerfile("v1"),
		"Procfile":   "web: testapp web\nrelease: testapp echo release\n",
		"app.json":   `{"scripts": {"dokku": {"predeploy": "echo predeploy", "postdeploy": "echo postdeploy"}}}`,
	}
	out, code := d.deployTar(t, "shop", appTar(t, files))
	found, scans := procs.finish()
	if code != 0 {
		t.Fatalf("deploy: %d\n%s", code, out)
	}
	if scans < 5 {
		t.Errorf("only %d scans of /proc during the deploy", scans)
	}
	for _, f := range found {
		t.Errorf("a secret in a process's command line: %s", f)
	}
	shown := map[string]string{"deploy output": out}
	for _, args := range [][]string{
		{"ps:report", "shop"}, {"ps:report", "shop", "--format", "json"}, {"apps:report", "shop"}, {"releases", "shop"},
		{"releases:info", "shop", "1"}, {"certs:report", "shop"}, {"config:keys", "shop"},
		{"postgres:list"}, {"postgres:app-links", "shop"}, {"domains:report", "shop"}, {"git:report", "shop"},
	} {
		o, _ := d.berth(args...)
		shown[strings.Join(args, " ")] = o
	}
	// Errors about the secrets' own keys and values.
	for _, args := range [][]string{
		{"config:set", "shop", "1BAD=" + value}, {"config:set", "shop", "K=\xff" + value},
		{"config:get", "shop", "MISSING"}, {"postgres:link", "db", "shop"}, {"run", "shop", "testapp", "exit", "3"},
		{"certs:add", "shop", "/etc/hostname", "/etc/hostname"}, {"ps:scale", "shop", "web=x"},
	} {
		o, code := d.berth(args...)
		if code == 0 {
			t.Errorf("%v succeeded: %q", args, o)
		}
		shown["error of "+strings.Join(args, " ")] = o
	}
	// The release image: env, labels and the commands of its history.
	web := containers(t, eng, d, "shop")["web.1"]
	img, err := eng.InspectImage(context.Background(), web.ImageID)
	if err != nil {
		t.Fatal(err)
	}
	labels, _ := json.Marshal(img.Labels)
	shown["image env"] = strings.Join(img.Env, "\n")
	shown["image labels"] = string(labels)
	hist, err := exec.Command("docker", "history", "--no-trunc", "--format", "{{.CreatedBy}} {{.Comment}}", web.ImageID).CombinedOutput()
	if err != nil {
		t.Fatalf("docker history: %v\n%s", err, hist)
	}
	shown["image history"] = string(hist)
	if err := d.stop(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	shown["daemon log"] = d.log.String()
	for what, text := range shown {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("%s shows a secret (%.6s…):\n%s", what, s, text)
			}
		}
	}
}

// TestShellMetacharactersReachTheAppVerbatim: config values full of shell
// syntax, set locally and over ssh, reach the app's environment byte for
// byte; no shell on the host or in the container runs them (their marker
// file never appears), and the exports format evaluates back to them.
func TestShellMetacharactersReachTheAppVerbatim(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d, admin, _ := sshDaemon(t, eng)
	marker := filepath.Join(t.TempDir(), "pwned")
	values := map[string]string{
		"SUBST":    "$(touch " + marker + ")",
		"BACKTICK": "`touch " + marker + "`",
		"SEMI":     "a; touch " + marker + "; b",
		"QUOTES":   `it's "quoted" \ '' "" \"`,
		"NEWLINE":  "line1\nline2 && touch " + marker,
		"PIPE":     "| touch " + marker + " &",
		"VARS":     "${HOME} $PATH $$ $0 %s %n",
		"GLOB":     "* ? [a-z] ~",
		"UNICODE":  "snow☃\u202etxt.exe\t",
	}
	d.mustBerth(t, "apps:create", "shop")
	args := []string{"config:set", "--no-restart", "shop"}
	for k, v := range values {
		args = append(args, "LOCAL_"+k+"="+v)
	}
	d.mustBerth(t, args...)
	// Over ssh the command line is one string: quoted as the laptop client
	// quotes it, split back by the server without a shell.
	remote := []string{"config:set", "--no-restart", "shop"}
	for k, v := range values {
		remote = append(remote, app.ShellQuote("SSH_"+k+"="+v))
	}
	if out, code := sshRun(t, admin, "berth", d.sshAddr, nil, remote...); code != 0 {
		t.Fatalf("config:set over ssh: %d %q", code, out)
	}
	files := map[string]string{"Dockerfile": dockerfile("v1"), "Procfile": "web: testapp web\nrelease: testapp echo $LOCAL_SEMI $SSH_SUBST\n"}
	if out, code := d.deployTar(t, "shop", appTar(t, files)); code != 0 {
		t.Fatalf("deploy: %d\n%s", code, out)
	}
	web := containers(t, eng, d, "shop")["web.1"]
	var env map[string]string
	if body := httpGet(t, web.HostPort, "/env"); json.Unmarshal([]byte(body), &env) != nil {
		t.Fatalf("GET /env: %q", body)
	}
	for k, v := range values {
		for _, p := range []string{"LOCAL_", "SSH_"} {
			if env[p+k] != v {
				t.Errorf("%s%s reached the app as %q, want %q", p, k, env[p+k], v)
			}
			if got := d.mustBerth(t, "config:get", "shop", p+k); got != v+"\n" {
				t.Errorf("config:get %s%s = %q, want %q", p, k, got, v)
			}
		}
	}
	// The exports format is for shells: evaluating it gives the values back.
	sh := exec.Command("sh", "-c", `eval "$(berth config:export --format exports shop)" && printf %s "$LOCAL_NEWLINE|$SSH_QUOTES|$LOCAL_SUBST"`)
	sh.Env = d.env()
	got, err := sh.CombinedOutput()
	if want := values["NEWLINE"] + "|" + values["QUOTES"] + "|" + values["SUBST"]; err != nil || string(got) != want {
		t.Errorf("eval of config:export: %v %q, want %q", err, got, want)
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Errorf("a shell ran a config value on the host: %s exists", marker)
	}
	if out := dockerExec(t, eng, web.Name, "sh", "-c", "test -e "+marker+" && echo EXISTS || echo absent"); out != "absent" {
		t.Errorf("a shell ran a config value in the container: %s", out)
	}
}

// inspected is what `docker inspect` says of a container's privileges.
type inspected struct {
	Name       string
	HostConfig struct {
		Privileged      bool
		CapAdd          []string
		Binds           []string
		NetworkMode     string
		PidMode         string
		IpcMode         string
		UsernsMode      string
		SecurityOpt     []string
		Devices         []any
		PublishAllPorts bool
		PortBindings    map[string][]struct{ HostIp, HostPort string }
	}
	Mounts          []struct{ Source, Destination string }
	NetworkSettings struct {
		Ports map[string][]struct{ HostIp, HostPort string }
	}
}

func dockerInspect(t *testing.T, ids ...string) []inspected {
	t.Helper()
	out, err := exec.Command("docker", append([]string{"inspect"}, ids...)...).Output()
	if err != nil {
		t.Fatalf("docker inspect: %v", err)
	}
	var res []inspected
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	return res
}

// TestAppContainersUnprivileged: every container of a deployed app (web,
// worker, a one-off run) has no added capability, no privileged mode, no
// Docker socket or host path mounted, no host namespaces, no devices, and
// publishes only on 127.0.0.1.
func TestAppContainersUnprivileged(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d := deployDaemon(t, eng)
	d.mustBerth(t, "apps:create", "shop")
	files := map[string]string{"Dockerfile": dockerfile("v1"), "Procfile": "web: testapp web\nworker: testapp worker\n", "DOKKU_SCALE": "web=2\nworker=1\n"}
	if out, code := d.deployTar(t, "shop", appTar(t, files)); code != 0 {
		t.Fatalf("deploy: %d\n%s", code, out)
	}
	d.mustBerth(t, "run:detached", "shop", "testapp", "worker")
	cs, err := eng.ListContainers(context.Background(), map[string]string{"berth.instance": d.prefix(), "berth.app": "shop"}, false)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	if len(ids) < 4 {
		t.Fatalf("want web.1, web.2, worker.1 and a run container, have %d", len(ids))
	}
	published := 0
	for _, c := range dockerInspect(t, ids...) {
		h := c.HostConfig
		if h.Privileged || len(h.CapAdd) > 0 || len(h.Binds) > 0 || len(h.Devices) > 0 || h.PublishAllPorts {
			t.Errorf("%s: privileged %v, cap-add %v, binds %v, devices %v, publish-all %v", c.Name, h.Privileged, h.CapAdd, h.Binds, h.Devices, h.PublishAllPorts)
		}
		for _, m := range []string{h.NetworkMode, h.PidMode, h.IpcMode, h.UsernsMode} {
			if m == "host" {
				t.Errorf("%s shares a host namespace: %+v", c.Name, h)
			}
		}
		for _, o := range h.SecurityOpt {
			if strings.Contains(o, "unconfined") || strings.Contains(o, "privileged") {
				t.Errorf("%s: security option %q", c.Name, o)
			}
		}
		for _, m := range c.Mounts {
			if strings.Contains(m.Source, "docker.sock") || m.Source == "/" || strings.HasPrefix(m.Source, "/var/run") || strings.HasPrefix(m.Source, "/run") {
				t.Errorf("%s mounts %s at %s", c.Name, m.Source, m.Destination)
			}
		}
		for port, bs := range c.NetworkSettings.Ports {
			for _, b := range bs {
				published++
				if b.HostIp != "127.0.0.1" {
					t.Errorf("%s publishes %s on %q, want 127.0.0.1 only", c.Name, port, b.HostIp)
				}
			}
		}
		for port, bs := range h.PortBindings {
			for _, b := range bs {
				if b.HostIp != "127.0.0.1" {
					t.Errorf("%s binds %s on %q, want 127.0.0.1 only", c.Name, port, b.HostIp)
				}
			}
		}
	}
	if published < 2 {
		t.Errorf("%d published ports, want the two web containers'", published)
	}
	// And nothing listens on another address for them.
	for _, c := range containers(t, eng, d, "shop") {
		if c.HostPort == 0 {
			continue
		}
		if out, err := exec.Command("sh", "-c", fmt.Sprintf("ss -Htln 'sport = :%d'", c.HostPort)).Output(); err == nil {
			for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				if l != "" && !strings.Contains(l, "127.0.0.1:") {
					t.Errorf("port %d of %s listens as %q", c.HostPort, c.Name, l)
				}
			}
		}
	}
}
