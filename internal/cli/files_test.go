package cli_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/cli"
	"github.com/berthpaas/berth/internal/cli/clitest"
	_ "github.com/berthpaas/berth/internal/cli/routingcmd"
)

// TestRemoteCommandsReadNoServerFiles: a command line that arrived over ssh
// runs in the daemon as root, so a FILE argument would be the server's
// file: config:import, certs:add/update and ssh-keys:add refuse it (the
// file comes on stdin instead), print nothing of it and call nothing.
func TestRemoteCommandsReadNoServerFiles(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "shadow")
	if err := os.WriteFile(secret, []byte("root:$6$hash-of-the-server\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"config:import", "shop", secret},
		{"config:import", "--format", "json", "shop", secret},
		{"certs:add", "shop", secret, secret},
		{"certs:update", "shop", secret, secret},
		{"ssh-keys:add", "me", secret},
	} {
		fake := clitest.NewFake(nil)
		var stdout, stderr bytes.Buffer
		code := cli.RunRemote(context.Background(), args, api.RemoteEnv{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Prog: "berth", Caller: fake})
		out := stdout.String() + stderr.String()
		if code != 1 || strings.Contains(out, "hash-of-the-server") || len(fake.Ops()) != 0 {
			t.Errorf("remote %v: exit %d, ops %v, output %q", args, code, fake.Ops(), out)
		}
		clitest.CheckErrLine(t, stderr.String(), "would be a file of the server")
	}
}
