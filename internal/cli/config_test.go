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
		{args: []string{"config", "shop"}, replies: vars, ops: []string{"config.get"}, reqs: map[string]string{"config.get": `{"app":"shop"}`}, stdout: shown},
		{args: []string{"config:show", "shop"}, replies: vars, ops: []string{"config.get"}, stdout: shown},
		{args: []string{"config:show", "--global"}, replies: vars, ops: []string{"config.get"}, reqs: map[string]string{"config.get": `{"global":true}`},
			stdout: "=====> global env vars\nA:         it's\nLONG_KEY:  two words\n"},
		{args: []string{"config:show", "shop", "--merged"}, replies: vars, ops: []string{"config.get"}, reqs: map[string]string{"config.get": `{"app":"shop","merged":true}`}, stdout: shown},
		{name: "show empty", args: []string{"config:show", "shop"}, replies: empty, ops: []string{"config.get"}, stdout: "=====> shop env vars\n"},
		{name: "show quiet", args: []string{"config:show", "shop", "--quiet"}, replies: vars, ops: []string{"config.get"}, stdout: "A:         it's\nLONG_KEY:  two words\n"},
		{args: []string{"config:show", "shop", "--shell"}, replies: vars, ops: []string{"config.get"}, stdout: `A='it'\''s' LONG_KEY='two words' `},
		{args: []string{"config:show", "shop", "--export"}, replies: vars, ops: []string{"config.get"}, stdout: "export A='it'\\''s'\nexport LONG_KEY='two words'\n"},
		{args: []string{"config:show", "shop", "--shell", "--export"}, code: 1, errLine: "Only one of --shell and --export can be given"},
		{args: []string{"config:show", "shop", "A"}, code: 1, errLine: "Unexpected argument(s): A; see `berth help config:show`"},
		{args: []string{"config:show", "gone"}, replies: map[string]reply{"config.get": {Err: api.AppNotFound("gone")}}, code: 20, ops: []string{"config.get"}, errLine: "App gone does not exist"},

		{args: []string{"config:get", "shop", "A"}, replies: vars, ops: []string{"config.get"}, stdout: "it's\n"},
		{args: []string{"config:get", "shop", "A", "--quoted"}, replies: vars, ops: []string{"config.get"}, stdout: `'it'\''s'` + "\n"},
		{args: []string{"config:get", "--merged", "shop", "A"}, replies: vars, ops: []string{"config.get"}, reqs: map[string]string{"config.get": `{"app":"shop","merged":true}`}, stdout: "it's\n"},
		{name: "get missing key prints nothing", args: []string{"config:get", "shop", "NOPE"}, replies: vars, code: 1, ops: []string{"config.get"}},
		{args: []string{"config:get", "shop"}, code: 1, errLine: "Expected: key"},
		{args: []string{"config:get", "shop", "A", "B"}, code: 1, errLine: "Unexpected argument(s): B"},

		{args: []string{"config:keys", "shop"}, replies: vars, ops: []string{"config.get"}, stdout: "A\nLONG_KEY\n"},
		{args: []string{"config:keys", "shop", "x"}, code: 1, errLine: "Unexpected argument(s): x"},

		{args: []string{"config:export", "shop"}, replies: vars, ops: []string{"config.get"}, stdout: "export A='it'\\''s'\nexport LONG_KEY='two words'\n"},
		{args: []string{"config:export", "--format", "envfile", "shop"}, replies: vars, ops: []string{"config.get"}, stdout: "A=\"it's\"\nLONG_KEY=\"two words\"\n"},
		{args: []string{"config:export", "--format", "shell", "shop"}, replies: vars, ops: []string{"config.get"}, stdout: `A='it'\''s' LONG_KEY='two words' `},
		{args: []string{"config:export", "--format", "docker-args-keys", "shop"}, replies: vars, ops: []string{"config.get"}, stdout: "--env=A --env=LONG_KEY\n"},
		{args: []string{"config:export", "--format", "json", "--global"}, replies: vars, ops: []string{"config.get"}, reqs: map[string]string{"config.get": `{"global":true}`},
			stdout: `{"A":"it's","LONG_KEY":"two words"}` + "\n"},
		{name: "export json of nothing", args: []string{"config:export", "--format", "json", "shop"}, replies: empty, ops: []string{"config.get"}, stdout: "{}\n"},
		{args: []string{"config:export", "--format", "yaml", "shop"}, code: 1, errLine: "Unknown export format: yaml"},
	})
}

