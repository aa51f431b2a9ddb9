package daemon

import (
	"context"
	"io"

	"github.com/berthpaas/berth/internal/deploy"
)

// gitRebuilder is the apps' repositories as ps:rebuild needs them
// (gitserver.Server).
type gitRebuilder interface {
	// RebuildRev is the tip of the deploy branch of an app last deployed by
	// git push (ok false for other apps); an error when it has no commits.
	RebuildRev(ctx context.Context, app string) (branch, rev string, ok bool, err error)
	// DeployRev deploys a commit of the app's repository as a push would.
	DeployRev(ctx context.Context, app, branch, rev, holder string, out io.Writer) (int, error)
}

// rebuild is ps:rebuild of one app. An app deployed by git push builds the
// tip of its deploy branch, as Dokku's does: the live release's kept source
// when that is the commit it runs, else the branch's commit from the
// repository (the deploy branch was changed since). Other apps rebuild the
// live release's source (an archive) or image.
func (s *Service) rebuild(ctx context.Context, app string, out io.Writer) error {
	if s.gitBuilds != nil {
		branch, rev, ok, err := s.gitBuilds.RebuildRev(ctx, app)
		if err != nil {
			return err
		}
		if ok {
			src, deployed, err := s.deployer.SourceOf(ctx, app)
			if err != nil {
				return err
			}
			if !deployed || src.GitRev != rev {
				_, err := s.gitBuilds.DeployRev(ctx, app, branch, rev, "ps:rebuild", out)
				return err
			}
		}
	}
	_, err := s.deployer.Deploy(ctx, app, deploy.Source{Kind: deploy.SourceRebuild}, out, "ps:rebuild")
	return err
}
