// Package hook is git's pre-receive hook in an app's repository (`berth
// git-hook`, which the repository's hook script runs): it asks the daemon
// what the push does (git.push-plan) and streams a tar of the deploy
// branch's tree into git.push-deploy. It runs in git's environment, the
// only place the pushed objects are visible before the hook accepts them,
// and talks to the daemon over the control socket; it imports no more of
// Berth than package api.
package hook

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/berthpaas/berth/internal/api"
)

// Env is what the hook runs with.
type Env struct {
	Stdin  io.Reader // git's "OLD NEW REF" lines
	Stdout io.Writer // reaches the pusher as "remote: ..." lines
	// Getenv reads BERTH_HOOK_APP, BERTH_HOOK_KEY and BERTH_SOCKET, which
	// the daemon sets on git receive-pack.
	Getenv func(string) string
	// Warn prints a warning line for the pusher.
	Warn func(format string, args ...any)
	// Caller reaches the daemon; nil: the control socket BERTH_SOCKET.
	// It must be an api.Sessioner too.
	Caller api.Caller
}

// ErrNotInPush: the hook was run by hand, not by git during a push.
var ErrNotInPush = errors.New("git-hook runs inside a push to Berth; it is not a command to run by hand")

// Run runs the hook. A non-nil error rejects the push; its text is the
// pusher's last line.
func Run(ctx context.Context, env Env) error {
	app, socket := env.Getenv("BERTH_HOOK_APP"), env.Getenv("BERTH_SOCKET")
	if app == "" || (socket == "" && env.Caller == nil) {
		return ErrNotInPush
	}
	client := env.Caller
	if client == nil {
		client = api.NewClient(socket)
	}
	refs := ParseRefs(env.Stdin)
	key := env.Getenv("BERTH_HOOK_KEY")
	dec, err := api.GitPushPlan.Call(ctx, client, api.PushPlan{App: app, Key: key, Refs: refs})
	if err != nil {
		return err
	}
	for _, w := range dec.Warnings {
		env.Warn("%s", w)
	}
	if dec.Deploy != nil {
		if err := deploy(ctx, env, client, app, key, dec); err != nil {
			return err
		}
	}
	return previews(ctx, env, client, app, key, dec)
}

// deploy deploys the deploy branch's pushed revision.
func deploy(ctx context.Context, env Env, client api.Caller, app, key string, dec api.PushDecision) error {
	branch := strings.TrimPrefix(dec.Deploy.Name, "refs/heads/")
	fmt.Fprintf(env.Stdout, "-----> Deploying %s (%s, %.12s)\n", app, branch, dec.Deploy.New)
	tree, wait, err := treeArchive(ctx, dec.Deploy.New, branch, dec.KeepGitDir)
	if err != nil {
		return treeError{err}
	}
	_, err = api.GitPushDeploy.Run(ctx, client, api.PushDeploy{App: app, Key: key, Ref: dec.Deploy.Name, Rev: dec.Deploy.New}, &api.Session{Stdin: tree, Stdout: env.Stdout, Stderr: env.Stdout})
	tree.Close()
	if werr := wait(); err == nil && werr != nil {
		err = treeError{werr}
	}
	return err
}

// treeError: the pushed tree could not be read (git archive failed).
type treeError struct{ err error }

func (e treeError) Error() string { return "Cannot read the pushed tree: " + e.err.Error() }
func (e treeError) Unwrap() error { return e.err }

// ParseRefs reads git's pre-receive input: one "OLD NEW REFNAME" line per
// updated ref. Lines of another shape are skipped.
func ParseRefs(r io.Reader) []api.GitRef {
	var refs []api.GitRef
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 3 {
			refs = append(refs, api.GitRef{Old: f[0], New: f[1], Name: f[2]})
		}
	}
	return refs
}

// treeArchive streams a tar of the pushed revision. With keepGitDir the
// tar also holds a .git directory with the revision checked out on branch.
func treeArchive(ctx context.Context, rev, branch string, keepGitDir bool) (io.ReadCloser, func() error, error) {
	if !keepGitDir {
		cmd := exec.CommandContext(ctx, "git", "archive", "--format=tar", rev)
		out, err := cmd.StdoutPipe()
		if err != nil {
			return nil, nil, err
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			return nil, nil, err
		}
		return out, cmd.Wait, nil
	}
	// The pushed objects sit in git's quarantine, visible only to git
	// commands run from this hook's environment: pack them here and index
	// them into a fresh repository outside it.
	tmp, err := os.MkdirTemp("", "berth-push")
	if err != nil {
		return nil, nil, err
	}
	clean := func() { os.RemoveAll(tmp) }
	work := filepath.Join(tmp, "src")
	outside := cleanGitEnv()
	run := func(env []string, stdin io.Reader, name string, args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Env, cmd.Stdin = env, stdin
		out, err := cmd.Output()
		if ee, ok := err.(*exec.ExitError); ok {
			return out, fmt.Errorf("%s %s: %v: %s", name, args[0], err, strings.TrimSpace(string(ee.Stderr)))
		}
		return out, err
	}
	steps := []func() error{
		func() error {
			objs, err := run(os.Environ(), nil, "git", "rev-list", "--objects", rev)
			if err != nil {
				return err
			}
			pack, err := run(os.Environ(), strings.NewReader(string(objs)), "git", "pack-objects", "--stdout", "-q")
			if err != nil {
				return err
			}
			if _, err := run(outside, nil, "git", "init", "-q", "-b", branch, work); err != nil {
				return err
			}
			_, err = run(outside, strings.NewReader(string(pack)), "git", "-C", work, "index-pack", "--stdin")
			return err
		},
		func() error {
			_, err := run(outside, nil, "git", "-C", work, "update-ref", "refs/heads/"+branch, rev)
			return err
		},
		func() error {
			_, err := run(outside, nil, "git", "-C", work, "checkout", "-q", "-f", branch)
			return err
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			clean()
			return nil, nil, err
		}
	}
	cmd := exec.CommandContext(ctx, "tar", "-C", work, "-cf", "-", ".")
	out, err := cmd.StdoutPipe()
	if err != nil {
		clean()
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		clean()
		return nil, nil, err
	}
	return out, func() error { defer clean(); return cmd.Wait() }, nil
}

// cleanGitEnv is the environment without the push's GIT_* variables.
func cleanGitEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GIT_") {
			env = append(env, kv)
		}
	}
	return env
}
