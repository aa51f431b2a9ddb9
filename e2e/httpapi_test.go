package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// apiCall is one request to the HTTP API.
type apiCall struct {
	method, url, token, body, accept, host string
}

func (c apiCall) do(t *testing.T) (int, string) {
	t.Helper()
	method := c.method
	if method == "" {
		method = http.MethodPost
	}
	req, err := http.NewRequest(method, c.url, strings.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.accept != "" {
		req.Header.Set("Accept", c.accept)
	}
	if c.host != "" {
		req.Host = c.host
	}
	resp, err := (&http.Client{Timeout: 2 * time.Minute}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, c.url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// tokenSecret creates a token with the CLI and returns its secret (the
// last line it prints).
func tokenSecret(t *testing.T, d *daemon, args ...string) string {
	t.Helper()
	out := d.mustBerth(t, append([]string{"tokens:create"}, args...)...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	secret := lines[len(lines)-1]
	if !strings.HasPrefix(secret, "berth_") {
		t.Fatalf("tokens:create %v printed no secret:\n%s", args, out)
	}
	return secret
}

// TestHTTPAPI is issue 17's HTTP API through the real binary: tokens made
// with the CLI, every access rule over HTTP on loopback, a streamed
// operation as server-sent events, the audit log, and the API at its
// domain through Berth's proxy.
func TestHTTPAPI(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d := deployDaemon(t, eng)
	d.mustBerth(t, "apps:create", "shop")
	d.mustBerth(t, "apps:create", "blog")
	if out, code := d.deployTar(t, "shop", appTar(t, zdtApp("v1", nil))); code != 0 {
		t.Fatalf("deploy shop: %d\n%s", code, out)
	}
	listen := strings.TrimSpace(d.mustBerth(t, "dashboard:report", "--dashboard-listen"))
	if !strings.HasPrefix(listen, "127.0.0.1:") {
		t.Fatalf("dashboard:report listen = %q", listen)
	}
	base := "http://" + listen + "/api/v1/"
	op := func(name string) string { return base + "ops/" + name }

	admin := tokenSecret(t, d, "admin")
	ci := tokenSecret(t, d, "ci", "--apps", "shop")
	watcher := tokenSecret(t, d, "watcher", "--read-only")
	if out, code := d.berth("tokens:create", "ci"); code == 0 || !strings.Contains(out, "A token named ci already exists") {
		t.Errorf("a second token named ci: exit %d\n%s", code, out)
	}

	for _, tc := range []struct {
		name   string
		call   apiCall
		status int
		has    string
	}{
		// No token: refused everywhere, the OpenAPI file included.
		{"no token, apps.list", apiCall{url: op("apps.list")}, 401, `"code":"unauthorized"`},
		{"no token, config.get", apiCall{url: op("config.get"), body: `{"app":"shop"}`}, 401, "an API token is needed"},
		{"no token, openapi", apiCall{method: "GET", url: base + "openapi.json"}, 401, "an API token is needed"},
		{"wrong token", apiCall{url: op("apps.list"), token: "berth_nope"}, 401, "unknown or revoked API token"},
		// Admin: everything.
		{"admin apps.list", apiCall{url: op("apps.list"), token: admin}, 200, `"name":"blog"`},
		{"admin config.update", apiCall{url: op("config.update"), token: admin, body: `{"app":"blog","set":{"SECRET_KEY":"hunter2-value"},"no_restart":true}`}, 200, `"result":{`},
		{"admin openapi", apiCall{method: "GET", url: base + "openapi.json", token: admin}, 200, `"/api/v1/ops/config.update"`},
		{"admin apps.destroy of a missing app", apiCall{url: op("apps.destroy"), token: admin, body: `{"app":"gone"}`}, 404, `"code":"app_not_found"`},
		// Scoped to shop: shop only, one app at a time, no admin ops.
		{"ci config.get shop", apiCall{url: op("config.get"), token: ci, body: `{"app":"shop"}`}, 200, `"vars"`},
		{"ci config.update shop", apiCall{url: op("config.update"), token: ci, body: `{"app":"shop","set":{"GREETING":"hi"},"no_restart":true}`}, 200, `"result"`},
		{"ci config.get blog", apiCall{url: op("config.get"), token: ci, body: `{"app":"blog"}`}, 403, "token ci may only use the commands of apps shop, not app blog"},
		{"ci config --global", apiCall{url: op("config.get"), token: ci, body: `{"global":true}`}, 403, "not --global"},
		{"ci apps.destroy shop", apiCall{url: op("apps.destroy"), token: ci, body: `{"app":"shop"}`}, 403, "not apps.destroy"},
		{"ci tokens.list", apiCall{url: op("tokens.list"), token: ci}, 403, "not tokens.list"},
		// Read-only: reads on every app, no change.
		{"watcher config.get blog", apiCall{url: op("config.get"), token: watcher, body: `{"app":"blog"}`}, 200, `"SECRET_KEY":"hunter2-value"`},
		{"watcher ps.report", apiCall{url: op("ps.report"), token: watcher, body: `{"app":"shop"}`}, 200, `"result"`},
		{"watcher config.update", apiCall{url: op("config.update"), token: watcher, body: `{"app":"blog","set":{"X":"1"}}`}, 403, "token watcher is read-only and config.update changes something"},
		{"watcher ps.restart", apiCall{url: op("ps.restart"), token: watcher, body: `{"app":"shop"}`}, 403, "read-only"},
	} {
		status, body := tc.call.do(t)
		if status != tc.status || !strings.Contains(body, tc.has) {
			t.Errorf("%s: %d %s\nwant %d with %q", tc.name, status, body, tc.status, tc.has)
		}
	}
	// A scoped token's apps.list shows its own apps only.
	if _, body := (apiCall{url: op("apps.list"), token: ci}).do(t); !strings.Contains(body, `"name":"shop"`) || strings.Contains(body, "blog") {
		t.Errorf("ci's apps.list: %s", body)
	}

	// A streamed operation: ps.restart's output as server-sent events,
	// then its result.
	status, stream := apiCall{url: op("ps.restart"), token: ci, body: `{"app":"shop"}`, accept: "text/event-stream"}.do(t)
	out, result := strings.Index(stream, "event: stdout\ndata: "), strings.Index(stream, "event: result\ndata: ")
	if status != 200 || out < 0 || result < out || strings.Contains(stream, "event: error") {
		t.Errorf("ps.restart as events: %d\n%s", status, stream)
	}
	// logs -t as events: the web process's lines arrive while the stream
	// stays open; closing it ends the tail.
	followLogs(t, op("logs"), ci, `{"app":"shop","follow":true}`, "listening on")
	// A refusal in a stream is an error event.
	if _, s := (apiCall{url: op("ps.restart"), token: ci, body: `{"app":"blog"}`, accept: "text/event-stream"}).do(t); !strings.Contains(s, "event: error\ndata: {\"code\":\"forbidden\"") {
		t.Errorf("a refused stream: %s", s)
	}

	// The audit log: the changes, who made them, secrets masked; no reads.
	var events []struct {
		Who, Op, App string
		Args         json.RawMessage
		OK           bool
	}
	if err := json.Unmarshal([]byte(d.mustBerth(t, "events", "--format", "json")), &events); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range events {
		seen[e.Who+" "+e.Op+" "+e.App] = true
		if strings.Contains(string(e.Args), "hunter2") {
			t.Errorf("a config value in the audit log: %s", e.Args)
		}
		if e.Op == "config.get" || e.Op == "apps.list" {
			t.Errorf("a read in the audit log: %+v", e)
		}
	}
	for _, want := range []string{"root apps.create shop", "root apps.create blog", "root git.from-archive shop", "token:admin config.update blog",
		"token:ci config.update shop", "token:ci ps.restart shop", "token:admin apps.destroy gone", "root tokens.create "} {
		if !seen[want] {
			t.Errorf("events lack %q: %v", want, seen)
		}
	}
	table := d.mustBerth(t, "events", "--app", "shop", "--limit", "3")
	if !strings.Contains(table, "token:ci") || strings.Contains(table, "blog") || strings.Count(strings.TrimSpace(table), "\n") != 3 {
		t.Errorf("events --app shop --limit 3:\n%s", table)
	}

	// tokens:list: scope, read-only, last use, never a secret.
	list := d.mustBerth(t, "tokens:list")
	mustContain(t, "tokens:list", list, "NAME", "LAST USED", "admin", "watcher")
	if strings.Contains(list, "berth_") || !strings.Contains(list, "shop") {
		t.Errorf("tokens:list:\n%s", list)
	}
	// A revoked token is refused.
	d.mustBerth(t, "tokens:revoke", "ci")
	if status, _ := (apiCall{url: op("config.get"), token: ci, body: `{"app":"shop"}`}).do(t); status != 401 {
		t.Errorf("a revoked token: %d", status)
	}

	// dashboard:set domain: the proxy serves the API at that domain.
	d.mustBerth(t, "dashboard:set", "domain", "berth.api.test")
	viaProxy := "http://" + d.proxyAddr + "/api/v1/"
	if status, body := (apiCall{url: viaProxy + "ops/apps.list", token: admin, host: "berth.api.test"}).do(t); status != 200 || !strings.Contains(body, `"name":"shop"`) {
		t.Errorf("the API through the proxy: %d %s", status, body)
	}
	if status, _ := (apiCall{url: viaProxy + "ops/apps.list", host: "berth.api.test"}).do(t); status != 401 {
		t.Errorf("the API through the proxy without a token: %d", status)
	}
	report := d.mustBerth(t, "dashboard:report")
	mustContain(t, "dashboard:report", report, "berth.api.test", "http://berth.api.test:")
	// A new daemon (its API on another port) routes the domain again.
	if err := d.stop(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	d, err := startDaemon(d.dataDir, d.extraEnv...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.stop(syscall.SIGKILL); d.logTailIfFailed(t, "second daemon") })
	if status, _ := (apiCall{url: viaProxy + "ops/apps.list", token: admin, host: "berth.api.test"}).do(t); status != 200 {
		t.Errorf("the API through the proxy after a restart of the daemon: %d", status)
	}
	d.mustBerth(t, "dashboard:set", "domain")
	if status, _ := (apiCall{url: viaProxy + "ops/apps.list", token: admin, host: "berth.api.test"}).do(t); status == 200 {
		t.Errorf("the API still served at its domain after dashboard:set domain (unset)")
	}
}

// TestHTTPAPIDashboardHTTPS: dashboard:set letsencrypt true gets the API's
// domain a certificate through the apps' ACME path (Pebble here), and the
// proxy serves the API over HTTPS there, HTTP redirecting.
func TestHTTPAPIDashboardHTTPS(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d, acme := pebbleDaemon(t, eng)
	admin := tokenSecret(t, d, "admin")
	d.mustBerth(t, "dashboard:set", "domain", "dash.test")
	if out, code := d.berth("dashboard:set", "letsencrypt", "true"); code != 1 || !strings.Contains(out, "without an e-mail address") {
		t.Errorf("letsencrypt without an e-mail: %d %s", code, out)
	}
	d.mustBerth(t, "letsencrypt:set", "--global", "email", "me@example.com")
	d.mustBerth(t, "letsencrypt:set", "--global", "server", acme.Directory)
	out := d.mustBerth(t, "dashboard:set", "letsencrypt", "true")
	mustContain(t, "dashboard:set letsencrypt true", out, "Getting a certificate for dash.test", "Certificate installed")

	https := issuedClient(t, acme, d.proxyTLSAddr)
	req, _ := http.NewRequest("GET", "https://dash.test/api/v1/token", nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err := https.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"name":"admin"`) || !slices.Contains(resp.TLS.PeerCertificates[0].DNSNames, "dash.test") {
		t.Errorf("https://dash.test/api/v1/token: %d %s", resp.StatusCode, b)
	}
	if resp, _ := get(t, issuedClient(t, acme, d.proxyAddr), "http://dash.test/api/v1/token"); resp.StatusCode != 301 || !strings.HasPrefix(resp.Header.Get("Location"), "https://dash.test") {
		t.Errorf("http://dash.test/: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	_, tlsPort, _ := net.SplitHostPort(d.proxyTLSAddr)
	report := d.mustBerth(t, "dashboard:report", "--format", "json")
	for _, want := range []string{`"tls":"true"`, `"letsencrypt":"true"`, `"url":"https://dash.test:` + tlsPort + `"`} {
		if !strings.Contains(report, want) {
			t.Errorf("dashboard:report lacks %s: %s", want, report)
		}
	}
}

// TestAuditLogNamesKeys: changes over ssh and by git push are recorded as
// the key's; a key limited to apps reads its apps' events only.
func TestAuditLogNamesKeys(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d, _, port := sshDaemon(t, eng)
	dev := sshKey(t, t.TempDir(), "dev")
	d.mustBerth(t, "ssh-keys:add", "--apps", "shop", "dev", dev+".pub")
	d.mustBerth(t, "apps:create", "shop")
	if out, code := sshRun(t, dev, "berth", d.sshAddr, nil, "config:set", "--no-restart", "shop", "API_KEY=sekrit"); code != 0 {
		t.Fatalf("config:set over ssh: %d %s", code, out)
	}
	r := newRepo(t, dev, port, map[string]string{"Dockerfile": dockerfile("v1"), "Procfile": "web: testapp web\n"})
	r.git("remote", "add", "shop", "berth@127.0.0.1:shop")
	if out, code := r.try("push", "shop", "main"); code != 0 {
		t.Fatalf("push: %d\n%s", code, out)
	}
	var events []struct{ Who, Op, App string }
	decodeJSON(t, d.mustBerth(t, "events", "--format", "json"), &events)
	seen := map[string]bool{}
	for _, e := range events {
		seen[e.Who+" "+e.Op+" "+e.App] = true
	}
	for _, want := range []string{"root keys.add ", "root apps.create shop", "key:dev config.update shop", "key:dev git.push-deploy shop"} {
		if !seen[want] {
			t.Errorf("events lack %q: %v", want, seen)
		}
	}
	if out := d.mustBerth(t, "events"); strings.Contains(out, "sekrit") {
		t.Errorf("a config value in the audit log:\n%s", out)
	}
	if out, code := sshRun(t, dev, "berth", d.sshAddr, nil, "events"); code == 0 || !strings.Contains(out, "Permission denied") {
		t.Errorf("events of every app by a limited key: %d %s", code, out)
	}
	if out, code := sshRun(t, dev, "berth", d.sshAddr, nil, "events", "--app", "shop"); code != 0 || !strings.Contains(out, "key:dev") {
		t.Errorf("events --app shop by its key: %d %s", code, out)
	}
}

// followLogs follows a logs stream over server-sent events until a stdout
// event holds want, then closes it.
func followLogs(t *testing.T, url, token, body, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("logs stream: %v", err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "text/event-stream" {
		t.Fatalf("logs stream: %d %s", resp.StatusCode, ct)
	}
	sc := bufio.NewScanner(resp.Body)
	event := ""
	for sc.Scan() {
		line := sc.Text()
		if e, ok := strings.CutPrefix(line, "event: "); ok {
			event = e
		}
		if event == "stdout" && strings.HasPrefix(line, "data: ") && strings.Contains(line, want) {
			return
		}
		if event == "result" || event == "error" {
			t.Fatalf("logs stream ended (%s) before %q: %s", event, want, line)
		}
	}
	t.Fatalf("logs stream: no stdout event with %q (%v)", want, sc.Err())
}

// TestHTTPAPIFailedAuthLimited: after ten failed authentications from one
// address, even a good token is refused with 429 for a while.
func TestHTTPAPIFailedAuthLimited(t *testing.T) {
	t.Parallel()
	d := instanceDaemon(t, nil, shortTempDir(t))
	admin := tokenSecret(t, d, "admin")
	url := "http://" + strings.TrimSpace(d.mustBerth(t, "dashboard:report", "--dashboard-listen")) + "/api/v1/ops/apps.list"
	if status, _ := (apiCall{url: url, token: admin}).do(t); status != 200 {
		t.Fatalf("admin token: %d", status)
	}
	for i := 0; i < 10; i++ {
		if status, _ := (apiCall{url: url, token: "berth_guess" + fmt.Sprint(i)}).do(t); status != 401 {
			t.Fatalf("failure %d: %d", i, status)
		}
	}
	if status, body := (apiCall{url: url, token: admin}).do(t); status != 429 || !strings.Contains(body, `"code":"rate_limited"`) {
		t.Errorf("after ten failures: %d %s", status, body)
	}
}
