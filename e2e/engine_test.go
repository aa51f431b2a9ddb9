package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// engineDaemon is a daemon on a private engine (DOCKER_HOST), with the
// short checks of deployDaemon. The private engine's cleanup removes what
// the daemon made there.
func engineDaemon(t *testing.T, pe *privateEngine) *daemon {
	t.Helper()
	d := instanceDaemon(t, nil, shortTempDir(t), "DOCKER_HOST="+pe.host)
	d.mustBerth(t, "checks:set", "--global", "default-uptime-seconds", "1")
	d.mustBerth(t, "checks:set", "--global", "wait-to-retire", "0")
	return d
}

// appProbe sends steady requests through the proxy to each app's host and
// sorts the answers: the app's own body, another app's body (never
// allowed), 503 pages, other statuses and connection errors.
type appProbe struct {
	want map[string]string // host -> marker of its app's body ("version=alpha ")
	stop chan struct{}
	wg   sync.WaitGroup

	mu     sync.Mutex
	counts map[string]int    // "host ok", "host 503", "host 502", "host err"
	last   map[string]string // host -> class of the last answer
	wrong  []string          // "host got BODY"
	// changes are the times a host's answers changed class, for the log.
	changes []string
}

func startProbe(addr string, want map[string]string) *appProbe {
	p := &appProbe{want: want, stop: make(chan struct{}), counts: map[string]int{}, last: map[string]string{}}
	client := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{
		DialContext:       dialTo(addr),
		DisableKeepAlives: true, // each request finds the current route's target
	}, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for host := range want {
		p.wg.Go(func() {
			for {
				select {
				case <-p.stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
				p.record(host, p.one(client, host))
			}
		})
	}
	return p
}

// one sends a request and classifies its answer.
func (p *appProbe) one(client *http.Client, host string) string {
	resp, err := client.Get("http://" + host + "/")
	if err != nil {
		return "err"
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for h, marker := range p.want {
		if h != host && strings.Contains(string(body), marker) {
			return "wrong " + strconv.Quote(string(body))
		}
	}
	if resp.StatusCode == 200 && strings.Contains(string(body), p.want[host]) {
		return "ok"
	}
	if resp.StatusCode == 503 && !strings.Contains(string(body), "no running web process") {
		return "503-unclear " + strconv.Quote(string(body))
	}
	return strconv.Itoa(resp.StatusCode)
}

func (p *appProbe) record(host, class string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if strings.HasPrefix(class, "wrong ") || strings.HasPrefix(class, "503-unclear ") {
		p.wrong = append(p.wrong, host+": "+class)
		class = strings.Fields(class)[0]
	}
	p.counts[host+" "+class]++
	if p.last[host] != class {
		p.changes = append(p.changes, fmt.Sprintf("%s %s %s", time.Now().Format("15:04:05.000"), host, class))
	}
	p.last[host] = class
}

// count is how many answers of a class came for host.
func (p *appProbe) count(host, class string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts[host+" "+class]
}

// allOK reports whether every host's last answer was its own app's body.
func (p *appProbe) allOK() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for host := range p.want {
		if p.last[host] != "ok" {
			return false
		}
	}
	return true
}

func (p *appProbe) end() {
	close(p.stop)
	p.wg.Wait()
}

func (p *appProbe) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var ks []string
	for k, n := range p.counts {
		ks = append(ks, fmt.Sprintf("%s=%d", k, n))
	}
	sort.Strings(ks)
	return strings.Join(ks, " ")
}

