package deploy

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/berthpaas/berth/internal/store"
)

// waitSteps are the steps whose time is the app's own: its build, the
// commands it runs before and after, and its checks. The rest of a deploy
// is Berth's overhead.
var waitSteps = map[string]bool{"build": true, "predeploy": true, "release-command": true, "check": true, "postdeploy": true}

// Overhead is the part of a deploy's time spent outside the app's own
// steps (waitSteps): unpacking, reading files, starting containers,
// switching, draining, retiring.
func Overhead(steps []store.StepTime) time.Duration {
	var d time.Duration
	for _, s := range steps {
		if !waitSteps[s.Step] {
			d += s.Duration
		}
	}
	return d
}

// DescribeSteps is the deploy log's last line: the total, then each step
// that took a measurable time, e.g. "Deploy took 1.32s: build 0.41s,
// check 0.52s, switch 0.07s (Berth's own share 0.39s)".
func DescribeSteps(total time.Duration, steps []store.StepTime) string {
	var parts []string
	for _, s := range steps {
		if s.Duration < 5*time.Millisecond {
			continue
		}
		parts = append(parts, s.Step+" "+seconds(s.Duration))
	}
	line := "Deploy took " + seconds(total)
	if len(parts) > 0 {
		line += ": " + strings.Join(parts, ", ")
	}
	return line + fmt.Sprintf(" (Berth's own share %s)", seconds(Overhead(steps)))
}

// seconds shows d in seconds with two decimals ("0.07s", "12.40s").
func seconds(d time.Duration) string {
	return fmt.Sprintf("%.2fs", d.Seconds())
}

// recordSteps keeps the steps' times with the release (releases:info),
// whether the deploy went through or not. A deploy that stopped before it
// made a release, or skipped its start, records nothing.
func (j *job) recordSteps(ctx context.Context) {
	if j.rel.ID == 0 || len(j.steps) == 0 {
		return
	}
	err := j.d.store.Tx(context.WithoutCancel(ctx), func(tx *store.Tx) error { return tx.SetReleaseSteps(j.rel, j.steps) })
	if err != nil {
		j.d.log.Warn("record the steps' times", "app", j.app.Name, "release", j.rel.Number, "err", err)
	}
}
