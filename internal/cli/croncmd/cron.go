// Package croncmd holds the cron:* commands: the tasks of app.json "cron",
// run on schedule by the daemon (internal/cron).
package croncmd

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/cli"
)

func init() {
	cli.Register(
		&cli.Command{Name: "cron:list", Args: "(<app>|--global) [--format json|stdout]", Short: "List an app's scheduled cron tasks, with their last run", App: cli.AppRequired, Global: true, Values: []string{"format"}, Run: cronList},
		&cli.Command{Name: "cron:run", Args: "<app> <cron_id> [--detach] [--ttl-seconds SECONDS]", Short: "Run a cron task now, in a one-off container of the live release", App: cli.AppRequired, Bools: []string{"detach"}, Values: []string{"ttl-seconds"}, Run: cronRun},
		&cli.Command{Name: "cron:report", Args: "[<app>|--global] [<flag>] [--format json]", Short: "Display an app's cron settings", App: cli.AppOptional, Global: true, Values: []string{"format"}, InfoFlags: true, Run: cronReport},
		&cli.Command{Name: "cron:set", Args: "(<app>|--global) mailfrom|mailto|maintenance [<value>]", Short: "Set or clear a cron property (maintenance true suspends the app's tasks)", App: cli.AppRequired, Global: true, Run: cronSet},
		&cli.Command{Name: "cron:suspend", Args: "<app> <cron_id>", Short: "Suspend a cron task", App: cli.AppRequired, Run: maintenance(true)},
		&cli.Command{Name: "cron:resume", Args: "<app> <cron_id>", Short: "Resume a suspended cron task", App: cli.AppRequired, Run: maintenance(false)},
	)
}

// listEntry is a task in Dokku's cron:list --format json, plus what Berth
// keeps of its runs.
type listEntry struct {
	ID                string `json:"id"`
	App               string `json:"app,omitempty"`
	Command           string `json:"command"`
	Global            bool   `json:"global,omitempty"`
	Schedule          string `json:"schedule"`
	ConcurrencyPolicy string `json:"concurrency_policy"`
	AppInMaintenance  bool   `json:"app-in-maintenance"`
	TaskInMaintenance bool   `json:"task-in-maintenance"`
	Maintenance       bool   `json:"maintenance"`
	// Berth's own, present once known.
	NextRun      string `json:"next-run,omitempty"`
	LastRun      string `json:"last-run,omitempty"`
	LastExitCode *int   `json:"last-exit-code,omitempty"`
	LastError    string `json:"last-error,omitempty"`
	LastOutput   string `json:"last-output,omitempty"`
}

func cronList(c *cli.Ctx) error {
	if err := c.NoExtraArgs(0); err != nil {
		return err
	}
	res, err := api.CronList.Call(c, c.API, api.CronListRequest{App: c.App, Global: c.Global})
	if err != nil {
		return err
	}
	entries := []listEntry{}
	for _, t := range res.Tasks {
		e := listEntry{ID: t.ID, App: t.App, Command: t.Command, Schedule: t.Schedule, ConcurrencyPolicy: t.ConcurrencyPolicy,
			AppInMaintenance: t.AppInMaintenance, TaskInMaintenance: t.TaskInMaintenance, Maintenance: t.Maintenance}
		if !t.Next.IsZero() {
			e.NextRun = t.Next.UTC().Format(time.RFC3339)
		}
		if r := t.LastRun; r != nil {
			code := r.ExitCode
			e.LastRun, e.LastExitCode, e.LastError, e.LastOutput = r.Started.UTC().Format(time.RFC3339), &code, r.Error, r.Output
		}
		entries = append(entries, e)
	}
	if c.Flag("format", "stdout") == "json" {
		b, err := json.Marshal(entries)
		if err != nil {
			return err
		}
		c.Println(string(b))
		return nil
	}
	rows := [][]string{{"ID", "Schedule", "Concurrency", "Maintenance", "Command", "Last run"}}
	for _, e := range entries {
		m := "false"
		switch {
		case e.TaskInMaintenance:
			m = "true (task)"
		case e.AppInMaintenance:
			m = "true (app)"
		}
		rows = append(rows, []string{e.ID, e.Schedule, e.ConcurrencyPolicy, m, e.Command, lastRun(e)})
	}
	c.Columns(rows)
	return nil
}

