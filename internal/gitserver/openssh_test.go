package gitserver

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/settings"
	"github.com/berthpaas/berth/internal/store"
)

// fakeUsers is a system's users and groups in memory; homes are real
// directories (the test's).
type fakeUsers struct {
	users  map[string]*sysUser
	groups map[string]*sysGroup
	calls  []string
}

func newFakeUsers() *fakeUsers {
	return &fakeUsers{users: map[string]*sysUser{}, groups: map[string]*sysGroup{}}
}

func (f *fakeUsers) User(name string) (sysUser, error) {
	if u, ok := f.users[name]; ok {
		return *u, nil
	}
	return sysUser{}, errNoEntry
}

func (f *fakeUsers) Group(name string) (sysGroup, error) {
	if g, ok := f.groups[name]; ok {
		return *g, nil
	}
	return sysGroup{}, errNoEntry
}

func (f *fakeUsers) AddGroup(name string) error {
	f.calls = append(f.calls, "groupadd "+name)
	f.groups[name] = &sysGroup{GID: 900 + len(f.groups)}
	return nil
}

func (f *fakeUsers) AddUser(name, group, home string) error {
	f.calls = append(f.calls, "useradd "+name)
	if err := os.MkdirAll(home, 0o755); err != nil {
		return err
	}
	f.users[name] = &sysUser{Name: name, UID: os.Getuid(), GID: f.groups[group].GID, Home: home, Shell: "/bin/sh"}
	return nil
}

func (f *fakeUsers) ModUser(name string, m userMod) error {
	f.calls = append(f.calls, "usermod "+name)
	u := f.users[name]
	if m.Unlock {
		u.Locked = false
	}
	if m.Shell != "" {
		u.Shell = m.Shell
	}
	if m.Group != "" {
		f.groups[m.Group].Members = append(f.groups[m.Group].Members, name)
	}
	return nil
}

