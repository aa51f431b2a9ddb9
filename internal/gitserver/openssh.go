package gitserver

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/settings"
	"github.com/berthpaas/berth/internal/store"
)

// keysHeader starts every authorized_keys file Berth writes.
const keysHeader = "# Written by Berth (ssh-keys:add/remove); edits here are lost.\n"

// openSSH is OpenSSH mode: the system users the host's sshd logs in as for
// Berth (berth, dokku), whose ~/.ssh/authorized_keys is a link to the file
// Berth writes (one forced-command line per key), and the group that may
// use the gateway socket the forced command reaches the daemon through.
//
// sync sets all of it up, or repairs it, at the daemon's start and after
// every ssh-keys change, whatever was installed first; check reports it
// without changing anything.
type openSSH struct {
	mode     string   // auto or off (BERTH_OPENSSH)
	sshd     string   // sshd's binary: its presence turns auto on
	users    []string // BERTH_OPENSSH_USERS
	group    string   // BERTH_SSH_GROUP
	homeBase string   // BERTH_OPENSSH_HOME
	// keysFile is BERTH_AUTHORIZED_KEYS (kept even when the mode is
	// off); defaultKeys is used while the mode is on and keysFile is "".
	keysFile, defaultKeys string
	berthBin, socket      string // what the forced command runs
	sys                   sysUsers
	log                   *slog.Logger
	mu                    sync.Mutex // held by sync's caller
}

// newOpenSSH is OpenSSH mode as the settings describe it.
func newOpenSSH(s settings.Settings, berthBin string, log *slog.Logger) *openSSH {
	var users []string
	for _, u := range strings.Split(s.OpenSSHUsers, ",") {
		if u = strings.TrimSpace(u); u != "" {
			users = append(users, u)
		}
	}
	return &openSSH{
		mode: s.OpenSSH, sshd: "/usr/sbin/sshd", users: users, group: s.SSHGroup, homeBase: s.OpenSSHHome,
		keysFile: s.AuthorizedKeys, defaultKeys: filepath.Join(s.DataDir, "authorized_keys"),
		berthBin: berthBin, socket: s.SSHSocket, sys: execUsers{}, log: log,
	}
}

// active reports whether Berth keeps the users: the mode is not off and
// sshd is installed.
func (o *openSSH) active() bool {
	if o.mode == "off" {
		return false
	}
	_, err := os.Stat(o.sshd)
	return err == nil
}

// file is the authorized_keys file Berth writes ("" for none).
func (o *openSSH) file(active bool) string {
	switch {
	case o.keysFile != "":
		return o.keysFile
	case active:
		return o.defaultKeys
	}
	return ""
}

// authorizedKeysText is the authorized_keys file for keys: one line per key,
// sorted by name, that makes sshd run `berth ssh-command` for it.
func authorizedKeysText(keys []store.Key, berthBin, socket string) string {
	keys = slices.Clone(keys)
	sort.Slice(keys, func(i, j int) bool { return keys[i].Name < keys[j].Name })
	var b strings.Builder
	b.WriteString(keysHeader)
	for _, k := range keys {
		// The key name is restricted to [A-Za-z0-9._@-]: safe inside quotes.
		fmt.Fprintf(&b, "command=\"%s ssh-command --socket %s --key %s\",restrict,pty %s %s\n", berthBin, socket, k.Name, k.PublicKey, k.Name)
	}
	return b.String()
}

// countKeyLines counts the key lines of an authorized_keys file.
func countKeyLines(text string) int {
	n := 0
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			n++
		}
	}
	return n
}

// writeKeysFile replaces path with text, mode 0644 (sshd reads it as the
// berth and dokku users).
func writeKeysFile(path, text string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o644); err != nil { // whatever the umask
		return err
	}
	return os.Rename(tmp, path)
}

// sync writes the authorized_keys file for keys and, while the mode is on,
// creates or repairs the group, the users and their links to the file,
// and gives the group the gateway socket. It goes on past a user it
// cannot repair and returns every error. The caller holds mu from reading
// keys on, so that the last change's keys are the ones written.
func (o *openSSH) sync(keys []store.Key) error {
	active := o.active()
	path := o.file(active)
	if path == "" {
		return nil
	}
	if err := writeKeysFile(path, authorizedKeysText(keys, o.berthBin, o.socket)); err != nil {
		return fmt.Errorf("authorized_keys: %w", err)
	}
	if !active {
		return nil
	}
	g, err := o.sys.Group(o.group)
	if errors.Is(err, errNoEntry) {
		o.log.Info("openssh mode: creating the group", "group", o.group)
		if err := o.sys.AddGroup(o.group); err != nil {
			return err
		}
		g, err = o.sys.Group(o.group)
	}
	if err != nil {
		return fmt.Errorf("group %s: %w", o.group, err)
	}
	var errs []error
	// sshd reads the file, and the forced command reaches the socket, as
	// the user: their directories (the data dir) must let it through.
	for _, dir := range o.dirs(path) {
		if fi, err := os.Stat(dir); err == nil && fi.Mode().Perm()&0o011 != 0o011 {
			o.log.Info("openssh mode: letting the users through", "dir", dir)
			if err := os.Chmod(dir, fi.Mode().Perm()|0o011); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, name := range o.users {
		if err := o.repairUser(name, g, path); err != nil {
			errs = append(errs, fmt.Errorf("user %s: %w", name, err))
		}
	}
	if err := chownSocket(o.socket, g.GID); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, fmt.Errorf("gateway socket: %w", err))
	}
	return errors.Join(errs...)
}

