package servicecmd

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/cli"
)

// serviceKinds are the built-in backing services (Dokku's postgres and
// redis plugins).
var serviceKinds = []string{"postgres", "redis"}

func init() {
	for _, kind := range serviceKinds {
		client := map[string]string{"postgres": "psql", "redis": "redis-cli"}[kind]
		cli.Register(
			&cli.Command{Name: kind + ":create", Args: "<name> [-i IMG] [-I VER] [-p PW] [-C \"A=b;C=d\"] [-m MB] [-s SIZE]", Short: "Create a " + kind + " service (--image, --image-version, --password, --custom-env, --memory, --shm-size)",
				Values: []string{"image", "image-version", "password", "custom-env", "memory", "shm-size", "root-password", "config-options", "initial-network", "post-create-network", "post-start-network"}, Letters: map[string]string{"-i": "image", "-I": "image-version", "-p": "password", "-C": "custom-env", "-m": "memory", "-s": "shm-size"}, Run: serviceCreate(kind)},
			&cli.Command{Name: kind + ":destroy", Args: "<name> [--force]", Short: "Destroy a " + kind + " service and its data (refused while linked; asks to confirm)", Bools: []string{"force"}, Letters: map[string]string{"-f": "force"}, Run: serviceDestroy(kind)},
			&cli.Command{Name: kind + ":list", Args: "[--format json]", Short: "List " + kind + " services", Values: []string{"format"}, Run: serviceList(kind)},
			&cli.Command{Name: kind + ":exists", Args: "<name>", Short: "Check that a " + kind + " service exists", Run: serviceExists(kind)},
			&cli.Command{Name: kind + ":info", Args: "<name> [--format json] [--dsn|--status|--version|...]", Short: "Describe a " + kind + " service", InfoFlags: true, Values: []string{"format"}, Run: serviceInfo(kind)},
			&cli.Command{Name: kind + ":link", Args: "<name> <app> [--alias A] [--querystring Q] [--no-restart]", Short: "Link a " + kind + " service to an app (sets its URL config var, redeploys)", Values: []string{"alias", "querystring"}, Bools: []string{"no-restart"}, Letters: map[string]string{"-a": "alias", "-q": "querystring"}, Run: serviceLink(kind, "link")},
			&cli.Command{Name: kind + ":unlink", Args: "<name> <app> [--no-restart]", Short: "Unlink a " + kind + " service from an app", Bools: []string{"no-restart"}, Run: serviceLink(kind, "unlink")},
			&cli.Command{Name: kind + ":promote", Args: "<name> <app> [--no-restart]", Short: "Make a linked " + kind + " service the app's " + map[string]string{"postgres": "DATABASE_URL", "redis": "REDIS_URL"}[kind], Bools: []string{"no-restart"}, Run: serviceLink(kind, "promote")},
			&cli.Command{Name: kind + ":links", Args: "<name>", Short: "List the apps a " + kind + " service is linked to", Run: serviceLinks(kind)},
			&cli.Command{Name: kind + ":linked", Args: "<name> <app>", Short: "Check whether a " + kind + " service is linked to an app", Run: serviceLinked(kind)},
			&cli.Command{Name: kind + ":app-links", Args: "<app>", Short: "List the " + kind + " services linked to an app", App: cli.AppRequired, Run: serviceAppLinks(kind)},
			&cli.Command{Name: kind + ":connect", Args: "<name>", Short: "Open " + client + " in the service (commands on stdin work too)", Run: serviceExec(kind, true)},
			&cli.Command{Name: kind + ":enter", Args: "<name> [<cmd>...]", Short: "Run a command (default bash) in the " + kind + " service's container", Passthrough: true, Run: serviceExec(kind, false)},
			&cli.Command{Name: kind + ":logs", Args: "<name> [-t|--tail] [-n|--num N]", Short: "Show a " + kind + " service's log; -t follows it", Bools: []string{"tail"}, Values: []string{"num"}, Letters: map[string]string{"-t": "tail", "-n": "num"}, Run: serviceLogs(kind)},
			&cli.Command{Name: kind + ":start", Args: "<name>", Short: "Start a stopped or paused " + kind + " service", Run: serviceAction(kind, api.ServicesStart)},
			&cli.Command{Name: kind + ":stop", Args: "<name>", Short: "Stop a " + kind + " service (its data stays)", Run: serviceAction(kind, api.ServicesStop)},
			&cli.Command{Name: kind + ":restart", Args: "<name>", Short: "Restart a " + kind + " service", Run: serviceAction(kind, api.ServicesRestart)},
			&cli.Command{Name: kind + ":pause", Args: "<name>", Short: "Pause a " + kind + " service's container", Run: serviceAction(kind, api.ServicesPause)},
			&cli.Command{Name: kind + ":expose", Args: "<name> [PORT|ADDR|ADDR:PORT]", Short: "Publish a " + kind + " service on the host (127.0.0.1 unless an address is given)", Run: serviceExpose(kind, true)},
			&cli.Command{Name: kind + ":upgrade", Args: "<name> [--image-version V] [--image IMG] [--restart-apps true|false]", Short: "Move a " + kind + " service to another version; across majors it dumps, restores and verifies, keeping the old data", Values: []string{"image", "image-version", "restart-apps"}, Letters: map[string]string{"-i": "image", "-I": "image-version", "-R": "restart-apps"}, Run: serviceUpgrade(kind)},
			&cli.Command{Name: kind + ":unexpose", Args: "<name>", Short: "Stop publishing a " + kind + " service on the host", Run: serviceExpose(kind, false)},
		)
	}
}

