package routing

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/store"
)

func TestGeneratedCertDomains(t *testing.T) {
	for _, c := range []struct {
		given string
		hosts []string
		want  []string
	}{
		{"", list("shop.test", "www.shop.test"), list("shop.test", "www.shop.test")},
		{"extra.test", list("shop.test", "extra.test"), list("extra.test", "shop.test")},
		{"extra.test", nil, list("extra.test")},
	} {
		if got, err := generatedCertDomains("shop", c.given, c.hosts); err != nil || !eq(got, c.want) {
			t.Errorf("generatedCertDomains(%q, %v) = %v, %v; want %v", c.given, c.hosts, got, err, c.want)
		}
	}
	if _, err := generatedCertDomains("shop", "", nil); errCode(err) != api.CodeInvalid {
		t.Errorf("no domain at all: %v", err)
	}
}

func TestSelfSignedAndCertOf(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	certPEM, keyPEM, err := selfSigned(list("shop.test", "*.shop.test"), now)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := parseCertPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	c := certOf("self-signed", certPEM, keyPEM, leaf, now)
	if c.Source != "self-signed" || !eq(c.Domains, list("shop.test", "*.shop.test")) || !c.NotAfter.Equal(now.AddDate(1, 0, 0)) || !c.UpdatedAt.Equal(now) {
		t.Errorf("certOf = %+v", c)
	}
	// A certificate naming its host only in the subject still has a domain.
	leaf.DNSNames = nil
	if c := certOf("custom", certPEM, keyPEM, leaf, now); !eq(c.Domains, list("shop.test")) {
		t.Errorf("from the common name: %v", c.Domains)
	}
	// The key must match the certificate.
	_, otherKey, _ := selfSigned(list("other.test"), now)
	if _, err := parseCertPair(certPEM, otherKey); errCode(err) != api.CodeInvalid {
		t.Errorf("mismatched key: %v", err)
	}
	if _, err := parseCertPair("not a certificate", keyPEM); errCode(err) != api.CodeInvalid {
		t.Errorf("not PEM: %v", err)
	}
}

func TestCertsAddInfoRemove(t *testing.T) {
	e := newEnv(t, nil)
	e.createApp("shop")
	certPEM, keyPEM, err := selfSigned(list("shop.test"), e.clock.now())
	if err != nil {
		t.Fatal(err)
	}
	info, err := api.CertsAdd.Call(e.ctx, e.mux, api.CertAdd{App: "shop", CertPEM: certPEM, KeyPEM: keyPEM})
	if err != nil {
		t.Fatal(err)
	}
	if !info.Enabled || info.Source != "custom" || !eq(info.Domains, list("shop.test")) || info.KeyPEM != "" || info.Verified ||
		!strings.Contains(info.Issuer, "Berth self-signed") {
		t.Errorf("certs:add = %+v", info)
	}
	// The route carries it at once.
	if r, ok := e.proxy.route("shop"); !ok || r.TLS == nil || r.TLS.CertPEM != certPEM {
		t.Errorf("route after certs:add: %+v", r)
	}
	info, err = api.CertsInfo.Call(e.ctx, e.mux, api.CertShow{App: "shop", Key: true})
	if err != nil || info.KeyPEM != keyPEM {
		t.Errorf("certs:show --key: %v", err)
	}
	if _, err := api.CertsRemove.Call(e.ctx, e.mux, api.AppRef{App: "shop"}); err != nil {
		t.Fatal(err)
	}
	if r, _ := e.proxy.route("shop"); r.TLS != nil {
		t.Error("the route kept TLS after certs:remove")
	}
	if info, err := api.CertsInfo.Call(e.ctx, e.mux, api.CertShow{App: "shop"}); err != nil || info.Enabled || info.Domains == nil {
		t.Errorf("info without a certificate: %+v, %v", info, err)
	}
	if _, err := api.CertsRemove.Call(e.ctx, e.mux, api.AppRef{App: "shop"}); errCode(err) != api.CodeNotFound {
		t.Errorf("second remove: %v", err)
	}
}

