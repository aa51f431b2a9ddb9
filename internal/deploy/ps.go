package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/naming"
	"github.com/berthpaas/berth/internal/release"
	"github.com/berthpaas/berth/internal/store"
)

// state is an app's record and live release, read in one transaction.
type state struct {
	app       store.App
	live      store.Release
	deployed  bool
	formation map[string]int
}

func (d *Deployer) state(ctx context.Context, appName string) (state, error) {
	var s state
	err := d.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := tx.App(appName)
		if errors.Is(err, store.ErrAppNotFound) {
			return appNotFound(appName)
		}
		if err != nil {
			return err
		}
		s.app = a
		if s.formation, err = tx.Formation(a); err != nil {
			return err
		}
		s.live, err = tx.LiveRelease(a)
		if errors.Is(err, store.ErrReleaseNotFound) {
			return nil
		}
		s.deployed = err == nil
		return err
	})
	return s, err
}

func dirExists(dir string) bool {
	st, err := os.Stat(dir)
	return err == nil && st.IsDir()
}

// ScaleResult is the formation after ps:scale.
type ScaleResult struct {
	Formation map[string]int
	Deployed  bool
	// Types are what ps:scale lists, sorted: the live release's Procfile
	// types (release included, at 0, as Dokku lists them), its processes
	// and the formation's types; web alone for an app not deployed yet.
	Types []string
}

// scaleTypes lists what ps:scale shows: the types of the live release's
// Procfile (release included), its processes, and the formation's; an app
// not deployed shows web at 1 (what a first deploy runs by default).
func (d *Deployer) scaleTypes(appName string, s state, res *ScaleResult) {
	types := map[string]bool{}
	for t := range res.Formation {
		types[t] = true
	}
	if s.deployed {
		for t := range s.live.Processes {
			types[t] = true
		}
		if files, err := d.releaseFiles(appName, s.live.Number, ""); err == nil && files.Procfile != nil {
			for _, p := range files.Procfile.Processes {
				types[p.Type] = true
			}
		}
	} else if _, ok := res.Formation["web"]; !ok {
		f := maps.Clone(res.Formation)
		if f == nil {
			f = map[string]int{}
		}
		f["web"] = 1
		res.Formation = f
		types["web"] = true
	}
	res.Types = slices.Sorted(maps.Keys(types))
}

// Scale changes the formation of an app and, unless skipDeploy or the app is
// not deployed, starts or stops containers to match.
func (d *Deployer) Scale(ctx context.Context, appName string, changes map[string]int, skipDeploy bool, out io.Writer, holder string) (ScaleResult, error) {
	unlock, err := d.locks.acquire(ctx, appName, holder, d.now)
	if err != nil {
		return ScaleResult{}, err
	}
	defer unlock()
	s, err := d.state(ctx, appName)
	if err != nil {
		return ScaleResult{}, err
	}
	res := ScaleResult{Formation: s.formation, Deployed: s.deployed}
	if len(changes) == 0 {
		d.scaleTypes(appName, s, &res)
		return res, nil
	}
	var procs map[string]string
	var locked []string
	if s.deployed {
		procs = s.live.Processes
		files, _ := d.releaseFiles(appName, s.live.Number, "")
		locked = files.LockedTypes()
	}
	f, err := release.ApplyScale(s.formation, procs, locked, changes)
	if err != nil {
		return res, err
	}
	// A release without a Procfile runs a newly scaled type with the
	// image's CMD: the type joins the live release's processes.
	var added bool
	if s.deployed && release.ImageOnly(procs) {
		live := maps.Clone(procs)
		for typ, n := range changes {
			if _, ok := live[typ]; !ok && n > 0 {
				live[typ], added = "", true
			}
		}
		if added {
			s.live.Processes = live
		}
	}
	err = d.store.Tx(ctx, func(tx *store.Tx) error {
		if added {
			if err := tx.UpdateRelease(s.live); err != nil {
				return err
			}
		}
		return tx.SetFormation(s.app, f)
	})
	if err != nil {
		return res, err
	}
	res.Formation = f
	if skipDeploy || !s.deployed {
		return res, nil
	}
	if err := d.Reconcile(ctx, appName, out, false); err != nil {
		// The new containers failed their checks: the formation goes back.
		d.store.Tx(context.WithoutCancel(ctx), func(tx *store.Tx) error { return tx.SetFormation(s.app, s.formation) })
		return res, err
	}
	return res, nil
}

