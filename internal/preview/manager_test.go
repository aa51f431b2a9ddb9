package preview

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/store"
)

// fakes records what the Manager asked of apps, config, domains, services
// and the deployer, keeping apps in the real store.
type fakes struct {
	st       *store.Store
	calls    []string
	vars     map[string]map[string]string
	domains  map[string][]string
	global   []string
	links    map[string][]Link
	le       map[string]bool
	failCopy error
	// onDestroy is called first by DestroyApp, as apps:destroy calls
	// DestroyIfPreview first; done: the app is gone.
	onDestroy func(ctx context.Context, name string) (done bool, err error)
}

func (f *fakes) log(format string, args ...any) {
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

func (f *fakes) CreateApp(ctx context.Context, name string) error {
	f.log("create %s", name)
	return f.st.Tx(ctx, func(tx *store.Tx) error { _, err := tx.CreateApp(name, time.Now()); return err })
}

func (f *fakes) DestroyApp(ctx context.Context, name string) error {
	if f.onDestroy != nil {
		if done, err := f.onDestroy(ctx, name); done || err != nil {
			return err
		}
	}
	f.log("destroy %s", name)
	return f.st.Tx(ctx, func(tx *store.Tx) error {
		a, err := tx.App(name)
		if err != nil {
			return err
		}
		return tx.DeleteApp(a)
	})
}

func (f *fakes) Vars(_ context.Context, app string) (map[string]string, error) {
	return f.vars[app], nil
}

func (f *fakes) SetVars(_ context.Context, app string, vars map[string]string) error {
	if f.vars[app] == nil {
		f.vars[app] = map[string]string{}
	}
	for k, v := range vars {
		f.vars[app][k] = v
	}
	return nil
}

func (f *fakes) GlobalDomains(context.Context) ([]string, error)          { return f.global, nil }
func (f *fakes) AppDomains(_ context.Context, a string) ([]string, error) { return f.domains[a], nil }
func (f *fakes) SetDomains(_ context.Context, a string, d []string) error {
	f.domains[a] = d
	return nil
}

func (f *fakes) URL(_ context.Context, a string) (string, error) {
	if d := f.domains[a]; len(d) > 0 {
		return "http://" + d[0], nil
	}
	return "", nil
}

func (f *fakes) LetsEncrypt(_ context.Context, a string) (bool, error) { return f.le[a], nil }
func (f *fakes) EnableLetsEncrypt(_ context.Context, a string, _ io.Writer) error {
	f.log("letsencrypt %s", a)
	return nil
}

func (f *fakes) Links(_ context.Context, a string) ([]Link, error) { return f.links[a], nil }
func (f *fakes) Copy(_ context.Context, src Link, name, _ string, _ io.Writer) (string, bool, error) {
	f.log("copy %s/%s %s", src.Kind, src.Name, name)
	return "/backups/x", false, f.failCopy
}

func (f *fakes) RunScript(_ context.Context, kind, name, script string, _ io.Writer) error {
	f.log("script %s/%s %s", kind, name, strings.TrimSpace(script))
	return nil
}

func (f *fakes) Link(_ context.Context, kind, name, app, v string) error {
	f.log("link %s/%s %s %s", kind, name, app, v)
	return nil
}

func (f *fakes) Destroy(_ context.Context, kind, name string) error {
	f.log("destroy %s/%s", kind, name)
	return nil
}

func (f *fakes) Deploy(_ context.Context, d Deploy, _ io.Writer) (int, error) {
	tree, _ := io.ReadAll(d.Tree)
	f.log("deploy %s %s %s", d.App, d.Rev, tree)
	return 1, nil
}

func (f *fakes) Run(_ context.Context, app, script string, out io.Writer) error {
	f.log("run %s %s", app, script)
	return nil
}

func (f *fakes) Scale(_ context.Context, app string, formation map[string]int) error {
	f.log("scale %s %v", app, formation)
	return nil
}

func newTestManager(t *testing.T) (*Manager, *fakes, *time.Time) {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fakes{st: st, vars: map[string]map[string]string{}, domains: map[string][]string{}, links: map[string][]Link{}, le: map[string]bool{}}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := New(Config{Store: st, Apps: f, Config: f, Domains: f, Services: f, Deployer: f, DataDir: t.TempDir(), Now: func() time.Time { return now }})
	if err := f.CreateApp(context.Background(), "shop"); err != nil {
		t.Fatal(err)
	}
	f.calls = nil
	return m, f, &now
}

func push(m *Manager, req api.PreviewDeploy) (api.PreviewDeployResult, string, error) {
	var out bytes.Buffer
	res, err := m.deploy(context.Background(), req, &api.Session{Stdin: strings.NewReader("TREE"), Stdout: &out})
	return res, out.String(), err
}

func TestDeployCreatesThenRedeploys(t *testing.T) {
	m, f, now := newTestManager(t)
	ctx := context.Background()
	req := api.PreviewDeploy{App: "shop", Branch: "feature/X", Rev: "abc",
		AppJSON: `{"environments": {"review": {"env": {"MODE": "review"}, "formation": {"worker": {"quantity": 0}},
			"scripts": {"postdeploy": "seed", "pr-predestroy": "bye"}}}}`,
		MaskSQL: "UPDATE users SET email = 'x';"}
	if _, _, err := push(m, req); err == nil || !strings.Contains(err.Error(), "previews:enable shop") {
		t.Fatalf("previews disabled: %v", err)
	}
	if _, err := m.setEnabled(ctx, "shop", true); err != nil {
		t.Fatal(err)
	}
	f.vars["shop"] = map[string]string{"SECRET": "s", "MODE": "prod", "DATABASE_URL": "pg://db"}
	f.links["shop"] = []Link{{Kind: "postgres", Name: "db", Var: "DATABASE_URL"}, {Kind: "redis", Name: "cache", Var: "REDIS_URL"}}
	f.global = []string{"example.com"}
	f.le["shop"] = true
	res, out, err := push(m, req)
	if err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	if res.App != "shop-feature-x" || res.URL != "http://feature-x.shop.example.com" || !strings.Contains(out, "Preview of shop's branch feature/X: http://feature-x.shop.example.com") {
		t.Errorf("result %+v\n%s", res, out)
	}
	want := []string{
		"create shop-feature-x",
		"copy postgres/db db-feature-x", "link postgres/db-feature-x shop-feature-x DATABASE_URL",
		"copy redis/cache cache-feature-x", "link redis/cache-feature-x shop-feature-x REDIS_URL",
		"script postgres/db-feature-x UPDATE users SET email = 'x';",
		"scale shop-feature-x map[worker:0]",
		"deploy shop-feature-x abc TREE",
		"letsencrypt shop-feature-x",
		"run shop-feature-x seed",
	}
	if !slices.Equal(f.calls, want) {
		t.Errorf("calls:\n%s\nwant\n%s", strings.Join(f.calls, "\n"), strings.Join(want, "\n"))
	}
	pv := f.vars["shop-feature-x"]
	if pv["SECRET"] != "s" || pv["MODE"] != "review" || pv["DATABASE_URL"] != "" || pv[BranchVar] != "feature/X" {
		t.Errorf("preview config %v", pv)
	}
	if f.vars["shop"]["MODE"] != "prod" {
		t.Errorf("parent config changed: %v", f.vars["shop"])
	}

	// Again: only the deploy, no second postdeploy.
	f.calls = nil
	*now = now.Add(time.Hour)
	if _, out, err := push(m, api.PreviewDeploy{App: "shop", Branch: "feature/X", Rev: "def", AppJSON: req.AppJSON}); err != nil {
		t.Fatalf("second push: %v\n%s", err, out)
	}
	if want := []string{"deploy shop-feature-x def TREE"}; !slices.Equal(f.calls, want) {
		t.Errorf("second push calls: %v", f.calls)
	}
	l, err := m.list(ctx, api.AppRef{App: "shop"}, api.Output{})
	if err != nil || len(l.Previews) != 1 || !l.Previews[0].Pushed.Equal(*now) || !l.Previews[0].Expires.IsZero() ||
		!slices.Equal(l.Previews[0].Services, []string{"postgres/db-feature-x", "redis/cache-feature-x"}) {
		t.Errorf("list %+v %v", l, err)
	}

	// A preview of a preview is refused; so is a name taken by another app.
	if _, err := m.setEnabled(ctx, "shop-feature-x", true); err == nil {
		t.Error("previews of a preview enabled")
	}
	f.CreateApp(ctx, "shop-other")
	if _, _, err := push(m, api.PreviewDeploy{App: "shop", Branch: "other", Rev: "1"}); !errors.Is(err, api.ErrConflict) {
		t.Errorf("taken name: %v", err)
	}

	// Expiry: 1d after the last push.
	if _, err := m.set(ctx, api.PreviewSet{App: "shop", Key: "expire", Value: "1d"}, api.Output{}); err != nil {
		t.Fatal(err)
	}
	if n, err := m.Sweep(ctx); n != 0 || err != nil {
		t.Errorf("sweep before expiry: %d %v", n, err)
	}
	f.calls = nil
	*now = now.Add(24 * time.Hour)
	if n, err := m.Sweep(ctx); n != 1 || err != nil {
		t.Errorf("sweep after expiry: %d %v", n, err)
	}
	want = []string{"run shop-feature-x bye", "destroy shop-feature-x", "destroy postgres/db-feature-x", "destroy redis/cache-feature-x"}
	if !slices.Equal(f.calls, want) {
		t.Errorf("sweep calls: %v", f.calls)
	}
	if l, _ := m.list(ctx, api.AppRef{App: "shop"}, api.Output{}); len(l.Previews) != 0 {
		t.Errorf("left after the sweep: %+v", l)
	}
	// A deleted branch without a preview is no error for a push, an error by hand.
	if err := m.destroyOp(ctx, api.PreviewRef{App: "shop", Branch: "feature/X", Pushed: true}, api.Output{}); err != nil {
		t.Errorf("push delete without preview: %v", err)
	}
	if err := m.destroyOp(ctx, api.PreviewRef{App: "shop", Branch: "feature/X"}, api.Output{}); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("previews:destroy without preview: %v", err)
	}
}

