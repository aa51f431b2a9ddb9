package proxy

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// testPKI is a self-signed CA and leaf certificates it signed, made once
// per test binary.
type testPKI struct {
	roots *x509.CertPool
	shop  pemPair // shop.test, www.shop.test
	wild  pemPair // *.wild.test
	other pemPair // shop.test again, another key
}

type pemPair struct{ cert, key string }

func (p pemPair) tls() *RouteTLS { return &RouteTLS{CertPEM: p.cert, KeyPEM: p.key} }

var pki = sync.OnceValue(func() *testPKI {
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Berth test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	must(err)
	ca, err := x509.ParseCertificate(caDER)
	must(err)
	serial := int64(1)
	leaf := func(names ...string) pemPair {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(err)
		serial++
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: names[0]},
			DNSNames:     names,
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		must(err)
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		must(err)
		chain := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})...)
		return pemPair{cert: string(chain), key: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))}
	}
	p := &testPKI{roots: x509.NewCertPool(), shop: leaf("shop.test", "www.shop.test"), wild: leaf("*.wild.test"), other: leaf("shop.test")}
	p.roots.AddCert(ca)
	return p
})

// startTLSProxy starts a proxy with an HTTPS listener too.
func startTLSProxy(t *testing.T, dir string, mods ...func(*Config)) (*testProxy, string) {
	t.Helper()
	p := startProxy(t, dir, append([]func(*Config){func(c *Config) { c.HTTPSAddr = "127.0.0.1:0" }}, mods...)...)
	st, err := p.c.Status(context.Background())
	if err != nil || st.HTTPSAddr == "" {
		t.Fatalf("Status: %+v %v", st, err)
	}
	return p, st.HTTPSAddr
}

// tlsClient returns a client that sends every https:// request to the
// proxy's HTTPS listener, trusts the test CA, tries HTTP/2 (or not) and
// does not follow redirects.
func tlsClient(t *testing.T, httpsAddr string, h2 bool) *http.Client {
	var d net.Dialer
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pki().roots},
		ForceAttemptHTTP2: h2,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "tcp", httpsAddr)
		},
	}
	if !h2 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, CheckRedirect: noFollow}
}

func noFollow(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// plainClient sends http:// requests without following redirects.
func plainClient(t *testing.T) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, CheckRedirect: noFollow}
}

// fetch sends method url (with host as Host header if set) and returns the
// response with its body read.
func fetch(t *testing.T, c *http.Client, method, url, host string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s (%s): %v", method, url, host, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp, string(body)
}

// handshake connects to addr with server name sni and returns the names of
// the certificate the proxy presented. verify checks it against the test CA.
func handshake(addr, sni string, verify bool) ([]string, error) {
	cfg := &tls.Config{ServerName: sni, RootCAs: pki().roots, InsecureSkipVerify: !verify}
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].DNSNames, nil
}

// echoHost is a backend that answers with the host and path it got.
func echoHost(t *testing.T) *httptest.Server {
	b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", r.Host, r.URL.RequestURI())
	}))
	t.Cleanup(b.Close)
	return b
}

