package routing

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/acme"

	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/store"
)

// ACME directories of Let's Encrypt.
const (
	letsEncryptProduction = "https://acme-v02.api.letsencrypt.org/directory"
	letsEncryptStaging    = "https://acme-staging-v02.api.letsencrypt.org/directory"
	defaultGracePeriod    = 30 * 24 * time.Hour
)

func init() {
	app.Register(app.Setting{Namespace: "letsencrypt", Key: "email", Scope: app.ScopeBoth, Validate: func(v string) error {
		if !strings.Contains(v, "@") || strings.ContainsAny(v, " \t\n") {
			return app.Invalidf("Invalid e-mail address %q", v)
		}
		return nil
	}})
	app.Register(app.Setting{Namespace: "letsencrypt", Key: "server", Scope: app.ScopeBoth, Default: "default", Validate: func(v string) error {
		if v != "default" && v != "staging" && !strings.HasPrefix(v, "https://") {
			return app.Invalidf("Invalid server %q: default, staging, or an https:// ACME directory URL", v)
		}
		return nil
	}})
	app.Register(app.Setting{Namespace: "letsencrypt", Key: "graceperiod", Scope: app.ScopeBoth, Default: strconv.Itoa(int(defaultGracePeriod / time.Second)), Validate: func(v string) error {
		if n, err := strconv.Atoi(v); err != nil || n < 0 {
			return app.Invalidf("Invalid graceperiod %q: a number of seconds", v)
		}
		return nil
	}})
	app.Register(app.Setting{Namespace: "letsencrypt", Key: "challenge", Scope: app.ScopeBoth, Default: "http-01", Validate: func(v string) error {
		if v != "http-01" && v != "tls-alpn-01" {
			return app.Invalidf("Invalid challenge %q: http-01 or tls-alpn-01", v)
		}
		return nil
	}})
	app.Register(app.Setting{Namespace: "letsencrypt", Key: "enabled", Scope: app.ScopeApp, Internal: true})
	app.Register(app.Setting{Namespace: "letsencrypt", Key: "auto-renew", Scope: app.ScopeGlobal, Internal: true, Default: "true"})
}

// acmeClient talks to ACME servers: it keeps the account keys (one per
// directory, under DATA/acme) and runs orders whose challenges the proxy
// answers.
type acmeClient struct {
	dataDir    string
	roots      *x509.CertPool // nil: the system's
	challenges Challenges     // nil: no proxy
}

// leSettings are an app's Let's Encrypt settings.
type leSettings struct {
	email, directory string
	challenge        string // preferred: http-01 or tls-alpn-01
	grace            time.Duration
	enabled          bool
}

// ConfigEmail is the account e-mail that the config var
// DOKKU_LETSENCRYPT_EMAIL gives scope sc (the seed's form, which Dokku's
// plugin once read), used when no email property is set: the global var,
// else, for an app, the app's.
func ConfigEmail(tx *store.Tx, sc store.Scope) (string, error) {
	const key = "DOKKU_LETSENCRYPT_EMAIL"
	global, err := tx.Config(store.Global)
	if err != nil {
		return "", err
	}
	if v := global[key]; v != "" || sc == store.Global {
		return v, nil
	}
	vars, err := tx.Config(sc)
	if err != nil {
		return "", err
	}
	return vars[key], nil
}

// leSettingsOf reads an app's Let's Encrypt settings: the app's value, else
// the global one, else the default.
func leSettingsOf(tx *store.Tx, a store.App) (leSettings, error) {
	get := func(key string) string {
		if v, ok, _ := tx.Property(a.Scope(), "letsencrypt", key); ok {
			return v
		}
		if v, ok, _ := tx.Property(store.Global, "letsencrypt", key); ok {
			return v
		}
		st, _ := app.LookupSettingAny("letsencrypt", key)
		return st.Default
	}
	var s leSettings
	s.email = get("email")
	if s.email == "" {
		var err error
		if s.email, err = ConfigEmail(tx, a.Scope()); err != nil {
			return s, err
		}
	}
	switch v := get("server"); v {
	case "", "default":
		s.directory = letsEncryptProduction
	case "staging":
		s.directory = letsEncryptStaging
	default:
		s.directory = v
	}
	s.challenge = get("challenge")
	n, _ := strconv.Atoi(get("graceperiod"))
	s.grace = time.Duration(n) * time.Second
	v, _, _ := tx.Property(a.Scope(), "letsencrypt", "enabled")
	s.enabled = v == "true"
	return s, nil
}

