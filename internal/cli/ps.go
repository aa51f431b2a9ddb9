package cli

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/berthpaas/berth/internal/api"
)

func init() {
	appOrAll := func(name, args, short string, run func(*Ctx) error) *Command {
		return &Command{Name: name, Args: args, Short: short, App: AppOptional, Bools: []string{"all", "parallel"}, Run: run}
	}
	Register(
		&Command{Name: "git:from-archive", Args: "[--archive-type tar|tar.gz] <app> (URL|-)", Short: "Deploy a tar or tar.gz of a source tree, from a URL or stdin (-)", App: AppRequired, Values: []string{"archive-type"}, Run: gitFromArchive},
		&Command{Name: "git:from-image", Args: "<app> <image>", Short: "Deploy an image already on the engine", App: AppRequired, Run: gitFromImage},
		appOrAll("ps:rebuild", "(<app>|--all)", "Rebuild an app from the source of its live release", psEach(api.PSRebuild)),
		appOrAll("ps:start", "(<app>|--all)", "Start an app's processes", psEach(api.PSStart)),
		appOrAll("ps:stop", "(<app>|--all)", "Stop an app's processes (they stay stopped until ps:start)", psEach(api.PSStop)),
		appOrAll("ps:restart", "(<app>|--all)", "Restart an app: new containers of its live release", psEach(api.PSRestart)),
		appOrAll("ps:restore", "(<app>|--all)", "Start what should run and is not running (the daemon does this at start)", psEach(api.PSRestore)),
		&Command{Name: "ps:scale", Args: "<app> [<type>=<n> ...] [--skip-deploy] [--format json]", Short: "Show or set how many containers of each process type run", App: AppRequired, Bools: []string{"skip-deploy"}, Values: []string{"format"}, Run: psScale},
		&Command{Name: "ps:report", Args: "[<app>] [<flag>] [--format json]", Short: "Display a process report for one app, all apps or the global settings", App: AppOptional, Values: []string{"format"}, Global: true, InfoFlags: true, Run: psReport},
		&Command{Name: "ps:inspect", Args: "<app>", Short: "Show the engine's inspect output of an app's containers", App: AppRequired, Run: psInspect},
		&Command{Name: "ps:set", Args: "(<app>|--global) <key> [<value>]", Short: "Set or clear a ps setting (restart-policy, stop-timeout-seconds, procfile-path)", App: AppRequired, Global: true, Run: PropertySetter("ps")},
		&Command{Name: "app-json:set", Args: "(<app>|--global) appjson-path [<path>]", Short: "Set or clear app.json's path (in the source, and under the image's WORKDIR and /app)", App: AppRequired, Global: true, Run: PropertySetter("app-json")},
		&Command{Name: "app-json:report", Args: "[<app>] [<flag>] [--format json]", Short: "Display an app's app-json settings", App: AppRequired, Values: []string{"format"}, Global: true, InfoFlags: true, Run: SettingsReport("app-json")},
		&Command{Name: "builder-dockerfile:set", Args: "(<app>|--global) dockerfile-path [<path>]", Short: "Set or clear the Dockerfile's path in the source", App: AppRequired, Global: true, Run: PropertySetter("builder-dockerfile")},
		&Command{Name: "builder-dockerfile:report", Args: "[<app>] [<flag>] [--format json]", Short: "Display the Dockerfile builder's settings", App: AppRequired, Values: []string{"format"}, Global: true, InfoFlags: true, Run: SettingsReport("builder-dockerfile")},
		&Command{Name: "run", Args: "[--env KEY=VALUE ...] [--no-tty] [--ttl-seconds N] <app> <cmd>...", Short: "Run a one-off command in a new container of the live release", App: AppRequired, Passthrough: true, Multi: []string{"env"}, Letters: map[string]string{"-e": "env"}, Bools: []string{"no-tty", "tty"}, Values: []string{"ttl-seconds"}, Run: runCmd},
		&Command{Name: "run:detached", Args: "[--env KEY=VALUE ...] [--ttl-seconds N] <app> <cmd>...", Short: "Run a one-off command in the background; prints its container", App: AppRequired, Passthrough: true, Multi: []string{"env"}, Letters: map[string]string{"-e": "env"}, Values: []string{"ttl-seconds"}, Run: runDetached},
		&Command{Name: "run:list", Args: "<app> [--format json]", Short: "List an app's one-off containers", App: AppRequired, Values: []string{"format"}, Run: runList},
		&Command{Name: "run:retire", Args: "[<app>]", Short: "Stop the one-off containers (of an app, or every app) that outlived their --ttl-seconds", App: AppOptional, Run: runRetire},
		&Command{Name: "ps:retire", Short: "Retire old containers: one-off and cron containers past their --ttl-seconds (an old release's containers are retired by its deploy)", Run: runRetire},
		&Command{Name: "run:stop", Args: "<app> <container>", Short: "Stop a one-off container", App: AppRequired, Values: []string{"container"}, Run: runStop},
		&Command{Name: "enter", Args: "<app> [<type>[.<n>]] [<cmd>...]", Short: "Run a command (default /bin/sh) in a running process container", App: AppRequired, Passthrough: true, Run: enter},
		&Command{Name: "logs", Args: "<app> [-t|--tail] [-n|--num N] [-p|--ps TYPE] [-q|--quiet]", Short: "Show an app's logs; -t follows them across deploys", App: AppRequired, Bools: []string{"tail"}, Values: []string{"num", "ps"}, Letters: map[string]string{"-t": "tail", "-n": "num", "-p": "ps", "-q": "quiet"}, Run: logs},
		&Command{Name: "cleanup", Short: "Remove stopped containers, dangling images and images of old releases", Run: cleanup},
		&Command{Name: "releases", Args: "<app> [--format json]", Short: "List an app's releases", App: AppRequired, Values: []string{"format"}, Run: releases},
	)
}

