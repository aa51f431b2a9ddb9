package deploy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/appfile"
	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/health"
	"github.com/berthpaas/berth/internal/naming"
	"github.com/berthpaas/berth/internal/release"
	"github.com/berthpaas/berth/internal/store"
)

// Router is the proxy as deploys see it.
type Router interface {
	// Sync routes the app's hosts to the running web containers of its live
	// release, in one atomic step.
	Sync(ctx context.Context, app string) error
	// Drain waits until no request is in flight to addrs, or timeout; it
	// returns how many still are.
	Drain(ctx context.Context, addrs []string, timeout time.Duration) (int, error)
}

// envDefaults applies app.json's env: defaults for unset keys, generated
// secrets, required keys that must be set, and "sync" values set on every
// deploy. Its lines are Dokku's.
func (j *job) envDefaults(ctx context.Context) error {
	if j.files.AppJSON == nil || len(j.files.AppJSON.Env) == 0 {
		return nil
	}
	j.info("Processing app.json env vars")
	return j.d.store.Tx(ctx, func(tx *store.Tx) error {
		vars, err := tx.Config(j.app.Scope())
		if err != nil {
			return err
		}
		global, err := tx.Config(store.Global)
		if err != nil {
			return err
		}
		set := map[string]string{}
		for _, k := range slices.Sorted(maps.Keys(j.files.AppJSON.Env)) {
			spec := j.files.AppJSON.Env[k]
			cur, ok := vars[k]
			if spec.Sync && spec.Value != nil {
				if !ok || cur != *spec.Value {
					set[k] = *spec.Value
				}
				continue
			}
			if ok {
				continue
			}
			if _, ok := global[k]; ok {
				continue
			}
			switch {
			case spec.Value != nil:
				set[k] = *spec.Value
			case spec.Generator == appfile.GeneratorSecret:
				b := make([]byte, 32)
				rand.Read(b)
				set[k] = hex.EncodeToString(b)
			case spec.Required:
				return app.Invalidf("required env var %s has no value: set it with config:set %s %s=VALUE, or give it a value in app.json", k, j.app.Name, k)
			}
		}
		if len(set) == 0 {
			j.detail("No env vars to set from app.json")
			return nil
		}
		if err := app.ValidateVars(set); err != nil {
			return app.Invalidf("app.json env: %v", err)
		}
		j.info("Setting %d env var(s) from app.json: %s", len(set), strings.Join(slices.Sorted(maps.Keys(set)), ", "))
		return tx.SetConfig(j.app.Scope(), set)
	})
}

// oneOff runs cmd in a throw-away container of the release's image with the
// app's environment, streaming its output; it returns the container (not
// removed: predeploy commits it) and the exit code.
func (j *job) oneOff(ctx context.Context, what string, cmd []string) (string, int, []string, error) {
	set, err := j.d.settings(ctx, j.app)
	if err != nil {
		return "", 0, nil, err
	}
	env := map[string]string{}
	for k, v := range set.env {
		env[k] = v
	}
	env["DYNO"] = what + ".1"
	if j.rel.GitRev != "" {
		env["GIT_REV"] = j.rel.GitRev
	}
	id, err := j.eng.CreateContainer(ctx, docker.ContainerSpec{
		Image: j.rel.Image, Cmd: cmd, Env: envList(env),
		Labels:  map[string]string{naming.LabelInstance: j.d.names.Instance(), naming.LabelApp: j.app.Name, naming.LabelKind: naming.KindRun, naming.LabelProcess: what, naming.LabelRelease: strconv.Itoa(j.rel.Number)},
		Init:    true,
		Network: set.network,
	})
	if err != nil {
		return "", 0, nil, err
	}
	if err := j.eng.StartContainer(ctx, id); err != nil {
		j.eng.RemoveContainer(context.WithoutCancel(ctx), id, true)
		return "", 0, nil, err
	}
	step := what
	if what == "release" {
		step = "release-command"
	}
	if err := j.d.failpoint("deploy-" + step); err != nil {
		return id, 0, nil, err
	}
	tail := &tailWriter{w: &lineWriter{w: j.out, prefix: "       "}, max: 20}
	logsDone := make(chan struct{})
	go func() {
		defer close(logsDone)
		j.eng.Logs(ctx, id, docker.LogsOptions{Follow: true}, tail, tail)
	}()
	code, err := j.eng.Wait(ctx, id)
	select {
	case <-logsDone:
	case <-time.After(5 * time.Second):
	}
	tail.w.(*lineWriter).flush()
	return id, code, tail.lines, err
}

// tailWriter passes output on and keeps its last lines.
type tailWriter struct {
	w       io.Writer
	max     int
	lines   []string
	pending string
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.pending += string(p)
	for {
		i := strings.IndexByte(t.pending, '\n')
		if i < 0 {
			break
		}
		t.lines = append(t.lines, strings.TrimRight(t.pending[:i], "\r"))
		if len(t.lines) > t.max {
			t.lines = t.lines[1:]
		}
		t.pending = t.pending[i+1:]
	}
	return t.w.Write(p)
}

