package cli

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/berthpaas/berth/internal/api"
)

func TestConfigRead(t *testing.T) {
	t.Parallel()
	vars := map[string]reply{"config.get": {Resp: api.ConfigVars{Vars: map[string]string{"LONG_KEY": "two words", "A": "it's"}}}}
	empty := map[string]reply{"config.get": {Resp: api.ConfigVars{}}}
	shown := "=====> shop env vars\nA:         it's\nLONG_KEY:  two words\n"
	runCases(t, []cliCase{
		{Args: []string{"config", "shop"}, Replies: vars, Ops: []string{"config.get"}, Reqs: map[string]string{"config.get": `{"app":"shop"}`}, Stdout: shown},
		{Args: []string{"config:show", "shop"}, Replies: vars, Ops: []string{"config.get"}, Stdout: shown},
		{Args: []string{"config:show", "--global"}, Replies: vars, Ops: []string{"config.get"}, Reqs: map[string]string{"config.get": `{"global":true}`},
			Stdout: "=====> global env vars\nA:         it's\nLONG_KEY:  two words\n"},
		{Args: []string{"config:show", "shop", "--merged"}, Replies: vars, Ops: []string{"config.get"}, Reqs: map[string]string{"config.get": `{"app":"shop","merged":true}`}, Stdout: shown},
		{Name: "show empty", Args: []string{"config:show", "shop"}, Replies: empty, Ops: []string{"config.get"}, Stdout: "=====> shop env vars\n"},
		{Name: "show quiet", Args: []string{"config:show", "shop", "--quiet"}, Replies: vars, Ops: []string{"config.get"}, Stdout: "A:         it's\nLONG_KEY:  two words\n"},
		{Args: []string{"config:show", "shop", "--shell"}, Replies: vars, Ops: []string{"config.get"}, Stdout: `A='it'\''s' LONG_KEY='two words' `},
		{Args: []string{"config:show", "shop", "--export"}, Replies: vars, Ops: []string{"config.get"}, Stdout: "export A='it'\\''s'\nexport LONG_KEY='two words'\n"},
		{Args: []string{"config:show", "shop", "--shell", "--export"}, Code: 1, ErrLine: "Only one of --shell and --export can be given"},
		{Args: []string{"config:show", "shop", "A"}, Code: 1, ErrLine: "Unexpected argument(s): A; see `berth help config:show`"},
		{Args: []string{"config:show", "gone"}, Replies: map[string]reply{"config.get": {Err: api.AppNotFound("gone")}}, Code: 20, Ops: []string{"config.get"}, ErrLine: "App gone does not exist"},

		{Args: []string{"config:get", "shop", "A"}, Replies: vars, Ops: []string{"config.get"}, Stdout: "it's\n"},
		{Args: []string{"config:get", "shop", "A", "--quoted"}, Replies: vars, Ops: []string{"config.get"}, Stdout: `'it'\''s'` + "\n"},
		{Args: []string{"config:get", "--merged", "shop", "A"}, Replies: vars, Ops: []string{"config.get"}, Reqs: map[string]string{"config.get": `{"app":"shop","merged":true}`}, Stdout: "it's\n"},
		{Name: "get missing key prints nothing", Args: []string{"config:get", "shop", "NOPE"}, Replies: vars, Code: 1, Ops: []string{"config.get"}},
		{Args: []string{"config:get", "shop"}, Code: 1, ErrLine: "Expected: key"},
		{Args: []string{"config:get", "shop", "A", "B"}, Code: 1, ErrLine: "Unexpected argument(s): B"},

		{Args: []string{"config:keys", "shop"}, Replies: vars, Ops: []string{"config.get"}, Stdout: "A\nLONG_KEY\n"},
		{Args: []string{"config:keys", "shop", "x"}, Code: 1, ErrLine: "Unexpected argument(s): x"},

		{Args: []string{"config:export", "shop"}, Replies: vars, Ops: []string{"config.get"}, Stdout: "export A='it'\\''s'\nexport LONG_KEY='two words'\n"},
		{Args: []string{"config:export", "--format", "envfile", "shop"}, Replies: vars, Ops: []string{"config.get"}, Stdout: "A=\"it's\"\nLONG_KEY=\"two words\"\n"},
		{Args: []string{"config:export", "--format", "shell", "shop"}, Replies: vars, Ops: []string{"config.get"}, Stdout: `A='it'\''s' LONG_KEY='two words' `},
		{Args: []string{"config:export", "--format", "docker-args-keys", "shop"}, Replies: vars, Ops: []string{"config.get"}, Stdout: "--env=A --env=LONG_KEY\n"},
		{Args: []string{"config:export", "--format", "json", "--global"}, Replies: vars, Ops: []string{"config.get"}, Reqs: map[string]string{"config.get": `{"global":true}`},
			Stdout: `{"A":"it's","LONG_KEY":"two words"}` + "\n"},
		{Name: "export json of nothing", Args: []string{"config:export", "--format", "json", "shop"}, Replies: empty, Ops: []string{"config.get"}, Stdout: "{}\n"},
		{Args: []string{"config:export", "--format", "yaml", "shop"}, Code: 1, ErrLine: "Unknown export format: yaml"},
	})
}

