package testacme_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/acme"

	"github.com/berthpaas/berth/internal/testacme"
)

// TestIssue gets real certificates from Pebble with a minimal ACME client,
// answering the challenges on 127.0.0.1 at the ports Pebble dials, and checks
// them against Pebble's issuing root.
func TestIssue(t *testing.T) {
	begin := time.Now()
	s := testacme.Start(t)
	t.Logf("Pebble up in %s: %s", time.Since(begin).Round(time.Millisecond), s.Directory)
	s.AddA(t, "shop.test")
	s.AddA(t, "www.shop.test")

	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(s.CARoots) {
		t.Fatal("CARoots holds no PEM certificate")
	}
	client := newClient(t, s, roots)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	acct, err := client.Register(ctx, &acme.Account{Contact: []string{"mailto:ops@shop.test"}}, acme.AcceptTOS)
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	if acct.Status != acme.StatusValid {
		t.Fatalf("account status %q, want valid", acct.Status)
	}

	t.Run("http-01", func(t *testing.T) {
		// The stand-in for Berth's proxy: plain HTTP on 127.0.0.1:HTTPPort.
		var mu sync.Mutex
		responses := map[string]string{} // path -> key authorization
		var hosts []string
		serve(t, "127.0.0.1:"+strconv.Itoa(s.HTTPPort), nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			defer mu.Unlock()
			hosts = append(hosts, r.Host)
			body, ok := responses[r.URL.Path]
			if !ok {
				http.NotFound(w, r)
				return
			}
			_, _ = w.Write([]byte(body))
		}))

		chain := issue(ctx, t, client, "shop.test", "http-01", func(chal *acme.Challenge) {
			body, err := client.HTTP01ChallengeResponse(chal.Token)
			if err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			responses[client.HTTP01ChallengePath(chal.Token)] = body
			mu.Unlock()
		})
		verify(t, s, chain, "shop.test")

		mu.Lock()
		defer mu.Unlock()
		want := net.JoinHostPort("shop.test", strconv.Itoa(s.HTTPPort))
		if len(hosts) == 0 || hosts[0] != want {
			t.Errorf("challenge requests came for hosts %q, want %q", hosts, want)
		}
	})

	t.Run("tls-alpn-01", func(t *testing.T) {
		// TLS on 127.0.0.1:TLSPort answering the acme-tls/1 protocol.
		var mu sync.Mutex
		certs := map[string]*tls.Certificate{} // server name -> challenge cert
		config := &tls.Config{
			NextProtos: []string{"acme-tls/1"},
			GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
				mu.Lock()
				defer mu.Unlock()
				if c := certs[hello.ServerName]; c != nil {
					return c, nil
				}
				return nil, fmt.Errorf("no challenge certificate for %q", hello.ServerName)
			},
		}
		serve(t, "127.0.0.1:"+strconv.Itoa(s.TLSPort), config, http.NotFoundHandler())

		chain := issue(ctx, t, client, "www.shop.test", "tls-alpn-01", func(chal *acme.Challenge) {
			cert, err := client.TLSALPN01ChallengeCert(chal.Token, "www.shop.test")
			if err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			certs["www.shop.test"] = &cert
			mu.Unlock()
		})
		verify(t, s, chain, "www.shop.test")
	})
}

func newClient(t *testing.T, s *testacme.Server, roots *x509.CertPool) *acme.Client {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &acme.Client{
		Key:          key,
		DirectoryURL: s.Directory,
		HTTPClient: &http.Client{
			Timeout:   30 * time.Second,
			Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}},
		},
		UserAgent: "berth-testacme-test",
	}
}

// serve runs handler on addr (with TLS when config is set) until the test
// ends.
func serve(t *testing.T, addr string, config *tls.Config, handler http.Handler) *http.Server {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on the challenge port: %v", err)
	}
	if config != nil {
		l = tls.NewListener(l, config)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// issue orders a certificate for name, answers its authorization with the
// challenge of type typ after prepare has set up the response, and returns
// the DER chain.
func issue(ctx context.Context, t *testing.T, client *acme.Client, name, typ string, prepare func(*acme.Challenge)) [][]byte {
	t.Helper()
	order, err := client.AuthorizeOrder(ctx, acme.DomainIDs(name))
	if err != nil {
		t.Fatalf("new order: %v", err)
	}
	for _, u := range order.AuthzURLs {
		authz, err := client.GetAuthorization(ctx, u)
		if err != nil {
			t.Fatalf("get authorization: %v", err)
		}
		if authz.Status == acme.StatusValid {
			continue // Pebble reuses a valid authorization now and then
		}
		var chal *acme.Challenge
		for _, c := range authz.Challenges {
			if c.Type == typ {
				chal = c
			}
		}
		if chal == nil {
			t.Fatalf("authorization for %s offers no %s challenge", name, typ)
		}
		prepare(chal)
		if _, err := client.Accept(ctx, chal); err != nil {
			t.Fatalf("accept %s: %v", typ, err)
		}
		if _, err := client.WaitAuthorization(ctx, u); err != nil {
			t.Fatalf("%s validation for %s: %v", typ, name, err)
		}
	}
	if order, err = client.WaitOrder(ctx, order.URI); err != nil {
		t.Fatalf("wait for order ready: %v", err)
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: []string{name}}, key)
	if err != nil {
		t.Fatal(err)
	}
	// Not CreateOrderCert: Pebble's finalize response has no Location
	// header, which that method needs to poll the order.
	chain, _, err := client.CreateCertFromOrder(ctx, order, csr, true)
	if err != nil {
		t.Fatalf("finalize: %v", err)
	}
	return chain
}

// verify checks that chain is a certificate for name that chains up to
// Pebble's issuing root, and not to the CA of Pebble's own HTTPS.
func verify(t *testing.T, s *testacme.Server, chain [][]byte, name string) {
	t.Helper()
	if len(chain) < 2 {
		t.Fatalf("got a chain of %d certificates, want the leaf and an intermediate", len(chain))
	}
	rootPEM, err := s.IssuerRoot()
	if err != nil {
		t.Fatalf("IssuerRoot: %v", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(rootPEM) {
		t.Fatal("IssuerRoot returned no PEM certificate")
	}
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		t.Fatal(err)
	}
	intermediates := x509.NewCertPool()
	for _, der := range chain[1:] {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		intermediates.AddCert(c)
	}
	opts := x509.VerifyOptions{DNSName: name, Roots: roots, Intermediates: intermediates}
	if _, err := leaf.Verify(opts); err != nil {
		t.Errorf("issued certificate does not verify against IssuerRoot: %v", err)
	}
	wrong := x509.NewCertPool()
	wrong.AppendCertsFromPEM(s.CARoots)
	opts.Roots = wrong
	if _, err := leaf.Verify(opts); err == nil {
		t.Error("issued certificate verifies against CARoots too; the two CAs should differ")
	}
	t.Logf("%s: issued by %q, valid until %s", name, leaf.Issuer.CommonName, leaf.NotAfter.Format(time.RFC3339))
}
