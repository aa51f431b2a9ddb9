package gitserver

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/store"
)

// fakeOps is an operations table that records the calls it lets through.
type fakeOps struct {
	access map[string]api.Access
	calls  []string
	apps   []string // what apps.list answers
	last   any      // the last request let through
}

func (f *fakeOps) Access(op string) api.Access { return f.access[op] }

func (f *fakeOps) Call(_ context.Context, op string, req, resp any, _ api.Output) error {
	f.calls, f.last = append(f.calls, op), req
	if l, ok := resp.(*api.AppList); ok {
		for _, a := range f.apps {
			l.Apps = append(l.Apps, api.AppInfo{Name: a})
		}
	}
	return nil
}

func (f *fakeOps) Session(_ context.Context, op string, req, _ any, _ *api.Session) error {
	f.calls, f.last = append(f.calls, op), req
	return nil
}

func newFakeOps() *fakeOps {
	return &fakeOps{access: map[string]api.Access{
		"apps.list": api.AnyKey, "system.version": api.AnyKey,
		"apps.create": api.AdminOnly, "keys.add": api.AdminOnly,
		"apps.info": api.AppScoped, "config.get": api.AppScoped, "ps.report": api.AppScoped,
		"domains.report": api.AppScoped, "run": api.AppScoped,
		"test.undeclared": api.Undeclared,
	}}
}

var (
	adminKey = store.Key{Name: "root", Admin: true}
	shopKey  = store.Key{Name: "ci", Apps: []string{"shop", "blog"}}
)

// TestAccessDecisions: what a key limited to some apps may call, and the
// line it sees when it may not; admin keys may call everything.
func TestAccessDecisions(t *testing.T) {
	for _, tc := range []struct {
		key    store.Key
		op     string
		req    any
		denied string // "" when allowed; else the end of the message
	}{
		{adminKey, "apps.create", api.AppRef{App: "x"}, ""},
		{adminKey, "keys.add", api.KeyAdd{Name: "k"}, ""},
		{adminKey, "config.get", api.ConfigRequest{Scope: api.Scope{Global: true}}, ""},
		{adminKey, "ps.report", api.PSRequest{All: true}, ""},
		{adminKey, "test.undeclared", api.Empty{}, ""},
		{shopKey, "system.version", api.Empty{}, ""},
		{shopKey, "apps.info", api.AppRef{App: "shop"}, ""},
		{shopKey, "apps.info", &api.AppRef{App: "blog"}, ""},
		{shopKey, "config.get", api.ConfigRequest{Scope: api.Scope{App: "shop"}}, ""},
		{shopKey, "apps.info", api.AppRef{App: "other"}, "not app other"},
		{shopKey, "apps.create", api.AppRef{App: "shop"}, "not apps.create"},
		{shopKey, "keys.add", api.KeyAdd{Name: "k"}, "not keys.add"},
		{shopKey, "test.undeclared", api.Empty{}, "not test.undeclared"},
		{shopKey, "not.registered", api.AppRef{App: "shop"}, "not not.registered"},
		{shopKey, "config.get", api.ConfigRequest{Scope: api.Scope{Global: true}}, "not --global"},
		{shopKey, "config.get", api.ConfigRequest{Scope: api.Scope{App: "shop", Global: true}}, "not --global"},
		{shopKey, "ps.report", api.PSRequest{All: true}, "not --all"},
		{shopKey, "ps.report", api.PSRequest{}, "not ps.report without an app"},
		{shopKey, "domains.report", api.DomainsReportRequest{All: true, Global: true}, "not --global"},
		{shopKey, "domains.report", api.DomainsReportRequest{App: "blog"}, ""},
		// A request that names no app cannot reach an app-scoped operation.
		{shopKey, "apps.info", api.Empty{}, "not apps.info without an app"},
	} {
		ops := newFakeOps()
		k := keyCaller{ops: ops, key: tc.key}
		err := k.Call(context.Background(), tc.op, tc.req, nil, api.Output{})
		serr := k.Session(context.Background(), tc.op, tc.req, nil, &api.Session{})
		if tc.denied == "" {
			if err != nil || serr != nil {
				t.Errorf("%s %s %+v: %v / %v, want allowed", tc.key.Name, tc.op, tc.req, err, serr)
			}
			if len(ops.calls) != 2 {
				t.Errorf("%s %s: calls %v", tc.key.Name, tc.op, ops.calls)
			}
			continue
		}
		for _, e := range []error{err, serr} {
			if !errors.Is(e, api.ErrForbidden) || !strings.HasSuffix(e.Error(), tc.denied) {
				t.Errorf("%s %s %+v: %v, want forbidden ending %q", tc.key.Name, tc.op, tc.req, e, tc.denied)
			}
		}
		if len(ops.calls) != 0 {
			t.Errorf("%s %s: denied but called %v", tc.key.Name, tc.op, ops.calls)
		}
	}
}

func TestDeniedMessage(t *testing.T) {
	err := keyCaller{ops: newFakeOps(), key: shopKey}.allow("apps.info", api.AppRef{App: "x"})
	if want := "Permission denied: key ci may only use the commands of apps shop, blog, not app x"; err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
}

// TestAppsListIsFiltered: a limited key sees only its own apps; an admin
// key sees them all.
func TestAppsListIsFiltered(t *testing.T) {
	for key, want := range map[*store.Key]string{&shopKey: "shop,blog", &adminKey: "shop,x,blog"} {
		ops := newFakeOps()
		ops.apps = []string{"shop", "x", "blog"}
		list, err := api.AppsList.Call(context.Background(), keyCaller{ops: ops, key: *key}, api.Empty{})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, a := range list.Apps {
			names = append(names, a.Name)
		}
		if got := strings.Join(names, ","); got != want {
			t.Errorf("%s sees %s, want %s", key.Name, got, want)
		}
	}
}

// TestScopedKeyCarriesItsScope: a deploy request of a key limited to some
// apps reaches the daemon with those apps (so the deploy refuses other
// apps' images); an admin key's carries none, whatever the request said.
func TestScopedKeyCarriesItsScope(t *testing.T) {
	ops := newFakeOps()
	ops.access["git.from-image"], ops.access["git.from-archive"] = api.AppScoped, api.AppScoped
	if err := (keyCaller{ops: ops, key: shopKey}).Call(context.Background(), "git.from-image", api.FromImageRequest{App: "shop", Image: "x"}, nil, api.Output{}); err != nil {
		t.Fatal(err)
	}
	if r, ok := ops.last.(api.FromImageRequest); !ok || strings.Join(r.ScopedTo, ",") != "shop,blog" {
		t.Errorf("scoped key's from-image request: %#v", ops.last)
	}
	if err := (keyCaller{ops: ops, key: shopKey}).Session(context.Background(), "git.from-archive", api.FromArchiveRequest{App: "shop", URL: "-", ScopedTo: []string{"other"}}, nil, &api.Session{}); err != nil {
		t.Fatal(err)
	}
	if r, ok := ops.last.(api.FromArchiveRequest); !ok || strings.Join(r.ScopedTo, ",") != "shop,blog" {
		t.Errorf("scoped key's from-archive request: %#v", ops.last)
	}
	if err := (keyCaller{ops: ops, key: adminKey}).Call(context.Background(), "git.from-image", api.FromImageRequest{App: "shop", Image: "x"}, nil, api.Output{}); err != nil {
		t.Fatal(err)
	}
	if r, ok := ops.last.(api.FromImageRequest); !ok || r.ScopedTo != nil {
		t.Errorf("admin key's from-image request: %#v", ops.last)
	}
}
