package preview

import (
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/appfile"
	"github.com/berthpaas/berth/internal/store"
)

func TestSlug(t *testing.T) {
	for branch, want := range map[string]string{
		"feature-x":          "feature-x",
		"Feature/X_2":        "feature-x-2",
		"--a..b--":           "a-b",
		"user/JIRA-123/fix!": "user-jira-123-fix",
		"ünïcode":            "n-code",
	} {
		if got := Slug(branch); got != want {
			t.Errorf("Slug(%q) = %q, want %q", branch, got, want)
		}
	}
	if got := Slug("___"); !strings.HasPrefix(got, "branch-") || len(got) != len("branch-")+hashLen {
		t.Errorf("Slug(___) = %q", got)
	}
	if Slug("___") == Slug("..") {
		t.Errorf("two empty slugs share a hash")
	}
}

func TestAppName(t *testing.T) {
	name, slug, err := AppName("shop", "feature/X")
	if err != nil || name != "shop-feature-x" || slug != "feature-x" {
		t.Errorf("AppName = %q %q %v", name, slug, err)
	}
	long := strings.Repeat("very-long-branch-name-", 5)
	a, sa, err := AppName("shop", long+"one")
	if err != nil {
		t.Fatal(err)
	}
	b, _, _ := AppName("shop", long+"two")
	if len(a) > app.MaxNameLength || a == b || app.ValidateName(a) != nil || !strings.HasPrefix(a, "shop-very-long") {
		t.Errorf("long branches: %q and %q", a, b)
	}
	if !strings.HasSuffix(a, "-"+sa) || len(sa) > 63 {
		t.Errorf("slug %q of %q", sa, a)
	}
	// Same branch, same name: a redeploy finds its preview.
	if again, _, _ := AppName("shop", long+"one"); again != a {
		t.Errorf("not stable: %q then %q", a, again)
	}
	if _, _, err := AppName(strings.Repeat("p", 58), "a-long-branch"); err == nil || !strings.Contains(err.Error(), "too long") {
		t.Errorf("parent too long: %v", err)
	}
	svc, err := ServiceName("shopdb", sa)
	if err != nil || len(svc) > maxServiceName || !strings.HasPrefix(svc, "shopdb-") {
		t.Errorf("ServiceName = %q %v", svc, err)
	}
}

func TestDomain(t *testing.T) {
	if got := Domain("fx", "shop", []string{"example.com"}, []string{"shop.io"}); got != "fx.shop.example.com" {
		t.Errorf("global: %q", got)
	}
	if got := Domain("fx", "shop", nil, []string{"shop.io", "www.shop.io"}); got != "fx.shop.io" {
		t.Errorf("parent's: %q", got)
	}
	if got := Domain("fx", "shop", nil, nil); got != "" {
		t.Errorf("none: %q", got)
	}
}

func TestMergeConfig(t *testing.T) {
	v := func(s string) *string { return &s }
	parent := map[string]string{
		"SECRET_KEY": "k", "MODE": "prod", "DATABASE_URL": "postgres://a@dokku-postgres-db:5432/db",
		"DOKKU_POSTGRES_AQUA_URL": "postgres://a@dokku-postgres-db:5432/db", "REDIS_URL": "redis://x",
	}
	review := map[string]appfile.EnvSpec{
		"MODE":    {Value: v("review")},
		"TOKEN":   {Generator: appfile.GeneratorSecret},
		"KEEP_ME": {Required: true},
	}
	got := MergeConfig(parent, []string{"DATABASE_URL", "REDIS_URL"}, review, "shop", "feature-x")
	for _, k := range []string{"DATABASE_URL", "DOKKU_POSTGRES_AQUA_URL", "REDIS_URL", "KEEP_ME"} {
		if _, ok := got[k]; ok {
			t.Errorf("%s copied: %q", k, got[k])
		}
	}
	if got["SECRET_KEY"] != "k" || got["MODE"] != "review" || len(got["TOKEN"]) != 64 || got[ParentVar] != "shop" || got[BranchVar] != "feature-x" {
		t.Errorf("merged: %v", got)
	}
	if parent["MODE"] != "prod" || len(parent) != 5 {
		t.Errorf("the parent's map changed: %v", parent)
	}
}

func TestExpire(t *testing.T) {
	for in, want := range map[string]time.Duration{"": 0, "7d": 7 * 24 * time.Hour, "12h": 12 * time.Hour, "30m": 30 * time.Minute, "1h30m": 90 * time.Minute} {
		got, err := ParseExpire(in)
		if err != nil || got != want {
			t.Errorf("ParseExpire(%q) = %v %v", in, got, err)
		}
		if back, _ := ParseExpire(FormatExpire(got)); back != got {
			t.Errorf("FormatExpire(%v) = %q does not read back", got, FormatExpire(got))
		}
	}
	for _, bad := range []string{"7", "-1d", "0d", "soon", "10s", "1.5d"} {
		if _, err := ParseExpire(bad); err == nil {
			t.Errorf("ParseExpire(%q) accepted", bad)
		}
	}
	pushed := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if Expired(pushed, 0, pushed.Add(1000*time.Hour)) {
		t.Error("expire 0 expired")
	}
	if Expired(pushed, time.Hour, pushed.Add(59*time.Minute)) || !Expired(pushed, time.Hour, pushed.Add(time.Hour)) {
		t.Error("an hour's expiry")
	}
	ps := []store.Preview{
		{Parent: "a", Branch: "old", PushedAt: pushed},
		{Parent: "a", Branch: "new", PushedAt: pushed.Add(47 * time.Hour)},
		{Parent: "b", Branch: "forever", PushedAt: pushed},
	}
	settings := map[string]store.PreviewSettings{"a": {Enabled: true, Expire: 24 * time.Hour}}
	d := due(ps, settings, pushed.Add(48*time.Hour))
	if len(d) != 1 || d[0].Branch != "old" {
		t.Errorf("due = %+v", d)
	}
}
