// Package deploy turns a source (an archive, an image, a git push) into
// running containers, as a pipeline of named steps: source, build, release,
// start, check, switch, retire. A step that fails before the switch leaves
// the previous release running and untouched.
package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/failpoint"
	"github.com/berthpaas/berth/internal/logs"
	"github.com/berthpaas/berth/internal/naming"
	"github.com/berthpaas/berth/internal/release"
	"github.com/berthpaas/berth/internal/store"
)

// Source kinds.
const (
	SourceArchive = "archive"
	SourceImage   = "image"
	SourceRebuild = "rebuild"
	SourceGit     = "git"
)

// Source is what a deploy starts from.
type Source struct {
	Kind string
	// Archive is a tar or tar.gz stream of the source tree (SourceArchive).
	Archive io.Reader
	// Ref describes the source: the image name (SourceImage), the archive's
	// URL, the git ref.
	Ref string
	// Dir is an already unpacked source tree to copy (SourceGit).
	Dir    string
	GitRev string
	// Apps, when not nil, are the only apps the caller may touch (an ssh
	// key scoped to some apps): the deploy refuses an image that is another
	// app's release image, whether deployed (SourceImage) or built from by
	// the Dockerfile. nil is an admin (or the daemon itself).
	Apps []string
}

// Deployer runs deploys and keeps apps' containers as they should be.
type Deployer struct {
	store         *store.Store
	engine        func(ctx context.Context) (Engine, error)
	names         naming.Names
	dataDir       string
	log           *slog.Logger
	now           func() time.Time
	router        Router
	networkFor    func(ctx context.Context, app string) (string, error)
	portFor       func(ctx context.Context, app string, detected int) (int, error)
	checkHostFor  func(ctx context.Context, app string) string
	keepReleases  int
	lastExit      func(containerID string) (LastExit, bool)
	failpoint     func(name string) error
	containerOpts func(ctx context.Context, app string) (ContainerOptions, error)
	idle          func()
	ended         func(DeployEnd)
	publisher     Publisher
	swarm         func(ctx context.Context) (Swarm, error)
	attachOverlay func(ctx context.Context, app, network string) error
	nodeShell     NodeShell
	snapshots     Snapshotter
	locks         locks
	// retiring tracks old containers waiting out wait-to-retire.
	retiring sync.WaitGroup
	// imageGate keeps image removals and builds apart: see removeImage.
	imageGate sync.RWMutex
}

// Config is what a Deployer is built with.
type Config struct {
	Store *store.Store
	// Engine connects to the container engine on demand (so Berth starts,
	// and reports the engine's absence in one line, when the engine is
	// down); its error matches docker.ErrEngineUnavailable then.
	Engine  func(ctx context.Context) (Engine, error)
	Names   naming.Names
	DataDir string
	Log     *slog.Logger
	// Router is the proxy. Without one (tests, no proxy), switching is
	// just marking the release live, and nothing is drained.
	Router Router
	// NetworkFor names the network an app's containers join ("" for the
	// engine's default): the services network when the app has links. nil
	// is always "".
	NetworkFor func(ctx context.Context, app string) (string, error)
	// PortFor maps the detected web port to the one the app's port map
	// (ports:set) names; nil keeps the detected one.
	PortFor func(ctx context.Context, app string, detected int) (int, error)
	// CheckHostFor is the Host that path checks without one of their own
	// send (the app's first domain); nil or "" leaves 127.0.0.1:PORT.
	CheckHostFor func(ctx context.Context, app string) string
	// KeepReleases is how many releases' images and sources are kept for
	// rollback and rebuilds (releases:set APP keep N overrides it); 0 is 5.
	KeepReleases int
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// LastExit is how a process container last ended, as the daemon saw
	// it (ps:report); nil: not known.
	LastExit func(containerID string) (LastExit, bool)
	// Failpoint is checked with "deploy-STEP" before each step (or, in the
	// steps that run a one-off container, once it runs): an error fails
	// the step (nil: failpoint.Hit, armed by BERTH_FAILPOINTS).
	Failpoint func(name string) error
	// ContainerOptions reads what an app's settings add to the containers
	// it runs (docker-options, storage mounts, resource limits: see
	// containeropts.go); nil adds nothing.
	ContainerOptions func(ctx context.Context, app string) (ContainerOptions, error)
	// Idle, if set, is called each time a piece of background work (a
	// watch after a switch, a retirement, an image removal) ends: the
	// daemon gives freed memory back a while after (package memtrim).
	Idle func()
	// Publisher puts release images in the cluster's registry for apps
	// on the Swarm scheduler (nil: such deploys fail, saying so).
	Publisher Publisher
	// Swarm connects to the engine's Swarm side (the same engine as
	// Engine); nil: no app runs on Swarm.
	Swarm func(ctx context.Context) (Swarm, error)
	// AttachOverlay attaches what an app's Swarm tasks reach by name (its
	// linked services) to the app's overlay network; nil: nothing.
	AttachOverlay func(ctx context.Context, app, network string) error
	// NodeShell runs enter's docker exec on other nodes of the swarm;
	// nil: enter reaches only the tasks on this server's node.
	NodeShell NodeShell
	// Ended, if set, is told how each deploy, redeploy and rollback that
	// got to its steps ended (notifications; see ended.go).
	Ended func(DeployEnd)
	// Snapshots copies the databases linked to an app before a release's
	// predeploy or release command, and restores them (snapshot.go); nil:
	// no snapshots.
	Snapshots Snapshotter
}

