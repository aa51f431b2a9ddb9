package cli

import (
	"maps"
	"path"
	"slices"
	"strings"
)

// builtIn maps the Dokku plugins Berth has built in to what replaces them.
var builtIn = map[string]string{
	"letsencrypt": "letsencrypt:* (HTTPS with renewal built in)",
	"redirect":    "redirect:* (domain redirects built in)",
	"postgres":    "postgres:* (PostgreSQL services built in)",
	"redis":       "redis:* (Redis services built in)",
}

func init() {
	Register(
		&Command{Name: "plugin:install", Args: "URL [NAME]", Short: "Dokku compatibility: the plugins the walk-through installs are built into Berth", Local: true, Run: pluginInstall},
		&Command{Name: "plugin:list", Short: "List what Berth has built in of Dokku's plugins", Local: true, Run: pluginList},
		&Command{Name: "plugin:installed", Args: "NAME", Short: "Exit 0 if Berth has the Dokku plugin NAME built in, 1 if not (Dokku's scripts test it before plugin:install)", Local: true, Run: pluginInstalled},
	)
}

// pluginName reads "https://github.com/dokku/dokku-postgres.git [NAME]":
// the repository names the plugin; NAME is only what Dokku would call it.
func pluginName(args []string) string {
	name := strings.TrimSuffix(path.Base(strings.TrimSuffix(args[0], "/")), ".git")
	name = strings.TrimPrefix(name, "dokku-")
	if builtIn[name] == "" && len(args) > 1 {
		return args[1]
	}
	return name
}

func pluginInstall(c *Ctx) error {
	if len(c.Args) == 0 {
		return Failf("Please specify a plugin to install")
	}
	name := pluginName(c.Args)
	switch {
	case builtIn[name] != "":
		c.Info1("Plugin %s is built into Berth: nothing to install (%s)", name, builtIn[name])
		return nil
	}
	return Failf("Third-party plugins are not supported (yet): %s has no built-in equivalent in Berth", name)
}

func pluginList(c *Ctx) error {
	for _, n := range slices.Sorted(maps.Keys(builtIn)) {
		c.Println(n + "  built in: " + builtIn[n])
	}
	return nil
}

// pluginInstalled answers Dokku's `plugin:installed NAME` by its exit code
// alone, as Dokku does: setup scripts run `dokku plugin:installed postgres
// || dokku plugin:install ...`.
func pluginInstalled(c *Ctx) error {
	if len(c.Args) == 0 {
		return Failf("Please specify a plugin name")
	}
	if err := c.NoExtraArgs(1); err != nil {
		return err
	}
	if builtIn[strings.TrimPrefix(c.Args[0], "dokku-")] == "" {
		return ExitCode(ExitFailure)
	}
	return nil
}
