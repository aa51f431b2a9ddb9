package gitserver

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// errNoEntry: the system has no such user or group.
var errNoEntry = errors.New("no such user or group")

// sysUser is a system user as OpenSSH sees it.
type sysUser struct {
	Name     string
	UID, GID int
	Home     string
	Shell    string
	// Locked: the password field starts with '!'. sshd without PAM
	// refuses such a user even with a valid key.
	Locked bool
}

// sysGroup is a system group.
type sysGroup struct {
	GID     int
	Members []string
}

// userMod is what usermod changes on an existing user.
type userMod struct {
	Unlock bool   // set the password to '*': no password, key logins work
	Shell  string // a shell that can run the forced command
	Group  string // a supplementary group to join
}

func (m userMod) empty() bool { return m == userMod{} }

// sysUsers reads and changes the system's users and groups. The daemon uses
// the system's own tools (execUsers); tests use a fake.
type sysUsers interface {
	User(name string) (sysUser, error)   // errNoEntry when missing
	Group(name string) (sysGroup, error) // errNoEntry when missing
	AddGroup(name string) error
	// AddUser creates a system user in group with home (created) and a
	// shell, whose password is '*' (no password, not locked).
	AddUser(name, group, home string) error
	ModUser(name string, m userMod) error
}

// execUsers implements sysUsers with getent, groupadd, useradd and
// usermod: passwd and group entries are only ever written by those tools.
type execUsers struct{}

func runTool(name string, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok && name == "getent" && ee.ExitCode() == 2 {
			return "", errNoEntry
		}
		return "", fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

func (execUsers) User(name string) (sysUser, error) {
	out, err := runTool("getent", "passwd", name)
	if err != nil {
		return sysUser{}, err
	}
	f := strings.Split(strings.TrimSpace(out), ":")
	if len(f) < 7 {
		return sysUser{}, fmt.Errorf("getent passwd %s: unexpected %q", name, out)
	}
	u := sysUser{Name: f[0], Home: f[5], Shell: f[6]}
	u.UID, _ = strconv.Atoi(f[2])
	u.GID, _ = strconv.Atoi(f[3])
	// Not passwd -S: it says L for '*' too, which sshd accepts.
	if sh, err := runTool("getent", "shadow", name); err == nil {
		if f := strings.Split(sh, ":"); len(f) > 1 && strings.HasPrefix(f[1], "!") {
			u.Locked = true
		}
	}
	return u, nil
}

func (execUsers) Group(name string) (sysGroup, error) {
	out, err := runTool("getent", "group", name)
	if err != nil {
		return sysGroup{}, err
	}
	f := strings.Split(strings.TrimSpace(out), ":")
	if len(f) < 4 {
		return sysGroup{}, fmt.Errorf("getent group %s: unexpected %q", name, out)
	}
	g := sysGroup{}
	g.GID, _ = strconv.Atoi(f[2])
	if f[3] != "" {
		g.Members = strings.Split(f[3], ",")
	}
	return g, nil
}

func (execUsers) AddGroup(name string) error {
	_, err := runTool("groupadd", "--system", name)
	return err
}

func (execUsers) AddUser(name, group, home string) error {
	_, err := runTool("useradd", "--system", "--gid", group, "--home-dir", home, "--create-home",
		"--shell", "/bin/sh", "--password", "*", name)
	return err
}

func (execUsers) ModUser(name string, m userMod) error {
	var args []string
	if m.Unlock {
		args = append(args, "--password", "*")
	}
	if m.Shell != "" {
		args = append(args, "--shell", m.Shell)
	}
	if m.Group != "" {
		args = append(args, "--append", "--groups", m.Group)
	}
	if len(args) == 0 {
		return nil
	}
	_, err := runTool("usermod", append(args, name)...)
	return err
}
