package routing

import (
	"context"
	"crypto/ecdsa"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/acme"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/store"
)

func (e *env) settings(app string) leSettings {
	e.t.Helper()
	var set leSettings
	e.tx(func(tx *store.Tx) error {
		a, err := tx.App(app)
		if err != nil {
			return err
		}
		set, err = leSettingsOf(tx, a)
		return err
	})
	return set
}

func (e *env) setProp(sc store.Scope, key, value string) {
	e.t.Helper()
	e.tx(func(tx *store.Tx) error { return tx.SetProperty(sc, "letsencrypt", key, value) })
}

func TestLESettings(t *testing.T) {
	e := newEnv(t, nil)
	a := e.createApp("shop")
	set := e.settings("shop")
	if set != (leSettings{directory: letsEncryptProduction, challenge: "http-01", grace: defaultGracePeriod}) {
		t.Errorf("defaults: %+v", set)
	}
	// DOKKU_LETSENCRYPT_EMAIL: the app's var, unless a global one is set.
	e.tx(func(tx *store.Tx) error {
		return tx.SetConfig(a.Scope(), map[string]string{"DOKKU_LETSENCRYPT_EMAIL": "app@example.com"})
	})
	if got := e.settings("shop").email; got != "app@example.com" {
		t.Errorf("email from the app's config = %q", got)
	}
	e.tx(func(tx *store.Tx) error {
		return tx.SetConfig(store.Global, map[string]string{"DOKKU_LETSENCRYPT_EMAIL": "ops@example.com"})
	})
	if got := e.settings("shop").email; got != "ops@example.com" {
		t.Errorf("email from the global config = %q", got)
	}
	// Properties win; the app's over the global ones.
	e.setProp(store.Global, "email", "admin@example.com")
	e.setProp(store.Global, "server", "staging")
	e.setProp(store.Global, "graceperiod", "60")
	e.setProp(a.Scope(), "challenge", "tls-alpn-01")
	e.setProp(a.Scope(), "enabled", "true")
	set = e.settings("shop")
	if set != (leSettings{email: "admin@example.com", directory: letsEncryptStaging, challenge: "tls-alpn-01", grace: time.Minute, enabled: true}) {
		t.Errorf("from properties: %+v", set)
	}
	e.setProp(a.Scope(), "server", "https://acme.internal/dir")
	if got := e.settings("shop").directory; got != "https://acme.internal/dir" {
		t.Errorf("a directory URL: %q", got)
	}
}

func TestDueByCert(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	grace := 30 * 24 * time.Hour
	le := store.Cert{Source: "letsencrypt", NotAfter: now.Add(60 * 24 * time.Hour)}
	failed := le
	failed.LastError, failed.LastTryAt = "rate limited", now.Add(-30*time.Minute)
	expiring := le
	expiring.NotAfter = now.Add(10 * 24 * time.Hour)
	expiringFailed := expiring
	expiringFailed.LastError, expiringFailed.LastTryAt = "rate limited", now.Add(-30*time.Minute)
	longAgo := expiringFailed
	longAgo.LastTryAt = now.Add(-2 * time.Hour)
	for _, c := range []struct {
		name         string
		cert         store.Cert
		force        bool
		due, decided bool
	}{
		{"valid: depends on the hosts", le, false, false, false},
		{"custom certificate", store.Cert{Source: "custom", NotAfter: now.Add(365 * 24 * time.Hour)}, false, true, true},
		{"within the grace period", expiring, false, true, true},
		{"failed half an hour ago: backoff", expiringFailed, false, false, true},
		{"failed, but forced", expiringFailed, true, true, true},
		{"failed two hours ago", longAgo, false, true, true},
		{"failed recently, not expiring: backoff", failed, false, false, true},
	} {
		due, decided := dueByCert(c.cert, grace, now, c.force)
		if due != c.due || decided != c.decided {
			t.Errorf("%s: due %v decided %v; want %v %v", c.name, due, decided, c.due, c.decided)
		}
	}
}

func TestCovers(t *testing.T) {
	c := store.Cert{Domains: list("shop.test", "www.shop.test")}
	if !covers(c, list("shop.test", "*.shop.test")) {
		t.Error("wildcards are not Let's Encrypt's to cover")
	}
	if covers(c, list("shop.test", "new.shop.test")) {
		t.Error("a new host is covered")
	}
	if !covers(c, nil) {
		t.Error("no hosts")
	}
}

