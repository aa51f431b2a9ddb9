package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/proxy"
	"github.com/berthpaas/berth/internal/registry"
	"github.com/berthpaas/berth/internal/swarmtest"
)

// TestProxyOnEveryNode: Berth's proxy on every node of a swarm holds the
// manager's routes and certificates (issue 16, item 5). Three nodes in a
// swarm, Berth on node 1 (its manager), and on nodes 2 and 3 the node part
// started as scheduler-swarm:cluster-add starts it: `berth serve-proxy`
// with its control API over TCP and mutual TLS (certificates of the CA in
// node 1's DATA/registry). An app deployed on node 1 (docker-local) with a
// domain is served through node 2's and node 3's :80 (their proxies reach
// its container on node 1 through node 1's relay), and what node 2's proxy
// answers counts in `berth metrics`; node 3's proxy stopped,
// the app's domains changed and node 3 started again: it serves the new
// domain within seconds; a certs:add'ed certificate is served by node 3's
// :443 for the domain (SNI); a client with a certificate of another CA is
// refused by a node part's control port, one of the cluster's CA is not;
// with the manager's daemon stopped, the nodes still serve the app.
func TestProxyOnEveryNode(t *testing.T) {
	t.Parallel()
	host := requireDocker(t)
	requireSwarmRig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	step := stepper(t)

	rig := swarmtest.New(t, swarmtest.Options{Nodes: 3, Timeout: 80 * time.Second})
	n1, n2, n3 := rig.Nodes[0], rig.Nodes[1], rig.Nodes[2]
	step(fmt.Sprintf("rig up in %s", rig.SetupIn.Round(time.Millisecond)))
	if err := n1.LoadImages(ctx, host.Host(), "berth-test/busybox:1"); err != nil {
		t.Fatal(err)
	}

	// The engine call the daemon lists the nodes with: the manager sees
	// the others, a worker only itself, an engine in no swarm nothing.
	for _, c := range []struct {
		host         string
		self, others string
	}{{n1.Host, n1.Addr, n2.Addr + " " + n3.Addr}, {n2.Host, n2.Addr, ""}, {host.Host(), "", ""}} {
		eng, err := docker.NewHost(ctx, c.host)
		if err != nil {
			t.Fatal(err)
		}
		self, others, err := eng.NodeAddrs(ctx)
		eng.Close()
		if err != nil || self != c.self || strings.Join(others, " ") != c.others {
			t.Fatalf("NodeAddrs of %s: %q %q %v, want %q %q", c.host, self, others, err, c.self, c.others)
		}
	}

	// The cluster's CA, in the data dir the node's Berth will have (as
	// cluster-init leaves it), and the node parts' TLS files (as
	// cluster-add writes them: ca.crt, node.crt, node.key for the node's
	// address).
	bin := filepath.Join(binDir, "berth")
	ca, parts := startNodeParts(t, rig, n1, n2, n3)
	p2, p3 := parts[0], parts[1]
	step("node parts up on nodes 2 and 3")

	b := rig.Berth(t, n1, swarmtest.BerthOptions{Bin: bin, Env: []string{"BERTH_PROXY_PEER_RESYNC=500ms", "BERTH_PROXY_PEER_TIMEOUT=1s", "BERTH_METRICS_INTERVAL=1s"}})
	step("berth serve up on node 1")
	must := newRigCLI(t, ctx, b).must
	must(nil, "checks:set", "--global", "default-uptime-seconds", "1")
	must(nil, "checks:set", "--global", "wait-to-retire", "0")
	must(nil, "apps:create", "shop")
	must(nil, "domains:add", "shop", "shop.example")
	must(bytes.NewReader(appTar(t, map[string]string{
		"Dockerfile": dockerfile("on-node-1"),
		"Procfile":   "web: testapp web\n",
	})), "git:from-archive", "shop", "-")
	step("shop deployed on node 1")

	// Every node's :80 serves the app (nodes 2 and 3 through node 1's
	// relay to its container).
	for _, addr := range []string{b.ProxyAddr, p2.HTTPAddr, p3.HTTPAddr} {
		waitServedVia(t, ctx, addr, "shop.example", "on-node-1", 15*time.Second)
	}
	step("shop.example served by the proxies of nodes 1, 2 and 3")

	// Requests answered by another node's proxy count in the app's
	// metrics: 7 client errors (a GET of /ws that is no upgrade) sent to
	// node 2 only.
	for range 7 {
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+p2.HTTPAddr+"/ws", nil)
		req.Host = "shop.example"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Fatalf("GET /ws via node 2: %d, want 400", resp.StatusCode)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		var m api.AppMetrics
		out := must(nil, "metrics", "shop", "--format", "json")
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatalf("metrics --format json: %v\n%s", err, out)
		}
		var clientErrors uint64
		for _, r := range m.Releases {
			clientErrors += r.Status[3]
		}
		if clientErrors == 7 {
			break
		}
		if clientErrors > 7 || time.Now().After(deadline) {
			t.Fatalf("berth metrics shop counts %d 4xx, want the 7 node 2's proxy answered:\n%s", clientErrors, out)
		}
		time.Sleep(300 * time.Millisecond)
	}
	step("the 7 requests node 2's proxy answered count in shop's metrics")

	// Node 3's proxy is down while the domains change; started again, it
	// serves from its state file at once and converges within seconds.
	p3.Stop()
	must(nil, "domains:add", "shop", "new.example")
	waitServedVia(t, ctx, p2.HTTPAddr, "new.example", "on-node-1", 10*time.Second)
	if err := p3.Start(); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	waitServedVia(t, ctx, p3.HTTPAddr, "new.example", "on-node-1", 10*time.Second)
	step(fmt.Sprintf("node 3's proxy restarted: new.example served %s after its start", time.Since(restarted).Round(time.Millisecond)))

	// A certificate reaches every node: node 3's :443 answers SNI
	// shop.example with it.
	crt, key := shortCert(t, "shop.example", 48*time.Hour)
	must(nil, "certs:add", "shop", crt, key)
	want, _ := os.ReadFile(crt)
	blk, _ := pem.Decode(want)
	deadline = time.Now().Add(10 * time.Second)
	for {
		got, body, err := httpsVia(ctx, p3.HTTPSAddr, "shop.example", "/env")
		if err == nil && bytes.Equal(got, blk.Bytes) && strings.Contains(body, "on-node-1") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node 3's :443 (SNI shop.example) did not serve the certs:add'ed certificate and the app within 10s: %v %q", err, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	step("node 3's :443 serves shop.example's certificate")

	// The control port: a client certificate of another CA is refused, the
	// cluster's is not (so the refusal is the certificate's doing).
	other, err := registry.LoadOrCreateCA(filepath.Join(t.TempDir(), "ca"))
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*registry.CA{"other": other, "cluster": ca} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "ca.crt"), ca.PEM, 0o644) // the node's server certificate is trusted
		if err := c.IssueClient(filepath.Join(dir, "client.crt"), filepath.Join(dir, "client.key"), "test"); err != nil {
			t.Fatal(err)
		}
		cfg, err := proxy.LoadClientTLS(dir, "client.crt", "client.key")
		if err != nil {
			t.Fatal(err)
		}
		cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
		st, err := proxy.NewRemoteClient(p2.ControlAddr, cfg).Status(cctx)
		ccancel()
		switch {
		case name == "other" && err == nil:
			t.Fatalf("node 2's control port let in a client certificate of another CA: %+v", st)
		case name == "cluster" && err != nil:
			t.Fatalf("node 2's control port refused the cluster CA's client certificate: %v", err)
		case name == "cluster" && st.Routes != 1:
			t.Fatalf("node 2's proxy holds %d routes, want 1 (shop)", st.Routes)
		}
	}
	// Without any client certificate, a plain TLS handshake fails.
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", p2.ControlAddr, &tls.Config{RootCAs: ca.Pool(), ServerName: n2.Addr})
	if err == nil {
		// TLS 1.3: the server's refusal arrives with the first read.
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(conn, "GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n")
		_, err = conn.Read(make([]byte, 1))
		conn.Close()
	}
	if err == nil {
		t.Fatal("node 2's control port answered a client without a certificate")
	}
	step("control port refuses foreign and missing client certificates")

	// The tables compare equal once sent: the daemon does not resend a
	// node's table at every resync (every 500 ms here).
	// The manager's daemon stopped: every node's proxy keeps serving
	// (node 3's through node 1's proxy, which relays to the container).
	b.StopDaemon()
	for _, addr := range []string{p2.HTTPSAddr, p3.HTTPSAddr} {
		if _, body, err := httpsVia(ctx, addr, "shop.example", "/env"); err != nil || !strings.Contains(body, "on-node-1") {
			t.Fatalf("with the manager's daemon stopped, %s (SNI shop.example): %v %q", addr, err, body)
		}
	}
	step("daemon stopped: nodes 2 and 3 still serve shop.example")

	n := strings.Count(b.Log(), "sent the whole table")
	if n > 4 {
		t.Fatalf("the daemon sent whole tables %d times: the nodes' hashes never match its own\n%s", n, b.Log())
	}
	step(fmt.Sprintf("whole tables sent: %d", n))
}

