package routing

import (
	"testing"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/store"
)

func TestWildcardCovers(t *testing.T) {
	for h, want := range map[string]bool{
		"shop.example.com":   true,
		"*.example.com":      false, // the same one: refused by the store
		"example.com":        false,
		"a.shop.example.com": false,
		"*.shop.example.com": false,
		"shopexample.com":    false,
		"shop.example.org":   false,
	} {
		if got := wildcardCovers("*.example.com", h); got != want {
			t.Errorf("wildcardCovers(*.example.com, %s) = %v, want %v", h, got, want)
		}
	}
}

// An app cannot take another app's subdomains with a wildcard, as a domain
// or as a redirect source; refused, nothing changes.
func TestWildcardCannotCoverAnotherApp(t *testing.T) {
	e := newEnv(t, nil)
	e.createApp("shop")
	e.createApp("evil")
	e.createApp("blog")
	e.mustDomains(api.DomainsChange{Scope: appScope("shop"), Action: api.DomainsSet, Domains: list("shop.example.com", "*.shop.test")})
	e.mustDomains(api.DomainsChange{Scope: appScope("blog"), Action: api.DomainsSet, Domains: list("blog.test")})
	if _, err := api.RedirectsSet.Call(e.ctx, e.mux, api.RedirectSet{App: "blog", Src: "old.blog.test", Dest: "blog.test"}); err != nil {
		t.Fatal(err)
	}
	e.mustDomains(api.DomainsChange{Scope: appScope("evil"), Action: api.DomainsSet, Domains: list("evil.test")})

	domains := func() map[string][]string {
		var all map[string][]string
		e.tx(func(tx *store.Tx) (err error) { all, err = tx.AllDomains(); return err })
		return all
	}
	before := domains()
	for _, c := range []struct {
		action string
		names  []string
		want   string
	}{
		{api.DomainsAdd, list("*.example.com"), "*.example.com covers shop.example.com, which app shop uses"},
		{api.DomainsAdd, list("ok.test", "*.EXAMPLE.com"), "*.example.com covers shop.example.com, which app shop uses"},
		{api.DomainsSet, list("*.example.com"), "*.example.com covers shop.example.com, which app shop uses"},
		{api.DomainsAdd, list("*.shop.test"), "*.shop.test is already used by app shop"},
		{api.DomainsAdd, list("*.blog.test"), "*.blog.test covers old.blog.test, which app blog uses"},
	} {
		_, err := e.domains(api.DomainsChange{Scope: appScope("evil"), Action: c.action, Domains: c.names})
		if errCode(err) != api.CodeConflict || err.Error() != c.want {
			t.Errorf("domains:%s evil %v: %v, want %q", c.action, c.names, err, c.want)
		}
	}
	for _, src := range []string{"*.example.com", "*.blog.test"} {
		_, err := api.RedirectsSet.Call(e.ctx, e.mux, api.RedirectSet{App: "evil", Src: src, Dest: "evil.test"})
		if errCode(err) != api.CodeConflict {
			t.Errorf("redirect:set evil %s: %v, want a conflict", src, err)
		}
	}
	if after := domains(); !eq(after["evil"], before["evil"]) || len(after) != len(before) {
		t.Errorf("domains changed on refusal: %v, was %v", after, before)
	}
	var rs []store.Redirect
	e.tx(func(tx *store.Tx) error {
		a, err := tx.App("evil")
		if err != nil {
			return err
		}
		rs, err = tx.Redirects(a)
		return err
	})
	if len(rs) != 0 {
		t.Errorf("evil's redirects after refusals: %v", rs)
	}

	// Allowed: a wildcard covering only the app's own names or nobody's; a
	// deeper or a parent name; a plain name under another app's wildcard
	// (the proxy matches exact names first).
	e.mustDomains(api.DomainsChange{Scope: appScope("shop"), Action: api.DomainsAdd, Domains: list("*.example.com")})
	e.mustDomains(api.DomainsChange{Scope: appScope("evil"), Action: api.DomainsAdd, Domains: list("*.evil.test", "*.a.shop.example.com", "example.com", "x.shop.test")})
	if _, err := api.RedirectsSet.Call(e.ctx, e.mux, api.RedirectSet{App: "evil", Src: "*.old.evil.test", Dest: "evil.test"}); err != nil {
		t.Errorf("redirect from a free wildcard: %v", err)
	}
}
