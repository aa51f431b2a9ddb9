package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServicesStartAfterReboot: a host reboot simulated as the service
// containers stopped by the engine (not through Berth) and the daemon
// restarted: the daemon starts them again and the app's database and
// cache answer, while a service stopped with postgres:stop stays stopped.
func TestServicesStartAfterReboot(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d := serviceDaemon(t, eng)
	d.mustBerth(t, "apps:create", "shop")
	d.mustBerth(t, "postgres:create", "rb-db")
	d.mustBerth(t, "redis:create", "rb-redis")
	d.mustBerth(t, "postgres:create", "rb-idle")
	d.mustBerth(t, "postgres:link", "rb-db", "shop")
	d.mustBerth(t, "redis:link", "rb-redis", "shop")
	files := map[string]string{
		"Dockerfile": dockerfile("v1"),
		"Procfile":   "web: testapp web\n",
		"app.json":   `{"scripts": {"dokku": {"predeploy": "testapp migrate"}}}`,
	}
	if out, code := d.deployTar(t, "shop", appTar(t, files)); code != 0 {
		t.Fatalf("deploy: %d\n%s", code, out)
	}
	web := func() int { return containers(t, eng, d, "shop")["web.1"].HostPort }
	if got := httpDo(t, "POST", web(), "/db?v=apple"); got != "apple" {
		t.Fatalf("POST /db: %q", got)
	}
	if got := httpDo(t, "POST", web(), "/kv?k=cart&v=3"); got != "3" {
		t.Fatalf("POST /kv: %q", got)
	}
	d.mustBerth(t, "postgres:stop", "rb-idle")

	if err := d.stop(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, c := range []string{"berth.postgres.rb-db", "berth.redis.rb-redis"} {
		if err := eng.StopContainer(ctx, d.prefix()+"-"+c, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	d2, err := startDaemon(d.dataDir, d.extraEnv...)
	if err != nil {
		t.Fatal(err)
	}
	defer d2.stop(syscall.SIGKILL)
	status := func(kind, name string) string {
		out, _ := d2.berth(kind+":info", name, "--status")
		return strings.TrimSpace(out)
	}
	waitFor(t, 90*time.Second, "the stopped services started at daemon start", func() bool {
		return status("postgres", "rb-db") == "running" && status("redis", "rb-redis") == "running"
	})
	// "running" is the container; the server answers a moment later (the
	// daemon waits for that before it restores the apps).
	waitFor(t, 60*time.Second, "the app's database to answer after the reboot", func() bool {
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(fmt.Sprintf("http://127.0.0.1:%d/db", web()))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	if got := httpDo(t, "GET", web(), "/db"); got != "apple" {
		t.Errorf("after the reboot: /db = %q", got)
	}
	if got := httpDo(t, "GET", web(), "/kv?k=cart"); got != "3" {
		t.Errorf("after the reboot: /kv = %q", got)
	}
	if got := status("postgres", "rb-idle"); got != "exited" {
		t.Errorf("service stopped with postgres:stop, after a daemon restart: %q", got)
	}
	// postgres:start clears the stop.
	d2.mustBerth(t, "postgres:start", "rb-idle")
	if got := status("postgres", "rb-idle"); got != "running" {
		t.Errorf("after postgres:start: %q", got)
	}
}
