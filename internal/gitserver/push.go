package gitserver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/apierr"
	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/store"
)

func init() {
	app.Register(app.Setting{Namespace: "git", Key: "deploy-branch", Scope: app.ScopeBoth, Default: DefaultDeployBranch, Validate: func(v string) error {
		if strings.ContainsAny(v, " ~^:?*[\\") || strings.HasPrefix(v, "-") || strings.Contains(v, "..") {
			return app.Invalidf("Invalid branch name %q", v)
		}
		return nil
	}})
	app.Register(app.Setting{Namespace: "git", Key: "keep-git-dir", Scope: app.ScopeBoth, Default: "false", Validate: app.ValidateBool})
	// rev-env-var names the config var a push sets to the pushed commit
	// (Dokku's GIT_REV); set to nothing, no variable is set.
	app.Register(app.Setting{Namespace: "git", Key: RevEnvVar, Scope: app.ScopeApp, Default: DefaultRevEnvVar, Validate: func(v string) error {
		if v == "" {
			return nil // git:set APP rev-env-var: no variable
		}
		return app.ValidateKey(v)
	}})
	// source-image is the image git:from-image deployed (Dokku's report).
	app.Register(app.Setting{Namespace: "git", Key: "source-image", Scope: app.ScopeApp})
	// Dokku's limits of git:from-archive; Berth's archives are capped by
	// the deploy's own limits, these are reported for Dokku's tools.
	app.Register(app.Setting{Namespace: "git", Key: "archive-max-files", Scope: app.ScopeGlobal, Default: "10000", Validate: positiveInt, Report: app.ReportComputed | app.ReportGlobal})
	app.Register(app.Setting{Namespace: "git", Key: "archive-max-size", Scope: app.ScopeGlobal, Default: "1073741824", Validate: positiveInt, Report: app.ReportComputed | app.ReportGlobal})
	app.Register(app.Setting{Namespace: "git", Key: "sha", Scope: app.ScopeApp, Internal: true, Report: app.ReportRaw})
	app.Register(app.Setting{Namespace: "git", Key: "last-updated-at", Scope: app.ScopeApp, Internal: true, Report: app.ReportRaw})
}

// Git settings' names and defaults.
const (
	// DefaultDeployBranch is the deploy branch Dokku reports when none is
	// set; the first branch pushed to an app without one becomes it.
	DefaultDeployBranch = "master"
	RevEnvVar           = "rev-env-var"
	DefaultRevEnvVar    = "GIT_REV"
)

func positiveInt(v string) error {
	if n, err := strconv.Atoi(v); err != nil || n < 1 {
		return app.Invalidf("Invalid value %q: a whole number above 0", v)
	}
	return nil
}

const zeroRev = "0000000000000000000000000000000000000000"

// hookScript is the pre-receive hook: it hands the pushed refs to berth.
func (s *Server) hookScript() string {
	return "#!/bin/sh\n# Written by Berth: hands pushes to the daemon.\nexec " + shellQuote(s.berthBin) + " git-hook\n"
}

func shellQuote(v string) string { return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'" }

// ensureRepo creates the app's bare repository if needed and (re)writes its
// hook so it always runs the current binary.
func (s *Server) ensureRepo(ctx context.Context, appName string) (string, error) {
	s.repoMu.Lock()
	defer s.repoMu.Unlock()
	dir := s.repoDir(appName)
	if _, err := os.Stat(filepath.Join(dir, "HEAD")); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
			return "", err
		}
		out, err := exec.CommandContext(ctx, "git", "init", "--bare", "--quiet", dir).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("git init %s: %v: %s", dir, err, strings.TrimSpace(string(out)))
		}
	}
	hook := filepath.Join(dir, "hooks", "pre-receive")
	script := s.hookScript()
	if cur, err := os.ReadFile(hook); err == nil && string(cur) == script {
		return dir, nil
	}
	if err := os.WriteFile(hook+".tmp", []byte(script), 0o700); err != nil {
		return "", err
	}
	return dir, os.Rename(hook+".tmp", hook)
}

