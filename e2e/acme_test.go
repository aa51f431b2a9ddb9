package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/testacme"
)

// issuedClient trusts Pebble's issuing root and sends everything to addr.
func issuedClient(t *testing.T, acme *testacme.Server, addr string) *http.Client {
	t.Helper()
	root, err := acme.IssuerRoot()
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(root) {
		t.Fatal("no Pebble root")
	}
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
			},
			TLSClientConfig: &tls.Config{RootCAs: pool},
			// A fresh connection per request: each sees the current certificate.
			DisableKeepAlives: true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func get(t *testing.T, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// TestLetsEncryptWithPebble gets real certificates from a real ACME server
// (Pebble on 127.0.0.1, with its own DNS resolving test names to 127.0.0.1)
// the way the seed does: the e-mail as a global config var, the legacy
// `letsencrypt APP`, and a redirect from the bare domain to www.
func TestLetsEncryptWithPebble(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d, acme := pebbleDaemon(t, eng)
	d.mustBerth(t, "apps:create", "shop")
	d.mustBerth(t, "domains:add", "shop", "shop.test", "www.shop.test")
	if out, code := d.deployTar(t, "shop", appTar(t, zdtApp("v1", nil))); code != 0 {
		t.Fatalf("deploy: %d\n%s", code, out)
	}
	if out, code := d.berth("letsencrypt:enable", "shop"); code != 1 || !strings.Contains(out, "Cannot request a certificate without an e-mail address!") {
		t.Errorf("enable without e-mail: %d %q", code, out)
	}
	d.mustBerth(t, "config:set", "--no-restart", "--global", "DOKKU_LETSENCRYPT_EMAIL=me@example.com")
	d.mustBerth(t, "letsencrypt:set", "--global", "server", acme.Directory)
	d.mustBerth(t, "redirect:set", "shop", "shop.test", "www.shop.test")
	if out := d.mustBerth(t, "letsencrypt", "shop"); !strings.Contains(out, "Certificate installed") {
		t.Errorf("letsencrypt shop:\n%s", out)
	}
	if got := strings.TrimSpace(d.mustBerth(t, "letsencrypt:active", "shop")); got != "true" {
		t.Errorf("letsencrypt:active = %q", got)
	}

	_, tlsPort, _ := net.SplitHostPort(d.proxyTLSAddr)
	https := issuedClient(t, acme, d.proxyTLSAddr)
	plain := issuedClient(t, acme, d.proxyAddr)
	resp, body := get(t, https, "https://www.shop.test/")
	if resp.StatusCode != 200 || !strings.HasPrefix(body, "version=v1") {
		t.Errorf("https://www.shop.test/: %d %q", resp.StatusCode, body)
	}
	if got := resp.Header.Get("Strict-Transport-Security"); !strings.HasPrefix(got, "max-age=") {
		t.Errorf("HSTS header %q", got)
	}
	leaf := resp.TLS.PeerCertificates[0]
	if !slices.Contains(leaf.DNSNames, "shop.test") || !slices.Contains(leaf.DNSNames, "www.shop.test") {
		t.Errorf("certificate names %v: want the domain and the redirect source", leaf.DNSNames)
	}
	// The bare domain redirects to www on both schemes, keeping the path
	// and query; HTTP goes to HTTPS.
	for _, tc := range []struct {
		c        *http.Client
		url, loc string
	}{
		{https, "https://shop.test/a/b?x=1&y=2", "https://www.shop.test/a/b?x=1&y=2"},
		{plain, "http://shop.test/a/b?x=1", "http://www.shop.test/a/b?x=1"},
		{plain, "http://www.shop.test/p?q=1", "https://www.shop.test:" + tlsPort + "/p?q=1"},
	} {
		resp, _ := get(t, tc.c, tc.url)
		if resp.StatusCode != 301 || resp.Header.Get("Location") != tc.loc {
			t.Errorf("%s: %d %q, want 301 %q", tc.url, resp.StatusCode, resp.Header.Get("Location"), tc.loc)
		}
	}
	out := d.mustBerth(t, "letsencrypt:list")
	if !strings.Contains(out, "shop") || !strings.Contains(out, "www.shop.test") {
		t.Errorf("letsencrypt:list:\n%s", out)
	}

	// A new domain gets a certificate that covers it, on its own (Dokku
	// only warns).
	d.mustBerth(t, "domains:add", "shop", "extra.test")
	waitFor(t, 60*time.Second, "a certificate covering extra.test", func() bool {
		resp, err := https.Get("https://extra.test/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return slices.Contains(resp.TLS.PeerCertificates[0].DNSNames, "extra.test")
	})
	resp, _ = get(t, https, "https://extra.test/")
	if resp.StatusCode != 200 || !slices.Contains(resp.TLS.PeerCertificates[0].DNSNames, "extra.test") {
		t.Errorf("https://extra.test/: %d %v", resp.StatusCode, resp.TLS.PeerCertificates[0].DNSNames)
	}
	serial := resp.TLS.PeerCertificates[0].SerialNumber.String()

	// A failing renewal keeps the old certificate serving and says why.
	d.mustBerth(t, "letsencrypt:set", "--global", "server", "https://127.0.0.1:1/dir")
	d.mustBerth(t, "domains:add", "shop", "more.test")
	if out, code := d.berth("letsencrypt:auto-renew", "shop"); code == 0 || !strings.Contains(out, "Could not get a certificate") {
		t.Errorf("renewal against a dead server: %d %q", code, out)
	}
	resp, _ = get(t, https, "https://www.shop.test/")
	if resp.StatusCode != 200 || resp.TLS.PeerCertificates[0].SerialNumber.String() != serial {
		t.Errorf("after a failed renewal: %d, serial %s -> %s %v", resp.StatusCode, serial, resp.TLS.PeerCertificates[0].SerialNumber.String(), resp.TLS.PeerCertificates[0].DNSNames)
	}
	if out := d.mustBerth(t, "letsencrypt:list"); !strings.Contains(out, "127.0.0.1:1") {
		t.Errorf("letsencrypt:list does not show the last error:\n%s", out)
	}
	// Renewal is automatic; the cron-job command switches it.
	if out := d.mustBerth(t, "letsencrypt:cron-job", "--add"); !strings.Contains(out, "no cron job is needed") {
		t.Errorf("cron-job --add: %q", out)
	}
}

// TestLetsEncryptTLSALPN gets a certificate through the TLS-ALPN-01
// challenge, answered by the proxy's TLS listener.
func TestLetsEncryptTLSALPN(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	acme := testacme.Start(t)
	roots := filepath.Join(t.TempDir(), "pebble-roots.pem")
	if err := os.WriteFile(roots, acme.CARoots, 0o600); err != nil {
		t.Fatal(err)
	}
	// Pebble checks TLS-ALPN-01 on NAME:TLSPort: the proxy's TLS is there.
	d := deployDaemon(t, eng, fmt.Sprintf("BERTH_HTTPS_ADDR=127.0.0.1:%d", acme.TLSPort), "BERTH_ACME_CA_ROOTS="+roots)
	d.mustBerth(t, "apps:create", "shop")
	d.mustBerth(t, "domains:add", "shop", "alpn.test")
	if out, code := d.deployTar(t, "shop", appTar(t, zdtApp("v1", nil))); code != 0 {
		t.Fatalf("deploy: %d\n%s", code, out)
	}
	d.mustBerth(t, "letsencrypt:set", "--global", "email", "me@example.com")
	d.mustBerth(t, "letsencrypt:set", "--global", "server", acme.Directory)
	d.mustBerth(t, "letsencrypt:set", "--global", "challenge", "tls-alpn-01")
	if out, code := d.berth("letsencrypt:enable", "shop"); code != 0 {
		t.Fatalf("letsencrypt:enable with tls-alpn-01: %d\n%s", code, out)
	}
	resp, body := get(t, issuedClient(t, acme, d.proxyTLSAddr), "https://alpn.test/")
	if resp.StatusCode != 200 || !strings.HasPrefix(body, "version=v1") || !slices.Contains(resp.TLS.PeerCertificates[0].DNSNames, "alpn.test") {
		t.Errorf("https://alpn.test/: %d %q", resp.StatusCode, body)
	}
}

// pebbleDaemon starts Pebble and a daemon that trusts it, its proxy on
// Pebble's HTTP-01 port (Pebble checks NAME:HTTPPort), with extra
// environment.
func pebbleDaemon(t *testing.T, eng *docker.Client, extra ...string) (*daemon, *testacme.Server) {
	t.Helper()
	acme := testacme.Start(t)
	roots := filepath.Join(t.TempDir(), "pebble-roots.pem")
	if err := os.WriteFile(roots, acme.CARoots, 0o600); err != nil {
		t.Fatal(err)
	}
	env := append([]string{fmt.Sprintf("BERTH_HTTP_ADDR=127.0.0.1:%d", acme.HTTPPort), "BERTH_ACME_CA_ROOTS=" + roots}, extra...)
	return deployDaemon(t, eng, env...), acme
}