func TestDue(t *testing.T) {
	e := newEnv(t, nil)
	a := e.createApp("shop")
	e.mustDomains(api.DomainsChange{Scope: appScope("shop"), Action: api.DomainsSet, Domains: list("shop.test")})
	set := e.settings("shop")
	if !e.m.due(e.ctx, a, set, false) {
		t.Error("no certificate yet: not due")
	}
	now := e.clock.now()
	cert := store.Cert{Source: "letsencrypt", Domains: list("shop.test"), NotBefore: now, NotAfter: now.Add(90 * 24 * time.Hour), UpdatedAt: now}
	e.tx(func(tx *store.Tx) error { return tx.SetCert(a, cert) })
	if e.m.due(e.ctx, a, set, false) {
		t.Error("a fresh certificate covering every host is due")
	}
	// A host added since: due at once.
	e.mustDomains(api.DomainsChange{Scope: appScope("shop"), Action: api.DomainsAdd, Domains: list("www.shop.test")})
	if !e.m.due(e.ctx, a, set, false) {
		t.Error("a new host is not covered, yet not due")
	}
	// Sixty-one days on it is within the thirty days' grace.
	e.mustDomains(api.DomainsChange{Scope: appScope("shop"), Action: api.DomainsRemove, Domains: list("www.shop.test")})
	e.clock.advance(61 * 24 * time.Hour)
	if !e.m.due(e.ctx, a, set, false) {
		t.Error("within the grace period, not due")
	}
	// A failed try waits an hour, unless forced.
	e.tx(func(tx *store.Tx) error { return tx.SetCertError(a, "boom", e.clock.now()) })
	if e.m.due(e.ctx, a, set, false) || !e.m.due(e.ctx, a, set, true) {
		t.Error("backoff after a failure")
	}
	e.clock.advance(61 * time.Minute)
	if !e.m.due(e.ctx, a, set, false) {
		t.Error("still backing off after an hour")
	}
}

func TestLEEnableRefusesWhatCannotWork(t *testing.T) {
	e := newEnv(t, nil)
	e.createApp("shop")
	enable := func(app string) error {
		_, err := api.LEEnable.Call(e.ctx, e.mux, api.PSRequest{App: app})
		return err
	}
	if err := enable("shop"); errCode(err) != api.CodeInvalid || !strings.Contains(err.Error(), "e-mail") {
		t.Errorf("without an e-mail: %v", err)
	}
	e.setProp(store.Global, "email", "ops@example.com")
	if err := enable("shop"); errCode(err) != api.CodeInvalid || !strings.Contains(err.Error(), "no domain") {
		t.Errorf("without a domain: %v", err)
	}
	e.mustDomains(api.DomainsChange{Scope: appScope("shop"), Action: api.DomainsSet, Domains: list("*.shop.test")})
	if err := enable("shop"); errCode(err) != api.CodeInvalid {
		t.Errorf("with only a wildcard: %v", err)
	}
	if err := enable("ghost"); errCode(err) != api.CodeAppNotFound {
		t.Errorf("missing app: %v", err)
	}
	if err := enable(""); errCode(err) != api.CodeInvalid {
		t.Errorf("no app: %v", err)
	}
	res, err := api.LEList.Call(e.ctx, e.mux, api.Empty{})
	if err != nil || len(res.Apps) != 0 {
		t.Errorf("a refused enable enabled: %+v, %v", res, err)
	}

	// Without a proxy nothing can answer the challenges.
	e2 := newEnv(t, func(c *Config) { c.Proxy = nil })
	e2.createApp("shop")
	e2.setProp(store.Global, "email", "ops@example.com")
	e2.mustDomains(api.DomainsChange{Scope: appScope("shop"), Action: api.DomainsSet, Domains: list("shop.test")})
	if _, err := api.LEEnable.Call(e2.ctx, e2.mux, api.PSRequest{App: "shop"}); errCode(err) != api.CodeUnavailable {
		t.Errorf("without a proxy: %v", err)
	}
}

