package deploy

import (
	"io"
	"path/filepath"

	"github.com/berthpaas/berth/internal/logs"
)

// failedLogPath is where the output of an app's last failed deploy is kept.
func (d *Deployer) failedLogPath(app string) string {
	return filepath.Join(d.dataDir, "apps", app, "failed-deploy.json")
}

// keepFailedOutput records the output of a failed deploy's containers for
// `logs` (nothing is recorded when no container failed).
func (d *Deployer) keepFailedOutput(app string, release int, cs []logs.FailedContainer) error {
	return logs.KeepFailure(d.failedLogPath(app), logs.Failure{Release: release, At: d.now(), Containers: cs})
}

// forgetFailedOutput drops the kept output once a deploy succeeds.
func (d *Deployer) forgetFailedOutput(app string) {
	if err := logs.ForgetFailure(d.failedLogPath(app)); err != nil {
		d.log.Warn("remove failed deploy output", "app", app, "err", err)
	}
}

// writeFailedOutput writes the kept output of the app's last failed deploy
// as `logs` shows it.
func (d *Deployer) writeFailedOutput(app string, opts logs.Options, out io.Writer) {
	logs.WriteFailure(d.failedLogPath(app), app, opts, out)
}
