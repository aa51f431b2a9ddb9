// Package gitserver is git push: the ssh front doors' common RunRemote,
// receive-pack and upload-pack on the apps' repositories, the push plan
// (deploy-branch rules) and the deploy of a pushed tree, ssh keys and what
// each may touch, and OpenSSH mode (system users, authorized_keys). The
// pre-receive hook that git runs is package gitserver/hook; the ssh
// transport is package sshserver.
package gitserver

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/settings"
	"github.com/berthpaas/berth/internal/store"
)

// Push is a pushed revision of the deploy branch, to deploy.
type Push struct {
	App    string
	Branch string    // the deploy branch, without refs/heads/
	Rev    string    // the pushed commit
	Tree   io.Reader // a tar of the tree at Rev
	Holder string    // who holds the app's deploy lock ("a git push by key K")
	// Apps, when not nil, are the only apps the pushing key may touch (a
	// scoped key): the deploy refuses to build from another app's images.
	Apps []string
}

// Deployer deploys a pushed tree and returns the release it made (0 when
// it made none). Its error is the one line the pusher sees last.
type Deployer interface {
	DeployPush(ctx context.Context, p Push, out io.Writer) (release int, err error)
}

// Apps is the app table as a push needs it: whether an app exists, and
// creating it when a push names a new one.
type Apps interface {
	// AppInfo fails with an error matching api.ErrAppNotFound when the
	// app does not exist.
	AppInfo(ctx context.Context, name string) error
	// CreateApp creates an app (an error matching api.ErrConflict when it
	// exists).
	CreateApp(ctx context.Context, name string) error
}

// Config is what a Server is built with.
type Config struct {
	Store    *store.Store
	Apps     Apps
	Deployer Deployer
	// RunCommand runs remote commands through the command table (the CLI
	// provides it); nil: only git transfers work over ssh.
	RunCommand api.CommandRunner
	// Settings give the data dir, the control and gateway sockets and
	// OpenSSH mode (BERTH_OPENSSH*, BERTH_SSH_GROUP, BERTH_AUTHORIZED_KEYS).
	Settings settings.Settings
	// BerthBin is this binary: git hooks and forced commands run it.
	BerthBin string
	// Previews says which apps make preview apps of other branches
	// (package preview); nil: none does.
	Previews Previews
	Log      *slog.Logger
	Now      func() time.Time // nil: time.Now
}

// Previews is what a push plan asks of preview apps: whether a push of a
// branch other than the deploy branch (or its deletion) goes to a preview.
type Previews interface {
	Enabled(ctx context.Context, app string) (bool, error)
}

// Server serves git push and remote commands, and keeps the ssh keys.
type Server struct {
	store    *store.Store
	apps     Apps
	deployer Deployer
	previews Previews
	run      api.CommandRunner
	dataDir  string
	berthBin string
	// socket is the control socket (git hooks call back through it);
	// sshSocket the gateway socket of OpenSSH's forced commands.
	socket, sshSocket string
	log               *slog.Logger
	now               func() time.Time
	// openssh keeps OpenSSH mode: users, authorized_keys, socket group.
	openssh *openSSH
	// ops is the operations table, called as a key's holder for remote
	// commands (set by Register).
	ops *api.Mux
	// sshAddr is where the built-in ssh server listens ("" when off).
	sshAddr string
	// settings are reloaded when the config file changes (reload.go).
	settings settings.Settings
	reload   reloadState
	// repoMu serialises creating repositories and writing their hooks:
	// concurrent pushes to one app would otherwise race on both.
	repoMu sync.Mutex
}

// New returns a Server built from c.
func New(c Config) *Server {
	s := &Server{
		store: c.Store, apps: c.Apps, deployer: c.Deployer, previews: c.Previews, run: c.RunCommand,
		dataDir: c.Settings.DataDir, berthBin: c.BerthBin, socket: c.Settings.Socket, sshSocket: c.Settings.SSHSocket,
		log: c.Log, now: c.Now,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.openssh = newOpenSSH(c.Settings, c.BerthBin, s.log)
	s.settings = c.Settings
	s.reload.stamp = fileStamp(c.Settings.ConfigFile)
	return s
}

// Register adds the key and push operations to m, and keeps m as the
// table remote commands call.
func (s *Server) Register(m *api.Mux) {
	s.ops = m
	api.Handle(m, api.KeysAdd, s.keysAdd)
	api.Handle(m, api.KeysList, s.keysList)
	api.Handle(m, api.KeysRemove, s.keysRemove)
	api.Handle(m, api.KeysAccess, s.keysAccess)
	api.Handle(m, api.KeysReport, s.keysReport)
	api.Handle(m, api.GitPushPlan, s.pushPlan)
	api.HandleSession(m, api.GitPushDeploy, s.pushDeploy)
}

// SSHAddr is where the built-in ssh server listens ("" when off).
func (s *Server) SSHAddr() string { return s.sshAddr }

// RepoDir is the bare repository of an app under dataDir.
func RepoDir(dataDir, appName string) string {
	return filepath.Join(dataDir, "repos", appName+".git")
}

// repoDir is the bare repository of an app.
func (s *Server) repoDir(appName string) string { return RepoDir(s.dataDir, appName) }

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
