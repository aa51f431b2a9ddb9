package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/deploy"
	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/settings"
	"github.com/berthpaas/berth/internal/store"
)

// testDaemon is the daemon's operations on a real store in a temp dir, with
// no container engine: every engine connect fails, and is counted, because
// apps and config must work without one.
type testDaemon struct {
	mux      *api.Mux
	svc      *Service
	dataDir  string
	connects atomic.Int32
}

var testNow = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func newTestDaemon(t *testing.T) *testDaemon {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(context.Background(), filepath.Join(dir, "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	td := &testDaemon{dataDir: dir}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	noEngine := func(context.Context) (deploy.Engine, error) {
		td.connects.Add(1)
		return nil, fmt.Errorf("connect: %w", docker.ErrEngineUnavailable)
	}
	d := deploy.New(deploy.Config{Store: st, Engine: noEngine, DataDir: dir, Log: log})
	td.svc = NewService(st, dir, log, d)
	td.svc.now = func() time.Time { return testNow }
	// No proxy (as with BERTH_HTTP_ADDR=off): nothing is started.
	rt, _, err := newRouting(context.Background(), st, settings.Settings{DataDir: dir, HTTPAddr: "off"}, log, "", noEngine, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	td.svc.routing = rt
	td.mux = api.NewMux(log, mapError)
	td.svc.Register(td.mux)
	rt.Register(td.mux)
	return td
}

func (td *testDaemon) noEngine(t *testing.T) {
	t.Helper()
	if n := td.connects.Load(); n != 0 {
		t.Errorf("the engine was asked for %d times", n)
	}
}

func call[Req, Resp any](t *testing.T, td *testDaemon, op api.Op[Req, Resp], req Req) (Resp, error) {
	t.Helper()
	return op.Call(context.Background(), td.mux, req)
}

func must[Req, Resp any](t *testing.T, td *testDaemon, op api.Op[Req, Resp], req Req) Resp {
	t.Helper()
	res, err := call(t, td, op, req)
	if err != nil {
		t.Fatalf("%s %+v: %v", op.Name, req, err)
	}
	return res
}

// wantCode checks that err is an API error with code and a message holding
// msg.
func wantCode(t *testing.T, what string, err error, code api.Code, msg string) {
	t.Helper()
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Code != code || !strings.Contains(ae.Message, msg) {
		t.Errorf("%s: err = %v, want %s %q", what, err, code, msg)
	}
}

func (td *testDaemon) names(t *testing.T) []string {
	t.Helper()
	var names []string
	for _, a := range must(t, td, api.AppsList, api.Empty{}).Apps {
		names = append(names, a.Name)
	}
	return names
}

func (td *testDaemon) vars(t *testing.T, sc api.Scope) map[string]string {
	t.Helper()
	return must(t, td, api.ConfigGet, api.ConfigRequest{Scope: sc}).Vars
}

func TestAppsCreateListInfo(t *testing.T) {
	t.Parallel()
	td := newTestDaemon(t)
	if got := must(t, td, api.AppsList, api.Empty{}); got.Apps == nil || len(got.Apps) != 0 {
		t.Errorf("empty list = %#v, want an empty, non-nil list (JSON [])", got.Apps)
	}
	info := must(t, td, api.AppsCreate, api.AppRef{App: "shop"})
	want := api.AppInfo{Name: "shop", CreatedAt: testNow, Dir: filepath.Join(td.dataDir, "apps", "shop")}
	if !info.CreatedAt.Equal(testNow) {
		t.Errorf("created at %v, want %v", info.CreatedAt, testNow)
	}
	info.CreatedAt = testNow
	if !reflect.DeepEqual(info, want) {
		t.Errorf("create = %+v, want %+v", info, want)
	}
	must(t, td, api.AppsCreate, api.AppRef{App: "api.example.com"})
	must(t, td, api.AppsCreate, api.AppRef{App: "blog"})
	if got := td.names(t); !reflect.DeepEqual(got, []string{"api.example.com", "blog", "shop"}) {
		t.Errorf("list = %q, want sorted names", got)
	}
	got := must(t, td, api.AppsInfo, api.AppRef{App: "shop"})
	if got.Name != "shop" || got.Locked || got.Dir != want.Dir {
		t.Errorf("info = %+v", got)
	}
	_, err := call(t, td, api.AppsInfo, api.AppRef{App: "gone"})
	if !errors.Is(err, api.ErrAppNotFound) || err.Error() != "App gone does not exist" {
		t.Errorf("info of a missing app: %v", err)
	}
	_, err = call(t, td, api.AppsInfo, api.AppRef{})
	wantCode(t, "info without a name", err, api.CodeInvalid, "Please specify an app")
	td.noEngine(t)
}

func TestAppsCreateRefusesBadNames(t *testing.T) {
	t.Parallel()
	td := newTestDaemon(t)
	must(t, td, api.AppsCreate, api.AppRef{App: "shop"})
	for _, name := range []string{"", "Shop", "-shop", "shop-", "shop.", "a..b", "sh_op", "shop/x", "../x", strings.Repeat("a", 64)} {
		_, err := call(t, td, api.AppsCreate, api.AppRef{App: name})
		wantCode(t, fmt.Sprintf("create %q", name), err, api.CodeInvalid, "")
	}
	_, err := call(t, td, api.AppsCreate, api.AppRef{App: "shop"})
	wantCode(t, "create a taken name", err, api.CodeConflict, "Name is already taken")
	if _, err := call(t, td, api.AppsCreate, api.AppRef{App: strings.Repeat("a", 63)}); err != nil {
		t.Errorf("63 characters: %v", err)
	}
	if got := td.names(t); len(got) != 2 {
		t.Errorf("apps after bad creates: %q", got)
	}
}

// TestAppsCreateClearsStrayFiles: files left by a destroyed app of the same
// name (a crash mid-destroy) do not leak into the new app.
func TestAppsCreateClearsStrayFiles(t *testing.T) {
	t.Parallel()
	td := newTestDaemon(t)
	stray := filepath.Join(td.dataDir, "apps", "shop", "releases", "1")
	repo := filepath.Join(td.dataDir, "repos", "shop.git")
	for _, d := range []string{stray, repo} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	must(t, td, api.AppsCreate, api.AppRef{App: "shop"})
	for _, d := range []string{stray, repo} {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s survived create: %v", d, err)
		}
	}
}

func TestAppsLock(t *testing.T) {
	t.Parallel()
	td := newTestDaemon(t)
	must(t, td, api.AppsCreate, api.AppRef{App: "shop"})
	steps := []struct {
		op     api.Op[api.AppRef, api.LockResult]
		was    bool
		locked bool
	}{
		{api.AppsLock, false, true},
		{api.AppsLock, true, true},
		{api.AppsUnlock, true, false},
		{api.AppsUnlock, false, false},
	}
	for i, s := range steps {
		res := must(t, td, s.op, api.AppRef{App: "shop"})
		if res.WasLocked != s.was {
			t.Errorf("step %d %s: was locked %v, want %v", i, s.op.Name, res.WasLocked, s.was)
		}
		if info := must(t, td, api.AppsInfo, api.AppRef{App: "shop"}); info.Locked != s.locked {
			t.Errorf("step %d %s: locked %v, want %v", i, s.op.Name, info.Locked, s.locked)
		}
	}
	for _, op := range []api.Op[api.AppRef, api.LockResult]{api.AppsLock, api.AppsUnlock} {
		if _, err := call(t, td, op, api.AppRef{App: "gone"}); !errors.Is(err, api.ErrAppNotFound) {
			t.Errorf("%s of a missing app: %v", op.Name, err)
		}
	}
}

func TestAppsDestroy(t *testing.T) {
	t.Parallel()
	td := newTestDaemon(t)
	must(t, td, api.AppsCreate, api.AppRef{App: "shop"})
	must(t, td, api.AppsCreate, api.AppRef{App: "blog"})
	must(t, td, api.ConfigUpdate, api.ConfigChange{Scope: api.Scope{App: "shop"}, Set: map[string]string{"A": "1"}})
	must(t, td, api.ConfigUpdate, api.ConfigChange{Scope: api.Scope{App: "blog"}, Set: map[string]string{"B": "2"}})
	dir := filepath.Join(td.dataDir, "apps", "shop")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}

	// A deploy in progress holds the app: destroy waits for nobody.
	unlock, err := td.svc.deployer.Lock(context.Background(), "shop", "git push")
	if err != nil {
		t.Fatal(err)
	}
	_, err = call(t, td, api.AppsDestroy, api.AppRef{App: "shop"})
	wantCode(t, "destroy during a deploy", err, api.CodeLocked, "shop is being deployed by git push")
	unlock()

	must(t, td, api.AppsDestroy, api.AppRef{App: "shop"})
	if _, err := call(t, td, api.AppsInfo, api.AppRef{App: "shop"}); !errors.Is(err, api.ErrAppNotFound) {
		t.Errorf("info after destroy: %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("app dir survived: %v", err)
	}
	if got := td.vars(t, api.Scope{App: "blog"}); !reflect.DeepEqual(got, map[string]string{"B": "2"}) {
		t.Errorf("the other app's config = %v", got)
	}
	// A new app of the same name starts empty.
	must(t, td, api.AppsCreate, api.AppRef{App: "shop"})
	if got := td.vars(t, api.Scope{App: "shop"}); len(got) != 0 {
		t.Errorf("config of the re-created app = %v", got)
	}
	if _, err := call(t, td, api.AppsDestroy, api.AppRef{App: "gone"}); !errors.Is(err, api.ErrAppNotFound) {
		t.Errorf("destroy of a missing app: %v", err)
	}
	// Never deployed: nothing to remove from the engine.
	td.noEngine(t)
}

func TestAppsRename(t *testing.T) {
	t.Parallel()
	td := newTestDaemon(t)
	must(t, td, api.AppsCreate, api.AppRef{App: "old"})
	must(t, td, api.AppsCreate, api.AppRef{App: "taken"})
	must(t, td, api.ConfigUpdate, api.ConfigChange{Scope: api.Scope{App: "old"}, Set: map[string]string{"A": "1"}})
	must(t, td, api.PropertiesSet, api.PropertyChange{Scope: api.Scope{App: "old"}, Namespace: "apps", Key: "deploy-source", Value: "git"})
	if err := os.MkdirAll(filepath.Join(td.dataDir, "apps", "old", "cache"), 0o700); err != nil {
		t.Fatal(err)
	}

	_, err := call(t, td, api.AppsRename, api.RenameRequest{From: "old", To: "taken"})
	wantCode(t, "rename onto a taken name", err, api.CodeConflict, "Name is already taken")
	_, err = call(t, td, api.AppsRename, api.RenameRequest{From: "old", To: "Bad Name"})
	wantCode(t, "rename to a bad name", err, api.CodeInvalid, "")
	if _, err := call(t, td, api.AppsRename, api.RenameRequest{From: "gone", To: "new"}); !errors.Is(err, api.ErrAppNotFound) {
		t.Errorf("rename of a missing app: %v", err)
	}
	if got := td.names(t); !reflect.DeepEqual(got, []string{"old", "taken"}) {
		t.Fatalf("failed renames changed the apps: %q", got)
	}

	info := must(t, td, api.AppsRename, api.RenameRequest{From: "old", To: "new"})
	if info.Name != "new" || info.DeploySource != "git" || info.Dir != filepath.Join(td.dataDir, "apps", "new") {
		t.Errorf("renamed = %+v", info)
	}
	if got := td.names(t); !reflect.DeepEqual(got, []string{"new", "taken"}) {
		t.Errorf("apps = %q", got)
	}
	if got := td.vars(t, api.Scope{App: "new"}); !reflect.DeepEqual(got, map[string]string{"A": "1"}) {
		t.Errorf("config after rename = %v", got)
	}
	if _, err := os.Stat(filepath.Join(td.dataDir, "apps", "new", "cache")); err != nil {
		t.Errorf("app files did not move: %v", err)
	}
	if _, err := os.Stat(filepath.Join(td.dataDir, "apps", "old")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("old app dir remains: %v", err)
	}
	td.noEngine(t)
}

func TestAppsClone(t *testing.T) {
	t.Parallel()
	td := newTestDaemon(t)
	must(t, td, api.AppsCreate, api.AppRef{App: "src"})
	must(t, td, api.AppsCreate, api.AppRef{App: "other"})
	must(t, td, api.ConfigUpdate, api.ConfigChange{Scope: api.Scope{App: "src"}, Set: map[string]string{"A": "1", "B": "two"}})
	must(t, td, api.ConfigUpdate, api.ConfigChange{Scope: api.Scope{App: "other"}, Set: map[string]string{"O": "x"}})
	must(t, td, api.PropertiesSet, api.PropertyChange{Scope: api.Scope{App: "src"}, Namespace: "apps", Key: "deploy-source-metadata", Value: "main"})

	info := must(t, td, api.AppsClone, api.RenameRequest{From: "src", To: "copy"})
	if info.Name != "copy" || info.DeploySourceMetadata != "main" {
		t.Errorf("clone = %+v", info)
	}
	if got := td.vars(t, api.Scope{App: "copy"}); !reflect.DeepEqual(got, map[string]string{"A": "1", "B": "two"}) {
		t.Errorf("cloned config = %v", got)
	}
	// The copy is independent.
	must(t, td, api.ConfigUpdate, api.ConfigChange{Scope: api.Scope{App: "copy"}, Unset: []string{"A"}})
	if got := td.vars(t, api.Scope{App: "src"}); got["A"] != "1" {
		t.Errorf("unset in the copy reached the source: %v", got)
	}

	_, err := call(t, td, api.AppsClone, api.RenameRequest{From: "src", To: "other"})
	wantCode(t, "clone onto a taken name", err, api.CodeConflict, "Name is already taken")
	got := must(t, td, api.AppsClone, api.RenameRequest{From: "src", To: "other", IgnoreExisting: true})
	if got.Name != "other" {
		t.Errorf("clone --ignore-existing = %+v", got)
	}
	if v := td.vars(t, api.Scope{App: "other"}); !reflect.DeepEqual(v, map[string]string{"O": "x"}) {
		t.Errorf("--ignore-existing changed the existing app: %v", v)
	}
	if _, err := call(t, td, api.AppsClone, api.RenameRequest{From: "gone", To: "new"}); !errors.Is(err, api.ErrAppNotFound) {
		t.Errorf("clone of a missing app: %v", err)
	}
	_, err = call(t, td, api.AppsClone, api.RenameRequest{From: "src", To: "-bad"})
	wantCode(t, "clone to a bad name", err, api.CodeInvalid, "")
	if names := td.names(t); !reflect.DeepEqual(names, []string{"copy", "other", "src"}) {
		t.Errorf("apps = %q", names)
	}
	td.noEngine(t)
}

func TestConfig(t *testing.T) {
	t.Parallel()
	td := newTestDaemon(t)
	must(t, td, api.AppsCreate, api.AppRef{App: "shop"})
	shop := api.Scope{App: "shop"}
	global := api.Scope{Global: true}
	odd := "it's \"quoted\" $HOME \\ back\nnew line ünïcode 🚢"

	res := must(t, td, api.ConfigUpdate, api.ConfigChange{Scope: shop, Set: map[string]string{"A": "1", "ODD": odd, "EMPTY": ""}})
	if res.Restarted || len(res.Unset) != 0 {
		t.Errorf("set = %+v", res)
	}
	if got := td.vars(t, shop); !reflect.DeepEqual(got, map[string]string{"A": "1", "ODD": odd, "EMPTY": ""}) {
		t.Errorf("vars = %q", got)
	}
	must(t, td, api.ConfigUpdate, api.ConfigChange{Scope: global, Set: map[string]string{"A": "global", "G": "g"}})
	if got := td.vars(t, global); !reflect.DeepEqual(got, map[string]string{"A": "global", "G": "g"}) {
		t.Errorf("global vars = %v", got)
	}
	merged := must(t, td, api.ConfigGet, api.ConfigRequest{Scope: shop, Merged: true}).Vars
	if want := map[string]string{"A": "1", "ODD": odd, "EMPTY": "", "G": "g"}; !reflect.DeepEqual(merged, want) {
		t.Errorf("merged = %q, want the app's over the global ones", merged)
	}
	if got := must(t, td, api.ConfigGet, api.ConfigRequest{Scope: global, Merged: true}).Vars; !reflect.DeepEqual(got, map[string]string{"A": "global", "G": "g"}) {
		t.Errorf("merged global = %v", got)
	}

	// Unset reports what was there.
	res = must(t, td, api.ConfigUpdate, api.ConfigChange{Scope: shop, Unset: []string{"A", "NEVER"}})
	if !reflect.DeepEqual(res.Unset, []string{"A"}) {
		t.Errorf("unset = %q, want [A]", res.Unset)
	}
	// Replace reports every key that went.
	res = must(t, td, api.ConfigUpdate, api.ConfigChange{Scope: shop, Set: map[string]string{"ODD": "x", "NEW": "n"}, Replace: true})
	if !reflect.DeepEqual(res.Unset, []string{"EMPTY"}) {
		t.Errorf("replace unset = %q, want [EMPTY]", res.Unset)
	}
	if got := td.vars(t, shop); !reflect.DeepEqual(got, map[string]string{"ODD": "x", "NEW": "n"}) {
		t.Errorf("after replace = %v", got)
	}
	// Clear: replace with nothing.
	res = must(t, td, api.ConfigUpdate, api.ConfigChange{Scope: shop, Replace: true})
	if !reflect.DeepEqual(res.Unset, []string{"NEW", "ODD"}) {
		t.Errorf("clear unset = %q", res.Unset)
	}
	if got := td.vars(t, shop); len(got) != 0 {
		t.Errorf("after clear = %v", got)
	}
	// Never deployed: a config change restarts nothing and needs no engine.
	td.noEngine(t)
}

// TestConfigBadInputChangesNothing: every key and value is checked before
// the first write.
func TestConfigBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	td := newTestDaemon(t)
	must(t, td, api.AppsCreate, api.AppRef{App: "shop"})
	shop := api.Scope{App: "shop"}
	must(t, td, api.ConfigUpdate, api.ConfigChange{Scope: shop, Set: map[string]string{"KEEP": "1"}})
	for _, tt := range []struct {
		ch   api.ConfigChange
		code api.Code
		msg  string
	}{
		{api.ConfigChange{Scope: shop, Set: map[string]string{"OK": "1", "1BAD": "x"}}, api.CodeInvalid, `Invalid key name: "1BAD"`},
		{api.ConfigChange{Scope: shop, Set: map[string]string{"OK": "a\x00b"}}, api.CodeInvalid, "Invalid value for OK: contains a NUL byte"},
		{api.ConfigChange{Scope: shop, Unset: []string{"KEEP", "A-B"}}, api.CodeInvalid, `Invalid key name: "A-B"`},
		{api.ConfigChange{Scope: shop, Set: map[string]string{"OK": "1"}, Unset: []string{"bad key"}, Replace: true}, api.CodeInvalid, "Invalid key name"},
		{api.ConfigChange{Scope: api.Scope{App: "shop", Global: true}, Set: map[string]string{"OK": "1"}}, api.CodeInvalid, "Specify either an app or --global, not both"},
		{api.ConfigChange{Set: map[string]string{"OK": "1"}}, api.CodeInvalid, "Please specify an app or --global"},
		{api.ConfigChange{Scope: api.Scope{App: "gone"}, Set: map[string]string{"OK": "1"}}, api.CodeAppNotFound, "App gone does not exist"},
	} {
		_, err := call(t, td, api.ConfigUpdate, tt.ch)
		wantCode(t, fmt.Sprintf("%+v", tt.ch), err, tt.code, tt.msg)
	}
	if got := td.vars(t, shop); !reflect.DeepEqual(got, map[string]string{"KEEP": "1"}) {
		t.Errorf("vars after bad input = %v", got)
	}
	if got := td.vars(t, api.Scope{Global: true}); len(got) != 0 {
		t.Errorf("global vars after bad input = %v", got)
	}
	_, err := call(t, td, api.ConfigGet, api.ConfigRequest{Scope: api.Scope{App: "gone"}})
	if !errors.Is(err, api.ErrAppNotFound) {
		t.Errorf("config of a missing app: %v", err)
	}
	// Malformed JSON from a client is an invalid request, not a crash.
	var resp api.ConfigChangeResult
	err = td.mux.Call(context.Background(), api.ConfigUpdate.Name, map[string]any{"set": []int{1}}, &resp, api.Output{})
	wantCode(t, "malformed request", err, api.CodeInvalid, "malformed request for config.update")
}

