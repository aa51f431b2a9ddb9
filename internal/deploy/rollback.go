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
	s, err := d.state(ctx, appName)
	if err != nil {
		return store.Release{}, err
	}
	if !s.deployed {
		return store.Release{}, app.Invalidf("%s has not been deployed: there is nothing to roll back", appName)
	}
	rels, err := d.Releases(ctx, appName)
	if err != nil {
		return store.Release{}, err
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
		return store.Release{}, app.Invalidf("%s has no earlier release that was live: nothing to roll back to", appName)
	case target == nil:
		return store.Release{}, app.Errorf(app.ErrNotFound, "%s has no release %d; see releases %s", appName, n, appName)
	case target.Number == s.live.Number:
		return store.Release{}, app.Invalidf("Release %d is already live", n)
	case target.Status == store.ReleaseFailed || target.Status == store.ReleasePending || target.Image == "":
		return store.Release{}, app.Invalidf("Release %d never went live (%s): roll back to a release that did", target.Number, target.Status)
	}
	eng, err := d.connect(ctx)
	if err != nil {
		return store.Release{}, err
	}
	if _, err := eng.InspectImage(ctx, target.Image); err != nil {
		if errors.Is(err, docker.ErrNotFound) {
			return store.Release{}, app.Invalidf("The image of release %d (%s) is no longer kept (releases:set %s keep N keeps more); nothing changed", target.Number, target.Image, appName)
		}
		return store.Release{}, err
	}
	return d.run(ctx, appName, holder, out, func(j *job) error {
		j.rollbackOf = target
		j.src = Source{Kind: SourceRollback, Ref: fmt.Sprintf("v%d", target.Number), GitRev: target.GitRev}
		return nil
	})
}