// accountKey returns (creating once) the account key for a directory.
func (c *acmeClient) accountKey(directory string) (crypto.Signer, error) {
	sum := sha256.Sum256([]byte(directory))
	path := filepath.Join(c.dataDir, "acme", "account-"+hex.EncodeToString(sum[:8])+".key")
	if b, err := os.ReadFile(path); err == nil {
		blk, _ := pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("account key %s is not PEM", path)
		}
		return x509.ParseECPrivateKey(blk.Bytes)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return nil, err
	}
	return key, os.Rename(tmp, path)
}

// client returns an ACME client for directory, with its account key.
func (c *acmeClient) client(directory string) (*acme.Client, error) {
	key, err := c.accountKey(directory)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if c.roots != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: c.roots}
	}
	return &acme.Client{Key: key, DirectoryURL: directory, HTTPClient: &http.Client{Transport: tr, Timeout: 60 * time.Second}, UserAgent: "berth"}, nil
}

// order runs one ACME order with HTTP-01 challenges answered by the proxy.
func (c *acmeClient) order(ctx context.Context, set leSettings, hosts []string) (string, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	client, err := c.client(set.directory)
	if err != nil {
		return "", "", err
	}
	if _, err := client.Register(ctx, &acme.Account{Contact: []string{"mailto:" + set.email}}, acme.AcceptTOS); err != nil && !errors.Is(err, acme.ErrAccountAlreadyExists) {
		return "", "", fmt.Errorf("register the ACME account: %w", err)
	}
	order, err := client.AuthorizeOrder(ctx, acme.DomainIDs(hosts...))
	if err != nil {
		return "", "", fmt.Errorf("order: %w", err)
	}
	for _, u := range order.AuthzURLs {
		authz, err := client.GetAuthorization(ctx, u)
		if err != nil {
			return "", "", err
		}
		if authz.Status == acme.StatusValid {
			continue
		}
		// The preferred challenge type if offered, else the other one.
		var chal *acme.Challenge
		for _, want := range []string{set.challenge, "http-01", "tls-alpn-01"} {
			for _, c := range authz.Challenges {
				if chal == nil && c.Type == want {
					chal = c
				}
			}
		}
		if chal == nil {
			return "", "", fmt.Errorf("%s: the ACME server offers neither http-01 nor tls-alpn-01", authz.Identifier.Value)
		}
		domain := authz.Identifier.Value
		present, cleanup, err := c.challenge(client, chal, domain)
		if err != nil {
			return "", "", err
		}
		if err := present(ctx); err != nil {
			return "", "", fmt.Errorf("hand the %s challenge to the proxy: %w", chal.Type, err)
		}
		_, err = client.Accept(ctx, chal)
		if err == nil {
			_, err = client.WaitAuthorization(ctx, authz.URI)
		}
		cleanup(context.WithoutCancel(ctx))
		if err != nil {
			return "", "", fmt.Errorf("%s: %w", domain, err)
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: hosts}, key)
	if err != nil {
		return "", "", err
	}
	if order, err = client.WaitOrder(ctx, order.URI); err != nil {
		return "", "", fmt.Errorf("order: %w", err)
	}
	// From the order itself: some servers (Pebble) send no Location after
	// finalizing, which CreateOrderCert needs.
	ders, _, err := client.CreateCertFromOrder(ctx, order, csr, true)
	if err != nil {
		return "", "", fmt.Errorf("finalize: %w", err)
	}
	var chain strings.Builder
	for _, d := range ders {
		chain.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: d}))
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return "", "", err
	}
	return chain.String(), string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})), nil
}

// challenge prepares one ACME challenge: present hands it to the proxy,
// cleanup takes it back.
func (c *acmeClient) challenge(client *acme.Client, chal *acme.Challenge, domain string) (present, cleanup func(context.Context) error, err error) {
	pc := c.challenges
	if pc == nil {
		return nil, nil, errors.New("no proxy to answer the challenge")
	}
	switch chal.Type {
	case "http-01":
		keyAuth, err := client.HTTP01ChallengeResponse(chal.Token)
		if err != nil {
			return nil, nil, err
		}
		return func(ctx context.Context) error { return pc.SetChallenge(ctx, chal.Token, keyAuth) },
			func(ctx context.Context) error { return pc.ClearChallenge(ctx, chal.Token) }, nil
	case "tls-alpn-01":
		cert, err := client.TLSALPN01ChallengeCert(chal.Token, domain)
		if err != nil {
			return nil, nil, err
		}
		certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})
		der, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
		if err != nil {
			return nil, nil, err
		}
		keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
		return func(ctx context.Context) error { return pc.SetALPNCert(ctx, domain, string(certPEM), string(keyPEM)) },
			func(ctx context.Context) error { return pc.ClearALPNCert(ctx, domain) }, nil
	}
	return nil, nil, fmt.Errorf("unsupported challenge %s", chal.Type)
}
