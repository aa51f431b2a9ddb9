package e2e

import (
	"bytes"
	"context"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/cli"
	_ "github.com/berthpaas/berth/internal/cli/routingcmd" // their commands, in cli's table
	_ "github.com/berthpaas/berth/internal/cli/servicecmd"
)

// asNobody runs the berth binary as the user nobody (uid and gid 65534)
// against d, from a copy of the binary nobody may execute.
func asNobody(t *testing.T, d *daemon, args ...string) (string, int) {
	t.Helper()
	dir, err := os.MkdirTemp("", "berth-nobody")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin, err := os.ReadFile(filepath.Join(binDir, "berth"))
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	if err := os.WriteFile(filepath.Join(dir, "berth"), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(dir, "berth"), args...)
	cmd.Env = append(d.env(), "HOME=/nonexistent")
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

// TestStateIsRootOnly: the data dir, the control socket and the state files
// are root's alone, nothing in the data dir is writable by others, and a
// non-root user's command is refused in one line that says Berth needs root.
func TestStateIsRootOnly(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		if os.Getenv("BERTH_REQUIRE_DOCKER") == "1" {
			t.Fatal("this test runs as root (the daemon's user), to become nobody")
		}
		t.Skip("the daemon runs as root; this test needs root to run it and to become nobody")
	}
	eng := requireDocker(t)
	d := deployDaemon(t, eng)
	d.mustBerth(t, "apps:create", "shop")
	d.mustBerth(t, "config:set", "--no-restart", "shop", "SECRET_KEY=root-only-7c1")
	if out, code := d.deployTar(t, "shop", appTar(t, map[string]string{"Dockerfile": dockerfile("v1"), "Procfile": "web: testapp web\n"})); code != 0 {
		t.Fatalf("deploy: %d\n%s", code, out)
	}
	perm := func(p string) fs.FileMode {
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode()
	}
	if m := perm(d.dataDir); m.Perm()&0o077 != 0 {
		t.Errorf("data dir %s is %v, want no access for group and others", d.dataDir, m)
	}
	for _, name := range []string{"berth.sock", "berth.db"} {
		if m := perm(filepath.Join(d.dataDir, name)); m.Perm()&0o007 != 0 {
			t.Errorf("%s is %v, want no access for others", name, m)
		}
	}
	filepath.WalkDir(d.dataDir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if m := perm(p); m&fs.ModeSymlink == 0 && m.Perm()&0o002 != 0 {
			t.Errorf("%s is writable by others (%v)", p, m)
		}
		if strings.HasPrefix(e.Name(), "berth.db") || e.Name() == "berth.conf" {
			if m := perm(p); m.Perm()&0o077 != 0 {
				t.Errorf("state file %s is %v, want 0600", p, m)
			}
		}
		return nil
	})

	for _, args := range [][]string{{"apps:list"}, {"config:get", "shop", "SECRET_KEY"}, {"apps:destroy", "--force", "shop"}} {
		out, code := asNobody(t, d, args...)
		if code == 0 || !strings.Contains(out, "root") || strings.Count(strings.TrimSpace(out), "\n") != 0 || strings.Contains(out, "root-only-7c1") {
			t.Errorf("berth %v as nobody: exit %d %q, want one line saying it needs root", args, code, out)
		}
	}
	// Nor can nobody open the database or the socket directly.
	cmd := exec.Command("cat", filepath.Join(d.dataDir, "berth.db"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	if out, err := cmd.CombinedOutput(); err == nil || bytes.Contains(out, []byte("root-only-7c1")) {
		t.Errorf("nobody read berth.db: %v", err)
	}
	d.mustBerth(t, "apps:exists", "shop")
}

// scopedAttempt is the command line a key scoped to shop tries with the
// name of another app (secret) or of its service (secretdb), written so
// that the command's own parsing accepts it and the call reaches the
// daemon's access check.
func scopedAttempt(c *cli.Command) []string {
	ns, verb, _ := strings.Cut(c.Name, ":")
	if ns == "postgres" || ns == "redis" {
		switch verb {
		case "create":
			return []string{c.Name, "stolen"}
		case "list":
			return []string{c.Name}
		case "app-links":
			return []string{c.Name, "secret"}
		case "link", "unlink", "promote", "linked":
			return []string{c.Name, "secretdb", "shop"}
		case "backup":
			return []string{c.Name, "secretdb", "/tmp"}
		case "backup-restore", "backup-verify":
			return []string{c.Name, "secretdb", "/etc/hostname"}
		case "backup-schedule":
			return []string{c.Name, "secretdb", "'* * * * *'", "/tmp"}
		case "backup-auth":
			return []string{c.Name, "secretdb", "AKIAEXAMPLE", "stolen-secret"}
		case "backup-set-encryption":
			return []string{c.Name, "secretdb", "a-stolen-passphrase"}
		case "clone":
			return []string{c.Name, "secretdb", "stolen"}
		case "enter":
			return []string{c.Name, "secretdb", "env"}
		}
		return []string{c.Name, "secretdb"}
	}
	extra := map[string][]string{
		"apps:clone": {"stolen"}, "apps:rename": {"stolen"}, "apps:set": {"deploy-source", "x"},
		"app-json:set": {"appjson-path", "x.json"}, "builder-dockerfile:set": {"dockerfile-path", "x"}, "builder:set": {"build-dir", "x"},
		"scheduler:set": {"selected", "swarm"}, "scheduler-swarm:set": {"constraint", "node.role==worker"},
		"certs:show": {"key"}, "certs:add": {"/etc/hostname", "/etc/hostname"}, "certs:update": {"/etc/hostname", "/etc/hostname"},
		"checks:set": {"wait-to-retire", "1"}, "config:get": {"TOKEN"}, "config:set": {"TOKEN=stolen"}, "config:unset": {"TOKEN"},
		"config:import": {"-"}, "docker-options:add": {"deploy", "--privileged"}, "docker-options:remove": {"deploy", "-v"},
		"domains:add": {"stolen.test"}, "domains:remove": {"secret.test"}, "domains:set": {"stolen.test"},
		"enter": {"web", "env"}, "git:from-archive": {"http://127.0.0.1:1/x.tar"}, "git:from-image": {"berth-test/busybox:1"},
		"git:set": {"deploy-branch", "x"}, "letsencrypt:set": {"email", "a@b.c"}, "ports:add": {"http:8080:5000"},
		"ports:remove": {"http:80"}, "ports:set": {"http:8080:5000"}, "proxy:set": {"type", "nginx"}, "ps:scale": {"web=0"},
		"ps:set": {"restart-policy", "no"}, "redirect:set": {"a.test", "b.test"}, "redirect:unset": {"a.test"},
		"releases:info": {"1"}, "releases:rollback": {"1", "--with-data", "--force"}, "releases:set": {"keep", "1"}, "run": {"env"}, "run:detached": {"env"}, "run:stop": {"x"},
		"storage:mount": {"/:/host"}, "storage:unmount": {"/:/host"},
		"previews:set": {"expire", "1m"}, "previews:destroy": {"feature-x"},
	}
	switch c.Name {
	case "config:import":
		return []string{c.Name, "--replace", "secret", "-"}
	case "ssh-keys:add":
		return []string{c.Name, "--apps", "secret", "stolen", "-"}
	case "ssh-keys:access":
		return []string{c.Name, "dev", "shop,secret"}
	case "ssh-keys:remove":
		return []string{c.Name, "admin"}
	case "domains:add-global", "domains:set-global", "domains:remove-global":
		return []string{c.Name, "stolen.test"}
	case "letsencrypt:cron-job":
		return []string{c.Name, "--add"}
	case "tokens:create":
		return []string{c.Name, "stolen"}
	case "tokens:revoke":
		return []string{c.Name, "admin"}
	case "dashboard:set":
		return []string{c.Name, "domain", "stolen.test"}
	case "events":
		return []string{c.Name, "--app", "secret"}
	case "storage:ensure-directory", "storage:create", "storage:info":
		return []string{c.Name, "stolen"}
	case "storage:destroy":
		return []string{c.Name, "--force", "stolen"}
	case "storage:set", "storage:annotations:set", "storage:labels:set":
		return []string{c.Name, "stolen", "mode", "0777"}
	case "letsencrypt:enable", "ps:rebuild", "ps:restart", "ps:restore", "ps:start", "ps:stop":
		return []string{c.Name, "secret"}
	}
	if c.App == cli.NoApp {
		return []string{c.Name}
	}
	return append([]string{c.Name, "secret"}, extra[c.Name]...)
}

// TestScopedKeyEveryCommand walks the whole command table: a key scoped to
// shop runs every command (local ones aside) against the other app
// secret, or against secretdb, the Postgres and Redis services linked only
// to secret (including linking them to shop). Each is refused for
// permission, shows none of secret's values, and nothing of secret, its
// services or shop changes. Git transfers of secret's repository by any
// path spelling are refused too.
func TestScopedKeyEveryCommand(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	requireServiceImages(t)
	d, admin, _ := sshDaemon(t, eng, serviceImageEnv...)
	limited := sshKey(t, t.TempDir(), "dev")
	d.mustBerth(t, "ssh-keys:add", "--apps", "shop", "dev", limited+".pub")
	d.mustBerth(t, "apps:create", "shop")
	d.mustBerth(t, "apps:create", "secret")
	const token = "hidden-5e0c1d"
	d.mustBerth(t, "config:set", "--no-restart", "secret", "TOKEN="+token)
	secrets := []string{token}
	for _, kind := range []string{"postgres", "redis"} {
		d.mustBerth(t, kind+":create", "secretdb")
		d.mustBerth(t, kind+":link", "--no-restart", "secretdb", "secret")
		dsn := strings.TrimSpace(d.mustBerth(t, kind+":info", "secretdb", "--dsn"))
		u, pw := dsn, ""
		if i, j := strings.Index(u, "://"), strings.LastIndex(u, "@"); i >= 0 && j > i {
			if _, p, ok := strings.Cut(u[i+3:j], ":"); ok {
				pw = p
			}
		}
		if len(pw) < 8 {
			t.Fatalf("%s dsn %q has no password to look for", kind, dsn)
		}
		secrets = append(secrets, pw)
	}
	before := d.mustBerth(t, "config:export", "secret") + d.mustBerth(t, "config:export", "shop")

	allowed := map[string]bool{"apps:list": true}
	type result struct {
		args []string
		out  string
		code int
	}
	var cmds []*cli.Command
	for _, c := range cli.Commands() {
		if !c.Local && !c.LocalOnly && !allowed[c.Name] {
			cmds = append(cmds, c)
		}
	}
	results := make([]result, len(cmds))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, c := range cmds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			args := scopedAttempt(c)
			out, code := sshTry(limited, d.sshAddr, args...)
			results[i] = result{args, out, code}
		}()
	}
	wg.Wait()
	for _, r := range results {
		// certs:add and :update reach the daemon only with a certificate
		// (a tar on stdin); FILE arguments are refused over ssh.
		refused := strings.Contains(r.out, "Permission denied") ||
			strings.HasPrefix(r.args[0], "certs:") && strings.Contains(r.out, "would be a file of the server")
		if r.code != 1 || !refused {
			t.Errorf("limited key: %v: exit %d %q, want a permission refusal", r.args, r.code, r.out)
		}
		for _, s := range secrets {
			if strings.Contains(r.out, s) {
				t.Errorf("limited key: %v shows a secret of secret: %q", r.args, r.out)
			}
		}
	}
	t.Logf("%d commands refused to the scoped key", len(results))

	// A FILE argument would be the server's file, read as root: refused
	// even for the key's own app, and nothing of it shown.
	for _, args := range [][]string{{"config:import", "shop", "/etc/shadow"}, {"certs:add", "shop", "/etc/ssl/certs/ca-certificates.crt", "/etc/shadow"}} {
		out, code := sshTry(limited, d.sshAddr, args...)
		if code != 1 || !strings.Contains(out, "would be a file of the server") || strings.Contains(out, "root:") {
			t.Errorf("limited key: %v: exit %d %q", args, code, out)
		}
	}

	// Git: secret's repository under any spelling of its path.
	for _, verb := range []string{"git-upload-pack", "git-receive-pack", "git-upload-archive"} {
		for _, p := range []string{"secret", "'/secret'", "'secret.git'", "'shop/../secret'", "'../secret'", "'./secret'", "'SECRET'"} {
			out, code := sshTry(limited, d.sshAddr, verb, p)
			if code == 0 || !(strings.Contains(out, "Permission denied") || strings.Contains(out, "Invalid app name")) {
				t.Errorf("limited key: %s %s: exit %d %q", verb, p, code, out)
			}
		}
	}

	// Nothing changed.
	if after := d.mustBerth(t, "config:export", "secret") + d.mustBerth(t, "config:export", "shop"); after != before {
		t.Errorf("config changed:\n%s\nwas\n%s", after, before)
	}
	for _, kind := range []string{"postgres", "redis"} {
		if out := strings.TrimSpace(d.mustBerth(t, kind+":links", "secretdb")); out != "secret" {
			t.Errorf("%s:links secretdb = %q", kind, out)
		}
		if out := d.mustBerth(t, kind+":list"); strings.Contains(out, "stolen") {
			t.Errorf("%s:list: %q", kind, out)
		}
	}
	if out := d.mustBerth(t, "apps:list"); !strings.Contains(out, "secret") || strings.Contains(out, "stolen") {
		t.Errorf("apps:list: %q", out)
	}
	if out := d.mustBerth(t, "ssh-keys:list"); strings.Contains(out, "stolen") {
		t.Errorf("ssh-keys:list: %q", out)
	}
	if out, code := sshTry(admin, d.sshAddr, "config:get", "secret", "TOKEN"); code != 0 || strings.TrimSpace(out) != token {
		t.Errorf("admin key: config:get secret TOKEN: %d %q", code, out)
	}
}

