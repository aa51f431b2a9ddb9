package routing

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/apierr"
	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/store"
)

func init() {
	boolSetting := func(key, def string) {
		app.Register(app.Setting{Namespace: "proxy", Key: key, Scope: app.ScopeBoth, Default: def, Validate: app.ValidateBool})
	}
	boolSetting("hsts", "true")
	boolSetting("hsts-include-subdomains", "false")
	boolSetting("hsts-preload", "false")
	app.Register(app.Setting{Namespace: "proxy", Key: "hsts-max-age", Scope: app.ScopeBoth, Default: "15724800", Validate: func(v string) error {
		if n, err := strconv.Atoi(v); err != nil || n < 0 {
			return app.Invalidf("Invalid hsts-max-age %q: a number of seconds", v)
		}
		return nil
	}})
}

// parseCertPair checks a certificate (full chain) and its key.
func parseCertPair(certPEM, keyPEM string) (*x509.Certificate, error) {
	pair, err := tls.X509KeyPair([]byte(certPEM), []byte(keyPEM))
	if err != nil {
		return nil, api.Errorf(api.CodeInvalid, "Invalid certificate or key: %v", firstLine(err.Error()))
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, api.Errorf(api.CodeInvalid, "Invalid certificate: %v", err)
	}
	return leaf, nil
}

func certOf(source, certPEM, keyPEM string, leaf *x509.Certificate, now time.Time) store.Cert {
	names := append([]string{}, leaf.DNSNames...)
	if len(names) == 0 && leaf.Subject.CommonName != "" {
		names = []string{leaf.Subject.CommonName}
	}
	return store.Cert{Source: source, CertPEM: certPEM, KeyPEM: keyPEM, Domains: names, NotBefore: leaf.NotBefore, NotAfter: leaf.NotAfter, UpdatedAt: now}
}

func (m *Manager) installCert(ctx context.Context, appName string, c store.Cert) (api.CertInfo, error) {
	err := m.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := apierr.App(tx, appName)
		if err != nil {
			return err
		}
		if err := tx.SetCert(a, c); err != nil {
			return err
		}
		return addHTTPSMaps(tx, a)
	})
	if err != nil {
		return api.CertInfo{}, err
	}
	m.log.Info("certificate installed", "app", appName, "source", c.Source, "domains", c.Domains, "not_after", c.NotAfter)
	m.Notify(ctx, appName)
	return m.certInfo(ctx, api.CertShow{App: appName})
}

func (m *Manager) certInfo(ctx context.Context, req api.CertShow) (api.CertInfo, error) {
	info := api.CertInfo{App: req.App, Domains: []string{}}
	err := m.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := apierr.App(tx, req.App)
		if err != nil {
			return err
		}
		c, err := tx.Cert(a)
		if errors.Is(err, store.ErrNoCert) {
			return nil
		}
		if err != nil {
			return err
		}
		info.Enabled, info.Source, info.Domains = true, c.Source, c.Domains
		info.NotBefore, info.NotAfter, info.LastError = c.NotBefore, c.NotAfter, c.LastError
		info.CertPEM = c.CertPEM
		if req.Key {
			info.KeyPEM = c.KeyPEM
		}
		if leaf, err := parseCertPair(c.CertPEM, c.KeyPEM); err == nil {
			info.Issuer, info.Subject = leaf.Issuer.String(), subjectOf(leaf)
			info.Hostnames = hostnamesOf(leaf)
			pool := x509.NewCertPool()
			rest := []byte(c.CertPEM)
			for {
				var b *pem.Block
				if b, rest = pem.Decode(rest); b == nil {
					break
				}
				if ic, err := x509.ParseCertificate(b.Bytes); err == nil && !ic.Equal(leaf) {
					pool.AddCert(ic)
				}
			}
			_, verr := leaf.Verify(x509.VerifyOptions{Intermediates: pool})
			info.Verified = verr == nil
		}
		return nil
	})
	return info, err
}

// selfSigned makes a self-signed certificate for domains (certs:generate).
func selfSigned(domains []string, now time.Time) (string, string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: domains[0], Organization: []string{"Berth self-signed"}},
		DNSNames:     domains,
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return "", "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})), nil
}