// New returns a Deployer built from c.
func New(c Config) *Deployer {
	d := &Deployer{
		store: c.Store, engine: c.Engine, names: c.Names, dataDir: c.DataDir, log: c.Log, now: c.Now,
		router: c.Router, networkFor: c.NetworkFor, portFor: c.PortFor, checkHostFor: c.CheckHostFor,
		keepReleases: c.KeepReleases, lastExit: c.LastExit, failpoint: c.Failpoint,
		containerOpts: c.ContainerOptions, idle: c.Idle, publisher: c.Publisher, swarm: c.Swarm, attachOverlay: c.AttachOverlay,
		nodeShell: c.NodeShell, ended: c.Ended, snapshots: c.Snapshots,
	}
	if d.failpoint == nil {
		d.failpoint = failpoint.Hit
	}
	if d.now == nil {
		d.now = time.Now
	}
	if d.keepReleases == 0 {
		d.keepReleases = 5
	}
	return d
}

// Names returns the naming scheme of the deployer's Docker objects.
func (d *Deployer) Names() naming.Names { return d.names }

// releaseDir is where the source tree of a release is kept.
func (d *Deployer) releaseDir(app string, n int) string {
	return filepath.Join(d.dataDir, "apps", app, "releases", fmt.Sprint(n))
}

// StepError is a deploy that failed at a named step.
type StepError struct {
	Step string
	Err  error
	// Tail holds the last lines of the step's output (build log, container log).
	Tail []string
	// More are lines the error shows after its first (why a container
	// stopped, its last output).
	More []string
}

func (e *StepError) Error() string {
	msg := fmt.Sprintf("Deploy failed at step %s: %v", e.Step, firstLine(e.Err.Error()))
	if len(e.More) > 0 {
		msg += "\n" + strings.Join(e.More, "\n")
	}
	return msg
}

func (e *StepError) Unwrap() error { return e.Err }

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// connect returns the engine; when it is not there, the error matches
// docker.ErrEngineUnavailable (the daemon shows its first line).
func (d *Deployer) connect(ctx context.Context) (Engine, error) {
	return d.engine(ctx)
}

// appNotFound is the error for a missing app, worded as Dokku words it.
func appNotFound(name string) error {
	return app.Errorf(store.ErrAppNotFound, "App %s does not exist", name)
}

