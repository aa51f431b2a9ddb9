package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/appfile"
	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/fsutil"
	"github.com/berthpaas/berth/internal/health"
	"github.com/berthpaas/berth/internal/logs"
	"github.com/berthpaas/berth/internal/naming"
	"github.com/berthpaas/berth/internal/release"
	"github.com/berthpaas/berth/internal/store"
)

// srcDirOf is where release n of app keeps its source tree.
func (d *Deployer) srcDirOf(app string, n int) string {
	return filepath.Join(d.releaseDir(app, n), "src")
}

// source puts the release's source tree in place.
func (j *job) source(ctx context.Context) error {
	dir := j.d.srcDirOf(j.app.Name, j.rel.Number)
	switch j.src.Kind {
	case SourceArchive:
		j.info("Unpacking the archive")
		limits, err := j.d.archiveLimits(ctx)
		if err != nil {
			return err
		}
		if err := release.ExtractArchiveLimited(j.src.Archive, dir, limits); err != nil {
			return err
		}
		j.srcDir = dir
	case SourceGit:
		if j.src.Archive != nil {
			if err := release.ExtractTree(j.src.Archive, dir); err != nil {
				return err
			}
		} else if err := fsutil.CopyTree(j.src.Dir, dir, false); err != nil {
			return err
		}
		j.srcDir = dir
	case SourceRebuild:
		live, err := j.d.liveRelease(ctx, j.app)
		if errors.Is(err, store.ErrReleaseNotFound) {
			return app.Invalidf("%s has no live release to rebuild; deploy it first", j.app.Name)
		}
		if err != nil {
			return err
		}
		j.info("Rebuilding %s from release %d", j.app.Name, live.Number)
		if live.Source == SourceImage {
			j.src = Source{Kind: SourceImage, Ref: live.SourceRef}
			return nil
		}
		old := j.d.srcDirOf(j.app.Name, live.Number)
		if _, err := os.Stat(old); err != nil {
			return app.Invalidf("The source of release %d is no longer kept; deploy the app again", live.Number)
		}
		if err := fsutil.CopyTree(old, dir, false); err != nil {
			return err
		}
		j.srcDir = dir
		j.rel.GitRev = live.GitRev
	case SourceRollback:
		j.info("Rolling %s back to release %d", j.app.Name, j.rollbackOf.Number)
		if old := j.d.srcDirOf(j.app.Name, j.rollbackOf.Number); dirExists(old) {
			if err := fsutil.CopyTree(old, dir, false); err != nil {
				return err
			}
			j.srcDir = dir
		}
	case SourceImage:
	default:
		return fmt.Errorf("unknown source kind %q", j.src.Kind)
	}
	if j.src.Kind == SourceRollback {
		return nil // the files the release read are kept with it
	}
	return j.applyBuildDir(ctx)
}

// lockedWriter serializes writes from several goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// lineWriter prefixes every line written through it.
type lineWriter struct {
	w       io.Writer
	prefix  string
	pending []byte
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.pending = append(l.pending, p...)
	for {
		i := strings.IndexByte(string(l.pending), '\n')
		if i < 0 {
			return len(p), nil
		}
		if _, err := fmt.Fprintf(l.w, "%s%s\n", l.prefix, strings.TrimRight(string(l.pending[:i]), "\r")); err != nil {
			return 0, err
		}
		l.pending = l.pending[i+1:]
	}
}

func (l *lineWriter) flush() {
	if len(l.pending) > 0 {
		fmt.Fprintf(l.w, "%s%s\n", l.prefix, l.pending)
		l.pending = nil
	}
}

