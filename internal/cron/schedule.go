// Package cron runs the `cron` entries of an app's app.json on schedule, as
// one-off containers of the app's live release, as Dokku's cron plugin
// does: the tasks and their IDs (Dokku's), the cron:* operations (list,
// run, set, report), and a scheduler inside the daemon that reads the
// tasks of every app at each tick, so that schedules follow deploys,
// renames and destroys without being registered anywhere. Each run's
// output and exit are kept (the last run of each task) and a failed run is
// logged. What to run and when is decided by pure functions (Parse, Due,
// Tasks); the engine is reached through the small Runner interface.
package cron

import (
	"fmt"
	"time"

	robfig "github.com/robfig/cron/v3"
)

// Schedule says when a task runs next.
type Schedule interface {
	// Next is the first run time strictly after t.
	Next(t time.Time) time.Time
}

// parser reads what Dokku's cron plugin reads: five fields (minute hour
// day-of-month month day-of-week) or a descriptor (@yearly, @annually,
// @monthly, @weekly, @daily, @midnight, @hourly, @every DURATION).
var parser = robfig.NewParser(robfig.Minute | robfig.Hour | robfig.Dom | robfig.Month | robfig.Dow | robfig.Descriptor)

// Parse reads a schedule in Dokku's grammar.
func Parse(spec string) (Schedule, error) {
	s, err := parser.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("invalid cron schedule %q: %w", spec, err)
	}
	return s, nil
}

// Due says whether s has a run time in (last, now]: a tick that covers
// last..now runs each task whose time came in between once, however many
// of its times came (a scheduler that was stopped does not catch up).
func Due(s Schedule, last, now time.Time) bool {
	next := s.Next(last)
	return !next.IsZero() && !next.After(now)
}