// scriptCmd is the Cmd of a container running an app.json script, as
// Dokku builds it: an image with an ENTRYPOINT (other than tini) gets the
// script's words as its arguments; otherwise a shell runs it.
func (j *job) scriptCmd(script string) ([]string, error) {
	if ep := j.image.Entrypoint; len(ep) > 0 && !isTini(ep) {
		words, err := app.SplitWords(script)
		if err != nil {
			return nil, app.Invalidf("Invalid command %q: %v", script, err)
		}
		return words, nil
	}
	return []string{"/bin/sh", "-c", script}, nil
}

// isTini reports whether an ENTRYPOINT is only tini (["/tini", "--"] and
// the like), which Dokku does not treat as the app's own entrypoint.
func isTini(ep []string) bool {
	return len(ep) == 2 && ep[1] == "--" && path.Base(ep[0]) == "tini"
}

// script runs an app.json or Procfile task in a throw-away container with
// Dokku's lines ("Executing PHASE task from SOURCE: CMD", "Execution of
// PHASE task failed: CMD"); step names the deploy step in the error. It
// returns the container (removed by the caller) on success.
func (j *job) script(ctx context.Context, step, phase, source string, cmd []string, command string) (string, error) {
	if phase == "predeploy" {
		j.info("Executing %s task from %s: %s", phase, source, command)
	} else {
		j.info("Executing %s task from %s in ephemeral container: %s", phase, source, command)
	}
	id, code, tail, err := j.oneOff(ctx, strings.ReplaceAll(phase, ".", "-"), cmd)
	if err != nil {
		if c, mapped := startExitCode(err); c != 0 {
			return id, &StepError{Step: step, Err: taskFailed{phase, command, fmt.Sprintf("exit %d: %v", c, mapped)}}
		}
		return id, err
	}
	if code != 0 {
		return id, &StepError{Step: step, Err: taskFailed{phase, command, fmt.Sprintf("exit code %d", code)}, Tail: tail}
	}
	return id, nil
}

// taskFailed is a task that did not succeed, in Dokku's words.
type taskFailed struct{ phase, command, why string }

func (e taskFailed) Error() string {
	return fmt.Sprintf("Execution of %s task failed: %s (%s)", e.phase, e.command, e.why)
}

// predeploy runs app.json's scripts.dokku.predeploy in a container of the
// new image and keeps its file changes in the release image, as Dokku does.
func (j *job) predeploy(ctx context.Context) error {
	if j.files.AppJSON == nil || j.files.AppJSON.Scripts.Dokku.Predeploy == "" {
		return nil
	}
	script := j.files.AppJSON.Scripts.Dokku.Predeploy
	cmd, err := j.scriptCmd(script)
	if err != nil {
		return err
	}
	id, err := j.script(ctx, "predeploy", "predeploy", "app.json", cmd, script)
	if id != "" {
		defer j.eng.RemoveContainer(context.WithoutCancel(ctx), id, true)
	}
	if err != nil {
		return err
	}
	if _, err := j.eng.Commit(ctx, id, j.rel.Image, map[string]string{naming.LabelInstance: j.d.names.Instance(), naming.LabelApp: j.app.Name, naming.LabelRelease: strconv.Itoa(j.rel.Number)}); err != nil {
		return err
	}
	img, err := j.eng.InspectImage(ctx, j.rel.Image)
	if err != nil {
		return err
	}
	j.image, j.rel.ImageID = img, img.ID
	return nil
}

// releaseCommand runs the Procfile's release command once, in a throw-away
// container, before any new container starts; then, on the app's first
// deploy only, app.json's scripts.postdeploy (Heroku's, which Dokku runs
// there, once: a failed one is not retried).
func (j *job) releaseCommand(ctx context.Context) error {
	if err := j.procfileRelease(ctx); err != nil {
		return err
	}
	return j.herokuPostdeploy(ctx)
}

func (j *job) procfileRelease(ctx context.Context) error {
	if j.files.Procfile == nil {
		return nil
	}
	p, ok := j.files.Procfile.Lookup("release")
	if !ok {
		return nil
	}
	set, err := j.d.settings(ctx, j.app)
	if err != nil {
		return err
	}
	cmd, err := release.Command(p.Command, set.env)
	if err != nil {
		return err
	}
	id, err := j.script(ctx, "release-command", "release", "Procfile", cmd, p.Command)
	if id != "" {
		defer j.eng.RemoveContainer(context.WithoutCancel(ctx), id, true)
	}
	return err
}

