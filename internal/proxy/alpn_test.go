package proxy

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/acme"
)

// acmeAccount is a fake ACME account: TLSALPN01ChallengeCert only needs its
// key, for the key authorization.
var acmeAccount = sync.OnceValue(func() *acme.Client {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return &acme.Client{Key: key}
})

var rsaKey = sync.OnceValue(func() *rsa.PrivateKey {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return key
})

// alpnPair is a TLS-ALPN-01 challenge certificate as the daemon sends it.
type alpnPair struct {
	cert, key string
	der       []byte // the certificate
}

// Encodings of a challenge certificate's key.
const (
	pkcs8 = iota
	sec1  // ECDSA only
	pkcs1 // RSA only
)

// challengeCert makes the TLS-ALPN-01 challenge certificate of token for
// name, as x/crypto/acme does for the daemon, with an ECDSA key (or RSA,
// for PKCS#1) encoded as enc.
func challengeCert(t *testing.T, token, name string, enc int) alpnPair {
	t.Helper()
	var opts []acme.CertOption
	if enc == pkcs1 {
		opts = append(opts, acme.WithKey(rsaKey()))
	}
	cert, err := acmeAccount().TLSALPN01ChallengeCert(token, name, opts...)
	if err != nil {
		t.Fatal(err)
	}
	var block *pem.Block
	switch enc {
	case pkcs8:
		der, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
		if err != nil {
			t.Fatal(err)
		}
		block = &pem.Block{Type: "PRIVATE KEY", Bytes: der}
	case sec1:
		der, err := x509.MarshalECPrivateKey(cert.PrivateKey.(*ecdsa.PrivateKey))
		if err != nil {
			t.Fatal(err)
		}
		block = &pem.Block{Type: "EC PRIVATE KEY", Bytes: der}
	case pkcs1:
		block = &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(cert.PrivateKey.(*rsa.PrivateKey))}
	}
	return alpnPair{
		cert: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})),
		key:  string(pem.EncodeToMemory(block)),
		der:  cert.Certificate[0],
	}
}

// validate connects to addr as an ACME validator does: ALPN acme-tls/1
// only, server name sni, the certificate not verified (it is self-signed).
// It returns the connection's state after checking that the proxy closes
// the connection once the handshake is done.
func validate(addr, sni string, maxVersion uint16) (tls.ConnectionState, error) {
	return alpnDial(addr, sni, []string{"acme-tls/1"}, maxVersion)
}

func alpnDial(addr, sni string, protos []string, maxVersion uint16) (tls.ConnectionState, error) {
	cfg := &tls.Config{ServerName: sni, NextProtos: protos, InsecureSkipVerify: true, MaxVersion: maxVersion}
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer c.Close()
	st := c.ConnectionState()
	if st.NegotiatedProtocol == "acme-tls/1" {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
			return st, errors.New("the connection stayed open after the handshake: " + errString(err))
		}
	}
	return st, nil
}

func errString(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}

