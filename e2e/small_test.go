package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestScopedKeyRefusalComesFirst (issue 13): a key scoped to shop that runs
// config:set (or unset, clear, ps:scale, apps:destroy) on blog sees the
// refusal and nothing before it (no "-----> Setting config vars" line), and
// blog's config is unchanged.
func TestScopedKeyRefusalComesFirst(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d, _, _ := sshDaemon(t, eng)
	limited := sshKey(t, t.TempDir(), "dev")
	d.mustBerth(t, "ssh-keys:add", "--apps", "shop", "dev", limited+".pub")
	d.mustBerth(t, "apps:create", "blog")
	d.mustBerth(t, "apps:create", "shop")
	for _, args := range [][]string{
		{"config:set", "--no-restart", "blog", "A=1"},
		{"config:unset", "--no-restart", "blog", "A"},
		{"config:clear", "--no-restart", "blog"},
		{"ps:scale", "blog", "web=1"},
		{"apps:destroy", "blog", "--force"},
	} {
		out, code := sshRun(t, limited, "berth", d.sshAddr, nil, args...)
		if code == 0 || !strings.HasPrefix(out, " !     ") || strings.Contains(out, "----->") || strings.Count(out, "\n") != 1 {
			t.Errorf("scoped %s on blog: exit %d, want the refusal alone:\n%s", args[0], code, out)
		}
	}
	if out := d.mustBerth(t, "config:keys", "blog"); strings.TrimSpace(out) != "" {
		t.Errorf("blog's config changed: %q", out)
	}
	// Its own app: the progress lines are printed.
	if out, code := sshRun(t, limited, "berth", d.sshAddr, nil, "config:set", "--no-restart", "shop", "A=1"); code != 0 || !strings.HasPrefix(out, "-----> Setting config vars\n") {
		t.Errorf("scoped config:set on shop: exit %d\n%s", code, out)
	}
}

// TestNonRootIsToldToRunAsRoot (issue 13): a user other than root running a
// command is told in one line that Berth's commands need root, not which
// config file it could not read.
func TestNonRootIsToldToRunAsRoot(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a command as nobody")
	}
	dir := shortTempDir(t)
	d, err := startDaemon(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.stop(9) })
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	// A copy of the binary nobody may run (binDir is root-only).
	bin, err := os.MkdirTemp("", "btbin")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(bin) })
	b, err := os.ReadFile(filepath.Join(binDir, "berth"))
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(bin, 0o755)
	if err := os.WriteFile(filepath.Join(bin, "berth"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, env := range [][]string{
		{"BERTH_DATA_DIR=" + dir},
		// The socket named directly: the config file is not read.
		{"BERTH_DATA_DIR=" + dir, "BERTH_CONFIG=/dev/null", "BERTH_SOCKET=" + d.socket()},
	} {
		cmd := exec.Command("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", filepath.Join(bin, "berth"), "apps:list")
		cmd.Env = append([]string{"PATH=/usr/bin:/bin", "HOME=/"}, env...)
		out, err := cmd.CombinedOutput()
		ee, _ := err.(*exec.ExitError)
		if ee == nil || ee.ExitCode() == 0 {
			t.Errorf("apps:list as nobody (%v): %v\n%s", env, err, out)
			continue
		}
		s := string(out)
		if !strings.Contains(s, "Berth's commands need root: run them as root (sudo berth ...)") || strings.Count(s, "\n") != 1 {
			t.Errorf("apps:list as nobody (%v): want one line saying Berth needs root, got:\n%s", env, s)
		}
	}
}

// TestBuildOutputHasNoEscapes (issue 13): the classic builder colours a RUN
// step's stderr (ESC[91m); the build output relayed to the client is plain
// text, its words kept.
func TestBuildOutputHasNoEscapes(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d := deployDaemon(t, eng)
	d.mustBerth(t, "apps:create", "shop")
	// The nonce defeats the build cache: the RUN step runs.
	df := dockerfile("v1", nonce(), `RUN echo to-stderr-from-run >&2 && printf 'own \033[32mgreen\033[0m text\n'`)
	out, code := d.deployTar(t, "shop", appTar(t, map[string]string{"Dockerfile": df, "Procfile": "web: testapp web\n"}))
	if code != 0 {
		t.Fatalf("deploy: %d\n%s", code, out)
	}
	if strings.Contains(out, "\x1b") || strings.Contains(out, "[91m") {
		t.Errorf("build output has escape sequences:\n%q", out)
	}
	for _, want := range []string{"to-stderr-", "own green text"} {
		if !strings.Contains(out, want) {
			t.Errorf("build output lacks %q:\n%s", want, out)
		}
	}
}

// TestAuthorizedKeysSettingWithoutRestart (issue 13): a new
// BERTH_AUTHORIZED_KEYS in berth.conf is picked up by the running daemon:
// sshd, reading the new file, lets the registered key in, no restart.
func TestAuthorizedKeysSettingWithoutRestart(t *testing.T) {
	t.Parallel()
	dir := shortTempDir(t)
	keys := t.TempDir()
	oldFile, newFile := filepath.Join(keys, "old"), filepath.Join(keys, "new")
	conf := filepath.Join(dir, "berth.conf")
	if err := os.WriteFile(conf, []byte("BERTH_AUTHORIZED_KEYS="+oldFile+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := startSSHD(t, newFile)
	d, err := startDaemon(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.stop(9) })
	admin := sshKey(t, t.TempDir(), "admin")
	d.mustBerth(t, "ssh-keys:add", "admin", admin+".pub")
	if _, err := os.Stat(oldFile); err != nil {
		t.Fatalf("the keys are not in %s: %v", oldFile, err)
	}
	if out, code := sshRun(t, admin, "root", addr, nil, "apps:exists", "nope"); code != 255 {
		t.Fatalf("sshd let the key in before the change: %d %q", code, out)
	}

	if err := os.WriteFile(conf, []byte("BERTH_AUTHORIZED_KEYS="+newFile+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, code := sshRun(t, admin, "root", addr, nil, "apps:exists", "nope")
		if code == 20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("10s after the change, ssh through sshd: %d %q", code, out)
		}
		time.Sleep(300 * time.Millisecond)
	}
	if out := d.mustBerth(t, "ssh-keys:report"); !strings.Contains(out, newFile) {
		t.Errorf("ssh-keys:report does not name %s:\n%s", newFile, out)
	}
}
