package routingcmd

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/cli"
)

func init() {
	report := func(name string, hidden bool) *cli.Command {
		return &cli.Command{Name: name, Args: "[<app>|--global] [<flag>] [--format json]", Short: "Display the domains of one app, every app, or the global ones", App: cli.AppOptional, Global: true, Values: []string{"format"}, InfoFlags: true, Hidden: hidden, Run: domainsReport}
	}
	cli.Register(
		report("domains", true),
		report("domains:report", false),
		&cli.Command{Name: "domains:add", Args: "<app> <domain>...", Short: "Add domains to an app", App: cli.AppRequired, Run: domainsChange(api.DomainsAdd)},
		&cli.Command{Name: "domains:remove", Args: "<app> <domain>...", Short: "Remove domains from an app", App: cli.AppRequired, Run: domainsChange(api.DomainsRemove)},
		&cli.Command{Name: "domains:set", Args: "<app> <domain>...", Short: "Replace an app's domains", App: cli.AppRequired, Run: domainsChange(api.DomainsSet)},
		&cli.Command{Name: "domains:clear", Args: "<app>", Short: "Remove every domain of an app", App: cli.AppRequired, Run: domainsChange(api.DomainsClear)},
		&cli.Command{Name: "domains:reset", Args: "<app>", Short: "Reset an app's domains to its default domain (APP.<global domain>)", App: cli.AppRequired, Run: domainsChange(api.DomainsReset)},
		&cli.Command{Name: "domains:enable", Args: "<app>", Short: "Route an app's domains to it again", App: cli.AppRequired, Run: domainsChange(api.DomainsEnable)},
		&cli.Command{Name: "domains:disable", Args: "<app>", Short: "Stop routing an app's domains to it (they are kept)", App: cli.AppRequired, Run: domainsChange(api.DomainsDisable)},
		&cli.Command{Name: "domains:add-global", Args: "<domain>...", Short: "Add global domains (new apps get APP.<first global domain>)", Run: domainsGlobalChange(api.DomainsAdd)},
		&cli.Command{Name: "domains:remove-global", Args: "<domain>...", Short: "Remove global domains", Run: domainsGlobalChange(api.DomainsRemove)},
		&cli.Command{Name: "domains:set-global", Args: "<domain>...", Short: "Replace the global domains", Run: domainsGlobalChange(api.DomainsSet)},
		&cli.Command{Name: "domains:clear-global", Short: "Remove every global domain", Run: domainsGlobalChange(api.DomainsClear)},
		// url and urls are Dokku top-level commands; hidden from help until
		// table_test.go's list of top-level commands has them.
		&cli.Command{Name: "url", Args: "<app>", Short: "Show an app's main URL", App: cli.AppRequired, Run: urls(false)},
		&cli.Command{Name: "urls", Args: "<app>", Short: "Show every URL of an app", App: cli.AppRequired, Run: urls(true)},
		&cli.Command{Name: "ports:list", Args: "<app>", Short: "List an app's port mappings", App: cli.AppRequired, Run: portsList},
		&cli.Command{Name: "ports:add", Args: "<app> <scheme>:<host-port>:<container-port>...", Short: "Add port mappings to an app", App: cli.AppRequired, Run: portsChange(api.PortsAdd)},
		&cli.Command{Name: "ports:set", Args: "<app> <scheme>:<host-port>:<container-port>...", Short: "Replace an app's port mappings", App: cli.AppRequired, Run: portsChange(api.PortsSet)},
		&cli.Command{Name: "ports:remove", Args: "<app> (<host-port>|<scheme>:<host-port>[:<container-port>])...", Short: "Remove port mappings from an app", App: cli.AppRequired, Run: portsChange(api.PortsRemove)},
		&cli.Command{Name: "ports:clear", Args: "<app>", Short: "Remove every port mapping of an app (the detected one applies)", App: cli.AppRequired, Run: portsChange(api.PortsClear)},
		&cli.Command{Name: "ports:report", Args: "[<app>] [<flag>] [--format json]", Short: "Display the port mappings of one app or every app", App: cli.AppOptional, Values: []string{"format"}, InfoFlags: true, Run: portsReport},
	)
}

// needDomains checks that a command that takes domains got some.
func needDomains(c *cli.Ctx) error {
	if len(c.Args) == 0 {
		usage := c.Cmd.Name + " " + c.Cmd.Args
		if c.App != "" {
			usage = c.Cmd.Name + " " + c.App + " <domain> [<domain> ...]"
		}
		return cli.Failf("Please specify a domain name. Usage: %s %s", c.Env.Prog, usage)
	}
	return nil
}

