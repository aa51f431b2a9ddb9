package e2e

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startSSHD runs the system's OpenSSH server on a loopback port with its own
// config: keys from authorizedKeys only, root login only through forced
// commands (the test runs as root, as CI does).
func startSSHD(t *testing.T, authorizedKeys string) string {
	t.Helper()
	sshd := "/usr/sbin/sshd"
	if _, err := os.Stat(sshd); err != nil {
		if os.Getenv("BERTH_REQUIRE_DOCKER") == "1" {
			t.Fatalf("OpenSSH server missing (%v): scripts/test installs openssh-server", err)
		}
		t.Skip("no /usr/sbin/sshd (install openssh-server)")
	}
	if os.Getuid() != 0 {
		t.Skip("the OpenSSH mode test logs in as root through forced commands: run as root")
	}
	os.MkdirAll("/run/sshd", 0o755) // privilege separation directory
	dir := t.TempDir()
	hostKey := filepath.Join(dir, "host_key")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostKey).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	conf := filepath.Join(dir, "sshd_config")
	os.WriteFile(conf, []byte(fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
AuthorizedKeysFile %s
PermitRootLogin forced-commands-only
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile none
AllowTcpForwarding no
X11Forwarding no
`, port, hostKey, authorizedKeys)), 0o600)
	var log bytes.Buffer
	cmd := exec.Command(sshd, "-D", "-e", "-f", conf)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("sshd log:\n%s", log.String())
		}
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd did not listen on %s:\n%s", addr, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestOpenSSHMode: ssh-keys:add keeps authorized_keys with forced commands,
// and the host's own sshd hands pushes and commands to Berth with the same
// access rules as the built-in server.
func TestOpenSSHMode(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	ak := filepath.Join(t.TempDir(), "authorized_keys")
	d, admin, _ := sshDaemon(t, eng, "BERTH_AUTHORIZED_KEYS="+ak)
	dir := t.TempDir()
	limited := sshKey(t, dir, "dev")
	d.mustBerth(t, "ssh-keys:add", "--apps", "shop", "dev", limited+".pub")
	b, err := os.ReadFile(ak)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "ssh-command --socket"); n != 2 || !strings.Contains(string(b), ",restrict,pty ssh-ed25519 ") {
		t.Fatalf("authorized_keys:\n%s", b)
	}
	addr := startSSHD(t, ak)
	_, port, _ := net.SplitHostPort(addr)

	if out, code := sshRun(t, admin, "root", addr, nil, "apps:exists", "nope"); code != 20 {
		t.Errorf("apps:exists through sshd: %d %q", code, out)
	}
	if out, code := sshRun(t, admin, "root", addr, nil, "config:set", "--no-restart", "--global", "'X=a b'"); code != 0 {
		t.Errorf("admin config:set --global through sshd: %d %q", code, out)
	}
	if out, code := sshRun(t, limited, "root", addr, nil, "config:set", "--global", "X=1"); code != 1 || !strings.Contains(out, "Permission denied") {
		t.Errorf("limited key config --global through sshd: %d %q", code, out)
	}
	// git push through sshd.
	r := newRepo(t, limited, port, map[string]string{"Dockerfile": dockerfile("v1"), "Procfile": "web: testapp web\n"})
	r.git("remote", "add", "berth", "ssh://root@127.0.0.1:"+port+"/shop")
	r.git("remote", "add", "other", "ssh://root@127.0.0.1:"+port+"/other")
	if out, code := r.try("push", "berth", "main"); code != 0 || !strings.Contains(out, "remote: -----> Application deployed: shop release 1") {
		t.Errorf("push through sshd: %d\n%s", code, out)
	}
	if out, code := r.try("push", "other", "main"); code == 0 || !strings.Contains(out, "Permission denied") {
		t.Errorf("limited push to another app through sshd: %d\n%s", code, out)
	}
	// An interactive run through sshd's pty keeps the exit status.
	cmd := exec.Command("script", "-qec", "ssh -tt "+strings.Join(sshOpts(admin, port), " ")+" root@127.0.0.1 run shop sh -c \"'test -t 0 && echo tty:yes; exit 3'\"", "/dev/null")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 || !strings.Contains(string(out), "tty:yes") {
		t.Errorf("ssh -t run through sshd: %v %q", err, out)
	}
	// Removing a key removes its line.
	d.mustBerth(t, "ssh-keys:remove", "dev")
	if b, _ := os.ReadFile(ak); strings.Contains(string(b), " dev\n") {
		t.Errorf("removed key still in authorized_keys:\n%s", b)
	}
}

// TestLaptopClient runs berth where no daemon lives, inside a checkout whose
// "berth" remote points at the server: commands go over ssh, with the app.
func TestLaptopClient(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d, key, port := sshDaemon(t, eng)
	d.mustBerth(t, "apps:create", "shop")
	d.mustBerth(t, "config:set", "--no-restart", "shop", "GREETING=hi there")
	r := newRepo(t, key, port, map[string]string{"Procfile": "web: x\n"})
	r.git("remote", "add", "berth", "ssh://berth@127.0.0.1:"+port+"/shop")
	laptop := func(args ...string) (string, int) {
		cmd := exec.Command(filepath.Join(binDir, "berth"), args...)
		cmd.Dir = r.dir
		cmd.Env = append(r.env, "BERTH_DATA_DIR="+filepath.Join(t.TempDir(), "none"))
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out), ee.ExitCode()
		}
		return string(out), 0
	}
	if out, code := laptop("config:get", "GREETING"); code != 0 || out != "hi there\n" {
		t.Errorf("laptop config:get: %d %q", code, out)
	}
	if out, code := laptop("config:set", "--no-restart", "A=two words"); code != 0 {
		t.Errorf("laptop config:set: %d %q", code, out)
	}
	if out := d.mustBerth(t, "config:get", "shop", "A"); out != "two words\n" {
		t.Errorf("set from the laptop: %q", out)
	}
	if out, code := laptop("apps:list"); code != 0 || !strings.Contains(out, "shop") {
		t.Errorf("laptop apps:list: %d %q", code, out)
	}
	if out, code := laptop("apps:exists", "nope"); code != 20 {
		t.Errorf("laptop apps:exists nope: %d %q", code, out)
	}
	if out, code := laptop("--remote", "berth", "config:keys", "shop"); code != 0 || !strings.Contains(out, "GREETING") {
		t.Errorf("laptop --remote: %d %q", code, out)
	}
}