func TestLEListCronJobDisable(t *testing.T) {
	e := newEnv(t, nil)
	a := e.createApp("shop")
	b := e.createApp("blog")
	now := e.clock.now()
	e.setProp(a.Scope(), "enabled", "true")
	e.setProp(b.Scope(), "enabled", "true")
	le := store.Cert{Source: "letsencrypt", Domains: list("shop.test"), NotAfter: now.Add(90 * 24 * time.Hour), LastError: "", UpdatedAt: now}
	e.tx(func(tx *store.Tx) error {
		if err := tx.SetCert(a, le); err != nil {
			return err
		}
		custom := le
		custom.Source = "custom"
		return tx.SetCert(b, custom)
	})
	res, err := api.LEList.Call(e.ctx, e.mux, api.Empty{})
	if err != nil || len(res.Apps) != 2 {
		t.Fatalf("list: %+v, %v", res, err)
	}
	for _, en := range res.Apps {
		if en.App == "shop" && (!en.Active || !en.NextRenewal.Equal(le.NotAfter.Add(-defaultGracePeriod))) || en.App == "blog" && en.Active {
			t.Errorf("entry %+v", en)
		}
	}
	st, err := api.LECronJob.Call(e.ctx, e.mux, api.CronJob{Add: false})
	var auto string
	e.tx(func(tx *store.Tx) error {
		auto, _, _ = tx.Property(store.Global, "letsencrypt", "auto-renew")
		return nil
	})
	if err != nil || st.Enabled || auto != "false" {
		t.Errorf("cron-job --remove: %+v, %v, %q", st, err, auto)
	}
	if st, err := api.LECronJob.Call(e.ctx, e.mux, api.CronJob{Show: true}); err != nil || st.Enabled {
		t.Errorf("cron-job (status) after --remove: %+v, %v", st, err)
	}
	if _, err := api.LECronJob.Call(e.ctx, e.mux, api.CronJob{Add: true}); err != nil {
		t.Fatal(err)
	}
	if st, err := api.LECronJob.Call(e.ctx, e.mux, api.CronJob{Show: true}); err != nil || !st.Enabled {
		t.Errorf("cron-job (status) after --add: %+v, %v", st, err)
	}
	// Disable removes a Let's Encrypt certificate, not a custom one.
	for _, app := range []string{"shop", "blog"} {
		if _, err := api.LEDisable.Call(e.ctx, e.mux, api.AppRef{App: app}); err != nil {
			t.Fatal(err)
		}
	}
	e.tx(func(tx *store.Tx) error {
		if _, err := tx.Cert(a); err != store.ErrNoCert {
			t.Errorf("shop's certificate: %v", err)
		}
		if c, err := tx.Cert(b); err != nil || c.Source != "custom" {
			t.Errorf("blog's certificate: %+v, %v", c, err)
		}
		return nil
	})
	if res, _ := api.LEList.Call(e.ctx, e.mux, api.Empty{}); len(res.Apps) != 0 {
		t.Errorf("list after disable: %+v", res)
	}
	if _, err := api.LERevoke.Call(e.ctx, e.mux, api.AppRef{App: "blog"}); errCode(err) != api.CodeNotFound {
		t.Errorf("revoke without a Let's Encrypt certificate: %v", err)
	}
}

func TestAccountKeyIsMadeOnce(t *testing.T) {
	c := &acmeClient{dataDir: t.TempDir()}
	k1, err := c.accountKey("https://acme.test/dir")
	if err != nil {
		t.Fatal(err)
	}
	k2, err := c.accountKey("https://acme.test/dir")
	if err != nil || !k1.Public().(*ecdsa.PublicKey).Equal(k2.Public()) {
		t.Errorf("second read: %v, or a different key", err)
	}
	k3, _ := c.accountKey("https://other.test/dir")
	if k1.Public().(*ecdsa.PublicKey).Equal(k3.Public()) {
		t.Error("two directories share a key")
	}
	files, _ := filepath.Glob(filepath.Join(c.dataDir, "acme", "account-*.key"))
	if len(files) != 2 {
		t.Fatalf("key files: %v", files)
	}
	if fi, _ := os.Stat(files[0]); fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v", fi.Mode())
	}
	os.WriteFile(files[0], []byte("garbage"), 0o600)
	os.WriteFile(files[1], []byte("garbage"), 0o600)
	if _, err := c.accountKey("https://acme.test/dir"); err == nil {
		t.Error("a corrupt key file was accepted")
	}
}

func TestChallengesGoToTheProxy(t *testing.T) {
	p := newFakeProxy()
	c := &acmeClient{dataDir: t.TempDir(), challenges: p}
	client, err := c.client("https://acme.test/dir")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	present, cleanup, err := c.challenge(client, &acme.Challenge{Type: "http-01", Token: "tok"}, "shop.test")
	if err != nil {
		t.Fatal(err)
	}
	present(ctx)
	if ka := p.challenges["tok"]; !strings.HasPrefix(ka, "tok.") {
		t.Errorf("key authorization %q", ka)
	}
	cleanup(ctx)
	if len(p.challenges) != 0 {
		t.Error("challenge not cleared")
	}
	present, cleanup, err = c.challenge(client, &acme.Challenge{Type: "tls-alpn-01", Token: "tok"}, "shop.test")
	if err != nil {
		t.Fatal(err)
	}
	present(ctx)
	if !strings.Contains(p.alpn["shop.test"], "BEGIN CERTIFICATE") {
		t.Errorf("ALPN certificate: %v", p.alpn)
	}
	cleanup(ctx)
	if len(p.alpn) != 0 {
		t.Error("ALPN certificate not cleared")
	}
	if _, _, err := c.challenge(client, &acme.Challenge{Type: "dns-01", Token: "tok"}, "shop.test"); err == nil {
		t.Error("dns-01 accepted")
	}
	if _, _, err := (&acmeClient{}).challenge(client, &acme.Challenge{Type: "http-01", Token: "tok"}, "shop.test"); err == nil {
		t.Error("a challenge without a proxy")
	}
}