// testOpenSSH is OpenSSH mode with an installed sshd, fake users and
// everything under a temporary directory.
func testOpenSSH(t *testing.T) (*openSSH, *fakeUsers, string) {
	dir := t.TempDir()
	sshd := filepath.Join(dir, "sshd")
	os.WriteFile(sshd, nil, 0o755)
	sys := newFakeUsers()
	return &openSSH{
		mode: "auto", sshd: sshd, users: []string{"berth", "dokku"}, group: "berth", homeBase: filepath.Join(dir, "home"),
		defaultKeys: filepath.Join(dir, "data", "authorized_keys"), berthBin: "/usr/local/bin/berth", socket: filepath.Join(dir, "data", "berth-ssh.sock"),
		sys: sys, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, sys, dir
}

var (
	keyA = store.Key{Name: "alice", PublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAlice"}
	keyB = store.Key{Name: "bob", PublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBob"}
)

func TestAuthorizedKeysText(t *testing.T) {
	text := authorizedKeysText([]store.Key{keyB, keyA}, "/usr/local/bin/berth", "/var/lib/berth/berth-ssh.sock")
	want := keysHeader +
		`command="/usr/local/bin/berth ssh-command --socket /var/lib/berth/berth-ssh.sock --key alice",restrict,pty ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAlice alice` + "\n" +
		`command="/usr/local/bin/berth ssh-command --socket /var/lib/berth/berth-ssh.sock --key bob",restrict,pty ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBob bob` + "\n"
	if text != want {
		t.Errorf("got\n%s\nwant\n%s", text, want)
	}
	if n := countKeyLines(text); n != 2 {
		t.Errorf("countKeyLines = %d", n)
	}
	if n := countKeyLines(keysHeader); n != 0 {
		t.Errorf("countKeyLines(header only) = %d", n)
	}
}

func TestOpenSSHSyncSetsUpMissingUsers(t *testing.T) {
	o, sys, dir := testOpenSSH(t)
	if r := o.check(nil); !r.Active || r.InStep || len(r.Problems) == 0 || r.Users[0].Exists {
		t.Errorf("before the first sync: %+v", r)
	}
	if err := o.sync([]store.Key{keyA}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"groupadd berth", "useradd berth", "useradd dokku"}; !slices.Equal(sys.calls, want) {
		t.Errorf("calls %v, want %v", sys.calls, want)
	}
	for _, u := range []string{"berth", "dokku"} {
		link := filepath.Join(dir, "home", u, ".ssh", "authorized_keys")
		b, err := os.ReadFile(link)
		if err != nil || string(b) != authorizedKeysText([]store.Key{keyA}, o.berthBin, o.socket) {
			t.Errorf("%s: %v %q", link, err, b)
		}
		if target, _ := os.Readlink(link); target != o.defaultKeys {
			t.Errorf("%s links to %q", link, target)
		}
		if fi, err := os.Stat(filepath.Dir(link)); err != nil || fi.Mode().Perm() != 0o755 {
			t.Errorf(".ssh of %s: %v %v", u, fi.Mode(), err)
		}
	}
	if fi, _ := os.Stat(o.defaultKeys); fi.Mode().Perm() != 0o644 {
		t.Errorf("keys file mode %v", fi.Mode())
	}
	r := o.check([]store.Key{keyA})
	if !r.Active || !r.InStep || r.KeysListed != 1 || len(r.Problems) != 0 || r.AuthorizedKeys != o.defaultKeys {
		t.Errorf("after sync: %+v", r)
	}
	for _, u := range r.Users {
		if !u.Exists || !u.OK {
			t.Errorf("user %+v", u)
		}
	}
	// Nothing left to do: a second sync changes nothing.
	sys.calls = nil
	if err := o.sync([]store.Key{keyA}); err != nil || len(sys.calls) != 0 {
		t.Errorf("second sync: %v %v", err, sys.calls)
	}
	// A key change reaches the file both users read.
	o.sync([]store.Key{keyA, keyB})
	if b, _ := os.ReadFile(filepath.Join(dir, "home", "dokku", ".ssh", "authorized_keys")); countKeyLines(string(b)) != 2 {
		t.Errorf("after adding a key:\n%s", b)
	}
	if r := o.check([]store.Key{keyA}); r.InStep || len(r.Problems) != 1 {
		t.Errorf("check against other keys: %+v", r)
	}
}

func TestOpenSSHSyncRepairsExistingUsers(t *testing.T) {
	o, sys, dir := testOpenSSH(t)
	sys.groups["berth"] = &sysGroup{GID: 950}
	home := filepath.Join(dir, "dokku-home")
	os.MkdirAll(filepath.Join(home, ".ssh"), 0o700)
	os.Chmod(home, 0o777)
	own := "ssh-ed25519 AAAA someone-else\n"
	os.WriteFile(filepath.Join(home, ".ssh", "authorized_keys"), []byte(own), 0o600)
	sys.users["dokku"] = &sysUser{Name: "dokku", UID: os.Getuid(), GID: 100, Home: home, Shell: "/usr/sbin/nologin", Locked: true}
	// The keys file exists (Berth ran before), so check compares with it.
	writeKeysFile(o.defaultKeys, authorizedKeysText(nil, o.berthBin, o.socket))

	r := o.check(nil)
	got := strings.Join(r.Problems, "\n")
	for _, want := range []string{"user dokku: password locked", "user dokku: shell /usr/sbin/nologin", "user dokku: not in group berth",
		"user dokku: home " + home + " writable by others", "user dokku: " + home + "/.ssh/authorized_keys is a file of its own"} {
		if !strings.Contains(got, want) {
			t.Errorf("problems lack %q:\n%s", want, got)
		}
	}
	sys.calls = nil
	if err := o.sync(nil); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(sys.calls, "usermod dokku") {
		t.Errorf("calls %v", sys.calls)
	}
	if u := sys.users["dokku"]; u.Locked || u.Shell != "/bin/sh" || !slices.Contains(sys.groups["berth"].Members, "dokku") {
		t.Errorf("dokku after sync: %+v", u)
	}
	if b, _ := os.ReadFile(filepath.Join(home, ".ssh", "authorized_keys.berth-saved")); string(b) != own {
		t.Errorf("the user's own authorized_keys was not kept aside: %q", b)
	}
	if r := o.check(nil); len(r.Problems) != 0 {
		t.Errorf("problems after the repair: %v", r.Problems)
	}
}

func TestOpenSSHOffOrNoSSHD(t *testing.T) {
	o, sys, dir := testOpenSSH(t)
	os.Remove(o.sshd)
	if err := o.sync([]store.Key{keyA}); err != nil || len(sys.calls) != 0 {
		t.Errorf("without sshd: %v %v", err, sys.calls)
	}
	if _, err := os.Stat(o.defaultKeys); err == nil {
		t.Error("without sshd the default keys file was written")
	}
	if r := o.check(nil); r.Active || r.SSHD != "" || r.AuthorizedKeys != "" || len(r.Problems) != 0 {
		t.Errorf("report without sshd: %+v", r)
	}
	// An explicit BERTH_AUTHORIZED_KEYS is kept whatever the mode.
	o.mode, o.keysFile = "off", filepath.Join(dir, "explicit")
	os.WriteFile(o.sshd, nil, 0o755)
	if err := o.sync([]store.Key{keyA}); err != nil || len(sys.calls) != 0 {
		t.Errorf("mode off: %v %v", err, sys.calls)
	}
	if b, _ := os.ReadFile(o.keysFile); countKeyLines(string(b)) != 1 {
		t.Errorf("explicit file: %q", b)
	}
}

// testKeysService is a Server with a store and OpenSSH mode (fake users).
func testKeysService(t *testing.T) (*Server, string) {
	o, _, dir := testOpenSSH(t)
	st, err := store.Open(context.Background(), filepath.Join(dir, "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s := New(Config{Store: st, Settings: settings.Settings{DataDir: dir}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	s.openssh, s.sshSocket, s.sshAddr = o, o.socket, "127.0.0.1:2222"
	return s, dir
}

// TestParallelKeysAddStayInStep: the file written last lists every key,
// whatever order parallel ssh-keys:add commits and writes in.
func TestParallelKeysAddStayInStep(t *testing.T) {
	ctx := context.Background()
	s, _ := testKeysService(t)
	var wg sync.WaitGroup
	for i := range 8 {
		pub, _, _ := ed25519.GenerateKey(nil)
		k, _ := ssh.NewPublicKey(pub)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.keysAdd(ctx, api.KeyAdd{Name: fmt.Sprintf("k%d", i), PublicKey: string(ssh.MarshalAuthorizedKey(k))}, api.Output{}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if r, _ := s.keysReport(ctx, api.Empty{}, api.Output{}); !r.OpenSSH.InStep || r.OpenSSH.KeysListed != 8 {
		t.Errorf("after 8 parallel adds: %+v", r.OpenSSH)
	}
}

// TestKeysReport: ssh-keys:add and :remove keep OpenSSH mode in step, and
// the report says so.
func TestKeysReport(t *testing.T) {
	ctx := context.Background()
	s, dir := testKeysService(t)
	pub := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl me@laptop"
	var stderr bytes.Buffer
	if _, err := s.keysAdd(ctx, api.KeyAdd{Name: "me", PublicKey: pub}, api.Output{Stderr: &stderr}); err != nil || stderr.Len() != 0 {
		t.Fatalf("keysAdd: %v %s", err, stderr.String())
	}
	r, err := s.keysReport(ctx, api.Empty{}, api.Output{})
	if err != nil {
		t.Fatal(err)
	}
	if r.BuiltinServer != "127.0.0.1:2222" || r.Keys != 1 || !r.OpenSSH.InStep || r.OpenSSH.KeysListed != 1 || len(r.OpenSSH.Users) != 2 {
		t.Errorf("report: %+v", r)
	}
	// No gateway socket in this test: the report says it is missing.
	if r.Gateway.Mode != "" || len(r.OpenSSH.Problems) != 1 || !strings.Contains(r.OpenSSH.Problems[0], "gateway socket") {
		t.Errorf("gateway: %+v %v", r.Gateway, r.OpenSSH.Problems)
	}
	if _, err := s.keysRemove(ctx, api.KeyRef{Name: "me"}, api.Output{}); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.keysReport(ctx, api.Empty{}, api.Output{}); r.Keys != 0 || !r.OpenSSH.InStep || r.OpenSSH.KeysListed != 0 {
		t.Errorf("report after remove: %+v", r)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "home", "dokku", ".ssh", "authorized_keys"))
	if strings.Contains(string(b), "me@laptop") || strings.Contains(string(b), "--key me") {
		t.Errorf("removed key still listed:\n%s", b)
	}
}
