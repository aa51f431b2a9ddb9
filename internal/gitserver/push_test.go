package gitserver

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/apierr"
	"github.com/berthpaas/berth/internal/settings"
	"github.com/berthpaas/berth/internal/store"
)

// storeApps is the app table on the test's store.
type storeApps struct{ st *store.Store }

func (a storeApps) AppInfo(ctx context.Context, name string) error {
	return a.st.Tx(ctx, func(tx *store.Tx) error { _, err := apierr.App(tx, name); return err })
}

func (a storeApps) CreateApp(ctx context.Context, name string) error {
	return a.st.Tx(ctx, func(tx *store.Tx) error {
		_, err := tx.CreateApp(name, time.Now())
		if errors.Is(err, store.ErrAppExists) {
			return api.Errorf(api.CodeConflict, "Name is already taken")
		}
		return err
	})
}

// fakeDeployer records the pushes it deploys; err makes them fail.
type fakeDeployer struct {
	pushes []Push
	trees  []string
	err    error
}

func (d *fakeDeployer) DeployPush(_ context.Context, p Push, out io.Writer) (int, error) {
	tree, _ := io.ReadAll(p.Tree)
	d.pushes = append(d.pushes, p)
	d.trees = append(d.trees, string(tree))
	io.WriteString(out, "-----> deployed\n")
	if d.err != nil {
		return 0, d.err
	}
	return len(d.pushes), nil
}

var testNow = time.Unix(1700000000, 0)

