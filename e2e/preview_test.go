package e2e

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestPreviewApps: with previews enabled, a push of branch feature-x makes
// shop-feature-x, served by the proxy at feature-x.shop.GLOBAL, with
// shop's config (environments.review.env over it), its own copies of
// shop's Postgres and Redis restored from backups (the Postgres one masked
// by the branch's .berth/preview-mask.sql), and the review postdeploy run
// once; shop is untouched. Deleting the branch runs pr-predestroy and
// destroys the preview and its services. With a backup schedule the copy
// is the newest scheduled backup; apps:destroy of the preview app removes
// it as previews:destroy does, its services too.
func TestPreviewApps(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	requireServiceImages(t)
	d, key, port := sshDaemon(t, eng, serviceImageEnv...)
	d.mustBerth(t, "domains:set-global", "preview.test")
	d.mustBerth(t, "apps:create", "shop")
	d.mustBerth(t, "config:set", "--no-restart", "shop", "SHARED=from-parent", "OVERRIDE=parent")
	d.mustBerth(t, "postgres:create", "shopdb")
	d.mustBerth(t, "postgres:link", "shopdb", "shop")
	d.mustBerth(t, "redis:create", "shopcache")
	d.mustBerth(t, "redis:link", "shopcache", "shop")
	d.mustBerth(t, "previews:enable", "shop")
	d.mustBerth(t, "previews:set", "shop", "expire", "7d")

	appJSON := `{"scripts": {"dokku": {"predeploy": "testapp migrate"}},
	  "environments": {"review": {"env": {"OVERRIDE": "review"}, "formation": {"web": {"quantity": 2}},
	    "scripts": {"postdeploy": "echo review-postdeploy-ran", "pr-predestroy": "echo review-predestroy-ran"}}}}`
	r := newRepo(t, key, port, map[string]string{"Dockerfile": dockerfile("v1"), "Procfile": "web: testapp web\n", "app.json": appJSON})
	r.git("remote", "add", "berth", "ssh://berth@127.0.0.1:"+port+"/shop")
	if out := r.git("push", "berth", "main"); !strings.Contains(out, "Application deployed: shop release 1") {
		t.Fatalf("push main:\n%s", out)
	}
	get := func(host, path string) string {
		t.Helper()
		var code int
		var body string
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if code, body = servedOnce(d, host, path); code == http.StatusOK {
				return strings.TrimSpace(body)
			}
		}
		t.Fatalf("GET http://%s%s via the proxy: %d %s", host, path, code, body)
		return ""
	}
	post := func(host, path string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, "http://"+d.proxyAddr+path, nil)
		req.Host = host
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("POST http://%s%s: %v %v", host, path, err, resp)
		}
		resp.Body.Close()
	}
	post("shop.preview.test", "/db?v=alice@example.com")
	post("shop.preview.test", "/kv?k=greeting&v=from-parent-redis")
	if got := get("shop.preview.test", "/db"); got != "alice@example.com" {
		t.Fatalf("shop's /db = %q", got)
	}
	parentEnv := d.mustBerth(t, "config:export", "shop")

	// The branch adds a masking script; its push makes the preview.
	r.git("checkout", "-q", "-b", "feature-x")
	if err := os.MkdirAll(filepath.Join(r.dir, ".berth"), 0o755); err != nil {
		t.Fatal(err)
	}
	r.write(map[string]string{".berth/preview-mask.sql": "UPDATE items SET v = regexp_replace(v, '@.*$', '@masked.test');\n"})
	r.commit("masking script")
	out := r.git("push", "berth", "feature-x")
	for _, want := range []string{
		"Creating preview app shop-feature-x of shop (branch feature-x)",
		"Copying postgres service shopdb as shopdb-feature-x",
		"Copying redis service shopcache as shopcache-feature-x",
		"took a fresh backup",
		"Masking shopdb-feature-x with .berth/preview-mask.sql",
		"Application deployed: shop-feature-x release 1",
		"review-postdeploy-ran",
		"Preview of shop's branch feature-x: http://feature-x.shop.preview.test",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("push feature-x output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "stored but not deployed") {
		t.Errorf("the branch push was refused as in Dokku:\n%s", out)
	}
	if got := get("feature-x.shop.preview.test", "/db"); got != "alice@masked.test" {
		t.Errorf("preview's /db = %q, want the parent's row masked", got)
	}
	// Its own copy of the parent's Redis: the parent's key, and a write
	// to the copy stays there.
	if got := get("feature-x.shop.preview.test", "/kv?k=greeting"); got != "from-parent-redis" {
		t.Errorf("preview's /kv greeting = %q, want the parent's value", got)
	}
	post("feature-x.shop.preview.test", "/kv?k=greeting&v=changed-in-preview")
	if got := get("shop.preview.test", "/kv?k=greeting"); got != "from-parent-redis" {
		t.Errorf("shop's /kv greeting after a write in the preview = %q", got)
	}
	var env map[string]string
	decodeJSON(t, get("feature-x.shop.preview.test", "/env"), &env)
	if env["SHARED"] != "from-parent" || env["OVERRIDE"] != "review" || env["BERTH_PREVIEW_BRANCH"] != "feature-x" ||
		!strings.Contains(env["DATABASE_URL"], "@dokku-postgres-shopdb-feature-x:5432/shopdb_feature_x") {
		t.Errorf("preview's env: SHARED=%q OVERRIDE=%q BERTH_PREVIEW_BRANCH=%q DATABASE_URL=%q",
			env["SHARED"], env["OVERRIDE"], env["BERTH_PREVIEW_BRANCH"], env["DATABASE_URL"])
	}
	// environments.review.formation: two web processes in the preview.
	if got := dynos(containers(t, eng, d, "shop-feature-x")); got != "web.1 web.2" {
		t.Errorf("preview's processes: %q", got)
	}
	// The parent is untouched: its data, its config, its processes.
	if got := dynos(containers(t, eng, d, "shop")); got != "web.1" {
		t.Errorf("shop's processes: %q", got)
	}
	if got := get("shop.preview.test", "/db"); got != "alice@example.com" {
		t.Errorf("shop's /db after the preview = %q", got)
	}
	if got := d.mustBerth(t, "config:export", "shop"); got != parentEnv {
		t.Errorf("shop's config changed:\n%s\nwas\n%s", got, parentEnv)
	}
	list := d.mustBerth(t, "previews:list", "shop")
	if !strings.Contains(list, "shop-feature-x") || !strings.Contains(list, "feature-x") || !strings.Contains(list, "http://feature-x.shop.preview.test") {
		t.Errorf("previews:list:\n%s", list)
	}

	// A second push redeploys the same preview; postdeploy does not run again.
	r.write(map[string]string{"Dockerfile": dockerfile("v2")})
	r.commit("v2")
	out = r.git("push", "berth", "feature-x")
	if !strings.Contains(out, "Application deployed: shop-feature-x release 2") || strings.Contains(out, "review-postdeploy-ran") || strings.Contains(out, "Creating preview app") {
		t.Errorf("second push of feature-x:\n%s", out)
	}
	if got := get("feature-x.shop.preview.test", "/"); !strings.HasPrefix(got, "version=v2") {
		t.Errorf("preview serves %q after the second push", got)
	}
	if got := get("shop.preview.test", "/"); !strings.HasPrefix(got, "version=v1") {
		t.Errorf("shop serves %q after the preview's second push", got)
	}

	// Deleting the branch destroys the preview and its service.
	out = r.git("push", "berth", ":feature-x")
	for _, want := range []string{"review-predestroy-ran", "Destroyed postgres service shopdb-feature-x", "Destroyed redis service shopcache-feature-x", "Preview shop-feature-x destroyed"} {
		if !strings.Contains(out, want) {
			t.Errorf("push :feature-x output lacks %q:\n%s", want, out)
		}
	}
	if out, code := d.berthIn(nil, "apps:exists", "shop-feature-x"); code == 0 {
		t.Errorf("shop-feature-x still exists: %s", out)
	}
	if out, code := d.berthIn(nil, "postgres:exists", "shopdb-feature-x"); code == 0 {
		t.Errorf("shopdb-feature-x still exists: %s", out)
	}
	if out, code := d.berthIn(nil, "redis:exists", "shopcache-feature-x"); code == 0 {
		t.Errorf("shopcache-feature-x still exists: %s", out)
	}
	if got := get("shop.preview.test", "/db"); got != "alice@example.com" {
		t.Errorf("shop's /db after the preview went = %q", got)
	}
	if list := d.mustBerth(t, "previews:list", "shop"); strings.Contains(list, "shop-feature-x") {
		t.Errorf("previews:list after the delete:\n%s", list)
	}

	// With a backup schedule, a preview takes the newest backup there: a
	// row added after it is not in the copy. apps:destroy of the preview
	// app removes it with its service (pr-predestroy first).
	bdir := t.TempDir()
	d.mustBerth(t, "postgres:backup-schedule", "shopdb", "@daily", bdir)
	d.mustBerth(t, "postgres:backup", "shopdb", bdir)
	post("shop.preview.test", "/db?v=bob@example.com")
	r.git("checkout", "-q", "-b", "feature-y", "main")
	out = r.git("push", "berth", "feature-y")
	if !strings.Contains(out, "Restored from shopdb's latest backup "+bdir+"/postgres-shopdb-") || strings.Contains(out, "shopdb had no backup") || strings.Contains(out, "Masking") {
		t.Errorf("push feature-y:\n%s", out)
	}
	if got := get("feature-y.shop.preview.test", "/db"); got != "alice@example.com" {
		t.Errorf("feature-y's /db = %q, want the backup's rows only", got)
	}
	if got := strings.TrimSpace(d.mustBerth(t, "previews:report", "shop", "--previews-count")); got != "1" {
		t.Errorf("previews:report --previews-count = %q", got)
	}
	if out, code := d.berthIn(nil, "previews:set", "shop", "expire", "soon"); code != 1 || !strings.Contains(out, "Invalid expire") || strings.Count(strings.TrimSpace(out), "\n") != 0 {
		t.Errorf("previews:set bad duration: exit %d %q", code, out)
	}
	if out := d.mustBerth(t, "apps:destroy", "shop-feature-y", "--force"); !strings.Contains(out, "review-predestroy-ran") || !strings.Contains(out, "Preview shop-feature-y destroyed") {
		t.Errorf("apps:destroy of the preview app:\n%s", out)
	}
	for _, args := range [][]string{{"apps:exists", "shop-feature-y"}, {"postgres:exists", "shopdb-feature-y"}} {
		if out, code := d.berthIn(nil, args...); code == 0 {
			t.Errorf("%v after apps:destroy of the preview app: %s", args, out)
		}
	}
	if list := d.mustBerth(t, "previews:list", "shop"); strings.Contains(list, "feature-y") {
		t.Errorf("previews:list after apps:destroy of the preview app:\n%s", list)
	}
	if got := get("shop.preview.test", "/db"); got != "alice@example.com,bob@example.com" {
		t.Errorf("shop's /db at the end = %q", got)
	}
}

