package cluster

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/berthpaas/berth/internal/app"
	"golang.org/x/crypto/ssh"
)

// Target is a node as cluster-add names it: ssh://USER@HOST[:PORT].
type Target struct {
	User string
	Host string
	Port int
}

// String is the target's ssh:// URL.
func (t Target) String() string {
	return "ssh://" + t.User + "@" + net.JoinHostPort(t.Host, strconv.Itoa(t.Port))
}

// ParseTarget parses ssh://[USER@]HOST[:PORT] (user root, port 22 by
// default).
func ParseTarget(s string) (Target, error) {
	bad := func(why string) error {
		return app.Invalidf("Invalid node %q: %s; use ssh://root@HOST[:PORT]", s, why)
	}
	if s == "" {
		return Target{}, app.Invalidf("No node specified: use ssh://root@HOST[:PORT]")
	}
	if !strings.HasPrefix(s, "ssh://") {
		return Target{}, bad("not an ssh:// URL")
	}
	u, err := url.Parse(s)
	if err != nil {
		return Target{}, bad("not a URL")
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.Fragment != "" {
		return Target{}, bad("it has a path or query")
	}
	if _, set := u.User.Password(); set {
		return Target{}, bad("passwords are not used (Berth logs in with its key)")
	}
	t := Target{User: u.User.Username(), Host: u.Hostname(), Port: 22}
	if t.User == "" {
		t.User = "root"
	}
	if t.Host == "" {
		return Target{}, bad("no host")
	}
	if strings.ContainsAny(t.User+t.Host, " '\"`$;&|\\") || strings.HasPrefix(t.User, "-") || strings.HasPrefix(t.Host, "-") {
		return Target{}, bad("the user or host has characters ssh does not take")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return Target{}, bad("the port is not 1 to 65535")
		}
		t.Port = n
	}
	return t, nil
}

// SSH runs commands on nodes. The real one is OpenSSH's client
// ([OpenSSH]); unit tests use a fake.
type SSH interface {
	// Run runs command (a line for the login shell of t.User) on t with
	// stdin, and returns its standard output. A failure to connect or log
	// in is an *SSHError; a command that ran and failed is a
	// *RemoteError.
	Run(ctx context.Context, t Target, command string, stdin io.Reader) (string, error)
	// PublicKey is the key nodes must authorise (an authorized_keys
	// line), created when missing.
	PublicKey() (string, error)
}

// SSHError is a failure to reach or log in to a node.
type SSHError struct {
	Target  Target
	Auth    bool   // the node refused the key
	HostKey bool   // the node's host key is not the one remembered
	Detail  string // ssh's last line
}

func (e *SSHError) Error() string {
	if e.HostKey {
		return fmt.Sprintf("the host key of %s is not the one Berth remembered: %s", e.Target.Host, e.Detail)
	}
	if e.Auth {
		return fmt.Sprintf("ssh %s@%s refused Berth's key: %s", e.Target.User, e.Target.Host, e.Detail)
	}
	return fmt.Sprintf("cannot reach %s over ssh (port %d): %s", e.Target.Host, e.Target.Port, e.Detail)
}

// RemoteError is a command that ran on the node and failed.
type RemoteError struct {
	Code   int
	Stderr string
}

func (e *RemoteError) Error() string {
	return fmt.Sprintf("exit status %d: %s", e.Code, lastLine(e.Stderr))
}

// OpenSSH is [SSH] over the ssh binary: batch mode (never a prompt), the
// daemon's own key (KeyFile, made when missing), the nodes' host keys
// remembered on first use in KnownHosts, and no user ssh config.
type OpenSSH struct {
	KeyFile    string // DATA/cluster/id_ed25519
	KnownHosts string // DATA/cluster/known_hosts
	Binary     string // "ssh" when empty

	mu sync.Mutex
}

// ConnectTimeout bounds ssh's TCP connection and login.
const ConnectTimeout = 10

