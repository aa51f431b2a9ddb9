package daemon

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/proxy"
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

func (s *Service) installCert(ctx context.Context, appName string, c store.Cert) (api.CertInfo, error) {
	err := s.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := getApp(tx, appName)
		if err != nil {
			return err
		}
		return tx.SetCert(a, c)
	})
	if err != nil {
		return api.CertInfo{}, err
	}
	s.log.Info("certificate installed", "app", appName, "source", c.Source, "domains", c.Domains, "not_after", c.NotAfter)
	s.notifyRoutes(ctx, appName)
	return s.certInfo(ctx, api.CertShow{App: appName})
}

func (s *Service) certInfo(ctx context.Context, req api.CertShow) (api.CertInfo, error) {
	info := api.CertInfo{App: req.App, Domains: []string{}}
	err := s.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := getApp(tx, req.App)
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
			info.Issuer, info.Subject = leaf.Issuer.String(), leaf.Subject.String()
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

func (s *Service) registerTLS(m *api.Mux) {
	api.Handle(m, api.CertsAdd, func(ctx context.Context, req api.CertAdd, _ api.Output) (api.CertInfo, error) {
		leaf, err := parseCertPair(req.CertPEM, req.KeyPEM)
		if err != nil {
			return api.CertInfo{}, err
		}
		if s.now().After(leaf.NotAfter) {
			return api.CertInfo{}, api.Errorf(api.CodeInvalid, "The certificate expired on %s", leaf.NotAfter.UTC().Format(time.RFC3339))
		}
		return s.installCert(ctx, req.App, certOf("custom", req.CertPEM, req.KeyPEM, leaf, s.now()))
	})
	api.Handle(m, api.CertsGenerate, func(ctx context.Context, req api.CertGenerate, _ api.Output) (api.CertInfo, error) {
		domains := []string{}
		if req.Domain != "" {
			if err := app.ValidateDomain(strings.ToLower(req.Domain)); err != nil {
				return api.CertInfo{}, invalid(err)
			}
			domains = append(domains, strings.ToLower(req.Domain))
		}
		hosts, err := s.certHosts(ctx, req.App)
		if err != nil {
			return api.CertInfo{}, err
		}
		for _, h := range hosts {
			if !slices.Contains(domains, h) {
				domains = append(domains, h)
			}
		}
		if len(domains) == 0 {
			return api.CertInfo{}, api.Errorf(api.CodeInvalid, "Please give a domain: %s has none", req.App)
		}
		certPEM, keyPEM, err := selfSigned(domains, s.now())
		if err != nil {
			return api.CertInfo{}, err
		}
		leaf, err := parseCertPair(certPEM, keyPEM)
		if err != nil {
			return api.CertInfo{}, err
		}
		return s.installCert(ctx, req.App, certOf("self-signed", certPEM, keyPEM, leaf, s.now()))
	})
	api.Handle(m, api.CertsRemove, func(ctx context.Context, req api.AppRef, _ api.Output) (api.Empty, error) {
		err := s.store.Tx(ctx, func(tx *store.Tx) error {
			a, err := getApp(tx, req.App)
			if err != nil {
				return err
			}
			if err := tx.RemoveCert(a); errors.Is(err, store.ErrNoCert) {
				return api.Errorf(api.CodeNotFound, "%s has no certificate", req.App)
			} else if err != nil {
				return err
			}
			return nil
		})
		if err == nil {
			s.notifyRoutes(ctx, req.App)
		}
		return api.Empty{}, err
	})
	api.Handle(m, api.CertsInfo, func(ctx context.Context, req api.CertShow, _ api.Output) (api.CertInfo, error) {
		return s.certInfo(ctx, req)
	})
	api.Handle(m, api.RedirectsSet, s.redirectSet)
	api.Handle(m, api.RedirectsUnset, s.redirectUnset)
	api.Handle(m, api.RedirectsList, func(ctx context.Context, req api.AppRef, _ api.Output) (api.RedirectList, error) {
		res := api.RedirectList{Redirects: []api.RedirectInfo{}}
		err := s.store.Tx(ctx, func(tx *store.Tx) error {
			a, err := getApp(tx, req.App)
			if err != nil {
				return err
			}
			rs, err := tx.Redirects(a)
			for _, r := range rs {
				res.Redirects = append(res.Redirects, api.RedirectInfo{Src: r.Src, Dest: r.Dest, Code: r.Code})
			}
			return err
		})
		return res, err
	})
}

func (s *Service) redirectSet(ctx context.Context, req api.RedirectSet, _ api.Output) (api.Empty, error) {
	src, dest := strings.ToLower(req.Src), strings.ToLower(req.Dest)
	if src == "" || dest == "" {
		return api.Empty{}, api.Errorf(api.CodeInvalid, "Please provide a source domain and a destination")
	}
	for _, d := range []string{src, dest} {
		if err := app.ValidateDomain(d); err != nil {
			return api.Empty{}, invalid(err)
		}
	}
	if src == dest {
		return api.Empty{}, api.Errorf(api.CodeInvalid, "The source and destination domains are the same")
	}
	code := req.Code
	if code == 0 {
		code = 301
	}
	if !slices.Contains([]int{301, 302, 303, 307, 308}, code) {
		return api.Empty{}, api.Errorf(api.CodeInvalid, "Invalid redirect code %d: use 301, 302, 303, 307 or 308", code)
	}
	err := s.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := getApp(tx, req.App)
		if err != nil {
			return err
		}
		// The seed redirects one of the app's own domains (the bare one to
		// www): that is allowed, the redirect wins over routing. Another
		// app's domain is not.
		if owner, ok, err := tx.DomainOwner(src); err != nil {
			return err
		} else if ok && owner != a.Name {
			return api.Errorf(api.CodeConflict, "%s is a domain of %s: remove it there first (domains:remove %s %s)", src, owner, owner, src)
		}
		if err := tx.AddRedirect(a, store.Redirect{Src: src, Dest: dest, Code: code}); errors.Is(err, store.ErrRedirectTaken) {
			return api.Errorf(api.CodeConflict, "Source domain is already redirected")
		} else if err != nil {
			return err
		}
		return nil
	})
	if err == nil {
		s.notifyRoutes(ctx, req.App)
	}
	return api.Empty{}, err
}

