package appfile

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
)

// checkFileError asserts the invariants of every error the parsers return:
// an *Error for the right file, on one line, with a position when the file
// has content to point at.
func checkFileError(t *testing.T, err error, file string, data []byte, needLine bool) {
	t.Helper()
	var fe *Error
	if !errors.As(err, &fe) {
		t.Fatalf("error %T %v is not an *Error", err, err)
	}
	if fe.File != file {
		t.Fatalf("error names file %q, want %q: %v", fe.File, file, err)
	}
	if strings.ContainsAny(err.Error(), "\n\r") {
		t.Fatalf("error spans lines: %q", err.Error())
	}
	if fe.Msg == "" {
		t.Fatalf("error without a message: %#v", fe)
	}
	if needLine && fe.Line < 1 {
		t.Fatalf("error without a line: %v", err)
	}
	if nlines := strings.Count(string(data), "\n") + 1; fe.Line > nlines {
		t.Fatalf("error line %d beyond the file's %d lines: %v", fe.Line, nlines, err)
	}
	if fe.Col < 0 || fe.Col > 0 && fe.Line < 1 {
		t.Fatalf("bad column: %#v", fe)
	}
}

func FuzzProcfile(f *testing.F) {
	for _, s := range []string{
		"web: ./serve\nworker: ./work\n",
		"# c\n\nweb: a # b\r\nrelease: './m #x' \"#y\" \\#z # w\n",
		"web: $PORT ${A} $$ $( ${B:-c}\n",
		"Web_1: x", "web x", "web:", "web: a\nweb: b", "-a: x", ": x", "\xef\xbb\xbfweb: x", "web: a\x00b", "web: \xff",
		strings.Repeat("a", 63) + ": x", strings.Repeat("a", 64) + ": x", "",
	} {
		f.Add([]byte(s))
	}
	env := map[string]string{"PORT": "5000", "A": "$B", "B": "${A}"}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseProcfile(data)
		if err != nil {
			checkFileError(t, err, ProcfileName, data, false)
			return
		}
		if len(p.Processes) == 0 {
			t.Fatal("parsed a Procfile without processes")
		}
		seen := map[string]bool{}
		last := 0
		var rendered strings.Builder
		for _, proc := range p.Processes {
			if err := ValidateProcessType(proc.Type); err != nil {
				t.Fatalf("invalid type accepted: %v", err)
			}
			if seen[proc.Type] {
				t.Fatalf("duplicate type %q accepted", proc.Type)
			}
			seen[proc.Type] = true
			if proc.Command == "" || proc.Command != strings.TrimSpace(proc.Command) || checkText(proc.Command) != "" {
				t.Fatalf("bad command accepted: %q", proc.Command)
			}
			if proc.Line <= last {
				t.Fatalf("lines out of order: %d after %d", proc.Line, last)
			}
			last = proc.Line
			if got, ok := p.Lookup(proc.Type); !ok || got != proc {
				t.Fatalf("Lookup(%q) = %+v, %v", proc.Type, got, ok)
			}
			_ = ExpandCommand(proc.Command, env)
			if empty := ExpandCommand(proc.Command, nil); len(empty) > len(proc.Command) {
				t.Fatalf("expansion with no env grew %q to %q", proc.Command, empty)
			}
			fmt.Fprintf(&rendered, "%s: %s\n", proc.Type, proc.Command)
		}
		// Writing the parsed Procfile out again gives the same processes.
		again, err := ParseProcfile([]byte(rendered.String()))
		if err != nil {
			t.Fatalf("re-parse of %q: %v", rendered.String(), err)
		}
		if len(again.Processes) != len(p.Processes) {
			t.Fatalf("re-parse changed the processes: %+v vs %+v", again.Processes, p.Processes)
		}
		for i := range again.Processes {
			a, b := again.Processes[i], p.Processes[i]
			if a.Type != b.Type || a.Command != b.Command {
				t.Fatalf("re-parse changed %+v into %+v", b, a)
			}
		}
	})
}

