package deploy

import (
	"context"
	"errors"
	"os"
	"strconv"
	"time"

	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/naming"
	"github.com/berthpaas/berth/internal/store"
)

// interrupted is the error of a release whose deploy a daemon stop cut
// short (Restore words it the same).
const interrupted = "interrupted: the daemon stopped during the deploy"

// deployOneOffs are the one-off containers deploy steps run.
var deployOneOffs = []string{"predeploy", "release", "postdeploy"}

// ResumeInterrupted is run when the daemon starts, before FailInterrupted
// (which marks the releases it leaves pending failed) and Restore: it
// finishes what a daemon stop (or crash) cut short in the middle of a
// deploy. A deploy that had not switched is failed: its release is marked
// failed, and its containers, image and kept source removed. A deploy
// command's container (predeploy, release, postdeploy) a stop left is
// removed (a postdeploy's release stays live). The old containers on the
// retire queue are drained and removed on their schedule, and the images
// removed, in the background (WaitRetired waits for them). Deploy locks
// are in memory: none survives a stop.
func (d *Deployer) ResumeInterrupted(ctx context.Context) {
	var apps []store.App
	if err := d.store.Tx(ctx, func(tx *store.Tx) (err error) { apps, err = tx.Apps(); return err }); err != nil {
		d.log.Error("read the apps to resume interrupted deploys", "err", err)
		return
	}
	eng, err := d.connect(ctx)
	if err != nil {
		// The releases are failed anyway (Restore), the rest waits for
		// the next start with the engine up.
		d.log.Warn("resume interrupted deploys: no engine", "err", err)
		return
	}
	var images []string
	for _, a := range apps {
		images = append(images, d.failInterrupted(ctx, eng, a)...)
	}
	d.resumeRetires(ctx, eng)
	if len(images) == 0 {
		return
	}
	// Removing an image can wait on the engine's other work (builds): it
	// holds up neither the restore nor a deploy.
	d.retiring.Add(1)
	go func() {
		defer d.backgroundDone()
		for _, img := range images {
			if err := d.removeImage(context.WithoutCancel(ctx), eng, img, false); err != nil && !errors.Is(err, docker.ErrNotFound) {
				d.log.Warn("remove the image of an interrupted deploy", "image", img, "err", err)
			}
		}
	}()
}