func TestTLSPicksCertificateBySNI(t *testing.T) {
	var logs syncBuffer
	p, httpsAddr := startTLSProxy(t, "", func(c *Config) {
		c.Log = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	b := echoHost(t)
	p.set(Route{App: "shop", Hosts: []string{"shop.test"}, Redirects: []Redirect{{From: "www.shop.test", To: "shop.test"}}, Targets: []Target{target(b, "shop.web.1")}, TLS: pki().shop.tls()})
	p.set(Route{App: "wild", Hosts: []string{"*.wild.test"}, Targets: []Target{target(b, "wild.web.1")}, TLS: pki().wild.tls()})
	p.set(Route{App: "plain", Hosts: []string{"plain.test"}, Targets: []Target{target(b, "plain.web.1")}})

	for sni, want := range map[string][]string{
		"shop.test":     {"shop.test", "www.shop.test"},
		"SHOP.test":     {"shop.test", "www.shop.test"},
		"www.shop.test": {"shop.test", "www.shop.test"}, // a redirect's From: the route's certificate
		"a.wild.test":   {"*.wild.test"},
		"b.wild.test":   {"*.wild.test"},
	} {
		if names, err := handshake(httpsAddr, sni, true); err != nil || !reflect.DeepEqual(names, want) {
			t.Errorf("SNI %s: %v %v, want %v", sni, names, err, want)
		}
	}
	// No certificate: the fallback, which no client trusts.
	for _, sni := range []string{"unknown.test", "plain.test", "a.b.wild.test", "wild.test", ""} {
		if names, err := handshake(httpsAddr, sni, false); err != nil || len(names) != 0 {
			t.Errorf("SNI %q: %v %v, want the fallback certificate", sni, names, err)
		}
		if _, err := handshake(httpsAddr, sni, true); err == nil {
			t.Errorf("SNI %q: the fallback certificate was trusted", sni)
		}
	}
	// Requests over TLS are routed as over HTTP.
	c := tlsClient(t, httpsAddr, true)
	if resp, body := fetch(t, c, "GET", "https://a.wild.test/x", ""); resp.StatusCode != 200 || body != "a.wild.test /x" {
		t.Errorf("wild over TLS: %d %q", resp.StatusCode, body)
	}
	c.CloseIdleConnections() // else an HTTP/2 connection delays the shutdown by 1 s (its GOAWAY timeout)
	p.stop()
	// Failed handshakes are logged at debug only.
	var debug int
	for line := range strings.SplitSeq(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		json.Unmarshal([]byte(line), &m)
		if msg, _ := m["msg"].(string); strings.Contains(msg, "TLS handshake error") {
			if m["level"] != "DEBUG" {
				t.Errorf("handshake error logged at %v: %s", m["level"], line)
			}
			debug++
		}
	}
	if debug == 0 { // the clients that refused the fallback
		t.Errorf("no debug lines for failed handshakes; logs:\n%s", logs.String())
	}
}

// TestTLSFallbackCertificate: a host without a certificate gets the
// fallback one (made once), then a 421 page saying how to add one; an
// unknown host the 404 page; hosts with a certificate are unchanged.
func TestTLSFallbackCertificate(t *testing.T) {
	p, httpsAddr := startTLSProxy(t, "")
	b := echoHost(t)
	p.set(Route{App: "shop", Hosts: []string{"shop.test"}, Targets: []Target{target(b, "shop.web.1")}, TLS: pki().shop.tls()})
	p.set(Route{App: "plain", Hosts: []string{"plain.test", "*.plain.test"}, Redirects: []Redirect{{From: "www.plain.test", To: "plain.test"}}, Targets: []Target{target(b, "plain.web.1")}})

	var first *x509.Certificate
	get := func(host string) (*http.Response, string) {
		t.Helper()
		tr := &http.Transport{
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, "tcp", httpsAddr)
			},
			ForceAttemptHTTP2: true,
		}
		defer tr.CloseIdleConnections()
		resp, body := fetch(t, &http.Client{Transport: tr, CheckRedirect: noFollow}, "GET", "https://"+host+"/x", "")
		leaf := resp.TLS.PeerCertificates[0]
		if host != "shop.test" {
			if first == nil {
				first = leaf
			} else if !first.Equal(leaf) {
				t.Errorf("%s: another fallback certificate than the first", host)
			}
			if len(leaf.DNSNames) != 0 || leaf.Subject.CommonName != "Berth fallback: no certificate for this name" {
				t.Errorf("%s: certificate %v %q", host, leaf.DNSNames, leaf.Subject.CommonName)
			}
		}
		return resp, body
	}
	for _, host := range []string{"plain.test", "a.plain.test", "www.plain.test"} {
		resp, body := get(host)
		want := "No certificate for " + host + " on this server: add one with `berth letsencrypt:enable plain` or `berth certs:add plain`.\n"
		if resp.StatusCode != http.StatusMisdirectedRequest || body != want || resp.Header.Get("Strict-Transport-Security") != "" {
			t.Errorf("%s: %d %q, want 421 %q", host, resp.StatusCode, body, want)
		}
	}
	if resp, body := get("unknown.test"); resp.StatusCode != 404 || !strings.Contains(body, "No app is configured for unknown.test") {
		t.Errorf("unknown.test: %d %q", resp.StatusCode, body)
	}
	if resp, body := get("shop.test"); resp.StatusCode != 200 || body != "shop.test /x" || resp.TLS.PeerCertificates[0].DNSNames[0] != "shop.test" {
		t.Errorf("shop.test: %d %q", resp.StatusCode, body)
	}
	// Over HTTP the app without a certificate is served as before.
	if resp, body := fetch(t, plainClient(t), "GET", "http://"+p.addr+"/x", "plain.test"); resp.StatusCode != 200 || body != "plain.test /x" {
		t.Errorf("plain.test over HTTP: %d %q", resp.StatusCode, body)
	}
}

