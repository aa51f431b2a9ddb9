package deploy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/naming"
	"github.com/berthpaas/berth/internal/store"
)

// switchOver makes the release live and swaps the proxy's targets to the
// new web containers in one step. Then the containers it replaces are
// renamed APP.TYPE.N.<epoch> and the new ones take their final names,
// APP.TYPE.N; the old ones that took no traffic start stopping at once, and
// the old web ones are noted for drain and retire.
func (j *job) switchOver(ctx context.Context) error {
	set, err := j.d.settings(ctx, j.app)
	if err != nil {
		return err
	}
	all, err := j.eng.ListContainers(ctx, j.d.names.KindLabels(j.app.Name, naming.KindProcess), true)
	if err != nil {
		return err
	}
	isNew := map[string]bool{}
	for _, s := range j.started {
		isNew[s.id] = true
	}
	var old []docker.ContainerInfo
	for _, c := range all {
		if !isNew[c.ID] {
			old = append(old, c)
		}
	}
	// The release and generation live until now: their web containers
	// are the ones that served traffic. The old containers are queued to
	// retire in the transaction that makes the new release live, so a
	// daemon that stops after it drains and removes them at its start.
	var wait, now []docker.ContainerInfo
	var undo switchUndo
	err = j.d.store.Tx(ctx, func(tx *store.Tx) error {
		var err error
		if undo, err = j.undoOf(tx); err != nil {
			return err
		}
		var live int
		if undo.prev != nil {
			live = undo.prev.Number
		}
		generation := undo.generation
		queued, err := tx.RetiringOf(j.app)
		if err != nil {
			return err
		}
		wasQueued := map[string]bool{}
		for _, q := range queued {
			wasQueued[q.ContainerID] = true
		}
		wait, now = naming.SortReplaced(old, live, generation)
		for _, c := range append(slices.Clone(wait), now...) {
			if !wasQueued[c.ID] {
				undo.queued = append(undo.queued, c.ID)
			}
		}
		at := j.d.now()
		var queue []store.Retiring
		for _, c := range wait {
			queue = append(queue, store.Retiring{ContainerID: c.ID, Name: c.Name, Addr: targetAddr(c), RetireAt: at.Add(time.Duration(set.waitToRetire) * time.Second)})
		}
		for _, c := range now {
			queue = append(queue, store.Retiring{ContainerID: c.ID, Name: c.Name, RetireAt: at})
		}
		if err := tx.QueueRetiring(j.app, queue); err != nil {
			return err
		}
		return j.makeLive(tx)
	})
	if err != nil {
		return err
	}
	j.undo = undo
	j.watch = j.watchWindow(set)
	if j.watch > 0 && !j.watchNeeded(ctx, set) {
		j.watch = 0
	}
	j.oldNames = map[string]string{}
	for _, c := range old {
		j.oldNames[c.ID] = c.Name
	}
	if j.d.router != nil {
		if err := j.d.router.Sync(ctx, j.app.Name); err != nil {
			// The proxy still routes to the old containers: they stay
			// live, and the deploy fails as before the switch.
			if uerr := j.unswitch(context.WithoutCancel(ctx), undo); uerr != nil {
				j.d.log.Error("undo a switch the proxy refused", "app", j.app.Name, "err", uerr)
			}
			return err
		}
	}
	j.switched = true
	j.d.forgetFailedOutput(j.app.Name)
	j.info("Switched %s to release %d", j.app.Name, j.rel.Number)

	// The release is live: what follows runs even if the client went away.
	ctx = context.WithoutCancel(ctx)
	renamed := j.renameAll(ctx, all)
	if j.d.router != nil {
		// The proxy names its targets in its status and logs.
		if err := j.d.router.Sync(ctx, j.app.Name); err != nil {
			j.d.log.Warn("route after renaming containers", "app", j.app.Name, "err", err)
		}
	}
	nameOf := func(c docker.ContainerInfo) string {
		if name, ok := renamed[c.ID]; ok {
			return name
		}
		return c.Name
	}
	for _, c := range wait {
		j.retiring = append(j.retiring, oldContainer{id: c.ID, name: nameOf(c), addr: targetAddr(c)})
	}
	if len(now) > 0 {
		var stop []oldContainer
		var names []string
		for _, c := range now {
			c.Name = nameOf(c)
			stop = append(stop, oldContainer{id: c.ID, name: c.Name})
			if c.State == "running" || c.State == "restarting" {
				names = append(names, c.Name)
			}
		}
		if j.watch > 0 {
			// Kept until the new containers have stayed up (watch.go).
			j.stopLater = stop
			return nil
		}
		if len(names) > 0 {
			j.info("Stopping %d old container(s) that take no traffic: %s", len(names), strings.Join(names, ", "))
		}
		done := make(chan struct{})
		j.stopped = done
		j.d.retiring.Add(1)
		go func() {
			defer j.d.backgroundDone()
			defer close(done)
			j.d.stopAndRemove(j.eng, j.app.Name, stop, time.Duration(set.stopTimeout)*time.Second)
		}()
	}
	return nil
}