func TestConfigWrite(t *testing.T) {
	t.Parallel()
	upd := map[string]reply{"config.update": {}}
	runCases(t, []cliCase{
		{Args: []string{"config:set", "shop", "A=1", "B=x=y"}, Replies: upd, Ops: []string{"config.update"},
			Reqs:   map[string]string{"config.update": `{"app":"shop","set":{"A":"1","B":"x=y"}}`},
			Stdout: "-----> Setting config vars\n       A:  1\n       B:  x=y\n"},
		{Args: []string{"config:set", "--no-restart", "--global", "A=--x"}, Replies: upd, Ops: []string{"config.update"},
			Reqs: map[string]string{"config.update": `{"global":true,"set":{"A":"--x"},"no_restart":true}`}, Stdout: "-----> Setting config vars\n       A:  --x\n"},
		{Args: []string{"config:set", "--encoded", "shop", "A=aGkgdGhlcmU=", "EMPTY="}, Replies: upd, Ops: []string{"config.update"},
			Reqs: map[string]string{"config.update": `{"app":"shop","set":{"A":"hi there","EMPTY":""}}`}, Stdout: "-----> Setting config vars\n       A:      hi there\n       EMPTY:  \n"},
		{Name: "set quiet", Args: []string{"config:set", "shop", "A=1", "--quiet"}, Replies: upd, Ops: []string{"config.update"}},
		{Name: "set streams the redeploy after its own lines", Args: []string{"config:set", "shop", "A=1"},
			Replies: map[string]reply{"config.update": {Stdout: "-----> Deploying shop\n", Resp: api.ConfigChangeResult{Restarted: true}}}, Ops: []string{"config.update"},
			Stdout: "-----> Setting config vars\n       A:  1\n-----> Deploying shop\n"},
		{Name: "set on a missing app", Args: []string{"config:set", "gone", "A=1"}, Replies: map[string]reply{"config.update": {Err: api.AppNotFound("gone")}},
			Code: 20, Ops: []string{"config.update"}, ErrLine: "App gone does not exist"},
		{Name: "set refused: nothing printed before the refusal", Args: []string{"config:set", "blog", "A=1"},
			Replies: map[string]reply{"config.update": {Err: &api.Error{Code: api.CodeForbidden, Message: "key alice may not use blog"}}},
			Code:    1, Ops: []string{"config.update"}, ErrLine: "key alice may not use blog"},
		{Name: "unset refused: nothing printed", Args: []string{"config:unset", "blog", "A"},
			Replies: map[string]reply{"config.update": {Err: &api.Error{Code: api.CodeForbidden, Message: "key alice may not use blog"}}},
			Code:    1, Ops: []string{"config.update"}, ErrLine: "key alice may not use blog"},
		{Args: []string{"config:set", "shop"}, Code: 1, ErrLine: "At least one env pair must be given"},
		{Args: []string{"config:set", "shop", "A=1", "B"}, Code: 1, ErrLine: "Invalid env pair: B; expected KEY=VALUE"},
		{Args: []string{"config:set", "shop", "A=1", "1B=2"}, Code: 1, ErrLine: `Invalid key name: "1B"`},
		{Args: []string{"config:set", "shop", "A-B=2"}, Code: 1, ErrLine: `Invalid key name: "A-B"`},
		{Args: []string{"config:set", "--encoded", "shop", "A=%%%"}, Code: 1, ErrLine: "Invalid base64 value for key A"},
		{Name: "NUL byte", Args: []string{"config:set", "shop", "A=x\x00y"}, Code: 1, ErrLine: "Invalid value for A: contains a NUL byte"},
		{Name: "encoded invalid UTF-8", Args: []string{"config:set", "--encoded", "shop", "A=/w=="}, Code: 1, ErrLine: "Invalid value for A: not valid UTF-8"},

		{Args: []string{"config:unset", "shop", "A", "B"}, Replies: upd, Ops: []string{"config.update"},
			Reqs: map[string]string{"config.update": `{"app":"shop","unset":["A","B"]}`}, Stdout: "-----> Unsetting A\n-----> Unsetting B\n"},
		{Args: []string{"config:unset", "--no-restart", "--global", "A"}, Replies: upd, Ops: []string{"config.update"},
			Reqs: map[string]string{"config.update": `{"global":true,"unset":["A"],"no_restart":true}`}, Stdout: "-----> Unsetting A\n"},
		{Args: []string{"config:unset", "shop"}, Code: 1, ErrLine: "At least one key must be given"},
		{Args: []string{"config:unset", "shop", "1A"}, Code: 1, ErrLine: `Invalid key name: "1A"`},
		// Bad input prints no progress for the keys before it: nothing is unset.
		{Args: []string{"config:unset", "shop", "A", "1B"}, Code: 1, ErrLine: `Invalid key name: "1B"`},

		{Args: []string{"config:clear", "shop"}, Replies: upd, Ops: []string{"config.update"},
			Reqs: map[string]string{"config.update": `{"app":"shop","replace":true}`}, Stdout: "-----> Clearing config vars\n"},
		{Args: []string{"config:clear", "shop", "A"}, Code: 1, ErrLine: "Unexpected argument(s): A"},
	})
}