func TestTLSHTTP2(t *testing.T) {
	p, httpsAddr := startTLSProxy(t, "")
	got := make(chan *http.Request, 1)
	next := make(chan struct{})
	b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/events":
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "data: one\n\n")
			http.NewResponseController(w).Flush()
			select {
			case <-next:
			case <-r.Context().Done():
				return
			}
			io.WriteString(w, "data: two\n\n")
		case "/echo":
			n, _ := io.Copy(io.Discard, r.Body)
			fmt.Fprintf(w, "%d bytes", n)
		case "/socket":
			wsEcho(w, r)
		default:
			got <- r
			io.WriteString(w, "ok")
		}
	}))
	defer b.Close()
	p.set(Route{App: "shop", Hosts: []string{"shop.test"}, Targets: []Target{target(b, "shop.web.1")}, TLS: pki().shop.tls()})
	_, tlsPort, _ := net.SplitHostPort(httpsAddr)

	for _, h2 := range []bool{true, false} {
		c := tlsClient(t, httpsAddr, h2)
		req, _ := http.NewRequest("GET", "https://shop.test/", nil)
		req.Header.Set("X-Forwarded-Proto", "http") // replaced
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if want := map[bool]int{true: 2, false: 1}[h2]; resp.ProtoMajor != want {
			t.Errorf("h2=%v: protocol %s", h2, resp.Proto)
		}
		in := <-got
		for k, want := range map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Port": tlsPort, "X-Forwarded-Host": "shop.test"} {
			if v := in.Header.Values(k); len(v) != 1 || v[0] != want {
				t.Errorf("h2=%v: %s = %q, want %q", h2, k, v, want)
			}
		}
		if in.Host != "shop.test" {
			t.Errorf("h2=%v: backend saw Host %q", h2, in.Host)
		}

		// A request body.
		resp, err = c.Post("https://shop.test/echo", "text/plain", strings.NewReader(strings.Repeat("x", 100000)))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "100000 bytes" {
			t.Errorf("h2=%v: POST: %q", h2, body)
		}

		// A streaming response streams.
		resp, err = c.Get("https://shop.test/events")
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(resp.Body)
		if line, err := br.ReadString('\n'); line != "data: one\n" || err != nil {
			t.Fatalf("h2=%v: first event: %q %v", h2, line, err)
		}
		next <- struct{}{}
		if rest, err := io.ReadAll(br); string(rest) != "\ndata: two\n\n" || err != nil {
			t.Errorf("h2=%v: rest: %q %v", h2, rest, err)
		}
		resp.Body.Close()
	}

	// A WebSocket over TLS (HTTP/1.1).
	conn, err := tls.Dial("tcp", httpsAddr, &tls.Config{ServerName: "shop.test", RootCAs: pki().roots, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var raw [16]byte
	rand.Read(raw[:])
	key := base64.StdEncoding.EncodeToString(raw[:])
	fmt.Fprintf(conn, "GET /socket HTTP/1.1\r\nHost: shop.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", key)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Accept") != wsAccept(key) {
		t.Fatalf("WebSocket handshake: %v %v", resp, err)
	}
	if err := wsWrite(conn, wsText, []byte("hello"), true); err != nil {
		t.Fatal(err)
	}
	if op, msg, err := wsRead(br); op != wsText || string(msg) != "hello" || err != nil {
		t.Errorf("WebSocket echo: %d %q %v", op, msg, err)
	}
}

