package e2e

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// browser is a logged-in headless Chromium for the dashboard's tests:
// confirmations answered yes, screenshots into a directory.
type browser struct {
	t     *testing.T
	ctx   context.Context
	base  string
	shots string
}

func newBrowser(t *testing.T, base, chromium string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium),
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1100, 900))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelA)
	ctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(cancelB)
	ctx, cancelT := context.WithTimeout(ctx, 8*time.Minute)
	t.Cleanup(cancelT)
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	chromedp.ListenTarget(ctx, func(ev any) {
		if _, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			go chromedp.Run(ctx, page.HandleJavaScriptDialog(true))
		}
	})
	return &browser{t: t, ctx: ctx, base: base, shots: screenshotDir(t)}
}

func (b *browser) run(what string, actions ...chromedp.Action) {
	b.t.Helper()
	sctx, cancel := context.WithTimeout(b.ctx, 90*time.Second)
	defer cancel()
	if err := chromedp.Run(sctx, actions...); err != nil {
		var loc, html string
		dctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
		defer cancel()
		chromedp.Run(dctx, chromedp.Location(&loc), chromedp.OuterHTML("body", &html, chromedp.ByQuery))
		b.t.Fatalf("%s: %v\nthe browser is at %s:\n%s", what, err, loc, html)
	}
}

// open loads a page and logs how long it took (issue 17's goal: under
// 100 ms on loopback; logged, not asserted).
func (b *browser) open(path, waitFor string) {
	b.t.Helper()
	start := time.Now()
	b.run("open "+path, chromedp.Navigate(b.base+path), chromedp.WaitVisible(waitFor, chromedp.ByQuery))
	b.t.Logf("browser: %s loaded in %v", path, time.Since(start).Round(time.Millisecond))
}

func (b *browser) shot(name string) {
	b.t.Helper()
	var png []byte
	b.run("screenshot "+name, chromedp.FullScreenshot(&png, 100))
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	var s string
	b.run("read "+sel, chromedp.Text(sel, &s, chromedp.ByQuery))
	return s
}

