package deploy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/appfile"
	"github.com/berthpaas/berth/internal/docker"
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
		if err := extractArchive(j.src.Archive, dir); err != nil {
			return err
		}
		j.srcDir = dir
	case SourceGit:
		if j.src.Archive != nil {
			if err := extractTree(j.src.Archive, dir, false); err != nil {
				return err
			}
		} else if err := copyTree(j.src.Dir, dir); err != nil {
			return err
		}
		j.srcDir = dir
	case SourceRebuild:
		live, err := j.d.liveRelease(ctx, j.app)
		if errors.Is(err, store.ErrReleaseNotFound) {
			return api.Errorf(api.CodeInvalid, "%s has no live release to rebuild; deploy it first", j.app.Name)
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
			return api.Errorf(api.CodeInvalid, "The source of release %d is no longer kept; deploy the app again", live.Number)
		}
		if err := copyTree(old, dir); err != nil {
			return err
		}
		j.srcDir = dir
		j.rel.GitRev = live.GitRev
	case SourceImage:
	default:
		return fmt.Errorf("unknown source kind %q", j.src.Kind)
	}
	return nil
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
	if j.src.Kind == SourceImage {
		j.info("Deploying image %s", j.src.Ref)
		if _, err := j.eng.InspectImage(ctx, j.src.Ref); err != nil {
			if errors.Is(err, docker.ErrNotFound) {
				return api.Errorf(api.CodeInvalid, "Image %s is not on the engine: build or load it there first (Berth does not pull images)", j.src.Ref)
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
		df, err := readSourceFile(j.srcDir, set.dockerfilePath)
		if err != nil {
			return err
		}
		if df == nil {
			return api.Errorf(api.CodeInvalid, "No Dockerfile found at %s in the source: add one, or point to it with builder-dockerfile:set %s dockerfile-path PATH", set.dockerfilePath, j.app.Name)
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
		j.info("Building %s from %s", j.app.Name, set.dockerfilePath)
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(tarDir(j.srcDir, pw)) }()
		lw := &lineWriter{w: j.out, prefix: "       "}
		_, err = j.eng.Build(ctx, pr, docker.BuildOptions{
			Dockerfile: set.dockerfilePath,
			Tags:       []string{tag},
			Labels:     map[string]string{LabelInstance: j.d.names.Instance(), LabelApp: j.app.Name, LabelRelease: strconv.Itoa(j.rel.Number)},
			BuildArgs:  args,
			NoCache:    set.noCache,
		}, lw)
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
				return api.Errorf(api.CodeInvalid, "The image of release %d (%s) is gone from the engine; rebuild with ps:rebuild %s", j.rel.Number, j.rel.Image, j.app.Name)
			}
			return err
		}
		j.image = img
	}
	set, err := j.d.settings(ctx, j.app)
	if err != nil {
		return err
	}
	srcDir := j.srcDir
	if j.redeploy {
		srcDir = j.d.srcDirOf(j.app.Name, j.rel.Number)
		if _, err := os.Stat(srcDir); err != nil {
			srcDir = ""
		}
	}
	files, err := readAppFiles(srcDir, set.procfilePath)
	if err != nil {
		return err
	}
	var stored map[string]int
	if err := j.d.store.Tx(ctx, func(tx *store.Tx) (err error) { stored, err = tx.Formation(j.app); return err }); err != nil {
		return err
	}
	p, err := makePlan(files.procfile, files.appJSON, files.scale, stored, j.image.ExposedPorts)
	if err != nil {
		return err
	}
	j.plan = p
	if j.redeploy {
		return nil
	}
	j.rel.Processes, j.rel.WebPort = p.processes, p.webPort
	j.info("Releasing %s (release %d): %s", j.app.Name, j.rel.Number, describeFormation(p.order(), p.formation))
	return j.d.store.Tx(ctx, func(tx *store.Tx) error { return tx.UpdateRelease(j.rel) })
}

// appFiles are the files of an app's repository that shape its deploy.
type appFiles struct {
	procfile *appfile.Procfile
	appJSON  *appfile.AppJSON
	scale    map[string]int
}

