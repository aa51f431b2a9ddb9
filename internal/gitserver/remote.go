package gitserver

import (
	"context"
	"fmt"
	"strings"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/store"
)

// RunRemote runs a command that arrived over ssh (built-in server or
// OpenSSH forced command) for the holder of keyName and returns its exit
// status: git transfers for git-receive-pack/git-upload-pack, anything else
// through the command table.
func (s *Server) RunRemote(ctx context.Context, keyName, user, command string, sess *api.Session, pty *api.RemotePTY) int {
	var key store.Key
	err := s.store.Tx(ctx, func(tx *store.Tx) (err error) { key, err = tx.KeyByName(keyName); return err })
	if err != nil {
		fmt.Fprintf(sess.Stderr, " !     Unknown key %s\n", keyName)
		return 1
	}
	words, err := app.SplitWords(command)
	if err != nil {
		fmt.Fprintf(sess.Stderr, " !     Cannot read the command: %v\n", err)
		return 1
	}
	if len(words) == 0 {
		fmt.Fprintf(sess.Stderr, " !     Berth does not give shells; run a command: ssh %s@HOST help\n", user)
		return 1
	}
	s.log.Info("remote command", "key", key.Name, "user", user, "command", words[0])
	switch words[0] {
	case "git-receive-pack", "git-upload-pack", "git-upload-archive":
		return s.gitTransfer(ctx, key, words, sess)
	}
	prog := "berth"
	if user == "dokku" {
		prog = "dokku"
	}
	stdin := sess.Stdin
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	if s.run == nil {
		fmt.Fprintln(sess.Stderr, " !     remote commands are not available")
		return 1
	}
	return s.run(ctx, words, api.RemoteEnv{Stdin: stdin, Stdout: sess.Stdout, Stderr: sess.Stderr, Prog: prog, Caller: keyCaller{ops: s.ops, key: key}, PTY: pty})
}