// lastRun says how a task's last run went, in one cell.
func lastRun(e listEntry) string {
	switch {
	case e.LastRun == "":
		return "-"
	case e.LastError != "":
		return e.LastRun + " failed: " + e.LastError
	case *e.LastExitCode != 0:
		return fmt.Sprintf("%s failed (exit %d)", e.LastRun, *e.LastExitCode)
	}
	return e.LastRun + " ok"
}

func cronRun(c *cli.Ctx) error {
	if err := c.NoExtraArgs(1); err != nil {
		return err
	}
	id := ""
	if len(c.Args) > 0 {
		id = c.Args[0]
	}
	var ttl int64
	if v := c.Flag("ttl-seconds", ""); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return cli.Failf("--ttl-seconds must be a positive integer")
		}
		ttl = n
	}
	res, err := api.CronRun.Stream(c, c.API, api.CronRunRequest{App: c.App, ID: id, Detach: c.Bool("detach"), TTLSeconds: ttl}, c.Output())
	if err != nil {
		return err
	}
	if res.Name != "" {
		c.Println(res.Name)
	}
	if res.ExitCode != 0 {
		return cli.ExitCode(res.ExitCode)
	}
	return nil
}

func cronSet(c *cli.Ctx) error {
	if len(c.Args) == 0 {
		return cli.Failf("No property specified")
	}
	if err := c.NoExtraArgs(2); err != nil {
		return err
	}
	req := api.CronSetRequest{App: c.App, Global: c.Global, Key: c.Args[0]}
	if len(c.Args) == 2 && c.Args[1] != "" {
		req.Value = c.Args[1]
	} else {
		req.Unset = true
	}
	if _, err := api.CronSet.Call(c, c.API, req); err != nil {
		return err
	}
	if req.Unset {
		c.Info2("Unsetting %s", req.Key)
	} else {
		c.Info2("Setting %s to %s", req.Key, req.Value)
	}
	return nil
}

func maintenance(on bool) func(*cli.Ctx) error {
	return func(c *cli.Ctx) error {
		if err := c.NoExtraArgs(1); err != nil {
			return err
		}
		if len(c.Args) == 0 {
			return cli.Failf("Please specify a Cron ID from the output of 'dokku cron:list %s'", c.App)
		}
		req := api.CronSetRequest{App: c.App, Key: "maintenance." + c.Args[0], Value: "true", Unset: !on}
		if !on {
			req.Value = ""
		}
		if _, err := api.CronSet.Call(c, c.API, req); err != nil {
			return err
		}
		if on {
			c.Info2("Suspended cron task %s", c.Args[0])
		} else {
			c.Info2("Resumed cron task %s", c.Args[0])
		}
		return nil
	}
}

func cronReport(c *cli.Ctx) error {
	if err := c.NoExtraArgs(0); err != nil {
		return err
	}
	apps, err := c.ReportApps()
	if err != nil {
		return err
	}
	for _, app := range apps {
		res, err := api.CronReport.Call(c, c.API, api.CronReportRequest{App: app, Global: c.Global})
		if err != nil {
			return err
		}
		if c.Flag("format", "stdout") == "json" && c.InfoFlag == "" {
			// Dokku's keys: each with and without the "cron-" prefix.
			obj := map[string]string{}
			for _, k := range res.Keys {
				obj[k], obj["cron-"+k] = res.Values[k], res.Values[k]
			}
			b, err := json.Marshal(obj)
			if err != nil {
				return err
			}
			c.Println(string(b))
			continue
		}
		fields := make([]cli.Field, 0, len(res.Keys))
		for _, k := range res.Keys {
			fields = append(fields, cli.Field{Key: k, Value: res.Values[k]})
		}
		title := app + " cron information"
		if c.Global {
			title = "Global cron information"
		}
		if err := c.Report("cron", title, fields); err != nil {
			return err
		}
	}
	return nil
}
