package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/berthpaas/berth/internal/api"
)

// AppArg says whether a command's first argument is an app.
type AppArg int

// Kinds of app argument.
const (
	NoApp       AppArg = iota // the command takes no app
	AppRequired               // the first argument is the app (or --app)
	AppOptional               // an app may be given (reports over all apps)
)

// Command is one entry of the command table.
type Command struct {
	Name  string // namespace:verb
	Args  string // usage after the name, e.g. "<app> KEY=VALUE..."
	Short string // one line for help
	App   AppArg
	// Global allows --global in place of the app.
	Global bool
	// Bools and Values are the flags the command takes (without "--").
	Bools  []string
	Values []string
	// Multi flags may repeat; their values are collected (run --env K=V).
	Multi []string
	// Letters maps one-letter flags to long ones ("-t" -> "tail").
	Letters map[string]string
	// InfoFlags accepts any other --flag as a report key (NAMESPACE:report).
	InfoFlags bool
	// Passthrough keeps every argument after the app verbatim (run, enter).
	Passthrough bool
	// ValuesAfter > 0 keeps every argument after the app and that many
	// positional arguments verbatim, flags included: the option of
	// `docker-options:add APP PHASES --no-cache` is a value, as in Dokku.
	ValuesAfter int
	// Local commands run without the daemon.
	Local bool
	// LocalOnly commands cannot be run over ssh (serve, hooks).
	LocalOnly bool
	// Hidden commands are left out of help (aliases).
	Hidden bool
	// CustomFormat says that the command's --format takes values of its
	// own (config:export), which it checks itself. Otherwise --format
	// takes stdout or json, and anything else is refused before the
	// command runs, so before any call to the daemon.
	CustomFormat bool
	Run          func(c *Ctx) error
}

// Ctx is one invocation of a command.
type Ctx struct {
	context.Context
	*Env
	Cmd *Command
	// App is the app argument, or "" (with Global set, or for NoApp commands).
	App    string
	Global bool
	// Args are the positional arguments after the app.
	Args []string
	// InfoFlag is the report flag given (e.g. "--app-locked"), if any.
	InfoFlag string
	Quiet    bool
	// Labels are the global --label=KEY=VALUE flags: Docker labels for the
	// one-off containers of run and run:detached (Dokku's global flag).
	Labels []string
	// API reaches the daemon (nil for Local commands).
	API    api.Caller
	bools  map[string]bool
	values map[string]string
	multi  map[string][]string
}

// Multi returns every value given to the repeatable flag --name.
func (c *Ctx) Multi(name string) []string { return c.multi[name] }

// Bool reports whether the flag --name was given.
func (c *Ctx) Bool(name string) bool { return c.bools[name] }

// Flag returns the value of --name, or def.
func (c *Ctx) Flag(name, def string) string {
	if v, ok := c.values[name]; ok {
		return v
	}
	return def
}

// Info1 prints a progress line ("-----> ").
func (c *Ctx) Info1(format string, args ...any) {
	if !c.Quiet {
		fmt.Fprintf(c.Stdout, "-----> "+format+"\n", args...)
	}
}

// Info2 prints a section header ("=====> ").
func (c *Ctx) Info2(format string, args ...any) {
	if !c.Quiet {
		fmt.Fprintf(c.Stdout, "=====> "+format+"\n", args...)
	}
}

// Verbose prints a detail line indented by 7 spaces.
func (c *Ctx) Verbose(format string, args ...any) {
	fmt.Fprintf(c.Stdout, "       "+format+"\n", args...)
}

// Warn prints a warning line to stderr (" !     ").
func (c *Ctx) Warn(format string, args ...any) {
	errorLines(c.Stderr, fmt.Sprintf(format, args...))
}

// Println prints a plain line.
func (c *Ctx) Println(s string) { fmt.Fprintln(c.Stdout, s) }

// Columns prints rows as left-aligned columns two spaces apart (Dokku's
// columnize), the last column unpadded and no line ending in spaces.
func (c *Ctx) Columns(rows [][]string) {
	var widths []int
	for _, r := range rows {
		for i, cell := range r {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], len([]rune(cell)))
		}
	}
	for _, r := range rows {
		var b strings.Builder
		for i, cell := range r {
			b.WriteString(cell)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-len([]rune(cell))+2))
			}
		}
		c.Println(strings.TrimRight(b.String(), " "))
	}
}

var table = map[string]*Command{}

