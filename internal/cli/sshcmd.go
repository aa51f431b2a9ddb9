package cli

import (
	"context"

	"github.com/berthpaas/berth/internal/api"
)

func init() {
	register(&Command{Name: "ssh-command", Args: "--socket PATH --key NAME", Short: "OpenSSH's forced command for a Berth key (written into authorized_keys)", Local: true, LocalOnly: true, Hidden: true, Values: []string{"socket", "key"}, Run: sshCommand})
}

// sshCommand runs as the berth (or dokku) system user when OpenSSH accepts
// a Berth key: it passes $SSH_ORIGINAL_COMMAND and the session's streams to
// the daemon, which checks the key's access and runs it.
func sshCommand(c *Ctx) error {
	socket, key := c.Flag("socket", ""), c.Flag("key", "")
	if socket == "" || key == "" {
		return failf("ssh-command is run by OpenSSH for a Berth key; it is not a command to run by hand")
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
		return err
	}
	if res.Code != 0 {
		return exit(res.Code, "")
	}
	return nil
}
