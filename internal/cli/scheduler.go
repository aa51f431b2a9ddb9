package cli

func init() {
	Register(
		&Command{Name: "scheduler:set", Args: "(<app>|--global) <key> [<value>]", Short: "Set or clear a scheduler setting (selected: docker-local, this server; swarm, the Docker Swarm of scheduler-swarm:cluster-init; null, nothing; takes effect at the next deploy. shell: the shell of enter without a command)", App: AppRequired, Global: true, Run: PropertySetter("scheduler")},
		&Command{Name: "scheduler:report", Args: "(<app>|--global) [<flag>] [--format json]", Short: "Display an app's scheduler", App: AppRequired, Global: true, Values: []string{"format"}, InfoFlags: true, Run: SettingsReport("scheduler")},
		&Command{Name: "scheduler-swarm:set", Args: "(<app>|--global) constraint [<constraints>]", Short: "Set or clear where a Swarm app's tasks may run: Swarm placement constraints, comma separated (node.labels.tier==web)", App: AppRequired, Global: true, Run: PropertySetter("scheduler-swarm")},
		&Command{Name: "scheduler-swarm:report", Args: "(<app>|--global) [<flag>] [--format json]", Short: "Display an app's Swarm placement settings", App: AppRequired, Global: true, Values: []string{"format"}, InfoFlags: true, Run: SettingsReport("scheduler-swarm")},
	)
}
