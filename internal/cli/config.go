package cli

import (
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/app"
)

func init() {
	cfg := func(name, args, short string, bools, values []string, run func(*Ctx) error) *Command {
		return &Command{Name: name, Args: args, Short: short, App: AppRequired, Global: true, Bools: bools, Values: values, Run: run}
	}
	Register(
		cfg("config", "(<app>|--global)", "Display the config vars of an app or the global ones", []string{"merged", "shell", "export"}, nil, configShow),
		cfg("config:show", "(<app>|--global) [--merged]", "Display the config vars of an app or the global ones", []string{"merged", "shell", "export"}, nil, configShow),
		cfg("config:get", "(<app>|--global) KEY [--quoted]", "Display one config value", []string{"quoted", "merged"}, nil, configGet),
		cfg("config:set", "[--no-restart] [--encoded] (<app>|--global) KEY1=VALUE1 [KEY2=VALUE2 ...]", "Set one or more config vars", []string{"no-restart", "encoded"}, nil, configSet),
		cfg("config:unset", "[--no-restart] (<app>|--global) KEY1 [KEY2 ...]", "Unset one or more config vars", []string{"no-restart"}, nil, configUnset),
		cfg("config:keys", "(<app>|--global) [--merged]", "List the config keys", []string{"merged"}, nil, configKeys),
		cfg("config:clear", "[--no-restart] (<app>|--global)", "Unset every config var", []string{"no-restart"}, nil, configClear),
		cfg("config:export", "[--format FORMAT] [--merged] (<app>|--global)", "Export config vars: "+strings.Join(app.ExportFormats, ", "), []string{"merged"}, []string{"format"}, configExport),
		cfg("config:import", "[--replace] [--no-restart] [--format envfile|json] (<app>|--global) (FILE|-)", "Import config vars from a file or stdin", []string{"replace", "no-restart"}, []string{"format"}, configImport),
	)
	table["config"].Hidden = true
	table["config:export"].CustomFormat = true
	table["config:import"].CustomFormat = true
}

func (c *Ctx) scope() api.Scope { return api.Scope{App: c.App, Global: c.Global} }

func (c *Ctx) scopeName() string {
	if c.Global {
		return "global"
	}
	return c.App
}

func (c *Ctx) vars(merged bool) (map[string]string, error) {
	res, err := api.ConfigGet.Call(c, c.API, api.ConfigRequest{Scope: c.scope(), Merged: merged})
	return res.Vars, err
}

func configShow(c *Ctx) error {
	if err := c.NoExtraArgs(0); err != nil {
		return err
	}
	if c.Bool("shell") && c.Bool("export") {
		return Failf("Only one of --shell and --export can be given")
	}
	vars, err := c.vars(c.Bool("merged"))
	if err != nil {
		return err
	}
	switch {
	case c.Bool("shell"):
		s, _ := app.Export(vars, "shell")
		fmt.Fprint(c.Stdout, s)
		return nil
	case c.Bool("export"):
		s, _ := app.Export(vars, "exports")
		c.Println(s)
		return nil
	}
	c.Info2("%s env vars", c.scopeName())
	if len(vars) > 0 {
		c.Println(app.Pretty(vars, ""))
	}
	return nil
}

func configGet(c *Ctx) error {
	if len(c.Args) == 0 {
		return Failf("Expected: key")
	}
	if err := c.NoExtraArgs(1); err != nil {
		return err
	}
	vars, err := c.vars(c.Bool("merged"))
	if err != nil {
		return err
	}
	v, ok := vars[c.Args[0]]
	if !ok {
		return exit(ExitFailure, "")
	}
	if c.Bool("quoted") {
		v = app.ShellQuote(v)
	}
	c.Println(v)
	return nil
}

// parsePairs reads KEY=VALUE arguments, decoding base64 values if asked.
func parsePairs(args []string, encoded bool) (map[string]string, error) {
	if len(args) == 0 {
		return nil, Failf("At least one env pair must be given")
	}
	vars := map[string]string{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return nil, Failf("Invalid env pair: %s; expected KEY=VALUE", a)
		}
		if err := app.ValidateKey(k); err != nil {
			return nil, Failf("%v", err)
		}
		if encoded {
			b, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				return nil, Failf("Invalid base64 value for key %s: %v", k, err)
			}
			v = string(b)
		}
		if err := app.ValidateValue(k, v); err != nil {
			return nil, Failf("%v", err)
		}
		vars[k] = v
	}
	return vars, nil
}

