package proxy

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	stdlog "log"
	"log/slog"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"
)

// RouteTLS is an app's certificate and how its hosts use HTTPS. The daemon
// obtains certificates (ACME runs there) and pushes them with the route.
type RouteTLS struct {
	// CertPEM is the full chain, leaf first; KeyPEM its private key. They
	// are parsed once when the route is set: a pair that does not parse or
	// match refuses the route. The state file holding them is mode 0600.
	CertPEM string `json:"cert_pem"`
	KeyPEM  string `json:"key_pem"`
	// HSTS adds Strict-Transport-Security to every response served over
	// TLS for the route's hosts (replacing the app's own). Nil: none.
	HSTS *HSTS `json:"hsts,omitempty"`
	// RedirectHTTP answers requests over HTTP with 301 to the same URL on
	// HTTPS, except ACME HTTP-01 challenges (/.well-known/acme-challenge/).
	// Without an HTTPS listener (Config.HTTPSAddr) there is no redirect.
	RedirectHTTP bool `json:"redirect_http,omitempty"`
	// Uncovered is reported by the proxy in what Routes returns: the hosts
	// of the route and the From hosts of its redirects that the
	// certificate's names do not cover. The route is served anyway (clients
	// will refuse the certificate for them). Ignored when a route is set.
	Uncovered []string `json:"uncovered,omitempty"`
}

// HSTS is a Strict-Transport-Security policy.
type HSTS struct {
	MaxAge            time.Duration `json:"max_age"` // whole seconds are sent; 0 tells browsers to forget the policy
	IncludeSubdomains bool          `json:"include_subdomains,omitempty"`
	Preload           bool          `json:"preload,omitempty"`
}

// header returns the Strict-Transport-Security value of h.
func (h *HSTS) header() string {
	v := "max-age=" + strconv.FormatInt(int64(h.MaxAge/time.Second), 10)
	if h.IncludeSubdomains {
		v += "; includeSubDomains"
	}
	if h.Preload {
		v += "; preload"
	}
	return v
}

// routeCert is a route's parsed certificate. Tables share it while the
// route keeps the same PEM, so a certificate is parsed once.
type routeCert struct {
	certPEM, keyPEM string // as set
	cert            *tls.Certificate
}

func (c *routeCert) leaf() *x509.Certificate { return c.cert.Leaf }

// parseCert parses the certificate and key of a route with TLS; an invalid
// pair is an invalid route, naming the app. The key never appears in
// errors or logs.
func parseCert(r Route) (*routeCert, error) {
	cert, err := tls.X509KeyPair([]byte(r.TLS.CertPEM), []byte(r.TLS.KeyPEM))
	if err != nil {
		return nil, errInvalid("app %s: invalid TLS certificate or key: %v", r.App, err)
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, errInvalid("app %s: invalid TLS certificate: %v", r.App, err)
		}
	}
	return &routeCert{certPEM: r.TLS.CertPEM, keyPEM: r.TLS.KeyPEM, cert: &cert}, nil
}

// parseCerts returns the parsed certificates of the routes of cfg with TLS,
// by app. Certificates the live table has for the same app and PEM are
// reused; others are parsed. Called with s.mu held.
func (s *server) parseCerts(cfg map[string]Route) (map[string]*routeCert, error) {
	live := s.table.Load()
	certs := make(map[string]*routeCert)
	apps := make([]string, 0, len(cfg))
	for app := range cfg {
		apps = append(apps, app)
	}
	slices.Sort(apps) // the same app is named first for the same input
	for _, app := range apps {
		r := cfg[app]
		if r.TLS == nil {
			continue
		}
		if old := live.apps[app]; old != nil && old.tls != nil && old.tls.certPEM == r.TLS.CertPEM && old.tls.keyPEM == r.TLS.KeyPEM {
			certs[app] = old.tls
			continue
		}
		c, err := parseCert(r)
		if err != nil {
			return nil, err
		}
		certs[app] = c
	}
	return certs, nil
}

