package sshserver

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// echoHandler reports the session and echoes stdin to stdout.
func echoHandler(_ context.Context, s *Session) int {
	fmt.Fprintf(s.Stdout, "user=%s key=%s cmd=%s pty=%v resize=%v\n", s.User, s.KeyName, s.Command, s.PTY != nil, s.Resize != nil)
	fmt.Fprintf(s.Stderr, "to stderr\n")
	io.Copy(s.Stdout, s.Stdin)
	return 0
}

func TestExecWithArgumentsAndStdin(t *testing.T) {
	t.Parallel()
	ts := startServer(t, echoHandler)
	// SendEnv/SetEnv requests are ignored, not fatal.
	r := ts.run("hello\nworld\n", ts.key, "berth", []string{"-o", "SetEnv=FOO=bar", "-o", "SendEnv=LANG"},
		"git-receive-pack", "'shop'")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	want := "user=berth key=alice cmd=git-receive-pack 'shop' pty=false resize=false\nhello\nworld\n"
	if r.stdout != want {
		t.Errorf("stdout = %q, want %q", r.stdout, want)
	}
	if r.stderr != "to stderr\n" {
		t.Errorf("stderr = %q", r.stderr)
	}
}

func TestExitStatus(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(_ context.Context, s *Session) int {
		if s.Command == "exit panic" {
			panic("boom")
		}
		f := strings.Fields(s.Command) // "exit N"
		n, _ := strconv.Atoi(f[len(f)-1])
		return n
	})
	for _, tc := range []struct {
		cmd  string
		want int
	}{{"0", 0}, {"1", 1}, {"20", 20}, {"255", 255}, {"256", 1}, {"-3", 1}, {"panic", 1}} {
		t.Run(tc.cmd, func(t *testing.T) {
			t.Parallel()
			r := ts.run("", ts.key, "berth", nil, "exit", tc.cmd)
			if r.code != tc.want {
				t.Errorf("exit %d, want %d (stderr %q)", r.code, tc.want, r.stderr)
			}
			if tc.cmd == "panic" {
				if !strings.Contains(r.stderr, "internal error") {
					t.Errorf("stderr = %q", r.stderr)
				}
				ts.logs.waitFor(t, "ssh handler panicked")
			}
		})
	}
}

func TestUserNames(t *testing.T) {
	t.Parallel()
	ts := startServer(t, echoHandler)
	for _, user := range []string{"berth", "dokku", "git"} {
		t.Run(user, func(t *testing.T) {
			t.Parallel()
			r := ts.run("", ts.key, user, nil, "apps:list")
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			if want := "user=" + user + " key=alice cmd=apps:list "; !strings.HasPrefix(r.stdout, want) {
				t.Errorf("stdout = %q, want prefix %q", r.stdout, want)
			}
		})
	}
}

func TestUnknownKeyRefused(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	ts := startServer(t, func(context.Context, *Session) int { calls.Add(1); return 0 })
	other, _ := keygen(t, "mallory")
	r := ts.run("", other, "berth", nil, "apps:list")
	if r.code != 255 || !strings.Contains(r.stderr, "Permission denied (publickey)") {
		t.Errorf("exit %d, stderr %q; want 255 and Permission denied (publickey)", r.code, r.stderr)
	}
	if calls.Load() != 0 {
		t.Error("handler ran for an unknown key")
	}
	ts.logs.waitFor(t, "ssh key refused")
}

func TestKeyNameIsTheSigningKeys(t *testing.T) {
	// The session carries the name of the key the client signed with, not
	// of another key it offered first.
	t.Parallel()
	ts := startServer(t, echoHandler)
	bob, bobPub := keygen(t, "bob")
	ts.auth.add(bobPub, "bob")
	stranger, _ := keygen(t, "stranger")
	for _, keys := range [][]string{{bob}, {stranger, bob}} {
		var opts []string
		for _, k := range keys[1:] {
			opts = append(opts, "-i", k)
		}
		r := ts.run("", keys[0], "berth", opts, "whoami")
		if r.code != 0 || !strings.Contains(r.stdout, "key=bob ") {
			t.Errorf("keys %v: exit %d, stdout %q, stderr %q; want key=bob", keys, r.code, r.stdout, r.stderr)
		}
	}
}

