package cli

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"
)

// reportCtx is a command context with the given flags, writing to buffers.
func reportCtx(infoFlag string, values map[string]string, quiet bool) (*Ctx, *bytes.Buffer) {
	var out bytes.Buffer
	if values == nil {
		values = map[string]string{}
	}
	return &Ctx{Context: context.Background(), Env: &Env{Stdout: &out, Stderr: &out, Prog: "berth"}, InfoFlag: infoFlag, Quiet: quiet, values: values, bools: map[string]bool{}}, &out
}

func TestRenderReport(t *testing.T) {
	t.Parallel()
	fields := []Field{{"short", "1"}, {"a-much-longer-key-than-thirty-one", "two words"}, {"empty", ""}}
	tests := []struct {
		name   string
		info   string
		format string
		quiet  bool
		want   string
		err    string
	}{
		{name: "labels widen to the longest key, sorted by flag", want: "=====> thing information\n" +
			sp(7) + "Ns a much longer key than thirty one:" + sp(1) + "two words\n" +
			sp(7) + "Ns empty:" + sp(29) + "\n" +
			sp(7) + "Ns short:" + sp(29) + "1\n"},
		{name: "quiet drops the header only", quiet: true, want: sp(7) + "Ns a much longer key than thirty one:" + sp(1) + "two words\n" +
			sp(7) + "Ns empty:" + sp(29) + "\n" + sp(7) + "Ns short:" + sp(29) + "1\n"},
		{name: "info flag", info: "--ns-a-much-longer-key-than-thirty-one", want: "two words\n"},
		{name: "empty value", info: "--ns-empty", want: "\n"},
		{name: "info flag with stdout format", info: "--ns-short", format: "stdout", want: "1\n"},
		{name: "unknown info flag", info: "--ns-nope", err: "Invalid flag passed, valid flags: --ns-a-much-longer-key-than-thirty-one, --ns-empty, --ns-short"},
		{name: "info flag without namespace", info: "--short", err: "Invalid flag passed"},
		{name: "json", format: "json", want: `{"a-much-longer-key-than-thirty-one":"two words","empty":"","short":"1"}` + "\n"},
		{name: "json and info flag", format: "json", info: "--ns-short", err: "--format flag cannot be specified when specifying an info flag"},
		{name: "bad format", format: "table", err: "Invalid format: table; use stdout or json"},
		{name: "bad format with info flag", format: "table", info: "--ns-short", err: "Invalid format: table"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			values := map[string]string{}
			if tt.format != "" {
				values["format"] = tt.format
			}
			c, out := reportCtx(tt.info, values, tt.quiet)
			err := c.Report("ns", "thing information", fields)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("err = %v, want %q", err, tt.err)
				}
				if out.Len() != 0 {
					t.Errorf("printed %q before failing", out.String())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Errorf("got:\n%q\nwant:\n%q", out.String(), tt.want)
			}
		})
	}
}

// TestReportKeys covers lines without the namespace (a key starting with
// "--") and the namespaces whose JSON also has each key with the namespace.
func TestReportKeys(t *testing.T) {
	t.Parallel()
	fields := []Field{{"computed-stop-timeout-seconds", "30"}, {"--deployed", "true"}, {"--status-web.1", "running"}}
	for _, tt := range []struct {
		ns, info, format, want, err string
	}{
		{ns: "ps", format: "json", want: `{"computed-stop-timeout-seconds":"30","deployed":"true","ps-computed-stop-timeout-seconds":"30","status-web.1":"running"}` + "\n"},
		{ns: "git", format: "json", want: `{"computed-stop-timeout-seconds":"30","deployed":"true","status-web.1":"running"}` + "\n"},
		{ns: "ps", info: "--deployed", want: "true\n"},
		{ns: "ps", info: "--status-web.1", want: "running\n"},
		{ns: "ps", info: "--ps-deployed", err: "Invalid flag passed, valid flags: --deployed, --ps-computed-stop-timeout-seconds, --status-web.1"},
		{ns: "ps", want: "=====> shop ps information\n" + sp(7) + "Deployed:" + sp(25) + "true\n" +
			sp(7) + "Ps computed stop timeout seconds:" + sp(1) + "30\n" + sp(7) + "Status web 1:" + sp(21) + "running\n"},
	} {
		values := map[string]string{}
		if tt.format != "" {
			values["format"] = tt.format
		}
		c, out := reportCtx(tt.info, values, false)
		err := c.Report(tt.ns, "shop ps information", fields)
		if (err == nil) != (tt.err == "") || (err != nil && !strings.Contains(err.Error(), tt.err)) || out.String() != tt.want {
			t.Errorf("%s %s %s: out %q err %v; want %q %q", tt.ns, tt.info, tt.format, out.String(), err, tt.want, tt.err)
		}
	}
}