func gitFromArchive(c *Ctx) error {
	if len(c.Args) == 0 {
		return Failf("Please specify an archive URL, or - to read the archive from stdin")
	}
	if err := c.NoExtraArgs(3); err != nil { // Dokku's optional GIT_USERNAME GIT_EMAIL are ignored
		return err
	}
	if t := c.Flag("archive-type", "tar"); t != "tar" && t != "tar.gz" {
		return Failf("Invalid archive type %s: Berth takes tar and tar.gz (detected from the content)", t)
	}
	_, err := api.GitFromArchive.Run(c, c.API, api.FromArchiveRequest{App: c.App, URL: c.Args[0]}, &api.Session{Stdin: c.Stdin, Stdout: c.Stdout, Stderr: c.Stderr})
	return err
}

func gitFromImage(c *Ctx) error {
	if len(c.Args) == 0 {
		return Failf("Please specify a docker image")
	}
	if err := c.NoExtraArgs(3); err != nil {
		return err
	}
	_, err := api.GitFromImage.Stream(c, c.API, api.FromImageRequest{App: c.App, Image: c.Args[0]}, c.Output())
	return err
}

func psEach(op api.Op[api.PSRequest, api.Empty]) func(*Ctx) error {
	return func(c *Ctx) error {
		if c.App == "" && !c.Bool("all") {
			return Failf("Please specify an app to run the command on, or --all")
		}
		if err := c.NoExtraArgs(0); err != nil {
			return err
		}
		_, err := op.Stream(c, c.API, api.PSRequest{App: c.App, All: c.Bool("all")}, c.Output())
		return err
	}
}

func psScale(c *Ctx) error {
	changes := map[string]int{}
	for _, a := range c.Args {
		typ, n, ok := strings.Cut(a, "=")
		if !ok || n == "" {
			return Failf("Missing count for process type %s", typ)
		}
		q, err := strconv.Atoi(n)
		if err != nil || q < 0 {
			return Failf("Invalid count for process type %s", typ)
		}
		changes[typ] = q
	}
	out, accepted := c.headerFirst(func() {
		if len(changes) > 0 && !c.Quiet {
			c.Info1("Scaling %s processes: %s", c.App, strings.Join(c.Args, " "))
		}
	})
	res, err := api.PSScale.Stream(c, c.API, api.ScaleRequest{App: c.App, Changes: changes, SkipDeploy: c.Bool("skip-deploy")}, out)
	if err != nil {
		return err
	}
	accepted()
	if len(changes) > 0 {
		return nil
	}
	switch c.Flag("format", "stdout") {
	case "json":
		type entry struct {
			Type     string `json:"process_type"`
			Quantity int    `json:"quantity"`
		}
		list := []entry{}
		for _, t := range res.Types {
			list = append(list, entry{t, res.Formation[t]})
		}
		b, _ := json.Marshal(list)
		c.Println(string(b))
	case "stdout":
		// Dokku's layout: "TYPE:" padded to 5, a space, the quantity; the
		// header lines go with --quiet.
		c.Info1("Scaling for %s", c.App)
		if !c.Quiet {
			c.Println("proctype: qty")
			c.Println("--------: ---")
		}
		for _, t := range res.Types {
			c.Println(fmt.Sprintf("%-5s %d", t+":", res.Formation[t]))
		}
	default:
		return Failf("Invalid format: %s; use stdout or json", c.Flag("format", ""))
	}
	return nil
}

