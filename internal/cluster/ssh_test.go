package cluster

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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