// build makes the release's image: from the Dockerfile, or by tagging the
// given image.
func (j *job) build(ctx context.Context) error {
	tag := j.d.names.Image(j.app.Name, j.rel.Number)
	if j.src.Kind == SourceRollback {
		if err := j.eng.TagImage(ctx, j.rollbackOf.Image, tag); err != nil {
			return err
		}
	} else if j.src.Kind == SourceImage {
		if err := j.refuseOthersImages(ctx, nil, nil); err != nil {
			return err
		}
		j.info("Deploying image %s", j.src.Ref)
		if _, err := j.eng.InspectImage(ctx, j.src.Ref); err != nil {
			if errors.Is(err, docker.ErrNotFound) {
				return app.Invalidf("Image %s is not on the engine: build or load it there first (Berth does not pull images)", j.src.Ref)
			}
			return err
		}
		if err := j.eng.TagImage(ctx, j.src.Ref, tag); err != nil {
			return err
		}
	} else {
		set, err := j.d.settings(ctx, j.app)
		if err != nil {
			return err
		}
		df, err := release.ReadSourceFile(j.srcDir, set.dockerfilePath)
		if err != nil {
			return err
		}
		if df == nil {
			return app.Invalidf("No Dockerfile found at %s in the source: add one, or point to it with builder-dockerfile:set %s dockerfile-path PATH", set.dockerfilePath, j.app.Name)
		}
		args := map[string]string{}
		for _, a := range set.buildArgs {
			k, v, ok := strings.Cut(a, "=")
			if !ok {
				v, ok = set.env[k]
				if !ok {
					continue
				}
			}
			args[k] = v
		}
		if err := j.refuseOthersImages(ctx, df, args); err != nil {
			return err
		}
		j.info("Building %s from %s", j.app.Name, set.dockerfilePath)
		noteSkippedBuildOptions(j, set.buildSkipped)
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(release.TarDir(j.srcDir, pw)) }()
		lw := &lineWriter{w: j.out, prefix: "       "}
		j.d.imageGate.RLock() // no image removal while building: see removeImage
		_, err = j.eng.Build(ctx, pr, docker.BuildOptions{
			Dockerfile: set.dockerfilePath,
			Tags:       []string{tag},
			Labels:     map[string]string{naming.LabelInstance: j.d.names.Instance(), naming.LabelApp: j.app.Name, naming.LabelRelease: strconv.Itoa(j.rel.Number)},
			BuildArgs:  args,
			NoCache:    set.noCache,
		}, lw)
		j.d.imageGate.RUnlock()
		lw.flush()
		pr.Close()
		if err != nil {
			var be *docker.BuildError
			if errors.As(err, &be) {
				return &StepError{Step: "build", Err: err, Tail: be.Tail}
			}
			return err
		}
	}
	img, err := j.eng.InspectImage(ctx, tag)
	if err != nil {
		return err
	}
	j.image = img
	j.rel.Image, j.rel.ImageID = tag, img.ID
	return nil
}