func TestSetRefusesBadInput(t *testing.T) {
	m, _, _ := newTestManager(t)
	ctx := context.Background()
	for _, req := range []api.PreviewSet{{App: "shop", Key: "expiry", Value: "1d"}, {App: "shop", Key: "expire", Value: "soon"}} {
		if _, err := m.set(ctx, req, api.Output{}); !errors.Is(err, api.ErrInvalid) {
			t.Errorf("%+v: %v", req, err)
		}
	}
	if _, err := m.set(ctx, api.PreviewSet{App: "nope", Key: "expire", Value: "1d"}, api.Output{}); !errors.Is(err, api.ErrAppNotFound) {
		t.Errorf("missing app: %v", err)
	}
	r, err := m.report(ctx, api.PreviewReportRequest{App: "shop"}, api.Output{})
	if err != nil || len(r.Reports) != 1 || r.Reports[0].Enabled || r.Reports[0].Expire != "" {
		t.Errorf("report %+v %v", r, err)
	}
}

// TestDeployFailsPartway: a failed copy names what to run, keeps the
// record (so previews:destroy removes what was made), and deploys nothing.
func TestDeployFailsPartway(t *testing.T) {
	m, f, _ := newTestManager(t)
	ctx := context.Background()
	m.setEnabled(ctx, "shop", true)
	f.links["shop"] = []Link{{Kind: "postgres", Name: "db", Var: "DATABASE_URL"}}
	f.failCopy = api.Errorf(api.CodeInvalid, "pg_restore: exit 1")
	_, _, err := push(m, api.PreviewDeploy{App: "shop", Branch: "b", Rev: "1"})
	if !errors.Is(err, api.ErrInvalid) || !strings.Contains(err.Error(), "copy postgres service db: pg_restore: exit 1 (previews:destroy shop b removes what was made)") {
		t.Fatalf("err = %v", err)
	}
	for _, c := range f.calls {
		if strings.HasPrefix(c, "deploy") {
			t.Errorf("deployed after a failed copy: %v", f.calls)
		}
	}
	f.calls = nil
	if err := m.destroyOp(ctx, api.PreviewRef{App: "shop", Branch: "b"}, api.Output{}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"destroy shop-b", "destroy postgres/db-b"}; !slices.Equal(f.calls, want) {
		t.Errorf("destroy calls %v", f.calls)
	}
}

