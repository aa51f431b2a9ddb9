package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// requireRegistry skips (or fails with BERTH_REQUIRE_DOCKER=1, since the
// suite installs it) when docker-registry is not installed.
func requireRegistry(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath(DefaultBinary); err != nil {
		if os.Getenv("BERTH_REQUIRE_DOCKER") == "1" {
			t.Fatalf("%s is required (BERTH_REQUIRE_DOCKER=1): apt-get install docker-registry", DefaultBinary)
		}
		t.Skipf("%s not installed (apt-get install docker-registry)", DefaultBinary)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startTest(t *testing.T) (*Registry, *CA) {
	t.Helper()
	requireRegistry(t)
	dir := t.TempDir()
	ca, err := LoadOrCreateCA(filepath.Join(dir, "ca"))
	if err != nil {
		t.Fatal(err)
	}
	log := &syncBuf{}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r, err := Start(ctx, Config{Dir: filepath.Join(dir, "registry"), Addr: freeAddr(t), CA: ca, Log: log})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	t.Cleanup(func() {
		r.Stop()
		if t.Failed() {
			t.Logf("registry output:\n%s", log.String())
		}
	})
	return r, ca
}

// TestRegistry runs the real registry: TLS verified by Berth's CA (and
// refused without it), a pushed manifest's digest resolved, the process
// restarted after it is killed, and nothing listening after Stop.
func TestRegistry(t *testing.T) {
	t.Parallel()
	r, ca := startTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// Without the CA the certificate is not trusted.
	plain := &http.Client{Timeout: 5 * time.Second}
	if _, err := plain.Get("https://" + r.Addr() + "/v2/"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("GET without the CA: %v, want a certificate error", err)
	}
	// Plain HTTP gets no API.
	if resp, err := plain.Get("http://" + r.Addr() + "/v2/"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("plain HTTP: %s, want 400 (an HTTPS server)", resp.Status)
		}
	}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}

	manifest := pushImage(t, c, r.Addr(), "berth/app", "1")
	sum := sha256.Sum256(manifest)
	want := "sha256:" + hex.EncodeToString(sum[:])
	got, err := r.Digest(ctx, "berth/app", "1")
	if err != nil || got != want {
		t.Fatalf("Digest = %q, %v; want %q", got, err, want)
	}
	if ref := r.Ref("berth/app", got); ref != r.Addr()+"/berth/app@"+want {
		t.Errorf("Ref = %q", ref)
	}
	if _, err := r.Digest(ctx, "berth/app", "2"); err == nil || !strings.Contains(err.Error(), "push it first") {
		t.Errorf("Digest of a missing tag: %v", err)
	}

	// Killed, it comes back on its own, with what it stored.
	pid := r.Pid()
	if pid == 0 {
		t.Fatal("no registry process")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for r.Restarts() == 0 || r.Pid() == 0 || r.Pid() == pid {
		if time.Now().After(deadline) {
			t.Fatalf("not restarted after SIGKILL (restarts %d, pid %d)", r.Restarts(), r.Pid())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := r.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := r.Digest(ctx, "berth/app", "1"); err != nil || got != want {
		t.Fatalf("Digest after the restart = %q, %v", got, err)
	}

	r.Stop()
	if conn, err := net.DialTimeout("tcp", r.Addr(), time.Second); err == nil {
		conn.Close()
		t.Fatal("the registry still listens after Stop")
	}
	time.Sleep(3 * minBackoff)
	if r.Pid() != 0 {
		t.Fatal("restarted after Stop")
	}
}

// pushImage uploads a config blob, a layer blob and a schema 2 manifest
// through the distribution API, as an engine's push does, and returns the
// manifest's bytes.
func pushImage(t *testing.T, c *http.Client, addr, repo, tag string) []byte {
	t.Helper()
	blob := func(b []byte) string {
		sum := sha256.Sum256(b)
		d := "sha256:" + hex.EncodeToString(sum[:])
		resp, err := c.Post("https://"+addr+"/v2/"+repo+"/blobs/uploads/", "", nil)
		if err != nil || resp.StatusCode != http.StatusAccepted {
			t.Fatalf("start upload: %v %v", err, resp)
		}
		resp.Body.Close()
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		q := loc.Query()
		q.Set("digest", d)
		loc.RawQuery = q.Encode()
		if !loc.IsAbs() {
			loc.Scheme, loc.Host = "https", addr
		}
		req, _ := http.NewRequest(http.MethodPut, loc.String(), bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/octet-stream")
		resp, err = c.Do(req)
		if err != nil || resp.StatusCode != http.StatusCreated {
			t.Fatalf("upload blob: %v %v", err, resp)
		}
		resp.Body.Close()
		return d
	}
	config := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	layer := []byte("not really a tarball, the registry does not look")
	manifest := fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",`+
		`"config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":%d,"digest":%q},`+
		`"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":%d,"digest":%q}]}`,
		len(config), blob(config), len(layer), blob(layer))
	req, _ := http.NewRequest(http.MethodPut, "https://"+addr+"/v2/"+repo+"/manifests/"+tag, bytes.NewReader(manifest))
	req.Header.Set("Content-Type", "application/vnd.docker.distribution.manifest.v2+json")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("put manifest: %s", resp.Status)
	}
	return manifest
}

func TestStartRejectsBadAddresses(t *testing.T) {
	t.Parallel()
	ca, err := LoadOrCreateCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]string{
		"nonsense":       "is not HOST:PORT",
		"0.0.0.0:5000":   "listens everywhere",
		"10.0.0.1:99999": "not a port number",
		":5000":          "is not HOST:PORT",
	} {
		dir := t.TempDir()
		_, err := Start(context.Background(), Config{Dir: dir, Addr: addr, CA: ca})
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("Start(%q) = %v, want one line with %q", addr, err, want)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("Start(%q) wrote %d entries into its directory", addr, len(entries))
		}
	}
}