func TestRedirectHTTPToHTTPSAndChallenges(t *testing.T) {
	p, httpsAddr := startTLSProxy(t, "")
	ctx := context.Background()
	b := echoHost(t)
	shop := Route{App: "shop", Hosts: []string{"shop.test"}, Redirects: []Redirect{{From: "www.shop.test", To: "shop.test"}}, Targets: []Target{target(b, "shop.web.1")}, TLS: pki().shop.tls()}
	shop.TLS.RedirectHTTP = true
	p.set(shop)
	p.set(Route{App: "wild", Hosts: []string{"*.wild.test"}, Targets: []Target{target(b, "wild.web.1")}, TLS: pki().wild.tls()}) // no redirect
	_, tlsPort, _ := net.SplitHostPort(httpsAddr)
	hc := plainClient(t)
	base := "http://" + p.addr

	for _, method := range []string{"GET", "HEAD", "POST"} {
		resp, _ := fetch(t, hc, method, base+"/a%20b/c%2Fd?x=1&y=2", "Shop.Test:8080")
		if want := "https://shop.test:" + tlsPort + "/a%20b/c%2Fd?x=1&y=2"; resp.StatusCode != 301 || resp.Header.Get("Location") != want {
			t.Errorf("%s over HTTP: %d %q, want 301 %q", method, resp.StatusCode, resp.Header.Get("Location"), want)
		}
		if resp.Header.Get("Strict-Transport-Security") != "" {
			t.Error("HSTS over HTTP")
		}
	}
	// Served over TLS; a route without RedirectHTTP is served over HTTP.
	if resp, body := fetch(t, tlsClient(t, httpsAddr, true), "GET", "https://shop.test/a%20b?x=1&y=2", ""); resp.StatusCode != 200 || body != "shop.test /a%20b?x=1&y=2" {
		t.Errorf("over TLS: %d %q", resp.StatusCode, body)
	}
	if resp, body := fetch(t, hc, "GET", base+"/", "a.wild.test"); resp.StatusCode != 200 || body != "a.wild.test /" {
		t.Errorf("no redirect: %d %q", resp.StatusCode, body)
	}

	// ACME challenges: answered over HTTP for any host, before redirects
	// and routing.
	const token, keyAuth = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA", "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"
	if err := p.c.SetChallenge(ctx, token, keyAuth); err != nil {
		t.Fatal(err)
	}
	path := "/.well-known/acme-challenge/" + token
	for _, host := range []string{"shop.test", "www.shop.test", "unknown.test", "a.wild.test", ""} {
		resp, body := fetch(t, hc, "GET", base+path, host)
		if resp.StatusCode != 200 || body != keyAuth || resp.Header.Get("Content-Type") != "text/plain" {
			t.Errorf("challenge for %q: %d %q %q", host, resp.StatusCode, body, resp.Header.Get("Content-Type"))
		}
	}
	if resp, body := fetch(t, hc, "HEAD", base+path, "shop.test"); resp.StatusCode != 200 || body != "" {
		t.Errorf("HEAD challenge: %d %q", resp.StatusCode, body)
	}
	// Other tokens are routed, and not redirected to HTTPS.
	other := "/.well-known/acme-challenge/other"
	if resp, body := fetch(t, hc, "GET", base+other, "shop.test"); resp.StatusCode != 200 || body != "shop.test "+other {
		t.Errorf("unknown token for a redirected route: %d %q", resp.StatusCode, body)
	}
	if resp, _ := fetch(t, hc, "GET", base+other, "unknown.test"); resp.StatusCode != 404 {
		t.Errorf("unknown token for an unknown host: %d", resp.StatusCode)
	}
	if err := p.c.ClearChallenge(ctx, token); err != nil {
		t.Fatal(err)
	}
	if resp, _ := fetch(t, hc, "GET", base+path, "unknown.test"); resp.StatusCode != 404 {
		t.Errorf("cleared challenge: %d", resp.StatusCode)
	}
	if err := p.c.ClearChallenge(ctx, token); err != nil {
		t.Errorf("clearing twice: %v", err)
	}
	for _, c := range [][2]string{{"a/b", "a/b.x"}, {"", ".x"}, {token, "wrong.thumb"}, {token, token + "."}, {token, token + ".a b"}} {
		if err := p.c.SetChallenge(ctx, c[0], c[1]); !errors.Is(err, ErrInvalidRoute) {
			t.Errorf("SetChallenge(%q, %q): %v", c[0], c[1], err)
		}
	}

	// Without an HTTPS listener, RedirectHTTP does nothing.
	p2 := startProxy(t, "")
	p2.set(shop)
	if resp, body := fetch(t, hc, "GET", "http://"+p2.addr+"/x", "shop.test"); resp.StatusCode != 200 || body != "shop.test /x" {
		t.Errorf("no HTTPS listener: %d %q", resp.StatusCode, body)
	}
}

