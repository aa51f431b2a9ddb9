package services

import (
	"context"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/store"
)

// nets lists a container's networks, sorted.
func (tm *testManager) nets(name string) string {
	var ns []string
	for n := range tm.eng.networksOf(name) {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return strings.Join(ns, " ")
}

// TestLinkAttachesNetworks: a service lives on its own network; a link
// attaches it to the app's network under its DNS name, with the app's
// running containers; unlink detaches it; a recreated or restarted
// service comes back on its linked apps' networks.
func TestLinkAttachesNetworks(t *testing.T) {
	tm := newTestManager(t)
	tm.create(t, "postgres", "db", "postgres:17")
	tm.create(t, "postgres", "other", "postgres:17")
	if got := tm.nets("berth.postgres.db"); got != "berth.svc.postgres.db" {
		t.Errorf("a new service's networks: %q", got)
	}
	tm.createApp(t, "shop")
	// A container of the app from before it had links (default bridge).
	web := tm.eng.addAppContainer("shop", "shop.web.1", "bridge")
	if _, err := link(tm, "postgres", "db", "shop", func(r *api.ServiceLink) { r.NoRestart = true }); err != nil {
		t.Fatal(err)
	}
	if got := tm.nets("berth.postgres.db"); got != "berth.app.shop berth.svc.postgres.db" {
		t.Errorf("linked service's networks: %q", got)
	}
	if got := tm.nets(web); got != "berth.app.shop bridge" {
		t.Errorf("app container's networks after link: %q", got)
	}
	if c := tm.eng.callsOf("connect berth.app.shop berth.postgres.db"); len(c) != 1 || !strings.Contains(c[0], "[dokku-postgres-db]") {
		t.Errorf("service attached as %v, want its DNS name", c)
	}
	if got := tm.nets("berth.postgres.other"); got != "berth.svc.postgres.other" {
		t.Errorf("an unlinked service joined an app's network: %q", got)
	}
	// Recreated (expose, upgrade, a container removed while the daemon
	// was down) and restarted: back on the app's network.
	for _, step := range []func() error{
		func() error {
			_, err := tm.serviceExpose(context.Background(), api.ServiceExpose{ServiceRef: api.ServiceRef{Kind: "postgres", Name: "db"}, Addr: "127.0.0.1:5999"}, tm.out)
			return err
		},
		func() error {
			_, err := tm.serviceRestart(context.Background(), api.ServiceRef{Kind: "postgres", Name: "db"}, tm.out)
			return err
		},
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
		if got := tm.nets("berth.postgres.db"); got != "berth.app.shop berth.svc.postgres.db" {
			t.Errorf("service's networks after recreate/restart: %q", got)
		}
	}
	if _, err := tm.serviceUnlink(context.Background(), api.ServiceLink{ServiceRef: api.ServiceRef{Kind: "postgres", Name: "db"}, App: "shop", NoRestart: true}, tm.out); err != nil {
		t.Fatal(err)
	}
	if got := tm.nets("berth.postgres.db"); got != "berth.svc.postgres.db" {
		t.Errorf("unlinked service's networks: %q", got)
	}
}

// TestSyncNetworksMigratesSharedNetwork: an install from before per-app
// networks (services and linked apps' containers on one shared network) is
// moved at daemon start: app containers join their app's network, services
// join theirs and their apps', then leave the shared one; the shared
// network goes once nothing is on it.
func TestSyncNetworksMigratesSharedNetwork(t *testing.T) {
	tm := newTestManager(t)
	ctx := context.Background()
	tm.create(t, "postgres", "db", "postgres:17")
	tm.create(t, "redis", "idle", "redis:7")
	tm.createApp(t, "shop")
	tm.createApp(t, "blog")
	if _, err := link(tm, "postgres", "db", "shop", func(r *api.ServiceLink) { r.NoRestart = true }); err != nil {
		t.Fatal(err)
	}
	// Put it back as an old Berth left it.
	for _, c := range []string{"berth.postgres.db", "berth.redis.idle"} {
		id := tm.eng.find(c).ID
		tm.eng.DisconnectNetwork(ctx, "berth.app.shop", id)
		tm.eng.DisconnectNetwork(ctx, tm.names.ServiceNetwork(tm.eng.find(c).Labels["berth.service.kind"], tm.eng.find(c).Labels["berth.service.name"]), id)
		tm.eng.EnsureNetwork(ctx, "berth", nil, docker.SubnetPool{})
		tm.eng.ConnectNetwork(ctx, "berth", id, nil)
	}
	tm.eng.RemoveNetwork(ctx, "berth.app.shop")
	web := tm.eng.addAppContainer("shop", "shop.web.1", "berth")
	blog := tm.eng.addAppContainer("blog", "blog.web.1", "berth")

	tm.RestoreContainers(ctx)
	if got := tm.nets("berth.postgres.db"); got != "berth.app.shop berth.svc.postgres.db" {
		t.Errorf("linked service after migration: %q", got)
	}
	if got := tm.nets("berth.redis.idle"); got != "berth.svc.redis.idle" {
		t.Errorf("unlinked service after migration: %q", got)
	}
	// The app's container keeps the shared network (its published port
	// lives there) until its next deploy, and joined its own.
	if got := tm.nets(web); got != "berth berth.app.shop" {
		t.Errorf("linked app's container after migration: %q", got)
	}
	if got := tm.nets(blog); got != "berth" {
		t.Errorf("unlinked app's container after migration: %q", got)
	}
	// Attached before the service left the shared network.
	calls := tm.eng.callsOf("")
	attach := slices.Index(calls, "connect berth.app.shop shop.web.1 []")
	leave := slices.Index(calls, "disconnect berth berth.postgres.db")
	if attach < 0 || leave < 0 || attach > leave {
		t.Errorf("the app's container joined its network at %d, the service left the shared one at %d: %v", attach, leave, calls)
	}
	if !tm.eng.networks["berth"] {
		t.Fatal("shared network removed while containers are on it")
	}
	// The old containers gone (a deploy replaced them): the next start
	// removes the shared network.
	tm.eng.RemoveContainer(ctx, web, true)
	tm.eng.RemoveContainer(ctx, blog, true)
	tm.RestoreContainers(ctx)
	if tm.eng.networks["berth"] {
		t.Error("empty shared network not removed")
	}
}

// TestAppNetworkFollowsApps: a clone is linked to the app's services; a
// renamed app's services move to the new name's network; a destroyed
// app's network goes.
func TestAppNetworkFollowsApps(t *testing.T) {
	tm := newTestManager(t)
	ctx := context.Background()
	tm.create(t, "postgres", "db", "postgres:17")
	tm.create(t, "redis", "cache", "redis:7")
	tm.createApp(t, "shop")
	for _, kind := range []string{"postgres", "redis"} {
		name := map[string]string{"postgres": "db", "redis": "cache"}[kind]
		if _, err := link(tm, kind, name, "shop", func(r *api.ServiceLink) { r.NoRestart = true }); err != nil {
			t.Fatal(err)
		}
	}
	var made []store.Link
	err := tm.store.Tx(ctx, func(tx *store.Tx) error {
		from, err := tx.App("shop")
		if err != nil {
			return err
		}
		to, err := tx.CreateApp("copy", from.CreatedAt)
		if err != nil {
			return err
		}
		made, err = tm.OnAppCloned(tx, from, to)
		return err
	})
	if err != nil || len(made) != 2 {
		t.Fatalf("clone's links: %+v, %v", made, err)
	}
	links, err := tm.serviceAppLinks(ctx, api.AppServiceRef{App: "copy"}, api.Output{})
	if err != nil || len(links.Links) != 2 || links.Links[0].Var == "" {
		t.Fatalf("clone's links: %+v, %v", links, err)
	}
	if n, _ := tm.NetworkFor(ctx, "copy"); n != "berth.app.copy" {
		t.Errorf("clone's network: %q", n)
	}
	if got := tm.nets("berth.postgres.db"); got != "berth.app.copy berth.app.shop berth.svc.postgres.db" {
		t.Errorf("service's networks with the clone: %q", got)
	}

	// Renamed (the store's rename, then the hook).
	err = tm.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := tx.App("copy")
		if err != nil {
			return err
		}
		return tx.RenameApp(a, "copy2")
	})
	if err != nil {
		t.Fatal(err)
	}
	tm.OnAppRenamed(ctx, "copy", "copy2")
	if got := tm.nets("berth.redis.cache"); got != "berth.app.copy2 berth.app.shop berth.svc.redis.cache" {
		t.Errorf("service's networks after the rename: %q", got)
	}
	if tm.eng.networks["berth.app.copy"] {
		t.Error("the old name's network stayed")
	}
	tm.OnAppDestroyed(ctx, "shop")
	if got := tm.nets("berth.redis.cache"); got != "berth.app.copy2 berth.svc.redis.cache" {
		t.Errorf("service's networks after the destroy: %q", got)
	}
	if tm.eng.networks["berth.app.shop"] {
		t.Error("the destroyed app's network stayed")
	}
}
