// Package registry runs the image registry of a Berth cluster: Debian's
// docker-registry (the Docker distribution registry) as a process Berth
// starts and restarts, with its configuration generated, its storage in
// Berth's data directory, bound to one address on the cluster network,
// and TLS from a small certificate authority Berth keeps. Images built on
// the manager are pushed there and every node pulls them by digest.
//
// The nodes trust the CA through the engine's certs.d directory: dockerd
// reads /etc/docker/certs.d/HOST:PORT/ca.crt (a fixed path for a root
// daemon; no flag or daemon.json key moves it) at each pull and push, so
// [InstallTrust] on each node is all a node needs; no insecure-registries.
package registry

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// CA is the certificate authority Berth keeps for its cluster's TLS.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	PEM  []byte // the certificate, for ca.crt files and trust pools
}

// File names in a CA directory.
const (
	caCertFile = "ca.crt"
	caKeyFile  = "ca.key"
)

// caValidity and serverValidity are how long certificates last.
const (
	caValidity     = 10 * 365 * 24 * time.Hour
	serverValidity = 2 * 365 * 24 * time.Hour
)

// caMu serialises LoadOrCreateCA in this process.
var caMu sync.Mutex

// LoadOrCreateCA loads the CA kept in dir (ca.crt, ca.key), or creates one
// there if dir has neither. A directory with only one of them is an error.
func LoadOrCreateCA(dir string) (*CA, error) {
	// The daemon asks from several places at once (the registry, the
	// nodes' proxies, cluster-add): one at a time, so the first creates
	// the CA and the others load it, never a half-written pair.
	caMu.Lock()
	defer caMu.Unlock()
	certPath, keyPath := filepath.Join(dir, caCertFile), filepath.Join(dir, caKeyFile)
	certPEM, cerr := os.ReadFile(certPath)
	keyPEM, kerr := os.ReadFile(keyPath)
	switch {
	case cerr == nil && kerr == nil:
		return parseCA(certPEM, keyPEM)
	case errors.Is(cerr, fs.ErrNotExist) && errors.Is(kerr, fs.ErrNotExist):
	case cerr != nil && !errors.Is(cerr, fs.ErrNotExist):
		return nil, fmt.Errorf("registry: read CA: %v", cerr)
	case kerr != nil && !errors.Is(kerr, fs.ErrNotExist):
		return nil, fmt.Errorf("registry: read CA key: %v", kerr)
	default:
		return nil, fmt.Errorf("registry: %s has only one of %s and %s; restore the other or remove both to make a new CA", dir, caCertFile, caKeyFile)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "Berth cluster CA", Organization: []string{"Berth"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("registry: create CA: %v", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("registry: %v", err)
	}
	// The key first: a crash in between leaves a key without a certificate,
	// which the next call reports instead of silently making a second CA.
	if err := writeFile(keyPath, keyPEM, 0o600); err != nil {
		return nil, err
	}
	if err := writeFile(certPath, certPEM, 0o644); err != nil {
		return nil, err
	}
	return parseCA(certPEM, keyPEM)
}

func parseCA(certPEM, keyPEM []byte) (*CA, error) {
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, errors.New("registry: the CA's certificate or key is not PEM")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("registry: CA certificate: %v", err)
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("registry: CA key: %v", err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok || !cert.IsCA {
		return nil, errors.New("registry: the CA's key cannot sign or its certificate is not a CA")
	}
	return &CA{Cert: cert, Key: signer, PEM: certPEM}, nil
}

// Pool is a certificate pool trusting only the CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// IssueServer writes a server certificate for hosts (IP addresses or DNS
// names) signed by the CA, and its key, to certFile and keyFile.
func (ca *CA) IssueServer(certFile, keyFile string, hosts ...string) error {
	if len(hosts) == 0 {
		return errors.New("registry: a server certificate needs at least one host")
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: hosts[0], Organization: []string{"Berth"}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	return ca.issue(tmpl, certFile, keyFile)
}

// IssueClient writes a client certificate named name (its common name)
// signed by the CA, and its key, to certFile and keyFile: what the
// manager's daemon presents to the nodes' proxies (mutual TLS, whose
// servers require a client certificate of this CA).
func (ca *CA) IssueClient(certFile, keyFile, name string) error {
	if name == "" {
		return errors.New("registry: a client certificate needs a name")
	}
	return ca.issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: name, Organization: []string{"Berth"}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, certFile, keyFile)
}

// issue signs tmpl (its subject, names and extended key usage set) with
// a new key and writes both.
func (ca *CA) issue(tmpl *x509.Certificate, certFile, keyFile string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	tmpl.SerialNumber = serial()
	tmpl.NotBefore = now.Add(-time.Hour)
	tmpl.NotAfter = now.Add(serverValidity)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return fmt.Errorf("registry: issue certificate: %v", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := writeFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	return writeFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

// DefaultCertsDir is where a root dockerd looks for registries' CAs:
// certs.d/HOST:PORT/ca.crt.
const DefaultCertsDir = "/etc/docker/certs.d"

// InstallTrust makes the engines that read certsDir (DefaultCertsDir on a
// node) trust the registry at addr (HOST:PORT): it writes
// certsDir/HOST:PORT/ca.crt and returns its path.
func InstallTrust(certsDir, addr string, caPEM []byte) (string, error) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return "", fmt.Errorf("registry: trust: address %q is not HOST:PORT", addr)
	}
	dir := filepath.Join(certsDir, addr)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("registry: trust: %v", err)
	}
	path := filepath.Join(dir, "ca.crt")
	return path, writeFile(path, caPEM, 0o644)
}

// writeFile writes through a temporary file and a rename, so a reader
// never sees half a certificate.
func writeFile(path string, b []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, mode); err != nil {
		return fmt.Errorf("registry: %v", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("registry: %v", err)
	}
	return nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		panic(err)
	}
	return n
}
