package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/deploy"
	"github.com/berthpaas/berth/internal/store"
)

// appScopedOps are the operations a key limited to some apps may call, on
// those apps only. Everything else (creating, destroying, renaming apps,
// keys, global settings, cleanup) needs an admin key.
var appScopedOps = map[string]bool{
	"apps.info": true, "apps.lock": true, "apps.unlock": true,
	"config.get": true, "config.update": true,
	"properties.set": true, "properties.report": true,
	"git.from-archive": true, "git.from-image": true,
	"ps.rebuild": true, "ps.scale": true, "ps.start": true, "ps.stop": true, "ps.restart": true,
	"ps.restore": true, "ps.report": true, "ps.inspect": true,
	"run": true, "run.detached": true, "run.list": true, "run.stop": true, "enter": true,
	"logs": true, "releases.list": true, "releases.info": true, "releases.rollback": true,
	"checks.run": true, "checks.set-mode": true,
	"certs.add": true, "certs.generate": true, "certs.remove": true, "certs.info": true,
	"letsencrypt.enable": true, "letsencrypt.disable": true, "letsencrypt.auto-renew": true, "letsencrypt.revoke": true,
	"redirects.set": true, "redirects.unset": true, "redirects.list": true,
	"domains.update": true, "domains.report": true, "domains.urls": true, "ports.update": true, "ports.report": true,
}

// openOps may be called by any key.
var openOps = map[string]bool{"system.version": true, "apps.list": true, "docker-options.check": true}

// keyCaller calls the daemon's operations as an ssh key's holder: every call
// goes through the key's access check. It serves the command table for
// remote commands in both ssh modes.
type keyCaller struct {
	mux *api.Mux
	key store.Key
}

var (
	_ api.Caller    = keyCaller{}
	_ api.Sessioner = keyCaller{}
)

func (k keyCaller) denied(what string) error {
	return api.Errorf(api.CodeForbidden, "Permission denied: key %s may only use the commands of apps %s, not %s", k.key.Name, strings.Join(k.key.Apps, ", "), what)
}

// allow checks one call against the key's access.
func (k keyCaller) allow(op string, req any) error {
	if k.key.Admin || openOps[op] {
		return nil
	}
	if !appScopedOps[op] {
		return k.denied(op)
	}
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	var f struct {
		App    string `json:"app"`
		Global bool   `json:"global"`
		All    bool   `json:"all"`
	}
	json.Unmarshal(b, &f)
	switch {
	case f.Global:
		return k.denied("--global")
	case f.All:
		return k.denied("--all")
	case f.App == "":
		return k.denied(op + " without an app")
	case !k.key.MayTouch(f.App):
		return k.denied("app " + f.App)
	}
	return nil
}

func (k keyCaller) Call(ctx context.Context, op string, req, resp any, out api.Output) error {
	if err := k.allow(op, req); err != nil {
		return err
	}
	if op == api.AppsList.Name && !k.key.Admin {
		var list api.AppList
		if err := k.mux.Call(ctx, op, req, &list, out); err != nil {
			return err
		}
		list.Apps = slices.DeleteFunc(list.Apps, func(a api.AppInfo) bool { return !k.key.MayTouch(a.Name) })
		b, _ := json.Marshal(list)
		return json.Unmarshal(b, resp)
	}
	return k.mux.Call(ctx, op, req, resp, out)
}

func (k keyCaller) Session(ctx context.Context, op string, req, resp any, s *api.Session) error {
	if err := k.allow(op, req); err != nil {
		return err
	}
	return k.mux.Session(ctx, op, req, resp, s)
}

// RemotePTY is the terminal of a remote session (ssh -t).
type RemotePTY struct {
	Height, Width uint
	Resize        <-chan [2]uint
}

// RemoteEnv is what a remote command runs with.
type RemoteEnv struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Prog           string // "berth" or "dokku", after the ssh user
	Caller         api.Caller
	PTY            *RemotePTY // nil without ssh -t
}

// CommandRunner runs one command line of the command table and returns its
// exit status. The CLI provides it (the daemon does not import the CLI).
type CommandRunner func(ctx context.Context, args []string, env RemoteEnv) int

// RunRemote runs a command that arrived over ssh (built-in server or
// OpenSSH forced command) for the holder of keyName and returns its exit
// status: git transfers for git-receive-pack/git-upload-pack, anything else
// through the command table.
func (s *Service) RunRemote(ctx context.Context, keyName, user, command string, sess *api.Session, pty *RemotePTY) int {
	var key store.Key
	err := s.store.Tx(ctx, func(tx *store.Tx) (err error) { key, err = tx.KeyByName(keyName); return err })
	if err != nil {
		fmt.Fprintf(sess.Stderr, " !     Unknown key %s\n", keyName)
		return 1
	}
	words, err := deploy.SplitWords(command)
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
	if s.runCommand == nil {
		fmt.Fprintln(sess.Stderr, " !     remote commands are not available")
		return 1
	}
	return s.runCommand(ctx, words, RemoteEnv{Stdin: stdin, Stdout: sess.Stdout, Stderr: sess.Stderr, Prog: prog, Caller: keyCaller{mux: s.mux, key: key}, PTY: pty})
}
