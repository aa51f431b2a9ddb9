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
}

// notYet are Dokku plugins whose built-in equivalents are still to come.
var notYet = map[string]bool{"postgres": true, "redis": true}

func init() {
	register(
		&Command{Name: "plugin:install", Args: "URL [NAME]", Short: "Dokku compatibility: the plugins the walk-through installs are built into Berth", Local: true, Run: pluginInstall},
		&Command{Name: "plugin:list", Short: "List what Berth has built in of Dokku's plugins", Local: true, Run: pluginList},
	)
}

// pluginName reads "https://github.com/dokku/dokku-postgres.git [postgres]".
func pluginName(args []string) string {
	if len(args) > 1 {
		return args[1]
	}
	name := strings.TrimSuffix(path.Base(args[0]), ".git")
	return strings.TrimPrefix(name, "dokku-")
}

func pluginInstall(c *Ctx) error {
	if len(c.Args) == 0 {
		return failf("Please specify a plugin to install")
	}
	name := pluginName(c.Args)
	switch {
	case builtIn[name] != "":
		c.Info1("Plugin %s is built into Berth: nothing to install (%s)", name, builtIn[name])
		return nil
	case notYet[name]:
		return failf("Berth's built-in %s service is not available yet: %s:* commands are coming", name, name)
	}
	return failf("Berth does not install Dokku plugins; %s has no built-in equivalent", name)
}

func pluginList(c *Ctx) error {
	for _, n := range slices.Sorted(maps.Keys(builtIn)) {
		c.Println(n + "  built in: " + builtIn[n])
	}
	return nil
}