func FuzzAppJSON(f *testing.F) {
	for _, s := range []string{
		`{}`, `[]`, ``, ` `, `{"a":}`, `{"a":1} x`, "\xef\xbb\xbf{}",
		`{"scripts": {"dokku": {"predeploy": "x", "postdeploy": "y"}, "postdeploy": "z"}}`,
		`{"formation": {"web": {"quantity": 2, "size": "s"}, "worker": {"quantity": -1}}}`,
		`{"formation": {"Web_1": {}}, "Formation": null}`,
		`{"healthchecks": {"web": [{"type": "startup", "path": "/h", "content": "ok", "attempts": 0, "timeout": 5, "wait": 0, "initialDelay": 1, "port": 5000, "scheme": "https", "httpHeaders": [{"name": "Host", "value": "x"}]}]}}`,
		`{"healthchecks": {"web": [{"command": ["a", "b"]}, {"command": "a b"}, {"listening": true}, {"uptime": 3, "warn": true}]}}`,
		`{"healthchecks": {"web": [{"path": "/", "uptime": 1}]}}`,
		`{"env": {"A": "x", "B": {"value": "v", "required": false, "sync": true}, "C": {"generator": "secret"}, "D": {"generator": "x"}}}`,
		`{"cron": [{"command": "x", "schedule": "*/5 1-2 * JAN mon"}, {"command": "y", "schedule": "@every 1m"}]}`,
		`{"cron": [{"command": "x", "schedule": "61 * * * *"}]}`,
		`{"formation": {"web": {"quantity": 99999999999999999999}}}`,
		"{\n\"env\": {\"A\": \"a\\u0000\"}\n}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := ParseAppJSON(data)
		if err != nil {
			checkFileError(t, err, AppJSONName, data, false)
			var fe *Error
			errors.As(err, &fe)
			if fe.Line > 0 && fe.Col < 1 {
				t.Fatalf("app.json error with a line but no column: %v", err)
			}
			return
		}
		for typ, fm := range a.Formation {
			if err := ValidateProcessType(typ); err != nil {
				t.Fatalf("formation: %v", err)
			}
			if fm.Quantity != nil && *fm.Quantity < 0 {
				t.Fatalf("formation.%s.quantity = %d", typ, *fm.Quantity)
			}
		}
		for typ, checks := range a.Healthchecks {
			if err := ValidateProcessType(typ); err != nil {
				t.Fatalf("healthchecks: %v", err)
			}
			for i, h := range checks {
				checkHealthcheck(t, fmt.Sprintf("healthchecks.%s[%d]", typ, i), h)
			}
		}
		for name, spec := range a.Env {
			if !envNameRE().MatchString(name) {
				t.Fatalf("env name %q accepted", name)
			}
			if spec.Generator != "" && spec.Generator != GeneratorSecret {
				t.Fatalf("env.%s.generator = %q", name, spec.Generator)
			}
			if spec.Generator != "" && spec.Value != nil {
				t.Fatalf("env.%s has both a value and a generator", name)
			}
			if spec.Value != nil && checkArg(*spec.Value) != "" {
				t.Fatalf("env.%s value %q accepted", name, *spec.Value)
			}
		}
		for i, c := range a.Cron {
			if strings.TrimSpace(c.Command) == "" || checkArg(c.Command) != "" {
				t.Fatalf("cron[%d].command %q accepted", i, c.Command)
			}
			if why := checkSchedule(c.Schedule); why != "" {
				t.Fatalf("cron[%d].schedule %q accepted: %s", i, c.Schedule, why)
			}
		}
		for _, s := range []string{a.Scripts.Postdeploy, a.Scripts.Dokku.Predeploy, a.Scripts.Dokku.Postdeploy} {
			if checkArg(s) != "" || s != "" && strings.TrimSpace(s) == "" {
				t.Fatalf("script %q accepted", s)
			}
		}
	})
}

// checkHealthcheck asserts what every parsed or converted healthcheck
// satisfies.
func checkHealthcheck(t *testing.T, where string, h Healthcheck) {
	t.Helper()
	kinds := 0
	for _, set := range []bool{h.Path != "", len(h.Command) > 0, h.Uptime > 0, h.Listening} {
		if set {
			kinds++
		}
	}
	if kinds > 1 {
		t.Fatalf("%s mixes kinds: %+v", where, h)
	}
	switch h.Type {
	case "", HealthcheckStartup, HealthcheckLiveness, HealthcheckReadiness:
	default:
		t.Fatalf("%s.type = %q", where, h.Type)
	}
	switch h.Scheme {
	case "", "http", "https":
	default:
		t.Fatalf("%s.scheme = %q", where, h.Scheme)
	}
	if h.Path != "" && !strings.HasPrefix(h.Path, "/") {
		t.Fatalf("%s.path = %q", where, h.Path)
	}
	if h.Path == "" && (h.Content != "" || h.Scheme != "" || len(h.HTTPHeaders) > 0) {
		t.Fatalf("%s has path options without a path: %+v", where, h)
	}
	if h.Port < 0 || h.Port > 65535 || h.Uptime < 0 {
		t.Fatalf("%s: port %d, uptime %d", where, h.Port, h.Uptime)
	}
	for _, p := range []*int{h.Attempts, h.Timeout, h.Wait, h.InitialDelay} {
		if p != nil && *p < 0 {
			t.Fatalf("%s has a negative setting: %+v", where, h)
		}
	}
	if len(h.Command) > 0 && strings.TrimSpace(h.Command[0]) == "" {
		t.Fatalf("%s.command has no program: %q", where, h.Command)
	}
	for _, hd := range h.HTTPHeaders {
		if !headerNameRE().MatchString(hd.Name) || checkText(hd.Value) != "" {
			t.Fatalf("%s has a bad header %+v", where, hd)
		}
	}
	d := h.WithDefaults()
	if *d.Attempts < 1 || *d.Timeout < 1 || *d.Wait < 0 || *d.InitialDelay < 0 || d.Type == "" || d.Scheme == "" || d.Kind() != h.Kind() {
		t.Fatalf("%s: bad defaults %+v", where, d)
	}
}

