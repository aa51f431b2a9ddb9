package registry

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DefaultBinary is the Debian package's registry command
// (apt-get install docker-registry).
const DefaultBinary = "docker-registry"

// DefaultPort is the cluster registry's port on the manager: the nodes
// pull from MANAGER_ADDR:5000 and trust it through
// certs.d/MANAGER_ADDR:5000/ca.crt.
const DefaultPort = 5000

// Config says where and how a registry runs.
type Config struct {
	// Dir holds everything of the registry: config.yml, tls/, storage/.
	// On a Berth server it is DATA/registry.
	Dir string
	// Addr is HOST:PORT to listen on, an address of the cluster network
	// (never 0.0.0.0: the registry has no authentication).
	Addr string
	// Hosts are the names in the server certificate (default: Addr's host).
	Hosts []string
	// CA signs the server certificate.
	CA *CA
	// Binary is the registry command (default DefaultBinary).
	Binary string
	// Log receives the registry's output (default: discarded).
	Log io.Writer
	// StartTimeout bounds waiting for the registry to answer (default 15 s).
	StartTimeout time.Duration
}

// Registry is a running registry process, restarted when it exits until
// Stop is called.
type Registry struct {
	cfg    Config
	client *http.Client

	mu       sync.Mutex
	cmd      *exec.Cmd
	stopping bool
	restarts int
	stopped  chan struct{} // closed when the supervising loop ends
}

// restartBackoff bounds the wait before restarting a registry that exited.
const (
	minBackoff = 200 * time.Millisecond
	maxBackoff = 10 * time.Second
)

// Start writes the registry's configuration and certificate, starts the
// process, and waits until it answers /v2/ over TLS verified by the CA.
// The process is restarted (with a growing pause) whenever it exits, until
// Stop.
func Start(ctx context.Context, cfg Config) (*Registry, error) {
	if cfg.CA == nil {
		return nil, errors.New("registry: no CA given")
	}
	host, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil || host == "" || port == "" {
		return nil, fmt.Errorf("registry: address %q is not HOST:PORT; give the manager's address on the cluster network", cfg.Addr)
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		return nil, fmt.Errorf("registry: address %q listens everywhere; give the manager's address on the cluster network (the registry has no authentication)", cfg.Addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		return nil, fmt.Errorf("registry: port %q is not a port number (1-65535)", port)
	}
	if cfg.Binary == "" {
		cfg.Binary = DefaultBinary
	}
	bin, err := exec.LookPath(cfg.Binary)
	if err != nil {
		return nil, fmt.Errorf("registry: %s not found; install it with: apt-get install docker-registry", cfg.Binary)
	}
	cfg.Binary = bin
	if len(cfg.Hosts) == 0 {
		cfg.Hosts = []string{host}
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 15 * time.Second
	}
	for _, d := range []string{cfg.Dir, filepath.Join(cfg.Dir, "tls"), filepath.Join(cfg.Dir, "storage")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("registry: %v", err)
		}
	}
	if err := cfg.CA.IssueServer(filepath.Join(cfg.Dir, "tls", "server.crt"), filepath.Join(cfg.Dir, "tls", "server.key"), cfg.Hosts...); err != nil {
		return nil, err
	}
	if err := writeFile(filepath.Join(cfg.Dir, "config.yml"), []byte(configYAML(cfg)), 0o600); err != nil {
		return nil, err
	}
	r := &Registry{
		cfg:     cfg,
		stopped: make(chan struct{}),
		client: &http.Client{
			Timeout:   30 * time.Second,
			Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: cfg.CA.Pool(), MinVersion: tls.VersionTLS12}},
		},
	}
	first := make(chan error, 1)
	go r.supervise(first)
	if err := <-first; err != nil {
		r.Stop()
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, cfg.StartTimeout)
	defer cancel()
	if err := r.WaitReady(wctx); err != nil {
		r.Stop()
		return nil, err
	}
	return r, nil
}

// configYAML is the registry's config.yml: filesystem storage under Dir,
// deletes allowed (for garbage collection), TLS, no authentication (the
// address is on the cluster network only).
func configYAML(cfg Config) string {
	secret := make([]byte, 16)
	_, _ = rand.Read(secret)
	q := strconv.Quote
	return strings.Join([]string{
		"version: 0.1",
		"log:",
		"  level: warn",
		"  accesslog:",
		"    disabled: true",
		"storage:",
		"  filesystem:",
		"    rootdirectory: " + q(filepath.Join(cfg.Dir, "storage")),
		"  delete:",
		"    enabled: true",
		"http:",
		"  addr: " + q(cfg.Addr),
		"  secret: " + q(hex.EncodeToString(secret)),
		"  tls:",
		"    certificate: " + q(filepath.Join(cfg.Dir, "tls", "server.crt")),
		"    key: " + q(filepath.Join(cfg.Dir, "tls", "server.key")),
		"  headers:",
		"    X-Content-Type-Options: [nosniff]",
		"",
	}, "\n")
}

