package services

import (
	"context"
	"strings"
	"testing"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/store"
)

func link(tm *testManager, kind, name, app string, edit func(*api.ServiceLink)) (string, error) {
	req := api.ServiceLink{ServiceRef: api.ServiceRef{Kind: kind, Name: name}, App: app}
	if edit != nil {
		edit(&req)
	}
	res, err := tm.serviceLink(context.Background(), req, tm.out)
	return res.Var, err
}

// TestLinkVariables: the first link of a kind is DATABASE_URL, later ones
// take Dokku's colors in order, --alias names the variable, and
// --querystring is appended.
func TestLinkVariables(t *testing.T) {
	tm := newTestManager(t)
	for _, n := range []string{"a", "b", "c", "d"} {
		tm.create(t, "postgres", n, "postgres:17")
	}
	tm.createApp(t, "shop")
	for _, c := range []struct {
		name  string
		edit  func(*api.ServiceLink)
		want  string
		query string
	}{
		{"a", nil, "DATABASE_URL", ""},
		{"b", nil, "DOKKU_POSTGRES_AQUA_URL", ""},
		{"c", func(r *api.ServiceLink) { r.Alias = "reports-db.v2" }, "REPORTS_DB_V2_URL", ""},
		{"d", func(r *api.ServiceLink) { r.QueryString = "?sslmode=disable" }, "DOKKU_POSTGRES_BLACK_URL", "?sslmode=disable"},
	} {
		v, err := link(tm, "postgres", c.name, "shop", c.edit)
		if err != nil || v != c.want {
			t.Fatalf("link %s = %q, %v; want %s", c.name, v, err, c.want)
		}
		url := tm.config(t, "shop")[v]
		if !strings.HasPrefix(url, "postgres://postgres:") || !strings.HasSuffix(url, "@dokku-postgres-"+c.name+":5432/"+c.name+c.query) {
			t.Errorf("%s = %q", v, url)
		}
	}
	if got := strings.Join(tm.redep.apps, " "); got != "shop shop shop shop" {
		t.Errorf("redeployed %q", got)
	}
	// The same pair again, and refusals that change nothing.
	if _, err := link(tm, "postgres", "a", "shop", nil); err == nil || err.Error() != "Already linked as DATABASE_URL" {
		t.Errorf("second link: %v", err)
	}
	tm.create(t, "postgres", "e", "postgres:17")
	for _, c := range []struct {
		edit func(*api.ServiceLink)
		want string
	}{
		{func(r *api.ServiceLink) { r.Alias = "database" }, "DATABASE_URL on shop already points to postgres service a; use --alias"},
		{func(r *api.ServiceLink) { r.Alias = "1x" }, `Invalid alias "1x"`},
		{func(r *api.ServiceLink) { r.QueryString = "a b" }, `Invalid --querystring "a b"`},
		{func(r *api.ServiceLink) { r.App = "nope" }, "nope"},
	} {
		if _, err := link(tm, "postgres", "e", "shop", c.edit); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("link: %v, want %q", err, c.want)
		}
	}
	if _, err := link(tm, "postgres", "nope", "shop", nil); err == nil || err.Error() != "Postgres service nope does not exist" {
		t.Errorf("link of a missing service: %v", err)
	}
	if got := len(tm.config(t, "shop")); got != 4 {
		t.Errorf("%d config vars after the refusals", got)
	}
}