// TestEngineRestartRestoresApps is a dockerd restart (on a private engine):
// the daemon notices the engine going (its event stream), the proxy
// answers 503 for both apps while it is down, and when it is back the apps
// are restored and routed to their new host ports with no berth command.
// No request ever gets the other app's body.
func TestEngineRestartRestoresApps(t *testing.T) {
	t.Parallel()
	host := requireDocker(t)
	pe := startPrivateEngine(t, host, "berth-test/busybox:1")
	d := engineDaemon(t, pe)
	want := map[string]string{}
	for _, app := range []string{"alpha", "beta"} {
		d.mustBerth(t, "apps:create", app)
		d.mustBerth(t, "domains:add", app, app+".test")
		files := map[string]string{"Dockerfile": dockerfile(app), "Procfile": "web: testapp web\n"}
		if out, code := d.deployTar(t, app, appTar(t, files)); code != 0 {
			t.Fatalf("deploy %s: %d\n%s", app, code, out)
		}
		want[app+".test"] = "version=" + app + " "
	}
	probe := startProbe(d.proxyAddr, want)
	defer probe.end()
	waitFor(t, 10*time.Second, "both apps to answer through the proxy", probe.allOK)

	pe.stop()
	waitFor(t, 10*time.Second, "the daemon to log the lost engine", func() bool {
		return strings.Contains(d.log.String(), "lost the connection to the docker engine")
	})
	// While the engine is down, both apps answer 503 (their old host
	// ports are gone, and may belong to other containers when it is back).
	before := probe.count("alpha.test", "503") + probe.count("beta.test", "503")
	time.Sleep(time.Second)
	if n := probe.count("alpha.test", "503") + probe.count("beta.test", "503"); n-before < 10 {
		t.Errorf("%d answers were 503 while the engine was down; want every one (%s)", n-before, probe)
	}

	pe.start()
	start := time.Now()
	waitFor(t, 30*time.Second, "both apps to answer again after the engine's restart", probe.allOK)
	t.Logf("apps answered again %s after the engine was back; answers: %s\n%s", time.Since(start).Round(10*time.Millisecond), probe, strings.Join(probe.changes, "\n"))
	if !strings.Contains(d.log.String(), "docker engine is back") {
		t.Error("the daemon did not log the engine's return")
	}
	probe.end()
	probe.stop = make(chan struct{}) // ended: the deferred end is a no-op
	// 502s come only in two short windows: between an app's SIGTERM (it
	// stops listening) and its container's "die" event, which takes it out
	// of the route; and between a restored container's start and its
	// process listening. Both are the app's own container, never another's.
	for h := range want {
		if n := probe.count(h, "502"); n > 50 {
			t.Errorf("%s: %d answers were 502 (more than a second's worth): %s", h, n, probe)
		}
		for _, class := range []string{"err", "404", "500", "504"} {
			if n := probe.count(h, class); n > 0 {
				t.Errorf("%s: %d answers were %s: %s", h, n, class, probe)
			}
		}
	}
	if len(probe.wrong) > 0 {
		t.Errorf("requests got another app's body or an unclear 503: %v", probe.wrong[:min(5, len(probe.wrong))])
	}
	if portsAfter := d.mustBerth(t, "ps:report", "alpha", "--status-web.1"); !strings.HasPrefix(portsAfter, "running") {
		t.Errorf("alpha's web.1 after the restart: %q", portsAfter)
	}
}

// TestKilledContainerIsRestartedAndReported: a web container whose process
// is killed (SIGKILL from the host, as the kernel's OOM killer does) exits
// 137; the engine restarts it (on-failure), the daemon logs the exit with
// the app and process, and ps:report shows the restart count and the
// last exit.
func TestKilledContainerIsRestartedAndReported(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d := deployDaemon(t, eng)
	d.mustBerth(t, "apps:create", "shop")
	d.mustBerth(t, "domains:add", "shop", "shop.test")
	files := map[string]string{"Dockerfile": dockerfile("v1"), "Procfile": "web: testapp web\n"}
	if out, code := d.deployTar(t, "shop", appTar(t, files)); code != 0 {
		t.Fatalf("deploy: %d\n%s", code, out)
	}
	ctx := context.Background()
	web := containers(t, eng, d, "shop")["web.1"]
	det, err := eng.InspectContainer(ctx, web.ID)
	if err != nil {
		t.Fatal(err)
	}
	var raw struct{ State struct{ Pid int } }
	if err := json.Unmarshal(det.Raw, &raw); err != nil || raw.State.Pid <= 1 {
		t.Fatalf("the container's pid: %v, %d", err, raw.State.Pid)
	}
	if err := syscall.Kill(raw.State.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the engine to restart the killed container", func() bool {
		det, err := eng.InspectContainer(ctx, web.ID)
		return err == nil && det.Running && det.RestartCount == 1
	})
	waitFor(t, 10*time.Second, "the daemon to log the exit", func() bool {
		return strings.Contains(d.log.String(), `msg="process container exited" app=shop process=web.1`) &&
			strings.Contains(d.log.String(), "exit_code=137 oom_killed=false")
	})
	if got := strings.TrimSpace(d.mustBerth(t, "ps:report", "shop", "--ps-restarts-web-1")); got != "1" {
		t.Errorf("ps:report restarts = %q, want 1", got)
	}
	if got := strings.TrimSpace(d.mustBerth(t, "ps:report", "shop", "--ps-last-exit-web-1")); !strings.HasPrefix(got, "137 at ") {
		t.Errorf("ps:report last exit = %q, want 137 at TIME", got)
	}
	// The restarted container has a new host port: the route follows it.
	waitFor(t, 10*time.Second, "the app to answer through the proxy after the restart", func() bool {
		resp, err := (&http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DialContext: dialTo(d.proxyAddr)}}).Get("http://shop.test/")
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode == 200 && strings.HasPrefix(string(b), "version=v1 ")
	})
}

