package proxy

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/registry"
)

// remotePKI writes a cluster CA in dir/ca, the node's ca.crt, node.crt
// and node.key in dir/node, and a client certificate for the daemon in
// dir/daemon (ca.crt, client.crt, client.key).
func remotePKI(t *testing.T, dir string) (node, daemon string) {
	t.Helper()
	ca, err := registry.LoadOrCreateCA(filepath.Join(dir, "ca"))
	if err != nil {
		t.Fatal(err)
	}
	node, daemon = filepath.Join(dir, "node"), filepath.Join(dir, "daemon")
	for _, d := range []string{node, daemon} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, ControlCAFile), ca.PEM, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := ca.IssueServer(filepath.Join(node, ControlCertFile), filepath.Join(node, ControlKeyFile), "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if err := ca.IssueClient(filepath.Join(daemon, "client.crt"), filepath.Join(daemon, "client.key"), "berth daemon"); err != nil {
		t.Fatal(err)
	}
	return node, daemon
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestRemoteControl: the control API over TCP answers a client with a
// certificate of the cluster's CA (the same API: routes, status with the
// table's hash), and refuses one without a certificate, with one of
// another CA, and with a server certificate of the right CA (not meant
// for clients); the hand-over is refused over TCP.
func TestRemoteControl(t *testing.T) {
	t.Parallel()
	dir := shortDir(t)
	nodeDir, daemonDir := remotePKI(t, dir)
	serverTLS, err := LoadServerTLS(nodeDir)
	if err != nil {
		t.Fatal(err)
	}
	ctlAddr := freeAddr(t)
	p := startProxy(t, "", func(c *Config) { c.ControlAddr, c.ControlTLS = ctlAddr, serverTLS })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	clientTLS, err := LoadClientTLS(daemonDir, "client.crt", "client.key")
	if err != nil {
		t.Fatal(err)
	}
	rc := NewRemoteClient(ctlAddr, clientTLS)
	app := addr(newWeb(t, "remote").Server)
	if err := rc.SetRoute(ctx, Route{App: "shop", Hosts: []string{"Shop.Test"}, Targets: []Target{{Addr: app, Container: "shop.web.1"}}}); err != nil {
		t.Fatalf("SetRoute over TCP: %v", err)
	}
	if code, body, _ := p.get("shop.test", "/"); code != 200 || !strings.Contains(body, "remote") {
		t.Fatalf("the route set over TCP is not served: %d %s", code, body)
	}
	routes, err := rc.Routes(ctx)
	if err != nil || len(routes) != 1 {
		t.Fatalf("Routes over TCP: %v %v", routes, err)
	}
	st, err := rc.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := RoutesHash(routes); st.RoutesHash != want {
		t.Fatalf("Status.RoutesHash %q, want RoutesHash(Routes()) %q", st.RoutesHash, want)
	}
	// The unix socket sees the same table.
	if local, err := p.c.Status(ctx); err != nil || local.RoutesHash != st.RoutesHash {
		t.Fatalf("the socket's status %v %v differs from TCP's %v", local, err, st)
	}

	// Another CA's client certificate.
	other := shortDir(t)
	_, otherDaemon := remotePKI(t, other)
	otherTLS, err := LoadClientTLS(otherDaemon, "client.crt", "client.key")
	if err != nil {
		t.Fatal(err)
	}
	otherTLS.RootCAs = clientTLS.RootCAs // it trusts the node: only its own certificate is wrong
	if _, err := NewRemoteClient(ctlAddr, otherTLS).Status(ctx); err == nil {
		t.Fatal("a client certificate of another CA got in")
	}
	// No client certificate.
	noCert := clientTLS.Clone()
	noCert.Certificates = nil
	if _, err := NewRemoteClient(ctlAddr, noCert).Status(ctx); err == nil {
		t.Fatal("a client without a certificate got in")
	}
	// The node's own (server) certificate, of the right CA, as a client's.
	asClient, err := LoadClientTLS(nodeDir, ControlCertFile, ControlKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewRemoteClient(ctlAddr, asClient).Status(ctx); err == nil {
		t.Fatal("a server certificate got in as a client's")
	}
	// The hand-over is the socket's only.
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://berth-proxy/v1/handover", strings.NewReader("{}"))
	resp, err := rc.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("POST /v1/handover over TCP answered %s, want 400", resp.Status)
	}
}

// TestRemoteControlRestart: a node proxy restarted serves the routes it
// last had (its state file), before any daemon talks to it.
func TestRemoteControlRestart(t *testing.T) {
	t.Parallel()
	dir := shortDir(t)
	nodeDir, daemonDir := remotePKI(t, dir)
	serverTLS, _ := LoadServerTLS(nodeDir)
	clientTLS, _ := LoadClientTLS(daemonDir, "client.crt", "client.key")
	ctlAddr := freeAddr(t)
	pdir := shortDir(t)
	p := startProxy(t, pdir, func(c *Config) { c.ControlAddr, c.ControlTLS = ctlAddr, serverTLS })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	app := addr(newWeb(t, "kept").Server)
	if err := NewRemoteClient(ctlAddr, clientTLS).SetRoute(ctx, Route{App: "shop", Hosts: []string{"shop.test"}, Targets: []Target{{Addr: app}}}); err != nil {
		t.Fatal(err)
	}
	if err := p.stop(); err != nil {
		t.Fatal(err)
	}
	p2 := startProxy(t, pdir, func(c *Config) { c.ControlAddr, c.ControlTLS = ctlAddr, serverTLS })
	if code, body, _ := p2.get("shop.test", "/"); code != 200 || !strings.Contains(body, "kept") {
		t.Fatalf("restarted node proxy: %d %s, want the route it had", code, body)
	}
}