func TestConfigWrite(t *testing.T) {
	t.Parallel()
	upd := map[string]reply{"config.update": {}}
	runCases(t, []cliCase{
		{args: []string{"config:set", "shop", "A=1", "B=x=y"}, replies: upd, ops: []string{"config.update"},
			reqs:   map[string]string{"config.update": `{"app":"shop","set":{"A":"1","B":"x=y"}}`},
			stdout: "-----> Setting config vars\n       A:  1\n       B:  x=y\n"},
		{args: []string{"config:set", "--no-restart", "--global", "A=--x"}, replies: upd, ops: []string{"config.update"},
			reqs: map[string]string{"config.update": `{"global":true,"set":{"A":"--x"},"no_restart":true}`}, stdout: "-----> Setting config vars\n       A:  --x\n"},
		{args: []string{"config:set", "--encoded", "shop", "A=aGkgdGhlcmU=", "EMPTY="}, replies: upd, ops: []string{"config.update"},
			reqs: map[string]string{"config.update": `{"app":"shop","set":{"A":"hi there","EMPTY":""}}`}, stdout: "-----> Setting config vars\n       A:      hi there\n       EMPTY:  \n"},
		{name: "set quiet", args: []string{"config:set", "shop", "A=1", "--quiet"}, replies: upd, ops: []string{"config.update"}},
		{name: "set streams the redeploy after its own lines", args: []string{"config:set", "shop", "A=1"},
			replies: map[string]reply{"config.update": {Stdout: "-----> Deploying shop\n", Resp: api.ConfigChangeResult{Restarted: true}}}, ops: []string{"config.update"},
			stdout: "-----> Setting config vars\n       A:  1\n-----> Deploying shop\n"},
		{name: "set on a missing app", args: []string{"config:set", "gone", "A=1"}, replies: map[string]reply{"config.update": {Err: api.AppNotFound("gone")}},
			code: 20, ops: []string{"config.update"}, stdout: "-----> Setting config vars\n       A:  1\n", errLine: "App gone does not exist"},
		{args: []string{"config:set", "shop"}, code: 1, errLine: "At least one env pair must be given"},
		{args: []string{"config:set", "shop", "A=1", "B"}, code: 1, errLine: "Invalid env pair: B; expected KEY=VALUE"},
		{args: []string{"config:set", "shop", "A=1", "1B=2"}, code: 1, errLine: `Invalid key name: "1B"`},
		{args: []string{"config:set", "shop", "A-B=2"}, code: 1, errLine: `Invalid key name: "A-B"`},
		{args: []string{"config:set", "--encoded", "shop", "A=%%%"}, code: 1, errLine: "Invalid base64 value for key A"},
		{name: "NUL byte", args: []string{"config:set", "shop", "A=x\x00y"}, code: 1, errLine: "Invalid value for A: contains a NUL byte"},
		{name: "encoded invalid UTF-8", args: []string{"config:set", "--encoded", "shop", "A=/w=="}, code: 1, errLine: "Invalid value for A: not valid UTF-8"},

		{args: []string{"config:unset", "shop", "A", "B"}, replies: upd, ops: []string{"config.update"},
			reqs: map[string]string{"config.update": `{"app":"shop","unset":["A","B"]}`}, stdout: "-----> Unsetting A\n-----> Unsetting B\n"},
		{args: []string{"config:unset", "--no-restart", "--global", "A"}, replies: upd, ops: []string{"config.update"},
			reqs: map[string]string{"config.update": `{"global":true,"unset":["A"],"no_restart":true}`}, stdout: "-----> Unsetting A\n"},
		{args: []string{"config:unset", "shop"}, code: 1, errLine: "At least one key must be given"},
		{args: []string{"config:unset", "shop", "1A"}, code: 1, errLine: `Invalid key name: "1A"`},
		// Bad input prints no progress for the keys before it: nothing is unset.
		{args: []string{"config:unset", "shop", "A", "1B"}, code: 1, errLine: `Invalid key name: "1B"`},

		{args: []string{"config:clear", "shop"}, replies: upd, ops: []string{"config.update"},
			reqs: map[string]string{"config.update": `{"app":"shop","replace":true}`}, stdout: "-----> Clearing config vars\n"},
		{args: []string{"config:clear", "shop", "A"}, code: 1, errLine: "Unexpected argument(s): A"},
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
		{name: "file", args: []string{"config:import", "shop", file}, replies: upd, ops: []string{"config.update"},
			reqs:   map[string]string{"config.update": `{"app":"shop","set":{"A":"1","B":"$HOME x"}}`},
			stdout: "-----> Setting config vars\n       A:  1\n       B:  $HOME x\n"},
		{name: "stdin", args: []string{"config:import", "--no-restart", "shop", "-"}, stdin: "C=\"a\\nb\"\n", replies: upd, ops: []string{"config.update"},
			reqs: map[string]string{"config.update": `{"app":"shop","set":{"C":"a\nb"},"no_restart":true}`}, stdout: "-----> Setting config vars\n       C:  a\nb\n"},
		{name: "json", args: []string{"config:import", "--format", "json", "--global", "-"}, stdin: `{"A":"1"}`, replies: upd, ops: []string{"config.update"},
			reqs: map[string]string{"config.update": `{"global":true,"set":{"A":"1"}}`}, stdout: "-----> Setting config vars\n       A:  1\n"},
		{name: "replace reports what went", args: []string{"config:import", "--replace", "shop", "-"}, stdin: "A=1\n",
			replies: map[string]reply{"config.update": {Resp: api.ConfigChangeResult{Unset: []string{"OLD", "OLDER"}}}}, ops: []string{"config.update"},
			reqs: map[string]string{"config.update": `{"app":"shop","set":{"A":"1"},"replace":true}`}, stdout: "-----> Setting config vars\n       A:  1\n-----> Unset OLD, OLDER\n"},
		{name: "replace with an empty file clears", args: []string{"config:import", "--replace", "shop", "-"}, stdin: "# nothing\n", replies: upd, ops: []string{"config.update"},
			reqs: map[string]string{"config.update": `{"app":"shop","replace":true}`}},
		{name: "empty file", args: []string{"config:import", "shop", "-"}, stdin: "\n", code: 1, errLine: "No config vars found in -"},
		{name: "malformed envfile", args: []string{"config:import", "shop", "-"}, stdin: "A=1\nB='open\n", code: 1, errLine: "Invalid envfile at line 2"},
		{name: "malformed json", args: []string{"config:import", "--format", "json", "shop", "-"}, stdin: `{"A":1}`, code: 1, errLine: "Invalid JSON: value of A is not a string"},
		{name: "bad key in json", args: []string{"config:import", "--format", "json", "shop", "-"}, stdin: `{"1A":"x"}`, code: 1, errLine: `Invalid key name: "1A"`},
		{args: []string{"config:import", "--format", "yaml", "shop", "-"}, code: 1, errLine: "Invalid import format: yaml; use envfile or json"},
		{args: []string{"config:import", "shop"}, code: 1, errLine: "Please specify a file to import, or - for stdin"},
		{args: []string{"config:import", "shop", "a", "b"}, code: 1, errLine: "Unexpected argument(s): b"},
		{name: "missing file", args: []string{"config:import", "shop", filepath.Join(dir, "none")}, code: 1, errLine: "Cannot read " + filepath.Join(dir, "none")},
	})
}
