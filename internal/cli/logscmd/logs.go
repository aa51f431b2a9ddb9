// Package logscmd holds the logs:* commands (logs itself is in cli):
// logs:failed, logs:set and logs:report, with Dokku's keys.
package logscmd

import (
	"encoding/json"
	"sort"
	"strings"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/cli"
)

func init() {
	cli.Register(
		&cli.Command{Name: "logs:failed", Args: "(<app>|--all)", Short: "Show what the containers of an app's last failed deploy printed", App: cli.AppOptional, Bools: []string{"all"}, Run: logsFailed},
		&cli.Command{Name: "logs:set", Args: "(<app>|--global) max-size [<value>]", Short: "Set or clear a logs property (max-size: the containers' log size, e.g. 20m, or unlimited)", App: cli.AppOptional, Global: true, Run: logsSet},
		&cli.Command{Name: "logs:report", Args: "[<app>|--global] [<flag>] [--format json]", Short: "Display an app's logs settings", App: cli.AppOptional, Global: true, Values: []string{"format"}, InfoFlags: true, Run: logsReport},
	)
}

func logsFailed(c *cli.Ctx) error {
	if err := c.NoExtraArgs(0); err != nil {
		return err
	}
	apps := []string{c.App}
	if c.Bool("all") {
		list, err := api.AppsList.Call(c, c.API, api.Empty{})
		if err != nil {
			return err
		}
		apps = apps[:0]
		for _, a := range list.Apps {
			apps = append(apps, a.Name)
		}
	} else if c.App == "" {
		return cli.Failf("Please specify an app to run the command on, or --all")
	}
	for _, a := range apps {
		res, err := api.LogsFailed.Stream(c, c.API, api.AppRef{App: a}, c.Output())
		if err != nil {
			return err
		}
		if !res.Found {
			c.Warn("No failed containers found")
		}
	}
	return nil
}

func logsSet(c *cli.Ctx) error {
	if c.App == "" && !c.Global {
		return cli.Failf("Please specify an app to run the command on")
	}
	if len(c.Args) == 0 {
		if c.App != "" { // Dokku checks the app first
			if _, err := api.AppsInfo.Call(c, c.API, api.AppRef{App: c.App}); err != nil {
				return err
			}
		}
		return cli.Failf("No property specified")
	}
	key := c.Args[0]
	known := false
	for _, k := range app.LogsKeys {
		known = known || k == key
	}
	if !known {
		return cli.Failf("Invalid property specified, valid properties include: %s", strings.Join(app.LogsKeys, ", "))
	}
	if app.LogsGlobalOnly[key] && !c.Global {
		return cli.Failf("%s may only be set globally with --global", key)
	}
	return cli.PropertySetter("logs")(c)
}

// reportKeys are the keys of a logs report, Dokku's: every key's computed
// and global value, and per app the app's own values of the keys it may
// set.
func reportKeys(global bool) []string {
	var keys []string
	for _, k := range app.LogsKeys {
		keys = append(keys, "computed-"+k, "global-"+k)
		if !global && !app.LogsGlobalOnly[k] {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return keys
}

func logsReport(c *cli.Ctx) error {
	if err := c.NoExtraArgs(0); err != nil {
		return err
	}
	apps, err := c.ReportApps()
	if err != nil {
		return err
	}
	for _, a := range apps {
		res, err := api.PropertiesReport.Call(c, c.API, api.PropertyReport{Scope: api.Scope{App: a, Global: c.Global}, Namespace: "logs"})
		if err != nil {
			return err
		}
		values := map[string]string{}
		for _, k := range app.LogsKeys {
			values[k], values["global-"+k], values["computed-"+k] = res.App[k], res.Global[k], res.Computed[k]
		}
		keys := reportKeys(c.Global)
		if c.Flag("format", "stdout") == "json" && c.InfoFlag == "" {
			obj := map[string]string{}
			for _, k := range keys {
				obj[k], obj["logs-"+k] = values[k], values[k]
			}
			b, err := json.Marshal(obj)
			if err != nil {
				return err
			}
			c.Println(string(b))
			continue
		}
		fields := make([]cli.Field, 0, len(keys))
		for _, k := range keys {
			fields = append(fields, cli.Field{Key: k, Value: values[k]})
		}
		title := a + " logs information"
		if c.Global {
			title = "Global logs information"
		}
		if err := c.Report("logs", title, fields); err != nil {
			return err
		}
	}
	return nil
}