// Register adds commands to the table. Each area of Berth calls it from an
// init function: cli's own files, and the command packages beside cli
// (servicecmd, routingcmd), which cmd/berth imports so that their
// commands are in the binary. A name registered twice panics.
func Register(cmds ...*Command) {
	for _, c := range cmds {
		if _, dup := table[c.Name]; dup {
			panic("cli: duplicate command " + c.Name)
		}
		table[c.Name] = c
	}
}

// Lookup returns the command with the given name.
func Lookup(name string) (*Command, bool) {
	c, ok := table[name]
	return c, ok
}

// Commands returns the visible commands sorted by name.
func Commands() []*Command {
	var cmds []*Command
	for _, c := range table {
		if !c.Hidden {
			cmds = append(cmds, c)
		}
	}
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].Name < cmds[j].Name })
	return cmds
}

func namespaceOf(name string) string {
	ns, _, _ := strings.Cut(name, ":")
	return ns
}

func isNamespace(ns string) bool {
	for name := range table {
		if namespaceOf(name) == ns && strings.Contains(name, ":") {
			return true
		}
	}
	return false
}

// globals are flags every command accepts, anywhere before passthrough args.
var globalBools = map[string]bool{"quiet": true, "trace": true, "rm": true, "force": true}

// Run parses and runs one command line (without the program name).
func Run(ctx context.Context, args []string, env *Env) error {
	c := &Ctx{Context: ctx, Env: env, bools: map[string]bool{}, values: map[string]string{}}
	// Leading global flags (kept, but for --remote, to pass on over ssh).
	var globals []string
	for len(args) > 0 && strings.HasPrefix(args[0], "--") {
		if !strings.HasPrefix(args[0], "--remote") {
			globals = append(globals, args[0])
			if (args[0] == "--app" || args[0] == "--label") && len(args) > 1 {
				globals = append(globals, args[1])
			}
		}
		name, val, hasVal := strings.Cut(args[0][2:], "=")
		switch {
		case name == "app":
			if !hasVal {
				if len(args) < 2 {
					return Failf("--app needs an app name")
				}
				val, args = args[1], args[1:]
			}
			c.values["app"] = val
		case globalBools[name] && !hasVal:
			c.bools[name] = true
		case name == "label":
			if !hasVal {
				if len(args) < 2 {
					return Failf("--label needs KEY=VALUE")
				}
				val, args = args[1], args[1:]
			}
			c.Labels = append(c.Labels, val)
		case name == "remote":
			if !hasVal {
				if len(args) < 2 {
					return Failf("--remote needs a git remote name")
				}
				val, args = args[1], args[1:]
			}
			c.values["remote"] = val
		case name == "help" || name == "h":
			args[0] = "help"
			continue
		case name == "version":
			args[0] = "version"
			continue
		default:
			return Failf("Unknown global flag %s; global flags are --app APP, --label KEY=VALUE, --quiet, --trace, --force, --rm", args[0])
		}
		args = args[1:]
	}
	if len(args) == 0 {
		return usage(c)
	}
	cmdArgs := args
	name, args := args[0], args[1:]
	cmd, ok := table[name]
	if !ok {
		if name == "-h" {
			return usage(c)
		}
		if isNamespace(name) {
			return namespaceHelp(c.Stdout, c.Env.Prog, name)
		}
		if ns, ok := strings.CutSuffix(name, ":help"); ok && isNamespace(ns) {
			return namespaceHelp(c.Stdout, c.Env.Prog, ns)
		}
		return Failf("`%s` is not a %s command. See `%s help` for the list of commands.", name, c.Env.Prog, c.Env.Prog)
	}
	// `COMMAND --help`: a command that is also a namespace (config, ps)
	// shows the namespace, as Dokku does; others their own help. A command
	// that passes its arguments on (run) takes --help as its own only first.
	if len(args) > 0 && (isHelpFlag(args[0]) || (!cmd.Passthrough && slices.ContainsFunc(args, isHelpFlag))) {
		if isNamespace(name) {
			return namespaceHelp(c.Stdout, c.Env.Prog, name)
		}
		return commandHelp(c, cmd)
	}
	c.Cmd = cmd
	if cmd.LocalOnly && env.Remote {
		return Failf("%s can only be run on the server itself", name)
	}
	if err := c.parse(args); err != nil {
		return err
	}
	if err := c.checkFormat(); err != nil {
		return err
	}
	c.Quiet = c.bools["quiet"]
	// On a laptop (no daemon here) inside a checkout with a Berth remote,
	// the command runs on the server over ssh, like Dokku's client.
	if !cmd.Local && env.Caller == nil && env.Connect == nil && !env.Remote {
		if t, ok := laptopTarget(c); ok {
			return c.viaSSH(t, globals, cmdArgs)
		}
	}
	if !cmd.Local {
		cl, err := c.caller()
		if err != nil {
			return err
		}
		c.API = cl
	}
	return cmd.Run(c)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// parse sorts the arguments after the command name into flags, the app and
// positional arguments.
func (c *Ctx) parse(args []string) error {
	cmd := c.Cmd
	var pos []string
	appTaken := func() bool {
		return c.values["app"] != "" || c.Bool("global") || cmd.App == NoApp || len(pos) > 0
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if cmd.Passthrough && appTaken() && (len(pos) > 0 || !strings.HasPrefix(a, "-")) {
			pos = append(pos, args[i:]...)
			break
		}
		if n := cmd.ValuesAfter; n > 0 && appTaken() {
			if c.values["app"] == "" && !c.Bool("global") {
				n++ // pos[0] is the app
			}
			if len(pos) >= n {
				pos = append(pos, args[i:]...)
				break
			}
		}
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if long, ok := cmd.Letters[a]; ok {
			a = "--" + long
		}
		if !strings.HasPrefix(a, "--") || a == "--" {
			pos = append(pos, a)
			continue
		}
		name, val, hasVal := strings.Cut(a[2:], "=")
		switch {
		case name == "app" && cmd.App != NoApp:
			if !hasVal {
				if i+1 >= len(args) {
					return Failf("--app needs an app name")
				}
				i++
				val = args[i]
			}
			c.values["app"] = val
		case name == "global" && cmd.Global && !hasVal:
			c.bools["global"] = true
		case contains(cmd.Multi, name):
			if !hasVal {
				if i+1 >= len(args) {
					return Failf("--%s needs a value", name)
				}
				i++
				val = args[i]
			}
			if c.multi == nil {
				c.multi = map[string][]string{}
			}
			c.multi[name] = append(c.multi[name], val)
		case contains(cmd.Values, name):
			if !hasVal {
				if i+1 >= len(args) {
					return Failf("--%s needs a value", name)
				}
				i++
				val = args[i]
			}
			c.values[name] = val
		case (contains(cmd.Bools, name) || globalBools[name]) && !hasVal:
			c.bools[name] = true
		case cmd.InfoFlags && !hasVal:
			if c.InfoFlag != "" {
				return Failf("Only one info flag may be given; got %s and %s", c.InfoFlag, a)
			}
			c.InfoFlag = a
		default:
			return Failf("Unknown flag %s for %s; see `%s help %s`", a, cmd.Name, c.Env.Prog, cmd.Name)
		}
	}
	switch {
	case cmd.App == NoApp:
	case c.values["app"] != "":
		c.App = c.values["app"]
	case c.Bool("global"):
		c.Global = true
	case len(pos) > 0:
		c.App, pos = pos[0], pos[1:]
	case cmd.App == AppRequired && cmd.Global:
		return Failf("Please specify an app or --global")
	case cmd.App == AppRequired:
		return Failf("Please specify an app to run the command on")
	}
	if c.Bool("global") && c.values["app"] != "" {
		return Failf("Specify either an app or --global, not both")
	}
	c.Global = c.Bool("global")
	c.Args = pos
	return nil
}

// checkFormat refuses a --format other than stdout or json, for every
// command that takes one but those with formats of their own.
func (c *Ctx) checkFormat() error {
	if c.Cmd.CustomFormat || !contains(c.Cmd.Values, "format") {
		return nil
	}
	if f := c.Flag("format", "stdout"); f != "stdout" && f != "json" {
		return Failf("Invalid format: %s; use stdout or json", f)
	}
	return nil
}

// usage prints the general help.
func usage(c *Ctx) error {
	return printHelp(c.Stdout, c.Env.Prog, "")
}

func printHelp(w io.Writer, prog, ns string) error {
	if ns == "" {
		fmt.Fprintf(w, "Usage: %s [--quiet|--trace|--force] [--app APP] COMMAND <app> [command-specific-options]\n\n", prog)
		fmt.Fprintf(w, "Berth: git push deploys to your own server, Dokku-compatible.\n\nCommands:\n")
	} else {
		// Dokku's layout: usage, the namespace's description, its commands.
		desc := namespaceDescriptions[ns]
		if desc == "" {
			desc = "Commands of " + ns
		}
		fmt.Fprintf(w, "Usage: %s %s[:COMMAND]\n\n%s\n\nAdditional commands:\n", prog, ns, desc)
	}
	cmds := Commands()
	width := 0
	for _, cmd := range cmds {
		width = max(width, len(cmd.Name)+1+len(cmd.Args))
	}
	for _, cmd := range cmds {
		if ns != "" && namespaceOf(cmd.Name) != ns {
			continue
		}
		fmt.Fprintf(w, "    %-*s  %s\n", width, strings.TrimSpace(cmd.Name+" "+cmd.Args), cmd.Short)
	}
	fmt.Fprintf(w, "\nSee `%s help COMMAND` for one command; docs/commands.md for the reference.\n", prog)
	return nil
}

func namespaceHelp(w io.Writer, prog, ns string) error { return printHelp(w, prog, ns) }

// commandHelp prints one command's usage, what it does and its flags.
func commandHelp(c *Ctx, cmd *Command) error {
	fmt.Fprintf(c.Stdout, "Usage: %s %s\n\n%s\n", c.Env.Prog, strings.TrimSpace(cmd.Name+" "+cmd.Args), cmd.Short)
	var flags []string
	if cmd.App != NoApp {
		flags = append(flags, "--app APP")
	}
	if cmd.Global {
		flags = append(flags, "--global")
	}
	for _, f := range cmd.Bools {
		flags = append(flags, "--"+f)
	}
	for _, f := range cmd.Values {
		flags = append(flags, "--"+f+" VALUE")
	}
	if len(flags) > 0 {
		fmt.Fprintf(c.Stdout, "\nFlags: %s\n", strings.Join(flags, ", "))
	}
	return nil
}

func init() {
	Register(&Command{
		Name: "help", Args: "[COMMAND|NAMESPACE]", Short: "Show help for all commands, a namespace or one command", Local: true,
		Run: func(c *Ctx) error {
			if len(c.Args) == 0 {
				return usage(c)
			}
			name := c.Args[0]
			if cmd, ok := table[name]; ok {
				return commandHelp(c, cmd)
			}
			if isNamespace(name) {
				return namespaceHelp(c.Stdout, c.Env.Prog, name)
			}
			return Failf("`%s` is not a %s command.", name, c.Env.Prog)
		},
	})
}

// The helpers below are what the commands of other packages (servicecmd,
// routingcmd) need beyond Ctx's fields; cli's own commands use them too.

// NoExtraArgs fails when more than max positional arguments were given.
func (c *Ctx) NoExtraArgs(max int) error {
	if len(c.Args) > max {
		return Failf("Unexpected argument(s): %s; see `%s help %s`", strings.Join(c.Args[max:], " "), c.Env.Prog, c.Cmd.Name)
	}
	return nil
}

// Output is where an operation streams the daemon's output: the command's
// stdout and stderr.
func (c *Ctx) Output() api.Output { return api.Output{Stdout: c.Stdout, Stderr: c.Stderr} }

// Interactive runs an interactive session, with the terminal in raw mode
// when tty is set; the command's exit code becomes berth's.
func (c *Ctx) Interactive(tty bool, fn func(*api.Session) (int, error)) error {
	s := &api.Session{Stdin: c.Stdin, Stdout: c.Stdout, Stderr: c.Stderr}
	if tty {
		restore, err := c.Terminal.MakeRaw()
		if err == nil {
			defer restore()
		}
		ctx, cancel := context.WithCancel(c)
		defer cancel()
		s.Resize = c.Terminal.Resizes(ctx)
	}
	code, err := fn(s)
	if err != nil {
		return err
	}
	if code != 0 {
		return exit(code, "")
	}
	return nil
}

// PrintJSON handles --format: with json it prints v as JSON and reports
// true; with stdout (the default) it reports false, for the caller to print
// text; any other format is an error.
func (c *Ctx) PrintJSON(v any) (bool, error) {
	switch f := c.Flag("format", "stdout"); f {
	case "stdout":
		return false, nil
	case "json":
		b, err := json.Marshal(v)
		if err != nil {
			return true, err
		}
		c.Println(string(b))
		return true, nil
	default:
		return false, Failf("Invalid format: %s; use stdout or json", f)
	}
}
