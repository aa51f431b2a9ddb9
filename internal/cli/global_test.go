package cli

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/berthpaas/berth/internal/api"
)

// TestGlobalFlags: the flags every command takes, before the command or
// among its arguments.
func TestGlobalFlags(t *testing.T) {
	t.Parallel()
	vars := map[string]reply{"config.get": {Resp: api.ConfigVars{Vars: map[string]string{"B": "2", "A": "1"}}}}
	created := map[string]reply{"apps.create": {Resp: api.AppInfo{Name: "shop"}}}
	runCases(t, []cliCase{
		{Name: "--app before the command", Args: []string{"--app", "shop", "config:keys"}, Replies: vars,
			Ops: []string{"config.get"}, Reqs: map[string]string{"config.get": `{"app":"shop"}`}, Stdout: "A\nB\n"},
		{Name: "--app= before the command", Args: []string{"--app=shop", "config:keys"}, Replies: vars,
			Ops: []string{"config.get"}, Reqs: map[string]string{"config.get": `{"app":"shop"}`}, Stdout: "A\nB\n"},
		{Name: "--app among the arguments", Args: []string{"config:keys", "--merged", "--app", "shop"}, Replies: vars,
			Ops: []string{"config.get"}, Reqs: map[string]string{"config.get": `{"app":"shop","merged":true}`}, Stdout: "A\nB\n"},
		{Name: "progress line", Args: []string{"apps:create", "shop"}, Replies: created,
			Ops: []string{"apps.create"}, Reqs: map[string]string{"apps.create": `{"app":"shop"}`}, Stdout: "-----> Creating shop...\n"},
		{Name: "--quiet first drops progress lines", Args: []string{"--quiet", "apps:create", "shop"}, Replies: created,
			Ops: []string{"apps.create"}, Stdout: ""},
		{Name: "--quiet after the app", Args: []string{"apps:create", "shop", "--quiet"}, Replies: created,
			Ops: []string{"apps.create"}, Stdout: ""},
		{Name: "--trace --rm --force are accepted", Args: []string{"--trace", "--rm", "--force", "apps:create", "shop"}, Replies: created,
			Ops: []string{"apps.create"}, Stdout: "-----> Creating shop...\n"},
		{Name: "unknown global flag", Args: []string{"--bogus", "apps:list"}, Code: 1,
			ErrLine: "Unknown global flag --bogus; global flags are --app APP, --label KEY=VALUE, --quiet, --trace, --force, --rm"},
		{Name: "global bool with a value", Args: []string{"--quiet=yes", "apps:list"}, Code: 1, ErrLine: "Unknown global flag --quiet=yes"},
		{Name: "--app without a name", Args: []string{"--app"}, Code: 1, ErrLine: "--app needs an app name"},
		{Name: "--remote without a name", Args: []string{"--remote"}, Code: 1, ErrLine: "--remote needs a git remote name"},
		{Name: "--app on a command without app", Args: []string{"apps:list", "--app", "shop"}, Code: 1, ErrLine: "Unknown flag --app for apps:list; see `berth help apps:list`"},
		{Name: "unknown command", Args: []string{"apps:nope"}, Code: 1, ErrLine: "`apps:nope` is not a berth command. See `berth help` for the list of commands."},
	})
}

