package daemon

import (
	"context"
	"io"
	"log/slog"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/deploy"
	"github.com/berthpaas/berth/internal/gitserver"
	"github.com/berthpaas/berth/internal/settings"
	"github.com/berthpaas/berth/internal/store"
)

// newGitServer builds git push, keys and the ssh front doors (package
// gitserver) on the daemon's store, apps, deployer and previews; remote commands run
// through run (the CLI's command table).
func newGitServer(st *store.Store, s settings.Settings, svc *Service, d *deploy.Deployer, previews gitserver.Previews, run api.CommandRunner, log *slog.Logger) *gitserver.Server {
	return gitserver.New(gitserver.Config{
		Store:      st,
		Apps:       gitApps{svc},
		Deployer:   gitDeployer{d},
		Previews:   previews,
		RunCommand: run,
		Settings:   s,
		BerthBin:   svc.berthBin,
		Log:        log,
		Now:        svc.now,
	})
}

// repoDir is the bare repository of an app (apps:create, :rename and
// :destroy keep it with the app).
func (s *Service) repoDir(appName string) string { return gitserver.RepoDir(s.dataDir, appName) }

// gitApps is the app table as a push needs it (autocreation).
type gitApps struct{ s *Service }

func (a gitApps) AppInfo(ctx context.Context, name string) error {
	_, err := a.s.appsInfo(ctx, api.AppRef{App: name}, api.Output{})
	return err
}

func (a gitApps) CreateApp(ctx context.Context, name string) error {
	_, err := a.s.appsCreate(ctx, api.AppRef{App: name}, api.Output{})
	return err
}

// gitDeployer deploys pushed trees with the deploy pipeline.
type gitDeployer struct{ d *deploy.Deployer }

func (g gitDeployer) DeployPush(ctx context.Context, p gitserver.Push, out io.Writer) (int, error) {
	rel, err := g.d.Deploy(ctx, p.App, deploy.Source{Kind: deploy.SourceGit, Archive: p.Tree, Ref: p.Branch, GitRev: p.Rev, Apps: p.Apps}, out, p.Holder)
	return rel.Number, err
}
