package daemon

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
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/acme"

	"github.com/berthpaas/berth/internal/api"
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

// acmeManager obtains and renews Let's Encrypt certificates: ACME runs in
// the daemon, and the proxy answers the HTTP-01 challenges it is handed.
type acmeManager struct {
	s       *Service
	roots   *x509.CertPool // nil: the system's
	dataDir string
	mu      sync.Mutex // one order at a time per daemon
	// obtaining is the app whose certificate is being obtained: installing
	// it syncs the route, which must not start another order.
	obtaining sync.Map
}

// busy reports whether a certificate of app is being obtained.
func (m *acmeManager) busy(app string) bool {
	_, ok := m.obtaining.Load(app)
	return ok
}

// leSettings are an app's Let's Encrypt settings.
type leSettings struct {
	email, directory string
	challenge        string // preferred: http-01 or tls-alpn-01
	grace            time.Duration
	enabled          bool
}

// configEmail is the account e-mail that the config var
// DOKKU_LETSENCRYPT_EMAIL gives scope sc (the seed's form, which Dokku's
// plugin once read), used when no email property is set: the global var,
// else, for an app, the app's.
func configEmail(tx *store.Tx, sc store.Scope) (string, error) {
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

func (m *acmeManager) settings(tx *store.Tx, a store.App) (leSettings, error) {
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
		if s.email, err = configEmail(tx, a.Scope()); err != nil {
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
func (m *acmeManager) accountKey(directory string) (crypto.Signer, error) {
	sum := sha256.Sum256([]byte(directory))
	path := filepath.Join(m.dataDir, "acme", "account-"+hex.EncodeToString(sum[:8])+".key")
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

func (m *acmeManager) client(directory string) (*acme.Client, error) {
	key, err := m.accountKey(directory)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if m.roots != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: m.roots}
	}
	return &acme.Client{Key: key, DirectoryURL: directory, HTTPClient: &http.Client{Transport: tr, Timeout: 60 * time.Second}, UserAgent: "berth"}, nil
}

// obtain gets a certificate for appName's domains and redirect sources and
// installs it. Nothing is replaced unless a new certificate was issued.
func (m *acmeManager) obtain(ctx context.Context, appName string, out func(string, ...any)) error {
	m.obtaining.Store(appName, true)
	defer m.obtaining.Delete(appName)
	m.mu.Lock()
	defer m.mu.Unlock()
	var set leSettings
	err := m.s.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := getApp(tx, appName)
		if err != nil {
			return err
		}
		set, err = m.settings(tx, a)
		return err
	})
	if err != nil {
		return err
	}
	if set.email == "" {
		return api.Errorf(api.CodeInvalid, "Cannot request a certificate without an e-mail address! Set one with letsencrypt:set --global email you@example.com")
	}
	hosts, err := m.s.certHosts(ctx, appName)
	if err != nil {
		return err
	}
	hosts = slices.DeleteFunc(hosts, func(h string) bool { return strings.HasPrefix(h, "*.") })
	if len(hosts) == 0 {
		return api.Errorf(api.CodeInvalid, "%s has no domain to get a certificate for; add one with domains:add %s DOMAIN", appName, appName)
	}
	if m.s.router == nil {
		return api.Errorf(api.CodeUnavailable, "Let's Encrypt needs the proxy (BERTH_HTTP_ADDR is off)")
	}
	out("Getting a certificate for %s from %s", strings.Join(hosts, ", "), set.directory)
	certPEM, keyPEM, orderErr := m.order(ctx, set, hosts)
	if orderErr != nil {
		// The old certificate keeps serving; the error is shown by
		// letsencrypt:list.
		m.s.store.Tx(context.WithoutCancel(ctx), func(tx *store.Tx) error {
			a, err := tx.App(appName)
			if err != nil {
				return err
			}
			return tx.SetCertError(a, firstLine(orderErr.Error()), m.s.now())
		})
		m.s.log.Warn("certificate request failed", "app", appName, "err", orderErr)
		return api.Errorf(api.CodeUnavailable, "Could not get a certificate for %s: %v", appName, firstLine(orderErr.Error()))
	}
	leaf, err := parseCertPair(certPEM, keyPEM)
	if err != nil {
		return err
	}
	_, err = m.s.installCert(ctx, appName, certOf("letsencrypt", certPEM, keyPEM, leaf, m.s.now()))
	if err == nil {
		out("Certificate installed: expires %s", leaf.NotAfter.UTC().Format("2006-01-02"))
	}
	return err
}