func domainsChange(action string) func(c *cli.Ctx) error {
	return func(c *cli.Ctx) error {
		switch action {
		case api.DomainsAdd, api.DomainsRemove, api.DomainsSet:
			if err := needDomains(c); err != nil {
				return err
			}
		default:
			if err := c.NoExtraArgs(0); err != nil {
				return err
			}
		}
		res, err := api.DomainsUpdate.Call(c, c.API, api.DomainsChange{Scope: api.Scope{App: c.App}, Action: action, Domains: c.Args})
		if err != nil {
			return err
		}
		switch action {
		case api.DomainsAdd:
			for _, d := range normalized(c.Args) {
				if slices.Contains(res.Skipped, d) {
					c.Warn("Skipping: %s already added to %s", d, c.App)
				} else {
					c.Info1("Added %s to %s", d, c.App)
				}
			}
		case api.DomainsRemove:
			for _, d := range normalized(c.Args) {
				if slices.Contains(res.Removed, d) {
					c.Info1("Removed %s from %s", d, c.App)
				} else {
					c.Warn("Skipping: %s is not a domain of %s", d, c.App)
				}
			}
		case api.DomainsSet:
			c.Info1("Set %s for %s", strings.Join(res.Domains, " "), c.App)
		case api.DomainsClear:
			c.Info1("Cleared domains in %s", c.App)
		case api.DomainsReset:
			c.Info1("Reset domains for %s", c.App)
		case api.DomainsEnable:
			if res.WasEnabled {
				c.Info1("Domains are already enabled for %s", c.App)
			} else {
				c.Info1("Enabled domains for %s", c.App)
			}
		case api.DomainsDisable:
			if !res.WasEnabled {
				c.Info1("Domains are already disabled for %s", c.App)
			} else {
				c.Info1("Disabled domains for %s", c.App)
			}
		}
		return nil
	}
}

