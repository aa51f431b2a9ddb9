package cluster

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestOpenSSHKeyIsMadeOnceAndReadableBySSH(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	o := &OpenSSH{KeyFile: filepath.Join(dir, "cluster", "id_ed25519"), KnownHosts: filepath.Join(dir, "known_hosts")}
	key, err := o.PublicKey()
	if err != nil || !strings.HasPrefix(key, "ssh-ed25519 ") || !strings.HasSuffix(key, " berth-cluster") {
		t.Fatalf("PublicKey = %q, %v", key, err)
	}
	again, err := o.PublicKey()
	if err != nil || again != key {
		t.Fatalf("a second PublicKey made another key: %q", again)
	}
	st, err := os.Stat(o.KeyFile)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("private key: %v %v", st, err)
	}
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		t.Skip("no ssh-keygen")
	}
	out, err := exec.Command("ssh-keygen", "-y", "-f", o.KeyFile).Output()
	if err != nil || !strings.HasPrefix(key, strings.TrimSpace(string(out))) {
		t.Errorf("ssh-keygen -y: %q, %v; want the public key %q", out, err, key)
	}
}

// The real client against a port nothing listens on: an SSHError that
// is not about the key.
func TestOpenSSHUnreachable(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("ssh"); err != nil {
		t.Skip("no ssh client")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := t.TempDir()
	o := &OpenSSH{KeyFile: filepath.Join(dir, "id_ed25519"), KnownHosts: filepath.Join(dir, "known_hosts")}
	_, err = o.Run(context.Background(), Target{User: "root", Host: "127.0.0.1", Port: port}, "true", nil)
	var se *SSHError
	if !errors.As(err, &se) || se.Auth || !strings.Contains(se.Detail, "refused") {
		t.Fatalf("Run against a closed port: %#v", err)
	}
}

// startSSHD runs OpenSSH's server on 127.0.0.1 letting root in with the
// keys in authKeys; it returns the port.
func startSSHD(t *testing.T, authKeys string) int {
	t.Helper()
	const sshd = "/usr/sbin/sshd"
	if _, err := os.Stat(sshd); err != nil || os.Geteuid() != 0 {
		if os.Getenv("BERTH_REQUIRE_DOCKER") == "1" {
			t.Fatalf("sshd as root is required (BERTH_REQUIRE_DOCKER=1): %v", err)
		}
		t.Skipf("no %s or not root: %v", sshd, err)
	}
	dir := t.TempDir()
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, "host_key")).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v %s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	conf := filepath.Join(dir, "sshd_config")
	os.WriteFile(conf, []byte("ListenAddress 127.0.0.1:"+strconv.Itoa(port)+"\nHostKey "+filepath.Join(dir, "host_key")+
		"\nAuthorizedKeysFile "+authKeys+"\nPermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nPidFile "+filepath.Join(dir, "sshd.pid")+"\n"), 0o600)
	os.MkdirAll("/run/sshd", 0o755)
	cmd := exec.Command(sshd, "-D", "-e", "-f", conf)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for range 100 {
		if c, err := net.Dial("tcp", l.Addr().String()); err == nil {
			c.Close()
			return port
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("sshd does not answer")
	return 0
}

// The real client against a real server: a refused key is an SSHError
// about the key; once authorised, scripts run with their standard input,
// a failing one is a RemoteError with its stderr, and the steps of a
// command share one connection.
func TestOpenSSHAgainstARealServer(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("ssh"); err != nil {
		t.Skip("no ssh client")
	}
	authKeys := filepath.Join(t.TempDir(), "authorized_keys")
	os.WriteFile(authKeys, nil, 0o600)
	port := startSSHD(t, authKeys)
	dir, err := os.MkdirTemp("", "bc") // short: the connection's socket lives here
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	o := &OpenSSH{KeyFile: filepath.Join(dir, "id_ed25519"), KnownHosts: filepath.Join(dir, "known_hosts")}
	target := Target{User: "root", Host: "127.0.0.1", Port: port}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, err = o.Run(ctx, target, "true", nil)
	var se *SSHError
	if !errors.As(err, &se) || !se.Auth {
		t.Fatalf("unauthorised key: %#v", err)
	}
	key, _ := o.PublicKey()
	os.WriteFile(authKeys, []byte(key+"\n"), 0o600)
	for i := range 3 {
		start := time.Now()
		out, err := o.Run(ctx, target, "bash -s", strings.NewReader("echo hello=$((20+"+strconv.Itoa(i)+"))\n"))
		if err != nil || fact(parseFacts(out), "hello") != strconv.Itoa(20+i) {
			t.Fatalf("run %d: %q, %v", i, out, err)
		}
		t.Logf("run %d took %s", i, time.Since(start).Round(time.Millisecond))
	}
	if socks, _ := filepath.Glob(filepath.Join(dir, "cm-*")); len(socks) != 1 {
		t.Errorf("connection sockets: %v, want one shared connection", socks)
	}
	_, err = o.Run(ctx, target, "bash -s", strings.NewReader("echo oops >&2; exit 7\n"))
	var re *RemoteError
	if !errors.As(err, &re) || re.Code != 7 || !strings.Contains(re.Error(), "oops") {
		t.Fatalf("failing script: %#v", err)
	}
}