func readAppFiles(srcDir, procfilePath string) (appFiles, error) {
	var f appFiles
	invalid := func(err error) error {
		return api.Errorf(api.CodeInvalid, "%s", firstLine(err.Error()))
	}
	b, err := readSourceFile(srcDir, procfilePath)
	if err != nil {
		return f, err
	}
	if b != nil {
		pf, err := appfile.ParseProcfile(b)
		if err != nil {
			return f, invalid(err)
		}
		f.procfile = &pf
	}
	if b, err = readSourceFile(srcDir, appfile.AppJSONName); err != nil {
		return f, err
	} else if b != nil {
		aj, err := appfile.ParseAppJSON(b)
		if err != nil {
			return f, invalid(err)
		}
		f.appJSON = &aj
	}
	if b, err = readSourceFile(srcDir, appfile.ScaleFileName); err != nil {
		return f, err
	} else if b != nil {
		if f.scale, err = appfile.ParseScale(b); err != nil {
			return f, invalid(err)
		}
	}
	return f, nil
}

// spec describes container TYPE.N of the job's release.
func (d *Deployer) spec(a store.App, rel store.Release, set appSettings, typ string, i int, name string) (docker.ContainerSpec, error) {
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
	cmd, err := command(rel.Processes[typ], env)
	if err != nil {
		return docker.ContainerSpec{}, err
	}
	spec := docker.ContainerSpec{
		Name:  name,
		Image: rel.Image,
		Cmd:   cmd,
		Env:   envList(env),
		Labels: map[string]string{
			LabelInstance: d.names.Instance(), LabelApp: a.Name, LabelKind: KindProcess,
			LabelRelease: strconv.Itoa(rel.Number), LabelProcess: typ, LabelIndex: strconv.Itoa(i),
		},
		Init:          true,
		RestartPolicy: set.restartPolicy,
		StopTimeout:   set.stopTimeout,
	}
	if typ == "web" {
		spec.PublishPort = rel.WebPort
	}
	return spec, nil
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
	for _, typ := range j.plan.order() {
		for i := 1; i <= j.plan.formation[typ]; i++ {
			name := j.d.names.Upcoming(j.app.Name, typ, i, j.rel.Number)
			spec, err := j.d.spec(j.app, j.rel, set, typ, i, name)
			if err != nil {
				return err
			}
			// A container left by an interrupted deploy may hold the name.
			j.eng.RemoveContainer(ctx, name, true)
			id, err := j.eng.CreateContainer(ctx, spec)
			if err != nil {
				return err
			}
			j.started = append(j.started, started{id: id, typ: typ, index: i, final: j.d.names.Container(j.app.Name, typ, i)})
			if err := j.eng.StartContainer(ctx, id); err != nil {
				return j.startError(typ, i, err)
			}
			j.info("Starting %s.%d", typ, i)
		}
	}
	return nil
}

func (j *job) startError(typ string, i int, err error) error {
	msg := firstLine(err.Error())
	if strings.Contains(msg, "executable file not found") || strings.Contains(msg, "no such file or directory") {
		return api.Errorf(api.CodeInvalid, "%s.%d cannot start: its command was not found in the image (%s)", typ, i, msg)
	}
	return err
}

// check makes sure every new container stays up, without restarting, for
// the default uptime (checks default-uptime-seconds, 10 s unless set).
// Health checks from CHECKS and app.json come with the proxy.
func (j *job) check(ctx context.Context) error {
	set, err := j.d.settings(ctx, j.app)
	if err != nil {
		return err
	}
	if len(j.started) == 0 {
		return nil
	}
	j.info("Waiting %ds for the new containers to stay up", set.uptime)
	deadline := time.Now().Add(time.Duration(set.uptime) * time.Second)
	for {
		for _, s := range j.started {
			det, err := j.eng.InspectContainer(ctx, s.id)
			if err != nil {
				return err
			}
			if !det.Running || det.RestartCount > 0 || det.State == "restarting" {
				var buf strings.Builder
				j.eng.Logs(ctx, s.id, docker.LogsOptions{Tail: "20"}, &buf, &buf)
				tail := splitLines(buf.String())
				for _, l := range tail {
					j.detail("%s", l)
				}
				why := fmt.Sprintf("it exited with code %d", det.ExitCode)
				if det.RestartCount > 0 || det.State == "restarting" {
					why = fmt.Sprintf("it keeps exiting (restarted %d times)", det.RestartCount)
				}
				return &StepError{Step: "check", Err: fmt.Errorf("%s did not stay up: %s", s.dyno(), why), Tail: tail}
			}
		}
		if !time.Now().Before(deadline) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(min(250*time.Millisecond, time.Until(deadline)+time.Millisecond)):
		}
	}
}

