package cli

import (
	"errors"
	"os"
	"os/exec"
	"strings"

	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/settings"
)

// remoteTarget is a Berth server reached over ssh, from a git remote.
type remoteTarget struct {
	user, host, port, app string
}

// parseRemoteURL reads "ssh://user@host:port/app" and "user@host:app".
func parseRemoteURL(u string) (remoteTarget, bool) {
	var t remoteTarget
	if rest, ok := strings.CutPrefix(u, "ssh://"); ok {
		hostPart, path, ok := strings.Cut(rest, "/")
		if !ok {
			return t, false
		}
		t.app = strings.TrimSuffix(path, "/")
		if at := strings.LastIndex(hostPart, "@"); at >= 0 {
			t.user, hostPart = hostPart[:at], hostPart[at+1:]
		}
		t.host = hostPart
		if h, p, ok := strings.Cut(hostPart, ":"); ok && !strings.Contains(p, ":") {
			t.host, t.port = h, p
		}
	} else {
		at := strings.Index(u, "@")
		colon := strings.Index(u, ":")
		if at < 0 || colon < at || strings.Contains(u, "://") {
			return t, false
		}
		t.user, t.host, t.app = u[:at], u[at+1:colon], u[colon+1:]
	}
	t.app = strings.TrimPrefix(t.app, "/")
	if t.host == "" || app.ValidateName(t.app) != nil {
		return t, false
	}
	return t, true
}

// laptopTarget finds the server to talk to when there is no local daemon:
// the git remote named by --remote, else "berth", else "dokku".
func laptopTarget(c *Ctx) (remoteTarget, bool) {
	names := []string{"berth", "dokku"}
	if r := c.Flag("remote", ""); r != "" {
		names = []string{r}
	} else {
		s, err := settings.Load(c.Getenv, nil)
		if err != nil {
			return remoteTarget{}, false
		}
		if _, err := os.Stat(s.Socket); !errors.Is(err, os.ErrNotExist) {
			return remoteTarget{}, false // a daemon lives here
		}
	}
	for _, n := range names {
		out, err := exec.Command("git", "remote", "get-url", n).Output()
		if err != nil {
			continue
		}
		if t, ok := parseRemoteURL(strings.TrimSpace(string(out))); ok {
			return t, true
		}
	}
	return remoteTarget{}, false
}

// namesApps are the commands whose first argument names an app other than
// the remote's: the client never adds --app to them.
var namesApps = map[string]bool{"apps:create": true, "apps:destroy": true, "apps:exists": true, "apps:rename": true, "apps:clone": true}

// viaSSH runs the command on the remote server over ssh, adding the
// remote's app when the command takes one and none was given.
func (c *Ctx) viaSSH(t remoteTarget, globals, args []string) error {
	words := append([]string{}, args...)
	if c.Cmd.App != NoApp && c.Flag("app", "") == "" && !c.Bool("global") && c.App != t.app && !namesApps[c.Cmd.Name] {
		words = append(words[:1], append([]string{"--app", t.app}, words[1:]...)...)
	}
	words = append(append([]string{}, globals...), words...)
	quoted := make([]string, len(words))
	for i, w := range words {
		quoted[i] = app.ShellQuote(w)
	}
	sshCmd := strings.Fields(c.Getenv("GIT_SSH_COMMAND"))
	if len(sshCmd) == 0 {
		sshCmd = []string{"ssh"}
	}
	if c.Terminal != nil && (c.Cmd.Passthrough || c.Cmd.Name == "enter" || strings.HasSuffix(c.Cmd.Name, ":connect")) {
		sshCmd = append(sshCmd, "-t")
	}
	if t.port != "" {
		sshCmd = append(sshCmd, "-p", t.port)
	}
	dest := t.host
	if t.user != "" {
		dest = t.user + "@" + t.host
	}
	sshCmd = append(sshCmd, "--", dest, strings.Join(quoted, " "))
	cmd := exec.CommandContext(c, sshCmd[0], sshCmd[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = c.Stdin, c.Stdout, c.Stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return exit(ee.ExitCode(), "")
	}
	if err != nil {
		return Failf("Cannot run ssh to reach %s: %v", dest, err)
	}
	return nil
}
