package appfile

import (
	"errors"
	"reflect"
	"testing"
)

func TestParseChecks(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Checks
	}{
		{"seed", "//www.yourproject.com/\n", Checks{Checks: []Check{{Line: 1, Scheme: "http", Host: "www.yourproject.com", Path: "/"}}}},
		{"empty", "", Checks{}},
		{"comments only", "# nothing\n\n", Checks{}},
		{"docs example", "WAIT=30     # Wait 1/2 minute\nTIMEOUT=60  # Timeout after a minute\nATTEMPTS=10 # Attempt checks 10 times\n\n/  My Amazing App\n",
			Checks{Wait: intp(30), Timeout: intp(60), Attempts: intp(10), Checks: []Check{{Line: 5, Scheme: "http", Path: "/", Content: "My Amazing App"}}}},
		{"forms", "/about  Our Amazing Team\n/stylesheets/index.css\t.body\n/scripts/index.js       $(function()\n/images/logo.png\n" +
			"//admin.example.com  Admin Dashboard\n//static.example.com/logo.png\nhttps://admin.example.com  Admin Dashboard\nhttp://static.example.com/a?b=c\n" +
			"HTTPS://x.example.com:8443/p\nhttps:/secure\n",
			Checks{Checks: []Check{
				{Line: 1, Scheme: "http", Path: "/about", Content: "Our Amazing Team"},
				{Line: 2, Scheme: "http", Path: "/stylesheets/index.css", Content: ".body"},
				{Line: 3, Scheme: "http", Path: "/scripts/index.js", Content: "$(function()"},
				{Line: 4, Scheme: "http", Path: "/images/logo.png"},
				{Line: 5, Scheme: "http", Host: "admin.example.com", Path: "/", Content: "Admin Dashboard"},
				{Line: 6, Scheme: "http", Host: "static.example.com", Path: "/logo.png"},
				{Line: 7, Scheme: "https", Host: "admin.example.com", Path: "/", Content: "Admin Dashboard"},
				{Line: 8, Scheme: "http", Host: "static.example.com", Path: "/a?b=c"},
				{Line: 9, Scheme: "https", Host: "x.example.com:8443", Path: "/p"},
				{Line: 10, Scheme: "https", Path: "/secure"},
			}}},
		{"content keeps hash and inner blanks", "/ color: #fff;  and  more   \n", Checks{Checks: []Check{{Line: 1, Scheme: "http", Path: "/", Content: "color: #fff;  and  more"}}}},
		{"crlf, bom and indentation", "\xef\xbb\xbf  WAIT = 0\r\n\t/health ok\r\n", Checks{Wait: intp(0), Checks: []Check{{Line: 2, Scheme: "http", Path: "/health", Content: "ok"}}}},
		{"settings after checks", "/\nATTEMPTS=1\n", Checks{Attempts: intp(1), Checks: []Check{{Line: 1, Scheme: "http", Path: "/"}}}},
		{"query with equals is a check", "/x?a=b\n", Checks{Checks: []Check{{Line: 1, Scheme: "http", Path: "/x?a=b"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseChecks([]byte(tt.in))
			if err != nil {
				t.Fatalf("ParseChecks: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseChecksErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"not a check", "/\nhealth ok\n", `CHECKS line 2: expected a check ("/path", "//host/path" or "https://host/path", then the expected content) or a setting (WAIT=, TIMEOUT=, ATTEMPTS=), found "health ok"`},
		{"unknown setting", "WAITS=5", `CHECKS line 1: unknown setting "WAITS": the settings are WAIT, TIMEOUT and ATTEMPTS`},
		{"lower-case setting", "wait=5", `CHECKS line 1: unknown setting "wait": the settings are WAIT, TIMEOUT and ATTEMPTS`},
		{"empty value", "WAIT=", `CHECKS line 1: invalid WAIT value "": must be a whole number from 0 to 2147483647`},
		{"negative wait", "WAIT=-1", `CHECKS line 1: invalid WAIT value "-1": must be a whole number from 0 to 2147483647`},
		{"zero timeout", "TIMEOUT=0", `CHECKS line 1: invalid TIMEOUT value "0": must be a whole number from 1 to 2147483647`},
		{"zero attempts", "ATTEMPTS=0", `CHECKS line 1: invalid ATTEMPTS value "0": must be a whole number from 1 to 2147483647`},
		{"word attempts", "ATTEMPTS=ten", `CHECKS line 1: invalid ATTEMPTS value "ten": must be a whole number from 1 to 2147483647`},
		{"huge timeout", "TIMEOUT=99999999999", `CHECKS line 1: invalid TIMEOUT value "99999999999": must be a whole number from 1 to 2147483647`},
		{"duplicate setting", "WAIT=1\n/\nWAIT=2\n", `CHECKS line 3: WAIT is set twice (first on line 1)`},
		{"missing host", "// x", `CHECKS line 1: missing host name after "//" in "//"`},
		{"missing host with path", "https:///x", `CHECKS line 1: missing host name after "//" in "https:///x"`},
		{"bad host", "//a@b/", `CHECKS line 1: invalid host name "a@b" in "//a@b/"`},
		{"scheme without slash", "https:x", `CHECKS line 1: expected a check ("/path", "//host/path" or "https://host/path", then the expected content) or a setting (WAIT=, TIMEOUT=, ATTEMPTS=), found "https:x"`},
		{"other scheme", "ftp://x/", `CHECKS line 1: expected a check ("/path", "//host/path" or "https://host/path", then the expected content) or a setting (WAIT=, TIMEOUT=, ATTEMPTS=), found "ftp://x/"`},
		{"template", "//{{ var \"HOST\" }}/", `CHECKS line 1: a template ({{ ... }}) that was not expanded`},
		{"control in path", "/a\x01b", `CHECKS line 1: path "/a\x01b" contains the control character U+0001`},
		{"invalid utf8 path", "/a\xffb", `CHECKS line 1: path "/a\xffb" is not valid UTF-8`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseChecks([]byte(tt.in))
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got %s\nwant %s", err, tt.want)
			}
			var fe *Error
			if !errors.As(err, &fe) || fe.File != ChecksFileName || fe.Line == 0 {
				t.Errorf("error %#v is not an *Error with a line for CHECKS", err)
			}
		})
	}
}

func TestChecksToHealthchecks(t *testing.T) {
	c, err := ParseChecks([]byte("TIMEOUT=60\n//www.example.com/  Welcome\nhttps://api.example.com/health\n/plain\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := c.ToHealthchecks()
	want := []Healthcheck{
		{Type: "startup", Name: "check-1", Path: "/", Content: "Welcome", Scheme: "http", Timeout: intp(60), Wait: intp(5), InitialDelay: intp(5),
			DefaultDelay: true, HTTPHeaders: []HTTPHeader{{"Host", "www.example.com"}}},
		{Type: "startup", Name: "check-2", Path: "/health", Scheme: "https", Timeout: intp(60), Wait: intp(5), InitialDelay: intp(5),
			DefaultDelay: true, HTTPHeaders: []HTTPHeader{{"Host", "api.example.com"}}},
		{Type: "startup", Name: "check-3", Path: "/plain", Scheme: "http", Timeout: intp(60), Wait: intp(5), InitialDelay: intp(5), DefaultDelay: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	// Defaults: 3 attempts, 5 s timeout, 5 s between attempts and before
	// the first one.
	d := got[2].WithDefaults()
	if *d.Attempts != 3 || *d.Timeout != 60 || *d.Wait != 5 || *d.InitialDelay != 5 || d.Kind() != PathCheck {
		t.Errorf("defaults = %+v", d)
	}
	// The settings are copied, not shared between checks.
	*got[0].Timeout = 1
	*got[0].Wait = 1
	if *got[1].Timeout != 60 || *got[1].Wait != 5 || *got[0].InitialDelay != 5 || *c.Timeout != 60 {
		t.Error("ToHealthchecks shares settings between checks")
	}
}

func TestChecksToHealthchecksSettings(t *testing.T) {
	c, err := ParseChecks([]byte("WAIT=0\nATTEMPTS=6\n/\n"))
	if err != nil {
		t.Fatal(err)
	}
	h := c.ToHealthchecks()[0].WithDefaults()
	if *h.Wait != 0 || *h.InitialDelay != 0 || *h.Attempts != 6 || *h.Timeout != 5 || h.DefaultDelay {
		t.Errorf("got %+v", h)
	}
	// A WAIT the file sets is the app's choice, never shortened.
	c, err = ParseChecks([]byte("WAIT=5\n/\n"))
	if err != nil {
		t.Fatal(err)
	}
	if h := c.ToHealthchecks()[0]; h.DefaultDelay || *h.InitialDelay != 5 {
		t.Errorf("WAIT=5: got %+v", h)
	}
	if got := (Checks{Wait: intp(3)}).ToHealthchecks(); got != nil {
		t.Errorf("no checks: got %+v", got)
	}
}