func psReport(c *Ctx) error {
	settings := func(app string) ([]Field, error) {
		res, err := api.PropertiesReport.Call(c, c.API, api.PropertyReport{Scope: api.Scope{App: app, Global: c.Global}, Namespace: "ps"})
		return SettingFields(res), err
	}
	if c.Global {
		fields, err := settings("")
		if err != nil {
			return err
		}
		return c.Report("ps", "--global ps information", fields)
	}
	res, err := api.PSReportOp.Call(c, c.API, api.PSRequest{App: c.App, All: c.App == ""})
	if err != nil {
		return err
	}
	if len(res.Reports) == 0 {
		c.Warn("You haven't deployed any applications yet")
		return nil
	}
	for _, r := range res.Reports {
		fields, err := settings(r.App)
		if err != nil {
			return err
		}
		if err := c.Report("ps", r.App+" ps information", append(fields, processFields(r)...)); err != nil {
			return err
		}
	}
	return nil
}

// processFields are ps:report's lines about an app's processes: Dokku's
// --deployed, --processes, --ps-can-scale, --restore, --running and
// --status-TYPE.N, and Berth's release, engine error, restarts and last
// exit of each container.
func processFields(r api.PSReport) []Field {
	running := 0
	for _, ct := range r.Containers {
		if ct.State == "running" {
			running++
		}
	}
	state := "false"
	switch {
	case running > 0 && running == len(r.Containers):
		state = "true"
	case running > 0:
		state = "mixed"
	}
	fields := []Field{
		{"--deployed", strconv.FormatBool(r.Deployed)},
		{"release", strconv.Itoa(r.Release)},
		{"--processes", strconv.Itoa(len(r.Containers))},
		{"can-scale", strconv.FormatBool(r.CanScale)},
		{"--restore", strconv.FormatBool(!r.Stopped)},
		{"--running", state},
	}
	if r.EngineError != "" {
		fields = append(fields, Field{"engine", r.EngineError})
	}
	for _, ct := range r.Containers {
		v := fmt.Sprintf("%s (CID: %.12s)", ct.State, ct.ID)
		if ct.HostPort != 0 {
			v += fmt.Sprintf(" 127.0.0.1:%d", ct.HostPort)
		}
		if ct.Node != "" { // a Swarm task: where it runs
			where := ct.Node
			if ct.HostPort != 0 {
				where += fmt.Sprintf(":%d", ct.HostPort)
			}
			v = fmt.Sprintf("%s on %s (task: %.12s, service %s)", ct.State, where, ct.ID, ct.Name)
		}
		fields = append(fields, Field{fmt.Sprintf("--status-%s.%d", ct.Type, ct.Index), v})
		fields = append(fields, Field{fmt.Sprintf("restarts-%s-%d", ct.Type, ct.Index), strconv.Itoa(ct.Restarts)})
		if x := ct.LastExit; x != nil {
			v := strconv.Itoa(x.Code)
			if x.OOMKilled {
				v += " (OOM killed)"
			}
			if !x.At.IsZero() {
				v += " at " + x.At.UTC().Format(time.RFC3339)
			}
			fields = append(fields, Field{fmt.Sprintf("last-exit-%s-%d", ct.Type, ct.Index), v})
		}
	}
	return fields
}

func psInspect(c *Ctx) error {
	res, err := api.PSInspect.Call(c, c.API, api.AppRef{App: c.App})
	if err != nil {
		return err
	}
	b, _ := json.MarshalIndent(res.Containers, "", "    ")
	c.Println(string(b))
	return nil
}

func envFlags(c *Ctx) (map[string]string, error) {
	env := map[string]string{}
	for _, kv := range c.Multi("env") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, Failf("Invalid env pair: %s; expected KEY=VALUE", kv)
		}
		env[k] = v
	}
	return env, nil
}

// runRequest is the one-off container run and run:detached ask for: the
// command, --env, --ttl-seconds and the global --label flags.
func runRequest(c *Ctx) (api.RunRequest, error) {
	ttl := 0
	if v, ok := c.values["ttl-seconds"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return api.RunRequest{}, Failf("--ttl-seconds must be a positive integer")
		}
		ttl = n
	}
	if len(c.Args) == 0 {
		return api.RunRequest{}, Failf("Please specify a command to run")
	}
	env, err := envFlags(c)
	if err != nil {
		return api.RunRequest{}, err
	}
	var labels map[string]string
	for _, kv := range c.Labels {
		k, v, _ := strings.Cut(kv, "=")
		if k == "" {
			return api.RunRequest{}, Failf("Invalid label %q; expected --label=KEY=VALUE", kv)
		}
		if labels == nil {
			labels = map[string]string{}
		}
		labels[k] = v
	}
	return api.RunRequest{App: c.App, Cmd: c.Args, Env: env, TTLSeconds: ttl, Labels: labels}, nil
}