// dirs are the directories the users go through to the keys file at path
// and to the gateway socket.
func (o *openSSH) dirs(path string) []string {
	d := []string{filepath.Dir(path)}
	if s := filepath.Dir(o.socket); s != d[0] {
		d = append(d, s)
	}
	return d
}

// chownSocket gives the gateway socket to group gid, mode 0660.
func chownSocket(path string, gid int) error {
	if err := os.Chown(path, os.Geteuid(), gid); err != nil {
		return err
	}
	return os.Chmod(path, 0o660)
}

// userState is what stands between a system user and a key login that
// reaches Berth. The zero value of each field means "fine".
type userState struct {
	sysUser
	missing bool
	mod     userMod // locked password, no usable shell, not in the group
	home    string  // "missing", "writable by others", "owned by uid N"
	sshDir  string  // likewise for ~/.ssh
	// keys is what ~/.ssh/authorized_keys is when it is not Berth's file:
	// "missing", "a link to X", "an old copy of Berth's keys", "a file of
	// its own".
	keys string
}

func (st userState) problems() []string {
	if st.missing {
		return []string{"missing"}
	}
	var p []string
	if st.mod.Unlock {
		p = append(p, "password locked (sshd without PAM refuses it)")
	}
	if st.mod.Shell != "" {
		p = append(p, "shell "+st.Shell+" cannot run the forced command")
	}
	if st.mod.Group != "" {
		p = append(p, "not in group "+st.mod.Group+" (may not use the gateway socket)")
	}
	if st.home != "" {
		p = append(p, "home "+st.Home+" "+st.home)
	}
	if st.sshDir != "" {
		p = append(p, st.Home+"/.ssh "+st.sshDir)
	}
	if st.keys != "" {
		p = append(p, st.Home+"/.ssh/authorized_keys is "+st.keys)
	}
	return p
}

// badShell: shells that cannot run sshd's forced command.
func badShell(sh string) bool {
	return sh == "" || strings.HasSuffix(sh, "/nologin") || strings.HasSuffix(sh, "/false")
}

// dirProblem says what keeps sshd's StrictModes from trusting dir, owned
// by root or uid.
func dirProblem(dir string, uid int) string {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "missing"
	case err != nil:
		return err.Error()
	case !fi.IsDir():
		return "not a directory"
	case fi.Mode().Perm()&0o022 != 0:
		return "writable by others"
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != uid && int(st.Uid) != os.Geteuid() && st.Uid != 0 {
		return fmt.Sprintf("owned by uid %d", st.Uid)
	}
	return ""
}

// inspectUser reads the state of user name against group g and the
// authorized_keys file path, changing nothing.
func (o *openSSH) inspectUser(name string, g sysGroup, path string) (userState, error) {
	u, err := o.sys.User(name)
	if errors.Is(err, errNoEntry) {
		return userState{sysUser: sysUser{Name: name}, missing: true}, nil
	}
	if err != nil {
		return userState{}, err
	}
	st := userState{sysUser: u}
	st.mod.Unlock = u.Locked
	if badShell(u.Shell) {
		st.mod.Shell = "/bin/sh"
	}
	if u.GID != g.GID && !slices.Contains(g.Members, name) {
		st.mod.Group = o.group
	}
	st.home = dirProblem(u.Home, u.UID)
	st.sshDir = dirProblem(filepath.Join(u.Home, ".ssh"), u.UID)
	st.keys = linkProblem(filepath.Join(u.Home, ".ssh", "authorized_keys"), path)
	return st, nil
}

// linkProblem says what link is when it is not the file path ("" when it is).
func linkProblem(link, path string) string {
	fi, err := os.Lstat(link)
	if errors.Is(err, os.ErrNotExist) {
		return "missing"
	}
	if err != nil {
		return err.Error()
	}
	want, err1 := os.Stat(path)
	got, err2 := os.Stat(link)
	if err1 == nil && err2 == nil && os.SameFile(want, got) {
		return ""
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		if target, _ := os.Readlink(link); target != path {
			return "a link to " + target
		}
		return "" // to the file, which is missing: said elsewhere
	}
	if b, err := os.ReadFile(link); err == nil && strings.HasPrefix(string(b), keysHeader) {
		return "an old copy of Berth's keys"
	}
	return "a file of its own"
}

