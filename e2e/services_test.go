package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/docker"
)

// serviceImageEnv points the daemon's service defaults at the locally built
// images, the way an operator would with Dokku's variables (no registry
// is reachable here, so the official images cannot be pulled).
var serviceImageEnv = []string{"POSTGRES_IMAGE=berth/postgres", "POSTGRES_IMAGE_VERSION=15", "REDIS_IMAGE=berth/redis", "REDIS_IMAGE_VERSION=7"}

// requireServiceImages fails (CI) or skips without the locally built
// postgres and redis images.
func requireServiceImages(t *testing.T) {
	t.Helper()
	eng := requireDocker(t)
	for _, img := range []string{"berth/postgres:15", "berth/redis:7"} {
		requireImage(t, eng, img)
	}
}

// requireImage fails (CI) or skips without a locally built image.
func requireImage(t *testing.T, eng *docker.Client, img string) {
	t.Helper()
	if _, err := eng.InspectImage(context.Background(), img); err != nil {
		if os.Getenv("BERTH_REQUIRE_DOCKER") == "1" {
			t.Fatalf("image %s missing (scripts/build-service-images): %v", img, err)
		}
		t.Skipf("image %s missing: run scripts/build-service-images", img)
	}
}

// serviceDaemon is a deploy daemon whose services use the local images.
func serviceDaemon(t *testing.T, eng *docker.Client, extraEnv ...string) *daemon {
	t.Helper()
	requireServiceImages(t)
	return deployDaemon(t, eng, append(append([]string{}, serviceImageEnv...), extraEnv...)...)
}

