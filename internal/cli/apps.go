package cli

import (
	"bufio"
	"strconv"
	"strings"

	"github.com/berthpaas/berth/internal/api"
)

func init() {
	Register(
		&Command{Name: "apps:create", Args: "<app>", Short: "Create a new app", App: AppRequired, Run: appsCreate},
		&Command{Name: "apps:list", Short: "List your apps", Values: []string{"format"}, Run: appsList},
		&Command{Name: "apps:destroy", Args: "<app> [--force]", Short: "Permanently destroy an app and everything it owns", App: AppRequired, Bools: []string{"force"}, Run: appsDestroy},
		&Command{Name: "apps:exists", Args: "<app>", Short: "Check if an app exists (exit 0 if it does, 20 if not)", App: AppRequired, Run: appsExists},
		&Command{Name: "apps:rename", Args: "<old-app> <new-app> [--skip-deploy]", Short: "Rename an app", App: AppRequired, Bools: []string{"skip-deploy"}, Run: appsRename},
		&Command{Name: "apps:clone", Args: "<old-app> <new-app> [--skip-deploy] [--ignore-existing]", Short: "Clone an app: config and settings", App: AppRequired, Bools: []string{"skip-deploy", "ignore-existing"}, Run: appsClone},
		&Command{Name: "apps:lock", Args: "<app>", Short: "Lock an app for deployment", App: AppRequired, Run: appsLock},
		&Command{Name: "apps:unlock", Args: "<app>", Short: "Unlock an app for deployment", App: AppRequired, Run: appsUnlock},
		&Command{Name: "apps:locked", Args: "<app>", Short: "Check if an app is locked for deployment (exit 0 if it is)", App: AppRequired, Run: appsLocked},
		&Command{Name: "apps:report", Args: "[<app>] [<flag>] [--format json]", Short: "Display a report about one app, all apps or the global settings", App: AppOptional, Values: []string{"format"}, Global: true, InfoFlags: true, Run: appsReport},
		&Command{Name: "apps:set", Args: "(<app>|--global) <key> [<value>]", Short: "Set or clear an apps setting (deploy-source, deploy-source-metadata, --global disable-autocreation)", App: AppRequired, Global: true, Run: PropertySetter("apps")},
	)
}

func appsCreate(c *Ctx) error {
	if err := c.NoExtraArgs(0); err != nil {
		return err
	}
	if _, err := api.AppsCreate.Call(c, c.API, api.AppRef{App: c.App}); err != nil {
		return err
	}
	c.Info1("Creating %s...", c.App)
	return nil
}

func appsList(c *Ctx) error {
	list, err := api.AppsList.Call(c, c.API, api.Empty{})
	if err != nil {
		return err
	}
	names := make([]string, 0, len(list.Apps))
	for _, a := range list.Apps {
		names = append(names, a.Name)
	}
	if done, err := c.PrintJSON(names); done || err != nil {
		return err
	}
	if len(names) == 0 {
		c.Warn("You haven't deployed any applications yet")
		return nil
	}
	c.Info2("My Apps")
	for _, n := range names {
		c.Println(n)
	}
	return nil
}

func appsDestroy(c *Ctx) error {
	if err := c.NoExtraArgs(0); err != nil {
		return err
	}
	// Check first, so a missing app says so (exit 20) before any prompt.
	if _, err := api.AppsInfo.Call(c, c.API, api.AppRef{App: c.App}); err != nil {
		return err
	}
	if !c.Bool("force") {
		c.Warn("WARNING: Potentially Destructive Action")
		c.Warn("This command will destroy app %s, its config and everything it owns.", c.App)
		c.Warn("To proceed, type \"%s\"", c.App)
		c.Stderr.Write([]byte("\n> "))
		line, _ := bufio.NewReader(c.Stdin).ReadString('\n')
		if strings.TrimSpace(line) != c.App {
			return Failf("Confirmation did not match %s. Aborted.", c.App)
		}
	}
	out, accepted := c.headerFirst(func() { c.Info1("Destroying %s (including all add-ons)", c.App) })
	if _, err := api.AppsDestroy.Stream(c, c.API, api.AppRef{App: c.App}, out); err != nil {
		return err
	}
	accepted()
	return nil
}

func appsExists(c *Ctx) error {
	_, err := api.AppsInfo.Call(c, c.API, api.AppRef{App: c.App})
	return err
}

func twoNames(c *Ctx) (string, error) {
	if len(c.Args) == 0 {
		return "", Failf("Please specify a new app name")
	}
	return c.Args[0], c.NoExtraArgs(1)
}

