package appfile

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func intp(v int) *int          { return &v }
func strp(s string) *string    { return &s }
func lines(l ...string) string { return strings.Join(l, "\n") }

func TestParseAppJSON(t *testing.T) {
	in := lines(
		`{`,
		`  "name": "Small Sharp Tool",`,
		`  "addons": ["openredis"],`,
		`  "scripts": {`,
		`    "dokku": {"predeploy": "/code/manage.py migrate --noinput", "postdeploy": "curl -X POST https://hooks.example.com/ok"},`,
		`    "postdeploy": "./seed"`,
		`  },`,
		`  "formation": {"web": {"quantity": 2, "size": "standard-1X"}, "worker": {"quantity": 0}, "clock": {"max_parallel": 1}, "beat": null},`,
		`  "healthchecks": {`,
		`    "web": [`,
		`      {"type": "startup", "name": "web check", "description": "ignored", "path": "/health", "content": "ok",`,
		`       "attempts": 4, "timeout": 6, "wait": 0, "initialDelay": 2, "port": 5000, "scheme": "HTTPS",`,
		`       "httpHeaders": [{"name": "Host", "value": "www.example.com"}]},`,
		`      {"type": "liveness", "command": ["/bin/check", "--fast"], "warn": true},`,
		`      {"type": "readiness", "command": "test -f /tmp/ready"},`,
		`      {"listening": true, "port": 8080},`,
		`      {"uptime": 15}`,
		`    ],`,
		`    "worker": []`,
		`  },`,
		`  "env": {`,
		`    "SIMPLE_VAR": "default_value",`,
		`    "EMPTY": "",`,
		`    "SECRET_KEY": {"description": "signing", "generator": "secret"},`,
		`    "DATABASE_URL": {"description": "db", "required": true},`,
		`    "OPTIONAL_VAR": {"value": "d", "required": false},`,
		`    "SYNC_VAR": {"value": "s", "sync": true},`,
		`    "NULL_VAR": null`,
		`  },`,
		`  "cron": [`,
		`    {"command": "echo 'hello'", "schedule": "0 1 * * *", "concurrency_policy": "forbid"},`,
		`    {"command": "./report", "schedule": " @daily "}`,
		`  ]`,
		`}`,
	)
	got, err := ParseAppJSON([]byte(in))
	if err != nil {
		t.Fatalf("ParseAppJSON: %v", err)
	}
	want := AppJSON{
		Scripts: Scripts{
			Dokku:      DokkuScripts{Predeploy: "/code/manage.py migrate --noinput", Postdeploy: "curl -X POST https://hooks.example.com/ok"},
			Postdeploy: "./seed",
		},
		Formation: map[string]Formation{
			"web":    {Quantity: intp(2), Size: "standard-1X"},
			"worker": {Quantity: intp(0)},
			"clock":  {},
			"beat":   {},
		},
		Healthchecks: map[string][]Healthcheck{
			"web": {
				{Type: "startup", Name: "web check", Path: "/health", Content: "ok", Attempts: intp(4), Timeout: intp(6),
					Wait: intp(0), InitialDelay: intp(2), Port: 5000, Scheme: "https",
					HTTPHeaders: []HTTPHeader{{"Host", "www.example.com"}}},
				{Type: "liveness", Command: []string{"/bin/check", "--fast"}, Warn: true},
				{Type: "readiness", Command: []string{"/bin/sh", "-c", "test -f /tmp/ready"}},
				{Listening: true, Port: 8080},
				{Uptime: 15},
			},
			"worker": nil,
		},
		Env: map[string]EnvSpec{
			"SIMPLE_VAR":   {Value: strp("default_value"), Required: true},
			"EMPTY":        {Value: strp(""), Required: true},
			"SECRET_KEY":   {Description: "signing", Generator: "secret", Required: true},
			"DATABASE_URL": {Description: "db", Required: true},
			"OPTIONAL_VAR": {Value: strp("d"), Required: false},
			"SYNC_VAR":     {Value: strp("s"), Required: true, Sync: true},
		},
		Cron: []Cron{
			{Command: "echo 'hello'", Schedule: "0 1 * * *", ConcurrencyPolicy: "forbid"},
			{Command: "./report", Schedule: "@daily"},
		},
	}
	if !reflect.DeepEqual(got.Scripts, want.Scripts) {
		t.Errorf("Scripts = %#v\nwant %#v", got.Scripts, want.Scripts)
	}
	if !reflect.DeepEqual(got.Formation, want.Formation) {
		t.Errorf("Formation = %#v\nwant %#v", got.Formation, want.Formation)
	}
	if !reflect.DeepEqual(got.Healthchecks, want.Healthchecks) {
		t.Errorf("Healthchecks = %#v\nwant %#v", got.Healthchecks, want.Healthchecks)
	}
	if !reflect.DeepEqual(got.Env, want.Env) {
		t.Errorf("Env = %#v\nwant %#v", got.Env, want.Env)
	}
	if !reflect.DeepEqual(got.Cron, want.Cron) {
		t.Errorf("Cron = %#v\nwant %#v", got.Cron, want.Cron)
	}
}

