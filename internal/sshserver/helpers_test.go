package sshserver

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// requireOpenSSH skips the test when the OpenSSH client tools are missing.
func requireOpenSSH(t *testing.T) {
	t.Helper()
	for _, bin := range []string{"ssh", "ssh-keygen"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed", bin)
		}
	}
}

// keygen makes an ed25519 key pair with ssh-keygen and returns the private
// key's path and the public key.
func keygen(t *testing.T, name string) (string, gossh.PublicKey) {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	pubData, err := os.ReadFile(path + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	pub, _, _, _, err := gossh.ParseAuthorizedKey(pubData)
	if err != nil {
		t.Fatal(err)
	}
	return path, pub
}

// keyAuth is an Authenticator over a fixed set of keys.
type keyAuth struct {
	mu    sync.Mutex
	names map[string]string // key.Marshal() -> name
}

func (a *keyAuth) add(key gossh.PublicKey, name string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.names == nil {
		a.names = make(map[string]string)
	}
	a.names[string(key.Marshal())] = name
}

func (a *keyAuth) Authenticate(_ context.Context, key gossh.PublicKey) (string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	name, ok := a.names[string(key.Marshal())]
	return name, ok
}

// logBuffer collects the server's log output.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor waits until the log contains substr.
func (b *logBuffer) waitFor(t *testing.T, substr string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(b.String(), substr) {
		if time.Now().After(deadline) {
			t.Fatalf("log never contained %q:\n%s", substr, b.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// testServer is a running Server on 127.0.0.1.
type testServer struct {
	t        *testing.T
	srv      *Server
	port     string
	key      string // private key registered as "alice"
	auth     *keyAuth
	logs     *logBuffer
	hostKey  string
	serveErr chan error
}

type serverOpt func(*Config)

// startServer starts a server whose registered key "alice" is ts.key.
func startServer(t *testing.T, h Handler, opts ...serverOpt) *testServer {
	t.Helper()
	requireOpenSSH(t)
	key, pub := keygen(t, "alice")
	auth := &keyAuth{}
	auth.add(pub, "alice")
	ts := &testServer{
		t:       t,
		key:     key,
		auth:    auth,
		logs:    &logBuffer{},
		hostKey: filepath.Join(t.TempDir(), "state", "ssh_host_ed25519_key"),
	}
	ts.start(h, opts...)
	return ts
}

// start (re)starts the server with ts's host key, keys and log.
func (ts *testServer) start(h Handler, opts ...serverOpt) {
	t := ts.t
	t.Helper()
	cfg := Config{
		HostKeyPath: ts.hostKey,
		Auth:        ts.auth,
		Handler:     h,
		Log:         slog.New(slog.NewTextHandler(ts.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.srv = srv
	ts.port = strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ts.serveErr = make(chan error, 1)
	go func() { ts.serveErr <- srv.Serve(ln) }()
	t.Cleanup(func() { ts.stop() })
}

// stop shuts the server down (immediately) and checks Serve returned nil.
func (ts *testServer) stop() {
	ts.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	ts.srv.Shutdown(ctx)
	select {
	case err := <-ts.serveErr:
		if err != nil {
			ts.t.Errorf("Serve: %v", err)
		}
		ts.serveErr <- nil // stop is idempotent
	case <-time.After(5 * time.Second):
		ts.t.Errorf("Serve did not return after Shutdown")
	}
}

// sshArgs returns the client arguments for connecting as user with key,
// followed by extra (options, then the remote command).
func (ts *testServer) sshArgs(key, user string, extra ...string) []string {
	args := []string{
		"-F", "/dev/null",
		"-o", "StrictHostKeyChecking=no",
		"-o", "UserKnownHostsFile=/dev/null",
		"-o", "BatchMode=yes",
		"-o", "IdentitiesOnly=yes",
		"-o", "LogLevel=ERROR",
		"-o", "ConnectTimeout=5",
		"-i", key,
		"-p", ts.port,
		"-l", user,
	}
	return append(args, extra...)
}

// command builds an ssh client command: options, the host, then cmdline.
func (ts *testServer) command(ctx context.Context, key, user string, opts []string, cmdline ...string) *exec.Cmd {
	args := ts.sshArgs(key, user, opts...)
	args = append(args, "127.0.0.1")
	args = append(args, cmdline...)
	cmd := exec.CommandContext(ctx, "ssh", args...)
	cmd.Env = append(os.Environ(), "SSH_AUTH_SOCK=", "TERM=xterm-test")
	return cmd
}

type result struct {
	stdout, stderr string
	code           int
}

// run runs the ssh client to completion.
func (ts *testServer) run(stdin string, key, user string, opts []string, cmdline ...string) result {
	ts.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cmd := ts.command(ctx, key, user, opts, cmdline...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	code := 0
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		ts.t.Fatalf("ssh: %v", err)
	}
	return result{stdout.String(), stderr.String(), code}
}