// failInterrupted fails the pending releases of app a and removes what
// their deploys made, and the one-off containers deploy steps left; it
// returns the images of those releases, to be removed.
func (d *Deployer) failInterrupted(ctx context.Context, eng Engine, a store.App) []string {
	unlock, err := d.locks.acquire(ctx, a.Name, "the daemon's start", d.now)
	if err != nil {
		return nil // a deploy started since: what it runs is its own
	}
	defer unlock()
	var pending []store.Release
	err = d.store.Tx(ctx, func(tx *store.Tx) error {
		rels, err := tx.Releases(a)
		if err != nil {
			return err
		}
		for _, r := range rels {
			if r.Status != store.ReleasePending {
				continue
			}
			r.Status, r.Error, r.FinishedAt = store.ReleaseFailed, interrupted, d.now()
			if err := tx.UpdateRelease(r); err != nil {
				return err
			}
			pending = append(pending, r)
		}
		return nil
	})
	if err != nil {
		d.log.Error("fail interrupted deploys", "app", a.Name, "err", err)
		return nil
	}
	var images []string
	for _, r := range pending {
		d.log.Warn("deploy interrupted by a daemon stop marked failed", "app", a.Name, "release", r.Number)
		// Its containers never took traffic; then its image can go.
		labels := d.names.AppLabels(a.Name)
		labels[naming.LabelRelease] = strconv.Itoa(r.Number)
		cs, err := eng.ListContainers(ctx, labels, true)
		if err != nil {
			d.log.Warn("list the containers of an interrupted deploy", "app", a.Name, "err", err)
		}
		for _, c := range cs {
			if err := eng.RemoveContainer(ctx, c.ID, true); err != nil && !errors.Is(err, docker.ErrNotFound) {
				d.log.Warn("remove a container of an interrupted deploy", "app", a.Name, "container", c.Name, "err", err)
			}
		}
		images = append(images, d.names.Image(a.Name, r.Number))
		os.RemoveAll(d.releaseDir(a.Name, r.Number))
	}
	cs, err := eng.ListContainers(ctx, d.names.KindLabels(a.Name, naming.KindRun), true)
	if err != nil {
		d.log.Warn("list one-off containers", "app", a.Name, "err", err)
		return images
	}
	for _, c := range cs {
		if !contains(deployOneOffs, c.Labels[naming.LabelProcess]) {
			continue
		}
		d.log.Warn("the daemon stopped during a deploy command: removing its container", "app", a.Name, "command", c.Labels[naming.LabelProcess], "release", c.Labels[naming.LabelRelease], "container", c.Name)
		if err := eng.RemoveContainer(ctx, c.ID, true); err != nil && !errors.Is(err, docker.ErrNotFound) {
			d.log.Warn("remove a deploy command's container", "app", a.Name, "container", c.Name, "err", err)
		}
	}
	return images
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// resumeRetires drains and removes the old containers on the retire
// queue, each app's on their schedule, in the background.
func (d *Deployer) resumeRetires(ctx context.Context, eng Engine) {
	var queue []store.Retiring
	if err := d.store.Tx(ctx, func(tx *store.Tx) (err error) { queue, err = tx.RetireQueue(); return err }); err != nil {
		d.log.Error("read the retire queue", "err", err)
		return
	}
	byApp := map[string][]store.Retiring{}
	var order []string
	for _, r := range queue {
		if byApp[r.App] == nil {
			order = append(order, r.App)
		}
		byApp[r.App] = append(byApp[r.App], r)
	}
	for _, name := range order {
		rs := byApp[name]
		d.log.Info("resuming the retirement of old containers", "app", name, "count", len(rs))
		d.retiring.Add(1)
		go func() {
			defer d.backgroundDone()
			d.retireQueued(context.WithoutCancel(ctx), eng, name, rs)
		}()
	}
}

// retireQueued drains the queued containers of one app that took traffic,
// then stops and removes each at its time (rs is soonest first).
func (d *Deployer) retireQueued(ctx context.Context, eng Engine, appName string, rs []store.Retiring) {
	s, err := d.state(ctx, appName)
	if err != nil {
		d.log.Warn("retire old containers", "app", appName, "err", err)
		return
	}
	set, err := d.settings(ctx, s.app)
	if err != nil {
		d.log.Warn("retire old containers", "app", appName, "err", err)
		return
	}
	var addrs []string
	for _, r := range rs {
		if r.Addr != "" {
			addrs = append(addrs, r.Addr)
		}
	}
	if d.router != nil && len(addrs) > 0 {
		// The routes go to the live release first (a stop between the
		// switch's commit and its proxy update left the old ones).
		if err := d.router.Sync(ctx, appName); err != nil {
			d.log.Warn("route before draining old containers", "app", appName, "err", err)
		}
		left, err := d.router.Drain(ctx, addrs, time.Duration(set.drainTimeout)*time.Second)
		if err != nil {
			d.log.Warn("drain old targets", "app", appName, "err", err)
		} else if left > 0 {
			d.log.Warn("drain timed out", "app", appName, "in_flight", left)
		}
	}
	timeout := time.Duration(set.stopTimeout) * time.Second
	for len(rs) > 0 {
		// Those due by the first one's time go together.
		at := rs[0].RetireAt
		var due []oldContainer
		for len(rs) > 0 && !rs[0].RetireAt.After(at) {
			due = append(due, oldContainer{id: rs[0].ContainerID, name: rs[0].Name, addr: rs[0].Addr})
			rs = rs[1:]
		}
		if wait := at.Sub(d.now()); wait > 0 {
			time.Sleep(wait)
		}
		d.stopAndRemove(eng, appName, due, timeout)
	}
	d.log.Info("old containers retired", "app", appName)
}