func TestParseAppJSONSmall(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want AppJSON
	}{
		{"empty object", `{}`, AppJSON{}},
		{"seed", "{\n  \"scripts\": {\n    \"dokku\": {\n      \"predeploy\": \"/code/manage.py migrate --noinput\"\n    }\n  }\n}\n",
			AppJSON{Scripts: Scripts{Dokku: DokkuScripts{Predeploy: "/code/manage.py migrate --noinput"}}}},
		{"bom and crlf", "\xef\xbb\xbf{\r\n\"scripts\": {\"postdeploy\": \"x\"}\r\n}\r\n", AppJSON{Scripts: Scripts{Postdeploy: "x"}}},
		{"nulls are absent", `{"scripts": null, "formation": null, "healthchecks": null, "env": null, "cron": null}`, AppJSON{}},
		{"unknown keys anywhere", `{"name": 1, "scripts": {"dokku": {"other": 2}, "test": "x"}, "buildpacks": [{"url": "heroku/python"}]}`, AppJSON{}},
		{"keys ignore case", `{"Scripts": {"Dokku": {"PreDeploy": "x"}}}`, AppJSON{Scripts: Scripts{Dokku: DokkuScripts{Predeploy: "x"}}}},
		{"blank script is none", `{"scripts": {"postdeploy": "  "}}`, AppJSON{}},
		{"multi-line script", `{"scripts": {"postdeploy": "a\nb"}}`, AppJSON{Scripts: Scripts{Postdeploy: "a\nb"}}},
		{"large quantity", `{"formation": {"web": {"quantity": 2147483647}}}`, AppJSON{Formation: map[string]Formation{"web": {Quantity: intp(2147483647)}}}},
		{"duplicate unknown keys are fine", `{"name": 1, "name": 2}`, AppJSON{}},
		{"schedules", `{"cron": [{"command": "x", "schedule": "*/5 0-23/2 1,15 JAN-jun mon-FRI"}, {"command": "x", "schedule": "@every 1h30m"}, {"command": "x", "schedule": "0 0 ? * 0"}]}`,
			AppJSON{Cron: []Cron{{Command: "x", Schedule: "*/5 0-23/2 1,15 JAN-jun mon-FRI"}, {Command: "x", Schedule: "@every 1h30m"}, {Command: "x", Schedule: "0 0 ? * 0"}}}},
		{"content with newline", `{"healthchecks": {"web": [{"path": "/", "content": "a\nb"}]}}`,
			AppJSON{Healthchecks: map[string][]Healthcheck{"web": {{Path: "/", Content: "a\nb"}}}}},
		{"empty command list is no command", `{"healthchecks": {"web": [{"command": []}]}}`,
			AppJSON{Healthchecks: map[string][]Healthcheck{"web": {{}}}}},
		{"empty path is none", `{"healthchecks": {"web": [{"path": ""}]}}`,
			AppJSON{Healthchecks: map[string][]Healthcheck{"web": {{}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseAppJSON([]byte(tt.in))
			if err != nil {
				t.Fatalf("ParseAppJSON: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestParseAppJSONErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "app.json: file is empty; write {} for an app.json without settings, or remove the file"},
		{"blank", " \r\n\t\n", "app.json: file is empty; write {} for an app.json without settings, or remove the file"},
		{"bom only", "\xef\xbb\xbf", "app.json: file is empty; write {} for an app.json without settings, or remove the file"},
		{"syntax", "{\n  \"scripts\": {\n    \"postdeploy\": \"x\",\n  }\n}",
			`app.json line 4 col 3: invalid JSON: invalid character '}' looking for beginning of object key string`},
		{"missing value", `{"a":}`, `app.json line 1 col 6: invalid JSON: invalid character '}' looking for beginning of value`},
		{"truncated", "{\"a\": [1,\n2", `app.json line 2 col 2: invalid JSON: unexpected end of JSON input`},
		{"trailing data", `{} {}`, `app.json line 1 col 4: invalid JSON: invalid character '{' after top-level value`},
		{"single quotes", `{'a': 1}`, `app.json line 1 col 2: invalid JSON: invalid character '\'' looking for beginning of object key string`},
		{"unterminated block comment", "{\n  /* no\n}", `app.json line 2 col 3: invalid JSON: invalid character '/' looking for beginning of object key string`},
		{"error after a comment", "{\n  // fine\n  \"x\": 1 2\n}", `app.json line 3 col 10: invalid JSON: invalid character '2' after object key:value pair`},
		{"column counts characters", `{"é": "ü", "b": nul}`, `app.json line 1 col 20: invalid JSON: invalid character '}' in literal null (expecting 'l')`},
		{"top level list", `  []`, `app.json line 1 col 3: the top level must be an object ({...}), not a list`},
		{"top level string", `"x"`, `app.json line 1 col 1: the top level must be an object ({...}), not a string`},
		{"duplicate known key", "{\"formation\": {},\n \"Formation\": {}}", `app.json line 2 col 2: formation is given twice (first at line 1 col 2)`},

		{"scripts type", `{"scripts": []}`, `app.json line 1 col 13: scripts must be an object, not a list`},
		{"dokku type", `{"scripts": {"dokku": "x"}}`, `app.json line 1 col 23: scripts.dokku must be an object, not a string`},
		{"predeploy type", "{\n  \"scripts\": {\"dokku\": {\"predeploy\": 5}}\n}", `app.json line 2 col 38: scripts.dokku.predeploy must be a string, not a number`},
		{"postdeploy type", `{"scripts": {"postdeploy": true}}`, `app.json line 1 col 28: scripts.postdeploy must be a string, not a boolean`},
		{"script nul", `{"scripts": {"postdeploy": "a\u0000b"}}`, `app.json line 1 col 28: scripts.postdeploy contains a NUL byte`},

		{"formation type", `{"formation": [1]}`, `app.json line 1 col 15: formation must be an object, not a list`},
		{"formation entry type", `{"formation": {"web": 2}}`, `app.json line 1 col 23: formation.web must be an object, not a number`},
		{"negative quantity", "{\n  \"formation\": {\n    \"web\": {\n     \"quantity\": -1\n    }\n  }\n}",
			`app.json line 4 col 18: formation.web.quantity must be a non-negative integer`},
		{"fractional quantity", `{"formation": {"web": {"quantity": 1.5}}}`, `app.json line 1 col 36: formation.web.quantity must be a non-negative integer`},
		{"float-looking quantity", `{"formation": {"web": {"quantity": 2.0}}}`, `app.json line 1 col 36: formation.web.quantity must be a non-negative integer`},
		{"exponent quantity", `{"formation": {"web": {"quantity": 1e2}}}`, `app.json line 1 col 36: formation.web.quantity must be a non-negative integer`},
		{"string quantity", `{"formation": {"web": {"quantity": "2"}}}`, `app.json line 1 col 36: formation.web.quantity must be a non-negative integer`},
		{"huge quantity", `{"formation": {"web": {"quantity": 2147483648}}}`, `app.json line 1 col 36: formation.web.quantity is too large (at most 2147483647)`},
		{"overflowing quantity", `{"formation": {"web": {"quantity": 99999999999999999999999}}}`, `app.json line 1 col 36: formation.web.quantity is too large (at most 2147483647)`},
		{"huge negative quantity", `{"formation": {"web": {"quantity": -99999999999999999999999}}}`, `app.json line 1 col 36: formation.web.quantity must be a non-negative integer`},
		{"formation bad type", "{\"formation\": {\n  \"Web_1\": {\"quantity\": 1}}}",
			`app.json line 2 col 3: formation: invalid process type "Web_1": use only lower-case letters, digits and '-' (a DNS label, such as "web" or "worker-2")`},
		{"formation duplicate type", `{"formation": {"web": {}, "web": {}}}`, `app.json line 1 col 27: formation: process type "web" is given twice (first at line 1 col 16)`},
		{"formation size type", `{"formation": {"web": {"size": 1}}}`, `app.json line 1 col 32: formation.web.size must be a string, not a number`},

		{"healthchecks type", `{"healthchecks": []}`, `app.json line 1 col 18: healthchecks must be an object, not a list`},
		{"healthchecks list type", `{"healthchecks": {"web": {"path": "/"}}}`, `app.json line 1 col 26: healthchecks.web must be a list, not an object`},
		{"healthchecks bad type", `{"healthchecks": {"web_1": []}}`, `app.json line 1 col 19: healthchecks: invalid process type "web_1": use only lower-case letters, digits and '-' (a DNS label, such as "web" or "worker-2")`},
		{"check type", `{"healthchecks": {"web": ["x"]}}`, `app.json line 1 col 27: healthchecks.web[0] must be an object, not a string`},
		{"check kind", `{"healthchecks": {"web": [{}, {"type": "boot"}]}}`, `app.json line 1 col 40: healthchecks.web[1].type must be "startup", "liveness" or "readiness", not "boot"`},
		{"path without slash", `{"healthchecks": {"web": [{"path": "health"}]}}`, `app.json line 1 col 36: healthchecks.web[0].path must start with "/", not "health"`},
		{"path control", `{"healthchecks": {"web": [{"path": "/a\nb"}]}}`, `app.json line 1 col 36: healthchecks.web[0].path contains the control character U+000A`},
		{"negative attempts", `{"healthchecks": {"web": [{"attempts": -1}]}}`, `app.json line 1 col 40: healthchecks.web[0].attempts must be a non-negative integer`},
		{"string timeout", `{"healthchecks": {"web": [{"timeout": "5"}]}}`, `app.json line 1 col 39: healthchecks.web[0].timeout must be a non-negative integer`},
		{"float wait", `{"healthchecks": {"web": [{"wait": 0.5}]}}`, `app.json line 1 col 36: healthchecks.web[0].wait must be a non-negative integer`},
		{"negative initialDelay", `{"healthchecks": {"web": [{"initialDelay": -3}]}}`, `app.json line 1 col 44: healthchecks.web[0].initialDelay must be a non-negative integer`},
		{"negative uptime", `{"healthchecks": {"web": [{"uptime": -3}]}}`, `app.json line 1 col 38: healthchecks.web[0].uptime must be a non-negative integer`},
		{"port too large", `{"healthchecks": {"web": [{"port": 65536}]}}`, `app.json line 1 col 36: healthchecks.web[0].port must be a port number (1 to 65535)`},
		{"bad scheme", `{"healthchecks": {"web": [{"path": "/", "scheme": "ftp"}]}}`, `app.json line 1 col 51: healthchecks.web[0].scheme must be "http" or "https", not "ftp"`},
		{"listening string", `{"healthchecks": {"web": [{"listening": "true"}]}}`, `app.json line 1 col 41: healthchecks.web[0].listening must be true or false, not a string`},
		{"warn number", `{"healthchecks": {"web": [{"warn": 1}]}}`, `app.json line 1 col 36: healthchecks.web[0].warn must be true or false, not a number`},
		{"path and command", `{"healthchecks": {"web": [{"path": "/", "command": ["x"]}]}}`, `app.json line 1 col 27: healthchecks.web[0] sets both "path" and "command"; a check does one thing: split it into two checks`},
		{"path and uptime", `{"healthchecks": {"web": [{"path": "/", "uptime": 3}]}}`, `app.json line 1 col 27: healthchecks.web[0] sets both "path" and "uptime"; a check does one thing: split it into two checks`},
		{"command and listening", `{"healthchecks": {"web": [{"command": "x", "listening": true}]}}`, `app.json line 1 col 27: healthchecks.web[0] sets both "command" and "listening"; a check does one thing: split it into two checks`},
		{"uptime and listening", `{"healthchecks": {"web": [{"uptime": 1, "listening": true}]}}`, `app.json line 1 col 27: healthchecks.web[0] sets both "uptime" and "listening"; a check does one thing: split it into two checks`},
		{"content without path", `{"healthchecks": {"web": [{"content": "ok"}]}}`, `app.json line 1 col 39: healthchecks.web[0].content is only used by path checks; set healthchecks.web[0].path too`},
		{"headers without path", `{"healthchecks": {"web": [{"httpHeaders": []}]}}`, `app.json line 1 col 43: healthchecks.web[0].httpHeaders is only used by path checks; set healthchecks.web[0].path too`},
		{"headers type", `{"healthchecks": {"web": [{"path": "/", "httpHeaders": {"Host": "x"}}]}}`, `app.json line 1 col 56: healthchecks.web[0].httpHeaders must be a list, not an object`},
		{"header type", `{"healthchecks": {"web": [{"path": "/", "httpHeaders": ["Host: x"]}]}}`, `app.json line 1 col 57: healthchecks.web[0].httpHeaders[0] must be an object, not a string`},
		{"header without name", `{"healthchecks": {"web": [{"path": "/", "httpHeaders": [{"value": "x"}]}]}}`, `app.json line 1 col 57: healthchecks.web[0].httpHeaders[0].name must be an HTTP header name such as "Host", not ""`},
		{"header bad name", `{"healthchecks": {"web": [{"path": "/", "httpHeaders": [{"name": "Ho st"}]}]}}`, `app.json line 1 col 57: healthchecks.web[0].httpHeaders[0].name must be an HTTP header name such as "Host", not "Ho st"`},
		{"header value injection", `{"healthchecks": {"web": [{"path": "/", "httpHeaders": [{"name": "X", "value": "a\r\nB: c"}]}]}}`, `app.json line 1 col 80: healthchecks.web[0].httpHeaders[0].value contains the control character U+000D`},
		{"command type", `{"healthchecks": {"web": [{"command": 5}]}}`, `app.json line 1 col 39: healthchecks.web[0].command must be a list of strings or a string, not a number`},
		{"command element type", `{"healthchecks": {"web": [{"command": ["a", 1]}]}}`, `app.json line 1 col 45: healthchecks.web[0].command[1] must be a string, not a number`},
		{"command empty program", `{"healthchecks": {"web": [{"command": [" ", "x"]}]}}`, `app.json line 1 col 40: healthchecks.web[0].command[0] (the program) must not be empty`},
		{"command empty string", `{"healthchecks": {"web": [{"command": " "}]}}`, `app.json line 1 col 39: healthchecks.web[0].command must not be empty`},
		{"check duplicate field", `{"healthchecks": {"web": [{"path": "/a", "Path": "/b"}]}}`, `app.json line 1 col 42: healthchecks.web[0].path is given twice (first at line 1 col 28)`},

		{"env type", `{"env": ["A"]}`, `app.json line 1 col 9: env must be an object, not a list`},
		{"env bad name", `{"env": {"1A": "x"}}`, `app.json line 1 col 10: env: invalid variable name "1A": names must match [A-Za-z_][A-Za-z0-9_]*`},
		{"env dash name", `{"env": {"A-B": "x"}}`, `app.json line 1 col 10: env: invalid variable name "A-B": names must match [A-Za-z_][A-Za-z0-9_]*`},
		{"env duplicate", `{"env": {"A": "x", "A": "y"}}`, `app.json line 1 col 20: env: A is given twice (first at line 1 col 10)`},
		{"env number", `{"env": {"PORT": 5000}}`, `app.json line 1 col 18: env.PORT must be a string or an object, not a number`},
		{"env value type", `{"env": {"A": {"value": 1}}}`, `app.json line 1 col 25: env.A.value must be a string, not a number`},
		{"env nul", `{"env": {"A": "a\u0000"}}`, `app.json line 1 col 15: env.A contains a NUL byte`},
		{"env required type", `{"env": {"A": {"required": "yes"}}}`, `app.json line 1 col 28: env.A.required must be true or false, not a string`},
		{"env generator", `{"env": {"A": {"generator": "uuid"}}}`, `app.json line 1 col 29: env.A.generator must be "secret" (the only generator), not "uuid"`},
		{"env value and generator", `{"env": {"A": {"value": "x", "generator": "secret"}}}`, `app.json line 1 col 43: env.A sets both a value and a generator; keep one`},
		{"env description type", `{"env": {"A": {"description": []}}}`, `app.json line 1 col 31: env.A.description must be a string, not a list`},

		{"cron type", `{"cron": {}}`, `app.json line 1 col 10: cron must be a list, not an object`},
		{"cron entry type", `{"cron": ["x"]}`, `app.json line 1 col 11: cron[0] must be an object, not a string`},
		{"cron no command", `{"cron": [{"schedule": "@daily"}]}`, `app.json line 1 col 11: cron[0].command is missing`},
		{"cron empty command", `{"cron": [{"command": " ", "schedule": "@daily"}]}`, `app.json line 1 col 23: cron[0].command must not be empty`},
		{"cron no schedule", `{"cron": [{"command": "x"}]}`, `app.json line 1 col 11: cron[0].schedule is missing`},
		{"cron empty schedule", `{"cron": [{"command": "x", "schedule": ""}]}`, `app.json line 1 col 40: cron[0].schedule must not be empty`},
		{"cron four fields", `{"cron": [{"command": "x", "schedule": "* * * *"}]}`, `app.json line 1 col 40: cron[0].schedule must have 5 fields (minute hour day-of-month month day-of-week) or be a descriptor such as @daily, not 4 fields in "* * * *"`},
		{"cron seconds", `{"cron": [{"command": "x", "schedule": "0 * * * * *"}]}`, `app.json line 1 col 40: cron[0].schedule must have 5 fields (minute hour day-of-month month day-of-week) or be a descriptor such as @daily, not 6 fields in "0 * * * * *"`},
		{"cron minute range", `{"cron": [{"command": "x", "schedule": "60 * * * *"}]}`, `app.json line 1 col 40: cron[0].schedule has an invalid minute field "60": 60 is out of range 0-59`},
		{"cron hour", `{"cron": [{"command": "x", "schedule": "0 24 * * *"}]}`, `app.json line 1 col 40: cron[0].schedule has an invalid hour field "24": 24 is out of range 0-23`},
		{"cron day zero", `{"cron": [{"command": "x", "schedule": "0 0 0 * *"}]}`, `app.json line 1 col 40: cron[0].schedule has an invalid day-of-month field "0": 0 is out of range 1-31`},
		{"cron month name", `{"cron": [{"command": "x", "schedule": "0 0 1 JANUARY *"}]}`, `app.json line 1 col 40: cron[0].schedule has an invalid month field "JANUARY": "JANUARY" is not a number`},
		{"cron weekday 7", `{"cron": [{"command": "x", "schedule": "0 0 * * 7"}]}`, `app.json line 1 col 40: cron[0].schedule has an invalid day-of-week field "7": 7 is out of range 0-6`},
		{"cron backwards", `{"cron": [{"command": "x", "schedule": "5-1 * * * *"}]}`, `app.json line 1 col 40: cron[0].schedule has an invalid minute field "5-1": range "5-1" goes backwards`},
		{"cron step zero", `{"cron": [{"command": "x", "schedule": "*/0 * * * *"}]}`, `app.json line 1 col 40: cron[0].schedule has an invalid minute field "*/0": step "0" must be a positive number`},
		{"cron empty list item", `{"cron": [{"command": "x", "schedule": "1,,2 * * * *"}]}`, `app.json line 1 col 40: cron[0].schedule has an invalid minute field "1,,2": "" is not a number`},
		{"cron descriptor", `{"cron": [{"command": "x", "schedule": "@reboot"}]}`, `app.json line 1 col 40: cron[0].schedule has an unknown descriptor "@reboot" (use @yearly, @monthly, @weekly, @daily, @hourly or @every DURATION)`},
		{"cron every", `{"cron": [{"command": "x", "schedule": "@every soon"}]}`, `app.json line 1 col 40: cron[0].schedule has an invalid duration in "@every soon" (use e.g. "@every 1h30m")`},
		{"cron schedule type", `{"cron": [{"command": "x", "schedule": 5}]}`, `app.json line 1 col 40: cron[0].schedule must be a string, not a number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseAppJSON([]byte(tt.in))
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got %s\nwant %s", err, tt.want)
			}
			var fe *Error
			if !errors.As(err, &fe) || fe.File != AppJSONName {
				t.Errorf("error %#v is not an *Error for app.json", err)
			}
		})
	}
}

func TestAppJSONEnvironmentsReview(t *testing.T) {
	a, err := ParseAppJSON([]byte(`{"environments": {"test": {"scripts": {"test": "x"}}, "review": {
		"env": {"MODE": "review", "TOKEN": {"generator": "secret"}},
		"formation": {"web": {"quantity": 1}},
		"addons": ["heroku-postgresql:hobby-dev", {"plan": "heroku-redis"}],
		"scripts": {"postdeploy": "bin/seed", "pr-predestroy": "bin/cleanup"}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	r := a.Review
	if r == nil || *r.Env["MODE"].Value != "review" || r.Env["TOKEN"].Generator != GeneratorSecret ||
		*r.Formation["web"].Quantity != 1 || len(r.Addons) != 2 || r.Addons[1] != "heroku-redis" ||
		r.Postdeploy != "bin/seed" || r.PrPredestroy != "bin/cleanup" {
		t.Errorf("review = %+v", r)
	}
	if a, err := ParseAppJSON([]byte(`{"environments": {"test": {}}}`)); err != nil || a.Review != nil {
		t.Errorf("no review: %+v %v", a.Review, err)
	}
	for doc, want := range map[string]string{
		`{"environments": []}`:                                         "environments must be an object",
		`{"environments": {"review": {"env": {"1X": "a"}}}}`:           "environments.review.env: invalid variable name",
		`{"environments": {"review": {"scripts": {"postdeploy": 3}}}}`: "environments.review.scripts.postdeploy must be a string",
		`{"environments": {"review": {"addons": [3]}}}`:                "environments.review.addons entries must be strings or objects",
		`{"environments": {"review": {"env": {"A": {"value": 1}}}}}`:   "environments.review.env.A.value must be a string",
	} {
		if _, err := ParseAppJSON([]byte(doc)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", doc, err, want)
		}
	}
}