// testServer is a Server on a store in a temporary directory, with a fake
// deployer.
func testServer(t *testing.T) (*Server, *fakeDeployer) {
	dir := t.TempDir()
	st, err := store.Open(context.Background(), filepath.Join(dir, "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	d := &fakeDeployer{}
	s := New(Config{Store: st, Apps: storeApps{st}, Deployer: d, BerthBin: "/usr/local/bin/berth",
		Settings: settings.Settings{DataDir: dir, Socket: filepath.Join(dir, "berth.sock"), OpenSSH: "off"},
		Now:      func() time.Time { return testNow }})
	return s, d
}

func (s *Server) createApp(t *testing.T, name string) store.App {
	t.Helper()
	var a store.App
	if err := s.store.Tx(context.Background(), func(tx *store.Tx) (err error) { a, err = tx.CreateApp(name, testNow); return err }); err != nil {
		t.Fatal(err)
	}
	return a
}

func (s *Server) prop(t *testing.T, sc store.Scope, ns, key string) string {
	t.Helper()
	var v string
	s.store.Tx(context.Background(), func(tx *store.Tx) (err error) { v, _, err = tx.Property(sc, ns, key); return err })
	return v
}

func (s *Server) setProp(t *testing.T, sc store.Scope, ns, key, v string) {
	t.Helper()
	if err := s.store.Tx(context.Background(), func(tx *store.Tx) error { return tx.SetProperty(sc, ns, key, v) }); err != nil {
		t.Fatal(err)
	}
}

const (
	revA = "1111111111111111111111111111111111111111"
	revB = "2222222222222222222222222222222222222222"
)

func ref(name, rev string) api.GitRef { return api.GitRef{Old: zeroRev, New: rev, Name: name} }

// TestDeployBranchRules: the first branch pushed becomes the deploy
// branch; other branches are stored with a warning; tags and deletions
// deploy nothing; an app's setting beats the global one.
func TestDeployBranchRules(t *testing.T) {
	ctx := context.Background()
	s, _ := testServer(t)
	a := s.createApp(t, "shop")

	dec, err := s.pushPlan(ctx, api.PushPlan{App: "shop", Refs: []api.GitRef{ref("refs/heads/main", revA)}}, api.Output{})
	if err != nil || dec.Deploy == nil || dec.Deploy.Name != "refs/heads/main" || len(dec.Warnings) != 0 || dec.KeepGitDir {
		t.Fatalf("first push: %+v %v", dec, err)
	}
	if b := s.prop(t, a.Scope(), "git", "deploy-branch"); b != "main" {
		t.Errorf("deploy-branch after the first push = %q", b)
	}

	dec, _ = s.pushPlan(ctx, api.PushPlan{App: "shop", Refs: []api.GitRef{
		ref("refs/tags/v1", revA), {Old: revA, New: zeroRev, Name: "refs/heads/main"}, ref("refs/heads/feature", revB),
	}}, api.Output{})
	if dec.Deploy != nil || len(dec.Warnings) != 3 || dec.Warnings[0] != "WARNING: deploy did not complete, you must push to main." || !strings.Contains(dec.Warnings[2], "Pushed branch feature is stored but not deployed: the deploy branch of shop is main. To deploy feature, run git:set shop deploy-branch feature and push again.") {
		t.Errorf("push of a tag, a deletion and another branch: %+v", dec)
	}

	// Two refs of the deploy branch in one push: the first deploys.
	dec, _ = s.pushPlan(ctx, api.PushPlan{App: "shop", Refs: []api.GitRef{ref("refs/heads/main", revA), ref("refs/heads/main", revB)}}, api.Output{})
	if dec.Deploy == nil || dec.Deploy.New != revA || len(dec.Warnings) != 1 {
		t.Errorf("two refs of main: %+v", dec)
	}

	// A global deploy branch applies to an app without its own.
	b := s.createApp(t, "blog")
	s.setProp(t, store.Global, "git", "deploy-branch", "prod")
	s.setProp(t, b.Scope(), "git", "keep-git-dir", "true")
	dec, _ = s.pushPlan(ctx, api.PushPlan{App: "blog", Refs: []api.GitRef{ref("refs/heads/main", revA), ref("refs/heads/prod", revB)}}, api.Output{})
	if dec.Deploy == nil || dec.Deploy.Name != "refs/heads/prod" || len(dec.Warnings) != 3 || !dec.KeepGitDir {
		t.Errorf("global deploy branch: %+v", dec)
	}
	if v := s.prop(t, b.Scope(), "git", "deploy-branch"); v != "" {
		t.Errorf("the global branch was copied to the app: %q", v)
	}
	// ... and the app's own beats it.
	s.setProp(t, b.Scope(), "git", "deploy-branch", "main")
	dec, _ = s.pushPlan(ctx, api.PushPlan{App: "blog", Refs: []api.GitRef{ref("refs/heads/main", revA)}}, api.Output{})
	if dec.Deploy == nil || dec.Deploy.Name != "refs/heads/main" {
		t.Errorf("app deploy branch over global: %+v", dec)
	}

	if _, err := s.pushPlan(ctx, api.PushPlan{App: "nope"}, api.Output{}); !errors.Is(err, api.ErrAppNotFound) {
		t.Errorf("plan for a missing app: %v", err)
	}
}

// TestPushDeploy: a deployed push records the revision; a failed one
// records nothing and returns the deployer's error.
func TestPushDeploy(t *testing.T) {
	ctx := context.Background()
	s, d := testServer(t)
	a := s.createApp(t, "shop")
	var out bytes.Buffer
	res, err := s.pushDeploy(ctx, api.PushDeploy{App: "shop", Key: "ci", Ref: "refs/heads/main", Rev: revA},
		&api.Session{Stdin: strings.NewReader("TAR"), Stdout: &out})
	if err != nil || res.Release != 1 {
		t.Fatalf("pushDeploy: %+v %v", res, err)
	}
	if p := d.pushes[0]; p.App != "shop" || p.Branch != "main" || p.Rev != revA || p.Holder != "a git push by key ci" || d.trees[0] != "TAR" {
		t.Errorf("deployed %+v tree %q", p, d.trees[0])
	}
	if out.String() != "-----> deployed\n" {
		t.Errorf("output %q", out.String())
	}
	for _, kv := range [][3]string{{"git", "sha", revA}, {"git", "last-updated-at", "1700000000"}, {"apps", "deploy-source", "git"}, {"apps", "deploy-source-metadata", revA}} {
		if v := s.prop(t, a.Scope(), kv[0], kv[1]); v != kv[2] {
			t.Errorf("%s:%s = %q, want %q", kv[0], kv[1], v, kv[2])
		}
	}

	d.err = api.Errorf(api.CodeInvalid, "build failed")
	_, err = s.pushDeploy(ctx, api.PushDeploy{App: "shop", Ref: "refs/heads/main", Rev: revB}, &api.Session{Stdin: strings.NewReader(""), Stdout: io.Discard})
	if err == nil || err.Error() != "build failed" {
		t.Errorf("failed deploy: %v", err)
	}
	if d.pushes[1].Holder != "a git push" {
		t.Errorf("holder without a key: %q", d.pushes[1].Holder)
	}
	if v := s.prop(t, a.Scope(), "git", "sha"); v != revA {
		t.Errorf("a failed deploy changed git sha to %q", v)
	}
}

// runTransfer runs a git transfer command for key and returns its exit
// status and stderr.
func runTransfer(s *Server, key store.Key, words ...string) (int, string) {
	var stderr bytes.Buffer
	code := s.gitTransfer(context.Background(), key, words, &api.Session{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: &stderr})
	return code, stderr.String()
}

func TestGitTransferRefusals(t *testing.T) {
	s, _ := testServer(t)
	for _, tc := range []struct {
		key   store.Key
		words []string
		want  string
	}{
		{adminKey, []string{"git-receive-pack"}, " !     Usage: git-receive-pack 'APP'\n"},
		{adminKey, []string{"git-receive-pack", "a", "b"}, "Usage: git-receive-pack 'APP'"},
		{adminKey, []string{"git-receive-pack", "'Bad_Name'"}, `Invalid app name "Bad_Name"`},
		{shopKey, []string{"git-receive-pack", "'other'"}, "Permission denied: key ci may not use app other"},
		{adminKey, []string{"git-upload-pack", "'/missing'"}, "App missing does not exist"},
	} {
		code, stderr := runTransfer(s, tc.key, tc.words...)
		if code != 1 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: %d %q, want 1 and %q", tc.words, code, stderr, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(s.dataDir, "repos")); err == nil {
		t.Error("a refused transfer made a repository")
	}

	s.setProp(t, store.Global, "apps", "disable-autocreation", "true")
	code, stderr := runTransfer(s, adminKey, "git-receive-pack", "'new'")
	if code != 1 || !strings.Contains(stderr, "App new does not exist and app autocreation is disabled") {
		t.Errorf("push to a new app, autocreation off: %d %q", code, stderr)
	}
}

// TestPushCreatesAppAndRepo: a push to a new app creates it and a bare
// repository whose pre-receive hook runs this binary's git-hook.
func TestPushCreatesAppAndRepo(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	s, _ := testServer(t)
	_, stderr := runTransfer(s, shopKey, "git-receive-pack", "'/shop'")
	if !strings.Contains(stderr, "-----> Created app shop\n") {
		t.Errorf("stderr %q", stderr)
	}
	if err := s.apps.AppInfo(context.Background(), "shop"); err != nil {
		t.Error(err)
	}
	hook, err := os.ReadFile(filepath.Join(RepoDir(s.dataDir, "shop"), "hooks", "pre-receive"))
	if err != nil || string(hook) != "#!/bin/sh\n# Written by Berth: hands pushes to the daemon.\nexec '/usr/local/bin/berth' git-hook\n" {
		t.Errorf("hook %q %v", hook, err)
	}
	// A second push finds both and says nothing about creating.
	if _, stderr := runTransfer(s, shopKey, "git-receive-pack", "shop"); strings.Contains(stderr, "Created") {
		t.Errorf("second push: %q", stderr)
	}
}

func TestShellQuote(t *testing.T) {
	if got := shellQuote("/opt/it's/berth"); got != `'/opt/it'\''s/berth'` {
		t.Errorf("shellQuote = %s", got)
	}
}
