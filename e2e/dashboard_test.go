package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// requireChromium returns the path of Debian's chromium: a missing one
// fails the test when BERTH_REQUIRE_DOCKER=1 (CI), and skips it otherwise.
func requireChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("BERTH_REQUIRE_DOCKER") == "1" {
		t.Fatal("chromium is required for the dashboard's browser tests (BERTH_REQUIRE_DOCKER=1): apt-get install -y chromium")
	}
	t.Skip("no chromium (apt-get install -y chromium; set BERTH_REQUIRE_DOCKER=1 to fail instead)")
	return ""
}

// screenshotDir is where the browser tests save their screenshots:
// BERTH_SCREENSHOT_DIR, or the test's temporary directory.
func screenshotDir(t *testing.T) string {
	if d := os.Getenv("BERTH_SCREENSHOT_DIR"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// dashboardURL is the daemon's HTTP address (API and dashboard).
func dashboardURL(t *testing.T, d *daemon) string {
	listen := strings.TrimSpace(d.mustBerth(t, "dashboard:report", "--dashboard-listen"))
	if !strings.HasPrefix(listen, "127.0.0.1:") {
		t.Fatalf("dashboard:report listen = %q", listen)
	}
	return "http://" + listen
}

// TestDashboard drives the web dashboard in headless Chromium: log in
// with a token, the apps list, an app's page, scale, a config change
// (diff shown, then applied), a rollback, the live log stream, the events
// and settings pages; a screenshot of each.
func TestDashboard(t *testing.T) {
	t.Parallel()
	chromium := requireChromium(t)
	eng := requireDocker(t)
	d := deployDaemon(t, eng)
	d.mustBerth(t, "apps:create", "shop")
	d.mustBerth(t, "apps:create", "blog")
	d.mustBerth(t, "domains:add", "shop", "shop.test")
	for _, v := range []string{"v1", "v2"} {
		if out, code := d.deployTar(t, "shop", appTar(t, zdtApp(v, nil))); code != 0 {
			t.Fatalf("deploy shop %s: %d\n%s", v, code, out)
		}
	}
	admin := tokenSecret(t, d, "admin")
	base := dashboardURL(t, d)
	shots := screenshotDir(t)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium),
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1100, 900))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	ctx, cancelB := chromedp.NewContext(actx)
	defer cancelB()
	ctx, cancelT := context.WithTimeout(ctx, 4*time.Minute)
	defer cancelT()
	// Confirmations (rollback) are answered yes.
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	chromedp.ListenTarget(ctx, func(ev any) {
		if _, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			go chromedp.Run(ctx, page.HandleJavaScriptDialog(true))
		}
	})
	run := func(what string, actions ...chromedp.Action) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		if err := chromedp.Run(sctx, actions...); err != nil {
			var loc, html string
			dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			chromedp.Run(dctx, chromedp.Location(&loc), chromedp.OuterHTML("body", &html, chromedp.ByQuery))
			t.Fatalf("%s: %v\nthe browser is at %s:\n%s", what, err, loc, html)
		}
	}
	shot := func(name string) {
		t.Helper()
		var png []byte
		run("screenshot "+name, chromedp.FullScreenshot(&png, 100))
		if err := os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		var s string
		run("read "+sel, chromedp.Text(sel, &s, chromedp.ByQuery))
		return s
	}
	waitText := func(sel, want string) string {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			var s string
			chromedp.Run(ctx, chromedp.Text(sel, &s, chromedp.ByQuery))
			if strings.Contains(s, want) {
				return s
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never showed %q; it shows:\n%s", sel, want, s)
			}
			time.Sleep(300 * time.Millisecond)
		}
	}

	// Not logged in: the login page.
	var loc string
	run("open", chromedp.Navigate(base+"/apps/shop"), chromedp.WaitVisible("#secret", chromedp.ByID), chromedp.Location(&loc))
	if !strings.HasSuffix(loc, "/login") {
		t.Fatalf("without a session /apps/shop is %s, not the login page", loc)
	}
	shot("login")
	run("log in", chromedp.SendKeys("#secret", admin, chromedp.ByID), chromedp.Click("#login", chromedp.ByID),
		chromedp.WaitVisible("table.apps", chromedp.ByQuery))
	apps := text("table.apps")
	for _, want := range []string{"shop", "blog", "running", "not deployed", "http://shop.test"} {
		if !strings.Contains(apps, want) {
			t.Errorf("the apps list lacks %q:\n%s", want, apps)
		}
	}
	shot("apps")

	// The app's page.
	run("open shop", chromedp.Click(`a.app[href="/apps/shop"]`, chromedp.ByQuery), chromedp.WaitVisible("#processes", chromedp.ByID))
	if s := text("#releases"); !strings.Contains(s, "v2") || !strings.Contains(s, "live") || !strings.Contains(s, "Roll back to v1") {
		t.Errorf("the releases timeline:\n%s", s)
	}
	// Scale: a worker, whose heartbeats then reach the live log.
	run("scale", chromedp.SetValue(`input[name="scale_worker"]`, "1", chromedp.ByQuery), chromedp.Click("#scale", chromedp.ByID))
	waitText(".flash", "Scaled")
	var worker string
	run("worker count", chromedp.Value(`input[name="scale_worker"]`, &worker, chromedp.ByQuery))
	if worker != "1" {
		t.Errorf("after scaling the form shows worker %q", worker)
	}
	waitText("#processes", "running")
	run("reload", chromedp.Reload(), chromedp.WaitVisible("#log", chromedp.ByID))
	waitText("#log", "heartbeat")
	shot("app")

	// A config change: the diff first, then applied.
	run("edit config", chromedp.SetValue("#set", "GREETING=hello-dashboard", chromedp.ByID), chromedp.Click("#preview", chromedp.ByID),
		chromedp.WaitVisible("#diff", chromedp.ByID))
	if s := text("#diff"); !strings.Contains(s, "GREETING") || !strings.Contains(s, "added") {
		t.Errorf("the config diff:\n%s", s)
	}
	shot("config-diff")
	run("apply", chromedp.Click("#apply", chromedp.ByID))
	waitText(".flash", "Config updated")
	if got := strings.TrimSpace(d.mustBerth(t, "config:get", "shop", "GREETING")); got != "hello-dashboard" {
		t.Errorf("config:get shop GREETING = %q after the dashboard set it", got)
	}
	if s := text("#config"); strings.Contains(s, "hello-dashboard") || !strings.Contains(s, "GREETING") {
		t.Errorf("the environment shows a value, or not the key:\n%s", s)
	}

	// Roll back to v1 (the confirmation answered yes).
	run("roll back", chromedp.Click(`button.rollback[data-release="1"]`, chromedp.ByQuery))
	waitText(".flash", "Rolled back")
	if code, body := served(t, d, "shop.test", "/"); code != 200 || !strings.HasPrefix(body, "version=v1") {
		t.Errorf("after the rollback shop answers %d %q", code, body)
	}

	// Rebuild: the deploy log streams into the page.
	run("rebuild", chromedp.Click("#rebuild", chromedp.ByID))
	if s := waitText("#deploy-log", "[done]"); !strings.Contains(s, "----->") || strings.Contains(s, "! ") {
		t.Errorf("the rebuild's deploy log:\n%s", s)
	}
	shot("rebuild")

	// Events: the changes made here, by the token.
	run("events", chromedp.Navigate(base+"/events"), chromedp.WaitVisible("table.events", chromedp.ByQuery))
	ev := text("table.events")
	for _, want := range []string{"token:admin", "ps.scale", "config.update", "releases.rollback", "ps.rebuild"} {
		if !strings.Contains(ev, want) {
			t.Errorf("the events page lacks %q:\n%s", want, ev)
		}
	}
	if strings.Contains(ev, "hello-dashboard") {
		t.Errorf("the events page shows a config value")
	}
	shot("events")

	// Settings: a new token, its secret shown once.
	run("settings", chromedp.Navigate(base+"/settings"), chromedp.WaitVisible("#tname", chromedp.ByID),
		chromedp.SendKeys("#tname", "phone", chromedp.ByID), chromedp.SendKeys("#tapps", "shop", chromedp.ByID),
		chromedp.Submit("#tname", chromedp.ByID), chromedp.WaitVisible("#secret", chromedp.ByID))
	if s := text("#secret"); !strings.HasPrefix(s, "berth_") {
		t.Errorf("the new token's secret: %q", s)
	}
	shot("settings")
	if list := d.mustBerth(t, "tokens:list"); !strings.Contains(list, "phone") {
		t.Errorf("tokens:list lacks the token made in the dashboard:\n%s", list)
	}
	t.Logf("screenshots in %s", shots)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// TestDashboardAuth: without a session every page redirects to the login