// TestLoadServerTLSMissing: a TLS directory without the node's files is
// one clear error naming what is missing.
func TestLoadServerTLSMissing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := LoadServerTLS(dir); err == nil || !strings.Contains(err.Error(), "ca.crt") {
		t.Fatalf("empty dir: %v, want an error naming ca.crt", err)
	}
	nodeDir, _ := remotePKI(t, dir)
	os.Remove(filepath.Join(nodeDir, ControlKeyFile))
	if _, err := LoadServerTLS(nodeDir); err == nil || !strings.Contains(err.Error(), "node.key") {
		t.Fatalf("no node.key: %v, want an error naming it", err)
	}
	os.WriteFile(filepath.Join(nodeDir, ControlCAFile), []byte("junk"), 0o644)
	if _, err := LoadServerTLS(nodeDir); err == nil || !strings.Contains(err.Error(), "no PEM") {
		t.Fatalf("junk ca.crt: %v", err)
	}
}

// TestRoutesHashIgnoresUncovered: the hash is of the routes as set.
func TestRoutesHashIgnoresUncovered(t *testing.T) {
	a := []Route{{App: "b"}, {App: "a", TLS: &RouteTLS{CertPEM: "c", KeyPEM: "k"}}}
	b := []Route{{App: "a", TLS: &RouteTLS{CertPEM: "c", KeyPEM: "k", Uncovered: []string{"x.test"}}}, {App: "b"}}
	if RoutesHash(a) != RoutesHash(b) {
		t.Fatal("RoutesHash depends on order or Uncovered")
	}
	if RoutesHash(a) == RoutesHash(a[:1]) {
		t.Fatal("RoutesHash ignores a route")
	}
}

// TestRoutesHashAcrossProxies: a table read from one proxy (with what it
// reports: Uncovered) and set whole on another gives that one the hash
// the reader computes, so a daemon comparing them does not resend a
// table that arrived.
func TestRoutesHashAcrossProxies(t *testing.T) {
	t.Parallel()
	a, b := startProxy(t, ""), startProxy(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	full := Route{App: "shop", Hosts: []string{"shop.test", "uncovered.test"}, Targets: []Target{{Addr: "10.0.0.1:3000", Container: "shop.web.1"}},
		Liveness: &Liveness{Path: "/health", Interval: time.Second}, MaxBodyBytes: 1 << 20, UpstreamTimeout: time.Minute,
		TLS:       &RouteTLS{CertPEM: pki().shop.cert, KeyPEM: pki().shop.key, RedirectHTTP: true, HSTS: &HSTS{MaxAge: time.Hour}},
		Redirects: []Redirect{{From: "old.test", To: "shop.test"}}, Ports: []Port{{Port: 18443, TLS: true}}}
	for _, r := range []Route{full, {App: "blog", Hosts: []string{"blog.test"}}} {
		if err := a.c.SetRoute(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	routes, err := a.c.Routes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.c.Replace(ctx, routes); err != nil {
		t.Fatal(err)
	}
	sa, _ := a.c.Status(ctx)
	sb, _ := b.c.Status(ctx)
	if want := RoutesHash(routes); sa.RoutesHash != want || sb.RoutesHash != want {
		t.Fatalf("hashes: a %s, b %s, of the table read %s: want all equal", sa.RoutesHash, sb.RoutesHash, want)
	}
}

// TestSetRelayRefusesLoopback: the relay's address is the node's cluster
// address, never loopback or every address.
func TestSetRelayRefusesLoopback(t *testing.T) {
	t.Parallel()
	p := startProxy(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, a := range []string{"127.0.0.1", "0.0.0.0", "::", "not-an-ip"} {
		if err := p.c.SetRelay(ctx, a); !errors.Is(err, ErrInvalidRoute) {
			t.Errorf("SetRelay(%q): %v, want refused", a, err)
		}
	}
	if err := p.c.SetRelay(ctx, ""); err != nil {
		t.Errorf("SetRelay(\"\") (off): %v", err)
	}
	if got := loopbackPorts(map[string]Route{"a": {Targets: []Target{{Addr: "127.0.0.1:5000"}, {Addr: "10.0.0.2:6000"}, {Addr: "[::1]:7000"}}}}); len(got) != 2 || !got[5000] || !got[7000] {
		t.Errorf("loopbackPorts: %v, want 5000 and 7000", got)
	}
}