// job is one deploy in progress.
type job struct {
	d      *Deployer
	eng    Engine
	app    store.App
	rel    store.Release
	src    Source
	out    io.Writer
	srcDir string // the release's source tree ("" for image deploys)
	image  docker.ImageInfo
	plan   release.Plan
	files  release.Files
	// started are the new containers, with their final names.
	started []started
	// retiring are the old web containers the switch replaced: drained,
	// then stopped after wait-to-retire.
	retiring []oldContainer
	// stopped is closed once the old containers that took no traffic
	// have stopped (nil when there were none).
	stopped chan struct{}
	// redeploy reuses the live release instead of building a new one.
	redeploy bool
	// rollbackOf is the release a rollback redeploys.
	rollbackOf *store.Release
	// switched is set once the new release is live.
	switched bool
	// retireScheduled is set once the old web containers' retirement is
	// scheduled.
	retireScheduled bool
	// failed collects the output of containers that failed their checks.
	failed logs.Failed
	// watch is how long after their start the new containers are watched
	// once the release is live (0: not at all); see watch.go.
	watch time.Duration
	// settles is set for a deploy, which switches and watches: a type
	// without checks stays up only settle before the switch. Scaling and
	// checks:run are not watched after: they wait the whole window.
	settles bool
	// undo is what the switch changed, to put back (switchBack).
	undo switchUndo
	// oldNames are the old containers' names before the switch renamed
	// them, by ID.
	oldNames map[string]string
	// stopLater are the old containers that took no traffic, kept
	// running while the new ones are watched.
	stopLater []oldContainer
	// steps are how long each step that ran took, in order.
	steps []store.StepTime
	// generation labels this deploy's containers.
	generation string
	holder     string
	// sched runs the processes (scheduler.go), chosen at the start step
	// from the app's scheduler:set selected.
	sched scheduler
	// services are the Swarm services this deploy created (swarm.go).
	services []swarmService
	// snaps are the snapshots this deploy took (snapshot.go).
	snaps []store.ReleaseSnapshot
	// restoreFrom is what a rollback --with-data restores.
	restoreFrom *DataPlan
}

// oldContainer is a container the switch retires.
type oldContainer struct {
	id, name, addr string
}

type started struct {
	id, final string
	typ       string
	index     int
}

// dyno is the container's TYPE.N.
func (s started) dyno() string { return fmt.Sprintf("%s.%d", s.typ, s.index) }

type step struct {
	name string
	run  func(j *job, ctx context.Context) error
	// oneOff steps run a command in a container of their own: their
	// failpoint is checked once it runs (oneOff), not before the step.
	oneOff bool
}

// steps is the deploy pipeline. Later issues insert steps (predeploy,
// release command, health checks, proxy switch) by name.
var steps = []step{
	{"source", (*job).source, false},
	{"build", (*job).build, false},
	{"release", (*job).release, false},
	{"env", (*job).envDefaults, false},
	{"snapshot", (*job).snapshot, false},
	{"predeploy", (*job).predeploy, true},
	{"release-command", (*job).releaseCommand, true},
	{"restore-data", (*job).restoreData, false},
	{"start", func(j *job, ctx context.Context) error { return j.sched.start(ctx, j) }, false},
	{"check", func(j *job, ctx context.Context) error { return j.sched.check(ctx, j) }, false},
	{"switch", func(j *job, ctx context.Context) error { return j.sched.switchOver(ctx, j) }, false},
	{"drain", func(j *job, ctx context.Context) error { return j.sched.drain(ctx, j) }, false},
	{"retire", func(j *job, ctx context.Context) error { return j.sched.retire(ctx, j) }, false},
	{"postdeploy", (*job).postdeploy, true},
}

// pipeline returns the steps a job runs. A redeploy (new containers of
// the live release) has no source, build or app.json env, and runs no
// predeploy, release or postdeploy command; a rollback (an earlier
// release's image and config, as a new release) sets no env and runs no
// predeploy or release command, but runs postdeploy. snapshot and
// restore-data (snapshot.go) are left out by run when they have nothing
// to do: a deploy without a predeploy or release command, a rollback
// without --with-data.
func pipeline(redeploy, rollback bool) []step {
	skip := map[string]bool{}
	if redeploy {
		for _, n := range []string{"source", "build", "env", "snapshot", "predeploy", "release-command", "restore-data", "postdeploy"} {
			skip[n] = true
		}
	}
	if rollback {
		for _, n := range []string{"env", "snapshot", "predeploy", "release-command"} {
			skip[n] = true
		}
	}
	var out []step
	for _, s := range steps {
		if !skip[s.name] {
			out = append(out, s)
		}
	}
	return out
}

// Deploy builds and runs a new release of app from src, writing progress to
// out. holder names who deploys, for the lock message.
func (d *Deployer) Deploy(ctx context.Context, appName string, src Source, out io.Writer, holder string) (store.Release, error) {
	return d.run(ctx, appName, holder, out, func(j *job) error {
		j.src = src
		return nil
	})
}

