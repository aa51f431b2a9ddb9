package cli

func init() {
	Register(
		&Command{Name: "scheduler:set", Args: "(<app>|--global) selected [docker-local|swarm]", Short: "Choose where an app's processes run: docker-local (this server) or swarm (the Docker Swarm of scheduler-swarm:cluster-init); takes effect at the next deploy", App: AppRequired, Global: true, Run: PropertySetter("scheduler")},
		&Command{Name: "scheduler:report", Args: "(<app>|--global) [<flag>] [--format json]", Short: "Display an app's scheduler", App: AppRequired, Global: true, Values: []string{"format"}, InfoFlags: true, Run: SettingsReport("scheduler")},
		&Command{Name: "scheduler-swarm:set", Args: "(<app>|--global) constraint [<constraints>]", Short: "Set or clear where a Swarm app's tasks may run: Swarm placement constraints, comma separated (node.labels.tier==web)", App: AppRequired, Global: true, Run: PropertySetter("scheduler-swarm")},
		&Command{Name: "scheduler-swarm:report", Args: "(<app>|--global) [<flag>] [--format json]", Short: "Display an app's Swarm placement settings", App: AppRequired, Global: true, Values: []string{"format"}, InfoFlags: true, Run: SettingsReport("scheduler-swarm")},
	)
}