// httpDo sends a request to the app's web container and returns the body,
// failing on a status other than 200.
func httpDo(t *testing.T, method string, port int, path string) string {
	t.Helper()
	req, _ := http.NewRequest(method, fmt.Sprintf("http://127.0.0.1:%d%s", port, path), nil)
	resp, err := (&http.Client{Timeout: 15 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return strings.TrimSpace(string(b))
}

// TestSeedServices is the seed's walk-through with services: create and
// link Postgres and Redis before the first push, the predeploy migration
// runs against DATABASE_URL, the app writes and reads both, and the data
// survives a service restart, a daemon restart and ps:rebuild.
func TestSeedServices(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d := serviceDaemon(t, eng)
	d.mustBerth(t, "plugin:install", "https://github.com/dokku/dokku-postgres.git", "postgres")
	d.mustBerth(t, "plugin:install", "https://github.com/dokku/dokku-redis.git", "redis")
	d.mustBerth(t, "apps:create", "shop")
	if out := d.mustBerth(t, "postgres:create", "shop-db"); !strings.Contains(out, "Postgres container created: shop-db") || !strings.Contains(out, "berth/postgres:15") {
		t.Errorf("postgres:create output: %q", out)
	}
	d.mustBerth(t, "redis:create", "shop-redis")
	// Linking before the first deploy sets the variables; nothing restarts.
	if out := d.mustBerth(t, "postgres:link", "shop-db", "shop"); !strings.Contains(out, "DATABASE_URL:") || !strings.Contains(out, "has not been deployed yet") {
		t.Errorf("postgres:link output: %q", out)
	}
	d.mustBerth(t, "redis:link", "shop-redis", "shop")
	files := map[string]string{
		"Dockerfile": dockerfile("v1"),
		"Procfile":   "web: testapp web\n",
		"app.json":   `{"scripts": {"dokku": {"predeploy": "testapp migrate"}}}`,
	}
	out, code := d.deployTar(t, "shop", appTar(t, files))
	if code != 0 || !strings.Contains(out, "migrated v1") {
		t.Fatalf("deploy: %d\n%s", code, out)
	}
	web := func() int { return containers(t, eng, d, "shop")["web.1"].HostPort }
	var env map[string]string
	decodeJSON(t, httpGet(t, web(), "/env"), &env)
	if !regexp.MustCompile(`^postgres://postgres:[0-9a-f]{32}@dokku-postgres-shop-db:5432/shop_db$`).MatchString(env["DATABASE_URL"]) {
		t.Errorf("DATABASE_URL = %q", env["DATABASE_URL"])
	}
	if !regexp.MustCompile(`^redis://:[0-9a-f]{64}@dokku-redis-shop-redis:6379$`).MatchString(env["REDIS_URL"]) {
		t.Errorf("REDIS_URL = %q", env["REDIS_URL"])
	}
	if got := httpDo(t, "POST", web(), "/db?v=apple"); got != "apple" {
		t.Fatalf("POST /db: %q", got)
	}
	if got := httpDo(t, "POST", web(), "/kv?k=cart&v=3"); got != "3" {
		t.Fatalf("POST /kv: %q", got)
	}
	// The migration ran in predeploy, against the linked database.
	if out, code := d.berthIn(strings.NewReader("select version from migrations;\n"), "postgres:connect", "shop-db"); code != 0 || !strings.Contains(out, "v1") {
		t.Errorf("migrations table: %d %q", code, out)
	}
	// connect over `ssh -t`: psql on a terminal, through the ssh server.
	key := sshKey(t, t.TempDir(), "admin")
	d.mustBerth(t, "ssh-keys:add", "admin", key+".pub")
	_, port, _ := net.SplitHostPort(d.sshAddr)
	sshCtx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tty := exec.CommandContext(sshCtx, "script", "-qec", "ssh -tt "+strings.Join(sshOpts(key, port), " ")+" berth@127.0.0.1 postgres:connect shop-db", "/dev/null")
	// (script's pty has no size, so psql would page the result.)
	tty.Stdin = strings.NewReader("\\pset pager off\nselect 6 * 7 as answer;\n\\q\n")
	if out, err := tty.CombinedOutput(); err != nil || !strings.Contains(string(out), "42") || !strings.Contains(string(out), "shop_db=#") {
		t.Errorf("postgres:connect over ssh -t: %v %q", err, out)
	}
	// Berth's own lines over ssh -t end in CRLF: no staircase.
	tty = exec.CommandContext(sshCtx, "script", "-qec", "ssh -tt "+strings.Join(sshOpts(key, port), " ")+" berth@127.0.0.1 postgres:links shop-db", "/dev/null")
	if out, err := tty.CombinedOutput(); err != nil || !strings.Contains(string(out), "shop\r\n") || regexp.MustCompile(`[^\r]\n`).Match(out) {
		t.Errorf("Berth's output over ssh -t: %v %q", err, out)
	}
	check := func(when string) {
		t.Helper()
		if got := httpDo(t, "GET", web(), "/db"); got != "apple" {
			t.Errorf("after %s: /db = %q", when, got)
		}
		if got := httpDo(t, "GET", web(), "/kv?k=cart"); got != "3" {
			t.Errorf("after %s: /kv = %q", when, got)
		}
	}
	d.mustBerth(t, "postgres:restart", "shop-db")
	d.mustBerth(t, "redis:restart", "shop-redis")
	check("service restarts")

	// A daemon restart leaves the services alone.
	if err := d.stop(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// A container removed while the daemon is down comes back at start.
	if err := eng.RemoveContainer(context.Background(), d.prefix()+"-berth.redis.shop-redis", true); err != nil {
		t.Fatal(err)
	}
	d2, err := startDaemon(d.dataDir, d.extraEnv...)
	if err != nil {
		t.Fatal(err)
	}
	defer d2.stop(syscall.SIGKILL)
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if out, _ := d2.berth("redis:info", "shop-redis", "--status"); strings.TrimSpace(out) == "running" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis container not recreated at daemon start")
		}
	}
	check("daemon restart")
	if out := d2.mustBerth(t, "postgres:info", "shop-db", "--status"); strings.TrimSpace(out) != "running" {
		t.Errorf("status after daemon restart: %q", out)
	}
	if out, code := d2.berth("ps:rebuild", "shop"); code != 0 {
		t.Fatalf("ps:rebuild: %d\n%s", code, out)
	}
	check("ps:rebuild")
	// The container being recreated (expose recreates it) keeps the data.
	d2.mustBerth(t, "postgres:expose", "shop-db")
	d2.mustBerth(t, "redis:stop", "shop-redis")
	d2.mustBerth(t, "redis:start", "shop-redis")
	check("container recreated and redis stopped")
}

// TestServiceCommands covers the rest of the command set: bad input,
// colors, aliases, promote, expose, stop/start/pause, logs, enter and
// destroy's confirmation.
func TestServiceCommands(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d := serviceDaemon(t, eng)
	d.mustBerth(t, "apps:create", "shop")
	if out, code := d.deployTar(t, "shop", appTar(t, map[string]string{"Dockerfile": dockerfile("v1"), "Procfile": "web: testapp web\n"})); code != 0 {
		t.Fatalf("deploy: %d\n%s", code, out)
	}
	fail := func(want string, args ...string) {
		t.Helper()
		out, code := d.berth(args...)
		if code == 0 || !strings.Contains(out, want) {
			t.Errorf("%v: %d %q, want failure with %q", args, code, out, want)
		}
		if n := strings.Count(out, " !     "); n != 1 {
			t.Errorf("%v: %d lines of error, want one: %q", args, n, out)
		}
	}
	// Bad input changes nothing.
	fail("Invalid postgres service name", "postgres:create", "Bad;Name")
	fail("Invalid --custom-env entry", "postgres:create", "db", "--custom-env", "NOEQUALS")
	fail("--memory: invalid size", "postgres:create", "db", "--memory", "lots")
	fail("could not be pulled", "postgres:create", "db", "--image", "127.0.0.1:1/none", "--image-version", "1")
	if out := d.mustBerth(t, "postgres:list"); strings.Contains(out, "db") {
		t.Errorf("a failed create left a service: %q", out)
	}
	if _, err := os.Stat(d.dataDir + "/services/postgres/db"); !os.IsNotExist(err) {
		t.Errorf("a failed create left its directory: %v", err)
	}
	d.mustBerth(t, "postgres:create", "db", "--custom-env", "POSTGRES_INITDB_ARGS=--data-checksums;TZ=UTC", "--memory", "512", "--shm-size", "128m")
	fail("already exists", "postgres:create", "db")
	// A name that differs only in case would share db's DNS name.
	fail("Postgres service db already exists and differs from DB only in case", "postgres:create", "DB")
	if _, err := eng.InspectContainer(context.Background(), d.prefix()+"-berth.postgres.DB"); err == nil {
		t.Errorf("a create refused for its case left a container")
	}
	if _, err := os.Stat(d.dataDir + "/services/postgres/DB"); !os.IsNotExist(err) {
		t.Errorf("a create refused for its case left its directory: %v", err)
	}
	fail("App nope does not exist", "postgres:link", "db", "nope")
	fail("Postgres service nope does not exist", "postgres:link", "nope", "shop")
	if out := d.mustBerth(t, "postgres:enter", "db", "sh", "-c", "echo $TZ; psql -U postgres -Atc 'show data_checksums' db; cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes; df -B1 /dev/shm | tail -1"); !strings.Contains(out, "UTC") || !strings.Contains(out, "on") || !strings.Contains(out, "536870912") || !strings.Contains(out, "134217728") {
		t.Errorf("custom env, memory and shm size: %q", out)
	}

	// First link: DATABASE_URL, with a query string; twice is refused.
	d.mustBerth(t, "postgres:link", "db", "shop", "--querystring", "sslmode=disable", "--no-restart")
	fail("Already linked as DATABASE_URL", "postgres:link", "db", "shop")
	d.mustBerth(t, "postgres:create", "other")
	d.mustBerth(t, "postgres:create", "third")
	d.mustBerth(t, "postgres:link", "other", "shop", "--no-restart")
	d.mustBerth(t, "postgres:link", "third", "shop", "--alias", "reports", "--no-restart")
	keys := d.mustBerth(t, "config:keys", "shop")
	for _, k := range []string{"DATABASE_URL", "DOKKU_POSTGRES_AQUA_URL", "REPORTS_URL"} {
		if !strings.Contains(keys, k) {
			t.Errorf("config keys %q lack %s", keys, k)
		}
	}
	dbURL := strings.TrimSpace(d.mustBerth(t, "config:get", "shop", "DATABASE_URL"))
	if !strings.HasSuffix(dbURL, "/db?sslmode=disable") {
		t.Errorf("DATABASE_URL with query string: %q", dbURL)
	}
	if got := strings.Fields(d.mustBerth(t, "postgres:app-links", "shop")); strings.Join(got, " ") != "db other third" {
		t.Errorf("app-links: %q", got)
	}
	if got := strings.TrimSpace(d.mustBerth(t, "postgres:links", "db")); got != "shop" {
		t.Errorf("links: %q", got)
	}
	d.mustBerth(t, "postgres:linked", "db", "shop")
	// Promote: other becomes DATABASE_URL, db takes other's color; the
	// app restarts with both.
	d.mustBerth(t, "postgres:promote", "other", "shop")
	var env map[string]string
	decodeJSON(t, httpGet(t, containers(t, eng, d, "shop")["web.1"].HostPort, "/env"), &env)
	if !strings.Contains(env["DATABASE_URL"], "dokku-postgres-other:5432/other") || env["DOKKU_POSTGRES_AQUA_URL"] != dbURL {
		t.Errorf("after promote: DATABASE_URL=%q AQUA=%q", env["DATABASE_URL"], env["DOKKU_POSTGRES_AQUA_URL"])
	}
	fail("Cannot delete linked service", "postgres:destroy", "other", "--force")
	d.mustBerth(t, "postgres:unlink", "third", "shop", "--no-restart")
	if out, _ := d.berth("postgres:linked", "third", "shop"); !strings.Contains(out, "not linked") {
		t.Errorf("linked after unlink: %q", out)
	}
	if strings.Contains(d.mustBerth(t, "config:keys", "shop"), "REPORTS_URL") {
		t.Errorf("unlink left REPORTS_URL")
	}
	// destroy asks for the name; a wrong answer changes nothing.
	if out, code := d.berthIn(strings.NewReader("nope\n"), "postgres:destroy", "third"); code == 0 || !strings.Contains(out, "Confirmation did not match") {
		t.Errorf("destroy with a wrong confirmation: %d %q", code, out)
	}
	d.mustBerth(t, "postgres:exists", "third")
	if out, code := d.berthIn(strings.NewReader("third\n"), "postgres:destroy", "third"); code != 0 || !strings.Contains(out, "Postgres container deleted: third") {
		t.Errorf("destroy confirmed: %d %q", code, out)
	}
	fail("Postgres service third does not exist", "postgres:exists", "third")
	if _, err := os.Stat(d.dataDir + "/services/postgres/third"); !os.IsNotExist(err) {
		t.Errorf("destroy left the data: %v", err)
	}

	// expose on a chosen port of 127.0.0.1; unexpose takes it away.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	d.mustBerth(t, "redis:create", "cache")
	if out := d.mustBerth(t, "redis:expose", "cache", fmt.Sprint(port)); !strings.Contains(out, fmt.Sprintf("6379->127.0.0.1:%d", port)) {
		t.Errorf("expose: %q", out)
	}
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 3*time.Second)
	if err != nil {
		t.Fatalf("exposed redis: %v", err)
	}
	fmt.Fprintf(c, "PING\r\n")
	buf := make([]byte, 64)
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	n, _ := c.Read(buf)
	c.Close()
	if !strings.Contains(string(buf[:n]), "NOAUTH") {
		t.Errorf("exposed redis without a password answered %q", buf[:n])
	}
	fail("already exposed", "redis:expose", "cache")
	d.mustBerth(t, "redis:unexpose", "cache")
	if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second); err == nil {
		c.Close()
		t.Errorf("port %d still open after unexpose", port)
	}
	// stop, pause, start; connect refuses a stopped service in one line.
	d.mustBerth(t, "redis:stop", "cache")
	if out := d.mustBerth(t, "redis:info", "cache", "--status"); strings.TrimSpace(out) != "exited" {
		t.Errorf("status after stop: %q", out)
	}
	fail("is not running; start it with redis:start cache", "redis:connect", "cache")
	d.mustBerth(t, "redis:start", "cache")
	d.mustBerth(t, "redis:pause", "cache")
	if out := d.mustBerth(t, "redis:info", "cache", "--status"); strings.TrimSpace(out) != "paused" {
		t.Errorf("status after pause: %q", out)
	}
	d.mustBerth(t, "redis:start", "cache")
	if out, code := d.berthIn(strings.NewReader("ping\n"), "redis:connect", "cache"); code != 0 || !strings.Contains(out, "PONG") {
		t.Errorf("redis:connect after start: %d %q", code, out)
	}
	if out := d.mustBerth(t, "redis:logs", "cache", "-n", "50"); !strings.Contains(out, "Ready to accept connections") {
		t.Errorf("redis:logs: %q", out)
	}
	info := d.mustBerth(t, "redis:info", "cache")
	for _, want := range []string{`Config dir:\s+/`, `Data dir:\s+/`, `Dsn:\s+redis://`, `Internal ip:\s+\d+\.`, `Status:\s+running`, `Version:\s+berth/redis:7`} {
		if !regexp.MustCompile(want).MatchString(info) {
			t.Errorf("redis:info lacks %q:\n%s", want, info)
		}
	}
	fail("Invalid flag passed", "redis:info", "cache", "--nope")
	// Destroying an app drops its links, so its services can go.
	d.mustBerth(t, "apps:destroy", "shop", "--force")
	if out := strings.TrimSpace(d.mustBerth(t, "postgres:links", "other")); out != "" {
		t.Errorf("links after apps:destroy: %q", out)
	}
	d.mustBerth(t, "postgres:destroy", "other", "--force")
	// The password is not on any command line in the container.
	if out := d.mustBerth(t, "redis:enter", "cache", "sh", "-c", "cat /proc/[0-9]*/cmdline | tr '\\0' ' '"); strings.Contains(out, strings.TrimPrefix(strings.SplitN(strings.TrimSpace(d.mustBerth(t, "redis:info", "cache", "--dsn")), "@", 2)[0], "redis://:")) {
		t.Errorf("redis password on a command line: %q", out)
	}
}
