package gitserver

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/apierr"
	"github.com/berthpaas/berth/internal/store"
)

// RebuildRev is what ps:rebuild builds for an app whose last deploy was a
// git push, as Dokku's git_build does: the commit at the tip of its deploy
// branch (the app's, else the global one, else master). ok is false when
// the app was last deployed some other way (an archive, an image): the
// caller rebuilds the live release's source. A deploy branch with no
// commits is an error in Dokku's words.
func (s *Server) RebuildRev(ctx context.Context, appName string) (branch, rev string, ok bool, err error) {
	err = s.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := apierr.App(tx, appName)
		if err != nil {
			return err
		}
		src, _, err := tx.Property(a.Scope(), "apps", "deploy-source")
		if err != nil || src != "git" {
			return err
		}
		ok = true
		if branch, err = s.gitProperty(tx, a, "deploy-branch"); err != nil {
			return err
		}
		if branch == "" {
			branch = DefaultDeployBranch
		}
		return nil
	})
	if err != nil || !ok {
		return "", "", false, err
	}
	out, gerr := exec.CommandContext(ctx, "git", "--git-dir", s.repoDir(appName), "rev-parse", "--verify", "--quiet", "refs/heads/"+branch+"^{commit}").Output()
	rev = strings.TrimSpace(string(out))
	if gerr != nil || rev == "" {
		return branch, "", true, api.Errorf(api.CodeInvalid, "Cannot build from '%s' as there are no commits stored at that branch. Push to it, or point git:set %s deploy-branch at a branch you pushed.", branch, appName)
	}
	return branch, rev, true, nil
}

// DeployRev deploys commit rev of the app's repository (ps:rebuild of a
// deploy branch whose tip is not the live release's commit) as a push of
// it would: the rev-env-var is set, keep-git-dir gives the tree its .git,
// and git:report records it.
func (s *Server) DeployRev(ctx context.Context, appName, branch, rev, holder string, out io.Writer) (int, error) {
	var keep string
	err := s.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := apierr.App(tx, appName)
		if err != nil {
			return err
		}
		keep, err = s.gitProperty(tx, a, "keep-git-dir")
		return err
	})
	if err != nil {
		return 0, err
	}
	tree, wait, err := s.repoTree(ctx, appName, branch, rev, keep == "true")
	if err != nil {
		return 0, fmt.Errorf("read %s at %.12s: %w", branch, rev, err)
	}
	defer tree.Close()
	if err := s.setRevVar(ctx, appName, rev); err != nil {
		return 0, err
	}
	fmt.Fprintf(out, "-----> Deploying %s (%s, %.12s)\n", appName, branch, rev)
	rel, err := s.deployer.DeployPush(ctx, Push{App: appName, Branch: branch, Rev: rev, Tree: tree, Holder: holder}, out)
	tree.Close()
	if werr := wait(); err == nil && werr != nil {
		err = fmt.Errorf("read %s at %.12s: %w", branch, rev, werr)
	}
	if err != nil {
		return rel, err
	}
	s.recordDeploy(ctx, appName, rev)
	return rel, nil
}

// repoTree streams a tar of the repository at rev; with keepGitDir, of a
// clone of it with branch checked out (.git included).
func (s *Server) repoTree(ctx context.Context, appName, branch, rev string, keepGitDir bool) (io.ReadCloser, func() error, error) {
	repo := s.repoDir(appName)
	if !keepGitDir {
		cmd := exec.CommandContext(ctx, "git", "--git-dir", repo, "archive", "--format=tar", rev)
		r, err := cmd.StdoutPipe()
		if err != nil {
			return nil, nil, err
		}
		if err := cmd.Start(); err != nil {
			return nil, nil, err
		}
		return r, cmd.Wait, nil
	}
	tmp, err := os.MkdirTemp("", "berth-rebuild")
	if err != nil {
		return nil, nil, err
	}
	work := filepath.Join(tmp, "src")
	if b, err := exec.CommandContext(ctx, "git", "clone", "--quiet", "--branch", branch, repo, work).CombinedOutput(); err != nil {
		os.RemoveAll(tmp)
		return nil, nil, fmt.Errorf("git clone: %v: %s", err, strings.TrimSpace(string(b)))
	}
	if b, err := exec.CommandContext(ctx, "git", "-C", work, "checkout", "--quiet", "-B", branch, rev).CombinedOutput(); err != nil {
		os.RemoveAll(tmp)
		return nil, nil, fmt.Errorf("git checkout: %v: %s", err, strings.TrimSpace(string(b)))
	}
	// As a push's tree: no remote naming the host's repository.
	exec.CommandContext(ctx, "git", "-C", work, "remote", "remove", "origin").Run()
	cmd := exec.CommandContext(ctx, "tar", "-C", work, "-cf", "-", ".")
	r, err := cmd.StdoutPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		os.RemoveAll(tmp)
		return nil, nil, err
	}
	return r, func() error { defer os.RemoveAll(tmp); return cmd.Wait() }, nil
}