func TestChallengesExpire(t *testing.T) {
	var c expiring[string]
	t0 := time.Now()
	c.set("a", "a.x", t0)
	if ka, ok := c.get("a", t0.Add(ChallengeTTL-time.Second)); !ok || ka != "a.x" {
		t.Errorf("before the TTL: %q %v", ka, ok)
	}
	if _, ok := c.get("a", t0.Add(ChallengeTTL)); ok {
		t.Error("answered after the TTL")
	}
	c.set("b", "b.x", t0)
	c.set("b", "b.y", t0.Add(30*time.Minute)) // renewed
	c.set("c", "c.x", t0.Add(ChallengeTTL))
	if ka, ok := c.get("b", t0.Add(ChallengeTTL+time.Minute)); !ok || ka != "b.y" {
		t.Errorf("renewed: %q %v", ka, ok)
	}
	c.set("d", "d.x", t0.Add(2*ChallengeTTL)) // sweeps b and c
	if len(c.m) != 1 {
		t.Errorf("expired challenges kept: %v", c.m)
	}
}

func TestHSTS(t *testing.T) {
	p, httpsAddr := startTLSProxy(t, "")
	b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/own" {
			w.Header().Set("Strict-Transport-Security", "max-age=5")
		}
		io.WriteString(w, "ok")
	}))
	defer b.Close()
	shop := Route{App: "shop", Hosts: []string{"shop.test"}, Redirects: []Redirect{{From: "www.shop.test", To: "shop.test"}}, Targets: []Target{target(b, "shop.web.1")}, TLS: pki().shop.tls()}
	shop.TLS.HSTS = &HSTS{MaxAge: 365 * 24 * time.Hour, IncludeSubdomains: true, Preload: true}
	p.set(shop)
	wild := Route{App: "wild", Hosts: []string{"*.wild.test"}, Targets: []Target{target(b, "wild.web.1")}, TLS: pki().wild.tls()}
	wild.TLS.HSTS = &HSTS{MaxAge: time.Hour}
	p.set(wild)
	p.set(Route{App: "idle", Hosts: []string{"idle.wild.test"}, TLS: pki().wild.tls()}) // no targets: a page

	c := tlsClient(t, httpsAddr, true)
	hc := plainClient(t)
	const full = "max-age=31536000; includeSubDomains; preload"
	for _, tc := range []struct {
		url, want string
		code      int
	}{
		{"https://shop.test/", full, 200},
		{"https://shop.test/own", full, 200}, // replaces the app's
		{"https://www.shop.test/", full, 301},
		{"https://a.wild.test/", "max-age=3600", 200},
		{"https://idle.wild.test/", "", 503},
	} {
		resp, _ := fetch(t, c, "GET", tc.url, "")
		if v := resp.Header.Values("Strict-Transport-Security"); resp.StatusCode != tc.code || tc.want == "" && len(v) != 0 || tc.want != "" && !slices.Equal(v, []string{tc.want}) {
			t.Errorf("%s: %d %q, want %d %q", tc.url, resp.StatusCode, v, tc.code, tc.want)
		}
	}
	// Not over HTTP, even though the route has HSTS.
	for _, host := range []string{"shop.test", "www.shop.test", "a.wild.test"} {
		if resp, _ := fetch(t, hc, "GET", "http://"+p.addr+"/", host); resp.Header.Get("Strict-Transport-Security") != "" {
			t.Errorf("%s: HSTS over HTTP", host)
		}
	}
}