func splitLines(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// switchOver makes the release live.
func (j *job) switchOver(ctx context.Context) error {
	return j.d.store.Tx(ctx, func(tx *store.Tx) error {
		if !j.redeploy {
			if err := tx.MakeLive(j.rel, j.d.now()); err != nil {
				return err
			}
		}
		if err := tx.SetFormation(j.app, j.plan.formation); err != nil {
			return err
		}
		return tx.SetStopped(j.app, false)
	})
}

// retire stops and removes the app's other process containers and gives
// the new ones their final names. The release is live by now: failures are
// logged, not returned, and ps:restore tidies up what is left.
func (j *job) retire(ctx context.Context) error {
	ctx = context.WithoutCancel(ctx)
	keep := map[string]bool{}
	for _, s := range j.started {
		keep[s.id] = true
	}
	all, err := j.eng.ListContainers(ctx, j.d.names.KindLabels(j.app.Name, KindProcess), true)
	if err != nil {
		j.d.log.Warn("list containers to retire", "app", j.app.Name, "err", err)
	}
	set, _ := j.d.settings(ctx, j.app)
	for _, c := range all {
		if keep[c.ID] {
			continue
		}
		if err := j.eng.StopContainer(ctx, c.ID, time.Duration(set.stopTimeout)*time.Second); err != nil {
			j.d.log.Warn("stop old container", "app", j.app.Name, "container", c.Name, "err", err)
		}
		if err := j.eng.RemoveContainer(ctx, c.ID, true); err != nil {
			j.d.log.Warn("remove old container", "app", j.app.Name, "container", c.Name, "err", err)
		}
	}
	for _, s := range j.started {
		if err := j.eng.RenameContainer(ctx, s.id, s.final); err != nil {
			j.d.log.Warn("rename new container", "app", j.app.Name, "container", s.final, "err", err)
		}
	}
	j.d.pruneReleases(ctx, j.eng, j.app)
	j.info("Application deployed: %s release %d", j.app.Name, j.rel.Number)
	for _, s := range j.started {
		if s.typ != "web" {
			continue
		}
		if det, err := j.eng.InspectContainer(ctx, s.id); err == nil && det.HostPort != 0 {
			j.detail("%s: http://127.0.0.1:%d", s.dyno(), det.HostPort)
		}
	}
	return nil
}

// pruneReleases removes the images and sources of releases older than the
// last KeepReleases (the live one is always kept).
func (d *Deployer) pruneReleases(ctx context.Context, eng Engine, a store.App) {
	var rels []store.Release
	if err := d.store.Tx(ctx, func(tx *store.Tx) (err error) { rels, err = tx.Releases(a); return err }); err != nil {
		return
	}
	for i, r := range rels {
		if i < d.KeepReleases || r.Status == store.ReleaseLive || r.Status == store.ReleasePending {
			continue
		}
		if r.Image != "" {
			if err := eng.RemoveImage(ctx, r.Image, false); err != nil && !errors.Is(err, docker.ErrNotFound) {
				d.log.Debug("remove old release image", "app", a.Name, "image", r.Image, "err", err)
			}
		}
		os.RemoveAll(d.releaseDir(a.Name, r.Number))
	}
}

// copyTree copies a source tree, keeping modes and symlinks.
func copyTree(from, to string) error {
	return filepath.Walk(from, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, p)
		if err != nil {
			return err
		}
		dst := filepath.Join(to, rel)
		switch {
		case info.IsDir():
			return os.MkdirAll(dst, info.Mode().Perm()|0o700)
		case info.Mode()&os.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, dst)
		case info.Mode().IsRegular():
			in, err := os.Open(p)
			if err != nil {
				return err
			}
			defer in.Close()
			out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, info.Mode().Perm())
			if err != nil {
				return err
			}
			if _, err := io.Copy(out, in); err != nil {
				out.Close()
				return err
			}
			return out.Close()
		}
		return nil
	})
}