// release reads the release's Procfile, app.json and DOKKU_SCALE and plans
// its processes.
func (j *job) release(ctx context.Context) error {
	if j.redeploy {
		img, err := j.eng.InspectImage(ctx, j.rel.Image)
		if err != nil {
			if errors.Is(err, docker.ErrNotFound) {
				return app.Invalidf("The image of release %d (%s) is gone from the engine; rebuild with ps:rebuild %s", j.rel.Number, j.rel.Image, j.app.Name)
			}
			return err
		}
		j.image = img
	}
	set, err := j.d.settings(ctx, j.app)
	if err != nil {
		return err
	}
	files, err := j.readFiles(ctx, set)
	if err != nil {
		return err
	}
	j.files = files
	var stored map[string]int
	if err := j.d.store.Tx(ctx, func(tx *store.Tx) (err error) { stored, err = tx.Formation(j.app); return err }); err != nil {
		return err
	}
	scale := files.Scale
	if j.redeploy {
		// DOKKU_SCALE sets the formation when a release is deployed, not
		// when its containers are replaced (config:set, ps:restart): a
		// ps:scale since then stays, as in Dokku, which reads it at build.
		scale = nil
	}
	p, err := release.MakePlan(files.Procfile, files.AppJSON, scale, stored, j.image.ExposedPorts)
	if err != nil {
		return err
	}
	if j.d.portFor != nil && j.rollbackOf == nil {
		if p.WebPort, err = j.d.portFor(ctx, j.app.Name, p.WebPort); err != nil {
			return err
		}
	}
	if j.rollbackOf != nil {
		p = release.RollbackPlan(p, *j.rollbackOf)
		if j.rollbackOf.Config != nil {
			j.info("Restoring the config of release %d", j.rollbackOf.Number)
			err := j.d.store.Tx(ctx, func(tx *store.Tx) error {
				if err := tx.ClearConfig(j.app.Scope()); err != nil {
					return err
				}
				return tx.SetConfig(j.app.Scope(), j.rollbackOf.Config)
			})
			if err != nil {
				return err
			}
		}
	}
	j.plan = p
	if j.redeploy {
		// Dokku's line for every release it deploys, config changes and
		// restarts included.
		j.info("Releasing %s (release %d, new containers): %s", j.app.Name, j.rel.Number, release.DescribeFormation(p.Order(), p.Formation))
		return nil
	}
	for _, n := range p.Notes {
		j.info("%s", n)
	}
	if cmd, ok := p.Processes["web"]; ok && cmd == "" {
		j.info("%s", release.NoProcfileNote(files, j.image.Entrypoint, j.image.Cmd))
	}
	// The formation is recorded now, so a release that fails later still
	// says what it would have run.
	j.rel.Processes, j.rel.WebPort, j.rel.Formation = p.Processes, p.WebPort, p.Formation
	j.info("Releasing %s (release %d): %s", j.app.Name, j.rel.Number, release.DescribeFormation(p.Order(), p.Formation))
	return j.d.store.Tx(ctx, func(tx *store.Tx) error { return tx.UpdateRelease(j.rel) })
}

// spec describes container TYPE.N of the job's release.
func (d *Deployer) spec(a store.App, rel store.Release, set appSettings, typ string, i int, name, generation string) (docker.ContainerSpec, error) {
	env := map[string]string{}
	for k, v := range set.env {
		env[k] = v
	}
	dyno := fmt.Sprintf("%s.%d", typ, i)
	env["DYNO"] = dyno
	if typ == "web" {
		env["PORT"] = strconv.Itoa(rel.WebPort)
	}
	if rel.GitRev != "" {
		env["GIT_REV"] = rel.GitRev
	}
	command := rel.Processes[typ]
	if command == "" {
		// No Procfile command: the image's CMD, or dockerfile-start-cmd
		// in its place (Dokku's arguments to docker run).
		command = set.dockerfileStartCmd
	}
	cmd, err := release.Command(command, env)
	if err != nil {
		return docker.ContainerSpec{}, err
	}
	spec := docker.ContainerSpec{
		Name:  name,
		Image: rel.Image,
		Cmd:   cmd,
		Env:   envList(env),
		Labels: map[string]string{
			naming.LabelInstance: d.names.Instance(), naming.LabelApp: a.Name, naming.LabelKind: naming.KindProcess,
			naming.LabelRelease: strconv.Itoa(rel.Number), naming.LabelProcess: typ, naming.LabelIndex: strconv.Itoa(i),
			naming.LabelGeneration: generation,
		},
		Init:          true,
		RestartPolicy: set.restartPolicy,
		StopTimeout:   set.stopTimeout,
		Network:       set.network,
	}
	if typ == "web" {
		spec.PublishPort = rel.WebPort
	}
	spec.LogMaxSize = set.logMaxSize
	return spec, set.apply("deploy", typ, &spec)
}

