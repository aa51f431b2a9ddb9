package deploy

import (
	"context"
	"io"
	"os"

	"github.com/berthpaas/berth/internal/logs"
)

// FailedLogs writes what the containers of app's last failed deploy left
// (logs:failed) and reports whether there was any.
func (d *Deployer) FailedLogs(ctx context.Context, appName string, out io.Writer) (bool, error) {
	if _, err := d.state(ctx, appName); err != nil {
		return false, err
	}
	if _, err := os.Stat(d.failedLogPath(appName)); err != nil {
		return false, nil
	}
	d.writeFailedOutput(appName, logs.Options{}, out)
	return true, nil
}