// undoOf reads, in the switch's transaction, what it is about to change:
// the live release, the generation and the formation.
func (j *job) undoOf(tx *store.Tx) (switchUndo, error) {
	var undo switchUndo
	prev, err := tx.LiveRelease(j.app)
	if err == nil {
		undo.prev = &prev
	} else if !errors.Is(err, store.ErrReleaseNotFound) {
		return undo, err
	}
	if undo.generation, undo.hadGeneration, err = tx.Property(j.app.Scope(), "ps", "generation"); err != nil {
		return undo, err
	}
	undo.formation, err = tx.Formation(j.app)
	return undo, err
}

// makeLive records, in the switch's transaction, the job's release as
// live (for a redeploy: its config and formation), its formation and
// generation as the app's, and the app as running.
func (j *job) makeLive(tx *store.Tx) error {
	cfg, err := tx.Config(j.app.Scope())
	if err != nil {
		return err
	}
	j.rel.Config, j.rel.Formation = cfg, j.plan.Formation
	if err := tx.UpdateRelease(j.rel); err != nil {
		return err
	}
	if !j.redeploy {
		if err := tx.MakeLive(j.rel, j.d.now()); err != nil {
			return err
		}
	}
	if err := tx.SetFormation(j.app, j.plan.Formation); err != nil {
		return err
	}
	if err := tx.SetProperty(j.app.Scope(), "ps", "generation", j.generation); err != nil {
		return err
	}
	return tx.SetStopped(j.app, false)
}

// switchUndo is what the switch's transaction changed, to put back when
// the proxy refuses the new routes.
type switchUndo struct {
	prev          *store.Release // the live release before (nil: none)
	generation    string
	hadGeneration bool
	formation     map[string]int
	queued        []string // containers it queued to retire
}

// unswitch puts the old release back live, with its formation and
// generation, and takes the old containers off the retire queue.
func (j *job) unswitch(ctx context.Context, u switchUndo) error {
	return j.d.store.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.UpdateRelease(j.rel); err != nil { // pending again
			return err
		}
		if u.prev != nil {
			if err := tx.UpdateRelease(*u.prev); err != nil {
				return err
			}
		}
		if err := tx.SetFormation(j.app, u.formation); err != nil {
			return err
		}
		var err error
		if u.hadGeneration {
			err = tx.SetProperty(j.app.Scope(), "ps", "generation", u.generation)
		} else {
			err = tx.UnsetProperty(j.app.Scope(), "ps", "generation")
		}
		if err != nil {
			return err
		}
		for _, id := range u.queued {
			if err := tx.Retired(id); err != nil {
				return err
			}
		}
		return nil
	})
}

// targetAddr is the proxy's address of a web container.
func targetAddr(c docker.ContainerInfo) string {
	return fmt.Sprintf("127.0.0.1:%d", c.HostPort)
}

// renameAll gives the old containers their retiring names and the new ones
// their final names, and returns the new names by container ID. The release
// is live by now: a failed rename is logged, and Reconcile puts the names
// right at the daemon's next start.
func (j *job) renameAll(ctx context.Context, all []docker.ContainerInfo) map[string]string {
	want := map[string]string{}
	for _, s := range j.started {
		want[s.final] = s.id
	}
	renamed := map[string]string{}
	for _, r := range naming.PlanRenames(j.d.names, j.app.Name, all, want, true, j.d.now().Unix()) {
		if err := j.eng.RenameContainer(ctx, r.ID, r.To); err != nil {
			if !errors.Is(err, docker.ErrNotFound) {
				j.d.log.Warn("rename container", "app", j.app.Name, "container", r.From, "to", r.To, "err", err)
			}
			continue
		}
		renamed[r.ID] = r.To
	}
	return renamed
}

// stopAndRemove stops containers, all at once, each given the stop timeout
// to finish what it is doing, removes them, and takes them off the retire
// queue. Failures are logged, and the container stays queued: the release
// is live, and the daemon's next start tries again.
func (d *Deployer) stopAndRemove(eng Containers, appName string, cs []oldContainer, timeout time.Duration) {
	ctx := context.Background()
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Go(func() {
			if err := eng.StopContainer(ctx, c.id, timeout); err != nil && !errors.Is(err, docker.ErrNotFound) {
				d.log.Warn("stop old container", "app", appName, "container", c.name, "err", err)
			}
			if err := eng.RemoveContainer(ctx, c.id, true); err != nil && !errors.Is(err, docker.ErrNotFound) {
				d.log.Warn("remove old container", "app", appName, "container", c.name, "err", err)
				return
			}
			if err := d.store.Tx(ctx, func(tx *store.Tx) error { return tx.Retired(c.id) }); err != nil {
				d.log.Warn("take a retired container off the queue", "app", appName, "container", c.name, "err", err)
			}
		})
	}
	wg.Wait()
}