func TestProperties(t *testing.T) {
	t.Parallel()
	td := newTestDaemon(t)
	must(t, td, api.AppsCreate, api.AppRef{App: "shop"})
	shop := api.Scope{App: "shop"}
	report := func(sc api.Scope, ns string) api.PropertyValues {
		return must(t, td, api.PropertiesReport, api.PropertyReport{Scope: sc, Namespace: ns})
	}
	got := report(shop, "apps")
	want := api.PropertyValues{
		App:      map[string]string{"deploy-source": "", "deploy-source-metadata": "", "disable-autocreation": ""},
		Global:   map[string]string{"deploy-source": "", "deploy-source-metadata": "", "disable-autocreation": ""},
		Computed: map[string]string{"deploy-source": "", "deploy-source-metadata": "", "disable-autocreation": "false"},
		// The report's lines: raw lines of the per-app keys, the global
		// line of the global-only one (as Dokku's apps:report).
		Fields: []api.ReportField{{Key: "deploy-source"}, {Key: "deploy-source-metadata"}, {Key: "global-disable-autocreation"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("fresh report = %+v, want defaults %+v", got, want)
	}
	must(t, td, api.PropertiesSet, api.PropertyChange{Scope: shop, Namespace: "apps", Key: "deploy-source", Value: "git"})
	must(t, td, api.PropertiesSet, api.PropertyChange{Scope: api.Scope{Global: true}, Namespace: "apps", Key: "disable-autocreation", Value: "true"})
	got = report(shop, "apps")
	if got.App["deploy-source"] != "git" || got.Computed["deploy-source"] != "git" || got.Global["disable-autocreation"] != "true" || got.Computed["disable-autocreation"] != "true" {
		t.Errorf("after set = %+v", got)
	}
	if info := must(t, td, api.AppsInfo, api.AppRef{App: "shop"}); info.DeploySource != "git" {
		t.Errorf("apps:report's deploy source = %q", info.DeploySource)
	}
	// An app value wins over the global one; unsetting it falls back.
	must(t, td, api.PropertiesSet, api.PropertyChange{Scope: api.Scope{Global: true}, Namespace: "ps", Key: "restart-policy", Value: "always"})
	must(t, td, api.PropertiesSet, api.PropertyChange{Scope: shop, Namespace: "ps", Key: "restart-policy", Value: "no"})
	if got := report(shop, "ps"); got.Computed["restart-policy"] != "no" || got.Global["restart-policy"] != "always" {
		t.Errorf("ps report = %+v", got)
	}
	must(t, td, api.PropertiesSet, api.PropertyChange{Scope: shop, Namespace: "ps", Key: "restart-policy", Unset: true})
	if got := report(shop, "ps"); got.Computed["restart-policy"] != "always" || got.App["restart-policy"] != "" {
		t.Errorf("ps report after unset = %+v", got)
	}
	if got := report(api.Scope{Global: true}, "ps"); got.Computed["restart-policy"] != "always" || got.App["restart-policy"] != "" {
		t.Errorf("global ps report = %+v", got)
	}
	// A --global report has the computed and global lines of the globally
	// settable keys only; an app's has each key's lines as declared.
	lines := func(sc api.Scope) map[string]string {
		m := map[string]string{}
		for _, f := range report(sc, "ps").Fields {
			m[f.Key] = f.Value
		}
		return m
	}
	g := lines(api.Scope{Global: true})
	if g["computed-restart-policy"] != "always" || g["global-restart-policy"] != "always" || g["computed-stop-timeout-seconds"] != "30" {
		t.Errorf("global ps lines = %v", g)
	}
	for _, k := range []string{"restart-policy", "start-cmd", "computed-start-cmd", "generation", "computed-generation"} {
		if _, ok := g[k]; ok {
			t.Errorf("global ps lines have %s: %v", k, g)
		}
	}
	a := lines(shop)
	for k, v := range map[string]string{"restart-policy": "", "computed-restart-policy": "always", "global-restart-policy": "always", "start-cmd": "", "computed-start-cmd": "", "computed-skip-deploy": "false"} {
		if got, ok := a[k]; !ok || got != v {
			t.Errorf("app ps line %s = %q (present %v), want %q", k, got, ok, v)
		}
	}
	for _, k := range []string{"global-start-cmd", "generation"} {
		if _, ok := a[k]; ok {
			t.Errorf("app ps lines have %s: %v", k, a)
		}
	}

	for _, tt := range []struct {
		ch   api.PropertyChange
		code api.Code
		msg  string
	}{
		{api.PropertyChange{Scope: shop, Namespace: "apps", Key: "nope", Value: "1"}, api.CodeInvalid, `Invalid key for apps:set: "nope"; valid keys: deploy-source, deploy-source-metadata, disable-autocreation`},
		{api.PropertyChange{Scope: shop, Namespace: "apps", Key: "disable-autocreation", Value: "true"}, api.CodeInvalid, "Property can only be specified globally: use apps:set --global disable-autocreation"},
		{api.PropertyChange{Scope: api.Scope{Global: true}, Namespace: "apps", Key: "deploy-source", Value: "git"}, api.CodeInvalid, "Property cannot be specified globally: deploy-source is set per app"},
		{api.PropertyChange{Scope: api.Scope{Global: true}, Namespace: "apps", Key: "disable-autocreation", Value: "maybe"}, api.CodeInvalid, `Invalid value "maybe": expected true or false`},
		{api.PropertyChange{Scope: shop, Namespace: "ps", Key: "generation", Value: "7"}, api.CodeInvalid, `Invalid key for ps:set: "generation"`},
		{api.PropertyChange{Scope: api.Scope{App: "gone"}, Namespace: "apps", Key: "deploy-source", Value: "git"}, api.CodeAppNotFound, "App gone does not exist"},
		{api.PropertyChange{Namespace: "apps", Key: "deploy-source", Value: "git"}, api.CodeInvalid, "Please specify an app or --global"},
	} {
		_, err := call(t, td, api.PropertiesSet, tt.ch)
		wantCode(t, fmt.Sprintf("%+v", tt.ch), err, tt.code, tt.msg)
	}
	// Unsetting skips value checks: a global-only key can always be cleared.
	must(t, td, api.PropertiesSet, api.PropertyChange{Scope: api.Scope{Global: true}, Namespace: "apps", Key: "disable-autocreation", Unset: true})
	if got := report(shop, "apps"); got.Computed["disable-autocreation"] != "false" || got.App["deploy-source"] != "git" {
		t.Errorf("after bad sets and an unset = %+v", got)
	}
	if _, err := call(t, td, api.PropertiesReport, api.PropertyReport{Scope: api.Scope{App: "gone"}, Namespace: "apps"}); !errors.Is(err, api.ErrAppNotFound) {
		t.Errorf("report of a missing app: %v", err)
	}
	td.noEngine(t)
}

// TestLetsEncryptEmailFromConfig: letsencrypt's computed email falls back
// to DOKKU_LETSENCRYPT_EMAIL, as letsencrypt:enable would use it.
func TestLetsEncryptEmailFromConfig(t *testing.T) {
	t.Parallel()
	td := newTestDaemon(t)
	must(t, td, api.AppsCreate, api.AppRef{App: "shop"})
	must(t, td, api.ConfigUpdate, api.ConfigChange{Scope: api.Scope{App: "shop"}, Set: map[string]string{"DOKKU_LETSENCRYPT_EMAIL": "ops@shop.example"}})
	got := must(t, td, api.PropertiesReport, api.PropertyReport{Scope: api.Scope{App: "shop"}, Namespace: "letsencrypt"})
	if got.Computed["email"] != "ops@shop.example" || got.App["email"] != "" {
		t.Errorf("letsencrypt report = %+v", got)
	}
	must(t, td, api.PropertiesSet, api.PropertyChange{Scope: api.Scope{App: "shop"}, Namespace: "letsencrypt", Key: "email", Value: "set@shop.example"})
	if got := must(t, td, api.PropertiesReport, api.PropertyReport{Scope: api.Scope{App: "shop"}, Namespace: "letsencrypt"}); got.Computed["email"] != "set@shop.example" {
		t.Errorf("a set email does not win: %+v", got)
	}
}

// TestAppsDefaultDomain: a new app gets APP.<global domain>, a rename
// moves it, a clone gets its own, and destroy frees it.
func TestAppsDefaultDomain(t *testing.T) {
	t.Parallel()
	td := newTestDaemon(t)
	must(t, td, api.DomainsUpdate, api.DomainsChange{Scope: api.Scope{Global: true}, Action: api.DomainsSet, Domains: []string{"example.com"}})
	domains := func(name string) []string {
		t.Helper()
		r := must(t, td, api.DomainsReportOp, api.DomainsReportRequest{App: name})
		if len(r.Reports) != 1 {
			t.Fatalf("reports of %s: %+v", name, r.Reports)
		}
		return r.Reports[0].AppVhosts
	}
	must(t, td, api.AppsCreate, api.AppRef{App: "shop"})
	if got := domains("shop"); !reflect.DeepEqual(got, []string{"shop.example.com"}) {
		t.Errorf("new app's domains = %q", got)
	}
	must(t, td, api.AppsRename, api.RenameRequest{From: "shop", To: "store"})
	if got := domains("store"); !reflect.DeepEqual(got, []string{"store.example.com"}) {
		t.Errorf("renamed app's domains = %q", got)
	}
	must(t, td, api.AppsClone, api.RenameRequest{From: "store", To: "copy", SkipDeploy: true})
	if got := domains("copy"); !reflect.DeepEqual(got, []string{"copy.example.com"}) {
		t.Errorf("clone's domains = %q", got)
	}
	must(t, td, api.AppsDestroy, api.AppRef{App: "store"})
	// Its domain is free again: another app may take it.
	must(t, td, api.AppsCreate, api.AppRef{App: "other"})
	must(t, td, api.DomainsUpdate, api.DomainsChange{Scope: api.Scope{App: "other"}, Action: api.DomainsAdd, Domains: []string{"store.example.com"}})
	td.noEngine(t)
}

// deployed gives app a live release, as a finished deploy leaves it.
func (td *testDaemon) deployed(t *testing.T, name string) {
	t.Helper()
	err := td.svc.store.Tx(context.Background(), func(tx *store.Tx) error {
		a, err := tx.App(name)
		if err != nil {
			return err
		}
		r, err := tx.CreateRelease(a, store.Release{Source: "image", SourceRef: "nginx:1", CreatedAt: testNow})
		if err != nil {
			return err
		}
		return tx.MakeLive(r, testNow)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDeployedAppWithoutEngine: with the engine down, what must touch
// containers fails with one "unavailable" line and leaves the app whole, so
// the command can be run again; config changes are kept (the redeploy is
// what failed).
func TestDeployedAppWithoutEngine(t *testing.T) {
	t.Parallel()
	td := newTestDaemon(t)
	must(t, td, api.AppsCreate, api.AppRef{App: "shop"})
	must(t, td, api.ConfigUpdate, api.ConfigChange{Scope: api.Scope{App: "shop"}, Set: map[string]string{"A": "1"}})
	td.deployed(t, "shop")

	_, err := call(t, td, api.AppsDestroy, api.AppRef{App: "shop"})
	wantCode(t, "destroy", err, api.CodeUnavailable, "docker engine unavailable")
	_, err = call(t, td, api.AppsRename, api.RenameRequest{From: "shop", To: "store"})
	wantCode(t, "rename", err, api.CodeUnavailable, "docker engine unavailable")
	_, err = call(t, td, api.AppsRename, api.RenameRequest{From: "shop", To: "store", SkipDeploy: true})
	wantCode(t, "rename --skip-deploy", err, api.CodeUnavailable, "docker engine unavailable")
	if got := td.names(t); !reflect.DeepEqual(got, []string{"shop"}) {
		t.Errorf("apps = %q, want shop unchanged", got)
	}
	if got := td.vars(t, api.Scope{App: "shop"}); !reflect.DeepEqual(got, map[string]string{"A": "1"}) {
		t.Errorf("config = %v", got)
	}

	// The change is stored; only the restart could not happen.
	_, err = call(t, td, api.ConfigUpdate, api.ConfigChange{Scope: api.Scope{App: "shop"}, Set: map[string]string{"B": "2"}})
	wantCode(t, "config:set", err, api.CodeUnavailable, "docker engine unavailable")
	if got := td.vars(t, api.Scope{App: "shop"}); !reflect.DeepEqual(got, map[string]string{"A": "1", "B": "2"}) {
		t.Errorf("config after a failed restart = %v", got)
	}
	// --no-restart and global changes need no engine.
	before := td.connects.Load()
	must(t, td, api.ConfigUpdate, api.ConfigChange{Scope: api.Scope{App: "shop"}, Set: map[string]string{"C": "3"}, NoRestart: true})
	must(t, td, api.ConfigUpdate, api.ConfigChange{Scope: api.Scope{Global: true}, Set: map[string]string{"G": "1"}})
	// A clone without deploy copies the state only.
	must(t, td, api.AppsClone, api.RenameRequest{From: "shop", To: "copy", SkipDeploy: true})
	if n := td.connects.Load(); n != before {
		t.Errorf("the engine was asked for %d more times", n-before)
	}
	// A clone that deploys is created, then says why it did not deploy.
	_, err = call(t, td, api.AppsClone, api.RenameRequest{From: "shop", To: "copy2"})
	wantCode(t, "clone", err, api.CodeUnavailable, "docker engine unavailable")
	if got := td.vars(t, api.Scope{App: "copy2"}); !reflect.DeepEqual(got, map[string]string{"A": "1", "B": "2", "C": "3"}) {
		t.Errorf("clone's config = %v", got)
	}
}

// TestConcurrentAppOps: parallel creates of one name have one winner, and
// parallel config changes of different keys all land (one transaction
// each). They are --no-restart: without it, parallel changes of even an
// undeployed app fail on each other's deploy lock: the redeploy takes the
// lock before it knows whether anything is deployed (a known problem).
func TestConcurrentAppOps(t *testing.T) {
	t.Parallel()
	td := newTestDaemon(t)
	const n = 12
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := call(t, td, api.AppsCreate, api.AppRef{App: "shop"})
			errs <- err
		}()
	}
	won := 0
	for range n {
		err := <-errs
		switch {
		case err == nil:
			won++
		case !errors.Is(err, api.ErrConflict):
			t.Errorf("create: %v", err)
		}
	}
	if won != 1 {
		t.Errorf("%d creates won, want 1", won)
	}
	for i := range n {
		go func() {
			_, err := call(t, td, api.ConfigUpdate, api.ConfigChange{Scope: api.Scope{App: "shop"}, Set: map[string]string{fmt.Sprintf("K%d", i): "v"}, NoRestart: true})
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("config:set: %v", err)
		}
	}
	if got := td.vars(t, api.Scope{App: "shop"}); len(got) != n {
		t.Errorf("%d of %d keys set: %v", len(got), n, got)
	}
}

// TestAppsOverTheControlSocket: the same operations over the socket the CLI
// uses give the same answers, error codes included (exit 20 depends on it).
func TestAppsOverTheControlSocket(t *testing.T) {
	t.Parallel()
	td := newTestDaemon(t)
	sock := filepath.Join(t.TempDir(), "b.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: td.mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	c := api.NewClient(sock)
	ctx := context.Background()

	if _, err := api.AppsCreate.Call(ctx, c, api.AppRef{App: "shop"}); err != nil {
		t.Fatal(err)
	}
	if _, err := api.ConfigUpdate.Call(ctx, c, api.ConfigChange{Scope: api.Scope{App: "shop"}, Set: map[string]string{"K": "a\nb"}}); err != nil {
		t.Fatal(err)
	}
	vars, err := api.ConfigGet.Call(ctx, c, api.ConfigRequest{Scope: api.Scope{App: "shop"}})
	if err != nil || !reflect.DeepEqual(vars.Vars, map[string]string{"K": "a\nb"}) {
		t.Errorf("config over the socket = %v, %v", vars.Vars, err)
	}
	info, err := api.AppsInfo.Call(ctx, c, api.AppRef{App: "shop"})
	if err != nil || info.Name != "shop" || !info.CreatedAt.Equal(testNow) {
		t.Errorf("info = %+v, %v", info, err)
	}
	_, err = api.AppsInfo.Call(ctx, c, api.AppRef{App: "gone"})
	wantCode(t, "missing app", err, api.CodeAppNotFound, "App gone does not exist")
	_, err = api.AppsCreate.Call(ctx, c, api.AppRef{App: "shop"})
	wantCode(t, "taken name", err, api.CodeConflict, "Name is already taken")
	_, err = api.ConfigUpdate.Call(ctx, c, api.ConfigChange{Scope: api.Scope{App: "shop"}, Set: map[string]string{"1X": "y"}})
	wantCode(t, "bad key", err, api.CodeInvalid, `Invalid key name: "1X"`)
	td.noEngine(t)
}

// TestRenameReplacesStrayFiles: files a crashed destroy left under the new
// name never reach the renamed app: they are replaced by its own, or
// removed when it has none (as apps:create does).
func TestRenameReplacesStrayFiles(t *testing.T) {
	t.Parallel()
	td := newTestDaemon(t)
	must(t, td, api.AppsCreate, api.AppRef{App: "old"})
	must(t, td, api.AppsCreate, api.AppRef{App: "bare"})
	write := func(path string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(path), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	apps := filepath.Join(td.dataDir, "apps")
	write(filepath.Join(apps, "old", "mine"))
	write(filepath.Join(apps, "new", "stray"))
	write(filepath.Join(td.dataDir, "repos", "new.git", "HEAD"))
	must(t, td, api.AppsRename, api.RenameRequest{From: "old", To: "new"})
	if b, err := os.ReadFile(filepath.Join(apps, "new", "mine")); err != nil || string(b) != filepath.Join(apps, "old", "mine") {
		t.Errorf("the app's file after rename: %q, %v", b, err)
	}
	for _, p := range []string{filepath.Join(apps, "new", "stray"), filepath.Join(td.dataDir, "repos", "new.git")} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s survived the rename: %v", p, err)
		}
	}
	write(filepath.Join(apps, "bare2", "failed-deploy.json"))
	must(t, td, api.AppsRename, api.RenameRequest{From: "bare", To: "bare2"})
	if _, err := os.Stat(filepath.Join(apps, "bare2")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stray files reached an app renamed without files: %v", err)
	}
	if got := td.names(t); !reflect.DeepEqual(got, []string{"bare2", "new"}) {
		t.Errorf("apps = %q", got)
	}
}
