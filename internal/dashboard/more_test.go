package dashboard

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestMorePages renders the services, service, settings and app pages'
// new parts from canned answers, and checks their forms' calls.
func TestMorePages(t *testing.T) {
	now := time.Now().UTC().Format(time.RFC3339)
	later := time.Now().Add(60 * 24 * time.Hour).UTC().Format(time.RFC3339)
	f := &fakeAPI{answers: map[string]string{
		"apps.list":                    `{"apps":[{"name":"shop"}]}`,
		"ps.report":                    `{"reports":[{"app":"shop","deployed":true,"release":2,"formation":{"web":1},"containers":[{"type":"web","index":1,"state":"running"}]}]}`,
		"releases.list":                `{"releases":[{"number":1,"status":"superseded","created_at":"` + now + `"},{"number":2,"status":"live","created_at":"` + now + `"}]}`,
		"releases.changes":             `{"releases":[{"number":2,"previous":1,"added":["NEWKEY"],"removed":["OLDKEY"],"changed":["CHANGEDKEY"],"deploy_ms":2500,"started_by":"a git push by key me"},{"number":1,"added":["A"]}]}`,
		"domains.report":               `{"reports":[{"app":"shop","app_enabled":true,"app_vhosts":["shop.test"]}]}`,
		"certs.info":                   `{"app":"shop","enabled":true,"source":"letsencrypt","hostnames":["shop.test"],"not_after":"` + later + `","verified":true}`,
		"letsencrypt.list":             `{"apps":[{"app":"shop","last_error":"urn:ietf:params:acme:error:dns: no such host","active":true}]}`,
		"properties.report":            `{"fields":[{"key":"disabled","value":""},{"key":"computed-wait-to-retire","value":"60"}]}`,
		"metrics.app":                  `{"releases":[{"release":2,"requests":42}],"points":[{"request_rate":1},{"request_rate":3}]}`,
		"services.list":                `{"services":[{"kind":"redis","name":"cache","status":"running","version":"7","dsn":"redis://:sekrit@x","links":["shop"],"backup":{"schedule":"@daily"}}]}`,
		"services.info":                `{"kind":"redis","name":"cache","status":"running","dsn":"redis://:sekrit@x","links":["shop"],"restores":[{"at":"` + now + `","via":"backup-restore","source":"/b/x.tgz","ok":true}]}`,
		"services.backup-schedule-cat": `{"schedule":"@daily","dir":"/b","keep":7}`,
		"services.backup-list":         `{"dir":"/b","files":[{"name":"redis-cache-1.tgz","path":"/b/redis-cache-1.tgz","size":2048,"time":"` + now + `"}]}`,
		"services.backup":              `{"name":"redis-cache-2.tgz","size":10}`,
		"services.backup-restore":      `{}`,
		"tokens.list":                  `{"tokens":[]}`,
		"notifications.list":           `{"targets":[{"name":"ops","url":"https://hooks.example/secret-path","format":"slack","events":[]}]}`,
		"notifications.test":           `{"status":200}`,
		"keys.list":                    `{"keys":[{"name":"me","fingerprint":"SHA256:abc","admin":true,"created_at":"` + now + `"}]}`,
	}}
	srv := httptest.NewServer(New(Config{API: f, Auth: fakeAuth{}}))
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	do := func(path string, form url.Values) (int, string) {
		var resp *http.Response
		var err error
		if form == nil {
			resp, err = c.Get(srv.URL + path)
		} else {
			resp, err = c.PostForm(srv.URL+path, form)
		}
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	_, login := do("/login", nil)
	do("/login", url.Values{"csrf": {csrfRE.FindStringSubmatch(login)[1]}, "secret": {"berth_good"}})

	status, body := do("/apps/shop", nil)
	for _, want := range []string{"+NEWKEY", "−OLDKEY", "~CHANGEDKEY", "deployed in 2.5 s", "by a git push by key me", "shop.test", "Last ACME error: urn:ietf", "days)", "computed-wait-to-retire", "42 requests", `id="log-search"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the app page (%d) lacks %q", status, want)
		}
	}
	csrf := csrfRE.FindStringSubmatch(body)[1]

	status, body = do("/services", nil)
	if status != 200 || !strings.Contains(body, `href="/services/redis/cache"`) || !strings.Contains(body, "@daily") || strings.Contains(body, "sekrit") {
		t.Errorf("the services page: %d\n%s", status, body)
	}
	status, body = do("/services/redis/cache", nil)
	if status != 200 || !strings.Contains(body, "redis-cache-1.tgz") || !strings.Contains(body, "2.0 KiB") || !strings.Contains(body, "data-confirm=\"Restore cache") || strings.Contains(body, "sekrit") {
		t.Errorf("the service page: %d\n%s", status, body)
	}
	if status, _ := do("/services/redis/cache/restore", url.Values{"file": {"/b/redis-cache-1.tgz"}}); status != 403 {
		t.Errorf("restore without CSRF: %d", status)
	}
	if status, body := do("/services/redis/cache/restore", url.Values{"csrf": {csrf}, "file": {"/b/redis-cache-1.tgz"}, "dir": {"/b"}}); status != 200 || !strings.Contains(body, "Restored cache from /b/redis-cache-1.tgz") {
		t.Errorf("restore: %d\n%s", status, body)
	}
	if status, body := do("/services/redis/cache/backup", url.Values{"csrf": {csrf}, "dir": {"/b"}}); status != 200 || !strings.Contains(body, "Backed up: redis-cache-2.tgz") {
		t.Errorf("backup now: %d\n%s", status, body)
	}
	status, body = do("/settings", nil)
	if status != 200 || !strings.Contains(body, "https://hooks.example/••••••") || strings.Contains(body, "secret-path") || !strings.Contains(body, "SHA256:abc") {
		t.Errorf("the settings page: %d\n%s", status, body)
	}
	if status, body := do("/settings/notifications/test", url.Values{"csrf": {csrf}, "name": {"ops"}}); status != 200 || !strings.Contains(body, "Test sent to ops: HTTP 200") {
		t.Errorf("test a notification: %d\n%s", status, body)
	}
	got := strings.Join(f.calls, "\n")
	for _, want := range []string{`services.backup-restore {"kind":"redis","name":"cache","file":"/b/redis-cache-1.tgz"}`, `services.backup {"kind":"redis","name":"cache","dir":"/b"}`, `notifications.test {"name":"ops"}`} {
		if !strings.Contains(got, want) {
			t.Errorf("no call %s in:\n%s", want, got)
		}
	}
}
