package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/berthpaas/berth/internal/api"
)

func init() {
	for _, kind := range []string{"postgres", "redis"} {
		register(
			&Command{Name: kind + ":create", Args: "<name> [--image IMG] [--image-version V] [--password P]", Short: "Create a " + kind + " service", Values: []string{"image", "image-version", "password"}, Run: serviceCreate(kind)},
			&Command{Name: kind + ":destroy", Args: "<name> [--force]", Short: "Destroy a " + kind + " service and its data (refused while linked)", Bools: []string{"force"}, Run: serviceDestroy(kind)},
			&Command{Name: kind + ":list", Args: "[--format json]", Short: "List " + kind + " services", Values: []string{"format"}, Run: serviceList(kind)},
			&Command{Name: kind + ":exists", Args: "<name>", Short: "Check that a " + kind + " service exists", Run: serviceExists(kind)},
			&Command{Name: kind + ":info", Args: "<name> [--dsn|--status|--version|--links|--data-dir]", Short: "Describe a " + kind + " service", InfoFlags: true, Run: serviceInfo(kind)},
			&Command{Name: kind + ":link", Args: "<name> <app> [--alias A] [--no-restart]", Short: "Link a " + kind + " service to an app (sets its URL config var, redeploys)", Values: []string{"alias"}, Bools: []string{"no-restart"}, Run: serviceLink(kind, true)},
			&Command{Name: kind + ":unlink", Args: "<name> <app> [--no-restart]", Short: "Unlink a " + kind + " service from an app", Bools: []string{"no-restart"}, Run: serviceLink(kind, false)},
			&Command{Name: kind + ":connect", Args: "<name>", Short: "Open a " + kind + " shell in the service (SQL or commands on stdin work too)", Run: serviceConnect(kind)},
		)
	}
}

func serviceName(c *Ctx) (string, error) {
	if len(c.Args) == 0 {
		return "", failf("Please specify a name for the service")
	}
	return c.Args[0], nil
}

func serviceCreate(kind string) func(*Ctx) error {
	return func(c *Ctx) error {
		name, err := serviceName(c)
		if err != nil {
			return err
		}
		if err := noExtraArgs(c, 1); err != nil {
			return err
		}
		c.Info1("Creating %s service %s", kind, name)
		info, err := api.ServicesCreate.Stream(c, c.API, api.ServiceCreate{ServiceRef: api.ServiceRef{Kind: kind, Name: name},
			Image: c.Flag("image", ""), ImageVersion: c.Flag("image-version", ""), Password: c.Flag("password", "")}, c.output())
		if err != nil {
			return err
		}
		c.Info2("%s container output:", kind)
		c.Verbose("%s service %s is running (%s)", kind, name, info.Image)
		c.Verbose("DSN: %s", info.DSN)
		return nil
	}
}

func serviceDestroy(kind string) func(*Ctx) error {
	return func(c *Ctx) error {
		name, err := serviceName(c)
		if err != nil {
			return err
		}
		if _, err := api.ServicesInfo.Call(c, c.API, api.ServiceRef{Kind: kind, Name: name}); err != nil {
			return err
		}
		if !c.Bool("force") {
			c.Warn("WARNING: Potentially Destructive Action")
			c.Warn("This command will destroy %s service %s and its data.", kind, name)
			c.Warn("To proceed, type \"%s\"", name)
			c.Stderr.Write([]byte("\n> "))
			line, _ := bufio.NewReader(c.Stdin).ReadString('\n')
			if strings.TrimSpace(line) != name {
				return failf("Confirmation did not match %s. Aborted.", name)
			}
		}
		if _, err := api.ServicesDestroy.Call(c, c.API, api.ServiceRef{Kind: kind, Name: name}); err != nil {
			return err
		}
		c.Info1("Deleted %s service %s", kind, name)
		return nil
	}
}

func serviceList(kind string) func(*Ctx) error {
	return func(c *Ctx) error {
		res, err := api.ServicesList.Call(c, c.API, api.ServiceRef{Kind: kind})
		if err != nil {
			return err
		}
		if c.Flag("format", "") == "json" {
			b, _ := json.Marshal(res.Services)
			c.Println(string(b))
			return nil
		}
		c.Info2("%s services", kind)
		for _, s := range res.Services {
			c.Println(s.Name)
		}
		return nil
	}
}

func serviceExists(kind string) func(*Ctx) error {
	return func(c *Ctx) error {
		name, err := serviceName(c)
		if err != nil {
			return err
		}
		if _, err := api.ServicesInfo.Call(c, c.API, api.ServiceRef{Kind: kind, Name: name}); err != nil {
			return err
		}
		c.Println(fmt.Sprintf("Service %s exists", name))
		return nil
	}
}

func serviceInfo(kind string) func(*Ctx) error {
	return func(c *Ctx) error {
		name, err := serviceName(c)
		if err != nil {
			return err
		}
		info, err := api.ServicesInfo.Call(c, c.API, api.ServiceRef{Kind: kind, Name: name})
		if err != nil {
			return err
		}
		version := info.Image[strings.LastIndex(info.Image, ":")+1:]
		fields := map[string]string{"--dsn": info.DSN, "--status": info.Status, "--version": info.Image, "--links": strings.Join(info.Links, " "), "--data-dir": info.DataDir}
		if c.InfoFlag != "" {
			v, ok := fields[c.InfoFlag]
			if !ok {
				return failf("Invalid flag passed, valid flags: --data-dir, --dsn, --links, --status, --version")
			}
			c.Println(v)
			return nil
		}
		c.Info2("%s %s service information", kind, name)
		for _, row := range [][2]string{{"Status", info.Status}, {"Dsn", info.DSN}, {"Version", version + " (" + info.Image + ")"}, {"Links", strings.Join(info.Links, " ")}, {"Data dir", info.DataDir}} {
			c.Verbose("%s", fmt.Sprintf("%-20s%s", row[0]+":", row[1]))
		}
		return nil
	}
}

func serviceLink(kind string, link bool) func(*Ctx) error {
	return func(c *Ctx) error {
		if len(c.Args) != 2 {
			return failf("Please specify a service name and an app")
		}
		req := api.ServiceLink{ServiceRef: api.ServiceRef{Kind: kind, Name: c.Args[0]}, App: c.Args[1], Alias: c.Flag("alias", ""), NoRestart: c.Bool("no-restart")}
		if link {
			res, err := api.ServicesLink.Stream(c, c.API, req, c.output())
			if err != nil {
				return err
			}
			c.Info1("%s %s linked to %s as %s", kind, req.Name, req.App, res.Var)
			return nil
		}
		res, err := api.ServicesUnlink.Stream(c, c.API, req, c.output())
		if err != nil {
			return err
		}
		c.Info1("%s %s unlinked from %s (%s unset)", kind, req.Name, req.App, res.Var)
		return nil
	}
}

func serviceConnect(kind string) func(*Ctx) error {
	return func(c *Ctx) error {
		name, err := serviceName(c)
		if err != nil {
			return err
		}
		tty := c.Terminal != nil
		code, err := interactive(c, tty, func(s *api.Session) (int, error) {
			res, err := api.ServicesConnect.Run(c, c.API, api.ServiceConnect{ServiceRef: api.ServiceRef{Kind: kind, Name: name}, TTY: tty}, s)
			return res.ExitCode, err
		})
		if err != nil {
			return err
		}
		if code != 0 {
			return exit(code, "")
		}
		return nil
	}
}
