package cli

func init() {
	Register(
		&Command{Name: "builder:set", Args: "(<app>|--global) <key> [<value>]", Short: "Set or clear a builder setting (selected: dockerfile only; build-dir: the source's subdirectory to build)", App: AppRequired, Global: true, Run: PropertySetter("builder")},
		&Command{Name: "builder:report", Args: "(<app>|--global) [<flag>] [--format json]", Short: "Display an app's builder settings", App: AppRequired, Global: true, Values: []string{"format"}, InfoFlags: true, Run: SettingsReport("builder")},
	)
}