// TestPromoteUnlink: promote swaps DATABASE_URL with the promoted link's
// color variable; unlink removes the variable.
func TestPromoteUnlink(t *testing.T) {
	tm := newTestManager(t)
	tm.create(t, "postgres", "old", "postgres:17")
	tm.create(t, "postgres", "new", "postgres:17")
	tm.createApp(t, "shop")
	link(tm, "postgres", "old", "shop", nil)
	link(tm, "postgres", "new", "shop", nil)
	ref := api.ServiceLink{ServiceRef: api.ServiceRef{Kind: "postgres", Name: "new"}, App: "shop", NoRestart: true}
	if _, err := tm.servicePromote(context.Background(), ref, tm.out); err != nil {
		t.Fatal(err)
	}
	vars := tm.config(t, "shop")
	if !strings.Contains(vars["DATABASE_URL"], "@dokku-postgres-new:") || !strings.Contains(vars["DOKKU_POSTGRES_AQUA_URL"], "@dokku-postgres-old:") {
		t.Errorf("after promote: %v", vars)
	}
	if _, err := tm.servicePromote(context.Background(), ref, tm.out); err == nil || err.Error() != "new is already promoted as DATABASE_URL" {
		t.Errorf("second promote: %v", err)
	}
	links, err := tm.serviceAppLinks(context.Background(), api.AppServiceRef{App: "shop"}, api.Output{})
	if err != nil || len(links.Links) != 2 {
		t.Fatalf("app links = %+v, %v", links, err)
	}
	for _, l := range links.Links {
		if want := map[string]string{"new": "DATABASE_URL", "old": "DOKKU_POSTGRES_AQUA_URL"}[l.Name]; l.Var != want {
			t.Errorf("link %s is %s, want %s", l.Name, l.Var, want)
		}
	}
	if links, _ := tm.serviceAppLinks(context.Background(), api.AppServiceRef{App: "shop", Kind: "redis"}, api.Output{}); len(links.Links) != 0 {
		t.Errorf("redis links = %+v", links)
	}
	// The app's own network, while it has links, with its services on it
	// under their DNS names.
	if n, _ := tm.NetworkFor(context.Background(), "shop"); n != "berth.app.shop" {
		t.Errorf("NetworkFor = %q", n)
	}
	for _, name := range []string{"old", "new"} {
		if _, on := tm.eng.networksOf("berth.postgres." + name)["berth.app.shop"]; !on {
			t.Errorf("%s not on the app's network: %v", name, tm.eng.networksOf("berth.postgres."+name))
		}
	}
	// A linked service is not destroyed.
	if _, err := tm.serviceDestroy(context.Background(), api.ServiceRef{Kind: "postgres", Name: "old"}, tm.out); err == nil || !strings.Contains(err.Error(), "Cannot delete linked service: old is linked to shop") {
		t.Errorf("destroy of a linked service: %v", err)
	}
	for _, name := range []string{"old", "new"} {
		res, err := tm.serviceUnlink(context.Background(), api.ServiceLink{ServiceRef: api.ServiceRef{Kind: "postgres", Name: name}, App: "shop", NoRestart: true}, tm.out)
		if err != nil {
			t.Fatalf("unlink %s: %v", name, err)
		}
		if _, set := tm.config(t, "shop")[res.Var]; set {
			t.Errorf("%s still set after unlink", res.Var)
		}
	}
	if vars := tm.config(t, "shop"); len(vars) != 0 {
		t.Errorf("config after unlinking all: %v", vars)
	}
	if _, err := tm.serviceUnlink(context.Background(), api.ServiceLink{ServiceRef: api.ServiceRef{Kind: "postgres", Name: "old"}, App: "shop"}, tm.out); err == nil || err.Error() != "Not linked to app shop" {
		t.Errorf("unlink again: %v", err)
	}
	// Unlinked services leave the app's network at once; the app keeps
	// its network (its containers do not move at the next deploy).
	for _, name := range []string{"old", "new"} {
		if _, on := tm.eng.networksOf("berth.postgres." + name)["berth.app.shop"]; on {
			t.Errorf("%s still on the app's network after unlink", name)
		}
	}
	if n, _ := tm.NetworkFor(context.Background(), "shop"); n != "berth.app.shop" {
		t.Errorf("NetworkFor after the last unlink = %q", n)
	}
	tm.createApp(t, "never")
	if n, _ := tm.NetworkFor(context.Background(), "never"); n != "" {
		t.Errorf("NetworkFor of an app never linked = %q", n)
	}
	if n, _ := tm.NetworkFor(context.Background(), "nope"); n != "" {
		t.Errorf("NetworkFor of a missing app = %q", n)
	}
	if len(tm.redep.apps) != 2 { // the two links; promote and unlink had --no-restart
		t.Errorf("redeployed %v", tm.redep.apps)
	}
}

// TestLinkBeforeDeploy: an app with nothing deployed gets the variable on
// its first deploy.
func TestLinkBeforeDeploy(t *testing.T) {
	tm := newTestManager(t)
	tm.redep.deployed = false
	tm.create(t, "redis", "cache", "redis:7")
	tm.createApp(t, "shop")
	if v, err := link(tm, "redis", "cache", "shop", nil); err != nil || v != "REDIS_URL" {
		t.Fatalf("link = %s, %v", v, err)
	}
	if !strings.Contains(tm.output.String(), "App shop has not been deployed yet; it gets the variable on its first deploy") {
		t.Errorf("output:\n%s", tm.output)
	}
}

// The app's POSTGRES_DATABASE_SCHEME is the scheme of the URLs its links
// and promotions set (dokku-postgres's service_link and service_promote).
func TestLinkUsesTheAppsDatabaseScheme(t *testing.T) {
	tm := newTestManager(t)
	tm.create(t, "postgres", "ls", "postgres:17")
	tm.create(t, "postgres", "l2", "postgres:17")
	tm.createApp(t, "my-app")
	err := tm.store.Tx(context.Background(), func(tx *store.Tx) error {
		a, err := tx.App("my-app")
		if err != nil {
			return err
		}
		return tx.SetConfig(a.Scope(), map[string]string{"POSTGRES_DATABASE_SCHEME": "postgres2"})
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"ls", "l2"} {
		if _, err := link(tm, "postgres", n, "my-app", nil); err != nil {
			t.Fatal(err)
		}
	}
	vars := tm.config(t, "my-app")
	if u := vars["DATABASE_URL"]; !strings.HasPrefix(u, "postgres2://postgres:") || !strings.HasSuffix(u, "@dokku-postgres-ls:5432/ls") {
		t.Errorf("DATABASE_URL = %q", u)
	}
	if _, err := tm.servicePromote(context.Background(), api.ServiceLink{ServiceRef: api.ServiceRef{Kind: "postgres", Name: "l2"}, App: "my-app"}, tm.out); err != nil {
		t.Fatal(err)
	}
	if u := tm.config(t, "my-app")["DATABASE_URL"]; !strings.HasPrefix(u, "postgres2://") || !strings.HasSuffix(u, "@dokku-postgres-l2:5432/l2") {
		t.Errorf("promoted DATABASE_URL = %q", u)
	}
}

// --no-restart says so in dokku-postgres's words; a link that restarts
// does not.
func TestNoRestartSaysItSkips(t *testing.T) {
	tm := newTestManager(t)
	tm.create(t, "postgres", "ls", "postgres:17")
	tm.createApp(t, "my-app")
	tm.output.Reset()
	if _, err := link(tm, "postgres", "ls", "my-app", nil); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(tm.output.String(), "Skipping restart") {
		t.Errorf("a restarting link says it skips:\n%s", tm.output)
	}
	tm.output.Reset()
	if _, err := tm.serviceUnlink(context.Background(), api.ServiceLink{ServiceRef: api.ServiceRef{Kind: "postgres", Name: "ls"}, App: "my-app", NoRestart: true}, tm.out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(tm.output.String(), "-----> Skipping restart of linked app\n") {
		t.Errorf("--no-restart output:\n%s", tm.output)
	}
}