func FuzzChecks(f *testing.F) {
	for _, s := range []string{
		"//www.yourproject.com/\n",
		"WAIT=30     # Wait 1/2 minute\nTIMEOUT=60  # Timeout after a minute\nATTEMPTS=10 # Attempt checks 10 times\n\n/  My Amazing App\n",
		"/about  Our Amazing Team\n//admin.example.com  Admin\nhttps://a.example.com:8443/x?y=z ok\nhttps:/s\n",
		"WAIT=-1", "TIMEOUT=0", "ATTEMPTS=x", "WAIT=1\nWAIT=2", "FOO=1", "health", "//", "https:///x", "//a@b/", "{{ var \"X\" }}",
		"\xef\xbb\xbf  WAIT = 0\r\n\t/health ok\r\n", "/a\x01", "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseChecks(data)
		if err != nil {
			checkFileError(t, err, ChecksFileName, data, true)
			return
		}
		if c.Wait != nil && *c.Wait < 0 || c.Timeout != nil && *c.Timeout < 1 || c.Attempts != nil && *c.Attempts < 1 {
			t.Fatalf("bad settings accepted: %+v", c)
		}
		last := 0
		for _, ch := range c.Checks {
			if ch.Line <= last {
				t.Fatalf("lines out of order: %+v", c.Checks)
			}
			last = ch.Line
			if ch.Scheme != "http" && ch.Scheme != "https" {
				t.Fatalf("scheme %q", ch.Scheme)
			}
			if !strings.HasPrefix(ch.Path, "/") || checkText(ch.Path) != "" || strings.ContainsAny(ch.Path, " \t") {
				t.Fatalf("path %q", ch.Path)
			}
			if ch.Host != "" && !hostRE().MatchString(ch.Host) {
				t.Fatalf("host %q", ch.Host)
			}
			if ch.Content != strings.TrimSpace(ch.Content) {
				t.Fatalf("content %q is not trimmed", ch.Content)
			}
		}
		hs := c.ToHealthchecks()
		if len(hs) != len(c.Checks) {
			t.Fatalf("%d checks became %d healthchecks", len(c.Checks), len(hs))
		}
		for i, h := range hs {
			if h.Kind() != PathCheck || h.Path != c.Checks[i].Path || h.Type != HealthcheckStartup {
				t.Fatalf("check %+v became %+v", c.Checks[i], h)
			}
			// Content and scheme are fine without a path only because
			// every converted check has one.
			checkHealthcheck(t, fmt.Sprintf("CHECKS check %d", i), h)
		}
	})
}

func FuzzScale(f *testing.F) {
	for _, s := range []string{
		"web=1\nworker=1\n", "# c\n\nweb = 3 # x\r\n", "web=-1", "web=two", "Web=1", "web=1\nweb=2", "web", "=1", "web=",
		"web=2147483648", "\xef\xbb\xbfweb=0", "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		scale, err := ParseScale(data)
		if err != nil {
			checkFileError(t, err, ScaleFileName, data, true)
			return
		}
		if scale == nil {
			t.Fatal("nil map without an error")
		}
		var rendered strings.Builder
		for _, typ := range slices.Sorted(maps.Keys(scale)) {
			if err := ValidateProcessType(typ); err != nil {
				t.Fatalf("invalid type accepted: %v", err)
			}
			if n := scale[typ]; n < 0 || n > maxJSONInt {
				t.Fatalf("%s=%d accepted", typ, n)
			}
			fmt.Fprintf(&rendered, "%s=%d\n", typ, scale[typ])
		}
		again, err := ParseScale([]byte(rendered.String()))
		if err != nil || !maps.Equal(again, scale) {
			t.Fatalf("re-parse of %q = %v, %v", rendered.String(), again, err)
		}
	})
}