// Stop stops an app's processes and records that they should stay stopped.
// It holds the app's deploy lock, so a deploy's watch (watch.go) ends first
// rather than take the stop for a crash and switch back.
func (d *Deployer) Stop(ctx context.Context, appName string, out io.Writer) error {
	unlock, err := d.locks.acquire(ctx, appName, "ps:stop", d.now)
	if err != nil {
		return err
	}
	defer unlock()
	s, err := d.state(ctx, appName)
	if err != nil {
		return err
	}
	if err := d.store.Tx(ctx, func(tx *store.Tx) error { return tx.SetStopped(s.app, true) }); err != nil {
		return err
	}
	eng, err := d.connect(ctx)
	if err != nil {
		return err
	}
	set, err := d.settings(ctx, s.app)
	if err != nil {
		return err
	}
	cs, err := eng.ListContainers(ctx, d.names.KindLabels(appName, naming.KindProcess), false)
	if err != nil {
		return err
	}
	if d.router != nil {
		if err := d.router.Sync(ctx, appName); err != nil {
			return err
		}
	}
	for _, c := range cs {
		fmt.Fprintf(out, "-----> Stopping %s\n", c.Name)
		if err := eng.StopContainer(ctx, c.ID, time.Duration(set.stopTimeout)*time.Second); err != nil {
			return err
		}
	}
	return d.stopServices(ctx, appName, out)
}

// Start clears ps:stop and brings the app's processes up, under the app's
// deploy lock (as Stop).
func (d *Deployer) Start(ctx context.Context, appName string, out io.Writer) error {
	unlock, err := d.locks.acquire(ctx, appName, "ps:start", d.now)
	if err != nil {
		return err
	}
	defer unlock()
	s, err := d.state(ctx, appName)
	if err != nil {
		return err
	}
	if !s.deployed {
		return app.Invalidf("%s has not been deployed", appName)
	}
	if err := d.store.Tx(ctx, func(tx *store.Tx) error { return tx.SetStopped(s.app, false) }); err != nil {
		return err
	}
	return d.Reconcile(ctx, appName, out, false)
}

// restoreConcurrency bounds how many apps a restore brings up at once:
// starting a container is mostly the engine's work (its network setup),
// and 24 stopped containers came back in 29 s four at a time, 22 s twelve
// at a time (bench/scale's reboot, 2 CPUs).
const restoreConcurrency = 8

// restoreHolder holds an app's deploy lock while a restore brings it up.
const restoreHolder = "berth (restoring its containers)"

// Restore is run when the daemon starts: deploys interrupted by a stop are
// failed (FailInterrupted), and every app that should run runs
// (RestoreApps).
func (d *Deployer) Restore(ctx context.Context, out io.Writer) error {
	if err := d.FailInterrupted(ctx); err != nil {
		return err
	}
	return d.RestoreApps(ctx, out)
}

// FailInterrupted marks failed the deploys a daemon stop interrupted (the
// daemon's start, before it takes commands); RestoreApps then removes
// their containers.
func (d *Deployer) FailInterrupted(ctx context.Context) error {
	var pending []store.Release
	err := d.store.Tx(ctx, func(tx *store.Tx) (err error) {
		pending, err = tx.FailPendingReleases("interrupted: the daemon stopped during the deploy", d.now())
		return err
	})
	for _, r := range pending {
		d.log.Warn("deploy interrupted by a daemon stop marked failed", "app_id", r.AppID, "release", r.Number)
	}
	return err
}

// RestoreApps makes every app that should run run (the daemon's start,
// and after the engine came back): each app is reconciled with tidy (its
// stopped containers started, missing ones created, leftovers of other
// releases removed) and its route synced as soon as it is up, eight apps
// at a time. An app that fails is logged by name and the others go on;
// the errors are returned together. Each app's deploy lock is held while
// it is restored: an app being deployed is restored after its deploy.
func (d *Deployer) RestoreApps(ctx context.Context, out io.Writer) error {
	var apps []store.App
	if err := d.store.Tx(ctx, func(tx *store.Tx) (err error) { apps, err = tx.Apps(); return err }); err != nil {
		return err
	}
	if _, ok := out.(*lockedWriter); !ok {
		out = &lockedWriter{w: out}
	}
	sem := make(chan struct{}, restoreConcurrency)
	errs := make([]error, len(apps))
	var wg sync.WaitGroup
	for i, a := range apps {
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs[i] = fmt.Errorf("%s: %w", a.Name, ctx.Err())
				return
			}
			defer func() { <-sem }()
			start := d.now()
			if err := d.restoreApp(ctx, a.Name, out); err != nil {
				d.log.Warn("restore app", "app", a.Name, "err", err)
				errs[i] = fmt.Errorf("%s: %w", a.Name, err)
				return
			}
			d.log.Debug("app restored", "app", a.Name, "took", d.now().Sub(start).Round(time.Millisecond))
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// restoreApp reconciles one app under its deploy lock, waiting for a
// deploy that holds it.
func (d *Deployer) restoreApp(ctx context.Context, appName string, out io.Writer) error {
	for {
		unlock, err := d.locks.acquire(ctx, appName, restoreHolder, d.now)
		if err == nil {
			defer unlock()
			return d.Reconcile(ctx, appName, out, true)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(restoreLockPoll):
		}
	}
}

// restoreLockPoll is how often a restore asks again for the lock of an
// app being deployed.
var restoreLockPoll = 500 * time.Millisecond

// Destroy removes everything the engine holds for an app: containers
// (process and one-off) and release images.
func (d *Deployer) Destroy(ctx context.Context, appName string) error {
	eng, err := d.connect(ctx)
	if err != nil {
		return err
	}
	if err := d.removeServices(ctx, appName); err != nil {
		return err
	}
	if err := removeContainers(ctx, eng, d.names.AppLabels(appName)); err != nil {
		return err
	}
	imgs, err := eng.ListImages(ctx, d.names.AppLabels(appName))
	if err != nil {
		return err
	}
	for _, img := range imgs {
		if renamedAway(img.Tags, d.names.ImageRepo(appName)) {
			continue // an app renamed from this name keeps its images
		}
		for _, t := range img.Tags {
			d.removeImage(ctx, eng, t, true)
		}
		d.removeImage(ctx, eng, img.ID, true)
	}
	// Image deploys are tagged, not labelled: remove every release's tag.
	var rels []store.Release
	d.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := tx.App(appName)
		if err != nil {
			return err
		}
		rels, err = tx.Releases(a)
		return err
	})
	for _, r := range rels {
		if r.Image != "" {
			d.removeImage(ctx, eng, r.Image, false)
		}
	}
	return nil
}

