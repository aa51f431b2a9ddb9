// Package testacme runs a real ACME server for Berth's tests: Let's Encrypt's
// Pebble, with pebble-challtestsrv as its DNS server so that every test host
// name (shop.test, www.shop.test, ...) resolves to 127.0.0.1.
//
// Everything listens on 127.0.0.1 only, on free ports chosen per Start.
// Pebble validates HTTP-01 challenges by connecting to NAME:HTTPPort and
// TLS-ALPN-01 challenges to NAME:TLSPort, where NAME resolves to 127.0.0.1: a
// test makes the code under test listen on 127.0.0.1:HTTPPort (or TLSPort).
//
// The binaries are built once per machine by scripts/build-pebble and cached
// under /var/cache/berth-test/pebble/VERSION (BERTH_TEST_CACHE moves it).
package testacme

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Server is a running Pebble with its DNS server.
type Server struct {
	// Directory is the ACME directory URL, https://127.0.0.1:PORT/dir.
	Directory string
	// CARoots is the PEM of the CA that signs Pebble's own HTTPS
	// certificate: what an ACME client must trust to talk to Directory.
	// It is made afresh by each Start and is unrelated to IssuerRoot.
	CARoots []byte
	// IssuerRoot fetches the PEM of the root that signs the certificates
	// Pebble issues (its management API's /roots/0). Pebble makes a new
	// root each time it starts.
	IssuerRoot func() ([]byte, error)
	// HTTPPort is the port Pebble connects to for HTTP-01 challenges
	// (its httpPort setting): the test makes the code under test listen
	// there on 127.0.0.1.
	HTTPPort int
	// TLSPort is the same for TLS-ALPN-01 challenges (tlsPort).
	TLSPort int
	// DNSAddr is 127.0.0.1:PORT of pebble-challtestsrv's DNS server
	// (UDP and TCP), which Pebble uses for all its lookups.
	DNSAddr string

	client        *http.Client // trusts CARoots
	managementURL string       // Pebble's management API
	challtestURL  string       // pebble-challtestsrv's management API
}

// Start builds (via scripts/build-pebble, cached) and starts
// pebble-challtestsrv and Pebble on free 127.0.0.1 ports, and stops them when
// the test ends. Every name resolves to 127.0.0.1 (A record) and to nothing
// over IPv6. Pebble runs with PEBBLE_VA_NOSLEEP=1 and
// PEBBLE_VA_ALWAYS_VALID=0, so challenges are really validated, at once, and
// with PEBBLE_WFE_NONCEREJECT=0 unless the environment sets it; other
// PEBBLE_* variables of the environment (PEBBLE_AUTHZREUSE, ...) reach it.
// Its sole certificate profile is "default", valid 90 days.
//
// The test fails if the binaries cannot be built or the servers do not come
// up; when the test fails, both servers' logs are logged at its end.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := buildPebble()
	if err != nil {
		t.Fatalf("testacme: cannot build Pebble: %v", err)
	}
	// A free port picked here may be taken by another process before the
	// server binds it; such a start fails fast and is tried again.
	var errs []error
	for range 3 {
		s, err := start(t, bin)
		if err == nil {
			return s
		}
		errs = append(errs, err)
	}
	t.Fatalf("testacme: cannot start Pebble: %v", errors.Join(errs...))
	return nil
}

// AddA makes name resolve to 127.0.0.1 through pebble-challtestsrv's
// management API. Every name already does by default; this keeps a test
// explicit about the names it uses.
func (s *Server) AddA(t testing.TB, name string) {
	t.Helper()
	err := s.challtest("/add-a", map[string]any{"host": name, "addresses": []string{"127.0.0.1"}})
	if err != nil {
		t.Fatalf("testacme: AddA %s: %v", name, err)
	}
}