func TestConfigImport(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "env")
	if err := os.WriteFile(file, []byte("# app\nexport A=1\nB='$HOME x'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	upd := map[string]reply{"config.update": {}}
	runCases(t, []cliCase{
		{Name: "file", Args: []string{"config:import", "shop", file}, Replies: upd, Ops: []string{"config.update"},
			Reqs:   map[string]string{"config.update": `{"app":"shop","set":{"A":"1","B":"$HOME x"}}`},
			Stdout: "-----> Setting config vars\n       A:  1\n       B:  $HOME x\n"},
		{Name: "stdin", Args: []string{"config:import", "--no-restart", "shop", "-"}, Stdin: "C=\"a\\nb\"\n", Replies: upd, Ops: []string{"config.update"},
			Reqs: map[string]string{"config.update": `{"app":"shop","set":{"C":"a\nb"},"no_restart":true}`}, Stdout: "-----> Setting config vars\n       C:  a\nb\n"},
		{Name: "json", Args: []string{"config:import", "--format", "json", "--global", "-"}, Stdin: `{"A":"1"}`, Replies: upd, Ops: []string{"config.update"},
			Reqs: map[string]string{"config.update": `{"global":true,"set":{"A":"1"}}`}, Stdout: "-----> Setting config vars\n       A:  1\n"},
		{Name: "replace reports what went", Args: []string{"config:import", "--replace", "shop", "-"}, Stdin: "A=1\n",
			Replies: map[string]reply{"config.update": {Resp: api.ConfigChangeResult{Unset: []string{"OLD", "OLDER"}}}}, Ops: []string{"config.update"},
			Reqs: map[string]string{"config.update": `{"app":"shop","set":{"A":"1"},"replace":true}`}, Stdout: "-----> Setting config vars\n       A:  1\n-----> Unset OLD, OLDER\n"},
		{Name: "replace with an empty file clears", Args: []string{"config:import", "--replace", "shop", "-"}, Stdin: "# nothing\n", Replies: upd, Ops: []string{"config.update"},
			Reqs: map[string]string{"config.update": `{"app":"shop","replace":true}`}},
		{Name: "empty file", Args: []string{"config:import", "shop", "-"}, Stdin: "\n", Code: 1, ErrLine: "No config vars found in -"},
		{Name: "malformed envfile", Args: []string{"config:import", "shop", "-"}, Stdin: "A=1\nB='open\n", Code: 1, ErrLine: "Invalid envfile at line 2"},
		{Name: "malformed json", Args: []string{"config:import", "--format", "json", "shop", "-"}, Stdin: `{"A":1}`, Code: 1, ErrLine: "Invalid JSON: value of A is not a string"},
		{Name: "bad key in json", Args: []string{"config:import", "--format", "json", "shop", "-"}, Stdin: `{"1A":"x"}`, Code: 1, ErrLine: `Invalid key name: "1A"`},
		{Args: []string{"config:import", "--format", "yaml", "shop", "-"}, Code: 1, ErrLine: "Invalid import format: yaml; use envfile or json"},
		{Args: []string{"config:import", "shop"}, Code: 1, ErrLine: "Please specify a file to import, or - for stdin"},
		{Args: []string{"config:import", "shop", "a", "b"}, Code: 1, ErrLine: "Unexpected argument(s): b"},
		{Name: "missing file", Args: []string{"config:import", "shop", filepath.Join(dir, "none")}, Code: 1, ErrLine: "Cannot read " + filepath.Join(dir, "none")},
	})
}