// TestPreviewHTTPS: the parent has Let's Encrypt, so its preview gets a
// certificate of its own (Pebble, a real ACME server on 127.0.0.1) for
// feature-x.shop.GLOBAL, and the push names its https:// URL. Destroying
// the parent destroys the preview.
func TestPreviewHTTPS(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d, acme := pebbleDaemon(t, eng)
	key := sshKey(t, t.TempDir(), "admin")
	d.mustBerth(t, "ssh-keys:add", "admin", key+".pub")
	_, port, _ := net.SplitHostPort(d.sshAddr)
	d.mustBerth(t, "domains:set-global", "preview.test")
	d.mustBerth(t, "config:set", "--no-restart", "--global", "DOKKU_LETSENCRYPT_EMAIL=me@example.com")
	d.mustBerth(t, "letsencrypt:set", "--global", "server", acme.Directory)
	d.mustBerth(t, "apps:create", "shop")
	d.mustBerth(t, "previews:enable", "shop")
	r := newRepo(t, key, port, map[string]string{"Dockerfile": dockerfile("v1"), "Procfile": "web: testapp web\n"})
	r.git("remote", "add", "berth", "ssh://berth@127.0.0.1:"+port+"/shop")
	r.git("push", "berth", "main")
	if out := d.mustBerth(t, "letsencrypt:enable", "shop"); !strings.Contains(out, "Certificate installed") {
		t.Fatalf("letsencrypt:enable shop:\n%s", out)
	}
	r.git("checkout", "-q", "-b", "feature-x")
	r.write(map[string]string{"Dockerfile": dockerfile("v2")})
	r.commit("v2")
	out := r.git("push", "berth", "feature-x")
	if !strings.Contains(out, "Enabling Let's Encrypt for shop-feature-x") || !strings.Contains(out, "Preview of shop's branch feature-x: https://feature-x.shop.preview.test") {
		t.Errorf("push feature-x:\n%s", out)
	}
	https := issuedClient(t, acme, d.proxyTLSAddr)
	resp, body := get(t, https, "https://feature-x.shop.preview.test/")
	if resp.StatusCode != 200 || !strings.HasPrefix(body, "version=v2") || !slices.Contains(resp.TLS.PeerCertificates[0].DNSNames, "feature-x.shop.preview.test") {
		t.Errorf("https://feature-x.shop.preview.test/: %d %q %v", resp.StatusCode, body, resp.TLS.PeerCertificates[0].DNSNames)
	}
	if resp, body := get(t, https, "https://shop.preview.test/"); resp.StatusCode != 200 || !strings.HasPrefix(body, "version=v1") {
		t.Errorf("https://shop.preview.test/: %d %q", resp.StatusCode, body)
	}
	// apps:destroy of the parent takes its previews first: none is left
	// an orphan that no push reaches.
	if out := d.mustBerth(t, "apps:destroy", "shop", "--force"); !strings.Contains(out, "Preview shop-feature-x destroyed") {
		t.Errorf("apps:destroy shop:\n%s", out)
	}
	if out, code := d.berthIn(nil, "apps:exists", "shop-feature-x"); code == 0 {
		t.Errorf("shop-feature-x outlived its parent: %s", out)
	}
}
