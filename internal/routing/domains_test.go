package routing

import (
	"slices"
	"strings"
	"testing"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/store"
)

func (e *env) domains(req api.DomainsChange) (api.DomainsChangeResult, error) {
	return api.DomainsUpdate.Call(e.ctx, e.mux, req)
}

func (e *env) mustDomains(req api.DomainsChange) api.DomainsChangeResult {
	e.t.Helper()
	res, err := e.domains(req)
	if err != nil {
		e.t.Fatalf("domains %s %v: %v", req.Action, req.Domains, err)
	}
	return res
}

func appScope(app string) api.Scope { return api.Scope{App: app} }
func globalScope() api.Scope        { return api.Scope{Global: true} }
func eq(got, want []string) bool    { return slices.Equal(got, want) }
func list(names ...string) []string { return append([]string{}, names...) }

func TestSplitKnown(t *testing.T) {
	known, unknown := splitKnown([]string{"a", "b", "a", "c"}, []string{"c", "a"})
	if !eq(known, list("a", "c")) || !eq(unknown, list("b")) {
		t.Errorf("splitKnown = %v, %v", known, unknown)
	}
}

func TestNormalizeDomains(t *testing.T) {
	got, err := normalizeDomains([]string{"Shop.Example.COM", "*.Example.com"}, true)
	if err != nil || !eq(got, list("shop.example.com", "*.example.com")) {
		t.Errorf("normalizeDomains = %v, %v", got, err)
	}
	// nginx's ".example.com" is the name and its wildcard, as Dokku passes it on.
	if got, err := normalizeDomains([]string{".Example.com", "_"}, true); err != nil || !eq(got, list("example.com", "*.example.com", "_")) {
		t.Errorf(".example.com = %v, %v", got, err)
	}
	for _, bad := range []string{"..example.com", ".", ".*.example.com"} {
		if _, err := normalizeDomains([]string{bad}, true); errCode(err) != api.CodeInvalid {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if _, err := normalizeDomains([]string{"ok.example.com", "bad_name!"}, true); errCode(err) != api.CodeInvalid {
		t.Errorf("an invalid domain: %v", err)
	}
	// domains:remove does not validate: a name stored before a rule
	// changed can still be removed.
	if got, err := normalizeDomains([]string{"BAD_NAME!"}, false); err != nil || !eq(got, list("bad_name!")) {
		t.Errorf("without validation = %v, %v", got, err)
	}
}

func TestDefaultDomainOnCreate(t *testing.T) {
	e := newEnv(t, nil)
	// No global domain: an app without a dot gets none, one with a dot its name.
	e.createApp("shop")
	e.createApp("blog.example.org")
	e.mustDomains(api.DomainsChange{Scope: globalScope(), Action: api.DomainsAdd, Domains: list("example.com", "example.net")})
	e.createApp("news")
	for app, want := range map[string][]string{"shop": nil, "blog.example.org": list("blog.example.org"), "news": list("news.example.com", "news.example.net")} {
		if got, err := e.m.appHosts(e.ctx, app); err != nil || !eq(got, want) {
			t.Errorf("hosts of %s = %v, %v; want %v", app, got, err, want)
		}
	}
	// A default another app has already is skipped.
	e.mustDomains(api.DomainsChange{Scope: appScope("shop"), Action: api.DomainsAdd, Domains: list("later.example.com")})
	e.createApp("later")
	if got, _ := e.m.appHosts(e.ctx, "later"); !eq(got, list("later.example.net")) {
		t.Errorf("a taken default was given, or the free one not: %v", got)
	}
	// domains:reset gives every default again.
	e.mustDomains(api.DomainsChange{Scope: appScope("news"), Action: api.DomainsSet, Domains: list("other.test")})
	if res := e.mustDomains(api.DomainsChange{Scope: appScope("news"), Action: api.DomainsReset}); !eq(res.Domains, list("news.example.com", "news.example.net")) {
		t.Errorf("reset: %+v", res)
	}
}

func TestDomainsAddRemoveSetClear(t *testing.T) {
	e := newEnv(t, nil)
	e.createApp("shop")
	res := e.mustDomains(api.DomainsChange{Scope: appScope("shop"), Action: api.DomainsAdd, Domains: list("A.example.com", "b.example.com")})
	if !eq(res.Added, list("a.example.com", "b.example.com")) || !eq(res.Domains, list("a.example.com", "b.example.com")) || !res.Enabled {
		t.Errorf("add: %+v", res)
	}
	res = e.mustDomains(api.DomainsChange{Scope: appScope("shop"), Action: api.DomainsAdd, Domains: list("a.example.com", "c.example.com")})
	if !eq(res.Skipped, list("a.example.com")) || !eq(res.Added, list("c.example.com")) {
		t.Errorf("add again: %+v", res)
	}
	res = e.mustDomains(api.DomainsChange{Scope: appScope("shop"), Action: api.DomainsRemove, Domains: list("b.example.com", "nope.example.com")})
	if !eq(res.Removed, list("b.example.com")) || !eq(res.Missing, list("nope.example.com")) || !eq(res.Domains, list("a.example.com", "c.example.com")) {
		t.Errorf("remove: %+v", res)
	}
	res = e.mustDomains(api.DomainsChange{Scope: appScope("shop"), Action: api.DomainsSet, Domains: list("x.example.com", "x.example.com")})
	if !eq(res.Domains, list("x.example.com")) {
		t.Errorf("set: %+v", res)
	}
	res = e.mustDomains(api.DomainsChange{Scope: appScope("shop"), Action: api.DomainsClear})
	if !eq(res.Removed, list("x.example.com")) || len(res.Domains) != 0 || res.Domains == nil {
		t.Errorf("clear: %+v", res)
	}
	// Every change pushed the app's route.
	if r, ok := e.proxy.route("shop"); !ok || len(r.Hosts) != 0 {
		t.Errorf("route after clear: %+v, %v", r, ok)
	}
}

func TestDomainsBadInputChangesNothing(t *testing.T) {
	e := newEnv(t, nil)
	e.createApp("shop")
	e.createApp("blog")
	e.mustDomains(api.DomainsChange{Scope: appScope("blog"), Action: api.DomainsAdd, Domains: list("blog.example.com")})
	for _, c := range []struct {
		req  api.DomainsChange
		code api.Code
	}{
		{api.DomainsChange{Scope: appScope("shop"), Action: api.DomainsAdd}, api.CodeInvalid},
		{api.DomainsChange{Scope: appScope("shop"), Action: "rename", Domains: list("a.example.com")}, api.CodeInvalid},
		{api.DomainsChange{Scope: appScope("shop"), Action: api.DomainsAdd, Domains: list("ok.example.com", "not valid")}, api.CodeInvalid},
		{api.DomainsChange{Scope: appScope("shop"), Action: api.DomainsAdd, Domains: list("ok.example.com", "blog.example.com")}, api.CodeConflict},
		{api.DomainsChange{Scope: globalScope(), Action: api.DomainsReset}, api.CodeInvalid},
		{api.DomainsChange{Scope: api.Scope{App: "shop", Global: true}, Action: api.DomainsAdd, Domains: list("a.example.com")}, api.CodeInvalid},
		{api.DomainsChange{Scope: appScope("ghost"), Action: api.DomainsAdd, Domains: list("a.example.com")}, api.CodeAppNotFound},
	} {
		if _, err := e.domains(c.req); errCode(err) != c.code {
			t.Errorf("%+v: %v, want %s", c.req, err, c.code)
		}
	}
	if got, _ := e.m.appHosts(e.ctx, "shop"); len(got) != 0 {
		t.Errorf("bad input changed shop's domains: %v", got)
	}
}

func TestDomainsEnableDisableReset(t *testing.T) {
	e := newEnv(t, nil)
	e.mustDomains(api.DomainsChange{Scope: globalScope(), Action: api.DomainsSet, Domains: list("example.com")})
	e.createApp("shop")
	res := e.mustDomains(api.DomainsChange{Scope: appScope("shop"), Action: api.DomainsDisable})
	if res.Enabled || !res.WasEnabled || !eq(res.Domains, list("shop.example.com")) {
		t.Errorf("disable: %+v", res)
	}
	// Disabled: the domains stay but nothing is routed, and checks send no Host.
	if hosts, _ := e.m.appHosts(e.ctx, "shop"); len(hosts) != 0 {
		t.Errorf("hosts while disabled: %v", hosts)
	}
	if h := e.m.CheckHost(e.ctx, "shop"); h != "" {
		t.Errorf("CheckHost while disabled = %q", h)
	}
	e.mustDomains(api.DomainsChange{Scope: appScope("shop"), Action: api.DomainsClear})
	// Enabling an app with no domains gives it its default again.
	res = e.mustDomains(api.DomainsChange{Scope: appScope("shop"), Action: api.DomainsEnable})
	if !res.Enabled || !eq(res.Domains, list("shop.example.com")) {
		t.Errorf("enable: %+v", res)
	}
	e.mustDomains(api.DomainsChange{Scope: appScope("shop"), Action: api.DomainsSet, Domains: list("www.shop.test")})
	res = e.mustDomains(api.DomainsChange{Scope: appScope("shop"), Action: api.DomainsReset})
	if !eq(res.Added, list("shop.example.com")) || !eq(res.Domains, list("shop.example.com")) {
		t.Errorf("reset: %+v", res)
	}
}

func TestGlobalDomains(t *testing.T) {
	e := newEnv(t, nil)
	res := e.mustDomains(api.DomainsChange{Scope: globalScope(), Action: api.DomainsAdd, Domains: list("b.test", "a.test")})
	if !eq(res.Domains, list("b.test", "a.test")) {
		t.Errorf("add keeps the order given: %+v", res)
	}
	res = e.mustDomains(api.DomainsChange{Scope: globalScope(), Action: api.DomainsRemove, Domains: list("b.test", "c.test")})
	if !eq(res.Removed, list("b.test")) || !eq(res.Missing, list("c.test")) || !eq(res.Domains, list("a.test")) {
		t.Errorf("remove: %+v", res)
	}
	res = e.mustDomains(api.DomainsChange{Scope: globalScope(), Action: api.DomainsClear})
	if !eq(res.Removed, list("a.test")) || len(res.Domains) != 0 {
		t.Errorf("clear: %+v", res)
	}
	rep, err := api.DomainsReportOp.Call(e.ctx, e.mux, api.DomainsReportRequest{Global: true})
	if err != nil || len(rep.Reports) != 1 || rep.Reports[0].GlobalEnabled {
		t.Errorf("report after clear: %+v, %v", rep, err)
	}
}

func TestOnAppRenamedMovesDefaultDomains(t *testing.T) {
	e := newEnv(t, nil)
	e.mustDomains(api.DomainsChange{Scope: globalScope(), Action: api.DomainsSet, Domains: list("example.com")})
	a := e.createApp("shop")
	e.mustDomains(api.DomainsChange{Scope: appScope("shop"), Action: api.DomainsAdd, Domains: list("www.shop.test")})
	e.createApp("store") // has store.example.com: the rename's default is taken
	e.createApp("old")
	e.tx(func(tx *store.Tx) error {
		if err := tx.RenameApp(a, "market"); err != nil {
			return err
		}
		a.Name = "market"
		return e.m.OnAppRenamed(tx, a, "shop")
	})
	if got, _ := e.m.appHosts(e.ctx, "market"); !eq(got, list("market.example.com", "www.shop.test")) {
		t.Errorf("after rename: %v", got)
	}
	o := func() store.App {
		var o store.App
		e.tx(func(tx *store.Tx) (err error) { o, err = tx.App("old"); return err })
		return o
	}()
	e.tx(func(tx *store.Tx) error {
		if err := tx.RenameApp(o, "store2"); err != nil {
			return err
		}
		o.Name = "store2"
		return e.m.OnAppRenamed(tx, o, "old")
	})
	if got, _ := e.m.appHosts(e.ctx, "store2"); !eq(got, list("store2.example.com")) {
		t.Errorf("after second rename: %v", got)
	}
}

func TestCheckHost(t *testing.T) {
	e := newEnv(t, nil)
	e.createApp("shop")
	if h := e.m.CheckHost(e.ctx, "shop"); h != "" {
		t.Errorf("no domains: %q", h)
	}
	if h := e.m.CheckHost(e.ctx, "ghost"); h != "" {
		t.Errorf("missing app: %q", h)
	}
	e.mustDomains(api.DomainsChange{Scope: appScope("shop"), Action: api.DomainsSet, Domains: list("*.shop.test", "_", "www.shop.test", "shop.test")})
	if h := e.m.CheckHost(e.ctx, "shop"); h != "www.shop.test" {
		t.Errorf("CheckHost = %q, want the first host name", h)
	}
	for hosts, want := range map[string]string{"": "", "*.a.test": "", "_ b.test": "b.test"} {
		var hs []string
		if hosts != "" {
			hs = strings.Fields(hosts)
		}
		if got := firstHostName(hs); got != want {
			t.Errorf("firstHostName(%q) = %q, want %q", hosts, got, want)
		}
	}
}

func TestDomainsURLs(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.HTTPAddr, c.HTTPSAddr = ":8080", "off" })
	e.createApp("shop")
	if _, err := api.DomainsURLs.Call(e.ctx, e.mux, api.AppRef{App: "shop"}); errCode(err) != api.CodeNotFound {
		t.Errorf("no domain: %v", err)
	}
	e.mustDomains(api.DomainsChange{Scope: appScope("shop"), Action: api.DomainsSet, Domains: list("*.shop.test", "shop.test")})
	res, err := api.DomainsURLs.Call(e.ctx, e.mux, api.AppRef{App: "shop"})
	if err != nil || !eq(res.URLs, list("http://shop.test:8080", "http://*.shop.test:8080")) {
		t.Errorf("urls = %v, %v", res.URLs, err)
	}
	e.mustDomains(api.DomainsChange{Scope: appScope("shop"), Action: api.DomainsDisable})
	if _, err := api.DomainsURLs.Call(e.ctx, e.mux, api.AppRef{App: "shop"}); errCode(err) != api.CodeNotFound {
		t.Errorf("disabled: %v", err)
	}

	// With a certificate and HTTPS on, the URLs are https ones.
	e2 := newEnv(t, nil)
	e2.createApp("shop")
	e2.mustDomains(api.DomainsChange{Scope: appScope("shop"), Action: api.DomainsSet, Domains: list("shop.test")})
	if _, err := api.CertsGenerate.Call(e2.ctx, e2.mux, api.CertGenerate{App: "shop"}); err != nil {
		t.Fatal(err)
	}
	if res, err := api.DomainsURLs.Call(e2.ctx, e2.mux, api.AppRef{App: "shop"}); err != nil || !eq(res.URLs, list("https://shop.test")) {
		t.Errorf("https urls = %v, %v", res.URLs, err)
	}
}

func TestDomainsReport(t *testing.T) {
	e := newEnv(t, nil)
	e.mustDomains(api.DomainsChange{Scope: globalScope(), Action: api.DomainsSet, Domains: list("example.com")})
	e.createApp("shop")
	e.createApp("blog")
	e.mustDomains(api.DomainsChange{Scope: appScope("blog"), Action: api.DomainsDisable})
	rep, err := api.DomainsReportOp.Call(e.ctx, e.mux, api.DomainsReportRequest{All: true})
	if err != nil || len(rep.Reports) != 2 {
		t.Fatalf("report --all: %+v, %v", rep, err)
	}
	for _, r := range rep.Reports {
		if !r.GlobalEnabled || !eq(r.GlobalVhosts, list("example.com")) || !eq(r.AppVhosts, list(r.App+".example.com")) || r.AppEnabled != (r.App == "shop") {
			t.Errorf("report of %s: %+v", r.App, r)
		}
	}
	if _, err := api.DomainsReportOp.Call(e.ctx, e.mux, api.DomainsReportRequest{App: "ghost"}); errCode(err) != api.CodeAppNotFound {
		t.Errorf("report of a missing app: %v", err)
	}
}