func envList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// start creates and starts the release's containers beside the old ones.
func (j *job) start(ctx context.Context) error {
	set, err := j.d.settings(ctx, j.app)
	if err != nil {
		return err
	}
	for _, typ := range j.plan.Order() {
		if set.checksDisabledFor(typ) && j.plan.Formation[typ] > 0 {
			// checks:disable: the old containers of the type stop first,
			// as in Dokku (there is nothing to wait for).
			if err := j.stopType(ctx, typ, set); err != nil {
				return err
			}
		}
		specs := make([]docker.ContainerSpec, j.plan.Formation[typ])
		for k := range specs {
			name := j.d.names.Upcoming(j.app.Name, typ, k+1, j.rel.Number, j.generation)
			if specs[k], err = j.d.spec(j.app, j.rel, set, typ, k+1, name, j.generation); err != nil {
				return err
			}
		}
		// The containers of a type are created and started at once (the
		// engine's round trips and network setup overlap: ps:scale web=3,
		// a deploy of several); each created one is the job's to remove
		// if the deploy fails.
		ids, errs := createStart(ctx, j.eng, specs)
		var first error
		for k, id := range ids {
			if id != "" {
				j.started = append(j.started, started{id: id, typ: typ, index: k + 1, final: j.d.names.Container(j.app.Name, typ, k+1)})
			}
			switch {
			case errs[k] != nil && first == nil:
				first = errs[k]
				if id != "" { // created, not started
					first = j.startError(typ, k+1, errs[k])
				}
			case errs[k] == nil && first == nil:
				j.info("Starting %s.%d", typ, k+1)
			}
		}
		if first != nil {
			return first
		}
	}
	return nil
}

// startConcurrency bounds the containers one deploy or reconciliation
// creates and starts at once.
const startConcurrency = 4

// createStart creates and starts a container of each spec, up to
// startConcurrency at once. ids[k] is the container of specs[k] ("": not
// created); errs[k] is its creation's or start's error.
func createStart(ctx context.Context, eng Engine, specs []docker.ContainerSpec) (ids []string, errs []error) {
	ids, errs = make([]string, len(specs)), make([]error, len(specs))
	one := func(k int) { ids[k], errs[k] = createStartOne(ctx, eng, specs[k]) }
	if len(specs) == 1 {
		one(0)
		return ids, errs
	}
	sem := make(chan struct{}, startConcurrency)
	var wg sync.WaitGroup
	for k := range specs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			one(k)
		})
	}
	wg.Wait()
	return ids, errs
}

// createStartOne creates and starts a container of spec; its id is ""
// when it was not created.
func createStartOne(ctx context.Context, eng Engine, spec docker.ContainerSpec) (string, error) {
	id, err := eng.CreateContainer(ctx, spec)
	if err != nil {
		return "", err
	}
	return id, eng.StartContainer(ctx, id)
}

// stopType stops the running containers of a process type (checks:disable).
func (j *job) stopType(ctx context.Context, typ string, set appSettings) error {
	labels := j.d.names.KindLabels(j.app.Name, naming.KindProcess)
	labels[naming.LabelProcess] = typ
	cs, err := j.eng.ListContainers(ctx, labels, false)
	if err != nil {
		return err
	}
	for _, c := range cs {
		j.info("Stopping %s first (checks are disabled for %s)", c.Name, typ)
		if err := j.eng.StopContainer(ctx, c.ID, time.Duration(set.stopTimeout)*time.Second); err != nil {
			return err
		}
	}
	return nil
}

func (j *job) startError(typ string, i int, err error) error {
	msg := firstLine(err.Error())
	if strings.Contains(msg, "executable file not found") || strings.Contains(msg, "no such file or directory") {
		return app.Invalidf("%s.%d cannot start: its command was not found in the image (%s)", typ, i, msg)
	}
	return err
}

// check runs each new container's startup checks: app.json healthchecks,
// CHECKS for web, or (with none) the default uptime. checks:skip and
// checks:disable turn them off per process type.
func (j *job) check(ctx context.Context) error {
	set, err := j.d.settings(ctx, j.app)
	if err != nil {
		return err
	}
	var checks []func(context.Context) error
	for _, s := range j.started {
		if !set.checksOff(s.typ) {
			checks = append(checks, func(ctx context.Context) error { return j.checkOne(ctx, s, set) })
		}
	}
	return j.checkAll(ctx, checks)
}

