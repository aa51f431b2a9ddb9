package proxy

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// acmePrefix is the path of ACME HTTP-01 challenges (RFC 8555, 8.3).
const acmePrefix = "/.well-known/acme-challenge/"

// ChallengeTTL is how long a challenge (HTTP-01 or TLS-ALPN-01) is
// answered if the daemon never clears it.
const ChallengeTTL = time.Hour

// expiring holds what the daemon set for ACME validations, each for at most
// ChallengeTTL: HTTP-01 key authorizations by token, TLS-ALPN-01
// handshake configurations by DNS name (lower-case). They live in memory
// only: a challenge outlives neither the order it belongs to nor, usefully,
// a restart of the proxy.
type expiring[V any] struct {
	mu sync.Mutex
	m  map[string]expiringValue[V]
}

type expiringValue[V any] struct {
	v       V
	expires time.Time
}

// set adds or replaces the value of key until now+ChallengeTTL, and forgets
// the expired ones.
func (c *expiring[V]) set(key string, v V, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]expiringValue[V])
	}
	for k, e := range c.m {
		if !now.Before(e.expires) {
			delete(c.m, k)
		}
	}
	c.m[key] = expiringValue[V]{v: v, expires: now.Add(ChallengeTTL)}
}

func (c *expiring[V]) clear(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, key)
}

// get returns the value of key, if set and not expired.
func (c *expiring[V]) get(key string, now time.Time) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if ok && !now.Before(e.expires) {
		delete(c.m, key)
		ok = false
	}
	if !ok {
		var zero V
		return zero, false
	}
	return e.v, true
}

// validToken accepts an ACME token: base64url characters (RFC 8555 says at
// least 128 bits of entropy; this only bounds the length).
func validToken(token string) bool {
	if len(token) == 0 || len(token) > 256 {
		return false
	}
	for i := 0; i < len(token); i++ {
		c := token[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// checkChallenge validates a challenge the daemon sets: the key
// authorization is the token, a dot and the account key's thumbprint.
func checkChallenge(token, keyAuth string) error {
	if !validToken(token) {
		return errInvalid("invalid ACME challenge token %q", token)
	}
	thumb, ok := strings.CutPrefix(keyAuth, token+".")
	if !ok || !validToken(thumb) {
		return errInvalid("invalid key authorization for ACME challenge token %s (want TOKEN.THUMBPRINT)", token)
	}
	return nil
}

// answerChallenge answers a GET or HEAD of /.well-known/acme-challenge/TOKEN
// with TOKEN's key authorization if the daemon set it, whatever the host.
// It returns false, having written nothing, for any other request.
func (ex *exchange) answerChallenge(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	token, ok := strings.CutPrefix(r.URL.Path, acmePrefix)
	if !ok || !validToken(token) {
		return false
	}
	keyAuth, ok := ex.s.acme.get(token, time.Now())
	if !ok {
		return false
	}
	h := ex.w.Header()
	h.Set("Content-Type", "text/plain")
	h.Set("Content-Length", strconv.Itoa(len(keyAuth)))
	h.Set("Cache-Control", "no-store")
	h["X-Request-Id"] = []string{ex.id}
	ex.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		ex.Write([]byte(keyAuth))
	}
	return true
}

// alpnProto is the ALPN protocol of ACME TLS-ALPN-01 validation handshakes
// (RFC 8737, 6.2).
const alpnProto = "acme-tls/1"

// oidACMEIdentifier is id-pe-acmeIdentifier, the critical extension of a
// TLS-ALPN-01 challenge certificate (RFC 8737, 3).
var oidACMEIdentifier = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 31}

// checkALPNName validates the name of a TLS-ALPN-01 challenge and returns
// it lower-case: a DNS name, no wildcard (RFC 8737 does not validate
// wildcards).
func checkALPNName(name string) (string, error) {
	n := strings.ToLower(name)
	if strings.HasPrefix(n, "*.") || !validHostPattern(n) {
		return "", errInvalid("invalid name %q for an ACME TLS-ALPN-01 challenge (want a DNS name, no wildcard)", name)
	}
	return n, nil
}

// parseALPNCert validates a TLS-ALPN-01 challenge certificate for name
// (lower-case, see checkALPNName): the PEM pair parses and matches, and its
// leaf is a challenge certificate for name (one DNS name, name, and the
// critical acmeIdentifier extension). It returns the configuration of the
// validation handshakes: that certificate, acme-tls/1, no session
// resumption. The key never appears in errors.
func parseALPNCert(name, certPEM, keyPEM string) (*tls.Config, error) {
	cert, err := tls.X509KeyPair([]byte(certPEM), []byte(keyPEM))
	if err != nil {
		return nil, errInvalid("ACME TLS-ALPN-01 challenge for %s: invalid certificate or key: %v", name, err)
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, errInvalid("ACME TLS-ALPN-01 challenge for %s: invalid certificate: %v", name, err)
		}
	}
	if names := cert.Leaf.DNSNames; len(names) != 1 || !strings.EqualFold(names[0], name) {
		return nil, errInvalid("ACME TLS-ALPN-01 challenge for %s: the certificate is for %q, want exactly %s", name, names, name)
	}
	var ext *pkix.Extension
	for i, e := range cert.Leaf.Extensions {
		if e.Id.Equal(oidACMEIdentifier) {
			ext = &cert.Leaf.Extensions[i]
		}
	}
	if ext == nil || !ext.Critical {
		return nil, errInvalid("ACME TLS-ALPN-01 challenge for %s: not a challenge certificate (no critical acmeIdentifier extension, RFC 8737)", name)
	}
	var digest []byte
	if rest, err := asn1.Unmarshal(ext.Value, &digest); err != nil || len(rest) > 0 || len(digest) != 32 {
		return nil, errInvalid("ACME TLS-ALPN-01 challenge for %s: the acmeIdentifier extension is not a SHA-256 digest", name)
	}
	return &tls.Config{
		MinVersion:             tls.VersionTLS12,
		Certificates:           []tls.Certificate{cert},
		NextProtos:             []string{alpnProto},
		SessionTicketsDisabled: true, // a validation is a full handshake
	}, nil
}

// configForClient answers ACME TLS-ALPN-01 validations on the HTTPS
// listener (its GetConfigForClient). A ClientHello whose only ALPN protocol
// is acme-tls/1 gets the challenge certificate the daemon set for its
// server name and negotiates acme-tls/1; with none set, the handshake
// fails. Such a connection serves no HTTP: http.Server closes a connection
// whose negotiated protocol has no TLSNextProto handler as soon as the
// handshake is done. Any other hello (h2, http/1.1, no ALPN) gets the
// listener's configuration (nil).
func (s *server) configForClient(hello *tls.ClientHelloInfo) (*tls.Config, error) {
	if len(hello.SupportedProtos) != 1 || hello.SupportedProtos[0] != alpnProto {
		return nil, nil
	}
	if hello.ServerName == "" {
		return nil, fmt.Errorf("ACME TLS-ALPN-01: the client sent no server name (SNI)")
	}
	name := requestHost(hello.ServerName)
	if config, ok := s.alpn.get(name, time.Now()); ok {
		s.log.Debug("ACME TLS-ALPN-01 validation: presenting the challenge certificate", "name", name)
		return config, nil
	}
	if len(name) > 100 {
		name = name[:100] + "..."
	}
	return nil, fmt.Errorf("ACME TLS-ALPN-01: no challenge certificate for %q", name)
}
