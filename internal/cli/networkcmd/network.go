// Package networkcmd is the `network:*` commands: user networks for apps
// that talk to each other, and the settings that attach an app's
// containers to them (served by package networks in the daemon).
package networkcmd

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/cli"
)

func init() {
	cli.Register(
		&cli.Command{Name: "network:create", Args: "<network>", Short: "Create a network apps can join (a Docker bridge network)", Run: create},
		&cli.Command{Name: "network:destroy", Args: "<network> [--force]", Short: "Destroy a network made by network:create (refused while in use)", Bools: []string{"force"}, Run: destroy},
		&cli.Command{Name: "network:exists", Args: "<network>", Short: "Check that a network exists", Run: exists},
		&cli.Command{Name: "network:info", Args: "<network> [--format text|json]", Short: "Show a network", Values: []string{"format"}, CustomFormat: true, Run: info},
		&cli.Command{Name: "network:list", Args: "[--format json] [--dokku-managed]", Short: "List the engine's networks", Values: []string{"format"}, Bools: []string{"dokku-managed"}, Run: list},
		&cli.Command{Name: "network:rebuild", Args: "<app>", Short: "Attach an app's running containers to its attach-post-deploy networks", App: cli.AppRequired, Run: rebuild},
		&cli.Command{Name: "network:rebuildall", Short: "network:rebuild for every app", Run: rebuildAll},
		&cli.Command{Name: "network:report", Args: "[<app>|--global] [<flag>] [--format json]", Short: "Display an app's (or the global) network settings", App: cli.AppOptional, Global: true, Values: []string{"format"}, InfoFlags: true, Run: report},
		&cli.Command{Name: "network:set", Args: "(<app>|--global) <key> [<value>...]", Short: "Set or clear a network setting (attach-post-create, attach-post-deploy, bind-all-interfaces, initial-network, static-web-listener, tld)", App: cli.AppRequired, Global: true, Run: set},
	)
}

// networkArg is the one network name a command takes.
func networkArg(c *cli.Ctx) (string, error) {
	if len(c.Args) == 0 || c.Args[0] == "" {
		return "", cli.Failf("No network name specified")
	}
	return c.Args[0], c.NoExtraArgs(1)
}

func create(c *cli.Ctx) error {
	name, err := networkArg(c)
	if err != nil {
		return err
	}
	_, err = api.NetworkCreate.Stream(c, c.API, api.NetworkRef{Name: name}, c.Output())
	return err
}

func destroy(c *cli.Ctx) error {
	name, err := networkArg(c)
	if err != nil {
		return err
	}
	// Check first, so a missing network says so before any prompt.
	if _, err := api.NetworkInspect.Call(c, c.API, api.NetworkRef{Name: name}); err != nil {
		return err
	}
	if !c.Bool("force") {
		c.Warn("WARNING: Potentially Destructive Action")
		c.Warn("This command will destroy network %s.", name)
		c.Warn("To proceed, type \"%s\"", name)
		c.Stderr.Write([]byte("\n> "))
		line, _ := bufio.NewReader(c.Stdin).ReadString('\n')
		if strings.TrimSpace(line) != name {
			return cli.Failf("Confirmation did not match %s. Aborted.", name)
		}
	}
	_, err = api.NetworkDestroy.Stream(c, c.API, api.NetworkRef{Name: name}, c.Output())
	return err
}

func exists(c *cli.Ctx) error {
	name, err := networkArg(c)
	if err != nil {
		return err
	}
	if _, err := api.NetworkInspect.Call(c, c.API, api.NetworkRef{Name: name}); err != nil {
		return err
	}
	if !c.Quiet {
		c.Info1("Network exists")
	}
	return nil
}

func info(c *cli.Ctx) error {
	name, err := networkArg(c)
	if err != nil {
		return err
	}
	format := c.Flag("format", "text")
	if format != "text" && format != "json" {
		return cli.Failf("Invalid format specified, use either text or json")
	}
	n, err := api.NetworkInspect.Call(c, c.API, api.NetworkRef{Name: name})
	if err != nil {
		return err
	}
	if format == "json" {
		_, err := printJSON(c, n)
		return err
	}
	c.Info2("%s network information", name)
	for _, row := range [][2]string{{"ID:", n.ID}, {"Name:", n.Name}, {"Driver:", n.Driver}, {"Scope:", n.Scope}, {"Dokku managed:", fmt.Sprint(n.DokkuManaged)}} {
		c.Verbose("%-16s%s", row[0], row[1])
	}
	return nil
}