func TestALPNChallenge(t *testing.T) {
	p, httpsAddr := startTLSProxy(t, "")
	ctx := context.Background()
	b := echoHost(t)
	p.set(Route{App: "shop", Hosts: []string{"shop.test"}, Redirects: []Redirect{{From: "www.shop.test", To: "shop.test"}}, Targets: []Target{target(b, "shop.web.1")}, TLS: pki().shop.tls()})
	p.set(Route{App: "wild", Hosts: []string{"*.wild.test"}, Targets: []Target{target(b, "wild.web.1")}, TLS: pki().wild.tls()})

	const token = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
	shop := challengeCert(t, token, "shop.test", pkcs8)
	if err := p.c.SetALPNCert(ctx, "Shop.Test", shop.cert, shop.key); err != nil { // names are lower-cased
		t.Fatal(err)
	}
	keyAuth, err := acmeAccount().HTTP01ChallengeResponse(token) // the same key authorization
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []struct {
		sni        string
		maxVersion uint16
	}{{"shop.test", 0}, {"SHOP.test", 0}, {"shop.test", tls.VersionTLS12}} {
		st, err := validate(httpsAddr, v.sni, v.maxVersion)
		if err != nil {
			t.Fatalf("validation of %s (max version %x): %v", v.sni, v.maxVersion, err)
		}
		if st.NegotiatedProtocol != "acme-tls/1" || len(st.PeerCertificates) != 1 || !bytes.Equal(st.PeerCertificates[0].Raw, shop.der) {
			t.Errorf("validation of %s: protocol %q, %d certificates, the challenge one: %v", v.sni, st.NegotiatedProtocol, len(st.PeerCertificates), len(st.PeerCertificates) > 0 && bytes.Equal(st.PeerCertificates[0].Raw, shop.der))
		}
		if v.maxVersion != 0 && st.Version != v.maxVersion {
			t.Errorf("TLS version %x", st.Version)
		}
		// What the validator checks (RFC 8737, 3).
		leaf := st.PeerCertificates[0]
		var digest []byte
		for _, e := range leaf.Extensions {
			if e.Id.Equal(oidACMEIdentifier) && e.Critical {
				asn1.Unmarshal(e.Value, &digest)
			}
		}
		if sum := sha256.Sum256([]byte(keyAuth)); !bytes.Equal(digest, sum[:]) || len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != "shop.test" {
			t.Errorf("challenge certificate: names %v, acmeIdentifier %x", leaf.DNSNames, digest)
		}
	}

	// Other clients of the same name get the route's certificate, and HTTP.
	if names, err := handshake(httpsAddr, "shop.test", true); err != nil || len(names) != 2 || names[0] != "shop.test" {
		t.Errorf("plain handshake: %v %v", names, err)
	}
	for _, c := range []struct {
		protos []string
		want   string
	}{
		{nil, ""},
		{[]string{"h2"}, "h2"},
		{[]string{"http/1.1"}, "http/1.1"},
		{[]string{"h2", "acme-tls/1"}, "h2"},             // not only acme-tls/1: not a validation
		{[]string{"acme-tls/1", "http/1.1"}, "http/1.1"}, // the same
	} {
		st, err := alpnDial(httpsAddr, "shop.test", c.protos, 0)
		if err != nil || st.NegotiatedProtocol != c.want || len(st.PeerCertificates) != 2 || st.PeerCertificates[0].Subject.CommonName != "shop.test" {
			t.Errorf("ALPN %v: %q %v", c.protos, st.NegotiatedProtocol, err)
		}
	}
	for _, h2 := range []bool{true, false} {
		c := tlsClient(t, httpsAddr, h2)
		resp, body := fetch(t, c, "GET", "https://shop.test/x", "")
		if resp.StatusCode != 200 || body != "shop.test /x" || resp.ProtoMajor != map[bool]int{true: 2, false: 1}[h2] {
			t.Errorf("h2=%v: %s %d %q", h2, resp.Proto, resp.StatusCode, body)
		}
		c.CloseIdleConnections()
	}

	// No challenge certificate for the name: the validation fails, even
	// for a name with a route and a certificate.
	for _, sni := range []string{"www.shop.test", "a.wild.test", "unknown.test", ""} {
		if st, err := validate(httpsAddr, sni, 0); err == nil {
			t.Errorf("validation of %q succeeded: %q", sni, st.NegotiatedProtocol)
		}
	}

	// Several names, keys in every encoding; setting a name again replaces
	// its certificate.
	pairs := map[string]alpnPair{
		"a.wild.test":   challengeCert(t, token, "a.wild.test", sec1),
		"www.shop.test": challengeCert(t, token, "www.shop.test", pkcs1),
		"unrouted.test": challengeCert(t, token, "unrouted.test", pkcs8),
		"shop.test":     challengeCert(t, "another-token", "shop.test", sec1),
	}
	for name, pair := range pairs {
		if err := p.c.SetALPNCert(ctx, name, pair.cert, pair.key); err != nil {
			t.Fatalf("SetALPNCert %s: %v", name, err)
		}
	}
	for name, pair := range pairs {
		if st, err := validate(httpsAddr, name, 0); err != nil || !bytes.Equal(st.PeerCertificates[0].Raw, pair.der) {
			t.Errorf("validation of %s: %v", name, err)
		}
	}

	// Cleared: the validation fails; clearing again is no error.
	if err := p.c.ClearALPNCert(ctx, "SHOP.test"); err != nil {
		t.Fatal(err)
	}
	if _, err := validate(httpsAddr, "shop.test", 0); err == nil {
		t.Error("validation succeeded after ClearALPNCert")
	}
	if err := p.c.ClearALPNCert(ctx, "shop.test"); err != nil {
		t.Errorf("clearing twice: %v", err)
	}
	if _, err := validate(httpsAddr, "a.wild.test", 0); err != nil {
		t.Errorf("another name after clearing one: %v", err)
	}
	if names, err := handshake(httpsAddr, "shop.test", true); err != nil || len(names) != 2 {
		t.Errorf("plain handshake after clearing: %v %v", names, err)
	}
}