// Redeploy starts new containers of the live release (after a config
// change, ps:restart) and retires the old ones. It reports false when the
// app has no live release.
func (d *Deployer) Redeploy(ctx context.Context, appName string, out io.Writer, holder string) (bool, error) {
	var deployed bool
	_, err := d.run(ctx, appName, holder, out, func(j *job) error {
		live, err := d.liveRelease(ctx, j.app)
		if errors.Is(err, store.ErrReleaseNotFound) {
			return errNothingDeployed
		}
		if err != nil {
			return err
		}
		deployed = true
		j.rel, j.redeploy = live, true
		return nil
	})
	if errors.Is(err, errNothingDeployed) {
		return false, nil
	}
	return deployed, err
}

var errNothingDeployed = errors.New("nothing deployed")

func (d *Deployer) liveRelease(ctx context.Context, a store.App) (store.Release, error) {
	var r store.Release
	err := d.store.Tx(ctx, func(tx *store.Tx) error {
		var err error
		r, err = tx.LiveRelease(a)
		return err
	})
	return r, err
}

func (d *Deployer) run(ctx context.Context, appName, holder string, out io.Writer, setup func(j *job) error) (store.Release, error) {
	unlock, err := d.locks.acquire(ctx, appName, holder, d.now)
	if err != nil {
		return store.Release{}, err
	}
	watching := false // the watch lets the lock go (watch.go)
	defer func() {
		if !watching {
			unlock()
		}
	}()
	j := &job{d: d, out: out, holder: holder, generation: randomID() + randomID(), settles: true}
	err = d.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := tx.App(appName)
		if errors.Is(err, store.ErrAppNotFound) {
			return appNotFound(appName)
		}
		j.app = a
		return err
	})
	if err != nil {
		return store.Release{}, err
	}
	if j.app.Locked {
		return store.Release{}, app.Errorf(app.ErrLocked, "%s is locked for deployment (apps:lock); run apps:unlock %s to deploy", appName, appName)
	}
	if err := setup(j); err != nil {
		return store.Release{}, err
	}
	if j.eng, err = d.connect(ctx); err != nil {
		return store.Release{}, err
	}
	set, err := d.settings(ctx, j.app)
	if err != nil {
		return store.Release{}, err
	}
	if set.scheduler == SchedulerNull {
		return store.Release{}, app.Invalidf("%s's scheduler is null, which runs nothing: scheduler:set %s selected docker-local (or swarm) to deploy it", appName, appName)
	}
	j.sched = d.schedulerFor(set)
	if !j.redeploy {
		err := d.store.Tx(ctx, func(tx *store.Tx) error {
			r := store.Release{Source: j.src.Kind, SourceRef: j.src.Ref, GitRev: j.src.GitRev, CreatedAt: d.now(), StartedBy: holder}
			if j.rollbackOf != nil {
				r.RollbackOf, r.GitRev = j.rollbackOf.Number, j.rollbackOf.GitRev
			}
			r, err := tx.CreateRelease(j.app, r)
			j.rel = r
			return err
		})
		if err != nil {
			return store.Release{}, err
		}
	}
	d.log.Info("deploy started", "app", appName, "release", j.rel.Number, "redeploy", j.redeploy, "by", holder)
	began := time.Now()
	defer func() { j.recordSteps(ctx) }()
	for _, s := range pipeline(j.redeploy, j.rollbackOf != nil) {
		if (s.name == "snapshot" && (j.d.snapshots == nil || j.migrates() == "")) || (s.name == "restore-data" && j.restoreFrom == nil) {
			continue // not timed, not listed: nothing to do
		}
		if s.name == "start" && !j.redeploy && j.rollbackOf == nil {
			if skipped, err := j.skipDeploy(ctx); err != nil || skipped {
				return j.rel, err
			}
		}
		var err error
		if !s.oneOff {
			err = d.failpoint("deploy-" + s.name)
		}
		if err == nil {
			t0 := time.Now()
			err = s.run(j, ctx)
			j.steps = append(j.steps, store.StepTime{Step: s.name, Duration: time.Since(t0)})
		}
		if err != nil {
			if !j.switched {
				j.fail(s.name, err)
			} else {
				// The new release is live: the old containers still go.
				j.retireOld(context.WithoutCancel(ctx))
			}
			var se *StepError
			if !errors.As(err, &se) {
				se = &StepError{Step: s.name, Err: err}
			}
			if se.Step == "" {
				se.Step = s.name
			}
			j.ended(time.Since(began), se)
			return j.rel, se
		}
	}
	total := time.Since(began)
	rel := j.rel
	d.log.Info("deploy finished", "app", appName, "release", rel.Number, "took", total.Round(time.Millisecond))
	if j.switched && j.watch > 0 {
		j.noteWatch(ctx)
	}
	j.info("%s", DescribeSteps(total, j.steps))
	j.ended(total, nil)
	j.recordSteps(ctx)
	j.steps = nil
	// From here the watch owns j (and the lock).
	watching = j.startWatch(ctx, unlock)
	return rel, nil
}