// update sends a config change, streaming any redeploy's output. header
// prints the command's own progress lines, once the daemon has accepted
// the change: before its first output (a redeploy's) or after its answer.
// So a refusal (a key scoped to another app, a missing app) comes with
// nothing printed before it.
func (c *Ctx) update(ch api.ConfigChange, header func()) (api.ConfigChangeResult, error) {
	ch.Scope = c.scope()
	ch.NoRestart = c.Bool("no-restart")
	out, accepted := c.headerFirst(header)
	res, err := api.ConfigUpdate.Stream(c, c.API, ch, out)
	if err == nil {
		accepted()
	}
	return res, err
}

// headerFirst returns the command's output streams for a call whose own
// progress lines (header) must wait for the daemon to take the request:
// header is printed before the first byte the daemon streams, or by
// accepted (call it once the call succeeded) if none came. A refusal
// (access, a missing app) is then the only thing printed.
func (c *Ctx) headerFirst(header func()) (out api.Output, accepted func()) {
	var once sync.Once
	first := func() { once.Do(header) }
	return api.Output{Stdout: &firstWrite{w: c.Stdout, first: first}, Stderr: &firstWrite{w: c.Stderr, first: first}}, first
}

// firstWrite calls first before its first write to w.
type firstWrite struct {
	w     io.Writer
	first func()
}

func (f *firstWrite) Write(p []byte) (int, error) {
	if len(p) > 0 {
		f.first()
	}
	return f.w.Write(p)
}

func (c *Ctx) printSet(vars map[string]string) {
	if len(vars) == 0 || c.Quiet {
		return
	}
	c.Info1("Setting config vars")
	c.Println(app.Pretty(vars, "       "))
}

func configSet(c *Ctx) error {
	vars, err := parsePairs(c.Args, c.Bool("encoded"))
	if err != nil {
		return err
	}
	_, err = c.update(api.ConfigChange{Set: vars}, func() { c.printSet(vars) })
	return err
}

func configUnset(c *Ctx) error {
	if len(c.Args) == 0 {
		return Failf("At least one key must be given")
	}
	for _, k := range c.Args {
		if err := app.ValidateKey(k); err != nil {
			return Failf("%v", err)
		}
	}
	_, err := c.update(api.ConfigChange{Unset: c.Args}, func() {
		for _, k := range c.Args {
			c.Info1("Unsetting %s", k)
		}
	})
	return err
}

func configKeys(c *Ctx) error {
	if err := c.NoExtraArgs(0); err != nil {
		return err
	}
	vars, err := c.vars(c.Bool("merged"))
	if err != nil {
		return err
	}
	for _, k := range app.SortedKeys(vars) {
		c.Println(k)
	}
	return nil
}

func configClear(c *Ctx) error {
	if err := c.NoExtraArgs(0); err != nil {
		return err
	}
	_, err := c.update(api.ConfigChange{Replace: true}, func() { c.Info1("Clearing config vars") })
	return err
}

func configExport(c *Ctx) error {
	if err := c.NoExtraArgs(0); err != nil {
		return err
	}
	format := c.Flag("format", "exports")
	if _, err := app.Export(nil, format); err != nil {
		return Failf("%v", err)
	}
	vars, err := c.vars(c.Bool("merged"))
	if err != nil {
		return err
	}
	s, _ := app.Export(vars, format)
	if format == "shell" {
		fmt.Fprint(c.Stdout, s)
		return nil
	}
	c.Println(s)
	return nil
}

func configImport(c *Ctx) error {
	if len(c.Args) == 0 {
		return Failf("Please specify a file to import, or - for stdin")
	}
	if err := c.NoExtraArgs(1); err != nil {
		return err
	}
	var data []byte
	var err error
	if c.Args[0] == "-" {
		data, err = io.ReadAll(c.Stdin)
	} else if data, err = c.ReadFileArg(c.Args[0], "config:import APP - < FILE"); c.Remote {
		return err
	}
	if err != nil {
		return Failf("Cannot read %s: %v", c.Args[0], err)
	}
	var vars map[string]string
	switch f := c.Flag("format", "envfile"); f {
	case "envfile":
		vars, err = app.ParseEnvfile(data)
	case "json":
		vars, err = app.ParseJSONVars(data)
	default:
		return Failf("Invalid import format: %s; use envfile or json", f)
	}
	if err != nil {
		return Failf("%v", err)
	}
	if len(vars) == 0 && !c.Bool("replace") {
		return Failf("No config vars found in %s", c.Args[0])
	}
	res, err := c.update(api.ConfigChange{Set: vars, Replace: c.Bool("replace")}, func() { c.printSet(vars) })
	if err == nil && len(res.Unset) > 0 {
		c.Info1("Unset %s", strings.Join(res.Unset, ", "))
	}
	return err
}