// TestRenewalLoop runs the background renewals against an ACME server that
// always fails: a certificate in its grace period is tried, the failure is
// recorded and the old certificate kept, the next tries wait an hour of the
// (fake) clock, and letsencrypt:cron-job --remove stops them.
func TestRenewalLoop(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "no directory here", http.StatusNotFound)
	}))
	defer srv.Close()
	told := make(chan string, 100) // Config.RenewalFailed: the daemon's cert-renewal-failed notification
	e := newEnv(t, func(c *Config) {
		c.RenewEvery = 2 * time.Millisecond
		c.RenewalFailed = func(app string, err error) { told <- app + ": " + err.Error() }
	})
	a := e.createApp("shop")
	e.mustDomains(api.DomainsChange{Scope: appScope("shop"), Action: api.DomainsSet, Domains: list("shop.test")})
	e.setProp(store.Global, "email", "ops@example.com")
	e.setProp(a.Scope(), "server", srv.URL)
	e.setProp(a.Scope(), "enabled", "true")
	now := e.clock.now()
	old := store.Cert{Source: "letsencrypt", CertPEM: "old", Domains: list("shop.test"), NotAfter: now.Add(10 * 24 * time.Hour), UpdatedAt: now}
	e.tx(func(tx *store.Tx) error { return tx.SetCert(a, old) })
	cert := func() store.Cert {
		var c store.Cert
		e.tx(func(tx *store.Tx) (err error) { c, err = tx.Cert(a); return err })
		return c
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	e.m.StartRenewals(e.ctx)
	e.m.StartRenewals(e.ctx) // a second start is a no-op
	waitFor("a failed try", func() bool { return cert().LastError != "" })
	c := cert()
	if c.CertPEM != "old" || !c.LastTryAt.Equal(now) || !strings.Contains(c.LastError, "404") {
		t.Errorf("after a failed renewal: %+v", c)
	}
	select {
	case msg := <-told:
		if !strings.HasPrefix(msg, "shop: Could not get a certificate for shop") {
			t.Errorf("RenewalFailed told %q", msg)
		}
	case <-time.After(5 * time.Second):
		t.Error("RenewalFailed not told of the failed renewal")
	}
	tries := hits.Load()
	time.Sleep(30 * time.Millisecond) // many ticks, no time passes
	if hits.Load() != tries {
		t.Errorf("retried within the hour: %d hits, then %d", tries, hits.Load())
	}
	e.clock.advance(2 * time.Hour)
	waitFor("a retry after an hour", func() bool { return hits.Load() > tries })

	if _, err := api.LECronJob.Call(e.ctx, e.mux, api.CronJob{Add: false}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond) // a try in flight ends
	e.clock.advance(2 * time.Hour)
	tries = hits.Load()
	time.Sleep(30 * time.Millisecond)
	if hits.Load() != tries {
		t.Errorf("renewed with auto-renew off: %d hits, then %d", tries, hits.Load())
	}
	e.m.StopRenewals()
	e.m.StopRenewals() // twice is fine
}

func TestNoRenewalsWithoutAProxy(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Proxy = nil; c.RenewEvery = time.Millisecond })
	e.m.StartRenewals(e.ctx)
	if e.m.renewStop != nil {
		t.Error("renewals started without a proxy")
	}
	e.m.StopRenewals()
}

// TestLEEnableAll: letsencrypt:enable --all tries every app, says on
// stderr which failed and why, and fails naming them.
func TestLEEnableAll(t *testing.T) {
	e := newEnv(t, nil)
	e.createApp("shop")
	e.createApp("blog")
	var stderr strings.Builder
	_, err := api.LEEnable.Stream(e.ctx, e.mux, api.PSRequest{All: true}, api.Output{Stderr: &stderr})
	if errCode(err) != api.CodeInvalid || !strings.Contains(err.Error(), "Failed for blog, shop") {
		t.Errorf("enable --all: %v", err)
	}
	for _, app := range []string{"blog", "shop"} {
		if !strings.Contains(stderr.String(), " !     "+app+": Cannot request a certificate without an e-mail address") {
			t.Errorf("stderr does not say why %s failed:\n%s", app, stderr.String())
		}
	}
}