// herokuPostdeploy runs app.json's scripts.postdeploy on the app's first
// deploy (no release was ever live), once.
func (j *job) herokuPostdeploy(ctx context.Context) error {
	if j.files.AppJSON == nil || j.files.AppJSON.Scripts.Postdeploy == "" {
		return nil
	}
	first := false
	err := j.d.store.Tx(ctx, func(tx *store.Tx) error {
		done, _, err := tx.Property(j.app.Scope(), "app-json", herokuPostdeployDone)
		if err != nil || done == "executed" {
			return err
		}
		if _, err := tx.LiveRelease(j.app); err == nil {
			return nil // deployed before: Heroku's postdeploy is for the first deploy
		} else if !errors.Is(err, store.ErrReleaseNotFound) {
			return err
		}
		first = true
		return tx.SetProperty(j.app.Scope(), "app-json", herokuPostdeployDone, "executed")
	})
	if err != nil || !first {
		return err
	}
	script := j.files.AppJSON.Scripts.Postdeploy
	cmd, err := j.scriptCmd(script)
	if err != nil {
		return err
	}
	id, err := j.script(ctx, "release-command", "heroku.postdeploy", "app.json", cmd, script)
	if id != "" {
		defer j.eng.RemoveContainer(context.WithoutCancel(ctx), id, true)
	}
	return err
}

// herokuPostdeployDone is the app-json property that records that
// scripts.postdeploy ran (Dokku's "heroku.postdeploy" = "executed").
const herokuPostdeployDone = "heroku.postdeploy"

// postdeploy runs app.json's scripts.dokku.postdeploy after the switch.
// The release is live whatever it does; a failure fails the deploy, as in
// Dokku, and says so.
func (j *job) postdeploy(ctx context.Context) error {
	if j.files.AppJSON == nil || j.files.AppJSON.Scripts.Dokku.Postdeploy == "" {
		return nil
	}
	script := j.files.AppJSON.Scripts.Dokku.Postdeploy
	cmd, err := j.scriptCmd(script)
	if err != nil {
		return err
	}
	id, err := j.script(ctx, "postdeploy", "postdeploy", "app.json", cmd, script)
	if id != "" {
		defer j.eng.RemoveContainer(context.WithoutCancel(ctx), id, true)
	}
	var se *StepError
	if errors.As(err, &se) {
		se.Err = fmt.Errorf("%v (release %d is live)", se.Err, j.rel.Number)
	}
	return err
}

// checkEngine is what health checks ask of the engine: a container's state,
// and commands run in it.
type checkEngine interface {
	InspectContainer(ctx context.Context, idOrName string) (docker.ContainerDetails, error)
	Execer
}

// engineContainer is a new container as health checks see it.
type engineContainer struct {
	eng      checkEngine
	id, name string
	hostPort int
	// proc is where the engine's processes are seen: "" means /proc.
	proc string
}

func (c engineContainer) Name() string  { return c.name }
func (c engineContainer) HostPort() int { return c.hostPort }

func (c engineContainer) State(ctx context.Context) (bool, int, time.Time, error) {
	det, err := c.eng.InspectContainer(ctx, c.id)
	if err != nil {
		return false, 0, time.Time{}, err
	}
	return det.Running && det.State != "restarting", det.RestartCount, det.StartedAt, nil
}

func (c engineContainer) Exec(ctx context.Context, cmd []string) (int, string, error) {
	var out strings.Builder
	code, err := c.eng.Exec(ctx, c.id, docker.ExecOptions{Cmd: cmd, Stdout: &out, Stderr: &out})
	return code, out.String(), err
}

// ListeningSockets reads the listening TCP sockets of the container's network
// namespace from /proc/PID/net of its main process, as the daemon sees it
// when it runs in the host's PID namespace. It makes sure that PID is the
// container's (its cgroup names the container) before trusting it.
func (c engineContainer) ListeningSockets(ctx context.Context) (health.Sockets, error) {
	det, err := c.eng.InspectContainer(ctx, c.id)
	if err != nil {
		return health.Sockets{}, err
	}
	if !det.Running {
		return health.Sockets{}, errors.New("container not running")
	}
	proc := c.proc
	if proc == "" {
		proc = "/proc"
	}
	if det.Pid <= 0 {
		return health.Sockets{}, fmt.Errorf("%w (the engine reports no process ID)", health.ErrSocketsUnavailable)
	}
	dir := filepath.Join(proc, strconv.Itoa(det.Pid))
	cg, err := os.ReadFile(filepath.Join(dir, "cgroup"))
	if err != nil || !strings.Contains(string(cg), det.ID) {
		return health.Sockets{}, fmt.Errorf("%w (process %d is not the container's here: is the daemon outside the host's PID namespace?)", health.ErrSocketsUnavailable, det.Pid)
	}
	s, err := health.ReadSockets(filepath.Join(dir, "net"))
	if err != nil {
		return s, fmt.Errorf("%w (%v)", health.ErrSocketsUnavailable, err)
	}
	for _, ip := range det.Networks {
		if a, err := netip.ParseAddr(ip); err == nil {
			s.Own = append(s.Own, a.Unmap())
		}
	}
	return s, nil
}

var (
	_ health.Container    = engineContainer{}
	_ health.SocketLister = engineContainer{}
)
