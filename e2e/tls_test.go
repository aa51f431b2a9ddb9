package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestHTTPSWithCertsAndRedirects: a certificate (self-signed here; ACME
// certificates take the same path) makes the app serve HTTPS with SNI and
// HTTP/2, HTTP redirect to HTTPS, HSTS, and the seed's bare-domain-to-www
// redirect on both schemes with path and query kept.
func TestHTTPSWithCertsAndRedirects(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d := deployDaemon(t, eng)
	d.mustBerth(t, "apps:create", "shop")
	d.mustBerth(t, "domains:add", "shop", "shop.test", "www.shop.test")
	if out, code := d.deployTar(t, "shop", appTar(t, zdtApp("v1", nil))); code != 0 {
		t.Fatalf("deploy: %d\n%s", code, out)
	}
	d.mustBerth(t, "apps:create", "blog")
	d.mustBerth(t, "domains:add", "blog", "blog.test")
	if out, code := d.deployTar(t, "blog", appTar(t, zdtApp("blog-v1", nil))); code != 0 {
		t.Fatalf("deploy blog: %d\n%s", code, out)
	}
	d.mustBerth(t, "redirect:set", "shop", "shop.test", "www.shop.test")
	d.mustBerth(t, "certs:generate", "shop")
	d.mustBerth(t, "certs:generate", "blog")
	if d.proxyTLSAddr == "" {
		t.Fatal("the proxy has no TLS listener")
	}
	_, tlsPort, _ := net.SplitHostPort(d.proxyTLSAddr)
	roots := x509.NewCertPool()
	for _, a := range []string{"shop", "blog"} {
		roots.AppendCertsFromPEM([]byte(d.mustBerth(t, "certs:show", a, "crt")))
	}
	dial := func(addr string) func(ctx context.Context, network, a string) (net.Conn, error) {
		return func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		}
	}
	httpsClient := &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			DialContext: dial(d.proxyTLSAddr), TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	httpClient := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: dial(d.proxyAddr)},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	// HTTPS with SNI: each app's own certificate, over HTTP/2, with HSTS.
	for host, want := range map[string]string{"www.shop.test": "version=v1", "blog.test": "version=blog-v1"} {
		resp, err := httpsClient.Get("https://" + host + "/")
		if err != nil {
			t.Fatalf("GET https://%s/: %v", host, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(string(body), want) {
			t.Errorf("https://%s/: %d %q", host, resp.StatusCode, body)
		}
		if resp.ProtoMajor != 2 {
			t.Errorf("https://%s/: %s, want HTTP/2", host, resp.Proto)
		}
		if got := resp.Header.Get("Strict-Transport-Security"); got != "max-age=15724800" {
			t.Errorf("https://%s/: HSTS %q", host, got)
		}
		if !strings.Contains(resp.TLS.PeerCertificates[0].DNSNames[0], strings.TrimPrefix(host, "www.")) && host != "www.shop.test" {
			t.Errorf("%s got the certificate of %v", host, resp.TLS.PeerCertificates[0].DNSNames)
		}
	}
	// HTTP goes to HTTPS, path and query kept.
	req, _ := http.NewRequest(http.MethodGet, "http://www.shop.test/a%20b/c?x=1&y=2", nil)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if want := "https://www.shop.test:" + tlsPort + "/a%20b/c?x=1&y=2"; resp.StatusCode != 301 || resp.Header.Get("Location") != want {
		t.Errorf("http → https: %d %q, want 301 %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}
	// The bare domain redirects to www on both schemes (its certificate
	// covers it too).
	for _, u := range []string{"http://shop.test/p?q=1", "https://shop.test/p?q=1"} {
		c := httpClient
		if strings.HasPrefix(u, "https") {
			c = httpsClient
		}
		resp, err := c.Get(u)
		if err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		if resp.StatusCode != 301 || !strings.HasSuffix(loc, "www.shop.test/p?q=1") && !strings.Contains(loc, "www.shop.test:") {
			t.Errorf("%s: %d %q, want 301 to www.shop.test/p?q=1", u, resp.StatusCode, loc)
		}
	}
	// Bad input changes nothing.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"redirect:set", "shop", "shop.test"}, "Please provide a source domain and a destination"},
		{[]string{"redirect:set", "shop", "shop.test", "other.test"}, "Source domain is already redirected"},
		{[]string{"redirect:set", "shop", "blog.test", "x.test"}, "is a domain of blog"},
		{[]string{"redirect:set", "shop", "a.test", "b.test", "300"}, "Invalid redirect code"},
		{[]string{"certs:add", "shop", "/etc/hostname", "/etc/hostname"}, "Invalid certificate or key"},
	} {
		out, code := d.berth(tc.args...)
		if code != 1 || !strings.Contains(out, tc.want) {
			t.Errorf("%v: exit %d %q, want %q", tc.args, code, out, tc.want)
		}
	}
	if out := d.mustBerth(t, "url", "shop"); !strings.HasPrefix(out, "https://") {
		t.Errorf("url with a certificate: %q", out)
	}
	if out := d.mustBerth(t, "certs:report", "shop", "--ssl-hostnames"); !strings.Contains(out, "shop.test") {
		t.Errorf("certs:report: %q", out)
	}
	// certs:add takes a tar of server.crt and server.key on stdin.
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	for name, what := range map[string]string{"server.crt": "crt", "server.key": "key"} {
		b := d.mustBerth(t, "certs:show", "blog", what)
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(b))})
		tw.Write([]byte(b))
	}
	tw.Close()
	d.mustBerth(t, "certs:remove", "blog")
	if out, code := d.berthIn(&tb, "certs:add", "blog"); code != 0 || !strings.Contains(out, "Added a certificate to blog") {
		t.Errorf("certs:add from a tar: %d %q", code, out)
	}
	if out := d.mustBerth(t, "certs:report", "blog", "--ssl-source"); strings.TrimSpace(out) != "custom" {
		t.Errorf("certs:report --ssl-source = %q", out)
	}
	// Without the certificate, back to plain HTTP.
	d.mustBerth(t, "certs:remove", "shop")
	resp, err = httpClient.Get("http://www.shop.test/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("after certs:remove, http: %d", resp.StatusCode)
	}
}