func serviceName(c *cli.Ctx) (string, error) {
	if len(c.Args) == 0 {
		return "", cli.Failf("Please specify a valid name for the service")
	}
	return c.Args[0], nil
}

func serviceRef(c *cli.Ctx, kind string, maxArgs int) (api.ServiceRef, error) {
	name, err := serviceName(c)
	if err != nil {
		return api.ServiceRef{}, err
	}
	if err := c.NoExtraArgs(maxArgs); err != nil {
		return api.ServiceRef{}, err
	}
	return api.ServiceRef{Kind: kind, Name: name}, nil
}

// serviceInfoArg reads the service named by the first argument (at most
// maxArgs arguments).
func serviceInfoArg(c *cli.Ctx, kind string, maxArgs int) (api.ServiceInfo, error) {
	ref, err := serviceRef(c, kind, maxArgs)
	if err != nil {
		return api.ServiceInfo{}, err
	}
	return api.ServicesInfo.Call(c, c.API, ref)
}

func serviceCreate(kind string) func(*cli.Ctx) error {
	return func(c *cli.Ctx) error {
		ref, err := serviceRef(c, kind, 1)
		if err != nil {
			return err
		}
		for _, f := range []string{"root-password", "config-options", "initial-network", "post-create-network", "post-start-network"} {
			if c.Flag(f, "") != "" {
				return cli.Failf("--%s is not supported by Berth's %s services", f, kind)
			}
		}
		info, err := api.ServicesCreate.Stream(c, c.API, api.ServiceCreate{ServiceRef: ref,
			Image: c.Flag("image", ""), ImageVersion: c.Flag("image-version", ""), Password: c.Flag("password", ""),
			CustomEnv: c.Flag("custom-env", ""), Memory: c.Flag("memory", ""), ShmSize: c.Flag("shm-size", "")}, c.Output())
		if err != nil {
			return err
		}
		c.Info2("%s container created: %s", titleKind(kind), ref.Name)
		printServiceInfo(c, info)
		return nil
	}
}

func titleKind(k string) string {
	if k == "" {
		return k
	}
	return strings.ToUpper(k[:1]) + k[1:]
}

