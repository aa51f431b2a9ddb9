package cli

// NamespaceHelp prints the help of a namespace (`NS:help`): for a command
// that has the namespace's name and shows it when called bare, as Dokku's
// `domains` does.
func (c *Ctx) NamespaceHelp(ns string) error {
	return namespaceHelp(c.Stdout, c.Env.Prog, ns)
}
