package containercmd

import (
	"sort"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/cli"
)

var resourceFlags = []string{"cpu", "memory", "memory-swap", "network", "network-ingress", "network-egress", "nvidia-gpu"}

func init() {
	values := append([]string{"process-type"}, resourceFlags...)
	cli.Register(
		&cli.Command{Name: "resource:limit", Args: "[--process-type TYPE] [--cpu N] [--memory SIZE] [--memory-swap SIZE] [...] <app>",
			Short: "Limit the cpu and memory of an app's processes (all types, or one with --process-type); without values, show them",
			App:   cli.AppRequired, Values: values, Run: resourceSet("limit")},
		&cli.Command{Name: "resource:limit-clear", Args: "[--process-type TYPE] <app>", Short: "Clear an app's resource limits (of one process type)",
			App: cli.AppRequired, Values: []string{"process-type"}, Run: resourceClear("limit")},
		&cli.Command{Name: "resource:reserve", Args: "[--process-type TYPE] [--memory SIZE] [...] <app>",
			Short: "Reserve memory for an app's processes (all types, or one with --process-type); without values, show them",
			App:   cli.AppRequired, Values: values, Run: resourceSet("reserve")},
		&cli.Command{Name: "resource:reserve-clear", Args: "[--process-type TYPE] <app>", Short: "Clear an app's resource reservations (of one process type)",
			App: cli.AppRequired, Values: []string{"process-type"}, Run: resourceClear("reserve")},
		&cli.Command{Name: "resource:report", Args: "[<app>] [<flag>] [--format json]", Short: "Display an app's resource limits and reservations",
			App: cli.AppOptional, Values: []string{"format"}, InfoFlags: true, Run: resourceReport},
	)
}

func resourceSet(kind string) func(*cli.Ctx) error {
	return func(c *cli.Ctx) error {
		if err := c.NoExtraArgs(0); err != nil {
			return err
		}
		req := api.ResourceChange{App: c.App, Kind: kind, Process: c.Flag("process-type", ""), Values: map[string]string{}}
		for _, k := range resourceFlags {
			if v := c.Flag(k, ""); v != "" {
				req.Values[k] = v
			}
		}
		_, err := api.ResourceUpdate.Stream(c, c.API, req, c.Output())
		return err
	}
}

func resourceClear(kind string) func(*cli.Ctx) error {
	return func(c *cli.Ctx) error {
		if err := c.NoExtraArgs(0); err != nil {
			return err
		}
		_, err := api.ResourceUpdate.Stream(c, c.API, api.ResourceChange{App: c.App, Kind: kind, Process: c.Flag("process-type", ""), Clear: true}, c.Output())
		return err
	}
}

func resourceReport(c *cli.Ctx) error {
	apps, err := c.ReportApps()
	if err != nil {
		return err
	}
	for _, a := range apps {
		res, err := api.ResourceReport.Call(c, c.API, api.AppRef{App: a})
		if err != nil {
			return err
		}
		keys := make([]string, 0, len(res.Values))
		for k := range res.Values {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var fields []cli.Field
		for _, k := range keys {
			fields = append(fields, cli.Field{Key: k, Value: res.Values[k]})
		}
		if err := c.Report("resource", a+" resource information", fields); err != nil {
			return err
		}
	}
	return nil
}
