package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/berthpaas/berth/bench/internal/benchenv"
)

// writeCert writes a self-signed ECDSA P-256 certificate for hosts to
// DIR/NAME.crt and DIR/NAME.key.
func writeCert(dir, name string, hosts []string) (certPath, keyPath string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		benchenv.Fail("generate a key: %v", err)
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: hosts[0]},
		DNSNames:     hosts,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		benchenv.Fail("self-sign a certificate: %v", err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	certPath, keyPath = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		benchenv.Fail("%v", err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o644); err != nil {
		benchenv.Fail("%v", err)
	}
	return certPath, keyPath
}

// siteCert is one certificate and the hosts it serves.
type siteCert struct {
	hosts     []string
	cert, key string
}

// nginxTLS is Debian's nginx serving each site's hosts with its
// certificate (TLS 1.3, a server block each, as a user would write it).
type nginxTLS struct {
	addr string
	cmd  *exec.Cmd
}

func startNginx(dir string, sites []siteCert) *nginxTLS {
	n := &nginxTLS{addr: fmt.Sprintf("127.0.0.1:%d", benchenv.FreePort())}
	tmp := filepath.Join(dir, "nginx-tmp")
	os.MkdirAll(tmp, 0o777)
	os.Chmod(tmp, 0o777)
	var b strings.Builder
	fmt.Fprintf(&b, `daemon off;
worker_processes auto;
pid %[1]s/nginx.pid;
error_log %[1]s/nginx-error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path %[2]s/body;
	proxy_temp_path %[2]s/proxy;
	fastcgi_temp_path %[2]s/fastcgi;
	uwsgi_temp_path %[2]s/uwsgi;
	scgi_temp_path %[2]s/scgi;
	server_names_hash_bucket_size 128;
`, dir, tmp)
	for i, s := range sites {
		def := ""
		if i == 0 {
			def = " default_server"
		}
		fmt.Fprintf(&b, `	server {
		listen %s ssl%s;
		server_name %s;
		ssl_certificate %s;
		ssl_certificate_key %s;
		ssl_protocols TLSv1.3;
		location / { return 200 "ok\n"; }
	}
`, n.addr, def, strings.Join(s.hosts, " "), s.cert, s.key)
	}
	b.WriteString("}\n")
	conf := filepath.Join(dir, "nginx.conf")
	os.WriteFile(conf, []byte(b.String()), 0o644)
	bin := "nginx"
	if _, err := exec.LookPath(bin); err != nil {
		bin = "/usr/sbin/nginx"
	}
	n.cmd = exec.Command(bin, "-c", conf, "-p", dir)
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logf, _ := os.Create(filepath.Join(dir, "nginx.log"))
	n.cmd.Stdout, n.cmd.Stderr = logf, logf
	if err := n.cmd.Start(); err != nil {
		benchenv.Fail("start nginx: %v", err)
	}
	benchenv.AtExit(n.stop)
	return n
}

func (n *nginxTLS) stop() {
	if n.cmd == nil || n.cmd.Process == nil {
		return
	}
	syscall.Kill(-n.cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { n.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// handshake opens a TLS 1.3 connection to addr for host (SNI), checks
// that the certificate served is for host, and closes it. No session is
// resumed: each is a full handshake.
func handshake(ctx context.Context, addr, host string) error {
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 2 * time.Second},
		Config: &tls.Config{ServerName: host, InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	st := c.(*tls.Conn).ConnectionState()
	if len(st.PeerCertificates) == 0 || st.PeerCertificates[0].VerifyHostname(host) != nil {
		return fmt.Errorf("%s: the certificate served is not for %s", addr, host)
	}
	return nil
}

// waitTLS waits until every host gets its certificate from addr.
func waitTLS(addr string, hosts []string, what string) {
	deadline := time.Now().Add(30 * time.Second)
	for _, h := range hosts {
		for {
			err := handshake(context.Background(), addr, h)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				benchenv.Fail("%s over TLS for %s: %v", what, h, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// tlsResult is one handshake load run.
type tlsResult struct {
	ok, failed int
	took       time.Duration
	firstErr   string
}

func (r tlsResult) rate() float64 { return float64(r.ok) / r.took.Seconds() }

// handshakeLoad runs workers that each open connections to addr one after
// another, for d, with the SNI of each the next of hosts.
func handshakeLoad(addr string, hosts []string, workers int, d time.Duration) tlsResult {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var ok, failed, next atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				h := hosts[int(next.Add(1))%len(hosts)]
				if err := handshake(context.Background(), addr, h); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	r := tlsResult{ok: int(ok.Load()), failed: int(failed.Load()), took: time.Since(start)}
	if e, _ := firstErr.Load().(string); e != "" {
		r.firstErr = e
	}
	return r
}