func TestCertsAddRefusesBadCertificates(t *testing.T) {
	e := newEnv(t, nil)
	e.createApp("shop")
	certPEM, keyPEM, _ := selfSigned(list("shop.test"), e.clock.now())
	if _, err := api.CertsAdd.Call(e.ctx, e.mux, api.CertAdd{App: "shop", CertPEM: "x", KeyPEM: "y"}); errCode(err) != api.CodeInvalid {
		t.Errorf("garbage: %v", err)
	}
	if _, err := api.CertsAdd.Call(e.ctx, e.mux, api.CertAdd{App: "ghost", CertPEM: certPEM, KeyPEM: keyPEM}); err == nil {
		t.Error("added to a missing app")
	}
	e.tx(func(tx *store.Tx) error {
		a, _ := tx.App("shop")
		if _, err := tx.Cert(a); err != store.ErrNoCert {
			t.Errorf("a refused certificate was stored: %v", err)
		}
		return nil
	})
}

// An expired certificate is installed, as Dokku does, with a warning.
func TestCertsAddExpired(t *testing.T) {
	e := newEnv(t, nil)
	e.createApp("shop")
	certPEM, keyPEM, _ := selfSigned(list("shop.test"), e.clock.now())
	e.clock.advance(2 * 365 * 24 * time.Hour) // past NotAfter
	var stderr bytes.Buffer
	info, err := api.CertsAdd.Stream(e.ctx, e.mux, api.CertAdd{App: "shop", CertPEM: certPEM, KeyPEM: keyPEM}, api.Output{Stderr: &stderr})
	if err != nil || !info.Enabled {
		t.Fatalf("expired: %+v, %v", info, err)
	}
	if !strings.HasPrefix(stderr.String(), " !     The certificate expired on ") || strings.Count(stderr.String(), "\n") != 1 {
		t.Errorf("warning = %q", stderr.String())
	}
}

// certs:report's subject keeps the certificate's order; its hostnames are
// the CN and the SANs, sorted.
func TestSubjectAndHostnames(t *testing.T) {
	leaf := &x509.Certificate{Subject: pkix.Name{CommonName: "b.test"}, DNSNames: list("c.test", "a.test", "b.test")}
	if got := hostnamesOf(leaf); !eq(got, list("a.test", "b.test", "c.test")) {
		t.Errorf("hostnames = %v", got)
	}
	name := pkix.RDNSequence{
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 6}, Value: "US"}},
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 10}, Value: "Expa"}},
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: "x.test"}},
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 11}, Value: "Ops"}},
	}
	raw, err := asn1.Marshal(name)
	if err != nil {
		t.Fatal(err)
	}
	if got := subjectOf(&x509.Certificate{RawSubject: raw}); got != "C=US; O=Expa; CN=x.test; OU=Ops" {
		t.Errorf("subject = %q", got)
	}
}

func TestCertsGenerate(t *testing.T) {
	e := newEnv(t, nil)
	e.createApp("shop")
	if _, err := api.CertsGenerate.Call(e.ctx, e.mux, api.CertGenerate{App: "shop"}); errCode(err) != api.CodeInvalid {
		t.Errorf("no domain: %v", err)
	}
	if _, err := api.CertsGenerate.Call(e.ctx, e.mux, api.CertGenerate{App: "ghost", Domain: "bad name"}); errCode(err) != api.CodeInvalid {
		t.Errorf("a bad domain is refused before the app is looked up: %v", err)
	}
	e.mustDomains(api.DomainsChange{Scope: appScope("shop"), Action: api.DomainsSet, Domains: list("shop.test")})
	info, err := api.CertsGenerate.Call(e.ctx, e.mux, api.CertGenerate{App: "shop", Domain: "Admin.Shop.Test"})
	if err != nil || info.Source != "self-signed" || !eq(info.Domains, list("admin.shop.test", "shop.test")) {
		t.Errorf("certs:generate = %+v, %v", info, err)
	}
}