func TestPrintJSON(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		format string
		v      any
		done   bool
		out    string
		err    string
	}{
		{format: "", v: []string{"a"}, done: false},
		{format: "stdout", v: []string{"a"}, done: false},
		{format: "json", v: []string{"a", "<b>"}, done: true, out: `["a","\u003cb\u003e"]` + "\n"},
		{format: "json", v: []string(nil), done: true, out: "null\n"},
		{format: "json", v: map[string]int{"b": 2, "a": 1}, done: true, out: `{"a":1,"b":2}` + "\n"},
		{format: "json", v: make(chan int), done: true, err: "unsupported type"},
		{format: "JSON", v: 1, err: "Invalid format: JSON; use stdout or json"},
	} {
		values := map[string]string{}
		if tt.format != "" {
			values["format"] = tt.format
		}
		c, out := reportCtx("", values, false)
		done, err := c.PrintJSON(tt.v)
		if done != tt.done || out.String() != tt.out || (err == nil) != (tt.err == "") || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("format %q: done %v, out %q, err %v; want %v, %q, %q", tt.format, done, out.String(), err, tt.done, tt.out, tt.err)
		}
	}
}

// TestParseShapes covers the argument shapes of the table beyond
// table_test.go's: one-letter flags, repeatable flags, verbatim arguments
// after the app (run) or after N positionals (docker-options:add).
func TestParseShapes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cmd   string
		args  []string
		app   string
		pos   []string
		multi []string
		vals  map[string]string
		bools []string
	}{
		{cmd: "run", args: []string{"-e", "A=1", "--env", "B=2", "--env=C=3", "shop", "ls", "--env", "x"}, app: "shop", pos: []string{"ls", "--env", "x"}, multi: []string{"A=1", "B=2", "C=3"}},
		{cmd: "run", args: []string{"--no-tty", "shop", "-e", "x"}, app: "shop", pos: []string{"-e", "x"}, bools: []string{"no-tty"}},
		{cmd: "run", args: []string{"--app", "shop", "rake", "-T"}, app: "shop", pos: []string{"rake", "-T"}},
		{cmd: "docker-options:add", args: []string{"shop", "build", "--no-cache"}, app: "shop", pos: []string{"build", "--no-cache"}},
		{cmd: "docker-options:add", args: []string{"--app", "shop", "build", "--build-arg", "A"}, app: "shop", pos: []string{"build", "--build-arg", "A"}},
		{cmd: "logs", args: []string{"shop", "-t", "-n", "5", "-p", "web", "-q"}, app: "shop", vals: map[string]string{"num": "5", "ps": "web"}, bools: []string{"tail", "quiet"}},
		{cmd: "logs", args: []string{"--num=7", "shop"}, app: "shop", vals: map[string]string{"num": "7"}},
		{cmd: "postgres:create", args: []string{"db", "-i", "img", "--image-version", "17"}, pos: []string{"db"}, vals: map[string]string{"image": "img", "image-version": "17"}},
		{cmd: "postgres:destroy", args: []string{"-f", "db"}, pos: []string{"db"}, bools: []string{"force"}},
		{cmd: "config:set", args: []string{"shop", "-x=1"}, app: "shop", pos: []string{"-x=1"}},
	}
	for _, tt := range tests {
		c, err := parseFor(t, tt.cmd, tt.args...)
		if err != nil {
			t.Errorf("%s %q: %v", tt.cmd, tt.args, err)
			continue
		}
		if c.App != tt.app || !reflect.DeepEqual(c.Args, tt.pos) && (len(c.Args) > 0 || len(tt.pos) > 0) {
			t.Errorf("%s %q: app %q args %q, want %q %q", tt.cmd, tt.args, c.App, c.Args, tt.app, tt.pos)
		}
		if got := c.Multi("env"); !reflect.DeepEqual(got, tt.multi) {
			t.Errorf("%s %q: env %q, want %q", tt.cmd, tt.args, got, tt.multi)
		}
		for k, v := range tt.vals {
			if got := c.Flag(k, "unset"); got != v {
				t.Errorf("%s %q: --%s = %q, want %q", tt.cmd, tt.args, k, got, v)
			}
		}
		for _, b := range tt.bools {
			if !c.Bool(b) {
				t.Errorf("%s %q: --%s not set", tt.cmd, tt.args, b)
			}
		}
	}
	for _, bad := range []struct {
		cmd  string
		args []string
		want string
	}{
		{"run", []string{"shop", "--env"}, ""}, // after the app, --env is the command's
		{"run", []string{"--env"}, "--env needs a value"},
		{"logs", []string{"shop", "-n"}, "--num needs a value"},
		{"logs", []string{"shop", "--tail=yes"}, "Unknown flag --tail=yes"},
		{"config:set", []string{"--global=1", "A=1"}, "Unknown flag --global=1"},
	} {
		_, err := parseFor(t, bad.cmd, bad.args...)
		if bad.want == "" {
			if err != nil {
				t.Errorf("%s %q: %v", bad.cmd, bad.args, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s %q: err %v, want %q", bad.cmd, bad.args, err, bad.want)
		}
	}
}

func TestPlugins(t *testing.T) {
	t.Parallel()
	runCases(t, []cliCase{
		{Args: []string{"plugin:install", "https://github.com/dokku/dokku-postgres.git", "postgres"},
			Stdout: "-----> Plugin postgres is built into Berth: nothing to install (postgres:* (PostgreSQL services built in))\n"},
		{Args: []string{"plugin:install", "https://github.com/dokku/dokku-letsencrypt.git/"}, Stdout: "-----> Plugin letsencrypt is built into Berth: nothing to install (letsencrypt:* (HTTPS with renewal built in))\n"},
		{Name: "name from the second argument", Args: []string{"plugin:install", "https://example.com/some.git", "redis"}, Stdout: "-----> Plugin redis is built into Berth: nothing to install (redis:* (Redis services built in))\n"},
		{Args: []string{"plugin:install", "https://github.com/dokku/dokku-mysql.git", "mysql"}, Code: 1, ErrLine: "Third-party plugins are not supported (yet): mysql has no built-in equivalent in Berth"},
		{Args: []string{"plugin:install"}, Code: 1, ErrLine: "Please specify a plugin to install"},
		{Args: []string{"plugin:installed", "postgres"}},
		{Args: []string{"plugin:installed", "dokku-redis"}},
		{Name: "not built in: exit 1, nothing printed", Args: []string{"plugin:installed", "mysql"}, Code: 1},
		{Args: []string{"plugin:installed"}, Code: 1, ErrLine: "Please specify a plugin name"},
		{Args: []string{"plugin:list"}, Stdout: "letsencrypt  built in: letsencrypt:* (HTTPS with renewal built in)\n" +
			"postgres  built in: postgres:* (PostgreSQL services built in)\n" +
			"redirect  built in: redirect:* (domain redirects built in)\n" +
			"redis  built in: redis:* (Redis services built in)\n"},
	})
}