func runCmd(c *Ctx) error {
	req, err := runRequest(c)
	if err != nil {
		return err
	}
	req.TTY = c.Terminal != nil && !c.Bool("no-tty")
	req.Quiet = c.Quiet
	return c.Interactive(req.TTY, func(s *api.Session) (int, error) {
		res, err := api.Run.Run(c, c.API, req, s)
		return res.ExitCode, err
	})
}

func runDetached(c *Ctx) error {
	req, err := runRequest(c)
	if err != nil {
		return err
	}
	res, err := api.RunDetached.Call(c, c.API, req)
	if err != nil {
		return err
	}
	c.Println(res.Name)
	return nil
}

func runRetire(c *Ctx) error {
	if err := c.NoExtraArgs(0); err != nil {
		return err
	}
	_, err := api.RunRetire.Stream(c, c.API, api.RunRetireRequest{App: c.App}, c.Output())
	return err
}

func runList(c *Ctx) error {
	res, err := api.RunList.Call(c, c.API, api.AppRef{App: c.App})
	if err != nil {
		return err
	}
	if done, err := c.PrintJSON(res.Containers); done || err != nil {
		return err
	}
	c.Info2("%s run containers", c.App)
	if !c.Quiet {
		c.Println(fmt.Sprintf("%-30s %-10s %s", "NAME", "STATE", "STATUS"))
	}
	for _, ct := range res.Containers {
		c.Println(fmt.Sprintf("%-30s %-10s %s", ct.Name, ct.State, ct.Status))
	}
	return nil
}

func runStop(c *Ctx) error {
	name := c.Flag("container", "")
	if name == "" && len(c.Args) > 0 {
		name = c.Args[0]
	}
	if name == "" {
		return Failf("Please specify a container (see run:list %s)", c.App)
	}
	if _, err := api.RunStop.Call(c, c.API, api.RunStopRequest{App: c.App, Name: name}); err != nil {
		return err
	}
	c.Info1("Stopped %s", name)
	return nil
}

func enter(c *Ctx) error {
	var target string
	args := c.Args
	if len(args) > 0 && args[0] != "--" && !strings.HasPrefix(args[0], "/") && !strings.Contains(args[0], " ") {
		target, args = args[0], args[1:]
	}
	if len(args) > 0 && args[0] == "--" { // enter APP web.1 -- CMD
		args = args[1:]
	}
	tty := c.Terminal != nil
	return c.Interactive(tty, func(s *api.Session) (int, error) {
		res, err := api.Enter.Run(c, c.API, api.EnterRequest{App: c.App, Target: target, Cmd: args, TTY: tty}, s)
		return res.ExitCode, err
	})
}

func logs(c *Ctx) error {
	if err := c.NoExtraArgs(0); err != nil {
		return err
	}
	n := 0
	if v := c.Flag("num", ""); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 0 {
			return Failf("Invalid number of lines %q", v)
		}
	} else if !c.Bool("tail") {
		n = 100
	}
	_, err := api.Logs.Stream(c, c.API, api.LogsRequest{App: c.App, Follow: c.Bool("tail"), Lines: n, Process: c.Flag("ps", ""), Quiet: c.Bool("quiet")}, c.Output())
	return err
}

func cleanup(c *Ctx) error {
	_, err := api.Cleanup.Stream(c, c.API, api.Empty{}, c.Output())
	return err
}

func releases(c *Ctx) error {
	res, err := api.ReleasesList.Call(c, c.API, api.AppRef{App: c.App})
	if err != nil {
		return err
	}
	if done, err := c.PrintJSON(res.Releases); done || err != nil {
		return err
	}
	c.Info2("%s releases", c.App)
	for _, r := range res.Releases {
		ref := r.SourceRef
		if ref == "-" {
			ref = "(stdin)"
		}
		line := fmt.Sprintf("v%-4d %-10s %-8s %s  %s", r.Number, r.Status, r.Source, r.CreatedAt.UTC().Format("2006-01-02 15:04:05"), ref)
		if r.Error != "" {
			line += "  (" + r.Error + ")"
		}
		if len(r.Snapshots) > 0 {
			var b int64
			for _, s := range r.Snapshots {
				b += s.Bytes
			}
			line += fmt.Sprintf("  [snapshot %s]", sizeOf(b))
		}
		c.Println(strings.TrimRight(line, " "))
	}
	return nil
}

func init() {
	Register(&Command{Name: "checks:set", Args: "(<app>|--global) <key> [<value>]", Short: "Set or clear a checks setting (wait-to-retire, default-uptime-seconds, drain-timeout)", App: AppRequired, Global: true, Run: PropertySetter("checks")})
}