// TestCA checks the CA is kept (loaded, not remade), that a certificate it
// issues verifies for its hosts only, that half a CA is refused, and that
// InstallTrust writes certs.d/HOST:PORT/ca.crt.
func TestCA(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca, err := LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	again, err := LoadOrCreateCA(dir)
	if err != nil || !again.Cert.Equal(ca.Cert) {
		t.Fatalf("second load made another CA: %v", err)
	}
	if st, err := os.Stat(filepath.Join(dir, caKeyFile)); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("CA key mode: %v %v", st.Mode(), err)
	}
	cf, kf := filepath.Join(dir, "s.crt"), filepath.Join(dir, "s.key")
	if err := ca.IssueServer(cf, kf, "10.231.0.254", "registry.berth"); err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(cf, kf)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(pair.Certificate[0])
	for host, ok := range map[string]bool{"10.231.0.254": true, "registry.berth": true, "10.231.0.1": false} {
		_, err := leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: host})
		if (err == nil) != ok {
			t.Errorf("verify for %s: %v, want ok=%v", host, err, ok)
		}
	}
	half := t.TempDir()
	if err := os.WriteFile(filepath.Join(half, caKeyFile), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateCA(half); err == nil || !strings.Contains(err.Error(), "only one of") {
		t.Errorf("half a CA: %v", err)
	}
	certs := t.TempDir()
	path, err := InstallTrust(certs, "10.231.0.254:5000", ca.PEM)
	if err != nil || path != filepath.Join(certs, "10.231.0.254:5000", "ca.crt") {
		t.Fatalf("InstallTrust = %q, %v", path, err)
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, ca.PEM) {
		t.Error("ca.crt is not the CA's certificate")
	}
	if _, err := InstallTrust(certs, "no-port", ca.PEM); err == nil {
		t.Error("InstallTrust accepted an address without a port")
	}
}
