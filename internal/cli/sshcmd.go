package cli

import (
	"context"
	"errors"

	"github.com/berthpaas/berth/internal/api"
)

func init() {
	Register(&Command{Name: "ssh-command", Args: "--socket PATH --key NAME", Short: "OpenSSH's forced command for a Berth key (written into authorized_keys)", Local: true, LocalOnly: true, Hidden: true, Values: []string{"socket", "key"}, Run: sshCommand})
}

// sshCommand runs as the berth (or dokku) system user when OpenSSH accepts
// a Berth key: it passes $SSH_ORIGINAL_COMMAND and the session's streams to
// the daemon, which checks the key's access and runs it.
func sshCommand(c *Ctx) error {
	socket, key := c.Flag("socket", ""), c.Flag("key", "")
	if socket == "" || key == "" {
		return Failf("ssh-command is run by OpenSSH for a Berth key; it is not a command to run by hand")
	}
	user := c.Getenv("USER")
	if user == "" {
		user = c.Getenv("LOGNAME")
	}
	req := api.SSHSession{Key: key, User: user, Command: c.Getenv("SSH_ORIGINAL_COMMAND")}
	s := &api.Session{Stdin: c.Stdin, Stdout: c.Stdout, Stderr: c.Stderr}
	if c.Terminal != nil {
		// OpenSSH gave us a pty: pass bytes through untouched, as the
		// client's terminal already does the line editing.
		req.TTY = true
		req.Height, req.Width, _ = c.Terminal.Size()
		if restore, err := c.Terminal.MakeRaw(); err == nil {
			defer restore()
		}
		ctx, cancel := context.WithCancel(c)
		defer cancel()
		s.Resize = c.Terminal.Resizes(ctx)
	}
	res, err := api.SSHCommand.Run(c, api.NewClient(socket), req, s)
	if err != nil {
		return remoteError(err, user, socket)
	}
	if res.Code != 0 {
		return exit(res.Code, "")
	}
	return nil
}

// remoteError turns a failure to reach the daemon from a forced command
// into what the person at the other end of ssh can act on: the daemon's
// own advice (run as root, start berth serve) is for the server's admin.
func remoteError(err error, user, socket string) error {
	var ae *api.Error
	switch {
	case errors.Is(err, api.ErrDaemonNotRunning):
		return Failf("Berth is not running on this server (nothing answers on %s); ask the server's admin to start it and run `berth ssh-keys:report`", socket)
	case errors.As(err, &ae) && ae.Code == api.CodeForbidden:
		return Failf("Berth's daemon is not reachable from ssh: user %s may not use %s; ask the server's admin to run `berth ssh-keys:report`", user, socket)
	case errors.As(err, &ae):
		return err // the daemon's own answer
	}
	return Failf("Berth's daemon did not take the command (%v); ask the server's admin to run `berth ssh-keys:report`", err)
}
