// Package containercmd holds the commands of what a container gets when
// Berth creates it: docker-options:*, storage:* and resource:* (served by
// internal/containeropts).
package containercmd

import (
	"sort"
	"strings"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/cli"
)

func init() {
	cli.Register(
		&cli.Command{Name: "docker-options:add", Args: "[--process TYPE]... <app> <phase(s)> OPTION...", Short: "Add docker options to phases build, deploy and run (comma-separated; --process scopes deploy options to a process type)",
			App: cli.AppRequired, Multi: []string{"process"}, ValuesAfter: 1, Run: dockerOptionsChange("add")},
		&cli.Command{Name: "docker-options:remove", Args: "[--process TYPE]... <app> <phase(s)> OPTION...", Short: "Remove docker options from phases",
			App: cli.AppRequired, Multi: []string{"process"}, ValuesAfter: 1, Run: dockerOptionsChange("remove")},
		&cli.Command{Name: "docker-options:clear", Args: "[--process TYPE]... <app> [<phase(s)>]", Short: "Remove every docker option (of the given phases)",
			App: cli.AppRequired, Multi: []string{"process"}, ValuesAfter: 1, Run: dockerOptionsChange("clear")},
		&cli.Command{Name: "docker-options:list", Args: "<app> --phase PHASE [--process TYPE]", Short: "List the docker options of a phase, one per line",
			App: cli.AppRequired, Values: []string{"phase", "process"}, Run: dockerOptionsList},
		&cli.Command{Name: "docker-options:report", Args: "[<app>] [<flag>] [--format json]", Short: "Display an app's docker options",
			App: cli.AppOptional, Values: []string{"format"}, InfoFlags: true, Run: dockerOptionsReport},
	)
}

func dockerOptionsChange(verb string) func(*cli.Ctx) error {
	return func(c *cli.Ctx) error {
		req := api.DockerOptionsChange{App: c.App, Verb: verb, Processes: c.Multi("process")}
		if len(c.Args) > 0 && c.Args[0] != "" {
			req.Phases = strings.Split(c.Args[0], ",")
		} else if verb != "clear" {
			return cli.Failf("Please specify phase(s) (build, deploy, run) and a docker option")
		}
		if len(c.Args) > 1 {
			if verb == "clear" {
				return cli.Failf("docker-options:clear takes an app and phases, not options")
			}
			req.Option = strings.Join(c.Args[1:], " ")
		}
		_, err := api.DockerOptionsUpdate.Stream(c, c.API, req, c.Output())
		return err
	}
}

func dockerOptionsList(c *cli.Ctx) error {
	if err := c.NoExtraArgs(0); err != nil {
		return err
	}
	res, err := api.DockerOptionsList.Call(c, c.API, api.DockerOptionsQuery{App: c.App, Phase: c.Flag("phase", ""), Process: c.Flag("process", "")})
	if err != nil {
		return err
	}
	for _, o := range res.Options {
		c.Println(o)
	}
	return nil
}

func dockerOptionsReport(c *cli.Ctx) error {
	apps, err := c.ReportApps()
	if err != nil {
		return err
	}
	for _, a := range apps {
		res, err := api.DockerOptionsReport.Call(c, c.API, api.AppRef{App: a})
		if err != nil {
			return err
		}
		fields := []cli.Field{
			{Key: "build", Value: strings.Join(res.Options["build"], " ")},
			{Key: "deploy", Value: strings.Join(res.Options["deploy"], " ")},
			{Key: "run", Value: strings.Join(res.Options["run"], " ")},
		}
		var procKeys []string
		for k := range res.Options {
			if strings.HasPrefix(k, "deploy.") {
				procKeys = append(procKeys, k)
			}
		}
		sort.Strings(procKeys)
		for _, k := range procKeys {
			fields = append(fields, cli.Field{Key: k, Value: strings.Join(res.Options[k], " ")})
		}
		obj := map[string]any{}
		for _, f := range fields {
			obj[f.Key] = f.Value
			obj["docker-options-"+f.Key] = f.Value
			list := res.Options[f.Key]
			if list == nil {
				list = []string{}
			}
			obj[f.Key+"-list"] = list
		}
		if err := c.ReportWith("docker-options", a+" docker-options information", fields, cli.ReportOptions{Unsorted: true, JSON: obj}); err != nil {
			return err
		}
	}
	return nil
}