// printJSON prints v as JSON whatever --format says (info's is text|json).
func printJSON(c *cli.Ctx, v any) (bool, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return true, err
	}
	c.Println(string(b))
	return true, nil
}

func list(c *cli.Ctx) error {
	if err := c.NoExtraArgs(0); err != nil {
		return err
	}
	res, err := api.NetworkListOp.Call(c, c.API, api.Empty{})
	if err != nil {
		return err
	}
	nets := []api.NetworkInfo{}
	for _, n := range res.Networks {
		if !c.Bool("dokku-managed") || n.DokkuManaged {
			nets = append(nets, n)
		}
	}
	if done, err := c.PrintJSON(nets); err != nil || done {
		return err
	}
	if !c.Quiet {
		c.Info2("Networks")
	}
	for _, n := range nets {
		c.Println(n.Name)
	}
	return nil
}

func rebuild(c *cli.Ctx) error {
	if err := c.NoExtraArgs(0); err != nil {
		return err
	}
	_, err := api.NetworkRebuild.Stream(c, c.API, api.AppRef{App: c.App}, c.Output())
	return err
}

func rebuildAll(c *cli.Ctx) error {
	if err := c.NoExtraArgs(0); err != nil {
		return err
	}
	_, err := api.NetworkRebuildAll.Stream(c, c.API, api.Empty{}, c.Output())
	return err
}

func set(c *cli.Ctx) error {
	if len(c.Args) == 0 {
		return cli.Failf("No property specified; see `%s help network:set`", c.Env.Prog)
	}
	req := api.NetworkSet{Scope: api.Scope{App: c.App, Global: c.Global}, Key: c.Args[0]}
	for _, v := range c.Args[1:] {
		if v != "" {
			req.Values = append(req.Values, v)
		}
	}
	if _, err := api.NetworkSetOp.Call(c, c.API, req); err != nil {
		return err
	}
	if len(req.Values) == 0 {
		c.Info2("Unsetting %s", req.Key)
	} else {
		c.Info2("Setting %s to %s", req.Key, strings.Join(req.Values, " "))
	}
	return nil
}

// The report's keys, in order: those of an app, then those of --global.
var (
	appKeys    = []string{"attach-post-create", "attach-post-deploy", "bind-all-interfaces", "initial-network", "static-web-listener", "tld"}
	globalKeys = []string{"attach-post-create", "attach-post-deploy", "bind-all-interfaces", "initial-network", "tld"}
)

func report(c *cli.Ctx) error {
	if err := c.NoExtraArgs(0); err != nil {
		return err
	}
	apps, err := c.ReportApps()
	if err != nil {
		return err
	}
	for _, a := range apps {
		if err := reportOne(c, a); err != nil {
			return err
		}
	}
	return nil
}

// reportOne prints the report of one app, or with --global the global one.
func reportOne(c *cli.Ctx, appName string) error {
	res, err := api.NetworkReportOp.Call(c, c.API, api.NetworkReportRequest{Scope: api.Scope{App: appName, Global: c.Global}})
	if err != nil {
		return err
	}
	var fields []cli.Field
	title := "--global network information"
	if c.Global {
		for _, k := range globalKeys {
			fields = append(fields, cli.Field{Key: "computed-" + k, Value: res.Computed[k]})
		}
		for _, k := range globalKeys {
			fields = append(fields, cli.Field{Key: "global-" + k, Value: res.Global[k]})
		}
	} else {
		title = appName + " network information"
		for _, k := range appKeys {
			fields = append(fields, cli.Field{Key: k, Value: res.App[k]})
		}
		for _, k := range globalKeys {
			fields = append(fields, cli.Field{Key: "computed-" + k, Value: res.Computed[k]})
		}
		for _, k := range globalKeys {
			fields = append(fields, cli.Field{Key: "global-" + k, Value: res.Global[k]})
		}
		fields = append(fields, cli.Field{Key: "web-listeners", Value: res.WebListeners})
	}
	return c.Report("network", title, fields)
}