// registerCerts adds the certs:* operations to mux.
func (m *Manager) registerCerts(mux *api.Mux) {
	api.Handle(mux, api.CertsAdd, func(ctx context.Context, req api.CertAdd, out api.Output) (api.CertInfo, error) {
		leaf, err := parseCertPair(req.CertPEM, req.KeyPEM)
		if err != nil {
			return api.CertInfo{}, err
		}
		// Installed anyway, as Dokku does (a renewal may be on its way;
		// clients will refuse it until then): said, not refused.
		if m.now().After(leaf.NotAfter) {
			fmt.Fprintf(errWriter(out), " !     The certificate expired on %s; installed anyway: clients will refuse it until it is replaced\n", leaf.NotAfter.UTC().Format(time.RFC3339))
		}
		return m.installCert(ctx, req.App, certOf("custom", req.CertPEM, req.KeyPEM, leaf, m.now()))
	})
	api.Handle(mux, api.CertsGenerate, func(ctx context.Context, req api.CertGenerate, _ api.Output) (api.CertInfo, error) {
		given := strings.ToLower(req.Domain)
		if given != "" {
			if err := app.ValidateDomain(given); err != nil {
				return api.CertInfo{}, apierr.Invalid(err)
			}
		}
		hosts, err := m.certHosts(ctx, req.App)
		if err != nil {
			return api.CertInfo{}, err
		}
		domains, err := generatedCertDomains(req.App, given, hosts)
		if err != nil {
			return api.CertInfo{}, err
		}
		certPEM, keyPEM, err := selfSigned(domains, m.now())
		if err != nil {
			return api.CertInfo{}, err
		}
		leaf, err := parseCertPair(certPEM, keyPEM)
		if err != nil {
			return api.CertInfo{}, err
		}
		return m.installCert(ctx, req.App, certOf("self-signed", certPEM, keyPEM, leaf, m.now()))
	})
	api.Handle(mux, api.CertsRemove, func(ctx context.Context, req api.AppRef, _ api.Output) (api.Empty, error) {
		err := m.store.Tx(ctx, func(tx *store.Tx) error {
			a, err := apierr.App(tx, req.App)
			if err != nil {
				return err
			}
			if err := tx.RemoveCert(a); errors.Is(err, store.ErrNoCert) {
				return api.Errorf(api.CodeNotFound, "%s has no certificate", req.App)
			} else if err != nil {
				return err
			}
			return removeHTTPSMaps(tx, a)
		})
		if err == nil {
			m.Notify(ctx, req.App)
		}
		return api.Empty{}, err
	})
	api.Handle(mux, api.CertsInfo, func(ctx context.Context, req api.CertShow, _ api.Output) (api.CertInfo, error) {
		return m.certInfo(ctx, req)
	})
}

// generatedCertDomains are the names a self-signed certificate is made for
// (certs:generate): the domain given (checked, lower-case), then the
// app's hosts (its domains and redirect sources), without repeats.
func generatedCertDomains(appName, given string, hosts []string) ([]string, error) {
	domains := []string{}
	if given != "" {
		domains = append(domains, given)
	}
	for _, h := range hosts {
		if !slices.Contains(domains, h) {
			domains = append(domains, h)
		}
	}
	if len(domains) == 0 {
		return nil, api.Errorf(api.CodeInvalid, "Please give a domain: %s has none", appName)
	}
	return domains, nil
}

// certHosts are the names an app's certificate must cover: its domains and
// the sources of its redirects.
func (m *Manager) certHosts(ctx context.Context, appName string) ([]string, error) {
	hosts, err := m.appHosts(ctx, appName)
	if err != nil {
		return nil, err
	}
	err = m.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := apierr.App(tx, appName)
		if err != nil {
			return err
		}
		rs, err := tx.Redirects(a)
		for _, r := range rs {
			if !slices.Contains(hosts, r.Src) {
				hosts = append(hosts, r.Src)
			}
		}
		return err
	})
	return hosts, err
}

// errWriter is where an operation's warnings go: its stderr, if any.
func errWriter(out api.Output) io.Writer {
	if out.Stderr != nil {
		return out.Stderr
	}
	return io.Discard
}

// rdnNames are the short names of a subject's attributes, as openssl
// prints them.
var rdnNames = map[string]string{
	"2.5.4.3": "CN", "2.5.4.5": "serialNumber", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST",
	"2.5.4.9": "street", "2.5.4.10": "O", "2.5.4.11": "OU", "2.5.4.17": "postalCode",
	"1.2.840.113549.1.9.1": "emailAddress",
}

// subjectOf is a certificate's subject as Dokku's certs:report shows it:
// its attributes in the certificate's order, "C=US; O=Example; CN=x".
func subjectOf(leaf *x509.Certificate) string {
	var seq pkix.RDNSequence
	if rest, err := asn1.Unmarshal(leaf.RawSubject, &seq); err != nil || len(rest) > 0 {
		return leaf.Subject.String()
	}
	var parts []string
	for _, rdn := range seq {
		for _, atv := range rdn {
			name := rdnNames[atv.Type.String()]
			if name == "" {
				name = atv.Type.String()
			}
			parts = append(parts, fmt.Sprintf("%s=%v", name, atv.Value))
		}
	}
	return strings.Join(parts, "; ")
}

// hostnamesOf are the names a certificate covers as Dokku reports them:
// the subject's CN and the DNS SANs, sorted, without repeats.
func hostnamesOf(leaf *x509.Certificate) []string {
	names := append([]string{}, leaf.DNSNames...)
	if leaf.Subject.CommonName != "" {
		names = append(names, leaf.Subject.CommonName)
	}
	slices.Sort(names)
	return slices.Compact(names)
}
