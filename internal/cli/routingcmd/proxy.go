package routingcmd

import (
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/cli"
)

// The proxy:* commands. Berth serves every app with its own proxy; these
// are Dokku's commands over it: settings (proxy:set, proxy:report), taking
// an app out of the proxy and back (proxy:disable, proxy:enable), and
// pushing its route again (proxy:build-config; Berth keeps no config file,
// so proxy:clear-config has nothing to remove).
func init() {
	cli.Register(
		&cli.Command{Name: "proxy:set", Args: "(<app>|--global) <key> [<value>]", Short: "Set a proxy setting (type, proxy-port, proxy-ssl-port, client-max-body-size, proxy-read-timeout, hsts...)", App: cli.AppRequired, Global: true, Run: proxySet},
		&cli.Command{Name: "proxy:report", Args: "[<app>|--global] [<flag>] [--format json]", Short: "Display an app's (or the global) proxy settings", App: cli.AppRequired, Global: true, Values: []string{"format"}, InfoFlags: true, Run: proxyReport},
		&cli.Command{Name: "proxy:disable", Args: "(<app>|--all)", Short: "Take an app out of the proxy (its domains stop being served)", App: cli.AppRequired, Bools: []string{"all"}, Run: proxyToggle(false)},
		&cli.Command{Name: "proxy:enable", Args: "(<app>|--all)", Short: "Serve an app through the proxy again", App: cli.AppRequired, Bools: []string{"all"}, Run: proxyToggle(true)},
		&cli.Command{Name: "proxy:build-config", Args: "(<app>|--all)", Short: "Push an app's route to the proxy again", App: cli.AppRequired, Bools: []string{"all"}, Run: proxyBuildConfig},
		&cli.Command{Name: "proxy:clear-config", Args: "(<app>|--all)", Short: "Nothing to clear: Berth keeps no proxy config files (Dokku removes nginx.conf)", App: cli.AppRequired, Bools: []string{"all"}, Run: proxyClearConfig},
	)
}

// portMapLike is what a port map given to proxy:set in place of a type
// looks like (http:80:5000).
var portMapLike = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z]+:[0-9]+(:[0-9]+)?$`) })

// proxyKeys are the keys proxy:set takes; anything else given alone is a
// proxy type (Dokku's `proxy:set APP TYPE`).
var proxyKeys = []string{"type", "proxy-port", "proxy-ssl-port", "client-max-body-size", "proxy-read-timeout", "hsts", "hsts-include-subdomains", "hsts-max-age", "hsts-preload"}

func proxySet(c *cli.Ctx) error {
	if len(c.Args) == 1 && !contains(proxyKeys, c.Args[0]) {
		if strings.Contains(c.Args[0], ":") || portMapLike().MatchString(c.Args[0]) {
			return cli.Failf("Detected potential port mapping instead of proxy type: use ports:set for port maps, or give a proxy type")
		}
		// `proxy:set APP TYPE`, Dokku's older form.
		c.Args = []string{"type", c.Args[0]}
	}
	return cli.PropertySetter("proxy")(c)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func proxyReport(c *cli.Ctx) error {
	if err := c.NoExtraArgs(0); err != nil {
		return err
	}
	res, err := api.PropertiesReport.Call(c, c.API, api.PropertyReport{Scope: api.Scope{App: c.App, Global: c.Global}, Namespace: "proxy"})
	if err != nil {
		return err
	}
	keys := make([]string, 0, len(res.Computed))
	for k := range res.Computed {
		if k != "disabled" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var fields []cli.Field
	title := "--global proxy information"
	if !c.Global {
		title = c.App + " proxy information"
		disabled := res.App["disabled"] == "true"
		fields = append(fields,
			cli.Field{Key: "enabled", Value: boolString(!disabled)},
			cli.Field{Key: "disabled", Value: res.App["disabled"]},
			cli.Field{Key: "computed-disabled", Value: boolString(disabled)})
	}
	for _, k := range keys {
		if !c.Global {
			fields = append(fields, cli.Field{Key: k, Value: res.App[k]})
		}
		fields = append(fields, cli.Field{Key: "computed-" + k, Value: res.Computed[k]}, cli.Field{Key: "global-" + k, Value: res.Global[k]})
	}
	return c.Report("proxy", title, fields)
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// eachApp runs fn for the app given, or with --all for every app.
func eachApp(c *cli.Ctx, fn func(app string) error) error {
	if err := c.NoExtraArgs(0); err != nil {
		return err
	}
	if !c.Bool("all") {
		return fn(c.App)
	}
	apps, err := api.AppsList.Call(c, c.API, api.Empty{})
	if err != nil {
		return err
	}
	for _, a := range apps.Apps {
		if err := fn(a.Name); err != nil {
			return err
		}
	}
	return nil
}

func proxyToggle(enable bool) func(*cli.Ctx) error {
	return func(c *cli.Ctx) error {
		return eachApp(c, func(app string) error {
			res, err := api.ProxyEnable.Call(c, c.API, api.ProxyToggle{App: app, Enabled: enable})
			if err != nil {
				return err
			}
			switch {
			case enable && res.Changed:
				c.Info1("Enabling proxy for app")
			case enable:
				c.Info1("Proxy is already enabled for app")
			case res.Changed:
				c.Info1("Disabling proxy for app")
			default:
				c.Info1("Proxy is already disable for app")
			}
			return nil
		})
	}
}

func proxyBuildConfig(c *cli.Ctx) error {
	return eachApp(c, func(app string) error {
		_, err := api.ProxyBuildConfig.Call(c, c.API, api.AppRef{App: app})
		return err
	})
}

func proxyClearConfig(c *cli.Ctx) error {
	return eachApp(c, func(app string) error {
		// Only check the app: Berth has no per-app proxy config file.
		_, err := api.AppsInfo.Call(c, c.API, api.AppRef{App: app})
		return err
	})
}