// skippedDeploy is the error a release built under ps:set skip-deploy
// keeps: it was never live, and the running release stays.
const skippedDeploy = "deploy skipped (ps:set skip-deploy true)"

// skipDeploy ends a deploy after its release steps when ps skip-deploy is
// true (Dokku's "Skipping deployment"): the release is built and kept
// (superseded, never live: releases:rollback APP N deploys it), the running
// release and its containers stay as they are.
func (j *job) skipDeploy(ctx context.Context) (bool, error) {
	set, err := j.d.settings(ctx, j.app)
	if err != nil || !set.skipDeploy {
		return false, err
	}
	j.rel.Status, j.rel.Error, j.rel.FinishedAt = store.ReleaseSuperseded, skippedDeploy, j.d.now()
	if err := j.d.store.Tx(ctx, func(tx *store.Tx) error { return tx.UpdateRelease(j.rel) }); err != nil {
		return false, err
	}
	j.info("Skipping deployment (ps:set %s skip-deploy is true): release %d is built, the running release stays", j.app.Name, j.rel.Number)
	j.d.log.Info("deploy skipped", "app", j.app.Name, "release", j.rel.Number)
	return true, nil
}

// fail undoes a failed deploy before the switch: the new containers go, the
// release is marked failed, the old release keeps running.
func (j *job) fail(stepName string, err error) {
	ctx := context.WithoutCancel(context.Background())
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if j.sched != nil {
		j.sched.undo(ctx, j)
	}
	restored := j.restoreAfterFailure(stepName)
	j.d.log.Warn("deploy failed", "app", j.app.Name, "release", j.rel.Number, "step", stepName, "err", firstLine(err.Error()))
	if kerr := j.d.keepFailedOutput(j.app.Name, j.rel.Number, j.failed.Containers()); kerr != nil {
		j.d.log.Warn("keep the output of a failed deploy", "app", j.app.Name, "err", kerr)
	}
	if j.redeploy {
		return
	}
	j.dropRelease()
	j.rel.Status = store.ReleaseFailed
	var se *StepError
	if errors.As(err, &se) {
		err = se.Err
	}
	j.rel.Error = fmt.Sprintf("%s: %s", stepName, firstLine(err.Error())) + restored
	j.rel.FinishedAt = j.d.now()
	uerr := j.d.store.Tx(ctx, func(tx *store.Tx) error {
		if j.rel.Config == nil {
			// The config it would have run with, for releases:info.
			cfg, err := tx.Config(j.app.Scope())
			if err != nil {
				return err
			}
			j.rel.Config = cfg
		}
		return tx.UpdateRelease(j.rel)
	})
	if uerr != nil {
		j.d.log.Error("record failed release", "app", j.app.Name, "err", uerr)
	}
}

// dropRelease removes what a failed release leaves, which nothing can roll
// back to: its source tree first (on a full disk, that frees the space the
// record of the failure needs), then its image (an image deploy's or a
// rollback's tag only untags), in the background, as removing an image can
// wait on the engine's builds (removeImage). The failure path and a switch
// back by the watch both call it.
func (j *job) dropRelease() {
	os.RemoveAll(j.d.releaseDir(j.app.Name, j.rel.Number))
	j.d.retiring.Add(1)
	go func(d *Deployer, eng Images, app, img string) {
		defer d.backgroundDone()
		if err := d.removeImage(context.Background(), eng, img, false); err != nil && !errors.Is(err, docker.ErrNotFound) {
			d.log.Warn("remove the image of a failed release", "app", app, "image", img, "err", err)
		}
	}(j.d, j.eng, j.app.Name, j.d.names.Image(j.app.Name, j.rel.Number))
}

func (j *job) info(format string, args ...any) {
	fmt.Fprintf(j.out, "-----> "+format+"\n", args...)
}

func (j *job) detail(format string, args ...any) {
	fmt.Fprintf(j.out, "       "+format+"\n", args...)
}