// SourceOf returns a Source that deploys the code of app's live release
// again (for apps:clone), and false when the app has no live release.
func (d *Deployer) SourceOf(ctx context.Context, appName string) (Source, bool, error) {
	s, err := d.state(ctx, appName)
	if err != nil || !s.deployed {
		return Source{}, false, err
	}
	if s.live.Source == SourceImage {
		return Source{Kind: SourceImage, Ref: s.live.SourceRef}, true, nil
	}
	return Source{Kind: SourceGit, Dir: d.srcDirOf(appName, s.live.Number), Ref: "clone of " + appName, GitRev: s.live.GitRev}, true, nil
}

// HasReleases reports whether the app was ever deployed (so the engine may
// hold containers or images of it).
func (d *Deployer) HasReleases(ctx context.Context, appName string) (bool, error) {
	rels, err := d.Releases(ctx, appName)
	return len(rels) > 0, err
}

func removeContainers(ctx context.Context, eng Engine, labels map[string]string) error {
	cs, err := eng.ListContainers(ctx, labels, true)
	if err != nil {
		return err
	}
	for _, c := range cs {
		if err := eng.RemoveContainer(ctx, c.ID, true); err != nil {
			return err
		}
	}
	return nil
}

// RemoveContainers removes an app's containers (process and one-off) and
// keeps its images: apps:rename, before RenameImages.
func (d *Deployer) RemoveContainers(ctx context.Context, appName string) error {
	eng, err := d.connect(ctx)
	if err != nil {
		return err
	}
	return removeContainers(ctx, eng, d.names.AppLabels(appName))
}

// RenameImages gives the release images of an app renamed from oldName
// (the store already names it appName) their tags under the new name and
// records them, so that its releases still run (run, ps:start, rollback)
// when apps:rename --skip-deploy does not rebuild. The old tags are
// removed. A release whose image is gone keeps its record as it was.
func (d *Deployer) RenameImages(ctx context.Context, oldName, appName string) error {
	eng, err := d.connect(ctx)
	if err != nil {
		return err
	}
	var rels []store.Release
	if err := d.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := tx.App(appName)
		if err != nil {
			return err
		}
		rels, err = tx.Releases(a)
		return err
	}); err != nil {
		return err
	}
	for _, r := range rels {
		old := d.names.Image(oldName, r.Number)
		if r.Image != old {
			continue // an image deploy's tag of its own, or none
		}
		renamed := d.names.Image(appName, r.Number)
		if err := eng.TagImage(ctx, old, renamed); err != nil {
			d.log.Warn("retag a renamed app's release image", "image", old, "err", err)
			continue
		}
		r.Image = renamed
		if err := d.store.Tx(ctx, func(tx *store.Tx) error { return tx.UpdateRelease(r) }); err != nil {
			return err
		}
		d.removeImage(ctx, eng, old, false)
	}
	return nil
}

// renamedAway says whether an image labelled with an app's name is tagged
// only under other repositories: the images of an app renamed from that
// name (RenameImages retags them; labels cannot be changed).
func renamedAway(tags []string, repo string) bool {
	if len(tags) == 0 {
		return false
	}
	for _, t := range tags {
		if i := strings.LastIndex(t, ":"); t == "<none>:<none>" || (i > 0 && t[:i] == repo) {
			return false
		}
	}
	return true
}