// supervise runs the registry until Stop, restarting it when it exits.
// The first start's error goes to first.
func (r *Registry) supervise(first chan<- error) {
	// Pdeathsig follows the thread that started the process: this
	// goroutine keeps its thread, so the registry dies with Berth and
	// never with an idle runtime thread.
	runtime.LockOSThread()
	defer close(r.stopped)
	backoff := minBackoff
	for n := 0; ; n++ {
		cmd := exec.Command(r.cfg.Binary, "serve", filepath.Join(r.cfg.Dir, "config.yml"))
		cmd.Stdout, cmd.Stderr = r.cfg.Log, r.cfg.Log
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		r.mu.Lock()
		if r.stopping {
			r.mu.Unlock()
			return
		}
		err := cmd.Start()
		if err == nil {
			r.cmd = cmd
		}
		r.mu.Unlock()
		if n == 0 {
			first <- err
		}
		if err != nil {
			if n == 0 {
				return
			}
			fmt.Fprintf(r.cfg.Log, "registry: restart: %v\n", err)
		} else {
			began := time.Now()
			err = cmd.Wait()
			if time.Since(began) > time.Minute {
				backoff = minBackoff
			}
		}
		r.mu.Lock()
		r.cmd = nil
		if r.stopping {
			r.mu.Unlock()
			return
		}
		r.restarts++
		r.mu.Unlock()
		fmt.Fprintf(r.cfg.Log, "registry: exited (%v); restarting in %s\n", err, backoff)
		time.Sleep(backoff)
		backoff = min(2*backoff, maxBackoff)
	}
}

// Restarts is how many times the process was restarted after exiting.
func (r *Registry) Restarts() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.restarts
}

// Pid is the running process's id, or 0.
func (r *Registry) Pid() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil || r.cmd.Process == nil {
		return 0
	}
	return r.cmd.Process.Pid
}

// Stop stops the process (SIGTERM, SIGKILL after 5 s) and its restarts.
func (r *Registry) Stop() {
	r.mu.Lock()
	r.stopping = true
	cmd := r.cmd
	r.mu.Unlock()
	if cmd != nil && cmd.Process != nil {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.stopped:
			return
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
		}
	}
	<-r.stopped
}

// Addr is the HOST:PORT the registry listens on; image references start
// with it.
func (r *Registry) Addr() string { return r.cfg.Addr }

// CAPEM is the CA certificate clients (the nodes' certs.d) must trust.
func (r *Registry) CAPEM() []byte { return r.cfg.CA.PEM }

// WaitReady waits until the registry answers GET /v2/ over verified TLS.
func (r *Registry) WaitReady(ctx context.Context) error {
	var last error
	for {
		last = r.ping(ctx)
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("registry: not answering at https://%s/v2/: %v", r.cfg.Addr, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (r *Registry) ping(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+r.cfg.Addr+"/v2/", nil)
	if err != nil {
		return err
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /v2/: %s", resp.Status)
	}
	return nil
}

// manifestTypes are the manifest media types the digest is asked for: a
// Docker engine pushes schema 2 manifests (or OCI ones); the registry
// answers with the digest of the manifest as stored, the one a pull by
// digest names.
var manifestTypes = []string{
	"application/vnd.docker.distribution.manifest.v2+json",
	"application/vnd.docker.distribution.manifest.list.v2+json",
	"application/vnd.oci.image.manifest.v1+json",
	"application/vnd.oci.image.index.v1+json",
}

// Digest resolves repo:tag (or repo@digest) in the registry to the
// manifest's digest ("sha256:..."), for references that pin exactly the
// pushed image.
func (r *Registry) Digest(ctx context.Context, repo, tag string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, "https://"+r.cfg.Addr+"/v2/"+repo+"/manifests/"+tag, nil)
	if err != nil {
		return "", fmt.Errorf("registry: %v", err)
	}
	req.Header.Set("Accept", strings.Join(manifestTypes, ", "))
	resp, err := r.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("registry: digest of %s:%s: %v", repo, tag, err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return "", fmt.Errorf("registry: %s:%s is not in the registry at %s (push it first)", repo, tag, r.cfg.Addr)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("registry: digest of %s:%s: %s", repo, tag, resp.Status)
	}
	d := resp.Header.Get("Docker-Content-Digest")
	if !strings.HasPrefix(d, "sha256:") || len(d) != len("sha256:")+64 {
		return "", fmt.Errorf("registry: digest of %s:%s: the registry answered %q", repo, tag, d)
	}
	return d, nil
}

// Ref is the reference a service uses to run exactly digest of repo:
// ADDR/repo@sha256:....
func (r *Registry) Ref(repo, digest string) string {
	return r.cfg.Addr + "/" + repo + "@" + digest
}
