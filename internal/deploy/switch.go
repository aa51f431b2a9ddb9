package deploy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/store"
)

// switchOver makes the release live and swaps the proxy's targets to the
// new web containers in one step. The containers it replaces are noted for
// drain and retire.
func (j *job) switchOver(ctx context.Context) error {
	keep := map[string]bool{}
	for _, s := range j.started {
		keep[s.id] = true
	}
	all, err := j.eng.ListContainers(ctx, j.d.names.KindLabels(j.app.Name, KindProcess), true)
	if err != nil {
		return err
	}
	for _, c := range all {
		if keep[c.ID] {
			continue
		}
		oc := oldContainer{id: c.ID, name: c.Name}
		if c.HostPort != 0 {
			oc.addr = fmt.Sprintf("127.0.0.1:%d", c.HostPort)
		}
		j.old = append(j.old, oc)
	}
	err = j.d.store.Tx(ctx, func(tx *store.Tx) error {
		cfg, err := tx.Config(j.app.Scope())
		if err != nil {
			return err
		}
		j.rel.Config, j.rel.Formation = cfg, j.plan.formation
		if err := tx.UpdateRelease(j.rel); err != nil {
			return err
		}
		if !j.redeploy {
			if err := tx.MakeLive(j.rel, j.d.now()); err != nil {
				return err
			}
		}
		if err := tx.SetFormation(j.app, j.plan.formation); err != nil {
			return err
		}
		if err := tx.SetProperty(j.app.Scope(), "ps", "generation", j.generation); err != nil {
			return err
		}
		return tx.SetStopped(j.app, false)
	})
	if err != nil {
		return err
	}
	if j.d.router != nil {
		if err := j.d.router.Sync(ctx, j.app.Name); err != nil {
			return err
		}
	}
	j.switched = true
	j.info("Switched %s to release %d", j.app.Name, j.rel.Number)
	return nil
}

// drain waits for requests in flight to the old web containers to finish,
// bounded by the drain timeout.
func (j *job) drain(ctx context.Context) error {
	if j.d.router == nil {
		return nil
	}
	var addrs []string
	for _, o := range j.old {
		if o.addr != "" {
			addrs = append(addrs, o.addr)
		}
	}
	if len(addrs) == 0 {
		return nil
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

// retire stops the old containers after wait-to-retire, in the
// background, and gives the new ones their final names. The release is live
// by now: failures are logged, and ps:restore tidies up what is left.
func (j *job) retire(ctx context.Context) error {
	set, _ := j.d.settings(ctx, j.app)
	wait := time.Duration(set.waitToRetire) * time.Second
	old, started, eng, appName := j.old, j.started, j.eng, j.app.Name
	log := j.d.log
	if len(old) > 0 {
		j.info("Retiring %d old container(s) in %s", len(old), wait)
	}
	retire := func() {
		ctx := context.Background()
		time.Sleep(wait)
		for _, c := range old {
			if err := eng.StopContainer(ctx, c.id, time.Duration(set.stopTimeout)*time.Second); err != nil && !errors.Is(err, docker.ErrNotFound) {
				log.Warn("stop old container", "app", appName, "container", c.name, "err", err)
			}
			if err := eng.RemoveContainer(ctx, c.id, true); err != nil {
				log.Warn("remove old container", "app", appName, "container", c.name, "err", err)
			}
		}
		for _, s := range started {
			if err := eng.RenameContainer(ctx, s.id, s.final); err != nil && !errors.Is(err, docker.ErrNotFound) {
				log.Debug("rename new container", "app", appName, "container", s.final, "err", err)
			}
		}
	}
	if wait == 0 {
		retire() // nothing to wait for: done before the deploy returns
	} else {
		j.d.retiring.Add(1)
		go func() {
			defer j.d.retiring.Done()
			retire()
		}()
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

// WaitRetired waits for background retirements (daemon shutdown, tests).
func (d *Deployer) WaitRetired() { d.retiring.Wait() }

// pruneReleases removes the images and sources of releases older than the
// last KeepReleases (the live one is always kept).
func (d *Deployer) pruneReleases(ctx context.Context, eng Engine, a store.App) {
	var rels []store.Release
	if err := d.store.Tx(ctx, func(tx *store.Tx) (err error) { rels, err = tx.Releases(a); return err }); err != nil {
		return
	}
	keep := d.KeepReleases
	if set, err := d.settings(ctx, a); err == nil && set.keepReleases > 0 {
		keep = set.keepReleases
	}
	for i, r := range rels {
		if i < keep || r.Status == store.ReleaseLive || r.Status == store.ReleasePending {
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