// order runs one ACME order with HTTP-01 challenges answered by the proxy.
func (m *acmeManager) order(ctx context.Context, set leSettings, hosts []string) (string, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	client, err := m.client(set.directory)
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
		present, cleanup, err := m.challenge(client, chal, domain)
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

// due reports whether an app's certificate must be (re)obtained: none yet,
// within the grace period, or not covering every host. After a failure it
// waits an hour before trying again (backoff).
func (m *acmeManager) due(ctx context.Context, a store.App, set leSettings, force bool) bool {
	var c store.Cert
	err := m.s.store.Tx(ctx, func(tx *store.Tx) (err error) { c, err = tx.Cert(a); return err })
	if err != nil {
		return errors.Is(err, store.ErrNoCert)
	}
	if !force && c.LastError != "" && m.s.now().Sub(c.LastTryAt) < time.Hour {
		return false
	}
	if c.Source != "letsencrypt" || m.s.now().Add(set.grace).After(c.NotAfter) {
		return true
	}
	hosts, err := m.s.certHosts(ctx, a.Name)
	if err != nil {
		return false
	}
	for _, h := range hosts {
		if !strings.HasPrefix(h, "*.") && !slices.Contains(c.Domains, h) {
			return true
		}
	}
	return false
}

// renewAll obtains what is due for every enabled app (or only one); force
// skips the backoff after a failure (letsencrypt:auto-renew).
func (m *acmeManager) renewAll(ctx context.Context, only string, force bool) error {
	var apps []store.App
	if err := m.s.store.Tx(ctx, func(tx *store.Tx) (err error) { apps, err = tx.Apps(); return err }); err != nil {
		return err
	}
	var errs []error
	for _, a := range apps {
		if only != "" && a.Name != only {
			continue
		}
		var set leSettings
		m.s.store.Tx(ctx, func(tx *store.Tx) (err error) { set, err = m.settings(tx, a); return err })
		if !set.enabled || !m.due(ctx, a, set, force) {
			continue
		}
		if err := m.obtain(ctx, a.Name, func(string, ...any) {}); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// loop renews certificates in the background (no cron), every interval.
func (m *acmeManager) loop(ctx context.Context, interval time.Duration) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
		var auto string
		m.s.store.Tx(ctx, func(tx *store.Tx) error {
			auto, _, _ = tx.Property(store.Global, "letsencrypt", "auto-renew")
			return nil
		})
		if auto == "false" {
			continue
		}
		if err := m.renewAll(ctx, "", false); err != nil {
			m.s.log.Warn("certificate renewal", "err", err)
		}
	}
}

func (s *Service) registerLE(m *api.Mux) {
	le := s.acme
	setEnabled := func(ctx context.Context, appName string, on bool) error {
		return s.store.Tx(ctx, func(tx *store.Tx) error {
			a, err := getApp(tx, appName)
			if err != nil {
				return err
			}
			if on {
				return tx.SetProperty(a.Scope(), "letsencrypt", "enabled", "true")
			}
			return tx.UnsetProperty(a.Scope(), "letsencrypt", "enabled")
		})
	}
	api.Handle(m, api.LEEnable, s.forApps(func(ctx context.Context, appName string, out io.Writer) error {
		say := func(f string, args ...any) { fmt.Fprintf(out, "-----> "+f+"\n", args...) }
		if err := le.obtain(ctx, appName, say); err != nil {
			return err
		}
		return setEnabled(ctx, appName, true)
	}))
	api.Handle(m, api.LEDisable, func(ctx context.Context, req api.AppRef, _ api.Output) (api.Empty, error) {
		if err := setEnabled(ctx, req.App, false); err != nil {
			return api.Empty{}, err
		}
		err := s.store.Tx(ctx, func(tx *store.Tx) error {
			a, err := getApp(tx, req.App)
			if err != nil {
				return err
			}
			if c, err := tx.Cert(a); err == nil && c.Source == "letsencrypt" {
				return tx.RemoveCert(a)
			}
			return nil
		})
		s.notifyRoutes(ctx, req.App)
		return api.Empty{}, err
	})
	api.Handle(m, api.LEList, func(ctx context.Context, _ api.Empty, _ api.Output) (api.LEListResult, error) {
		res := api.LEListResult{Apps: []api.LEEntry{}}
		err := s.store.Tx(ctx, func(tx *store.Tx) error {
			apps, err := tx.Apps()
			if err != nil {
				return err
			}
			for _, a := range apps {
				set, err := le.settings(tx, a)
				if err != nil || !set.enabled {
					continue
				}
				e := api.LEEntry{App: a.Name, Domains: []string{}}
				if c, err := tx.Cert(a); err == nil {
					e.Domains, e.Expires, e.LastError = c.Domains, c.NotAfter, c.LastError
					e.NextRenewal, e.Active = c.NotAfter.Add(-set.grace), c.Source == "letsencrypt"
				}
				res.Apps = append(res.Apps, e)
			}
			return nil
		})
		return res, err
	})
	api.Handle(m, api.LEAutoRenew, func(ctx context.Context, req api.AppRef, _ api.Output) (api.Empty, error) {
		return api.Empty{}, le.renewAll(ctx, req.App, true)
	})
	api.Handle(m, api.LECronJob, func(ctx context.Context, req api.CronJob, _ api.Output) (api.CronStatus, error) {
		err := s.store.Tx(ctx, func(tx *store.Tx) error {
			if req.Add {
				return tx.UnsetProperty(store.Global, "letsencrypt", "auto-renew")
			}
			return tx.SetProperty(store.Global, "letsencrypt", "auto-renew", "false")
		})
		return api.CronStatus{Enabled: req.Add}, err
	})
	api.Handle(m, api.LERevoke, func(ctx context.Context, req api.AppRef, _ api.Output) (api.Empty, error) {
		var c store.Cert
		var set leSettings
		err := s.store.Tx(ctx, func(tx *store.Tx) error {
			a, err := getApp(tx, req.App)
			if err != nil {
				return err
			}
			if c, err = tx.Cert(a); err != nil || c.Source != "letsencrypt" {
				return api.Errorf(api.CodeNotFound, "%s has no Let's Encrypt certificate", req.App)
			}
			set, err = le.settings(tx, a)
			return err
		})
		if err != nil {
			return api.Empty{}, err
		}
		client, err := le.client(set.directory)
		if err != nil {
			return api.Empty{}, err
		}
		blk, _ := pem.Decode([]byte(c.CertPEM))
		if blk == nil {
			return api.Empty{}, api.Errorf(api.CodeInternal, "the stored certificate is not PEM")
		}
		if err := client.RevokeCert(ctx, nil, blk.Bytes, acme.CRLReasonUnspecified); err != nil {
			return api.Empty{}, api.Errorf(api.CodeUnavailable, "Could not revoke: %v", firstLine(err.Error()))
		}
		_, err = api.LEDisable.Call(ctx, s.mux, req)
		return api.Empty{}, err
	})
}

// challenge prepares one ACME challenge: present hands it to the proxy,
// cleanup takes it back.
func (m *acmeManager) challenge(client *acme.Client, chal *acme.Challenge, domain string) (present, cleanup func(context.Context) error, err error) {
	pc := m.s.router.client
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