// Run implements SSH.
func (o *OpenSSH) Run(ctx context.Context, t Target, command string, stdin io.Reader) (string, error) {
	if _, err := o.PublicKey(); err != nil {
		return "", err
	}
	bin, args := o.command(t, command, "auto")
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin = stdin
	// ssh gone, stdin's copy does not hold Wait for long.
	cmd.WaitDelay = 5 * time.Second
	// Files, not pipes: the connection's master process (ControlPersist)
	// outlives this ssh and keeps its output descriptors open, and Wait
	// would wait for it on a pipe.
	outF, err := os.CreateTemp("", "berth-ssh-out-")
	if err != nil {
		return "", err
	}
	defer os.Remove(outF.Name())
	defer outF.Close()
	errF, err := os.CreateTemp("", "berth-ssh-err-")
	if err != nil {
		return "", err
	}
	defer os.Remove(errF.Name())
	defer errF.Close()
	cmd.Stdout, cmd.Stderr = outF, errF
	err = cmd.Run()
	var out, errb bytes.Buffer
	readBack(&out, outF)
	readBack(&errb, errF)
	if err == nil {
		return out.String(), nil
	}
	if ctx.Err() != nil {
		return out.String(), fmt.Errorf("ssh %s: %w", t.Host, ctx.Err())
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return "", fmt.Errorf("run ssh: %v", err)
	}
	if ee.ExitCode() == 255 {
		detail := lastLine(errb.String())
		if detail == "" {
			detail = "ssh failed"
		}
		return out.String(), &SSHError{Target: t, Detail: detail,
			Auth:    strings.Contains(errb.String(), "Permission denied"),
			HostKey: strings.Contains(errb.String(), "Host key verification failed") || strings.Contains(errb.String(), "REMOTE HOST IDENTIFICATION HAS CHANGED")}
	}
	return out.String(), &RemoteError{Code: ee.ExitCode(), Stderr: errb.String()}
}

// command is the ssh binary and its arguments to run command on t;
// master is the ControlMaster setting ("auto": open a shared
// connection when none is; "no": use one only if open).
func (o *OpenSSH) command(t Target, command, master string) (string, []string) {
	bin := o.Binary
	if bin == "" {
		bin = "ssh"
	}
	args := []string{
		"-F", "/dev/null",
		"-o", "BatchMode=yes",
		"-o", "IdentitiesOnly=yes",
		"-o", "IdentityFile=" + o.KeyFile,
		"-o", "StrictHostKeyChecking=accept-new",
		"-o", "UserKnownHostsFile=" + o.KnownHosts,
		"-o", "ConnectTimeout=" + strconv.Itoa(ConnectTimeout),
		"-o", "ServerAliveInterval=5",
		"-o", "ServerAliveCountMax=3",
		"-o", "LogLevel=ERROR",
		"-p", strconv.Itoa(t.Port),
		"-l", t.User,
		"--", t.Host, command,
	}
	if cp := o.controlPath(); cp != "" {
		// One connection per node for the steps of a command: each new
		// ssh login costs 0.3 to 4 s on a busy machine, a session on an
		// open connection milliseconds.
		args = append([]string{"-o", "ControlMaster=" + master, "-o", "ControlPath=" + cp, "-o", "ControlPersist=" + strconv.Itoa(controlPersist)}, args...)
	}
	return bin, args
}

// Command is an ssh session running command on t for the caller to wire
// to its own streams (enter into a task on a node); tty asks the node for
// a terminal. It shares an open connection to the node but never opens
// one that outlives it (its output would be held open).
func (o *OpenSSH) Command(ctx context.Context, t Target, command string, tty bool) (*exec.Cmd, error) {
	if _, err := o.PublicKey(); err != nil {
		return nil, err
	}
	bin, args := o.command(t, command, "no")
	if tty {
		args = append([]string{"-tt"}, args...)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.WaitDelay = 5 * time.Second
	return cmd, nil
}

// controlPersist is how long (seconds) a node's connection stays open
// after its last use.
const controlPersist = 15

// controlPath is where the connections' sockets go, beside the key: ""
// (no sharing) when the path would not fit a unix socket's 108 bytes.
func (o *OpenSSH) controlPath() string {
	p := filepath.Join(filepath.Dir(o.KeyFile), "cm-%C")
	if len(p)-2+40 > 100 { // %C is 40 hex digits
		return ""
	}
	return p
}

// readBack reads what a command wrote to f.
func readBack(b *bytes.Buffer, f *os.File) {
	if _, err := f.Seek(0, io.SeekStart); err == nil {
		_, _ = b.ReadFrom(f)
	}
}

// PublicKey implements SSH: the key pair is made on first use.
func (o *OpenSSH) PublicKey() (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if b, err := os.ReadFile(o.KeyFile + ".pub"); err == nil {
		if _, err := os.Stat(o.KeyFile); err == nil {
			return strings.TrimSpace(string(b)), nil
		}
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	block, err := ssh.MarshalPrivateKey(priv, "berth-cluster")
	if err != nil {
		return "", err
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		return "", err
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp))) + " berth-cluster"
	if err := os.MkdirAll(filepath.Dir(o.KeyFile), 0o700); err != nil {
		return "", err
	}
	if err := writeAtomic(o.KeyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		return "", err
	}
	if err := writeAtomic(o.KeyFile+".pub", []byte(line+"\n"), 0o644); err != nil {
		return "", err
	}
	return line, nil
}

// writeAtomic writes b to path through a temporary file and a rename.
func writeAtomic(path string, b []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, mode); err != nil {
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// lastLine is the last non-empty line of s, trimmed.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			return l
		}
	}
	return ""
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