// checkAll runs checks at once (each container's, or each Swarm
// service's); the first failure cancels the rest and is returned (a
// StepError before any other). Their lines go out one write at a time,
// whatever j.out is.
func (j *job) checkAll(ctx context.Context, checks []func(context.Context) error) error {
	if _, ok := j.out.(*lockedWriter); !ok {
		out := j.out
		j.out = &lockedWriter{w: out}
		defer func() { j.out = out }()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, len(checks))
	var wg sync.WaitGroup
	for _, check := range checks {
		wg.Go(func() {
			if err := check(ctx); err != nil {
				errs <- err
				cancel()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		var se *StepError
		if errors.As(err, &se) {
			return err
		}
		if ctx.Err() == nil || !errors.Is(err, context.Canceled) {
			return err
		}
	}
	return nil
}

// checkOne runs one container's checks.
func (j *job) checkOne(ctx context.Context, s started, set appSettings) error {
	det, err := j.eng.InspectContainer(ctx, s.id)
	if err != nil {
		return err
	}
	c := engineContainer{eng: j.eng, id: s.id, name: s.dyno(), hostPort: det.HostPort}
	checks, err := j.files.StartupChecks(s.typ, set.env)
	if err != nil {
		return err
	}
	startup := 0
	for _, c := range checks {
		if c.Type == "" || c.Type == appfile.HealthcheckStartup {
			startup++
		}
	}
	window := time.Duration(set.uptime) * time.Second
	up := window
	if j.settles {
		up = min(window, settle)
	}
	switch {
	case startup > 0:
		j.info("Running %d health check(s) for %s", startup, s.dyno())
	case up < window:
		j.info("Waiting %s for %s to stay up (then watched until it has run %s)", up, s.dyno(), window)
	default:
		j.info("Waiting %s for %s to stay up", up, s.dyno())
	}
	opts := health.RunOptions{DefaultUptime: up, WebPort: j.rel.WebPort}
	if j.d.checkHostFor != nil {
		opts.Host = j.d.checkHostFor(ctx, j.app.Name)
	}
	results, err := health.RunWith(ctx, c, checks, opts, j.out)
	if err == nil || errors.Is(err, context.Canceled) {
		return err
	}
	failed := 0
	for _, r := range results {
		if !r.Passed && !r.Warned {
			failed++
		}
	}
	return j.checkFailed(ctx, s, err, failed)
}

// checkFailed explains a container's failed checks: how it ended (its exit
// code), whether it ran the image's default command for want of a
// Procfile, and its last output, which is also kept for `logs`.
func (j *job) checkFailed(ctx context.Context, s started, err error, failed int) error {
	fc := logs.Explain(context.WithoutCancel(ctx), j.eng, s.id, s.dyno())
	j.failed.Add(fc)
	if fc.Status != "running" {
		err = fmt.Errorf("%w (%s %s)", err, s.dyno(), fc.Status)
	}
	var more []string
	if failed > 0 {
		// Dokku's words (scripts and Dokku's tests look for them), in the
		// progress and in the error, as Dokku prints them.
		fmt.Fprintf(j.out, "       %s: Could not start due to %d failed checks\n", s.dyno(), failed)
		more = append(more, fmt.Sprintf("Could not start due to %d failed checks", failed))
	}
	if cmd, ok := j.rel.Processes[s.typ]; ok && cmd == "" && j.image.ID != "" {
		more = append(more, release.NoProcfileNote(j.files, j.image.Entrypoint, j.image.Cmd))
	}
	tail := fc.Tail(logs.TailLines)
	if len(tail) == 0 {
		more = append(more, s.dyno()+" printed nothing")
	} else {
		more = append(more, "Last output of "+s.dyno()+":")
		for _, l := range tail {
			more = append(more, "  "+l)
		}
	}
	return &StepError{Step: "check", Err: err, Tail: tail, More: more}
}
