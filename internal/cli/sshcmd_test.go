package cli

import (
	"errors"
	"strings"
	"testing"

	"github.com/berthpaas/berth/internal/api"
)

// TestRemoteError: a forced command that cannot reach the daemon tells the
// person at the other end of ssh what to ask for, not to run as root.
func TestRemoteError(t *testing.T) {
	socket := "/var/lib/berth/berth-ssh.sock"
	for _, c := range []struct {
		err  error
		want string
	}{
		{&api.NotRunningError{Socket: socket}, "Berth is not running on this server"},
		{api.Errorf(api.CodeForbidden, "Permission denied on the control socket %s: it is root-only; run this command as root (sudo berth ...)", socket), "user dokku may not use " + socket},
		{errors.New("EOF"), "did not take the command (EOF)"},
	} {
		msg := remoteError(c.err, "dokku", socket).Error()
		if !strings.Contains(msg, c.want) || !strings.Contains(msg, "ask the server's admin to") || strings.Contains(msg, "sudo") {
			t.Errorf("remoteError(%v) = %q, want %q", c.err, msg, c.want)
		}
	}
	ae := api.Errorf(api.CodeInvalid, "malformed request")
	if err := remoteError(ae, "dokku", socket); err != ae {
		t.Errorf("the daemon's own answer was replaced: %v", err)
	}
}