func TestALPNCertRefused(t *testing.T) {
	p, httpsAddr := startTLSProxy(t, "")
	ctx := context.Background()
	good := challengeCert(t, "tok", "shop.test", pkcs8)
	other := challengeCert(t, "tok", "other.test", pkcs8)
	rsaPair := challengeCert(t, "tok", "shop.test", pkcs1)
	for _, name := range []string{"", "*.shop.test", "shop test", "-shop.test", "shop.test.", "a/b", "shop..test", strings.Repeat("a.", 130) + "test", "shop.test:443"} {
		if err := p.c.SetALPNCert(ctx, name, good.cert, good.key); !errors.Is(err, ErrInvalidRoute) {
			t.Errorf("SetALPNCert(%q): %v", name, err)
		}
		if err := p.c.ClearALPNCert(ctx, name); !errors.Is(err, ErrInvalidRoute) {
			t.Errorf("ClearALPNCert(%q): %v", name, err)
		}
	}
	cases := map[string][2]string{
		"key of another cert":   {good.cert, other.key},
		"RSA key of another":    {good.cert, rsaPair.key},
		"for another name":      {other.cert, other.key},
		"not a challenge cert":  {pki().other.cert, pki().other.key}, // shop.test, no acmeIdentifier
		"route cert, two names": {pki().shop.cert, pki().shop.key},
		"no key":                {good.cert, ""},
		"no cert":               {"", good.key},
		"garbage":               {"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", good.key},
	}
	for what, c := range cases {
		err := p.c.SetALPNCert(ctx, "shop.test", c[0], c[1])
		if !errors.Is(err, ErrInvalidRoute) {
			t.Errorf("%s: %v", what, err)
		}
		if err != nil && strings.Contains(err.Error(), "PRIVATE KEY") {
			t.Errorf("%s: the error shows the key: %v", what, err)
		}
		// The proxy checks too, whatever the client sends.
		err = p.c.call(ctx, http.MethodPut, "/v1/alpn-certs/shop.test", alpnCertRequest{CertPEM: c[0], KeyPEM: c[1]}, nil)
		if !errors.Is(err, ErrInvalidRoute) {
			t.Errorf("%s, sent to the proxy: %v", what, err)
		}
	}
	for _, name := range []string{"*.shop.test", "shop test", "a/b", "SHOP..test"} {
		if err := p.c.call(ctx, http.MethodPut, "/v1/alpn-certs/"+url.PathEscape(name), alpnCertRequest{CertPEM: good.cert, KeyPEM: good.key}, nil); !errors.Is(err, ErrInvalidRoute) {
			t.Errorf("name %q sent to the proxy: %v", name, err)
		}
	}
	if _, err := validate(httpsAddr, "shop.test", 0); err == nil {
		t.Error("a refused certificate is served")
	}
	// The proxy lower-cases the name too.
	if err := p.c.call(ctx, http.MethodPut, "/v1/alpn-certs/Shop.TEST", alpnCertRequest{CertPEM: good.cert, KeyPEM: good.key}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := validate(httpsAddr, "shop.test", 0); err != nil {
		t.Errorf("set with an upper-case name: %v", err)
	}
}

func TestALPNCertsExpire(t *testing.T) {
	var c expiring[*tls.Config]
	get := func(name string, now time.Time) *tls.Config { v, _ := c.get(name, now); return v }
	t0 := time.Now()
	a, b1, b2 := &tls.Config{}, &tls.Config{}, &tls.Config{}
	c.set("a.test", a, t0)
	if got := get("a.test", t0.Add(ChallengeTTL-time.Second)); got != a {
		t.Errorf("before the TTL: %p", got)
	}
	if got := get("a.test", t0.Add(ChallengeTTL)); got != nil {
		t.Error("answered after the TTL")
	}
	c.set("b.test", b1, t0)
	c.set("b.test", b2, t0.Add(30*time.Minute)) // replaced and renewed
	c.set("c.test", a, t0.Add(ChallengeTTL))
	if got := get("b.test", t0.Add(ChallengeTTL+time.Minute)); got != b2 {
		t.Errorf("renewed: %p", got)
	}
	c.set("d.test", a, t0.Add(2*ChallengeTTL)) // sweeps b and c
	if len(c.m) != 1 {
		t.Errorf("expired certificates kept: %v", c.m)
	}
	c.clear("d.test")
	if got := get("d.test", t0.Add(2*ChallengeTTL)); got != nil || len(c.m) != 0 {
		t.Error("answered after clear")
	}
}
