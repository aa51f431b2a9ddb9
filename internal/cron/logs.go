package cron

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// WriteLogs writes the kept output of each task's last run of app, for
// `logs`: each line prefixed "APP[cron.ID]: " (with the run's end time
// unless quiet), last lines lines of each (0: all), then one line saying
// how the run ended. process "" or "cron" selects them; any other process
// type none.
func (m *Manager) WriteLogs(ctx context.Context, appName, process string, lines int, quiet bool, out io.Writer) {
	if process != "" && process != "cron" {
		return
	}
	tasks, err := m.List(ctx, appName)
	if err != nil {
		return
	}
	type run struct {
		t   Task
		rec Record
	}
	var runs []run
	for _, t := range tasks {
		if rec, ok := m.LastRun(ctx, appName, t.ID); ok {
			runs = append(runs, run{t, rec})
		}
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].rec.Started.Before(runs[j].rec.Started) })
	for _, r := range runs {
		prefix := fmt.Sprintf("%s[cron.%s]: ", appName, r.t.ID)
		if !quiet {
			prefix = r.rec.Finished.UTC().Format(time.RFC3339Nano) + " " + prefix
		}
		ls := strings.Split(strings.TrimRight(r.rec.Output, "\n"), "\n")
		if r.rec.Output == "" {
			ls = nil
		}
		if lines > 0 && len(ls) > lines {
			ls = ls[len(ls)-lines:]
		}
		for _, l := range ls {
			fmt.Fprintf(out, "%s%s\n", prefix, l)
		}
		if !quiet {
			fmt.Fprintf(out, "%s(%s)\n", prefix, r.rec.Summary(r.t.Command))
		}
	}
}

// Summary says in a few words how the run ended.
func (r Record) Summary(command string) string {
	how := "cron:run"
	if r.Scheduled {
		how = "scheduled"
	}
	switch {
	case r.Error != "":
		return fmt.Sprintf("%s run of %q could not run: %s", how, command, r.Error)
	case r.ExitCode != 0:
		return fmt.Sprintf("%s run of %q failed with exit code %d", how, command, r.ExitCode)
	}
	return fmt.Sprintf("%s run of %q succeeded", how, command)
}