// page and every POST is refused; a POST without the CSRF token is
// refused with a session; the password of dashboard:set logs in; failed
// logins are limited per address; a revoked token's session ends.
func TestDashboardAuth(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d := deployDaemon(t, eng)
	d.mustBerth(t, "apps:create", "shop")
	admin := tokenSecret(t, d, "admin")
	base := dashboardURL(t, d)
	noFollow := func(jar http.CookieJar) *http.Client {
		return &http.Client{Jar: jar, Timeout: time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	anon := noFollow(nil)
	for _, path := range []string{"/", "/apps/shop", "/events", "/settings", "/apps/nope", "/whatever", "/services", "/services/redis/x", "/apps/shop/deploys"} {
		resp, err := anon.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
			t.Errorf("GET %s without a session: %d %s", path, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	for _, path := range []string{"/apps/shop/scale", "/apps/shop/config/apply", "/apps/shop/rollback", "/settings/tokens", "/logout",
		"/services/redis/x/backup", "/services/redis/x/restore", "/services/redis/x/schedule", "/services/redis/x/unschedule",
		"/settings/notifications", "/settings/notifications/test", "/settings/notifications/remove", "/settings/keys", "/settings/keys/remove", "/apps/shop/checks"} {
		resp, err := anon.PostForm(base+path, url.Values{"scale_web": {"3"}, "set": {"X=1"}, "name": {"evil"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("POST %s without a session: %d", path, resp.StatusCode)
		}
	}

	// login logs a client in with secret and returns it and a page's CSRF
	// token; status is the login POST's.
	login := func(secret string) (*http.Client, int, string) {
		jar, _ := cookiejar.New(nil)
		c := noFollow(jar)
		resp, err := c.Get(base + "/login")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m := csrfField.FindSubmatch(b)
		if m == nil {
			t.Fatalf("the login page has no CSRF field:\n%s", b)
		}
		if !strings.Contains(resp.Header.Get("Set-Cookie"), "SameSite=Strict") || !strings.Contains(resp.Header.Get("Set-Cookie"), "HttpOnly") {
			t.Errorf("the login cookie: %s", resp.Header.Get("Set-Cookie"))
		}
		resp, err = c.PostForm(base+"/login", url.Values{"csrf": {string(m[1])}, "secret": {secret}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			return c, resp.StatusCode, ""
		}
		resp, err = c.Get(base + "/apps/shop")
		if err != nil {
			t.Fatal(err)
		}
		b, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		m = csrfField.FindSubmatch(b)
		if resp.StatusCode != 200 || m == nil {
			t.Fatalf("after logging in, /apps/shop: %d\n%s", resp.StatusCode, b)
		}
		return c, http.StatusSeeOther, string(m[1])
	}

	c, status, csrf := login(admin)
	if status != http.StatusSeeOther {
		t.Fatalf("login with a token: %d", status)
	}
	// Every page answers, fast (loopback).
	for _, path := range []string{"/", "/apps/shop", "/events", "/settings", "/services"} {
		start := time.Now()
		resp, err := c.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		took := time.Since(start)
		t.Logf("GET %s: %d in %v", path, resp.StatusCode, took)
		if resp.StatusCode != 200 || !strings.Contains(string(b), "shop") && path != "/settings" && path != "/services" {
			t.Errorf("GET %s logged in: %d\n%s", path, resp.StatusCode, b)
		}
	}
	// With a session, a POST without the CSRF token (or a wrong one) is
	// refused and changes nothing.
	for _, form := range []url.Values{{"set": {"STOLEN=1"}}, {"set": {"STOLEN=1"}, "csrf": {"wrong"}}} {
		resp, err := c.PostForm(base+"/apps/shop/config/apply", form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST config/apply with csrf %q: %d", form.Get("csrf"), resp.StatusCode)
		}
	}
	if out, _ := d.berth("config:get", "shop", "STOLEN"); strings.TrimSpace(out) != "" {
		t.Errorf("a CSRF-less POST changed config: STOLEN=%q", out)
	}
	// With it, the change is made.
	resp, err := c.PostForm(base+"/apps/shop/config/apply", url.Values{"csrf": {csrf}, "set": {"OK=1"}, "no_restart": {"1"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := strings.TrimSpace(d.mustBerth(t, "config:get", "shop", "OK")); resp.StatusCode != http.StatusSeeOther || got != "1" {
		t.Errorf("POST config/apply with the CSRF token: %d, OK=%q", resp.StatusCode, got)
	}
	// Logging out ends the session.
	resp, err = c.PostForm(base+"/logout", url.Values{"csrf": {csrf}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp, err = c.Get(base + "/"); err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Errorf("after logout /: %v %v", resp.StatusCode, err)
	}

	// A password: too short refused; set; logs in (as the dashboard's
	// admin); never printed nor in the audit log.
	if out, code := d.berth("dashboard:set", "password", "short"); code == 0 || !strings.Contains(out, "12 characters") {
		t.Errorf("a short password: %d %s", code, out)
	}
	out := d.mustBerth(t, "dashboard:set", "password", "correct-horse-battery")
	if strings.Contains(out, "correct-horse") {
		t.Errorf("dashboard:set password printed it: %s", out)
	}
	if _, status, _ := login("correct-horse-battery"); status != http.StatusSeeOther {
		t.Errorf("login with the password: %d", status)
	}
	if ev := d.mustBerth(t, "events", "--format", "json"); strings.Contains(ev, "correct-horse") || !strings.Contains(ev, "dashboard.password") {
		t.Errorf("the audit log of dashboard:set password:\n%s", ev)
	}

	// A revoked token's session ends at its next request.
	rc, status, _ := login(tokenSecret(t, d, "soon-gone"))
	if status != http.StatusSeeOther {
		t.Fatalf("login with soon-gone: %d", status)
	}
	d.mustBerth(t, "tokens:revoke", "soon-gone")
	if resp, err := rc.Get(base + "/"); err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Errorf("a revoked token's session: %v %v", resp.StatusCode, err)
	}

	// Behind the proxy at the dashboard's domain: the login page; its
	// cookie is Secure when the browser came over HTTPS (the proxy says so
	// in X-Forwarded-Proto), not over plain HTTP.
	d.mustBerth(t, "dashboard:set", "domain", "berth.dash.test")
	for _, tc := range []struct {
		url, host, proto string
		secure           bool
	}{{"http://" + d.proxyAddr + "/login", "berth.dash.test", "", false}, {base + "/login", "", "https", true}} {
		req, _ := http.NewRequest(http.MethodGet, tc.url, nil)
		if tc.host != "" {
			req.Host = tc.host
		}
		if tc.proto != "" {
			req.Header.Set("X-Forwarded-Proto", tc.proto)
		}
		resp, err := anon.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		ck := resp.Header.Get("Set-Cookie")
		if resp.StatusCode != 200 || !csrfField.Match(b) || strings.Contains(ck, "Secure") != tc.secure {
			t.Errorf("GET %s (Host %q, proto %q): %d, cookie %q", tc.url, tc.host, tc.proto, resp.StatusCode, ck)
		}
	}

	// Failed logins: ten, then 429 (from this address), even for a good
	// token.
	for i := 0; i < 10; i++ {
		if _, status, _ := login(fmt.Sprintf("berth_wrong%d", i)); status != http.StatusUnauthorized {
			t.Errorf("failed login %d: %d", i, status)
		}
	}
	if _, status, _ := login(admin); status != http.StatusTooManyRequests {
		t.Errorf("login after ten failures: %d, want 429", status)
	}
}

// TestDashboardFootprint measures issue 17's goals: the daemon's RSS with
// 20 apps and the dashboard open in a browser (the overview, then an
// app's page with its live log), under 60 MiB (asserted); a page's load
// time on loopback (the median of 20 loads of each page; goal 100 ms),
// logged, not asserted. Not parallel: the other tests' deploys would be
// what it measures.
func TestDashboardFootprint(t *testing.T) {
	chromium := requireChromium(t)
	eng := requireDocker(t)
	d := deployDaemon(t, eng)
	for i := 0; i < 20; i++ {
		d.mustBerth(t, "apps:create", fmt.Sprintf("app%02d", i))
	}
	if out, code := d.deployTar(t, "app00", appTar(t, zdtApp("v1", nil))); code != 0 {
		t.Fatalf("deploy app00: %d\n%s", code, out)
	}
	admin := tokenSecret(t, d, "admin")
	base := dashboardURL(t, d)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.DisableGPU)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	ctx, cancelB := chromedp.NewContext(actx)
	defer cancelB()
	ctx, cancelT := context.WithTimeout(ctx, 2*time.Minute)
	defer cancelT()
	var logText string
	if err := chromedp.Run(ctx, chromedp.Navigate(base+"/login"), chromedp.SendKeys("#secret", admin, chromedp.ByID),
		chromedp.Click("#login", chromedp.ByID), chromedp.WaitVisible("table.apps", chromedp.ByQuery),
		chromedp.Navigate(base+"/apps/app00"), chromedp.WaitVisible("#log", chromedp.ByID),
		chromedp.Evaluate(`document.getElementById("log").textContent`, &logText)); err != nil {
		t.Fatalf("browser: %v", err)
	}

	// The page loads, as a logged-in client (a session of its own).
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: time.Minute}
	resp, err := c.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfField.FindSubmatch(b)
	if m == nil {
		t.Fatal("no CSRF field on the login page")
	}
	if resp, err = c.PostForm(base+"/login", url.Values{"csrf": {string(m[1])}, "secret": {admin}}); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// median loads path 20 times and returns the median and the slowest.
	median := func(path string) (time.Duration, time.Duration) {
		var times []time.Duration
		for i := 0; i < 20; i++ {
			start := time.Now()
			resp, err := c.Get(base + path)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("GET %s: %d", path, resp.StatusCode)
			}
			times = append(times, time.Since(start))
		}
		slices.Sort(times)
		return times[10], times[19]
	}
	for _, path := range []string{"/", "/apps/app00", "/events", "/settings", "/services"} {
		// Measured and reported, not asserted: a time on a shared,
		// loaded test machine says little (the project's rule: no timed
		// tests). docs/dashboard.md keeps the figures.
		med, worst := median(path)
		over := ""
		if med > 100*time.Millisecond {
			over = " (over the 100 ms goal)"
		}
		t.Logf("GET %s: median %v, max %v (20 apps)%s", path, med.Round(100*time.Microsecond), worst.Round(100*time.Microsecond), over)
	}
	rss := procStatusKB(d.cmd.Process.Pid, "VmRSS")
	t.Logf("daemon RSS with 20 apps and the dashboard open (log tail streaming): %.1f MiB", float64(rss)/1024)
	if rss > 60*1024 {
		t.Errorf("daemon RSS %.1f MiB, over the 60 MiB goal", float64(rss)/1024)
	}
}
