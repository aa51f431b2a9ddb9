package gitserver

import (
	"bytes"
	"context"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/store"
)

func (s *Server) addKey(t *testing.T, k store.Key) {
	t.Helper()
	k.Fingerprint, k.PublicKey, k.CreatedAt = "SHA256:"+k.Name, "ssh-ed25519 AAAA"+k.Name, testNow
	if err := s.store.Tx(context.Background(), func(tx *store.Tx) error { _, err := tx.AddKey(k); return err }); err != nil {
		t.Fatal(err)
	}
}

// remoteRun is what the command runner was called with.
type remoteRun struct {
	args []string
	env  api.RemoteEnv
}

// TestRunRemoteArguments: how a command line that arrived over ssh is
// read, refused or handed to the command table.
func TestRunRemoteArguments(t *testing.T) {
	s, _ := testServer(t)
	s.Register(api.NewMux(nil, nil))
	s.addKey(t, shopKey)
	var runs []remoteRun
	s.run = func(_ context.Context, args []string, env api.RemoteEnv) int {
		runs = append(runs, remoteRun{args, env})
		return 7
	}
	run := func(key, user, command string, pty *api.RemotePTY) (int, string) {
		var stderr bytes.Buffer
		code := s.RunRemote(context.Background(), key, user, command, &api.Session{Stdout: io.Discard, Stderr: &stderr}, pty)
		return code, stderr.String()
	}
	for _, tc := range []struct{ key, command, want string }{
		{"nobody", "apps:list", " !     Unknown key nobody\n"},
		{"ci", "config:set shop 'A=b", " !     Cannot read the command: unterminated single quote"},
		{"ci", "", " !     Berth does not give shells; run a command: ssh dokku@HOST help\n"},
		{"ci", "  \t ", "Berth does not give shells"},
		{"ci", "git-upload-pack 'other'", "Permission denied: key ci may not use app other"},
		{"ci", "git-upload-archive", "Usage: git-upload-archive 'APP'"},
	} {
		code, stderr := run(tc.key, "dokku", tc.command, nil)
		if code != 1 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: %d %q, want 1 and %q", tc.command, code, stderr, tc.want)
		}
	}
	if len(runs) != 0 {
		t.Fatalf("refused commands reached the command table: %v", runs)
	}

	// Anything else goes to the command table, split with shell quoting,
	// as the key's holder, under the name of the ssh user.
	pty := &api.RemotePTY{Height: 24, Width: 80}
	if code, _ := run("ci", "dokku", `config:set shop "A=hello world" B=\'`, pty); code != 7 {
		t.Errorf("exit status %d, want the command's 7", code)
	}
	if code, _ := run("ci", "dokku", "apps:list", nil); code != 7 {
		t.Errorf("exit status %d", code)
	}
	r := runs[0]
	if !slices.Equal(r.args, []string{"config:set", "shop", "A=hello world", "B='"}) || r.env.Prog != "dokku" || r.env.PTY != pty {
		t.Errorf("run %q prog %s pty %v", r.args, r.env.Prog, r.env.PTY)
	}
	if kc, ok := r.env.Caller.(keyCaller); !ok || kc.key.Name != "ci" || kc.key.Admin {
		t.Errorf("caller %#v", r.env.Caller)
	}
	if b, err := io.ReadAll(r.env.Stdin); err != nil || len(b) != 0 {
		t.Errorf("a session without stdin reads %q %v", b, err)
	}
	for _, user := range []string{"berth", "git", "root"} {
		run("ci", user, "version", nil)
		if p := runs[len(runs)-1].env.Prog; p != "berth" {
			t.Errorf("user %s: prog %s", user, p)
		}
	}

	// Without a command table only git transfers work.
	s.run = nil
	if code, stderr := run("ci", "berth", "apps:list", nil); code != 1 || stderr != " !     remote commands are not available\n" {
		t.Errorf("without a runner: %d %q", code, stderr)
	}
}