// TestAppsDestroyTakesPreviews: apps:destroy of a preview app destroys it
// as previews:destroy does (its services too, once: its own apps:destroy
// is not asked again); apps:destroy of the parent destroys its previews
// first.
func TestAppsDestroyTakesPreviews(t *testing.T) {
	m, f, _ := newTestManager(t)
	ctx := context.Background()
	if _, err := m.setEnabled(ctx, "shop", true); err != nil {
		t.Fatal(err)
	}
	f.links["shop"] = []Link{{Kind: "postgres", Name: "db", Var: "DATABASE_URL"}}
	for _, b := range []string{"a", "b"} {
		if _, out, err := push(m, api.PreviewDeploy{App: "shop", Branch: b, Rev: "1"}); err != nil {
			t.Fatalf("push %s: %v\n%s", b, err, out)
		}
	}
	f.onDestroy = func(ctx context.Context, name string) (bool, error) { return m.DestroyIfPreview(ctx, name, io.Discard) }

	f.calls = nil
	if err := f.DestroyApp(ctx, "shop-a"); err != nil {
		t.Fatal(err)
	}
	if want := []string{"destroy shop-a", "destroy postgres/db-a"}; !slices.Equal(f.calls, want) {
		t.Errorf("apps:destroy shop-a: %v, want %v", f.calls, want)
	}
	if done, err := m.DestroyIfPreview(ctx, "shop", io.Discard); done || err != nil {
		t.Errorf("DestroyIfPreview of the parent: %v %v", done, err)
	}

	f.calls = nil
	if err := m.DestroyPreviewsOf(ctx, "shop", io.Discard); err != nil {
		t.Fatal(err)
	}
	if want := []string{"destroy shop-b", "destroy postgres/db-b"}; !slices.Equal(f.calls, want) {
		t.Errorf("previews of shop destroyed: %v, want %v", f.calls, want)
	}
	if l, _ := m.list(ctx, api.AppRef{App: "shop"}, api.Output{}); len(l.Previews) != 0 {
		t.Errorf("previews left: %+v", l.Previews)
	}
}