// gitTransfer serves git-receive-pack / git-upload-pack for an app.
func (s *Server) gitTransfer(ctx context.Context, key store.Key, words []string, sess *api.Session) int {
	fail := func(format string, args ...any) int {
		fmt.Fprintf(sess.Stderr, " !     "+format+"\n", args...)
		return 1
	}
	if len(words) != 2 {
		return fail("Usage: %s 'APP'", words[0])
	}
	appName := strings.TrimPrefix(strings.Trim(words[1], "'\""), "/")
	if err := app.ValidateName(appName); err != nil {
		return fail("Invalid app name %q: %v", appName, err)
	}
	if !key.MayTouch(appName) {
		return fail("Permission denied: key %s may not use app %s", key.Name, appName)
	}
	push := words[0] == "git-receive-pack"
	if err := s.apps.AppInfo(ctx, appName); err != nil {
		if !errors.Is(err, api.ErrAppNotFound) || !push {
			return fail("%s", firstLine(err.Error()))
		}
		var disabled string
		s.store.Tx(ctx, func(tx *store.Tx) error {
			disabled, _, _ = tx.Property(store.Global, "apps", "disable-autocreation")
			return nil
		})
		if disabled == "true" {
			return fail("App %s does not exist and app autocreation is disabled (apps:set --global disable-autocreation); create it with apps:create %s", appName, appName)
		}
		if err := s.apps.CreateApp(ctx, appName); err != nil && !errors.Is(err, api.ErrConflict) {
			return fail("%s", firstLine(err.Error()))
		}
		fmt.Fprintf(sess.Stderr, "-----> Created app %s\n", appName)
	}
	dir, err := s.ensureRepo(ctx, appName)
	if err != nil {
		return fail("%s", firstLine(err.Error()))
	}
	cmd := exec.Command("git", strings.TrimPrefix(words[0], "git-"), dir)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = sess.Stdin, sess.Stdout, sess.Stderr
	cmd.Env = append(os.Environ(),
		"BERTH_SOCKET="+s.socket, "BERTH_HOOK_APP="+appName, "BERTH_HOOK_KEY="+key.Name,
		"GIT_TERMINAL_PROMPT=0")
	// The whole process group (git and its hook) goes when the client does.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fail("start git: %v", err)
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			}
		case <-done:
		}
	}()
	err = cmd.Wait()
	close(done)
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return max(ee.ExitCode(), 1)
	}
	if err != nil {
		return fail("git: %v", err)
	}
	return 0
}

func (s *Server) gitProperty(tx *store.Tx, a store.App, key string) (string, error) {
	if v, ok, err := tx.Property(a.Scope(), "git", key); err != nil || ok {
		return v, err
	}
	v, _, err := tx.Property(store.Global, "git", key)
	return v, err
}

// pushPlan decides what a push does: the deploy branch is deployed (the
// first branch ever pushed becomes it), other refs are only stored.
func (s *Server) pushPlan(ctx context.Context, req api.PushPlan, _ api.Output) (api.PushDecision, error) {
	var dec api.PushDecision
	previews := false
	if s.previews != nil {
		on, err := s.previews.Enabled(ctx, req.App)
		if err != nil && !errors.Is(err, store.ErrAppNotFound) {
			return dec, err
		}
		previews = on
	}
	err := s.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := apierr.App(tx, req.App)
		if err != nil {
			return err
		}
		branch, err := s.gitProperty(tx, a, "deploy-branch")
		if err != nil {
			return err
		}
		keep, err := s.gitProperty(tx, a, "keep-git-dir")
		if err != nil {
			return err
		}
		dec.KeepGitDir = keep == "true"
		for _, r := range req.Refs {
			name, isBranch := strings.CutPrefix(r.Name, "refs/heads/")
			if !isBranch {
				continue
			}
			// Previews (docs/previews.md): another branch is deployed as
			// the app's preview, and its deletion destroys the preview.
			if previews && branch != "" && name != branch {
				if r.New == zeroRev {
					dec.PreviewRemovals = append(dec.PreviewRemovals, r)
				} else {
					dec.Previews = append(dec.Previews, r)
				}
				continue
			}
			if r.New == zeroRev {
				continue
			}
			if branch == "" {
				branch = name
				if err := tx.SetProperty(a.Scope(), "git", "deploy-branch", name); err != nil {
					return err
				}
			}
			if name == branch && dec.Deploy == nil {
				// Clones check out the deploy branch.
				exec.CommandContext(ctx, "git", "--git-dir", s.repoDir(a.Name), "symbolic-ref", "HEAD", "refs/heads/"+name).Run()
				r := r
				dec.Deploy = &r
				continue
			}
			if name != branch {
				// Dokku's words first (scripts look for them), then Berth's.
				dec.Warnings = append(dec.Warnings,
					fmt.Sprintf("WARNING: deploy did not complete, you must push to %s.", branch),
					fmt.Sprintf("for example, try 'git push <dokku> %s:%s'", name, branch))
			}
			dec.Warnings = append(dec.Warnings, fmt.Sprintf("Pushed branch %s is stored but not deployed: the deploy branch of %s is %s. To deploy %s, run git:set %s deploy-branch %s and push again.", name, a.Name, branch, name, a.Name, name))
		}
		return nil
	})
	return dec, err
}