func TestDomainRedirects(t *testing.T) {
	p, httpsAddr := startTLSProxy(t, "")
	ctx := context.Background()
	b := echoHost(t)
	shop := Route{App: "shop", Hosts: []string{"shop.test"}, Redirects: []Redirect{{From: "WWW.shop.test.", To: "Shop.Test"}}, Targets: []Target{target(b, "shop.web.1")}, TLS: pki().shop.tls()}
	p.set(shop)
	wild := Route{App: "wild", Hosts: []string{"*.wild.test"}, Redirects: []Redirect{{From: "go.wild.test", To: "docs.wild.test", Code: 308}, {From: "*.old.test", To: "docs.wild.test:8443", Code: 302}}, Targets: []Target{target(b, "wild.web.1")}, TLS: pki().wild.tls()}
	p.set(wild)

	const uri = "/a%20b/c%2Fd%7e?x=1&y=2&z=%41"
	clients := map[string]*http.Client{"http": plainClient(t), "https": tlsClient(t, httpsAddr, true)}
	for _, scheme := range []string{"http", "https"} {
		for _, tc := range []struct {
			host, to string
			code     int
		}{
			{"www.shop.test", "shop.test", 301},
			{"go.wild.test", "docs.wild.test", 308},
			{"x.old.test", "docs.wild.test:8443", 302},
		} {
			if scheme == "https" && tc.host == "x.old.test" {
				continue // no certificate for it
			}
			url := "https://" + tc.host + uri
			if scheme == "http" {
				url = "http://" + p.addr + uri
			}
			resp, _ := fetch(t, clients[scheme], "GET", url, tc.host)
			if want := scheme + "://" + tc.to + uri; resp.StatusCode != tc.code || resp.Header.Get("Location") != want {
				t.Errorf("%s %s: %d %q, want %d %q", scheme, tc.host, resp.StatusCode, resp.Header.Get("Location"), tc.code, want)
			}
		}
	}
	// The targets themselves are served.
	if resp, body := fetch(t, clients["https"], "GET", "https://docs.wild.test"+uri, ""); resp.StatusCode != 200 || body != "docs.wild.test "+uri {
		t.Errorf("docs.wild.test: %d %q", resp.StatusCode, body)
	}
	// Normalized as set: host names lower-case, code 0 kept.
	routes, _ := p.c.Routes(ctx)
	if len(routes) != 2 || !reflect.DeepEqual(routes[0].Redirects, []Redirect{{From: "www.shop.test", To: "shop.test"}}) || !reflect.DeepEqual(routes[1].Redirects, wild.Redirects) {
		t.Errorf("routes: %+v", routes)
	}

	// A redirect's From is claimed like a host.
	for _, r := range []Route{
		{App: "blog", Hosts: []string{"www.shop.test"}},
		{App: "blog", Redirects: []Redirect{{From: "shop.test", To: "blog.test"}}},
		{App: "blog", Redirects: []Redirect{{From: "go.wild.test", To: "blog.test"}}},
		{App: "blog", Redirects: []Redirect{{From: "*.wild.test", To: "blog.test"}}},
	} {
		if err := p.c.SetRoute(ctx, r); !errors.Is(err, ErrHostConflict) {
			t.Errorf("%+v: %v, want a conflict", r, err)
		}
	}
	for _, rd := range [][]Redirect{
		{{From: "shop.test", To: "blog.test"}}, // one of the route's hosts
		{{From: "a.test", To: "b.test", Code: 300}},
		{{From: "a.test", To: "b.test", Code: 200}},
		{{From: "a.test", To: "*.b.test"}},
		{{From: "a.test", To: "b.test/x"}},
		{{From: "a.test", To: "b.test:0"}},
		{{From: "a.test", To: ""}},
		{{From: "a b.test", To: "b.test"}},
		{{From: "a.test", To: "A.test"}},      // a loop
		{{From: "*.a.test", To: "x.a.test"}},  // a loop
		{{From: "a.test", To: "a.test:8443"}}, // a loop too
		{{From: "a.test", To: "b.test"}, {From: "a.test", To: "c.test"}},
	} {
		r := Route{App: "shop", Hosts: []string{"shop.test"}, Redirects: rd}
		if err := p.c.SetRoute(ctx, r); !errors.Is(err, ErrInvalidRoute) || !strings.Contains(err.Error(), "shop") {
			t.Errorf("%+v: %v, want invalid", rd, err)
		}
	}
}

