package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/swarmtest"
)

// TestBerthOnARigNode runs a real Berth daemon on a rig node as on a
// user's server (issue 16's end-to-end base): `berth serve` and its proxy
// in node 1's network namespace, on node 1's dockerd, its data dir and
// socket on the host's files. Through the real binary against that socket:
// apps:create, domains:add, a deploy from a tar (built on the node from
// the base image copied in); then a request from the host to the node's
// address on the proxy's port with the app's Host header gets the app,
// and so does one from node 2's namespace.
func TestBerthOnARigNode(t *testing.T) {
	t.Parallel()
	host := requireDocker(t)
	requireSwarmRig(t)
	if _, err := exec.LookPath("curl"); err != nil {
		// The request from node 2's namespace is curl's (nsenter runs it).
		if os.Getenv("BERTH_REQUIRE_DOCKER") == "1" {
			t.Fatalf("curl is required (BERTH_REQUIRE_DOCKER=1): %v", err)
		}
		t.Skipf("no curl: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 110*time.Second)
	defer cancel()
	step := stepper(t)

	// Two nodes in a swarm, node 1 its manager, as the Swarm scheduler's
	// tests will have them: Berth runs beside swarm's own networks
	// (ingress, docker_gwbridge) on the manager's engine.
	rig := swarmtest.New(t, swarmtest.Options{Nodes: 2, Timeout: 60 * time.Second})
	node := rig.Nodes[0]
	step(fmt.Sprintf("rig up in %s", rig.SetupIn.Round(time.Millisecond)))
	if err := node.LoadImages(ctx, host.Host(), "berth-test/busybox:1"); err != nil {
		t.Fatal(err)
	}
	step("base image copied into node 1")

	b := rig.Berth(t, node, swarmtest.BerthOptions{Bin: filepath.Join(binDir, "berth")})
	step("berth serve up on node 1, proxy at " + b.ProxyAddr)
	must := newRigCLI(t, ctx, b).must
	// The daemon really is in the namespace and on the node's engine.
	if out := must(nil, "version"); !strings.Contains(out, "data dir "+b.DataDir) {
		t.Fatalf("berth version does not name the node's data dir %s:\n%s", b.DataDir, out)
	}
	must(nil, "checks:set", "--global", "default-uptime-seconds", "1")
	must(nil, "checks:set", "--global", "wait-to-retire", "0")
	must(nil, "apps:create", "shop")
	must(nil, "domains:add", "shop", "shop.example")
	out := must(bytes.NewReader(appTar(t, map[string]string{
		"Dockerfile": dockerfile("on-node-1"),
		"Procfile":   "web: testapp web\n",
	})), "git:from-archive", "shop", "-")
	if !strings.Contains(out, "Application deployed: shop") {
		t.Fatalf("deploy output lacks the success line:\n%s", out)
	}
	step("shop deployed through the node's daemon")

	// The app's container is on node 1's engine, not the host's.
	ps, err := node.Docker(ctx, "ps", "--filter", "label=berth.app=shop", "--format", "{{.Names}}")
	if err != nil || !strings.Contains(ps, "shop.web.1") {
		t.Fatalf("node 1's engine runs no shop.web.1: %v\n%s", err, ps)
	}

	// From the host, entering no namespace: node 1's address, the proxy's
	// port, the app's Host header.
	body := getVia(t, ctx, b.ProxyAddr, "shop.example", "/env")
	if !strings.HasPrefix(body, "200 ") || !strings.Contains(body, `"APP_VERSION":"on-node-1"`) {
		t.Fatalf("GET http://shop.example/env via %s: %s, want the app's env with APP_VERSION=on-node-1", b.ProxyAddr, body)
	}
	step("the host reached the app through node 1's proxy")
	// From node 2's namespace (another machine of the cluster network),
	// across the bridge.
	peer, err := exec.CommandContext(ctx, "nsenter", "--net=/var/run/netns/"+rig.Nodes[1].NS,
		"curl", "-sS", "--max-time", "5", "-H", "Host: shop.example", "http://"+b.ProxyAddr+"/env").CombinedOutput()
	if err != nil || !strings.Contains(string(peer), `"APP_VERSION":"on-node-1"`) {
		t.Fatalf("from node 2: curl http://%s/env (Host shop.example): %v\n%s", b.ProxyAddr, err, peer)
	}
	step("node 2 reached the app through node 1's proxy")
	// An unknown host gets the proxy's answer, not the app's.
	if body := getVia(t, ctx, b.ProxyAddr, "other.example", "/env"); strings.Contains(body, "on-node-1") {
		t.Fatalf("an unknown Host header reached the app: %s", body)
	}
}

// getVia GETs http://host/path through the proxy at addr, retrying while
// the connection fails (not on an HTTP answer), and returns the body.
func getVia(t *testing.T, ctx context.Context, addr, host, path string) string {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	var lastErr error
	for range 50 {
		req, err := http.NewRequestWithContext(ctx, "GET", "http://"+addr+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		resp, err := client.Do(req)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return fmt.Sprintf("%d %s", resp.StatusCode, b)
		}
		lastErr = err
		select {
		case <-ctx.Done():
			t.Fatalf("GET %s%s (Host %s): %v", addr, path, host, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatalf("GET %s%s (Host %s): %v", addr, path, host, lastErr)
	return ""
}