// waitText waits until sel's text contains want.
func (b *browser) waitText(sel, want string, within time.Duration) string {
	b.t.Helper()
	deadline := time.Now().Add(within)
	for {
		var s string
		chromedp.Run(b.ctx, chromedp.Text(sel, &s, chromedp.ByQuery))
		if strings.Contains(s, want) {
			return s
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("%s never showed %q; it shows:\n%s", sel, want, s)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func (b *browser) login(secret string) {
	b.t.Helper()
	b.run("log in", chromedp.Navigate(b.base+"/login"), chromedp.WaitVisible("#secret", chromedp.ByID),
		chromedp.SendKeys("#secret", secret, chromedp.ByID), chromedp.Click("#login", chromedp.ByID),
		chromedp.WaitVisible("main h1", chromedp.ByQuery))
}

var servedCount = regexp.MustCompile(`(\d+) requests`)

// TestDashboardMore drives the rest of issue 17's dashboard in headless
// Chromium: a deploy from a real git push watched live on the app page;
// the releases' config diff and deploy time; a metric moving as requests
// go through the proxy; the log search; running the checks; the services
// page (back up now, restore with a confirmation, a schedule); the
// settings page (a notification target added and tested). A screenshot
// of each page.
func TestDashboardMore(t *testing.T) {
	t.Parallel()
	chromium := requireChromium(t)
	eng := requireDocker(t)
	d := serviceDaemon(t, eng, "BERTH_METRICS_INTERVAL=1s", "BERTH_STATS_INTERVAL=1s")
	key := sshKey(t, t.TempDir(), "admin")
	d.mustBerth(t, "ssh-keys:add", "admin", key+".pub")
	_, port, _ := net.SplitHostPort(d.sshAddr)
	d.mustBerth(t, "apps:create", "shop")
	d.mustBerth(t, "domains:set", "shop", "shop.test")
	d.mustBerth(t, "redis:create", "cache")
	d.mustBerth(t, "redis:link", "cache", "shop")
	d.dataRedis(t, "cache", "set greeting from-the-backup\n")
	admin := tokenSecret(t, d, "admin")
	b := newBrowser(t, dashboardURL(t, d), chromium)
	b.login(admin)

	// A git push, watched on the app's page as it runs.
	b.open("/apps/shop", "#deploy-watch")
	time.Sleep(time.Second) // the page's EventSource is waiting for a deploy
	r := newRepo(t, key, port, map[string]string{"Dockerfile": dockerfile("v1"), "Procfile": procfile, "DOKKU_SCALE": "web=1\nworker=1\n"})
	r.git("remote", "add", "berth", "ssh://berth@127.0.0.1:"+port+"/shop")
	pushed := make(chan string, 1)
	go func() { out, _ := r.try("push", "berth", "main"); pushed <- out }()
	b.waitText("#deploy-watch", "Building shop", 3*time.Minute)
	watched := b.waitText("#deploy-watch", "[deploy finished: git.push-deploy]", 3*time.Minute)
	b.shot("deploy-live")
	out := <-pushed
	if !strings.Contains(out, "Application deployed: shop release 1") || !strings.Contains(watched, "Application deployed: shop release 1") {
		t.Errorf("the push:\n%s\nthe page watched:\n%s", out, watched)
	}

	// A second push after a config change: the timeline shows the keys
	// the release changed and how long its deploy took.
	d.mustBerth(t, "config:set", "--no-restart", "shop", "GREETING=hello")
	r.write(map[string]string{"Dockerfile": dockerfile("v2")})
	r.commit("v2")
	if out, code := r.try("push", "berth", "main"); code != 0 {
		t.Fatalf("second push: %d\n%s", code, out)
	}
	b.open("/apps/shop", "#processes")
	rel := b.text("#releases")
	for _, want := range []string{"v2", "+GREETING", "deployed in", "+REDIS_URL"} {
		if !strings.Contains(rel, want) {
			t.Errorf("the releases timeline lacks %q:\n%s", want, rel)
		}
	}
	if strings.Contains(rel, "hello") {
		t.Errorf("the timeline shows a config value:\n%s", rel)
	}
	if s := b.text("#domains"); !strings.Contains(s, "shop.test") || !strings.Contains(s, "No certificate") {
		t.Errorf("the domains section:\n%s", s)
	}

	// A metric moves: requests through the proxy raise the count.
	before := 0
	if m := servedCount.FindStringSubmatch(b.text("#served")); m != nil {
		before, _ = strconv.Atoi(m[1])
	}
	for range 25 {
		if code, _ := served(t, d, "shop.test", "/"); code != 200 {
			t.Fatalf("GET shop.test/: %d", code)
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		b.run("reload", chromedp.Reload(), chromedp.WaitVisible("#served", chromedp.ByID))
		s := b.text("#served")
		if m := servedCount.FindStringSubmatch(s); m != nil {
			if n, _ := strconv.Atoi(m[1]); n >= before+25 {
				t.Logf("requests served: %d before, %d after", before, n)
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the request count never moved from %d: %q", before, s)
		}
		time.Sleep(time.Second)
	}
	var spark int
	b.run("sparkline", chromedp.Evaluate(`document.querySelectorAll("#metrics svg.spark.req polyline").length`, &spark))
	if spark == 0 {
		t.Errorf("no request sparkline on the app page")
	}

	// The log search: only the matching lines.
	b.waitText("#log", "heartbeat", 60*time.Second)
	b.run("search", chromedp.SendKeys("#log-search", "worker.1", chromedp.ByID))
	time.Sleep(500 * time.Millisecond)
	lines := strings.Split(strings.TrimSpace(b.text("#log")), "\n")
	for _, l := range lines {
		if !strings.Contains(l, "worker.1") {
			t.Errorf("the log search for worker.1 shows %q", l)
			break
		}
	}
	// The checks, run from the page.
	b.run("run checks", chromedp.Click("#run-checks", chromedp.ByID))
	if s := b.waitText("#checks-log", "[done]", 2*time.Minute); strings.Contains(s, "! ") {
		t.Errorf("checks:run from the page:\n%s", s)
	}
	b.shot("app-more")

	// Services: back up now, change the data, restore (confirmed).
	dir := t.TempDir()
	b.open("/services", "table.services")
	if s := b.text("table.services"); !strings.Contains(s, "cache") || !strings.Contains(s, "shop") {
		t.Errorf("the services page:\n%s", s)
	}
	b.shot("services")
	b.run("open cache", chromedp.Click(`a.service[href="/services/redis/cache"]`, chromedp.ByQuery), chromedp.WaitVisible("#backups", chromedp.ByID))
	b.run("back up", chromedp.SetValue("#bdir", dir, chromedp.ByID), chromedp.Click("#backup-now", chromedp.ByID))
	b.waitText(".flash", "Backed up", time.Minute)
	if s := b.text("#backups"); !strings.Contains(s, "redis-cache") {
		t.Errorf("the backups list after a backup:\n%s", s)
	}
	d.dataRedis(t, "cache", "set greeting overwritten\n")
	b.run("restore", chromedp.Click("button.restore", chromedp.ByQuery))
	b.waitText(".flash", "Restored cache from", 2*time.Minute)
	if got := d.dataRedis(t, "cache", "get greeting\n"); got != "from-the-backup" {
		t.Errorf("after the restore from the dashboard greeting = %q", got)
	}
	if s := b.text("#restores"); !strings.Contains(s, "backup-restore") || !strings.Contains(s, "ok") {
		t.Errorf("the restores list:\n%s", s)
	}
	b.run("schedule", chromedp.SetValue("#sspec", "@daily", chromedp.ByID), chromedp.SetValue("#sdir", dir, chromedp.ByID),
		chromedp.Click("#set-schedule", chromedp.ByID))
	b.waitText(".flash", "Backups scheduled", time.Minute)
	if s := b.text("#current-schedule"); !strings.Contains(s, "@daily") || !strings.Contains(s, dir) {
		t.Errorf("the schedule shown: %q", s)
	}
	b.shot("service")
	b.run("unschedule", chromedp.Click("#unschedule", chromedp.ByID))
	b.waitText(".flash", "Backup schedule removed", time.Minute)
	if s := b.text("#schedule"); !strings.Contains(s, "Not scheduled") {
		t.Errorf("after unscheduling:\n%s", s)
	}

	// Settings: a webhook target on this machine, added and tested.
	var hooks atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		hooks.Add(1)
	}))
	defer hook.Close()
	b.open("/settings", "#notifications")
	b.run("add a target", chromedp.SendKeys("#nname", "ops", chromedp.ByID), chromedp.SendKeys("#nurl", hook.URL+"/secret-path", chromedp.ByID),
		chromedp.Click("#add-notification", chromedp.ByID))
	b.waitText(".flash", "Added notification target ops", time.Minute)
	b.run("test it", chromedp.Click(`button.test-notification[data-name="ops"]`, chromedp.ByQuery))
	b.waitText(".flash", "Test sent to ops: HTTP 200", time.Minute)
	if hooks.Load() == 0 {
		t.Errorf("the test notification never reached the webhook")
	}
	s := b.text("#notifications")
	if strings.Contains(s, "secret-path") || !strings.Contains(s, "ops") {
		t.Errorf("the notifications list:\n%s", s)
	}
	if s := b.text("#keys"); !strings.Contains(s, "admin") || !strings.Contains(s, "SHA256:") {
		t.Errorf("the ssh keys list:\n%s", s)
	}
	b.shot("settings-more")
	if list := d.mustBerth(t, "notifications:list"); !strings.Contains(list, "ops") {
		t.Errorf("notifications:list lacks the target made in the dashboard:\n%s", list)
	}
	// An ssh key for one app, added and removed (confirmed); the target
	// removed.
	pub, err := os.ReadFile(sshKey(t, t.TempDir(), "laptop") + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	b.run("add a key", chromedp.SendKeys("#kname", "laptop", chromedp.ByID), chromedp.SetValue("#kkey", strings.TrimSpace(string(pub)), chromedp.ByID),
		chromedp.SendKeys("#kapps", "shop", chromedp.ByID), chromedp.Click("#add-key", chromedp.ByID))
	b.waitText(".flash", "Added ssh key laptop", time.Minute)
	if list := d.mustBerth(t, "ssh-keys:list"); !strings.Contains(list, "laptop") {
		t.Errorf("ssh-keys:list lacks the key added in the dashboard:\n%s", list)
	}
	b.run("remove the key", chromedp.Click(`#keys form[data-confirm^="Remove ssh key laptop"] button`, chromedp.ByQuery))
	b.waitText(".flash", "Removed ssh key laptop", time.Minute)
	b.run("remove the target", chromedp.Click(`#notifications form[data-confirm^="Remove notification target ops"] button`, chromedp.ByQuery))
	b.waitText(".flash", "Removed notification target ops", time.Minute)
	if list := d.mustBerth(t, "ssh-keys:list") + d.mustBerth(t, "notifications:list"); strings.Contains(list, "laptop") || strings.Contains(list, "ops") {
		t.Errorf("after removing them in the dashboard:\n%s", list)
	}
	logPageTimes(t, b.base, admin, "/", "/apps/shop", "/services", "/services/redis/cache", "/events", "/settings")
	t.Logf("screenshots in %s", b.shots)
}

// logPageTimes logs in with a client of its own and logs the median and
// slowest of 10 loads of each page (issue 17's goal: under 100 ms on
// loopback; logged, not asserted: no timed tests).
func logPageTimes(t *testing.T, base, secret string, paths ...string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: time.Minute}
	resp, err := c.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfField.FindSubmatch(page)
	if m == nil {
		t.Fatal("no CSRF field on the login page")
	}
	if resp, err = c.PostForm(base+"/login", url.Values{"csrf": {string(m[1])}, "secret": {secret}}); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, path := range paths {
		var times []time.Duration
		for range 10 {
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
		t.Logf("GET %s: median %v, max %v", path, times[5].Round(100*time.Microsecond), times[9].Round(100*time.Microsecond))
	}
}
