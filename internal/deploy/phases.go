package deploy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
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
// secrets, and required keys that must be set.
func (j *job) envDefaults(ctx context.Context) error {
	if j.files.AppJSON == nil || len(j.files.AppJSON.Env) == 0 {
		return nil
	}
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
			if _, ok := vars[k]; ok {
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
				return app.Invalidf("app.json requires the config var %s: set it with config:set %s %s=VALUE", k, j.app.Name, k)
			}
		}
		if len(set) > 0 {
			if err := app.ValidateVars(set); err != nil {
				return app.Invalidf("app.json env: %v", err)
			}
			j.info("Setting config vars from app.json: %s", strings.Join(slices.Sorted(maps.Keys(set)), ", "))
		}
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

// predeploy runs app.json's scripts.dokku.predeploy in a container of the
// new image and keeps its file changes in the release image, as Dokku does.
func (j *job) predeploy(ctx context.Context) error {
	if j.files.AppJSON == nil || j.files.AppJSON.Scripts.Dokku.Predeploy == "" {
		return nil
	}
	script := j.files.AppJSON.Scripts.Dokku.Predeploy
	j.info("Running predeploy: %s", script)
	id, code, tail, err := j.oneOff(ctx, "predeploy", []string{"/bin/sh", "-c", script})
	if id != "" {
		defer j.eng.RemoveContainer(context.WithoutCancel(ctx), id, true)
	}
	if err != nil {
		return err
	}
	if code != 0 {
		return &StepError{Step: "predeploy", Err: fmt.Errorf("the predeploy command exited with code %d", code), Tail: tail}
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
// container, before any new container starts.
func (j *job) releaseCommand(ctx context.Context) error {
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
	j.info("Running the release command: %s", p.Command)
	id, code, tail, err := j.oneOff(ctx, "release", cmd)
	if id != "" {
		defer j.eng.RemoveContainer(context.WithoutCancel(ctx), id, true)
	}
	if err != nil {
		if c, mapped := startExitCode(err); c != 0 {
			return &StepError{Step: "release-command", Err: fmt.Errorf("exit %d: %v", c, mapped)}
		}
		return err
	}
	if code != 0 {
		return &StepError{Step: "release-command", Err: fmt.Errorf("the release command exited with code %d", code), Tail: tail}
	}
	return nil
}

// postdeploy runs app.json's scripts.dokku.postdeploy after the switch. The
// release is live whatever it does; a failure is reported.
func (j *job) postdeploy(ctx context.Context) error {
	if j.files.AppJSON == nil || j.files.AppJSON.Scripts.Dokku.Postdeploy == "" {
		return nil
	}
	script := j.files.AppJSON.Scripts.Dokku.Postdeploy
	j.info("Running postdeploy: %s", script)
	id, code, tail, err := j.oneOff(ctx, "postdeploy", []string{"/bin/sh", "-c", script})
	if id != "" {
		defer j.eng.RemoveContainer(context.WithoutCancel(ctx), id, true)
	}
	if err != nil {
		return err
	}
	if code != 0 {
		return &StepError{Step: "postdeploy", Err: fmt.Errorf("the postdeploy command exited with code %d (release %d is live)", code, j.rel.Number), Tail: tail}
	}
	return nil
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

var _ health.Container = engineContainer{}
