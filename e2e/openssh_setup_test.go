package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/berthpaas/berth/internal/api"
)

// opensshUsers turns OpenSSH mode on for a test daemon with the test's own
// system users (instead of berth and dokku) and group, homes in a
// temporary directory; they are deleted at the end. It returns the
// daemon's extra environment and the user names.
func opensshUsers(t *testing.T) ([]string, []string) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("OpenSSH mode creates system users: run as root")
	}
	if _, err := os.Stat("/usr/sbin/sshd"); err != nil {
		if os.Getenv("BERTH_REQUIRE_DOCKER") == "1" {
			t.Fatalf("OpenSSH server missing (%v): scripts/test installs openssh-server", err)
		}
		t.Skip("no /usr/sbin/sshd (install openssh-server)")
	}
	b := make([]byte, 3)
	rand.Read(b)
	id := "bt" + hex.EncodeToString(b)
	users, group := []string{id + "b", id + "d"}, id+"g"
	home, err := os.MkdirTemp("", "bth")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(home, 0o755)
	// The forced command runs berth from the test's build as these users.
	os.Chmod(binDir, 0o755)
	t.Cleanup(func() {
		deleteUsers(users, group)
		os.RemoveAll(home)
	})
	return []string{"BERTH_OPENSSH=auto", "BERTH_OPENSSH_USERS=" + strings.Join(users, ","), "BERTH_SSH_GROUP=" + group, "BERTH_OPENSSH_HOME=" + home}, users
}

func deleteUsers(users []string, group string) {
	for _, u := range users {
		exec.Command("userdel", u).Run()
	}
	exec.Command("groupdel", group).Run()
}

func sshReport(t *testing.T, d *daemon) api.SSHReport {
	t.Helper()
	var r api.SSHReport
	decodeJSON(t, d.mustBerth(t, "ssh-keys:report", "--format", "json"), &r)
	return r
}

// TestOpenSSHSetUpAtStart: OpenSSH installed after Berth, or its users
// deleted: the daemon creates the users, their authorized_keys and the
// socket's group at start, so `git push USER@host:app` through the host's
// sshd works; ssh-keys:add and :remove reach sshd at once; a forced command
// that cannot reach the daemon says so in words for the remote user.
func TestOpenSSHSetUpAtStart(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	env, users := opensshUsers(t)
	group := strings.TrimPrefix(env[2], "BERTH_SSH_GROUP=")
	d, admin, _ := sshDaemon(t, eng, env...)
	r := sshReport(t, d)
	if !r.OpenSSH.Active || !r.OpenSSH.InStep || r.OpenSSH.KeysListed != 1 || len(r.OpenSSH.Problems) != 0 || r.Gateway.Group != group || r.Gateway.Mode != "0660" {
		t.Fatalf("report after the first start: %+v", r)
	}

	// The users and their keys disappear (or sshd came later): a restart
	// repairs them, with no ssh-keys change.
	if err := d.stop(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	deleteUsers(users, group)
	for _, u := range r.OpenSSH.Users {
		os.RemoveAll(u.Home)
	}
	os.Remove(filepath.Join(d.dataDir, "authorized_keys"))
	if out, err := exec.Command("id", users[1]).CombinedOutput(); err == nil {
		t.Fatalf("user %s still exists: %s", users[1], out)
	}
	d2, err := startDaemon(d.dataDir, d.extraEnv...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d2.stop(syscall.SIGKILL) })
	d = d2
	if r := sshReport(t, d); !r.OpenSSH.InStep || len(r.OpenSSH.Problems) != 0 || len(r.OpenSSH.Users) != 2 || !r.OpenSSH.Users[1].OK {
		t.Fatalf("report after the restart: %+v", r)
	}
	text := d.mustBerth(t, "ssh-keys:report")
	for _, want := range []string{"Ssh keys openssh mode:", "on (sshd /usr/sbin/sshd)", users[0] + " ok, " + users[1] + " ok", "in step, 1 keys", "group " + group + ", 0660", "Ssh keys problems:"} {
		if !strings.Contains(text, want) {
			t.Errorf("ssh-keys:report lacks %q:\n%s", want, text)
		}
	}

	// sshd reads each user's own ~/.ssh/authorized_keys, as installed.
	addr := startSSHD(t, ".ssh/authorized_keys")
	_, port, _ := net.SplitHostPort(addr)
	r1 := newRepo(t, admin, port, map[string]string{"Dockerfile": dockerfile("v1"), "Procfile": "web: testapp web\n"})
	r1.git("remote", "add", "dokku", users[1]+"@127.0.0.1:shop")
	if out, code := r1.try("push", "dokku", "main"); code != 0 || !strings.Contains(out, "remote: -----> Application deployed: shop release 1") {
		t.Fatalf("push through sshd after the repair: %d\n%s", code, out)
	}

	// A key added is usable at once; a key removed is refused at once.
	dev := sshKey(t, t.TempDir(), "dev")
	d.mustBerth(t, "ssh-keys:add", "--apps", "shop", "dev", dev+".pub")
	r2 := newRepo(t, dev, port, map[string]string{"Dockerfile": dockerfile("v2"), "Procfile": "web: testapp web\n"})
	r2.git("remote", "add", "dokku", users[0]+"@127.0.0.1:shop")
	if out, code := r2.try("push", "--force", "dokku", "main"); code != 0 || !strings.Contains(out, "remote: -----> Application deployed: shop release 2") {
		t.Fatalf("push with a key just added: %d\n%s", code, out)
	}
	d.mustBerth(t, "ssh-keys:remove", "dev")
	r2.write(map[string]string{"Dockerfile": dockerfile("v3")})
	r2.commit("v3")
	if out, code := r2.try("push", "dokku", "main"); code == 0 || !strings.Contains(out, "Permission denied") {
		t.Errorf("push with a removed key: %d\n%s", code, out)
	}
	if r := sshReport(t, d); !r.OpenSSH.InStep || r.OpenSSH.KeysListed != 1 {
		t.Errorf("report after remove: %+v", r.OpenSSH)
	}

	// The gateway socket root-only (the group went missing at start, say):
	// the remote user is told whom to ask, not to run sudo.
	sock := filepath.Join(d.dataDir, "berth-ssh.sock")
	os.Chmod(sock, 0o600)
	out, code := sshRun(t, admin, users[1], addr, nil, "apps:list")
	if code != 1 || !strings.Contains(out, "Berth's daemon is not reachable from ssh: user "+users[1]+" may not use "+sock+"; ask the server's admin to run `berth ssh-keys:report`") || strings.Contains(out, "sudo") {
		t.Errorf("socket not usable: %d %q", code, out)
	}
	if r := sshReport(t, d); !strings.Contains(strings.Join(r.OpenSSH.Problems, "\n"), "gateway socket") {
		t.Errorf("report with a root-only socket: %v", r.OpenSSH.Problems)
	}
	// The daemon stopped: the same, in other words.
	d.stop(syscall.SIGTERM)
	out, code = sshRun(t, admin, users[1], addr, nil, "apps:list")
	if code != 1 || !strings.Contains(out, "Berth is not running on this server") || !strings.Contains(out, "ask the server's admin") || strings.Contains(out, "sudo") {
		t.Errorf("daemon stopped: %d %q", code, out)
	}
}
