package routing

import (
	"testing"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/store"
)

func TestRedirectOf(t *testing.T) {
	r, err := redirectOf(api.RedirectSet{App: "shop", Src: "Shop.Test", Dest: "WWW.shop.test"})
	if err != nil || r != (store.Redirect{Src: "shop.test", Dest: "www.shop.test", Code: 301}) {
		t.Errorf("redirectOf = %+v, %v", r, err)
	}
	for _, code := range []int{301, 302, 303, 307, 308} {
		if r, err := redirectOf(api.RedirectSet{Src: "a.test", Dest: "b.test", Code: code}); err != nil || r.Code != code {
			t.Errorf("code %d: %+v, %v", code, r, err)
		}
	}
	for _, bad := range []api.RedirectSet{
		{Src: "", Dest: "b.test"},
		{Src: "a.test", Dest: ""},
		{Src: "a.test", Dest: "A.test"},
		{Src: "not valid", Dest: "b.test"},
		{Src: "a.test", Dest: "b.test", Code: 200},
		{Src: "a.test", Dest: "b.test", Code: 304},
	} {
		if _, err := redirectOf(bad); errCode(err) != api.CodeInvalid {
			t.Errorf("redirectOf(%+v): %v, want invalid", bad, err)
		}
	}
}

func TestRedirectsSetListUnset(t *testing.T) {
	e := newEnv(t, nil)
	e.createApp("shop")
	e.createApp("blog")
	e.mustDomains(api.DomainsChange{Scope: appScope("shop"), Action: api.DomainsSet, Domains: list("shop.test", "www.shop.test")})
	e.mustDomains(api.DomainsChange{Scope: appScope("blog"), Action: api.DomainsSet, Domains: list("blog.test")})
	set := func(req api.RedirectSet) error {
		_, err := api.RedirectsSet.Call(e.ctx, e.mux, req)
		return err
	}
	// One of the app's own domains may redirect; another app's may not.
	if err := set(api.RedirectSet{App: "shop", Src: "shop.test", Dest: "www.shop.test"}); err != nil {
		t.Fatal(err)
	}
	if err := set(api.RedirectSet{App: "shop", Src: "blog.test", Dest: "www.shop.test"}); errCode(err) != api.CodeConflict {
		t.Errorf("another app's domain: %v", err)
	}
	if err := set(api.RedirectSet{App: "blog", Src: "shop.test", Dest: "blog.test"}); errCode(err) != api.CodeConflict {
		t.Errorf("a source redirected already: %v", err)
	}
	if err := set(api.RedirectSet{App: "shop", Src: "old.shop.test", Dest: "www.shop.test", Code: 308}); err != nil {
		t.Fatal(err)
	}
	if err := set(api.RedirectSet{App: "ghost", Src: "x.test", Dest: "y.test"}); errCode(err) != api.CodeAppNotFound {
		t.Errorf("missing app: %v", err)
	}
	// The app is checked before the arguments, as dokku-redirect does.
	if err := set(api.RedirectSet{App: "ghost"}); errCode(err) != api.CodeAppNotFound {
		t.Errorf("missing app, no arguments: %v", err)
	}
	if _, err := api.RedirectsUnset.Call(e.ctx, e.mux, api.RedirectSet{App: "ghost"}); errCode(err) != api.CodeAppNotFound {
		t.Errorf("unset on a missing app, no source: %v", err)
	}
	if err := set(api.RedirectSet{App: "shop", Src: "x.test"}); errCode(err) != api.CodeInvalid || err.Error() != "Please provide a source domain and a destination" {
		t.Errorf("no destination: %v", err)
	}
	res, err := api.RedirectsList.Call(e.ctx, e.mux, api.AppRef{App: "shop"})
	if err != nil || len(res.Redirects) != 2 || res.Redirects[0] != (api.RedirectInfo{Src: "old.shop.test", Dest: "www.shop.test", Code: 308}) {
		t.Errorf("list = %+v, %v", res, err)
	}
	// Redirect sources are hosts the certificate must cover.
	if hosts, err := e.m.certHosts(e.ctx, "shop"); err != nil || !eq(hosts, list("shop.test", "www.shop.test", "old.shop.test")) {
		t.Errorf("certHosts = %v, %v", hosts, err)
	}
	if _, err := api.RedirectsUnset.Call(e.ctx, e.mux, api.RedirectSet{App: "shop", Src: "OLD.shop.test"}); err != nil {
		t.Fatal(err)
	}
	if _, err := api.RedirectsUnset.Call(e.ctx, e.mux, api.RedirectSet{App: "shop", Src: "old.shop.test"}); errCode(err) != api.CodeNotFound {
		t.Errorf("unset twice: %v", err)
	}
	if _, err := api.RedirectsUnset.Call(e.ctx, e.mux, api.RedirectSet{App: "shop"}); errCode(err) != api.CodeInvalid {
		t.Errorf("unset without a source: %v", err)
	}
	if r, _ := e.proxy.route("shop"); len(r.Redirects) != 1 || !eq(r.Hosts, list("www.shop.test")) {
		t.Errorf("route after unset: %+v", r)
	}
}