func serviceDestroy(kind string) func(*cli.Ctx) error {
	return func(c *cli.Ctx) error {
		info, err := serviceInfoArg(c, kind, 1)
		if err != nil {
			return err
		}
		ref := api.ServiceRef{Kind: kind, Name: info.Name}
		if len(info.Links) > 0 {
			return cli.Failf("Cannot delete linked service: %s is linked to %s; unlink it first", ref.Name, strings.Join(info.Links, ", "))
		}
		if !c.Bool("force") {
			c.Warn("WARNING: Potentially Destructive Action")
			c.Warn("This command will destroy %s service %s and its data (%s).", kind, ref.Name, info.DataDir)
			c.Warn("To proceed, type \"%s\"", ref.Name)
			c.Stderr.Write([]byte("\n> "))
			line, _ := bufio.NewReader(c.Stdin).ReadString('\n')
			if strings.TrimSpace(line) != ref.Name {
				return cli.Failf("Confirmation did not match %s. Aborted.", ref.Name)
			}
		}
		c.Info2("Deleting %s", ref.Name)
		if _, err := api.ServicesDestroy.Stream(c, c.API, ref, c.Output()); err != nil {
			return err
		}
		c.Info2("%s container deleted: %s", titleKind(kind), ref.Name)
		return nil
	}
}

func serviceList(kind string) func(*cli.Ctx) error {
	return func(c *cli.Ctx) error {
		if err := c.NoExtraArgs(0); err != nil {
			return err
		}
		res, err := api.ServicesList.Call(c, c.API, api.ServiceRef{Kind: kind})
		if err != nil {
			return err
		}
		if done, err := c.PrintJSON(res.Services); done || err != nil {
			return err
		}
		if len(res.Services) == 0 {
			c.Info1("There are no %s services", titleKind(kind))
			return nil
		}
		c.Info2("%s services", kind)
		for _, s := range res.Services {
			c.Println(s.Name)
		}
		return nil
	}
}

func serviceExists(kind string) func(*cli.Ctx) error {
	return func(c *cli.Ctx) error {
		info, err := serviceInfoArg(c, kind, 1)
		if err != nil {
			return err
		}
		c.Info1("Service %s exists", info.Name)
		return nil
	}
}