// TestHTTPSWithoutCertificate: HTTPS to a domain whose app has no
// certificate completes the handshake with the proxy's fallback
// certificate (trusted by no one) and gets a 421 page saying how to add
// one, instead of a bare "tlsv1 alert internal error".
func TestHTTPSWithoutCertificate(t *testing.T) {
	t.Parallel()
	d := mustStart(t, shortTempDir(t))
	d.mustBerth(t, "apps:create", "shop")
	d.mustBerth(t, "domains:add", "shop", "shop.test")
	if d.proxyTLSAddr == "" {
		t.Fatal("the proxy has no TLS listener")
	}
	// A client that verifies refuses the fallback certificate.
	strict := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: dialTo(d.proxyTLSAddr)}}
	if _, err := strict.Get("https://shop.test/"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("verifying client: %v, want a certificate error", err)
	}
	// One that does not (curl -k) gets the page.
	insecure := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: dialTo(d.proxyTLSAddr),
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}}
	resp, err := insecure.Get("https://shop.test/")
	if err != nil {
		t.Fatalf("GET https://shop.test/ (insecure): %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := "No certificate for shop.test on this server: add one with `berth letsencrypt:enable shop` or `berth certs:add shop`.\n"
	if resp.StatusCode != http.StatusMisdirectedRequest || string(body) != want {
		t.Errorf("https://shop.test/: %d %q, want 421 %q", resp.StatusCode, body, want)
	}
}

// dialTo returns a DialContext that reaches addr whatever the URL's host.
func dialTo(addr string) func(ctx context.Context, network, a string) (net.Conn, error) {
	return func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	}
}
