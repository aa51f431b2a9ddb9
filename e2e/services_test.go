package e2e

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
)

// requireServiceImages fails (CI) or skips without the locally built
// postgres and redis images.
func requireServiceImages(t *testing.T) {
	t.Helper()
	eng := requireDocker(t)
	for _, img := range []string{"berth/postgres:15", "berth/redis:7"} {
		if _, err := eng.InspectImage(context.Background(), img); err != nil {
			if os.Getenv("BERTH_REQUIRE_DOCKER") == "1" {
				t.Fatalf("image %s missing (scripts/build-service-images): %v", img, err)
			}
			t.Skipf("image %s missing: run scripts/build-service-images", img)
		}
	}
}

// TestPostgresAndRedisLinked is the seed's services: create, link (URLs in
// Dokku's formats, reachable from the app's containers), connect, a second
// link's alias, and destroy refused while linked.
func TestPostgresAndRedisLinked(t *testing.T) {
	t.Parallel()
	requireServiceImages(t)
	eng := requireDocker(t)
	d := deployDaemon(t, eng)
	d.mustBerth(t, "apps:create", "shop")
	if out, code := d.deployTar(t, "shop", appTar(t, map[string]string{"Dockerfile": dockerfile("v1"), "Procfile": "web: testapp web\n"})); code != 0 {
		t.Fatalf("deploy: %d\n%s", code, out)
	}
	d.mustBerth(t, "postgres:create", "shop-db")
	d.mustBerth(t, "redis:create", "shop-redis")
	d.mustBerth(t, "postgres:link", "shop-db", "shop")
	d.mustBerth(t, "redis:link", "shop-redis", "shop")

	var env map[string]string
	decodeJSON(t, httpGet(t, containers(t, eng, d, "shop")["web.1"].HostPort, "/env"), &env)
	if !regexp.MustCompile(`^postgres://postgres:[0-9a-f]{32}@dokku-postgres-shop-db:5432/shop_db$`).MatchString(env["DATABASE_URL"]) {
		t.Errorf("DATABASE_URL = %q", env["DATABASE_URL"])
	}
	if !regexp.MustCompile(`^redis://:[0-9a-f]{64}@dokku-redis-shop-redis:6379$`).MatchString(env["REDIS_URL"]) {
		t.Errorf("REDIS_URL = %q", env["REDIS_URL"])
	}
	// The app's containers reach the services by name.
	for _, hp := range []string{"dokku-postgres-shop-db 5432", "dokku-redis-shop-redis 6379"} {
		if out, code := d.berth("run", "shop", "sh", "-c", "timeout 2 nc "+hp+" </dev/null >/dev/null; [ $? -ne 1 ] && echo reachable"); code != 0 || !strings.Contains(out, "reachable") {
			t.Errorf("from the app to %s: %d %q", hp, code, out)
		}
	}
	// connect takes SQL (or redis commands) on stdin.
	if out, code := d.berthIn(strings.NewReader("select 40 + 2 as answer;\n"), "postgres:connect", "shop-db"); code != 0 || !strings.Contains(out, "42") {
		t.Errorf("postgres:connect: %d %q", code, out)
	}
	if out, code := d.berthIn(strings.NewReader("ping\n"), "redis:connect", "shop-redis"); code != 0 || !strings.Contains(out, "PONG") {
		t.Errorf("redis:connect: %d %q", code, out)
	}
	if out := d.mustBerth(t, "postgres:info", "shop-db", "--dsn"); strings.TrimSpace(out) != env["DATABASE_URL"] {
		t.Errorf("postgres:info --dsn = %q", out)
	}
	// A second database gets a color; linking twice is refused; an alias names it.
	d.mustBerth(t, "postgres:create", "other-db")
	d.mustBerth(t, "postgres:link", "--no-restart", "other-db", "shop")
	if got := strings.TrimSpace(d.mustBerth(t, "config:keys", "shop")); !strings.Contains(got, "DOKKU_POSTGRES_AQUA_URL") {
		t.Errorf("second link's var: %q", got)
	}
	if out, code := d.berth("postgres:link", "shop-db", "shop"); code != 1 || !strings.Contains(out, "Already linked as DATABASE_URL") {
		t.Errorf("linking twice: %d %q", code, out)
	}
	if out, code := d.berth("postgres:destroy", "--force", "shop-db"); code != 1 || !strings.Contains(out, "Cannot delete linked service") {
		t.Errorf("destroy while linked: %d %q", code, out)
	}
	if out, code := d.berth("postgres:create", "shop-db"); code != 1 || !strings.Contains(out, "already exists") {
		t.Errorf("create twice: %d %q", code, out)
	}
	if out, code := d.berth("postgres:create", "Bad;Name"); code != 1 || !strings.Contains(out, "Invalid postgres service name") {
		t.Errorf("bad name: %d %q", code, out)
	}
	d.mustBerth(t, "postgres:unlink", "--no-restart", "other-db", "shop")
	d.mustBerth(t, "postgres:destroy", "--force", "other-db")
	if out, code := d.berth("postgres:exists", "other-db"); code != 1 || !strings.Contains(out, "does not exist") {
		t.Errorf("after destroy: %d %q", code, out)
	}
	if out := d.mustBerth(t, "postgres:list"); !strings.Contains(out, "shop-db") || strings.Contains(out, "other-db") {
		t.Errorf("postgres:list: %q", out)
	}
}