// uncoveredHosts returns the hosts of r, and the From hosts of its
// redirects, that leaf's names do not cover. A wildcard host is covered
// only by the same wildcard name.
func uncoveredHosts(leaf *x509.Certificate, r Route) []string {
	var out []string
	check := func(h string) {
		var ok bool
		if strings.HasPrefix(h, "*.") {
			ok = slices.ContainsFunc(leaf.DNSNames, func(n string) bool { return strings.EqualFold(n, h) })
		} else {
			ok = leaf.VerifyHostname(h) == nil
		}
		if !ok {
			out = append(out, h)
		}
	}
	for _, h := range r.Hosts {
		check(h)
	}
	for _, rd := range r.Redirects {
		check(rd.From)
	}
	return out
}

// reportCerts logs, for the routes of t whose certificate or hosts changed
// since old, the hosts the certificate does not cover and a certificate
// past its validity.
func (s *server) reportCerts(old, t *table) {
	for app, rt := range t.apps {
		if rt.tls == nil {
			continue
		}
		o := old.apps[app]
		if o != nil && o.tls == rt.tls && slices.Equal(o.uncovered, rt.uncovered) {
			continue
		}
		if len(rt.uncovered) > 0 {
			s.log.Warn("the TLS certificate does not cover some hosts of the route: clients will refuse it for them", "app", app, "hosts", rt.uncovered)
		}
		if leaf := rt.tls.leaf(); time.Now().After(leaf.NotAfter) && (o == nil || o.tls != rt.tls) {
			s.log.Warn("the TLS certificate has expired", "app", app, "not_after", leaf.NotAfter)
		}
	}
}

// getCertificate picks the certificate of a TLS handshake by its server
// name (SNI), as requests are routed: the exact host, then a one-label
// wildcard; the From host of a redirect uses its route's certificate. An
// unknown name, a host without a certificate, or none gets the fallback
// certificate, so that the client (once it accepts it) gets a page saying
// what is missing rather than a bare TLS alert. The lookup is a map read;
// the fallback is made on its first use.
func (s *server) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if name := requestHost(hello.ServerName); name != "" {
		if v := s.table.Load().lookup(name); v != nil && v.rt.tls != nil {
			return v.rt.tls.cert, nil
		}
	}
	return s.fallback()
}

// newFallbackCert makes the fallback certificate: self-signed, for no
// name, so no client trusts it for anything. It lives in memory only; each
// proxy process makes its own.
func newFallbackCert() (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("fallback certificate: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("fallback certificate: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{Organization: []string{"Berth"}, CommonName: "Berth fallback: no certificate for this name"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("fallback certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("fallback certificate: %w", err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// newTLSConfig returns the configuration of the HTTPS listener: TLS 1.2 and
// up with Go's default cipher suites, HTTP/2 and HTTP/1.1 by ALPN, and the
// certificate picked by getCertificate; ACME TLS-ALPN-01 validations get
// theirs from configForClient.
func (s *server) newTLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		GetCertificate:     s.getCertificate,
		GetConfigForClient: s.configForClient,
		NextProtos:         []string{"h2", "http/1.1"},
	}
}

// newErrorLog returns the ErrorLog of the listeners' http.Servers.
func newErrorLog(l *slog.Logger) *stdlog.Logger { return stdlog.New(serverLog{l}, "", 0) }

// serverLog is the ErrorLog of the listeners' http.Servers: warnings, but
// failed TLS handshakes (scanners, unknown names, clients refusing a
// certificate) are only debug.
type serverLog struct{ log *slog.Logger }

func (l serverLog) Write(p []byte) (int, error) {
	msg := strings.TrimSuffix(string(p), "\n")
	level := slog.LevelWarn
	if strings.HasPrefix(msg, "http: TLS handshake error") {
		level = slog.LevelDebug
	}
	l.log.Log(context.Background(), level, msg)
	return len(p), nil
}
