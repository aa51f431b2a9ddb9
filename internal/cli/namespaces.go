package cli

// namespaceDescriptions are the lines `NAMESPACE:help` (and `NAMESPACE`,
// `NAMESPACE --help`) print under the usage, in Dokku's words where Dokku
// has the namespace: scripts and Dokku's own tests look for them.
var namespaceDescriptions = map[string]string{
	"app-json":           "Manage app-json settings for an app",
	"apps":               "Manage apps",
	"builder":            "Manage builder settings for an app",
	"builder-dockerfile": "Manage the dockerfile builder integration for an app",
	"certs":              "Manage SSL (TLS) certs",
	"checks":             "Manage zero-downtime settings",
	"config":             "Manage global and app-specific config vars",
	"cron":               "Manage scheduled cron tasks",
	"dashboard":          "Manage where Berth's HTTP API is served (Berth's own)",
	"docker-options":     "Manage docker options for an app",
	"domains":            "Manage domains used by the proxy",
	"git":                "Manage app deploys via git",
	"letsencrypt":        "Manage the letsencrypt integration",
	"logs":               "Manage log integration for an app",
	"network":            "Manage network settings for an app",
	"notifications":      "Manage webhooks told of deploys, rollbacks and failures (Berth)",
	"plugin":             "Manage installed plugins",
	"ports":              "Manage ports for an app",
	"postgres":           "Manage postgres services",
	"proxy":              "Manage the proxy integration for an app",
	"resource":           "Manage resource settings for an app",
	"ps":                 "Manage app processes",
	"redirect":           "Manage redirects",
	"redis":              "Manage redis services",
	"releases":           "Manage an app's releases (Berth: list, rollback)",
	"run":                "Run a one-off process inside a container",
	"scheduler":          "Manage scheduler settings",
	"scheduler-swarm":    "Manage apps on a Docker Swarm: the cluster and placement",
	"ssh-keys":           "Manage public ssh keys used for deployment",
	"storage":            "Manage mounted volumes",
	"tokens":             "Manage API tokens for the HTTP API (Berth's own)",
}

// isHelpFlag reports whether a is a request for help (`--help`, `-h`).
func isHelpFlag(a string) bool { return a == "--help" || a == "-h" }