// normalized lower-cases domain names as the daemon stores them, without
// repeats.
func normalized(names []string) []string {
	var out []string
	for _, n := range names {
		n = app.NormalizeDomain(n)
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

func domainsGlobalChange(action string) func(c *cli.Ctx) error {
	return func(c *cli.Ctx) error {
		if action == api.DomainsClear {
			if err := c.NoExtraArgs(0); err != nil {
				return err
			}
		} else if err := needDomains(c); err != nil {
			return err
		}
		res, err := api.DomainsUpdate.Call(c, c.API, api.DomainsChange{Scope: api.Scope{Global: true}, Action: action, Domains: c.Args})
		if err != nil {
			return err
		}
		switch action {
		case api.DomainsAdd:
			for _, d := range normalized(c.Args) {
				if slices.Contains(res.Skipped, d) {
					c.Warn("Skipping: %s already added", d)
				} else {
					c.Info1("Added %s", d)
				}
			}
		case api.DomainsRemove:
			for _, d := range normalized(c.Args) {
				if slices.Contains(res.Removed, d) {
					c.Info1("Removed %s", d)
				} else {
					c.Warn("Skipping: %s is not a global domain", d)
				}
			}
		case api.DomainsSet:
			c.Info1("Set %s", strings.Join(res.Domains, " "))
		case api.DomainsClear:
			c.Info1("Cleared global domains")
		}
		return nil
	}
}

func domainsReport(c *cli.Ctx) error {
	if err := c.NoExtraArgs(0); err != nil {
		return err
	}
	// Bare `domains` is the namespace's help, as in Dokku.
	if c.Cmd.Name == "domains" && c.App == "" && !c.Global && c.InfoFlag == "" && c.Flag("format", "") == "" {
		return c.NamespaceHelp("domains")
	}
	req := api.DomainsReportRequest{App: c.App, Global: c.Global, All: c.App == "" && !c.Global}
	res, err := api.DomainsReportOp.Call(c, c.API, req)
	if err != nil {
		return err
	}
	if req.All && len(res.Reports) == 0 {
		c.Warn("You haven't deployed any applications yet")
		return nil
	}
	for _, r := range res.Reports {
		global := []cli.Field{
			{Key: "global-enabled", Value: strconv.FormatBool(r.GlobalEnabled)},
			{Key: "global-vhosts", Value: strings.Join(r.GlobalVhosts, " ")},
		}
		if c.Global {
			if err := c.Report("domains", "global domains information", global); err != nil {
				return err
			}
			continue
		}
		fields := append([]cli.Field{
			{Key: "app-enabled", Value: strconv.FormatBool(r.AppEnabled)},
			{Key: "app-vhosts", Value: strings.Join(r.AppVhosts, " ")},
		}, global...)
		if err := c.Report("domains", r.App+" domains information", fields); err != nil {
			return err
		}
	}
	return nil
}

func urls(all bool) func(c *cli.Ctx) error {
	return func(c *cli.Ctx) error {
		if err := c.NoExtraArgs(0); err != nil {
			return err
		}
		res, err := api.DomainsURLs.Call(c, c.API, api.AppRef{App: c.App})
		if err != nil {
			return err
		}
		for i, u := range res.URLs {
			if i > 0 && !all {
				break
			}
			c.Println(u)
		}
		return nil
	}
}

// portsList prints the app's port mappings (the detected ones when none is
// set) as Dokku's table.
func portsList(c *cli.Ctx) error {
	if err := c.NoExtraArgs(0); err != nil {
		return err
	}
	res, err := api.PortsReportOp.Call(c, c.API, api.PortsRequest{App: c.App})
	if err != nil {
		return err
	}
	if len(res.Reports) == 0 {
		return fmt.Errorf("no ports report for %s", c.App)
	}
	maps := res.Reports[0].Map
	if len(maps) == 0 {
		maps = res.Reports[0].Detected
	}
	if len(maps) == 0 {
		return cli.Failf("No port mappings configured for app")
	}
	rows := [][]string{}
	if !c.Quiet {
		rows = append(rows, []string{"-----> scheme", "host port", "container port"})
	}
	for _, m := range maps {
		rows = append(rows, strings.SplitN(m, ":", 3))
	}
	c.Info1("Port mappings for %s", c.App)
	var widths [2]int
	for _, r := range rows {
		for i := range widths {
			widths[i] = max(widths[i], len(r[i]))
		}
	}
	for _, r := range rows {
		c.Println(fmt.Sprintf("    %-*s  %-*s  %s", widths[0], r[0], widths[1], r[1], r[2]))
	}
	return nil
}

func portsChange(action string) func(c *cli.Ctx) error {
	return func(c *cli.Ctx) error {
		if action == api.PortsClear {
			if err := c.NoExtraArgs(0); err != nil {
				return err
			}
		} else if len(c.Args) == 0 {
			return cli.Failf("No port mapping specified")
		}
		res, err := api.PortsUpdate.Call(c, c.API, api.PortsChange{App: c.App, Action: action, Maps: c.Args})
		if err != nil {
			return err
		}
		if len(res.Map) == 0 {
			c.Info1("Clearing port mappings for %s", c.App)
			if !c.Quiet {
				c.Verbose("The detected mapping applies: %s", strings.Join(res.Detected, " "))
			}
			return nil
		}
		c.Info1("Setting port mappings for %s", c.App)
		if !c.Quiet {
			c.Verbose("%s", strings.Join(res.Map, " "))
		}
		return nil
	}
}

func portsReport(c *cli.Ctx) error {
	if err := c.NoExtraArgs(0); err != nil {
		return err
	}
	res, err := api.PortsReportOp.Call(c, c.API, api.PortsRequest{App: c.App, All: c.App == ""})
	if err != nil {
		return err
	}
	if c.App == "" && len(res.Reports) == 0 {
		c.Warn("You haven't deployed any applications yet")
		return nil
	}
	for _, r := range res.Reports {
		fields := []cli.Field{
			{Key: "map", Value: strings.Join(r.Map, " ")},
			{Key: "map-detected", Value: strings.Join(r.Detected, " ")},
			{Key: "map-json", Value: portMapsJSON(r.Map)},
			{Key: "map-detected-json", Value: portMapsJSON(r.Detected)},
		}
		if err := c.Report("ports", r.App+" ports information", fields); err != nil {
			return err
		}
	}
	return nil
}

// portMapsJSON is Dokku's --ports-map-json: the maps as a JSON array of
// {scheme, host_port, container_port}.
func portMapsJSON(maps []string) string {
	type portMap struct {
		Scheme        string `json:"scheme"`
		HostPort      int    `json:"host_port"`
		ContainerPort int    `json:"container_port"`
	}
	out := []portMap{}
	for _, m := range maps {
		f := strings.Split(m, ":")
		if len(f) != 3 {
			continue
		}
		host, _ := strconv.Atoi(f[1])
		ctr, _ := strconv.Atoi(f[2])
		out = append(out, portMap{f[0], host, ctr})
	}
	b, _ := json.Marshal(out)
	return string(b)
}
