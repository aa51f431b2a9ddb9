package e2e

import (
	"context"
	"net/netip"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/docker"
)

// serviceAddrs are the HOST:PORT addresses of a service's container on
// every network it is attached to (by IP), as docker inspect gives them.
func serviceAddrs(t *testing.T, eng *docker.Client, d *daemon, kind, name, port string) []string {
	t.Helper()
	det, err := eng.InspectContainer(context.Background(), d.prefix()+"-berth."+kind+"."+name)
	if err != nil {
		t.Fatal(err)
	}
	var addrs []string
	for _, ip := range det.Networks {
		if ip != "" {
			addrs = append(addrs, ip+":"+port)
		}
	}
	if len(addrs) == 0 {
		t.Fatalf("%s %s has no address: %v", kind, name, det.Networks)
	}
	sort.Strings(addrs)
	return addrs
}

// networksOf lists the networks a container is attached to.
func networksOf(t *testing.T, eng *docker.Client, container string) []string {
	t.Helper()
	det, err := eng.InspectContainer(context.Background(), container)
	if err != nil {
		t.Fatal(err)
	}
	var nets []string
	for n := range det.Networks {
		nets = append(nets, n)
	}
	sort.Strings(nets)
	return nets
}

// TestAppNetworks: each app reaches only the services linked to it. Two
// apps, each linked to its own Postgres: a one-off container of app A
// reaches A's database by its URL but not B's, neither by name nor by any
// of its addresses; linking B's database to A makes it reachable at once
// (a running container included, no redeploy), unlinking cuts it again.
// An app never linked reaches no service. Then a daemon restart, after
// the install was put back the way Berth left it before per-app networks
// (the services on one shared network), keeps the links working and moves
// the services off the shared network.
func TestAppNetworks(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d := serviceDaemon(t, eng)
	for _, app := range []string{"a", "b", "c"} {
		d.mustBerth(t, "apps:create", app)
	}
	d.mustBerth(t, "postgres:create", "a-db")
	d.mustBerth(t, "postgres:create", "b-db")
	d.mustBerth(t, "postgres:link", "a-db", "a")
	d.mustBerth(t, "postgres:link", "b-db", "b")
	files := map[string]string{"Dockerfile": dockerfile("v1"), "Procfile": "web: testapp web\n"}
	for _, app := range []string{"a", "c"} {
		if out, code := d.deployTar(t, app, appTar(t, files)); code != 0 {
			t.Fatalf("deploy %s: %d\n%s", app, code, out)
		}
	}
	bURL := strings.TrimSpace(d.mustBerth(t, "postgres:info", "b-db", "--dsn"))
	bAddrs := serviceAddrs(t, eng, d, "postgres", "b-db", "5432")
	aAddrs := serviceAddrs(t, eng, d, "postgres", "a-db", "5432")
	// Every address on Berth's networks comes from Berth's own pool
	// (BERTH_NETWORK_POOL, default 10.210.0.0/16), not the engine's.
	for _, addr := range append(append([]string{}, aAddrs...), bAddrs...) {
		if ap, err := netip.ParseAddrPort(addr); err != nil || !netip.MustParsePrefix("10.210.0.0/16").Contains(ap.Addr()) {
			t.Errorf("service address %s is not in BERTH_NETWORK_POOL 10.210.0.0/16", addr)
		}
	}

	// run: a one-off container; enter: A's running web container.
	reach := func(how []string, addrs ...string) (string, bool) {
		t.Helper()
		out, code := d.berth(append(append(how, "testapp", "dial"), addrs...)...)
		return out, code == 0
	}
	run := []string{"run", "--no-tty", "a"}
	enter := []string{"enter", "a", "web.1"}
	mustNotReach := func(when string, how []string, addrs ...string) {
		t.Helper()
		out, _ := reach(how, addrs...)
		for _, addr := range addrs {
			if !strings.Contains(out, addr+" unreachable") {
				t.Errorf("%s: %v reached %s (or did not try):\n%s", when, how, addr, out)
			}
		}
	}
	mustReach := func(when string, how []string, addrs ...string) {
		t.Helper()
		if out, ok := reach(how, addrs...); !ok {
			t.Errorf("%s: %v did not reach %v:\n%s", when, how, addrs, out)
		}
	}

	// A reaches its own database by its URL.
	if out, code := d.berth("run", "--no-tty", "a", "testapp", "migrate"); code != 0 || !strings.Contains(out, "migrated v1") {
		t.Fatalf("run a testapp migrate (its own DATABASE_URL): %d\n%s", code, out)
	}
	mustReach("linked", run, "dokku-postgres-a-db:5432")
	// Not B's: not by its URL, not by name, not by any of its addresses.
	if out, code := d.berth("run", "--no-tty", "--env", "DATABASE_URL="+bURL, "a", "testapp", "migrate"); code == 0 {
		t.Errorf("app a migrated b's database by its URL:\n%s", out)
	}
	mustNotReach("not linked", run, append([]string{"dokku-postgres-b-db:5432"}, bAddrs...)...)
	mustNotReach("not linked", enter, append([]string{"dokku-postgres-b-db:5432"}, bAddrs...)...)
	// An app never linked reaches no service.
	mustNotReach("app never linked", []string{"run", "--no-tty", "c"}, append(append([]string{"dokku-postgres-a-db:5432"}, aAddrs...), bAddrs...)...)

	// Linking B's database to A: reachable at once, from a new container
	// and from the running one, by the URL the link set.
	out := d.mustBerth(t, "postgres:link", "b-db", "a", "--no-restart")
	if !strings.Contains(out, "DOKKU_POSTGRES_") {
		t.Fatalf("link b-db to a: %q", out)
	}
	mustReach("after link", run, "dokku-postgres-b-db:5432")
	mustReach("after link", enter, "dokku-postgres-b-db:5432")
	if out, code := d.berth("run", "--no-tty", "--env", "DATABASE_URL="+bURL, "a", "testapp", "migrate"); code != 0 {
		t.Errorf("after link, a cannot migrate b's database by its URL: %d\n%s", code, out)
	}
	// Unlinking cuts it, by name and by address.
	d.mustBerth(t, "postgres:unlink", "b-db", "a", "--no-restart")
	bAddrs = serviceAddrs(t, eng, d, "postgres", "b-db", "5432")
	mustNotReach("after unlink", run, append([]string{"dokku-postgres-b-db:5432"}, bAddrs...)...)
	mustNotReach("after unlink", enter, append([]string{"dokku-postgres-b-db:5432"}, bAddrs...)...)
	mustReach("after unlinking another service", run, "dokku-postgres-a-db:5432")

	// A daemon restart keeps the links. Before it, the install is put
	// back as Berth before per-app networks left it: a-db on one shared
	// network, off its app's.
	if err := d.stop(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	shared, aDB := d.prefix()+"-berth", d.prefix()+"-berth.postgres.a-db"
	if err := eng.EnsureNetwork(ctx, shared, map[string]string{"berth.instance": d.prefix()}, docker.SubnetPool{}); err != nil {
		t.Fatal(err)
	}
	if err := eng.ConnectNetwork(ctx, shared, aDB, []string{"dokku-postgres-a-db"}); err != nil {
		t.Fatal(err)
	}
	if err := eng.DisconnectNetwork(ctx, d.prefix()+"-berth.app.a", aDB); err != nil {
		t.Fatal(err)
	}
	d2, err := startDaemon(d.dataDir, d.extraEnv...)
	if err != nil {
		t.Fatal(err)
	}
	defer d2.stop(syscall.SIGKILL)
	d = d2
	waitFor(t, 60*time.Second, "the shared network removed at daemon start", func() bool {
		_, err := eng.InspectNetwork(ctx, shared)
		return err != nil
	})
	if got, want := strings.Join(networksOf(t, eng, aDB), " "), d.prefix()+"-berth.app.a "+d.prefix()+"-berth.svc.postgres.a-db"; got != want {
		t.Errorf("a-db's networks after the daemon start: %s, want %s", got, want)
	}
	mustReach("after a daemon restart", run, "dokku-postgres-a-db:5432")
	mustReach("after a daemon restart", enter, "dokku-postgres-a-db:5432")
	mustNotReach("after a daemon restart", run, append([]string{"dokku-postgres-b-db:5432"}, serviceAddrs(t, eng, d, "postgres", "b-db", "5432")...)...)
}

// TestAppCloneLinks: apps:clone links the clone to the app's services
// (their URLs were copied with the config), says so, and the clone reaches
// its database; renamed, it still does, from its new network; destroyed,
// its network goes and the original keeps its link.
func TestAppCloneLinks(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d := serviceDaemon(t, eng)
	d.mustBerth(t, "apps:create", "shop")
	d.mustBerth(t, "postgres:create", "shop-db")
	d.mustBerth(t, "postgres:link", "shop-db", "shop")
	files := map[string]string{"Dockerfile": dockerfile("v1"), "Procfile": "web: testapp web\n"}
	if out, code := d.deployTar(t, "shop", appTar(t, files)); code != 0 {
		t.Fatalf("deploy: %d\n%s", code, out)
	}
	out := d.mustBerth(t, "apps:clone", "shop", "shop-copy")
	if !strings.Contains(out, "Linked postgres service shop-db to clone shop-copy") {
		t.Errorf("apps:clone output: %q", out)
	}
	if links := d.mustBerth(t, "postgres:links", "shop-db"); !strings.Contains(links, "shop-copy") {
		t.Errorf("postgres:links after the clone: %q", links)
	}
	if out, code := d.berth("run", "--no-tty", "shop-copy", "testapp", "migrate"); code != 0 || !strings.Contains(out, "migrated v1") {
		t.Errorf("the clone cannot reach its database: %d\n%s", code, out)
	}
	ctx := context.Background()
	net := func(app string) string { return d.prefix() + "-berth.app." + app }
	db := d.prefix() + "-berth.postgres.shop-db"
	d.mustBerth(t, "apps:rename", "shop-copy", "shop-moved")
	if out, code := d.berth("run", "--no-tty", "shop-moved", "testapp", "migrate"); code != 0 || !strings.Contains(out, "migrated v1") {
		t.Errorf("the renamed clone cannot reach its database: %d\n%s", code, out)
	}
	if _, err := eng.InspectNetwork(ctx, net("shop-copy")); err == nil {
		t.Errorf("the old name's network is left after apps:rename")
	}
	d.mustBerth(t, "apps:destroy", "--force", "shop-moved")
	if _, err := eng.InspectNetwork(ctx, net("shop-moved")); err == nil {
		t.Errorf("the destroyed app's network is left")
	}
	if got, want := strings.Join(networksOf(t, eng, db), " "), net("shop")+" "+d.prefix()+"-berth.svc.postgres.shop-db"; got != want {
		t.Errorf("shop-db's networks: %s, want %s", got, want)
	}
	if out, code := d.berth("run", "--no-tty", "shop", "testapp", "migrate"); code != 0 {
		t.Errorf("the original lost its database: %d\n%s", code, out)
	}
}