func (s *Server) challtest(path string, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	resp, err := http.Post(s.challtestURL+path, "application/json", bytes.NewReader(b))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("pebble-challtestsrv %s: %s %s", path, resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

func (s *Server) issuerRoot() ([]byte, error) {
	resp, err := s.client.Get(s.managementURL + "/roots/0")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("pebble /roots/0: %s", resp.Status)
	}
	if !bytes.Contains(body, []byte("-----BEGIN CERTIFICATE-----")) {
		return nil, fmt.Errorf("pebble /roots/0 returned no PEM certificate")
	}
	return body, nil
}

// start makes one attempt at starting both servers. What it started is
// stopped at once if the attempt fails, else when the test ends.
func start(t testing.TB, bin string) (_ *Server, err error) {
	var started []*process
	defer func() {
		if err != nil {
			for _, p := range started {
				p.stop()
			}
		}
	}()
	dir := t.TempDir()
	caPEM, certFile, keyFile, err := writeServingCert(dir)
	if err != nil {
		return nil, err
	}
	ports, err := freePorts(6, 4)
	if err != nil {
		return nil, err
	}
	pebblePort, managementPort, httpPort, tlsPort, dnsPort, challtestPort :=
		ports[0], ports[1], ports[2], ports[3], ports[4], ports[5]

	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	s := &Server{
		Directory: fmt.Sprintf("https://127.0.0.1:%d/dir", pebblePort),
		CARoots:   caPEM,
		HTTPPort:  httpPort,
		TLSPort:   tlsPort,
		DNSAddr:   fmt.Sprintf("127.0.0.1:%d", dnsPort),
		client: &http.Client{
			Timeout:   10 * time.Second,
			Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}},
		},
		managementURL: fmt.Sprintf("https://127.0.0.1:%d", managementPort),
		challtestURL:  fmt.Sprintf("http://127.0.0.1:%d", challtestPort),
	}
	s.IssuerRoot = s.issuerRoot

	challtest, err := startProcess(t, dir, "pebble-challtestsrv", filepath.Join(bin, "pebble-challtestsrv"), nil,
		"-defaultIPv4", "127.0.0.1",
		"-defaultIPv6", "",
		"-dnsserver", s.DNSAddr,
		"-management", fmt.Sprintf("127.0.0.1:%d", challtestPort),
		"-http01", "",
		"-https01", "",
		"-tlsalpn01", "",
		"-doh", "",
	)
	if err != nil {
		return nil, err
	}
	started = append(started, challtest)
	err = waitFor(challtest, func() error {
		if err := s.challtest("/set-default-ipv4", map[string]string{"ip": "127.0.0.1"}); err != nil {
			return err
		}
		return lookup(s.DNSAddr, "probe.test")
	})
	if err != nil {
		return nil, err
	}

	config := map[string]any{"pebble": map[string]any{
		"listenAddress":                  fmt.Sprintf("127.0.0.1:%d", pebblePort),
		"managementListenAddress":        fmt.Sprintf("127.0.0.1:%d", managementPort),
		"certificate":                    certFile,
		"privateKey":                     keyFile,
		"httpPort":                       httpPort,
		"tlsPort":                        tlsPort,
		"ocspResponderURL":               "",
		"externalAccountBindingRequired": false,
		// Seconds a client is told to wait before polling an authorization
		// or order again (Retry-After); kept short for quick tests.
		"retryAfter":   map[string]int{"authz": 1, "order": 1},
		"keyAlgorithm": "ecdsa",
		// One profile only: given several, Pebble picks one at random for
		// an order that names none (Pebble's sample has a 6-day one).
		"profiles": map[string]any{
			"default": map[string]any{"description": "90-day certificates", "validityPeriod": 90 * 24 * 3600},
		},
	}}
	configFile := filepath.Join(dir, "pebble-config.json")
	b, err := json.MarshalIndent(config, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(configFile, b, 0o644); err != nil {
		return nil, err
	}
	env := []string{"PEBBLE_VA_NOSLEEP=1", "PEBBLE_VA_ALWAYS_VALID=0"}
	if _, set := os.LookupEnv("PEBBLE_WFE_NONCEREJECT"); !set {
		// Pebble rejects 5% of good nonces by default; x/crypto/acme
		// retries after a 1s, 2s, 4s... back-off, which made a test
		// take anywhere from 2 to 12 s. Set the variable to have it back.
		env = append(env, "PEBBLE_WFE_NONCEREJECT=0")
	}
	pebble, err := startProcess(t, dir, "pebble", filepath.Join(bin, "pebble"), env,
		"-config", configFile,
		"-dnsserver", s.DNSAddr,
	)
	if err != nil {
		return nil, err
	}
	started = append(started, pebble)
	err = waitFor(pebble, func() error {
		resp, err := s.client.Get(s.Directory)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", s.Directory, resp.Status)
		}
		_, err = s.IssuerRoot()
		return err
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// lookup asks the DNS server at addr, over TCP as Pebble does, for name's
// address and wants 127.0.0.1.
func lookup(addr, name string) error {
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	ips, err := r.LookupHost(ctx, name+".")
	if err != nil {
		return err
	}
	if len(ips) != 1 || ips[0] != "127.0.0.1" {
		return fmt.Errorf("DNS %s: %s resolves to %v, want [127.0.0.1]", addr, name, ips)
	}
	return nil
}

// freePorts returns n distinct free TCP ports on 127.0.0.1; the one at
// index udp is free for UDP too.
func freePorts(n, udp int) ([]int, error) {
	var held []io.Closer
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	ports := make([]int, 0, n)
	for tries := 0; len(ports) < n; tries++ {
		if tries > 100 {
			return nil, errors.New("cannot find free ports on 127.0.0.1")
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		held = append(held, l)
		port := l.Addr().(*net.TCPAddr).Port
		if len(ports) == udp {
			pc, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
			if err != nil {
				continue
			}
			held = append(held, pc)
		}
		ports = append(ports, port)
	}
	return ports, nil
}

// process is a server started for one test.
type process struct {
	name    string
	cmd     *exec.Cmd
	logFile string
	done    chan struct{} // closed when it has exited
	err     error         // its exit status, once done
	once    sync.Once
}

func startProcess(t testing.TB, dir, name, path string, env []string, args ...string) (*process, error) {
	logFile := filepath.Join(dir, name+".log")
	out, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	defer out.Close()
	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, logFile: logFile, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("testacme: %s log (%s):\n%s", name, strings.Join(cmd.Args, " "), p.logTail(8<<10))
		}
	})
	return p, nil
}

