package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestUserNetworks: apps that talk to each other over a network made with
// network:create. App a joins it after its deploys (attach-post-deploy),
// under Dokku's aliases a.web and a.web.1; app b's containers join it once
// created (attach-post-create), one-off ones included, and reach a by
// those names; app c, not on it, does not. initial-network creates c's
// containers on it; a network that does not exist fails the deploy with
// the old release serving; the network cannot be destroyed while in use.
func TestUserNetworks(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d := deployDaemon(t, eng)
	files := map[string]string{"Dockerfile": dockerfile("v1"), "Procfile": "web: testapp web\n"}
	for _, app := range []string{"a", "b", "c"} {
		d.mustBerth(t, "apps:create", app)
	}
	d.mustBerth(t, "network:create", "shared")
	if out, code := d.berth("network:create", "shared"); code == 0 {
		t.Errorf("network:create of an existing network succeeded:\n%s", out)
	}
	d.mustBerth(t, "network:set", "a", "attach-post-deploy", "shared")
	d.mustBerth(t, "network:set", "b", "attach-post-create", "shared")
	if out, code := d.berth("network:set", "b", "attach-post-deploy", "shared"); code == 0 || !strings.Contains(out, "already associated") {
		t.Errorf("one network both after create and after deploy: %d\n%s", code, out)
	}
	for _, app := range []string{"a", "b", "c"} {
		if out, code := d.deployTar(t, app, appTar(t, files)); code != 0 {
			t.Fatalf("deploy %s: %d\n%s", app, code, out)
		}
	}
	shared := d.prefix() + "-shared"
	if nets := networksOf(t, eng, d.prefix()+"-a.web.1"); !slices.Contains(nets, shared) {
		t.Errorf("a.web.1 is on %v, not on %s", nets, shared)
	}

	// b's one-off container reaches a by its aliases; c's does not.
	if out, code := d.berth("run", "--no-tty", "b", "testapp", "dial", "a.web:5000", "a.web.1:5000"); code != 0 {
		t.Errorf("b did not reach a over the shared network: %d\n%s", code, out)
	}
	if out, code := d.berth("run", "--no-tty", "c", "testapp", "dial", "a.web:5000"); code == 0 {
		t.Errorf("c (not on the network) reached a:\n%s", out)
	}

	// The report and the list say what is set and what Berth made.
	if v := strings.TrimSpace(d.mustBerth(t, "network:report", "b", "--network-computed-attach-post-create")); v != "shared" {
		t.Errorf("--network-computed-attach-post-create = %q", v)
	}
	var list []struct {
		Name         string
		DokkuManaged bool
	}
	if err := json.Unmarshal([]byte(d.mustBerth(t, "network:list", "--dokku-managed", "--format", "json")), &list); err != nil || len(list) != 1 || list[0].Name != "shared" || !list[0].DokkuManaged {
		t.Errorf("network:list --dokku-managed = %+v, %v", list, err)
	}

	// In use: refused, and still there.
	if out, code := d.berth("--force", "network:destroy", "shared"); code == 0 || !strings.Contains(out, "in use") {
		t.Errorf("network:destroy of a network in use: %d\n%s", code, out)
	}

	// initial-network: c's new containers are created on it.
	d.mustBerth(t, "network:set", "c", "initial-network", "shared")
	d.mustBerth(t, "ps:rebuild", "c")
	if nets := networksOf(t, eng, d.prefix()+"-c.web.1"); !slices.Contains(nets, shared) {
		t.Errorf("c.web.1 is on %v, not on %s", nets, shared)
	}

	// A network that does not exist fails the deploy; the old one serves.
	d.mustBerth(t, "network:set", "c", "attach-post-create", "nope")
	if out, code := d.berth("ps:rebuild", "c"); code == 0 || !strings.Contains(out, "Network nope does not exist") {
		t.Errorf("ps:rebuild with a missing network: %d\n%s", code, out)
	}
	if cs := containers(t, eng, d, "c"); dynos(cs) != "web.1" || cs["web.1"].Labels["berth.release"] != "2" {
		t.Errorf("c after the failed rebuild runs %s (release %s), want web.1 of release 2", dynos(cs), cs["web.1"].Labels["berth.release"])
	}

	// Once nothing uses it, it goes.
	for _, app := range []string{"a", "b", "c"} {
		d.mustBerth(t, "--force", "apps:destroy", app)
	}
	d.mustBerth(t, "--force", "network:destroy", "shared")
	if _, code := d.berth("network:exists", "shared"); code == 0 {
		t.Error("network:exists after network:destroy")
	}
}

// TestExtraPortsAndProxyToggle: a port map on a host port other than the
// proxy's makes the proxy listen there for the app (ports:add), and stop
// once the map is removed; proxy:disable takes the app out of the proxy,
// proxy:enable puts it back.
func TestExtraPortsAndProxyToggle(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d := deployDaemon(t, eng)
	d.mustBerth(t, "apps:create", "shop")
	d.mustBerth(t, "domains:add", "shop", "shop.test")
	files := map[string]string{"Dockerfile": dockerfile("v1"), "Procfile": "web: testapp web\n"}
	if out, code := d.deployTar(t, "shop", appTar(t, files)); code != 0 {
		t.Fatalf("deploy: %d\n%s", code, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	d.mustBerth(t, "ports:add", "shop", fmt.Sprintf("http:%d:5000", port))
	if out, code := d.berth("ports:add", "shop", fmt.Sprintf("http:%d:5000", port)); code == 0 {
		t.Errorf("the same map added twice:\n%s", out)
	}
	on := func(port int) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/", port), nil)
		req.Host = "shop.test"
		resp, err := (&http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting until %s", what)
			}
		}
	}
	waitFor("the extra port serves shop", func() bool { code, body := on(port); return code == 200 && strings.HasPrefix(body, "version=v1") })
	if code, body := served(t, d, "shop.test", "/"); code != 200 {
		t.Errorf("main port: %d %q", code, body)
	}
	d.mustBerth(t, "ports:remove", "shop", fmt.Sprint(port))
	waitFor("the extra port is let go", func() bool { code, _ := on(port); return code == 0 })

	d.mustBerth(t, "proxy:disable", "shop")
	if code, _ := served(t, d, "shop.test", "/"); code != http.StatusNotFound {
		t.Errorf("after proxy:disable: %d, want 404", code)
	}
	if v := strings.TrimSpace(d.mustBerth(t, "proxy:report", "shop", "--proxy-enabled")); v != "false" {
		t.Errorf("--proxy-enabled after proxy:disable = %q", v)
	}
	d.mustBerth(t, "proxy:enable", "shop")
	if code, body := served(t, d, "shop.test", "/"); code != 200 {
		t.Errorf("after proxy:enable: %d %q", code, body)
	}
}