// TestRebootRestoresEverything is a host reboot, simulated: the daemon and
// its proxy are killed and every container of the instance is stopped
// (the engine keeps running). At the next start every app, service, link,
// route, certificate and backup schedule comes back with no berth
// command; an app that cannot come back (its image and container are
// gone) answers 503 and does not hold up the others; and no request ever
// gets another app's body, although the old host ports are free for the
// new containers to take.
func TestRebootRestoresEverything(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d := serviceDaemon(t, eng)
	d.mustBerth(t, "redis:create", "rb-cache")
	backups := t.TempDir()
	d.mustBerth(t, "redis:backup-schedule", "rb-cache", "@every 2s", backups, "--keep", "2")
	want := map[string]string{}
	for _, app := range []string{"alpha", "beta", "broken"} {
		d.mustBerth(t, "apps:create", app)
		d.mustBerth(t, "domains:add", app, app+".test")
		if app == "alpha" {
			d.mustBerth(t, "redis:link", "rb-cache", "alpha", "--no-restart")
		}
		files := map[string]string{"Dockerfile": dockerfile(app), "Procfile": "web: testapp web\n"}
		if out, code := d.deployTar(t, app, appTar(t, files)); code != 0 {
			t.Fatalf("deploy %s: %d\n%s", app, code, out)
		}
		want[app+".test"] = "version=" + app + " "
	}
	d.mustBerth(t, "certs:generate", "beta")
	betaCert := d.mustBerth(t, "certs:show", "beta", "crt")
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: dialTo(d.proxyAddr)}}
	resp, err := client.Post("http://alpha.test/kv?k=cart&v=3", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || strings.TrimSpace(string(b)) != "3" {
		t.Fatalf("POST /kv through the proxy: %d %q", resp.StatusCode, b)
	}
	resp.Body.Close()

	// The reboot: the daemon and the proxy die, every container stops.
	if err := d.stop(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killProxy(d.dataDir)
	ctx := context.Background()
	cs, err := eng.ListContainers(ctx, map[string]string{"berth.instance": d.prefix()}, false)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Go(func() { eng.StopContainer(ctx, c.ID, 5*time.Second) })
	}
	wg.Wait()
	// broken cannot come back: its containers and its image are gone.
	for _, c := range containers(t, eng, d, "broken") {
		eng.RemoveContainer(ctx, c.ID, true)
	}
	all, _ := eng.ListContainers(ctx, map[string]string{"berth.instance": d.prefix(), "berth.app": "broken"}, true)
	for _, c := range all {
		eng.RemoveContainer(ctx, c.ID, true)
	}
	if err := eng.RemoveImage(ctx, d.prefix()+"-berth/broken:1", true); err != nil {
		t.Fatalf("remove broken's image: %v", err)
	}
	rebooted := time.Now()

	d2, err := startDaemon(d.dataDir, d.extraEnv...)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		d2.stop(syscall.SIGKILL)
		if t.Failed() {
			l := d2.log.String()
			t.Logf("daemon log after the reboot (tail):\n%s", l[max(0, len(l)-8000):])
		}
	}()
	probe := startProbe(d2.proxyAddr, want)
	defer probe.end()
	// beta has a certificate: over HTTP it redirects (301); over HTTPS,
	// on the new proxy's listener, it answers with its certificate.
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM([]byte(betaCert))
	tlsClient := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: dialTo(d2.proxyTLSAddr), TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "beta.test"}}}
	betaHTTPS := func() (int, string, error) {
		resp, err := tlsClient.Get("https://beta.test/")
		if err != nil {
			return 0, "", err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b), nil
	}
	waitFor(t, 60*time.Second, "alpha and beta to answer after the reboot", func() bool {
		code, body, _ := betaHTTPS()
		return probe.count("alpha.test", "ok") > 0 && code == 200 && strings.HasPrefix(body, "version=beta ")
	})
	time.Sleep(500 * time.Millisecond)
	probe.end()
	probe.stop = make(chan struct{}) // ended: the deferred end is a no-op
	t.Logf("answers after the reboot: %s\n%s", probe, strings.Join(probe.changes, "\n"))
	if len(probe.wrong) > 0 {
		t.Errorf("requests got another app's body or an unclear 503: %v", probe.wrong[:min(5, len(probe.wrong))])
	}
	if n := probe.count("broken.test", "ok"); n > 0 || probe.count("broken.test", "503") == 0 {
		t.Errorf("broken answered %s; want 503 only", probe)
	}
	if !strings.Contains(d2.log.String(), `msg="restore app" app=broken`) {
		t.Error("broken's failed restore is not logged by name")
	}

	// The link and the service's data.
	client = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: dialTo(d2.proxyAddr)}}
	waitFor(t, 30*time.Second, "alpha's cache to answer through its link", func() bool {
		resp, err := client.Get("http://alpha.test/kv?k=cart")
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode == 200 && strings.TrimSpace(string(b)) == "3"
	})
	if n := probe.count("beta.test", "301"); n == 0 {
		t.Errorf("beta over HTTP after the reboot: %s; want its redirect to HTTPS", probe)
	}
	// The backup schedule runs again.
	waitFor(t, 30*time.Second, "a scheduled backup after the reboot", func() bool {
		entries, _ := os.ReadDir(backups)
		for _, e := range entries {
			if info, err := e.Info(); err == nil && info.ModTime().After(rebooted) {
				return true
			}
		}
		return false
	})
}
