package deploy

import (
	"context"

	"github.com/berthpaas/berth/internal/appfile"
)

// Entries are the app.json "cron" entries of app's live release (what
// the release kept when it was made); deployed is false when the app has
// no live release.
func (d *Deployer) Entries(ctx context.Context, appName string) ([]appfile.Cron, bool, error) {
	s, err := d.state(ctx, appName)
	if err != nil || !s.deployed {
		return nil, false, err
	}
	set, err := d.settings(ctx, s.app)
	if err != nil {
		return nil, true, err
	}
	files, err := d.releaseFiles(s.app.Name, s.live.Number, set.procfilePath)
	if err != nil || files.AppJSON == nil {
		return nil, true, err
	}
	return files.AppJSON.Cron, true, nil
}
