package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/deploy"
	"github.com/berthpaas/berth/internal/settings"
	"github.com/berthpaas/berth/internal/store"
)

// daemonMux is the daemon's operations table, registered as Run registers
// it (on a store in a temporary directory, without an engine).
func daemonMux(t *testing.T) *api.Mux {
	dir := t.TempDir()
	st, err := store.Open(context.Background(), filepath.Join(dir, "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s := settings.Settings{DataDir: dir, OpenSSH: "off"}
	noEngine := func(context.Context) (deploy.Engine, error) { return nil, errors.New("no engine in this test") }
	d := deploy.New(deploy.Config{Store: st, Engine: noEngine, DataDir: dir, Log: log})
	svc := NewService(st, dir, log, d)
	rt, _, err := newRouting(context.Background(), st, s, log, "", noEngine, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	svc.routing = rt
	mux := api.NewMux(log, mapError)
	svc.Register(mux)
	rt.Register(mux)
	svcs := newServices(st, s, log, noEngine, d, svc.redeploy, nil)
	svcs.Register(mux)
	newPreviews(st, dir, log, mux, d, svcs).Register(mux)
	newNotify(st, s, log).Register(mux)
	newNetworks(st, s, log, noEngine, d.Names()).Register(mux)
	git := newGitServer(st, s, svc, d, nil, nil, log)
	git.Register(mux)
	svc.registerVersion(mux, git)
	svc.registerDoctor(mux, st, s, &engineConn{}, git)
	copts, _ := newContainerOpts(st, filepath.Join(dir, "storage"), log)
	copts.Register(mux)
	newCron(st, s, log, noEngine, d).Register(mux)
	registerLogsFailed(mux, d)
	newCluster(s, log, noEngine, "").Register(mux)
	newMetrics(st, settings.Settings{MetricsInterval: "10s", StatsInterval: "off"}, log, noEngine, false).Register(mux)
	newTokens(st, log).Register(mux)
	(&auditLog{st: st, log: log}).Register(mux)
	registerDeployLog(mux)
	newDashboard(st, log, nil, "", "", "").Register(mux)
	return mux
}

// The access rules as they were before each operation declared its own
// (a list of names in the access check): changing them is a decision this
// test makes visible.
var (
	appScopedOps = []string{
		"apps.info", "apps.lock", "apps.unlock", "config.get", "config.update", "properties.set", "properties.report",
		"git.from-archive", "git.from-image", "ps.rebuild", "ps.scale", "ps.start", "ps.stop", "ps.restart",
		"ps.restore", "ps.report", "ps.inspect", "run", "run.detached", "run.list", "run.stop", "enter",
		"logs", "releases.list", "releases.info", "releases.data-plan", "releases.rollback", "checks.run", "checks.set-mode",
		"certs.add", "certs.generate", "certs.remove", "certs.info",
		"letsencrypt.enable", "letsencrypt.disable", "letsencrypt.auto-renew", "letsencrypt.revoke",
		"redirects.set", "redirects.unset", "redirects.list",
		"domains.update", "domains.report", "domains.urls", "ports.update", "ports.report",
		"docker-options.update", "docker-options.list", "docker-options.report", "resource.update", "resource.report", "storage.list",
		"network.set", "network.report", "network.rebuild", "proxy.enable", "proxy.build-config",
		"cron.list", "cron.run", "cron.set", "cron.report", "logs.failed", "metrics.app",
		"events.list", "releases.changes", "deploys.follow", "previews.list", "previews.report",
	}
	anyKeyOps = []string{"system.version", "apps.list"}
)

// TestEveryOperationDeclaresItsAccess walks the daemon's operations: each
// declares its access, the app-scoped ones find the app in their request
// (and refuse --global and --all), and the rules are today's.
func TestEveryOperationDeclaresItsAccess(t *testing.T) {
	ops := daemonMux(t).Ops()
	if len(ops) < 80 {
		t.Fatalf("only %d operations registered", len(ops))
	}
	got := map[api.Access][]string{}
	for _, op := range ops {
		got[op.Access] = append(got[op.Access], op.Name)
		switch op.Access {
		case api.Undeclared:
			t.Errorf("%s does not declare its access (api.AdminOnly, api.AppScoped or api.AnyKey)", op.Name)
		case api.AppScoped:
			checkFindsApp(t, op)
		}
	}
	for access, want := range map[api.Access][]string{api.AppScoped: appScopedOps, api.AnyKey: anyKeyOps} {
		slices.Sort(want)
		if !slices.Equal(got[access], want) {
			t.Errorf("%v operations:\n got %v\nwant %v", access, got[access], want)
		}
	}
	t.Logf("%d operations: %d admin-only, %d app-scoped, %d any key", len(ops), len(got[api.AdminOnly]), len(got[api.AppScoped]), len(got[api.AnyKey]))
}

// checkFindsApp: the request of an app-scoped operation names its app, and
// one that can name every app says so.
func checkFindsApp(t *testing.T, op api.OpInfo) {
	t.Helper()
	req := op.NewRequest()
	if err := json.Unmarshal([]byte(`{"app":"shop"}`), req); err != nil {
		t.Errorf("%s: %v", op.Name, err)
		return
	}
	ar, ok := req.(api.AppRequest)
	if !ok {
		t.Errorf("%s is app-scoped but its request %T does not implement api.AppRequest", op.Name, req)
		return
	}
	if got := ar.AppName(); got != "shop" {
		t.Errorf("%s: %T.AppName() = %q, want shop", op.Name, req, got)
	}
	// A request with a global or all field (in JSON, as clients send it)
	// must say when it is set.
	for _, wide := range []string{"global", "all"} {
		wreq := op.NewRequest()
		json.Unmarshal([]byte(`{"app":"shop","`+wide+`":true}`), wreq)
		b, _ := json.Marshal(wreq)
		var set map[string]any
		json.Unmarshal(b, &set)
		if set[wide] != true {
			continue // the request has no such field
		}
		w, ok := wreq.(api.WideRequest)
		if !ok || w.Wide() != "--"+wide {
			t.Errorf("%s: %T has %q but does not report it through api.WideRequest", op.Name, wreq, wide)
		}
	}
}

// The cluster commands change which machines run apps: admin only.
func TestClusterOperationsAreAdminOnly(t *testing.T) {
	mux := daemonMux(t)
	for _, op := range []string{"cluster.init", "cluster.add", "cluster.list", "cluster.remove"} {
		if got := mux.Access(op); got != api.AdminOnly {
			t.Errorf("%s: access %v, want admin-only", op, got)
		}
	}
}