// serviceInfoFields are info's rows, in Dokku's order, by flag.
func serviceInfoFields(info api.ServiceInfo) [][3]string {
	b := info.Backup
	backup := "-"
	if b.Schedule != "" {
		backup = b.Schedule
	}
	last := "-"
	switch {
	case !b.LastFailed.IsZero() && b.LastFailed.After(b.LastOK):
		last = "FAILED " + b.LastFailed.UTC().Format("2006-01-02 15:04:05 MST") + ": " + b.LastError
	case !b.LastOK.IsZero():
		last = "ok " + b.LastOK.UTC().Format("2006-01-02 15:04:05 MST")
	}
	return [][3]string{
		{"--config-dir", "Config dir", info.ConfigDir},
		{"--config-options", "Config options", ""},
		{"--custom-env", "Custom env", info.CustomEnv},
		{"--data-dir", "Data dir", info.DataDir},
		{"--dsn", "Dsn", info.DSN},
		{"--exposed-ports", "Exposed ports", info.ExposedPorts},
		{"--id", "Id", info.ID},
		{"--internal-ip", "Internal ip", info.InternalIP},
		{"--links", "Links", strings.Join(info.Links, " ")},
		{"--service-root", "Service root", info.ServiceRoot},
		{"--status", "Status", info.Status},
		{"--version", "Version", info.Version},
		{"--backup-schedule", "Backup schedule", backup},
		{"--backup-last", "Last backup", last},
		{"--backup-auth", "Backup auth", dash(b.Auth)},
		{"--backup-encryption", "Backup encryption", dash(b.Encryption)},
		{"--restore-last", "Last restore", lastRestore(info.Restores)},
		{"--backup-drill", "Last drill", lastDrill(b.LastDrill)},
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// lastRestore describes a service's latest import or backup restore.
func lastRestore(rs []api.ServiceRestore) string {
	if len(rs) == 0 {
		return "-"
	}
	r := rs[len(rs)-1]
	s := r.At.UTC().Format("2006-01-02 15:04:05 MST") + " " + r.Via + " from " + r.Source
	if !r.OK {
		s = "FAILED " + s + ": " + r.Error
	} else {
		s = "ok " + s
	}
	if len(rs) > 1 {
		s += fmt.Sprintf(" (%d recorded)", len(rs))
	}
	return s
}

func printServiceInfo(c *cli.Ctx, info api.ServiceInfo) {
	c.Info2("%s %s service information", info.Name, info.Kind)
	for _, row := range serviceInfoFields(info) {
		c.Verbose("%s", fmt.Sprintf("%-20s%s", row[1]+":", row[2]))
	}
}

func serviceInfo(kind string) func(*cli.Ctx) error {
	return func(c *cli.Ctx) error {
		info, err := serviceInfoArg(c, kind, 1)
		if err != nil {
			return err
		}
		if c.InfoFlag != "" && c.Flag("format", "stdout") == "json" {
			return cli.Failf("--format flag cannot be specified when specifying an info flag")
		}
		if done, err := c.PrintJSON(info); done || err != nil {
			return err
		}
		fields := serviceInfoFields(info)
		if c.InfoFlag != "" {
			var valid []string
			for _, f := range fields {
				if f[0] == c.InfoFlag {
					c.Println(f[2])
					return nil
				}
				valid = append(valid, f[0])
			}
			return cli.Failf("Invalid flag passed, valid flags: %s", strings.Join(valid, ", "))
		}
		printServiceInfo(c, info)
		return nil
	}
}

// needServiceAndApp refuses a command of SERVICE APP without them, in
// dokku-postgres's words (scripts and its tests look for them).
func needServiceAndApp(c *cli.Ctx) error {
	switch len(c.Args) {
	case 0:
		return cli.Failf("Please specify a valid name for the service")
	case 1:
		return cli.Failf("Please specify an app to run the command on")
	}
	return nil
}

func serviceLink(kind, verb string) func(*cli.Ctx) error {
	return func(c *cli.Ctx) error {
		if err := needServiceAndApp(c); err != nil {
			return err
		}
		if err := c.NoExtraArgs(2); err != nil {
			return err
		}
		req := api.ServiceLink{ServiceRef: api.ServiceRef{Kind: kind, Name: c.Args[0]}, App: c.Args[1],
			Alias: c.Flag("alias", ""), QueryString: c.Flag("querystring", ""), NoRestart: c.Bool("no-restart")}
		op := map[string]api.Op[api.ServiceLink, api.ServiceLinkResult]{"link": api.ServicesLink, "unlink": api.ServicesUnlink, "promote": api.ServicesPromote}[verb]
		_, err := op.Stream(c, c.API, req, c.Output())
		return err
	}
}

func serviceLinks(kind string) func(*cli.Ctx) error {
	return func(c *cli.Ctx) error {
		info, err := serviceInfoArg(c, kind, 1)
		if err != nil {
			return err
		}
		for _, a := range info.Links {
			c.Println(a)
		}
		return nil
	}
}

func serviceLinked(kind string) func(*cli.Ctx) error {
	return func(c *cli.Ctx) error {
		if err := needServiceAndApp(c); err != nil {
			return err
		}
		if err := c.NoExtraArgs(2); err != nil {
			return err
		}
		info, err := api.ServicesInfo.Call(c, c.API, api.ServiceRef{Kind: kind, Name: c.Args[0]})
		if err != nil {
			return err
		}
		for _, a := range info.Links {
			if a == c.Args[1] {
				c.Info1("Service %s is linked to %s", c.Args[0], c.Args[1])
				return nil
			}
		}
		return cli.Failf("Service %s is not linked to %s", c.Args[0], c.Args[1])
	}
}

func serviceAppLinks(kind string) func(*cli.Ctx) error {
	return func(c *cli.Ctx) error {
		if err := c.NoExtraArgs(0); err != nil {
			return err
		}
		res, err := api.ServicesAppLinks.Call(c, c.API, api.AppServiceRef{App: c.App, Kind: kind})
		if err != nil {
			return err
		}
		for _, l := range res.Links {
			c.Println(l.Name)
		}
		return nil
	}
}

func serviceExec(kind string, client bool) func(*cli.Ctx) error {
	return func(c *cli.Ctx) error {
		name, err := serviceName(c)
		if err != nil {
			return err
		}
		req := api.ServiceConnect{ServiceRef: api.ServiceRef{Kind: kind, Name: name}, TTY: c.Terminal != nil}
		op := api.ServicesConnect
		if client {
			if err := c.NoExtraArgs(1); err != nil {
				return err
			}
		} else {
			op, req.Cmd = api.ServicesEnter, c.Args[1:]
		}
		return c.Interactive(req.TTY, func(s *api.Session) (int, error) {
			res, err := op.Run(c, c.API, req, s)
			return res.ExitCode, err
		})
	}
}

func serviceLogs(kind string) func(*cli.Ctx) error {
	return func(c *cli.Ctx) error {
		ref, err := serviceRef(c, kind, 1)
		if err != nil {
			return err
		}
		req := api.ServiceLogs{ServiceRef: ref, Tail: c.Bool("tail")}
		if v := c.Flag("num", ""); v != "" {
			if req.Num, err = strconv.Atoi(v); err != nil || req.Num < 0 {
				return cli.Failf("Invalid number of lines %q", v)
			}
		}
		_, err = api.ServicesLogs.Stream(c, c.API, req, c.Output())
		return err
	}
}

func serviceAction(kind string, op api.Op[api.ServiceRef, api.Empty]) func(*cli.Ctx) error {
	return func(c *cli.Ctx) error {
		ref, err := serviceRef(c, kind, 1)
		if err != nil {
			return err
		}
		_, err = op.Stream(c, c.API, ref, c.Output())
		return err
	}
}

func serviceExpose(kind string, expose bool) func(*cli.Ctx) error {
	return func(c *cli.Ctx) error {
		if !expose {
			ref, err := serviceRef(c, kind, 1)
			if err != nil {
				return err
			}
			if _, err := api.ServicesUnexpose.Stream(c, c.API, ref, c.Output()); err != nil {
				return err
			}
			c.Info1("Service %s unexposed", ref.Name)
			return nil
		}
		ref, err := serviceRef(c, kind, 2)
		if err != nil {
			return err
		}
		req := api.ServiceExpose{ServiceRef: ref}
		if len(c.Args) > 1 {
			req.Addr = c.Args[1]
		}
		info, err := api.ServicesExpose.Stream(c, c.API, req, c.Output())
		if err != nil {
			return err
		}
		c.Info1("Service %s exposed on port(s) [container->host]: %s", ref.Name, info.ExposedPorts)
		return nil
	}
}

func serviceUpgrade(kind string) func(*cli.Ctx) error {
	return func(c *cli.Ctx) error {
		ref, err := serviceRef(c, kind, 1)
		if err != nil {
			return err
		}
		req := api.ServiceUpgrade{ServiceRef: ref, Image: c.Flag("image", ""), ImageVersion: c.Flag("image-version", "")}
		switch v := c.Flag("restart-apps", "false"); v {
		case "true":
			req.RestartApps = true
		case "false":
		default:
			return cli.Failf("--restart-apps takes true or false, not %q", v)
		}
		_, err = api.ServicesUpgrade.Stream(c, c.API, req, c.Output())
		return err
	}
}