// repairUser creates user name when missing and fixes what inspectUser
// finds, so that sshd logs it in with the keys of the file path.
func (o *openSSH) repairUser(name string, g sysGroup, path string) error {
	st, err := o.inspectUser(name, g, path)
	if err != nil {
		return err
	}
	if st.missing {
		home := filepath.Join(o.homeBase, name)
		o.log.Info("openssh mode: creating the user", "user", name, "home", home)
		if err := o.sys.AddUser(name, o.group, home); err != nil {
			return err
		}
		if st, err = o.inspectUser(name, g, path); err != nil {
			return err
		}
		if st.missing {
			return fmt.Errorf("still missing after it was created")
		}
	}
	if !st.mod.empty() {
		o.log.Info("openssh mode: fixing the user", "user", name, "unlock", st.mod.Unlock, "shell", st.mod.Shell, "group", st.mod.Group)
		if err := o.sys.ModUser(name, st.mod); err != nil {
			return err
		}
	}
	switch st.home {
	case "":
	case "missing":
		if err := os.MkdirAll(st.Home, 0o755); err != nil {
			return err
		}
		if err := os.Chown(st.Home, st.UID, st.GID); err != nil {
			return err
		}
	case "writable by others":
		if err := os.Chmod(st.Home, 0o755); err != nil {
			return err
		}
	default:
		return fmt.Errorf("home %s is %s: sshd will refuse its keys; fix it by hand", st.Home, st.home)
	}
	sshDir := filepath.Join(st.Home, ".ssh")
	if st.sshDir != "" {
		// Root's, as the link in it: the user only ever runs the forced
		// command, and may not replace the link.
		os.Remove(sshDir) // a file in the way; fails harmlessly on a directory
		if err := os.MkdirAll(sshDir, 0o755); err != nil {
			return err
		}
		if err := os.Chown(sshDir, os.Geteuid(), os.Getegid()); err != nil {
			return err
		}
		if err := os.Chmod(sshDir, 0o755); err != nil {
			return err
		}
	}
	if st.keys == "" {
		return nil
	}
	link := filepath.Join(sshDir, "authorized_keys")
	if st.keys == "a file of its own" {
		saved := link + ".berth-saved"
		if _, err := os.Lstat(saved); err == nil {
			saved += "." + time.Now().UTC().Format("20060102T150405")
		}
		o.log.Warn("openssh mode: moving aside an authorized_keys Berth did not write", "user", name, "file", link, "saved_as", saved)
		if err := os.Rename(link, saved); err != nil {
			return err
		}
	}
	o.log.Info("openssh mode: linking authorized_keys", "user", name, "link", link, "file", path)
	tmp := link + ".berth-tmp"
	os.Remove(tmp)
	if err := os.Symlink(path, tmp); err != nil {
		return err
	}
	return os.Rename(tmp, link)
}

// check reports OpenSSH mode for ssh-keys:report, changing nothing.
func (o *openSSH) check(keys []store.Key) api.OpenSSHReport {
	r := api.OpenSSHReport{Mode: o.mode, Group: o.group, Active: o.active(), Users: []api.SSHUserReport{}, Problems: []string{}}
	if _, err := os.Stat(o.sshd); err == nil {
		r.SSHD = o.sshd
	}
	r.AuthorizedKeys = o.file(r.Active)
	if r.AuthorizedKeys != "" {
		b, err := os.ReadFile(r.AuthorizedKeys)
		r.KeysListed = countKeyLines(string(b))
		r.InStep = err == nil && string(b) == authorizedKeysText(keys, o.berthBin, o.socket)
		if err != nil {
			r.Problems = append(r.Problems, fmt.Sprintf("cannot read %s: %v", r.AuthorizedKeys, err))
		} else if !r.InStep {
			r.Problems = append(r.Problems, fmt.Sprintf("%s does not list exactly the %d registered keys", r.AuthorizedKeys, len(keys)))
		}
	}
	if !r.Active {
		return r
	}
	for _, dir := range o.dirs(r.AuthorizedKeys) {
		if fi, err := os.Stat(dir); err == nil && fi.Mode().Perm()&0o011 != 0o011 {
			r.Problems = append(r.Problems, fmt.Sprintf("%s (mode %04o) does not let the users through", dir, fi.Mode().Perm()))
		}
	}
	g, err := o.sys.Group(o.group)
	if err != nil {
		r.Problems = append(r.Problems, fmt.Sprintf("group %s: %v", o.group, err))
	}
	for _, name := range o.users {
		ur := api.SSHUserReport{Name: name}
		st, err := o.inspectUser(name, g, r.AuthorizedKeys)
		var problems []string
		switch {
		case err != nil:
			problems = []string{err.Error()}
		default:
			ur.Exists, ur.Home = !st.missing, st.Home
			problems = st.problems()
		}
		ur.OK = len(problems) == 0
		for _, p := range problems {
			r.Problems = append(r.Problems, "user "+name+": "+p)
		}
		r.Users = append(r.Users, ur)
	}
	return r
}