// TestHelp: help needs no daemon and lists what the table holds.
func TestHelp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		prog string
		has  []string
		not  []string
	}{
		{name: "no arguments", args: nil, has: []string{"Usage: berth [--quiet|--trace|--force] [--app APP] COMMAND", "    apps:create <app>", "config:set", "Create a new app"}},
		{name: "help", args: []string{"help"}, has: []string{"Commands:\n", "apps:list"}},
		{name: "--help", args: []string{"--help"}, has: []string{"Commands:\n", "apps:list"}},
		{name: "-h", args: []string{"-h"}, has: []string{"Commands:\n"}},
		{name: "namespace", args: []string{"apps"}, has: []string{"Usage: berth apps[:COMMAND]\n\nManage apps\n\nAdditional commands:\n", "apps:create <app>", "apps:destroy <app> [--force]"}, not: []string{"config:set", "Commands:\n"}},
		{name: "namespace:help", args: []string{"config:help"}, has: []string{"Manage global and app-specific config vars", "config:set"}, not: []string{"apps:create"}},
		{name: "namespace --help", args: []string{"config", "--help"}, has: []string{"Manage global and app-specific config vars", "config:set"}, not: []string{"apps:create"}},
		{name: "command --help", args: []string{"apps:create", "--help"}, has: []string{"Usage: berth apps:create <app>\n\nCreate a new app"}, not: []string{"apps:destroy"}},
		{name: "command -h after its app", args: []string{"ps:scale", "shop", "-h"}, has: []string{"Usage: berth ps:scale"}},
		{name: "help namespace", args: []string{"help", "ports"}, has: []string{"Manage ports for an app", "ports:add"}, not: []string{"domains:add"}},
		{name: "hidden commands are left out", args: []string{"help"}, has: []string{"    config:show (<app>|--global)"}, not: []string{"    config (<app>|--global)", "    domains [<app>"}},
		{name: "help of a hidden command", args: []string{"help", "config"}, has: []string{"Usage: berth config (<app>|--global)\n"}},
		{name: "one command", args: []string{"help", "config:get"}, has: []string{"Usage: berth config:get (<app>|--global) KEY [--quoted]\n\nDisplay one config value\n\nFlags: --app APP, --global, --quoted, --merged\n"}},
		{name: "one command with values", args: []string{"help", "apps:list"}, has: []string{"Usage: berth apps:list\n\nList your apps\n\nFlags: --format VALUE\n"}},
		{name: "dokku names itself", args: []string{"help", "apps:create"}, prog: "dokku", has: []string{"Usage: dokku apps:create <app>\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := newFake(nil)
			r := runEnv(fake, Env{Prog: tt.prog}, tt.args...)
			if r.Code != 0 || r.Stderr != "" {
				t.Errorf("exit %d, stderr %q", r.Code, r.Stderr)
			}
			for _, s := range tt.has {
				if !strings.Contains(r.Stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, r.Stdout)
				}
			}
			for _, s := range tt.not {
				if strings.Contains(r.Stdout, s) {
					t.Errorf("stdout has %q:\n%s", s, r.Stdout)
				}
			}
			if ops := fake.Ops(); len(ops) != 0 {
				t.Errorf("help called the daemon: %q", ops)
			}
		})
	}
	r := runCLI(newFake(nil), "", "help", "nope:nope")
	if r.Code != 1 {
		t.Errorf("help nope:nope: exit %d", r.Code)
	}
	checkErrLine(t, r.Stderr, "`nope:nope` is not a berth command.")
}

// TestHelpAlignsCommands: help's command column is as wide as the longest
// usage, so every description starts in the same column.
func TestHelpAlignsCommands(t *testing.T) {
	t.Parallel()
	r := runCLI(newFake(nil), "", "help")
	col := -1
	for _, line := range strings.Split(r.Stdout, "\n") {
		if !strings.HasPrefix(line, "    ") {
			continue
		}
		name := strings.Fields(line)[0]
		cmd, ok := Lookup(name)
		if !ok {
			t.Errorf("help lists %q, which is not a command", name)
			continue
		}
		i := strings.LastIndex(line, cmd.Short)
		if i < 0 {
			t.Errorf("line %q lacks its description", line)
			continue
		}
		if col == -1 {
			col = i
		} else if i != col {
			t.Errorf("description of %s starts at column %d, others at %d", name, i, col)
		}
	}
	if col == -1 {
		t.Fatal("help listed no command")
	}
}

// TestExitCodes: an API error is one line on stderr; app_not_found exits
// 20, every other code 1.
func TestExitCodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		code int
		line string
	}{
		{api.AppNotFound("shop"), 20, "App shop does not exist"},
		{fmt.Errorf("looking: %w", api.AppNotFound("shop")), 20, "looking: App shop does not exist"},
		{api.Errorf(api.CodeInvalid, "bad input"), 1, "bad input"},
		{api.Errorf(api.CodeNotFound, "no such thing"), 1, "no such thing"},
		{api.Errorf(api.CodeConflict, "Name is already taken"), 1, "Name is already taken"},
		{api.Errorf(api.CodeLocked, "shop is locked"), 1, "shop is locked"},
		{api.Errorf(api.CodeForbidden, "not yours"), 1, "not yours"},
		{api.Errorf(api.CodeUnavailable, "engine is down"), 1, "engine is down"},
		{api.Errorf(api.CodeInternal, "apps.info failed: boom"), 1, "apps.info failed: boom"},
		{errors.New("connection reset"), 1, "connection reset"},
	}
	for _, tt := range tests {
		fake := newFake(map[string]reply{"apps.info": {Err: tt.err}})
		r := runCLI(fake, "", "apps:exists", "shop")
		if r.Code != tt.code {
			t.Errorf("%v: exit %d, want %d", tt.err, r.Code, tt.code)
		}
		if want := " !     " + tt.line + "\n"; r.Stderr != want {
			t.Errorf("%v: stderr %q, want %q", tt.err, r.Stderr, want)
		}
		if r.Stdout != "" {
			t.Errorf("%v: stdout %q", tt.err, r.Stdout)
		}
	}
}