func (s *Service) redirectUnset(ctx context.Context, req api.RedirectSet, _ api.Output) (api.Empty, error) {
	src := strings.ToLower(req.Src)
	if src == "" {
		return api.Empty{}, api.Errorf(api.CodeInvalid, "Please provide a source domain")
	}
	err := s.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := getApp(tx, req.App)
		if err != nil {
			return err
		}
		ok, err := tx.RemoveRedirect(a, src)
		if err == nil && !ok {
			return api.Errorf(api.CodeNotFound, "No redirect from %s on %s", src, req.App)
		}
		return err
	})
	if err == nil {
		s.notifyRoutes(ctx, req.App)
	}
	return api.Empty{}, err
}

// routeTLS adds an app's certificate, HSTS and redirects to its route.
func (s *Service) routeTLS(tx *store.Tx, a store.App, route *proxy.Route) error {
	rs, err := tx.Redirects(a)
	if err != nil {
		return err
	}
	for _, r := range rs {
		route.Redirects = append(route.Redirects, proxy.Redirect{From: r.Src, To: r.Dest, Code: r.Code})
		route.Hosts = slices.DeleteFunc(route.Hosts, func(h string) bool { return h == r.Src })
	}
	c, err := tx.Cert(a)
	if errors.Is(err, store.ErrNoCert) {
		return nil
	}
	if err != nil {
		return err
	}
	get := func(key, def string) string {
		if v, ok, _ := tx.Property(a.Scope(), "proxy", key); ok {
			return v
		}
		if v, ok, _ := tx.Property(store.Global, "proxy", key); ok {
			return v
		}
		return def
	}
	route.TLS = &proxy.RouteTLS{CertPEM: c.CertPEM, KeyPEM: c.KeyPEM, RedirectHTTP: true}
	if get("hsts", "true") == "true" {
		age, _ := strconv.Atoi(get("hsts-max-age", "15724800"))
		route.TLS.HSTS = &proxy.HSTS{MaxAge: time.Duration(age) * time.Second,
			IncludeSubdomains: get("hsts-include-subdomains", "false") == "true", Preload: get("hsts-preload", "false") == "true"}
	}
	return nil
}

// certHosts are the names an app's certificate must cover: its domains and
// the sources of its redirects.
func (s *Service) certHosts(ctx context.Context, appName string) ([]string, error) {
	hosts, err := s.AppHosts(ctx, appName)
	if err != nil {
		return nil, err
	}
	err = s.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := getApp(tx, appName)
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
