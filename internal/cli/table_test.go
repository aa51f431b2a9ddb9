package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// parseFor parses args for the named command without running it.
func parseFor(t *testing.T, name string, args ...string) (*Ctx, error) {
	t.Helper()
	cmd, ok := Lookup(name)
	if !ok {
		t.Fatalf("no command %s", name)
	}
	c := &Ctx{Context: context.Background(), Env: &Env{Prog: "berth"}, Cmd: cmd, bools: map[string]bool{}, values: map[string]string{}}
	return c, c.parse(args)
}

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		cmd      string
		args     []string
		app      string
		global   bool
		pos      []string
		bools    []string
		infoFlag string
	}{
		{name: "app first", cmd: "config:set", args: []string{"shop", "A=1"}, app: "shop", pos: []string{"A=1"}},
		{name: "flags before app", cmd: "config:set", args: []string{"--no-restart", "--encoded", "shop", "A=1"}, app: "shop", pos: []string{"A=1"}, bools: []string{"no-restart", "encoded"}},
		{name: "flags after pairs", cmd: "config:set", args: []string{"shop", "A=1", "--no-restart"}, app: "shop", pos: []string{"A=1"}, bools: []string{"no-restart"}},
		{name: "--app takes the app's place", cmd: "config:set", args: []string{"A=1", "--app", "shop"}, app: "shop", pos: []string{"A=1"}},
		{name: "--app=", cmd: "config:get", args: []string{"--app=shop", "A"}, app: "shop", pos: []string{"A"}},
		{name: "global", cmd: "config:set", args: []string{"--global", "A=1"}, global: true, pos: []string{"A=1"}},
		{name: "values that look like flags after =", cmd: "config:set", args: []string{"shop", "A=--x"}, app: "shop", pos: []string{"A=--x"}},
		{name: "double dash ends flags", cmd: "config:set", args: []string{"shop", "--", "--weird"}, app: "shop", pos: []string{"--weird"}},
		{name: "report info flag", cmd: "apps:report", args: []string{"shop", "--app-locked"}, app: "shop", infoFlag: "--app-locked"},
		{name: "report no app", cmd: "apps:report", args: []string{"--format", "json"}},
		{name: "global bools anywhere", cmd: "apps:destroy", args: []string{"shop", "--force", "--quiet"}, app: "shop", bools: []string{"force", "quiet"}},
		{name: "no app command", cmd: "apps:list", args: []string{"--format", "json"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := parseFor(t, tt.cmd, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			if c.App != tt.app || c.Global != tt.global || c.InfoFlag != tt.infoFlag {
				t.Errorf("app=%q global=%v info=%q, want app=%q global=%v info=%q", c.App, c.Global, c.InfoFlag, tt.app, tt.global, tt.infoFlag)
			}
			if len(c.Args) != 0 || len(tt.pos) != 0 {
				if !reflect.DeepEqual(c.Args, tt.pos) {
					t.Errorf("args = %q, want %q", c.Args, tt.pos)
				}
			}
			for _, b := range tt.bools {
				if !c.Bool(b) {
					t.Errorf("--%s not set", b)
				}
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cmd  string
		args []string
		want string
	}{
		{"config:set", nil, "Please specify an app or --global"},
		{"apps:create", nil, "Please specify an app to run the command on"},
		{"apps:create", []string{"--bogus", "x"}, "Unknown flag --bogus for apps:create"},
		{"config:set", []string{"--global", "--app", "shop", "A=1"}, "not both"},
		{"apps:list", []string{"--format"}, "--format needs a value"},
		{"config:get", []string{"--app"}, "--app needs an app name"},
		{"apps:report", []string{"shop", "--a", "--b"}, "Only one info flag"},
		{"apps:create", []string{"--global", "x"}, "Unknown flag --global"},
	}
	for _, tt := range tests {
		_, err := parseFor(t, tt.cmd, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s %q: err = %v, want %q", tt.cmd, tt.args, err, tt.want)
		}
	}
}

func TestMainWithoutDaemonIsOneLine(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	code := Main(context.Background(), []string{"/usr/local/bin/dokku", "apps:list"}, Env{
		Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string {
			if k == "BERTH_DATA_DIR" {
				return t.TempDir()
			}
			return ""
		},
	})
	if code != ExitFailure {
		t.Errorf("exit %d, want %d", code, ExitFailure)
	}
	if lines := strings.Count(errb.String(), "\n"); lines != 1 || !strings.Contains(errb.String(), "Berth is not running") {
		t.Errorf("stderr = %q, want one 'Berth is not running' line", errb.String())
	}
	if out.Len() != 0 {
		t.Errorf("stdout = %q, want nothing", out.String())
	}
}

func TestUnknownCommandNamesTheProgram(t *testing.T) {
	t.Parallel()
	for prog, want := range map[string]string{"/usr/bin/dokku": "is not a dokku command", "berth": "is not a berth command", "/x/something": "is not a berth command"} {
		var out, errb bytes.Buffer
		code := Main(context.Background(), []string{prog, "nope:nope"}, Env{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }})
		if code != ExitFailure || !strings.Contains(errb.String(), want) {
			t.Errorf("%s: exit %d, stderr %q; want 1 and %q", prog, code, errb.String(), want)
		}
	}
}

func TestEveryCommandHasHelp(t *testing.T) {
	t.Parallel()
	for _, c := range Commands() {
		if c.Short == "" || c.Run == nil {
			t.Errorf("%s: missing Short or Run", c.Name)
		}
		// Dokku's top-level commands; everything else is namespace:verb.
		topLevel := map[string]bool{"help": true, "version": true, "serve": true, "run": true, "logs": true, "enter": true, "cleanup": true, "releases": true, "url": true, "urls": true, "serve-proxy": true, "redirect": true, "letsencrypt": true, "doctor": true}
		if !topLevel[c.Name] && !strings.Contains(c.Name, ":") {
			t.Errorf("%s: visible command without a namespace", c.Name)
		}
	}
}

// Berth's own process commands (serve, serve-proxy) must not take a name
// from Dokku's grammar: `dokku proxy` shows the proxy namespace's help, it
// does not start a proxy (Dokku's test suite runs it).
func TestInternalCommandsTakeNoNamespace(t *testing.T) {
	t.Parallel()
	cmds := Commands()
	for _, c := range cmds {
		if !c.LocalOnly {
			continue
		}
		for _, d := range cmds {
			if strings.HasPrefix(d.Name, c.Name+":") {
				t.Errorf("berth %s (a process of Berth's) has the name of the namespace of %s", c.Name, d.Name)
			}
		}
	}
}

// Every namespace says what it is for under its usage, as Dokku's do.
func TestEveryNamespaceHasADescription(t *testing.T) {
	t.Parallel()
	for _, c := range Commands() {
		if ns, _, ok := strings.Cut(c.Name, ":"); ok && namespaceDescriptions[ns] == "" {
			t.Errorf("namespace %s (of %s) has no description in namespaceDescriptions", ns, c.Name)
		}
	}
}

// The docs are the reference of every command: each one the binary has
// appears in docs/*.md in backquotes, alone (`name`), with its arguments
// (`name APP`) or among its namespace's verbs (`ps:start|stop APP`), so a
// command cannot be added without its documentation.
func TestEveryCommandIsDocumented(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../../docs/*.md")
	if err != nil || len(files) == 0 {
		t.Fatalf("docs: %v", err)
	}
	documented := map[string]bool{}
	// After any backquote (a span's opening one or not: the pairing is not
	// needed), a command and its verbs. KIND stands for each service kind.
	verbs := regexp.MustCompile("^`(?:dokku |berth )?([a-zA-Z][a-zA-Z0-9-]*)(?::([a-z0-9:-]+(?:\\\\?\\|[a-z0-9:-]+)*))?")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		for i := range text {
			if text[i] != '`' {
				continue
			}
			m := verbs.FindStringSubmatch(text[i:])
			if m == nil {
				continue
			}
			namespaces := []string{m[1]}
			if m[1] == "KIND" {
				namespaces = []string{"postgres", "redis"}
			}
			for _, ns := range namespaces {
				if m[2] == "" {
					documented[ns] = true
					continue
				}
				for _, v := range strings.Split(strings.ReplaceAll(m[2], `\|`, "|"), "|") {
					documented[ns+":"+v] = true
				}
			}
		}
	}
	for _, c := range Commands() {
		if !c.Hidden && !documented[c.Name] {
			t.Errorf("%s: not documented in docs/*.md", c.Name)
		}
	}
}