func TestTLSInvalidCertificateRefused(t *testing.T) {
	p, _ := startTLSProxy(t, "")
	ctx := context.Background()
	k := pki()
	for name, tl := range map[string]*RouteTLS{
		"key of another cert": {CertPEM: k.shop.cert, KeyPEM: k.other.key},
		"garbage":             {CertPEM: "not a certificate", KeyPEM: k.shop.key},
		"garbage key":         {CertPEM: k.shop.cert, KeyPEM: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"},
		"no key":              {CertPEM: k.shop.cert},
		"negative HSTS":       {CertPEM: k.shop.cert, KeyPEM: k.shop.key, HSTS: &HSTS{MaxAge: -1}},
	} {
		err := p.c.SetRoute(ctx, Route{App: "shop", Hosts: []string{"shop.test"}, TLS: tl})
		if !errors.Is(err, ErrInvalidRoute) || !strings.Contains(err.Error(), "app shop") || strings.Contains(err.Error(), "PRIVATE") {
			t.Errorf("%s: %v, want invalid naming the app", name, err)
		}
		err = p.c.Replace(ctx, []Route{{App: "blog"}, {App: "shop", Hosts: []string{"shop.test"}, TLS: tl}})
		if !errors.Is(err, ErrInvalidRoute) {
			t.Errorf("%s: Replace: %v", name, err)
		}
	}
	if routes, err := p.c.Routes(ctx); err != nil || len(routes) != 0 {
		t.Errorf("routes: %+v %v", routes, err)
	}
}

func TestTLSUncoveredHostsReported(t *testing.T) {
	var logs syncBuffer
	p, _ := startTLSProxy(t, "", func(c *Config) { c.Log = slog.New(slog.NewJSONHandler(&logs, nil)) })
	ctx := context.Background()
	r := Route{App: "shop", Hosts: []string{"shop.test", "extra.test", "*.shop.test"}, Redirects: []Redirect{{From: "www.shop.test", To: "shop.test"}, {From: "old.test", To: "shop.test"}}, TLS: pki().shop.tls()}
	p.set(r) // accepted: the daemon knows
	routes, err := p.c.Routes(ctx)
	if err != nil || len(routes) != 1 {
		t.Fatal(routes, err)
	}
	if got, want := routes[0].TLS.Uncovered, []string{"extra.test", "*.shop.test", "old.test"}; !reflect.DeepEqual(got, want) {
		t.Errorf("uncovered %q, want %q", got, want)
	}
	if !strings.Contains(logs.String(), `"hosts":["extra.test","*.shop.test","old.test"]`) {
		t.Errorf("not logged:\n%s", logs.String())
	}
	// Setting back what Routes returned changes nothing.
	if err := p.c.SetRoute(ctx, routes[0]); err != nil {
		t.Fatal(err)
	}
	if again, _ := p.c.Routes(ctx); !reflect.DeepEqual(again, routes) {
		t.Errorf("after setting it back: %+v", again)
	}
	// A wildcard certificate covers its names.
	p.set(Route{App: "wild", Hosts: []string{"*.wild.test", "a.wild.test"}, TLS: pki().wild.tls()})
	routes, _ = p.c.Routes(ctx)
	if routes[1].TLS.Uncovered != nil {
		t.Errorf("wild: uncovered %q", routes[1].TLS.Uncovered)
	}
}

func TestTLSPersistence(t *testing.T) {
	dir := shortDir(t)
	ctx := context.Background()
	b := echoHost(t)
	p, _ := startTLSProxy(t, dir)
	shop := Route{App: "shop", Hosts: []string{"shop.test"}, Redirects: []Redirect{{From: "www.shop.test", To: "shop.test", Code: 308}}, Targets: []Target{target(b, "shop.web.1")}, TLS: pki().shop.tls()}
	shop.TLS.HSTS = &HSTS{MaxAge: time.Hour, IncludeSubdomains: true}
	shop.TLS.RedirectHTTP = true
	p.set(shop)
	p.set(Route{App: "wild", Hosts: []string{"*.wild.test"}, Targets: []Target{target(b, "wild.web.1")}, TLS: pki().wild.tls()})
	if err := p.stop(); err != nil {
		t.Fatal(err)
	}
	// The key is in the state file, which only its owner reads.
	fi, err := os.Stat(p.state)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file: %v %v", fi, err)
	}
	if data, _ := os.ReadFile(p.state); !strings.Contains(string(data), "PRIVATE KEY") {
		t.Fatal("the key is not in the state file")
	}
	if entries, _ := os.ReadDir(dir); slices.ContainsFunc(entries, func(e os.DirEntry) bool { return strings.HasSuffix(e.Name(), ".tmp") }) {
		t.Errorf("temporary files left: %v", entries)
	}

	p2, httpsAddr := startTLSProxy(t, dir)
	for sni, want := range map[string]string{"shop.test": "shop.test", "a.wild.test": "*.wild.test"} {
		if names, err := handshake(httpsAddr, sni, true); err != nil || names[0] != want {
			t.Errorf("after restart: SNI %s: %v %v", sni, names, err)
		}
	}
	c := tlsClient(t, httpsAddr, true)
	if resp, body := fetch(t, c, "GET", "https://shop.test/x", ""); resp.StatusCode != 200 || body != "shop.test /x" || resp.Header.Get("Strict-Transport-Security") != "max-age=3600; includeSubDomains" {
		t.Errorf("after restart: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	_, tlsPort, _ := net.SplitHostPort(httpsAddr)
	if resp, _ := fetch(t, plainClient(t), "GET", "http://"+p2.addr+"/x?y", "shop.test"); resp.StatusCode != 301 || resp.Header.Get("Location") != "https://shop.test:"+tlsPort+"/x?y" {
		t.Errorf("redirect to HTTPS after restart: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	routes, err := p2.c.Routes(ctx)
	if err != nil || len(routes) != 2 || !reflect.DeepEqual(routes[0], shop) {
		t.Errorf("routes after restart: %+v %v", routes, err)
	}
	// Setting the same route again parses nothing and changes nothing.
	if err := p2.c.SetRoute(ctx, shop); err != nil {
		t.Fatal(err)
	}
}

// A state file written by the proxy before TLS (no tls or redirects
// fields) still loads.
func TestStateFileWithoutTLSLoads(t *testing.T) {
	dir := shortDir(t)
	b := newWeb(t, "shop")
	old := `{
  "version": 1,
  "routes": [
    {
      "app": "shop",
      "hosts": ["shop.example.com"],
      "targets": [{"addr": "` + addr(b.Server) + `", "container": "shop.web.1"}],
      "liveness": {"path": "/", "interval": 3600000000000, "timeout": 1000000000, "failures": 3, "successes": 1},
      "max_body_bytes": 1048576
    }
  ]
}
`
	if err := os.WriteFile(filepath.Join(dir, "routes.json"), []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	p, _ := startTLSProxy(t, dir)
	if code, body, _ := p.get("shop.example.com", "/"); code != 200 || body != "shop" {
		t.Errorf("old state: %d %q", code, body)
	}
	routes, err := p.c.Routes(context.Background())
	if err != nil || len(routes) != 1 || routes[0].TLS != nil || routes[0].Redirects != nil || routes[0].MaxBodyBytes != 1<<20 {
		t.Errorf("routes: %+v %v", routes, err)
	}
}