// drain waits for requests in flight to the old web containers to finish,
// bounded by the drain timeout.
func (j *job) drain(ctx context.Context) error {
	if j.d.router == nil || len(j.retiring) == 0 {
		return nil
	}
	var addrs []string
	for _, o := range j.retiring {
		addrs = append(addrs, o.addr)
	}
	set, err := j.d.settings(ctx, j.app)
	if err != nil {
		return err
	}
	left, err := j.d.router.Drain(ctx, addrs, time.Duration(set.drainTimeout)*time.Second)
	if err != nil {
		j.d.log.Warn("drain old targets", "app", j.app.Name, "err", err)
	} else if left > 0 {
		j.d.log.Warn("drain timed out", "app", j.app.Name, "in_flight", left)
	}
	return nil
}

// retire waits for the old containers that take no traffic to stop, and
// stops the old web containers after wait-to-retire, in the background.
// The release is live by now: failures are logged, and ps:restore tidies
// up what is left.
func (j *job) retire(ctx context.Context) error {
	if j.stopped != nil {
		<-j.stopped
	}
	if j.watch == 0 {
		j.scheduleRetire(ctx)
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

// scheduleRetire stops the old web containers after wait-to-retire, in
// the background (at once, before it returns, when the wait is 0). It runs
// once per deploy: in the retire step, or when a step after the switch
// failed before it.
func (j *job) scheduleRetire(ctx context.Context) {
	if j.retireScheduled {
		return
	}
	j.retireScheduled = true
	old := j.retiring
	if len(old) == 0 {
		return
	}
	set, _ := j.d.settings(ctx, j.app)
	wait := time.Duration(set.waitToRetire) * time.Second
	var names []string
	for _, c := range old {
		names = append(names, c.name)
	}
	j.info("Retiring %d old web container(s) in %s: %s", len(old), wait, strings.Join(names, ", "))
	d, eng, appName, timeout := j.d, j.eng, j.app.Name, time.Duration(set.stopTimeout)*time.Second
	if wait == 0 {
		d.stopAndRemove(eng, appName, old, timeout) // done before the deploy returns
		return
	}
	d.retiring.Add(1)
	go func() {
		defer d.backgroundDone()
		time.Sleep(wait)
		d.stopAndRemove(eng, appName, old, timeout)
	}()
}

// WaitRetired waits for background retirements (daemon shutdown, tests).
func (d *Deployer) WaitRetired() { d.retiring.Wait() }

// backgroundDone ends a piece of background work begun with
// d.retiring.Add(1), and says so (Config.Idle).
func (d *Deployer) backgroundDone() {
	// Idle first: whoever waits for the work (WaitRetired) then also sees
	// it heard (TestIdleCalledWhenBackgroundWorkEnds saw the wait return
	// between the two).
	if d.idle != nil {
		d.idle()
	}
	d.retiring.Done()
}

// removeImage removes the image ref once no build of this daemon is running.
// Removing an image removes its untagged parents too, and the engine's
// classic builder reuses those as its cache without holding them: a build
// running beside the removal then fails with "failed to get digest ...: no
// such file or directory" (seen when a failed deploy's image went in the
// background while the next push was building).
func (d *Deployer) removeImage(ctx context.Context, eng Images, ref string, force bool) error {
	d.imageGate.Lock()
	defer d.imageGate.Unlock()
	return eng.RemoveImage(ctx, ref, force)
}

// pruneReleases removes the images and sources of releases older than the
// last keepReleases (the live one is always kept).
func (d *Deployer) pruneReleases(ctx context.Context, eng Images, a store.App) {
	var rels []store.Release
	if err := d.store.Tx(ctx, func(tx *store.Tx) (err error) { rels, err = tx.Releases(a); return err }); err != nil {
		return
	}
	keep := d.keepReleases
	if set, err := d.settings(ctx, a); err == nil && set.keepReleases > 0 {
		keep = set.keepReleases
	}
	for i, r := range rels {
		if i < keep || r.Status == store.ReleaseLive || r.Status == store.ReleasePending {
			continue
		}
		if r.Image != "" {
			if err := d.removeImage(ctx, eng, r.Image, false); err != nil && !errors.Is(err, docker.ErrNotFound) {
				d.log.Debug("remove old release image", "app", a.Name, "image", r.Image, "err", err)
			}
		}
		os.RemoveAll(d.releaseDir(a.Name, r.Number))
	}
}
