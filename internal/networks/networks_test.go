package networks

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/naming"
	"github.com/berthpaas/berth/internal/store"
)

func TestCheckName(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"shared", "a_b.c-1", "X"} {
		if err := checkName(ok); err != nil {
			t.Errorf("checkName(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "bridge", "host", "none", "berth.app.x", "-a", "a b", "a/b"} {
		if err := checkName(bad); !errors.Is(err, app.ErrInvalid) {
			t.Errorf("checkName(%q) = %v, want invalid", bad, err)
		}
	}
}

func TestAliases(t *testing.T) {
	t.Parallel()
	if got, want := Aliases("shop", "web", 2, ""), []string{"shop.web", "shop.web.2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("%v, want %v", got, want)
	}
	if got, want := Aliases("shop", "worker", 1, "svc.local"), []string{"shop.worker.svc.local", "shop.worker.1.svc.local"}; !reflect.DeepEqual(got, want) {
		t.Errorf("%v, want %v", got, want)
	}
}

func TestCheckValue(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		key    string
		values []string
		want   string // "!" for an error
	}{
		{"attach-post-create", []string{"a", "b,c", "a"}, "a,b,c"},
		{"attach-post-deploy", []string{"bridge"}, "!"},
		{"attach-post-deploy", []string{"host"}, "!"},
		{"initial-network", []string{"a", "b"}, "!"},
		{"initial-network", []string{"bridge"}, "bridge"},
		{"bind-all-interfaces", []string{"yes"}, "!"},
		{"bind-all-interfaces", []string{"true"}, "true"},
		{"tld", []string{"svc.cluster.local"}, "svc.cluster.local"},
		{"tld", []string{"-bad"}, "!"},
		{"static-web-listener", []string{"127.0.0.1:5000"}, "127.0.0.1:5000"},
		{"static-web-listener", []string{"5000"}, "!"},
		{"unknown", []string{"x"}, "!"},
		{"tld", nil, ""},
	} {
		got, err := checkValue(c.key, c.values)
		if err != nil {
			got = "!"
		}
		if got != c.want {
			t.Errorf("checkValue(%s, %v) = %q (%v), want %q", c.key, c.values, got, err, c.want)
		}
	}
}

// TestSetAndReport: the settings on the real store: a network joined after
// create cannot also be joined after deploy; the report's computed values
// fall back to the global ones, then the defaults.
func TestSetAndReport(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Tx(ctx, func(tx *store.Tx) error { _, err := tx.CreateApp("shop", time.Now()); return err }); err != nil {
		t.Fatal(err)
	}
	m := New(Config{Store: st, Names: naming.Names{Prefix: "t"}})
	set := func(global bool, key string, values ...string) error {
		_, err := m.set(ctx, api.NetworkSet{Scope: api.Scope{App: map[bool]string{false: "shop"}[global], Global: global}, Key: key, Values: values}, api.Output{})
		return err
	}
	if err := set(false, "attach-post-create", "one", "two"); err != nil {
		t.Fatal(err)
	}
	if err := set(false, "attach-post-deploy", "two"); err == nil {
		t.Error("a network both after create and after deploy was accepted")
	}
	if err := set(true, "tld", "svc.local"); err != nil {
		t.Fatal(err)
	}
	if err := set(false, "static-web-listener", "127.0.0.1:5000"); err != nil {
		t.Fatal(err)
	}
	if err := set(true, "static-web-listener", "127.0.0.1:5000"); err == nil {
		t.Error("static-web-listener accepted with --global")
	}
	r, err := m.report(ctx, api.NetworkReportRequest{Scope: api.Scope{App: "shop"}}, api.Output{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"attach-post-create": "one,two", "tld": "svc.local", "bind-all-interfaces": "false"}
	for k, v := range want {
		if r.Computed[k] != v {
			t.Errorf("computed %s = %q, want %q", k, r.Computed[k], v)
		}
	}
	if r.App["tld"] != "" || r.Global["tld"] != "svc.local" || r.WebListeners != "127.0.0.1:5000" {
		t.Errorf("report = %+v", r)
	}
	if err := set(false, "attach-post-create"); err != nil {
		t.Fatal(err)
	}
	if err := set(false, "attach-post-deploy", "two"); err != nil {
		t.Errorf("after clearing attach-post-create: %v", err)
	}
	if users, err := m.settingUsers(ctx, "two"); err != nil || !reflect.DeepEqual(users, []string{"shop attach-post-deploy"}) {
		t.Errorf("settingUsers(two) = %v, %v", users, err)
	}
}