// pushDeploy deploys a pushed revision whose tree arrives as a tar on the
// session's stdin.
func (s *Server) pushDeploy(ctx context.Context, req api.PushDeploy, sess *api.Session) (api.DeployResult, error) {
	holder := "a git push"
	if req.Key != "" {
		holder = "a git push by key " + req.Key
	}
	apps, err := s.pushScope(ctx, req)
	if err != nil {
		return api.DeployResult{}, err
	}
	if err := s.setRevVar(ctx, req.App, req.Rev); err != nil {
		return api.DeployResult{}, err
	}
	rel, err := s.deployer.DeployPush(ctx, Push{App: req.App, Branch: strings.TrimPrefix(req.Ref, "refs/heads/"), Rev: req.Rev, Tree: sess.Stdin, Holder: holder, Apps: apps}, sess.Stdout)
	if err != nil {
		return api.DeployResult{Release: rel}, err
	}
	s.recordDeploy(ctx, req.App, req.Rev)
	return api.DeployResult{Release: rel}, nil
}

// recordDeploy notes the commit a push (or a rebuild of the deploy branch)
// deployed: git:report's sha and last-updated-at, the app's deploy source.
func (s *Server) recordDeploy(ctx context.Context, appName, rev string) {
	s.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := tx.App(appName)
		if err != nil {
			return err
		}
		tx.SetProperty(a.Scope(), "git", "sha", rev)
		tx.SetProperty(a.Scope(), "git", "last-updated-at", strconv.FormatInt(s.now().Unix(), 10))
		tx.UnsetProperty(a.Scope(), "git", "source-image")
		tx.SetProperty(a.Scope(), "apps", "deploy-source", "git")
		return tx.SetProperty(a.Scope(), "apps", "deploy-source-metadata", rev)
	})
}

// pushScope is the apps the pushing key may touch, or nil for an admin key
// (or a push by no key: the daemon's own socket). A key no longer
// registered may touch only the app it pushed to.
func (s *Server) pushScope(ctx context.Context, req api.PushDeploy) ([]string, error) {
	if req.Key == "" {
		return nil, nil
	}
	var apps []string
	err := s.store.Tx(ctx, func(tx *store.Tx) error {
		k, err := tx.KeyByName(req.Key)
		if errors.Is(err, store.ErrKeyNotFound) {
			apps = []string{req.App}
			return nil
		}
		if err != nil {
			return err
		}
		if !k.Admin {
			apps = append([]string{}, k.Apps...)
		}
		return nil
	})
	return apps, err
}

// setRevVar sets the config var named by git:set APP rev-env-var (GIT_REV
// unless set; none when set to nothing) to the pushed commit, as Dokku does
// before the build, so the app and config:get see it.
func (s *Server) setRevVar(ctx context.Context, appName, rev string) error {
	return s.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := apierr.App(tx, appName)
		if err != nil {
			return err
		}
		name, ok, err := tx.Property(a.Scope(), "git", RevEnvVar)
		if err != nil {
			return err
		}
		if !ok {
			name = DefaultRevEnvVar
		}
		if name == "" || rev == "" {
			return nil
		}
		return tx.SetConfig(a.Scope(), map[string]string{name: rev})
	})
}
