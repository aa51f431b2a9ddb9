package gitserver

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/store"
)

func (s *Server) config(t *testing.T, a store.App) map[string]string {
	t.Helper()
	var c map[string]string
	if err := s.store.Tx(context.Background(), func(tx *store.Tx) (err error) { c, err = tx.Config(a.Scope()); return err }); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestPushSetsRevEnvVar: a push sets GIT_REV in the app's config (Dokku's
// git_build), or the var git:set APP rev-env-var names, or none when it is
// set to nothing.
func TestPushSetsRevEnvVar(t *testing.T) {
	ctx := context.Background()
	s, _ := testServer(t)
	a := s.createApp(t, "shop")
	push := func(rev string) {
		t.Helper()
		if _, err := s.pushDeploy(ctx, api.PushDeploy{App: "shop", Ref: "refs/heads/main", Rev: rev}, &api.Session{Stdin: strings.NewReader(""), Stdout: io.Discard}); err != nil {
			t.Fatal(err)
		}
	}
	push(revA)
	if c := s.config(t, a); c["GIT_REV"] != revA {
		t.Errorf("config after a push: %v", c)
	}
	s.setProp(t, a.Scope(), "git", RevEnvVar, "COMMIT_SHA")
	push(revB)
	if c := s.config(t, a); c["COMMIT_SHA"] != revB || c["GIT_REV"] != revA {
		t.Errorf("config after a push with rev-env-var COMMIT_SHA: %v", c)
	}
	s.setProp(t, a.Scope(), "git", RevEnvVar, "")
	push(revA)
	if c := s.config(t, a); c["COMMIT_SHA"] != revB || c["GIT_REV"] != revA {
		t.Errorf("config after a push with rev-env-var set to nothing: %v", c)
	}
}

// commitRepo makes the app's repository hold one commit on branch, with
// file app.txt; it returns the commit.
func commitRepo(t *testing.T, s *Server, appName, branch string) string {
	t.Helper()
	work := t.TempDir()
	git := func(dir string, args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v: %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git(work, "init", "-q", "-b", branch)
	os.WriteFile(filepath.Join(work, "app.txt"), []byte("v1\n"), 0o644)
	git(work, "add", ".")
	git(work, "commit", "-q", "-m", "one")
	repo := s.repoDir(appName)
	os.MkdirAll(filepath.Dir(repo), 0o700)
	git(work, "clone", "-q", "--bare", work, repo)
	return git(work, "rev-parse", "HEAD")
}

func tarNames(t *testing.T, b string) []string {
	t.Helper()
	var names []string
	tr := tar.NewReader(strings.NewReader(b))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag != tar.TypeXGlobalHeader {
			names = append(names, strings.TrimPrefix(h.Name, "./"))
		}
	}
}

// TestRebuildRev: ps:rebuild of a pushed app builds its deploy branch's
// tip; a deploy branch with no commits is refused in Dokku's words; an
// app deployed otherwise is not the repository's business.
func TestRebuildRev(t *testing.T) {
	ctx := context.Background()
	s, d := testServer(t)
	a := s.createApp(t, "shop")
	rev := commitRepo(t, s, "shop", "master")

	if _, _, ok, err := s.RebuildRev(ctx, "shop"); ok || err != nil {
		t.Errorf("never pushed: ok %v err %v", ok, err)
	}
	s.setProp(t, a.Scope(), "apps", "deploy-source", "git")
	branch, got, ok, err := s.RebuildRev(ctx, "shop")
	if !ok || err != nil || branch != "master" || got != rev {
		t.Errorf("RebuildRev = %q %q %v %v, want master %s", branch, got, ok, err, rev)
	}
	s.setProp(t, a.Scope(), "git", "deploy-branch", "non-existing-branch")
	_, _, _, err = s.RebuildRev(ctx, "shop")
	if !errors.Is(err, api.ErrInvalid) || !strings.Contains(err.Error(), "Cannot build from 'non-existing-branch' as there are no commits stored at that branch.") {
		t.Errorf("missing branch: %v", err)
	}
	if _, _, _, err := s.RebuildRev(ctx, "nope"); !errors.Is(err, api.ErrAppNotFound) {
		t.Errorf("unknown app: %v", err)
	}

	// DeployRev deploys the commit's tree, sets GIT_REV and records it.
	var out bytes.Buffer
	if _, err := s.DeployRev(ctx, "shop", "master", rev, "ps:rebuild", &out); err != nil {
		t.Fatal(err)
	}
	p := d.pushes[0]
	if p.Rev != rev || p.Branch != "master" || p.Holder != "ps:rebuild" || strings.Join(tarNames(t, d.trees[0]), " ") != "app.txt" {
		t.Errorf("deployed %+v with %v", p, tarNames(t, d.trees[0]))
	}
	if c := s.config(t, a); c["GIT_REV"] != rev {
		t.Errorf("config: %v", c)
	}
	if v := s.prop(t, a.Scope(), "git", "sha"); v != rev {
		t.Errorf("git sha = %q", v)
	}
	// keep-git-dir (here the global one): the tree has its .git.
	s.setProp(t, store.Global, "git", "keep-git-dir", "true")
	if _, err := s.DeployRev(ctx, "shop", "master", rev, "ps:rebuild", io.Discard); err != nil {
		t.Fatal(err)
	}
	names := strings.Join(tarNames(t, d.trees[1]), " ")
	if !strings.Contains(names, ".git/HEAD") || !strings.Contains(names, "app.txt") {
		t.Errorf("keep-git-dir tree: %s", names)
	}
}