// sshTry runs a remote command with the OpenSSH client; it may be called
// from any goroutine.
func sshTry(key, addr string, args ...string) (string, int) {
	host, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command("ssh", append(append(sshOpts(key, port), "--", "berth@"+host), args...)...)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		return err.Error(), -1
	}
	return string(out), 0
}

// TestSSHFailedAuthenticationsAreLimited: an address that keeps offering
// unknown keys is cut off after ten failures within a minute, quickly, and
// the daemon says so once in its log.
func TestSSHFailedAuthenticationsAreLimited(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d, admin, _ := sshDaemon(t, eng)
	if out, code := sshTry(admin, d.sshAddr, "apps:list"); code != 0 {
		t.Fatalf("admin key: %d %q", code, out)
	}
	stranger := sshKey(t, t.TempDir(), "stranger")
	cutAt := 0
	for i := 1; i <= 14 && cutAt == 0; i++ {
		out, code := sshTry(stranger, d.sshAddr, "apps:list")
		switch {
		case code == 255 && strings.Contains(out, "Permission denied (publickey)"):
		case code == 255:
			cutAt = i
		default:
			t.Fatalf("attempt %d: exit %d %q", i, code, out)
		}
		time.Sleep(20 * time.Millisecond) // the server counts a failure as the connection closes
	}
	// A failure is counted when the server has closed the connection,
	// which may trail the client's exit a little.
	if cutAt < 11 || cutAt > 13 {
		t.Fatalf("connections cut off at attempt %d, want 11 (after 10 failures)", cutAt)
	}
	// Every connection from the address is now closed before the
	// handshake, fast; a good key from it too (one address, one limit).
	for _, key := range []string{stranger, admin} {
		start := time.Now()
		out, code := sshTry(key, d.sshAddr, "apps:list")
		if code != 255 || strings.Contains(out, "Permission denied") {
			t.Errorf("blocked address: exit %d %q", code, out)
		}
		if el := time.Since(start); el > 2*time.Second {
			t.Errorf("a refusal took %v", el)
		}
	}
	if err := d.stop(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(d.log.String(), "too many failed authentications"); n != 1 {
		t.Errorf("the daemon logged the block %d times, want once", n)
	}
}

// pathsUnder lists every path under dir, relative to it.
func pathsUnder(dir string) []string {
	var out []string
	filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err == nil {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	return out
}

// TestNamesCannotEscapeTheDataDir: app and service names with `..`, `/`,
// NUL, control characters or look-alike Unicode are refused (one error line),
// from the CLI and straight through the API (which can carry a NUL), and
// nothing is made in the data dir or beside it.
func TestNamesCannotEscapeTheDataDir(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	requireServiceImages(t)
	d := deployDaemon(t, eng, serviceImageEnv...)
	d.mustBerth(t, "apps:create", "shop")
	d.mustBerth(t, "redis:create", "cache")
	// Let the data dir settle (the proxy's state, the service's files).
	time.Sleep(500 * time.Millisecond)
	before := pathsUnder(d.dataDir)
	bad := []string{"..", "../x", "../../etc", "a/b", "/abs", "./x", "x/..", ".hidden", "a..b", "\u0455hop", "ｓhop",
		"shop\u200b", "sh\u202eop", "a\tb", "a\nb", "sh op", "$(id)", "`id`", "a;b", "~root", strings.Repeat("a", 300)}
	// Where a name that climbs out would land: none of these may appear.
	outside := map[string]bool{}
	for _, name := range bad {
		for _, sub := range []string{"", "apps", "repos", "releases", "services/postgres", "services/redis"} {
			if p := filepath.Join(d.dataDir, sub, name); !strings.HasPrefix(p, d.dataDir+"/") {
				_, err := os.Lstat(p)
				outside[p] = err == nil
			}
		}
	}
	client := api.NewClient(d.socket())
	ctx := context.Background()
	for _, name := range append(bad, "a\x00b", "shop\x00/../../x") {
		if !strings.Contains(name, "\x00") {
			for _, args := range [][]string{
				{"apps:create", name}, {"apps:rename", "shop", name}, {"apps:clone", "shop", name},
				{"postgres:create", name}, {"redis:create", name}, {"redis:clone", "cache", name}, {"domains:add", "shop", name},
			} {
				if args[0] == "domains:add" && name == ".hidden" {
					continue // Dokku's form of hidden and *.hidden: a valid domain
				}
				out, code := d.berth(args...)
				// (apps:rename and the clones print a progress line first.)
				if code == 0 || strings.Count(out, " !     ") != 1 {
					t.Errorf("%q: exit %d %q, want one error line", args, code, out)
				}
			}
		}
		if _, err := api.AppsCreate.Call(ctx, client, api.AppRef{App: name}); err == nil {
			t.Errorf("apps.create %q through the API succeeded", name)
		}
		if _, err := api.AppsRename.Call(ctx, client, api.RenameRequest{From: "shop", To: name, SkipDeploy: true}); err == nil {
			t.Errorf("apps.rename to %q through the API succeeded", name)
		}
		for _, kind := range []string{"postgres", "redis"} {
			if _, err := api.ServicesCreate.Call(ctx, client, api.ServiceCreate{ServiceRef: api.ServiceRef{Kind: kind, Name: name}}); err == nil {
				t.Errorf("services.create %s %q through the API succeeded", kind, name)
			}
		}
	}
	if after := pathsUnder(d.dataDir); !slices.Equal(after, before) {
		t.Errorf("the data dir changed:\nbefore %q\nafter  %q", before, after)
	}
	for p, existed := range outside {
		if _, err := os.Lstat(p); (err == nil) != existed {
			t.Errorf("%s: existed %v before the refused names, now %v", p, existed, err == nil)
		}
	}
	if out := d.mustBerth(t, "apps:list"); strings.TrimSpace(out) != "=====> My Apps\nshop" && !strings.HasSuffix(strings.TrimSpace(out), "\nshop") {
		t.Errorf("apps:list: %q", out)
	}
}