func TestPasswordAuthRefused(t *testing.T) {
	t.Parallel()
	ts := startServer(t, echoHandler)
	r := ts.run("", ts.key, "berth", []string{
		"-o", "PubkeyAuthentication=no",
		"-o", "PreferredAuthentications=password,keyboard-interactive",
	}, "apps:list")
	// The server's list of allowed methods is only "publickey".
	if r.code != 255 || !strings.Contains(r.stderr, "Permission denied (publickey).") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestShellAndSubsystemRefused(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	ts := startServer(t, func(context.Context, *Session) int { calls.Add(1); return 0 })
	t.Run("shell", func(t *testing.T) {
		r := ts.run("", ts.key, "berth", []string{"-T"})
		if r.code != 1 || r.stderr != noShellMessage+"\n" || r.stdout != "" {
			t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("shell with pty", func(t *testing.T) {
		r := ts.run("", ts.key, "berth", []string{"-tt"})
		if r.code != 1 || !strings.Contains(r.stdout, noShellMessage+"\r\n") {
			t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("sftp subsystem", func(t *testing.T) {
		r := ts.run("", ts.key, "berth", []string{"-s"}, "sftp")
		if r.code != 1 || r.stderr != noShellMessage+"\n" {
			t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
	})
	if calls.Load() != 0 {
		t.Error("handler ran for a shell or subsystem")
	}
	ts.logs.waitFor(t, "refused=subsystem subsystem=sftp")
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestLocalForwardRefused(t *testing.T) {
	t.Parallel()
	ts := startServer(t, echoHandler)

	// The forwarding target: must never see a connection.
	target, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	var reached atomic.Bool
	go func() {
		for {
			c, err := target.Accept()
			if err != nil {
				return
			}
			reached.Store(true)
			c.Close()
		}
	}()

	local := freePort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cmd := ts.command(ctx, ts.key, "berth", []string{
		"-N", "-o", "ExitOnForwardFailure=yes",
		"-L", fmt.Sprintf("127.0.0.1:%d:%s", local, target.Addr()),
	})
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()

	// Wait for the client to listen, then use the forward: the server
	// refuses the direct-tcpip channel, so the client closes our connection.
	var c net.Conn
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err = net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", local))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ssh never listened on the forwarded port: %v\n%s", err, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(make([]byte, 1))
	if n != 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("forwarded connection: read %d bytes, err %v; want it closed", n, err)
	}
	if reached.Load() {
		t.Error("the forwarding target was reached")
	}
	ts.logs.waitFor(t, "type=direct-tcpip")
}

func TestRemoteForwardRefused(t *testing.T) {
	t.Parallel()
	ts := startServer(t, echoHandler)
	r := ts.run("", ts.key, "berth", []string{
		"-N", "-o", "ExitOnForwardFailure=yes", "-R", "0:127.0.0.1:9",
	})
	if r.code != 255 || !strings.Contains(r.stderr, "remote port forwarding failed") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
	ts.logs.waitFor(t, "type=tcpip-forward")
}

func TestAgentAndX11ForwardingRefused(t *testing.T) {
	t.Parallel()
	ts := startServer(t, echoHandler)

	// A fake agent: the client must never have to serve it for us.
	sock := filepath.Join(t.TempDir(), "agent.sock")
	agent, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Close()
	go func() {
		for {
			c, err := agent.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cmd := ts.command(ctx, ts.key, "berth", []string{"-A", "-v"}, "apps:list")
	cmd.Env = append(cmd.Env, "SSH_AUTH_SOCK="+sock)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ssh: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "Requesting authentication agent forwarding") {
		t.Fatalf("client did not request agent forwarding:\n%s", out)
	}
	if strings.Contains(string(out), "auth-agent@openssh.com") {
		t.Errorf("server opened an agent channel:\n%s", out)
	}
	ts.logs.waitFor(t, "ssh session request refused")
	ts.logs.waitFor(t, "type=auth-agent-req@openssh.com")

	if _, err := exec.LookPath("xauth"); err == nil {
		cmd := ts.command(ctx, ts.key, "berth", []string{"-X"}, "apps:list")
		cmd.Env = append(cmd.Env, "DISPLAY=127.0.0.1:93", "XAUTHORITY="+filepath.Join(t.TempDir(), "xauth"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("ssh -X: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), "X11 forwarding request failed") {
			t.Errorf("ssh -X output:\n%s", out)
		}
		ts.logs.waitFor(t, "type=x11-req")
	}
}

func TestDisconnectCancelsHandler(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	returned := make(chan struct{})
	ts := startServer(t, func(ctx context.Context, s *Session) int {
		fmt.Fprintln(s.Stdout, "started")
		close(started)
		<-ctx.Done()
		close(returned)
		return 0
	})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cmd := ts.command(ctx, ts.key, "berth", nil, "logs", "-t", "shop")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		t.Fatal("handler never started")
	}
	cmd.Process.Kill()
	cmd.Wait()
	select {
	case <-returned:
	case <-time.After(3 * time.Second):
		t.Fatal("handler's context not cancelled after the client disconnected")
	}
	ts.logs.waitFor(t, "cmd=logs")
}

func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	returned := make(chan struct{})
	ts := startServer(t, func(ctx context.Context, s *Session) int {
		<-ctx.Done()
		close(returned)
		return 0
	}, func(c *Config) { c.IdleTimeout = 300 * time.Millisecond })
	r := ts.run("", ts.key, "berth", nil, "logs")
	if r.code != 255 {
		t.Errorf("exit %d, want 255 (connection closed); stderr %q", r.code, r.stderr)
	}
	select {
	case <-returned:
	case <-time.After(3 * time.Second):
		t.Fatal("handler's context not cancelled by the idle timeout")
	}
}

func TestLogsOmitArguments(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(context.Context, *Session) int { return 7 })
	r := ts.run("", ts.key, "dokku", nil, "config:set", "shop", "SECRET=hunter2")
	if r.code != 7 {
		t.Fatalf("exit %d", r.code)
	}
	ts.logs.waitFor(t, "msg=\"ssh session\"")
	logs := ts.logs.String()
	for _, want := range []string{"remote=127.0.0.1:", "user=dokku", "key=alice", "cmd=config:set", "status=7", "duration="} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "hunter2") {
		t.Errorf("log contains the command's arguments:\n%s", logs)
	}
}

func TestHostKeyCreatedOnceAndReused(t *testing.T) {
	t.Parallel()
	ts := startServer(t, echoHandler)
	fp := ts.srv.HostKeyFingerprint()
	if !strings.HasPrefix(fp, "SHA256:") {
		t.Fatalf("fingerprint %q", fp)
	}
	fi, err := os.Stat(ts.hostKey)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("host key mode %v, want 0600", fi.Mode().Perm())
	}
	if di, _ := os.Stat(filepath.Dir(ts.hostKey)); di.Mode().Perm() != 0o700 {
		t.Errorf("host key directory mode %v, want 0700", di.Mode().Perm())
	}
	data, _ := os.ReadFile(ts.hostKey)
	if !strings.HasPrefix(string(data), "-----BEGIN OPENSSH PRIVATE KEY-----\n") {
		t.Errorf("host key is not in OpenSSH PEM format:\n%s", data)
	}
	out, err := exec.Command("ssh-keygen", "-l", "-f", ts.hostKey).CombinedOutput()
	if err != nil || !strings.Contains(string(out), fp) || !strings.Contains(string(out), "(ED25519)") {
		t.Errorf("ssh-keygen -l: %v %s; want %s (ED25519)", err, out, fp)
	}

	// Record the key with a real known_hosts file, restart, and connect
	// with strict checking.
	knownHosts := filepath.Join(t.TempDir(), "known_hosts")
	connect := func(strict string) result {
		return ts.run("", ts.key, "berth", []string{
			"-o", "UserKnownHostsFile=" + knownHosts, "-o", "StrictHostKeyChecking=" + strict,
		}, "version")
	}
	if r := connect("accept-new"); r.code != 0 {
		t.Fatalf("first connection: exit %d %s", r.code, r.stderr)
	}
	ts.stop()
	ts.start(echoHandler)
	if got := ts.srv.HostKeyFingerprint(); got != fp {
		t.Errorf("fingerprint after restart %s, want %s", got, fp)
	}
	if r := connect("yes"); r.code != 0 {
		t.Errorf("connection after restart: exit %d %s", r.code, r.stderr)
	}
	if data2, _ := os.ReadFile(ts.hostKey); string(data2) != string(data) {
		t.Error("host key file rewritten on restart")
	}
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(ts.hostKey), "*"))
	if len(matches) != 1 {
		t.Errorf("host key directory holds %v", matches)
	}
}

func TestCorruptHostKeyIsAnError(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "hostkey")
	os.WriteFile(path, []byte("not a key"), 0o600)
	_, err := New(Config{HostKeyPath: path, Auth: &keyAuth{}, Handler: echoHandler})
	if err == nil {
		t.Fatal("New accepted a corrupt host key")
	}
	if data, _ := os.ReadFile(path); string(data) != "not a key" {
		t.Error("corrupt host key was overwritten")
	}
	if _, err := New(Config{HostKeyPath: path, Handler: echoHandler}); err == nil {
		t.Error("New accepted a Config without Auth")
	}
}

func TestShutdownWaitsForSession(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	release := make(chan struct{})
	ts := startServer(t, func(ctx context.Context, s *Session) int {
		close(started)
		select {
		case <-release:
			fmt.Fprintln(s.Stdout, "finished")
			return 4
		case <-ctx.Done():
			return 9
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cmd := ts.command(ctx, ts.key, "berth", nil, "ps:rebuild", "shop")
	var stdout strings.Builder
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	<-started

	shutdownErr := make(chan error, 1)
	go func() { shutdownErr <- ts.srv.Shutdown(ctx) }()

	// New connections are refused while the session runs.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", "127.0.0.1:"+ts.port)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("still accepting connections during Shutdown")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-shutdownErr:
		t.Fatalf("Shutdown returned %v while a session was running", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	select {
	case err := <-shutdownErr:
		if err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown did not return after the session ended")
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 4 || stdout.String() != "finished\n" {
		t.Errorf("client: %v, stdout %q; want exit 4 and the output", err, stdout.String())
	}
	select {
	case err := <-ts.serveErr:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
		ts.serveErr <- nil
	case <-time.After(5 * time.Second):
		t.Error("Serve did not return")
	}
}

func TestShutdownTimeoutClosesSessions(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	returned := make(chan struct{})
	ts := startServer(t, func(ctx context.Context, s *Session) int {
		close(started)
		<-ctx.Done()
		close(returned)
		return 0
	})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cmd := ts.command(ctx, ts.key, "berth", nil, "logs", "-t")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	<-started
	sctx, scancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer scancel()
	if err := ts.srv.Shutdown(sctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v, want DeadlineExceeded", err)
	}
	select {
	case <-returned:
	case <-time.After(3 * time.Second):
		t.Fatal("handler's context not cancelled after Shutdown gave up")
	}
	if err := cmd.Wait(); err == nil {
		t.Error("client exited 0 after its session was closed")
	}
}

// readUntil reads lines from r until one contains substr.
func readUntil(t *testing.T, r *bufio.Reader, substr string) string {
	t.Helper()
	for {
		line, err := r.ReadString('\n')
		if strings.Contains(line, substr) {
			return line
		}
		if err != nil {
			t.Fatalf("no line with %q: %v", substr, err)
		}
	}
}

func TestLoginGraceTime(t *testing.T) {
	t.Parallel()
	requireOpenSSH(t)
	srv, err := New(Config{
		HostKeyPath: filepath.Join(t.TempDir(), "hostkey"),
		Auth:        &keyAuth{},
		Handler:     echoHandler,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.loginGrace = 200 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())

	// A client that connects and never authenticates is dropped.
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	banner, err := bufio.NewReader(c).ReadString('\n')
	if banner != "SSH-2.0-Berth\r\n" {
		t.Fatalf("banner %q, %v", banner, err)
	}
	start := time.Now()
	_, err = io.ReadAll(c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("connection not closed after the login grace time")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("closed after %v", d)
	}
}

// gitHandler serves git push and fetch the way Berth's git commands will.
func gitHandler(reposDir string) Handler {
	return func(ctx context.Context, s *Session) int {
		verb, arg, _ := strings.Cut(s.Command, " ")
		repo := filepath.Join(reposDir, strings.Trim(arg, "'/"))
		if verb != "git-receive-pack" && verb != "git-upload-pack" {
			fmt.Fprintf(s.Stderr, "unknown command %q\n", verb)
			return 1
		}
		cmd := exec.CommandContext(ctx, verb, repo)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = s.Stdin, s.Stdout, s.Stderr
		cmd.WaitDelay = time.Second
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(s.Stderr, "%s: %v\n", verb, err)
			return 1
		}
		return 0
	}
}

func TestGitPushAndClone(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	repos := t.TempDir()
	ts := startServer(t, gitHandler(repos))
	git := func(dir string, args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(),
			"GIT_SSH_COMMAND=ssh "+strings.Join(ts.sshArgs(ts.key, "berth"), " "),
			"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
			"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com",
			"GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	git(repos, "init", "-q", "--bare", "-b", "main", "shop")
	work := t.TempDir()
	git(work, "init", "-q", "-b", "main")
	os.WriteFile(filepath.Join(work, "Procfile"), []byte("web: ./shop\n"), 0o644)
	git(work, "add", ".")
	git(work, "commit", "-q", "-m", "first")
	git(work, "push", "-q", "berth@127.0.0.1:shop", "main")
	want := git(work, "rev-parse", "HEAD")
	if got := git(filepath.Join(repos, "shop"), "rev-parse", "main"); got != want {
		t.Errorf("pushed main = %s, want %s", got, want)
	}
	clone := t.TempDir()
	git(clone, "clone", "-q", "berth@127.0.0.1:shop", "copy")
	if data, err := os.ReadFile(filepath.Join(clone, "copy", "Procfile")); err != nil || string(data) != "web: ./shop\n" {
		t.Errorf("cloned Procfile %q, %v", data, err)
	}
	ts.logs.waitFor(t, "cmd=git-receive-pack")
	ts.logs.waitFor(t, "cmd=git-upload-pack")
}