// TestNodeProxyBadTLS: a node part told to serve its control API over TCP
// without its TLS files says so in one line and exits non-zero.
func TestNodeProxyBadTLS(t *testing.T) {
	t.Parallel()
	dir := shortTempDir(t)
	cmd := exec.Command(filepath.Join(binDir, "berth"), "serve-proxy")
	cmd.Env = append(os.Environ(), "BERTH_DATA_DIR="+dir, "BERTH_HTTP_ADDR=127.0.0.1:0", "BERTH_HTTPS_ADDR=off",
		"BERTH_PROXY_CONTROL_ADDR=127.0.0.1:0", "BERTH_PROXY_CONTROL_TLS_DIR="+filepath.Join(dir, "tls"))
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("serve-proxy without TLS files exited 0:\n%s", out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "BERTH_PROXY_CONTROL_TLS_DIR") || !strings.Contains(lines[0], "ca.crt") {
		t.Fatalf("serve-proxy without TLS files: want one line naming BERTH_PROXY_CONTROL_TLS_DIR and ca.crt, got:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "proxy-routes.json")); err == nil {
		t.Fatal("serve-proxy that refused to start wrote a state file")
	}
}

// waitServedVia polls http://addr/env with Host host until the answer holds
// want, for up to within.
func waitServedVia(t *testing.T, ctx context.Context, addr, host, want string, within time.Duration) {
	t.Helper()
	client := &http.Client{Timeout: 3 * time.Second}
	deadline := time.Now().Add(within)
	last := ""
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/env", nil)
		req.Host = host
		resp, err := client.Do(req)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			last = fmt.Sprintf("%d %s", resp.StatusCode, body)
			if resp.StatusCode == 200 && strings.Contains(string(body), want) {
				return
			}
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("http://%s/env (Host %s) did not answer with %q within %s; last: %.300s", addr, host, want, within, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// httpsVia GETs https://host/path at addr with SNI host and returns the
// certificate the server presented (DER) and the body.
func httpsVia(ctx context.Context, addr, host, path string) ([]byte, string, error) {
	var leaf []byte
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr)
		},
		TLSClientConfig: &tls.Config{ServerName: host, InsecureSkipVerify: true, VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) > 0 {
				leaf = raw[0]
			}
			return nil
		}},
	}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequestWithContext(ctx, "GET", "https://"+host+path, nil)
	resp, err := (&http.Client{Transport: tr, Timeout: 3 * time.Second}).Do(req)
	if err != nil {
		return leaf, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return leaf, fmt.Sprintf("%d %s", resp.StatusCode, body), nil
}
