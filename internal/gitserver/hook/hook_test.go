package hook

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/berthpaas/berth/internal/api"
)

func TestParseRefs(t *testing.T) {
	in := "0000 1111 refs/heads/main\n\nnot a ref line at all\n2222 3333 refs/tags/v1\n  4444   5555   refs/heads/x  \n"
	got := ParseRefs(strings.NewReader(in))
	want := []api.GitRef{{Old: "0000", New: "1111", Name: "refs/heads/main"}, {Old: "2222", New: "3333", Name: "refs/tags/v1"}, {Old: "4444", New: "5555", Name: "refs/heads/x"}}
	if !slices.Equal(got, want) {
		t.Errorf("ParseRefs = %+v", got)
	}
	if got := ParseRefs(strings.NewReader("")); got != nil {
		t.Errorf("no input: %+v", got)
	}
}

// fakeDaemon answers git.push-plan with plan and takes git.push-deploy's
// tar.
type fakeDaemon struct {
	plan      api.PushDecision
	planReq   api.PushPlan
	deployReq api.PushDeploy
	tree      []byte
	deployErr error
}

func (f *fakeDaemon) Call(_ context.Context, op string, req, resp any, _ api.Output) error {
	if op != api.GitPushPlan.Name {
		return fmt.Errorf("unexpected %s", op)
	}
	f.planReq = req.(api.PushPlan)
	b, _ := json.Marshal(f.plan)
	return json.Unmarshal(b, resp)
}

func (f *fakeDaemon) Session(_ context.Context, op string, req, resp any, s *api.Session) error {
	if op != api.GitPushDeploy.Name {
		return fmt.Errorf("unexpected %s", op)
	}
	f.deployReq = req.(api.PushDeploy)
	f.tree, _ = io.ReadAll(s.Stdin)
	fmt.Fprintln(s.Stdout, "-----> Build done")
	return f.deployErr
}

func hookEnv(f *fakeDaemon, stdin string, vars map[string]string) (Env, *bytes.Buffer, *[]string) {
	var out bytes.Buffer
	var warnings []string
	return Env{
		Stdin: strings.NewReader(stdin), Stdout: &out, Caller: f,
		Getenv: func(k string) string { return vars[k] },
		Warn:   func(format string, args ...any) { warnings = append(warnings, fmt.Sprintf(format, args...)) },
	}, &out, &warnings
}

func TestRunByHand(t *testing.T) {
	env, _, _ := hookEnv(&fakeDaemon{}, "", nil)
	env.Caller = nil
	if err := Run(context.Background(), env); !errors.Is(err, ErrNotInPush) {
		t.Errorf("run by hand: %v", err)
	}
	env.Getenv = func(k string) string { return map[string]string{"BERTH_HOOK_APP": "shop"}[k] }
	if err := Run(context.Background(), env); !errors.Is(err, ErrNotInPush) {
		t.Errorf("without a socket: %v", err)
	}
}

// TestRunWarnsAndStores: a push that deploys nothing passes the refs to
// the daemon and prints its warnings.
func TestRunWarnsAndStores(t *testing.T) {
	f := &fakeDaemon{plan: api.PushDecision{Warnings: []string{"Pushed branch x is stored but not deployed"}}}
	env, out, warnings := hookEnv(f, "0000 1111 refs/heads/x\n", map[string]string{"BERTH_HOOK_APP": "shop", "BERTH_HOOK_KEY": "ci"})
	if err := Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	if f.planReq.App != "shop" || f.planReq.Key != "ci" || len(f.planReq.Refs) != 1 || f.planReq.Refs[0].Name != "refs/heads/x" {
		t.Errorf("plan request %+v", f.planReq)
	}
	if len(*warnings) != 1 || out.Len() != 0 || f.tree != nil {
		t.Errorf("warnings %q output %q tree %d bytes", *warnings, out.String(), len(f.tree))
	}
}

// gitRepo makes a repository with one commit and returns its revision;
// the test runs inside it, as git runs the hook.
func gitRepo(t *testing.T) string {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	dir := t.TempDir()
	git := func(args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t")
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v %s", args, err, b)
		}
		return strings.TrimSpace(string(b))
	}
	git("init", "-q", "-b", "main")
	os.WriteFile(filepath.Join(dir, "Procfile"), []byte("web: ./serve\n"), 0o644)
	git("add", "Procfile")
	git("commit", "-q", "-m", "one")
	t.Chdir(dir)
	return git("rev-parse", "HEAD")
}

func tarNames(t *testing.T, b []byte) []string {
	var names []string
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, strings.TrimPrefix(h.Name, "./"))
	}
}

// TestRunDeploys: the deploy branch's tree goes to git.push-deploy as a
// tar, with a .git directory when keep-git-dir is on.
func TestRunDeploys(t *testing.T) {
	rev := gitRepo(t)
	for _, keep := range []bool{false, true} {
		f := &fakeDaemon{plan: api.PushDecision{Deploy: &api.GitRef{Old: zero, New: rev, Name: "refs/heads/main"}, KeepGitDir: keep}}
		env, out, _ := hookEnv(f, zero+" "+rev+" refs/heads/main\n", map[string]string{"BERTH_HOOK_APP": "shop", "BERTH_HOOK_KEY": "ci"})
		if err := Run(context.Background(), env); err != nil {
			t.Fatalf("keep %v: %v", keep, err)
		}
		if want := fmt.Sprintf("-----> Deploying shop (main, %.12s)\n-----> Build done\n", rev); out.String() != want {
			t.Errorf("output %q, want %q", out.String(), want)
		}
		if f.deployReq != (api.PushDeploy{App: "shop", Key: "ci", Ref: "refs/heads/main", Rev: rev}) {
			t.Errorf("deploy request %+v", f.deployReq)
		}
		names := tarNames(t, f.tree)
		if !slices.Contains(names, "Procfile") || slices.Contains(names, ".git/HEAD") != keep {
			t.Errorf("keep %v: tar holds %v", keep, names)
		}
	}
}

func TestRunFails(t *testing.T) {
	rev := gitRepo(t)
	// The deploy's error is the hook's (it rejects the push).
	f := &fakeDaemon{plan: api.PushDecision{Deploy: &api.GitRef{New: rev, Name: "refs/heads/main"}}, deployErr: api.Errorf(api.CodeInvalid, "build failed")}
	env, _, _ := hookEnv(f, "", map[string]string{"BERTH_HOOK_APP": "shop"})
	if err := Run(context.Background(), env); err == nil || err.Error() != "build failed" {
		t.Errorf("failed deploy: %v", err)
	}
	// A revision git cannot archive.
	f = &fakeDaemon{plan: api.PushDecision{Deploy: &api.GitRef{New: strings.Repeat("9", 40), Name: "refs/heads/main"}, KeepGitDir: true}}
	env, _, _ = hookEnv(f, "", map[string]string{"BERTH_HOOK_APP": "shop"})
	if err := Run(context.Background(), env); err == nil || !strings.HasPrefix(err.Error(), "Cannot read the pushed tree: ") {
		t.Errorf("bad revision: %v", err)
	}
}

const zero = "0000000000000000000000000000000000000000"
