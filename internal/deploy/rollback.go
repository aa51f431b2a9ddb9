package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/store"
)

// SourceRollback deploys an earlier release's image and config again.
const SourceRollback = "rollback"

// Rollback makes release n of app live again (0: the release before the live
// one): its image and its config, through the same zero-downtime path as a
// deploy, without a rebuild. It is a new release.
func (d *Deployer) Rollback(ctx context.Context, appName string, n int, out io.Writer, holder string) (store.Release, error) {
	target, _, err := d.rollbackTarget(ctx, appName, n)
	if err != nil {
		return store.Release{}, err
	}
	return d.rollback(ctx, appName, target, nil, out, holder)
}

// RollbackWithData is Rollback that also restores the snapshots taken
// before the first release after the target that took any
// (PlanDataRollback), before the target's containers start. from, when
// not 0, is the release whose snapshots the caller confirmed: another
// one refuses, changing nothing.
func (d *Deployer) RollbackWithData(ctx context.Context, appName string, n, from int, out io.Writer, holder string) (store.Release, error) {
	if d.snapshots == nil {
		return store.Release{}, app.Invalidf("This server restores no snapshots; nothing changed")
	}
	p, err := d.PlanDataRollback(ctx, appName, n)
	if err != nil {
		return store.Release{}, err
	}
	if from != 0 && from != p.From {
		return store.Release{}, app.Invalidf("The snapshot to restore is now the one of release %d, not %d: run the command again; nothing changed", p.From, from)
	}
	target, _, err := d.rollbackTarget(ctx, appName, n)
	if err != nil {
		return store.Release{}, err
	}
	return d.rollback(ctx, appName, target, &p, out, holder)
}

// rollbackTarget finds the release a rollback to n (0: the one before the
// live one) makes live, and the live one, checking the rollback can run.
func (d *Deployer) rollbackTarget(ctx context.Context, appName string, n int) (*store.Release, store.Release, error) {
	s, err := d.state(ctx, appName)
	if err != nil {
		return nil, s.live, err
	}
	if !s.deployed {
		return nil, s.live, app.Invalidf("%s has not been deployed: there is nothing to roll back", appName)
	}
	rels, err := d.Releases(ctx, appName)
	if err != nil {
		return nil, s.live, err
	}
	var target *store.Release
	for i := range rels {
		r := rels[i]
		if n == 0 && r.Status == store.ReleaseSuperseded && r.Error != skippedDeploy && r.Number < s.live.Number {
			target = &r
			break
		}
		if n != 0 && r.Number == n {
			target = &r
			break
		}
	}
	switch {
	case target == nil && n == 0:
		return nil, s.live, app.Invalidf("%s has no earlier release that was live: nothing to roll back to", appName)
	case target == nil:
		return nil, s.live, app.Errorf(app.ErrNotFound, "%s has no release %d; see releases %s", appName, n, appName)
	case target.Number == s.live.Number:
		return nil, s.live, app.Invalidf("Release %d is already live", n)
	case target.Status == store.ReleaseFailed || target.Status == store.ReleasePending || target.Image == "":
		return nil, s.live, app.Invalidf("Release %d never went live (%s): roll back to a release that did", target.Number, target.Status)
	}
	eng, err := d.connect(ctx)
	if err != nil {
		return nil, s.live, err
	}
	if _, err := eng.InspectImage(ctx, target.Image); err != nil {
		if errors.Is(err, docker.ErrNotFound) {
			return nil, s.live, app.Invalidf("The image of release %d (%s) is no longer kept (releases:set %s keep N keeps more); nothing changed", target.Number, target.Image, appName)
		}
		return nil, s.live, err
	}
	return target, s.live, nil
}

func (d *Deployer) rollback(ctx context.Context, appName string, target *store.Release, data *DataPlan, out io.Writer, holder string) (store.Release, error) {
	return d.run(ctx, appName, holder, out, func(j *job) error {
		j.rollbackOf, j.restoreFrom = target, data
		j.src = Source{Kind: SourceRollback, Ref: fmt.Sprintf("v%d", target.Number), GitRev: target.GitRev}
		return nil
	})
}