// TestMultiLineErrorIsPrefixedPerLine: a failed deploy's message has
// several lines; each gets the error prefix.
func TestMultiLineErrorIsPrefixedPerLine(t *testing.T) {
	t.Parallel()
	fake := newFake(map[string]reply{"ps.restart": {Stdout: "-----> Restarting\n", Err: api.Errorf(api.CodeInvalid, "Deploy failed at step check: web.1 exited\nlast line\n")}})
	r := runCLI(fake, "", "ps:restart", "shop")
	if r.Code != 1 {
		t.Errorf("exit %d", r.Code)
	}
	if want := " !     Deploy failed at step check: web.1 exited\n !     last line\n"; r.Stderr != want {
		t.Errorf("stderr = %q, want %q", r.Stderr, want)
	}
	if r.Stdout != "-----> Restarting\n" {
		t.Errorf("streamed output = %q", r.Stdout)
	}
}

// TestConnectSeam: the caller comes from Env.Connect on first use; a
// failure to connect is the command's one error line, and commands that
// need no daemon never connect.
func TestConnectSeam(t *testing.T) {
	t.Parallel()
	connects := 0
	fail := func() (api.Caller, error) {
		connects++
		return nil, &api.NotRunningError{Socket: "/tmp/x.sock"}
	}
	r := runEnv(nil, Env{Connect: fail}, "apps:list")
	if r.Code != 1 || connects != 1 {
		t.Errorf("exit %d after %d connects", r.Code, connects)
	}
	checkErrLine(t, r.Stderr, "Berth is not running")

	connects = 0
	r = runEnv(nil, Env{Connect: fail}, "help")
	if r.Code != 0 || connects != 0 {
		t.Errorf("help: exit %d after %d connects", r.Code, connects)
	}
	r = runEnv(nil, Env{Connect: fail}, "apps:create")
	if r.Code != 1 || connects != 0 {
		t.Errorf("bad input: exit %d after %d connects; want the parse error first", r.Code, connects)
	}

	fake := newFake(map[string]reply{"apps.list": {Resp: api.AppList{Apps: []api.AppInfo{{Name: "a"}}}}})
	r = runEnv(nil, Env{Connect: func() (api.Caller, error) { connects++; return fake, nil }}, "apps:list")
	if r.Code != 0 || r.Stdout != "=====> My Apps\na\n" || connects != 1 {
		t.Errorf("exit %d, stdout %q, %d connects", r.Code, r.Stdout, connects)
	}
}

// TestEveryCommandRefusesUnknownFlags: a misspelt flag fails before
// anything is sent, whatever the command.
func TestEveryCommandRefusesUnknownFlags(t *testing.T) {
	t.Parallel()
	for _, cmd := range Commands() {
		if cmd.InfoFlags {
			continue // any --flag is a report key there
		}
		fake := newFake(nil)
		r := runCLI(fake, "", cmd.Name, "--no-such-flag", "x")
		if r.Code != 1 || len(fake.Ops()) != 0 {
			t.Errorf("%s --no-such-flag: exit %d, ops %q", cmd.Name, r.Code, fake.Ops())
		}
		checkErrLine(t, r.Stderr, "Unknown flag --no-such-flag for "+cmd.Name)
	}
}

// TestEveryAppCommandWantsAnApp: a command that takes an app fails without
// one, before anything is sent, with Dokku's message.
func TestEveryAppCommandWantsAnApp(t *testing.T) {
	t.Parallel()
	n := 0
	for _, cmd := range Commands() {
		if cmd.App != AppRequired {
			continue
		}
		n++
		fake := newFake(nil)
		r := runCLI(fake, "", cmd.Name)
		want := "Please specify an app to run the command on"
		if cmd.Global {
			want = "Please specify an app or --global"
		}
		if r.Code != 1 || len(fake.Ops()) != 0 {
			t.Errorf("%s: exit %d, ops %q", cmd.Name, r.Code, fake.Ops())
		}
		checkErrLine(t, r.Stderr, want)
	}
	if n < 50 {
		t.Errorf("only %d commands take an app", n)
	}
}

// TestEveryFormatIsCheckedFirst: a --format other than stdout or json is
// refused before anything is sent, whatever the command (but config's
// export and import, whose formats are their own).
func TestEveryFormatIsCheckedFirst(t *testing.T) {
	t.Parallel()
	n := 0
	for _, cmd := range Commands() {
		if cmd.CustomFormat || !contains(cmd.Values, "format") {
			continue
		}
		n++
		fake := newFake(nil)
		r := runCLI(fake, "", cmd.Name, "x", "--format", "xml")
		if r.Code != 1 || len(fake.Ops()) != 0 || r.Stdout != "" {
			t.Errorf("%s --format xml: exit %d, ops %q, stdout %q", cmd.Name, r.Code, fake.Ops(), r.Stdout)
		}
		checkErrLine(t, r.Stderr, "Invalid format: xml; use stdout or json")
	}
	if n < 20 {
		t.Errorf("only %d commands take --format", n)
	}
}