func appsRename(c *Ctx) error {
	to, err := twoNames(c)
	if err != nil {
		return err
	}
	if _, err := api.AppsInfo.Call(c, c.API, api.AppRef{App: c.App}); err != nil {
		return err
	}
	c.Info1("Renaming %s to %s", c.App, to)
	_, err = api.AppsRename.Stream(c, c.API, api.RenameRequest{From: c.App, To: to, SkipDeploy: c.Bool("skip-deploy")}, c.Output())
	return err
}

func appsClone(c *Ctx) error {
	to, err := twoNames(c)
	if err != nil {
		return err
	}
	req := api.RenameRequest{From: c.App, To: to, SkipDeploy: c.Bool("skip-deploy"), IgnoreExisting: c.Bool("ignore-existing")}
	if _, err := api.AppsInfo.Call(c, c.API, api.AppRef{App: c.App}); err != nil {
		return err
	}
	c.Info1("Cloning %s to %s", c.App, to)
	_, err = api.AppsClone.Stream(c, c.API, req, c.Output())
	return err
}

func appsLock(c *Ctx) error {
	if _, err := api.AppsLock.Call(c, c.API, api.AppRef{App: c.App}); err != nil {
		return err
	}
	c.Info1("Deploy lock created")
	return nil
}

func appsUnlock(c *Ctx) error {
	res, err := api.AppsUnlock.Call(c, c.API, api.AppRef{App: c.App})
	if err != nil {
		return err
	}
	if res.WasLocked {
		c.Warn("A deploy may be in progress.")
		c.Warn("Removing the app lock will not stop in progress deploys.")
	}
	c.Info1("Deploy lock removed")
	return nil
}

func appsLocked(c *Ctx) error {
	info, err := api.AppsInfo.Call(c, c.API, api.AppRef{App: c.App})
	if err != nil {
		return err
	}
	if !info.Locked {
		return Failf("Deploy lock does not exist")
	}
	if !c.Quiet {
		c.Println("Deploy lock exists")
	}
	return nil
}

func appsReport(c *Ctx) error {
	settings := func(app string) ([]Field, error) {
		res, err := api.PropertiesReport.Call(c, c.API, api.PropertyReport{Scope: api.Scope{App: app, Global: c.Global}, Namespace: "apps"})
		return SettingFields(res), err
	}
	if c.Global {
		fields, err := settings("")
		if err != nil {
			return err
		}
		return c.Report("app", "--global app information", fields)
	}
	var apps []api.AppInfo
	if c.App != "" {
		info, err := api.AppsInfo.Call(c, c.API, api.AppRef{App: c.App})
		if err != nil {
			return err
		}
		apps = append(apps, info)
	} else {
		list, err := api.AppsList.Call(c, c.API, api.Empty{})
		if err != nil {
			return err
		}
		if len(list.Apps) == 0 {
			c.Warn("You haven't deployed any applications yet")
			return nil
		}
		apps = list.Apps
	}
	for _, a := range apps {
		fields, err := settings(a.Name) // deploy-source, deploy-source-metadata, global-disable-autocreation
		if err != nil {
			return err
		}
		fields = append(fields,
			Field{"created-at", strconv.FormatInt(a.CreatedAt.Unix(), 10)},
			Field{"dir", a.Dir},
			Field{"locked", strconv.FormatBool(a.Locked)},
		)
		if err := c.Report("app", a.Name+" app information", fields); err != nil {
			return err
		}
	}
	return nil
}

// PropertySetter implements NAMESPACE:set (APP|--global) KEY [VALUE]: no
// value clears the key.
func PropertySetter(ns string) func(c *Ctx) error {
	return func(c *Ctx) error {
		if len(c.Args) == 0 {
			return Failf("No property specified; see `%s help %s:set`", c.Env.Prog, ns)
		}
		if err := c.NoExtraArgs(2); err != nil {
			return err
		}
		req := api.PropertyChange{Scope: api.Scope{App: c.App, Global: c.Global}, Namespace: ns, Key: c.Args[0]}
		if len(c.Args) == 2 && c.Args[1] != "" {
			req.Value = c.Args[1]
		} else {
			req.Unset = true
		}
		if _, err := api.PropertiesSet.Call(c, c.API, req); err != nil {
			return err
		}
		if req.Unset {
			c.Info2("Unsetting %s", req.Key)
		} else {
			c.Info2("Setting %s to %s", req.Key, req.Value)
		}
		return nil
	}
}