// stop ends the process, politely first; it may be called more than once.
func (p *process) stop() {
	p.once.Do(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
}

func (p *process) logTail(n int64) string {
	f, err := os.Open(p.logFile)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > n {
		_, _ = f.Seek(st.Size()-n, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

// waitFor polls ready until it succeeds, failing early when p exits; an
// error carries the end of p's log.
func waitFor(p *process, ready func() error) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := ready()
		if err == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited (%v) before it was ready; its log:\n%s", p.name, p.err, p.logTail(4<<10))
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after 30s: %v; its log:\n%s", p.name, err, p.logTail(4<<10))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The build is shared by every Start of a test binary.
var built struct {
	sync.Mutex
	dir string
}

// buildPebble runs scripts/build-pebble and returns the directory holding
// the binaries.
func buildPebble() (string, error) {
	built.Lock()
	defer built.Unlock()
	if built.dir != "" {
		return built.dir, nil
	}
	script, err := findScript()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "bash", script)
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s: %v\n%s", script, err, stderr.Bytes())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	dir := lines[len(lines)-1]
	for _, name := range []string{"pebble", "pebble-challtestsrv"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return "", fmt.Errorf("%s printed %q, which has no %s: %v\n%s", script, dir, name, err, stderr.Bytes())
		}
	}
	built.dir = dir
	return dir, nil
}

// findScript finds scripts/build-pebble in the checkout: above the working
// directory (a test runs in its package's directory), else beside this
// source file.
func findScript() (string, error) {
	const rel = "scripts/build-pebble"
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		starts = append(starts, filepath.Dir(file))
	}
	for _, d := range starts {
		for {
			p := filepath.Join(d, rel)
			if _, err := os.Stat(p); err == nil {
				if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
					return p, nil
				}
			}
			parent := filepath.Dir(d)
			if parent == d {
				break
			}
			d = parent
		}
	}
	return "", fmt.Errorf("cannot find %s above %s", rel, strings.Join(starts, " or "))
}
