package appfile

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseProcfile(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Process
	}{
		{"seed", "web: /usr/local/bin/uwsgi --chdir=/code --ini=/code/uwsgi.ini\nworker: /usr/local/bin/celery -A yourproject worker -P gevent\n",
			[]Process{
				{"web", "/usr/local/bin/uwsgi --chdir=/code --ini=/code/uwsgi.ini", 1},
				{"worker", "/usr/local/bin/celery -A yourproject worker -P gevent", 2},
			}},
		{"no trailing newline", "web: ./serve", []Process{{"web", "./serve", 1}}},
		{"comments and blanks", "# the site\n\n  \nweb: ./serve\n  # indented comment\n// slash comment\nrelease: ./migrate\n",
			[]Process{{"web", "./serve", 4}, {"release", "./migrate", 7}}},
		{"crlf", "web: ./serve\r\nworker: ./work\r\n", []Process{{"web", "./serve", 1}, {"worker", "./work", 2}}},
		{"bom", "\xef\xbb\xbfweb: ./serve\n", []Process{{"web", "./serve", 1}}},
		{"no space after colon", "web:./serve", []Process{{"web", "./serve", 1}}},
		{"blanks around", "  web:\t ./serve --port $PORT  \t\n", []Process{{"web", "./serve --port $PORT", 1}}},
		{"colons in command", "web: gunicorn app:wsgi --bind 0.0.0.0:$PORT", []Process{{"web", "gunicorn app:wsgi --bind 0.0.0.0:$PORT", 1}}},
		{"url in command kept", "web: curl http://x//y", []Process{{"web", "curl http://x//y", 1}}},
		{"trailing comment", "web: ./serve --x # the site", []Process{{"web", "./serve --x", 1}}},
		{"trailing comment after tab", "web: ./serve\t# the site", []Process{{"web", "./serve", 1}}},
		{"hash inside word kept", "web: echo a#b", []Process{{"web", "echo a#b", 1}}},
		{"hash in single quotes kept", "web: echo 'a #b' # c", []Process{{"web", "echo 'a #b'", 1}}},
		{"hash in double quotes kept", `web: echo "a #b \" #c" # d`, []Process{{"web", `echo "a #b \" #c"`, 1}}},
		{"escaped hash kept", `web: echo a \#b`, []Process{{"web", `echo a \#b`, 1}}},
		{"hash after escaped blank kept", `web: echo a\ #b`, []Process{{"web", `echo a\ #b`, 1}}},
		{"hash after quote kept", `web: echo ''#b`, []Process{{"web", `echo ''#b`, 1}}},
		{"unclosed quote keeps rest", `web: echo "a #b`, []Process{{"web", `echo "a #b`, 1}}},
		{"trailing double slash kept", "web: ./serve --root //srv", []Process{{"web", "./serve --root //srv", 1}}},
		{"63 chars", strings.Repeat("a", 63) + ": x", []Process{{strings.Repeat("a", 63), "x", 1}}},
		{"digits and hyphens", "worker-2: x\n9: y\na-b-c: z", []Process{{"worker-2", "x", 1}, {"9", "y", 2}, {"a-b-c", "z", 3}}},
		{"tab in command", "web: a\tb", []Process{{"web", "a\tb", 1}}},
		{"unicode command", "web: echo héllo", []Process{{"web", "echo héllo", 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseProcfile([]byte(tt.in))
			if err != nil {
				t.Fatalf("ParseProcfile: %v", err)
			}
			if !reflect.DeepEqual(p.Processes, tt.want) {
				t.Errorf("got %#v\nwant %#v", p.Processes, tt.want)
			}
		})
	}
}

func TestParseProcfileErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"invalid type", "web: a\nworker: b\nWeb_1: c\n",
			`Procfile line 3: invalid process type "Web_1": use only lower-case letters, digits and '-' (a DNS label, such as "web" or "worker-2")`},
		{"upper case", "Web: x", `Procfile line 1: invalid process type "Web": use only lower-case letters, digits and '-' (a DNS label, such as "web" or "worker-2")`},
		{"space before colon", "web : x", `Procfile line 1: invalid process type "web ": use only lower-case letters, digits and '-' (a DNS label, such as "web" or "worker-2")`},
		{"leading hyphen", "-web: x", `Procfile line 1: invalid process type "-web": must not start or end with '-'`},
		{"trailing hyphen", "web-: x", `Procfile line 1: invalid process type "web-": must not start or end with '-'`},
		{"too long", strings.Repeat("a", 64) + ": x", `Procfile line 1: invalid process type "` + strings.Repeat("a", 64) + `": longer than 63 characters`},
		{"empty type", ": x", `Procfile line 1: empty process type`},
		{"duplicate", "web: a\n\nworker: b\nweb: c\n", `Procfile line 4: duplicate process type "web" (first declared on line 1)`},
		{"no colon", "web: a\nworker ./b\n", `Procfile line 2: expected "type: command", found no ':' in "worker ./b"`},
		{"merge conflict", "<<<<<<< HEAD\nweb: a\n", `Procfile line 1: expected "type: command", found no ':' in "<<<<<<< HEAD"`},
		{"empty command", "web: a\nworker:\n", `Procfile line 2: empty command for process type "worker"`},
		{"blank command", "worker:   \t", `Procfile line 1: empty command for process type "worker"`},
		{"comment instead of command", "web: # nothing", `Procfile line 1: empty command for process type "web"`},
		{"comment after CR", "web:\r# nothing", `Procfile line 1: empty command for process type "web"`},
		{"control character", "web: a\x01b", `Procfile line 1: command for process type "web" contains the control character U+0001`},
		{"bare CR", "web: a\rworker: b", `Procfile line 1: command for process type "web" contains the control character U+000D`},
		{"invalid utf8", "web: a\xffb", `Procfile line 1: command for process type "web" is not valid UTF-8`},
		{"empty file", "", `Procfile: no process types declared; add a line such as "web: ./start-server" or remove the file`},
		{"comments only", "# nothing\n\n", `Procfile: no process types declared; add a line such as "web: ./start-server" or remove the file`},
		{"long line is cut", strings.Repeat("x", 100), `Procfile line 1: expected "type: command", found no ':' in "` + strings.Repeat("x", 64) + `"...`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseProcfile([]byte(tt.in))
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got %s\nwant %s", err, tt.want)
			}
			var fe *Error
			if !errors.As(err, &fe) || fe.File != ProcfileName {
				t.Errorf("error %#v is not an *Error for the Procfile", err)
			}
		})
	}
}

func TestProcfileLookup(t *testing.T) {
	p, err := ParseProcfile([]byte("worker: w\nweb: s\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := p.Lookup("web"); !ok || got.Command != "s" || got.Line != 2 {
		t.Errorf("Lookup(web) = %#v, %v", got, ok)
	}
	if _, ok := p.Lookup("clock"); ok {
		t.Error("Lookup(clock) found a process")
	}
	if got := p.Types(); !reflect.DeepEqual(got, []string{"worker", "web"}) {
		t.Errorf("Types() = %v", got)
	}
	var zero Procfile
	if _, ok := zero.Lookup("web"); ok || len(zero.Types()) != 0 {
		t.Error("zero Procfile is not empty")
	}
}

func TestValidateProcessType(t *testing.T) {
	for _, ok := range []string{"web", "worker", "a", "0", "worker-2", "a-b", strings.Repeat("z", 63)} {
		if err := ValidateProcessType(ok); err != nil {
			t.Errorf("ValidateProcessType(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "Web", "web_1", "web.1", "-a", "a-", "-", "wéb", "web 1", strings.Repeat("z", 64)} {
		if err := ValidateProcessType(bad); err == nil {
			t.Errorf("ValidateProcessType(%q) = nil", bad)
		}
	}
}

func TestExpandCommand(t *testing.T) {
	env := map[string]string{"PORT": "5000", "A": "x", "A_1": "y", "EMPTY": "", "SP": "a b"}
	tests := []struct{ in, want string }{
		{"", ""},
		{"no vars", "no vars"},
		{"serve -p $PORT", "serve -p 5000"},
		{"serve -p ${PORT}", "serve -p 5000"},
		{"$PORT$A", "5000x"},
		{"${A}_1 $A_1", "x_1 y"},
		{"$A.$A", "x.x"},
		{"[$UNSET]", "[]"},
		{"[${UNSET}]", "[]"},
		{"[$EMPTY]", "[]"},
		{"$SP", "a b"},
		{"$$", "$"},
		{"$$PORT", "$PORT"},
		{"$${PORT}", "${PORT}"},
		{"$$$PORT", "$5000"},
		{"a$", "a$"},
		{"$ x", "$ x"},
		{"$1 $@ $? $- $# $! $*", "$1 $@ $? $- $# $! $*"},
		{"$(date) $((1+2))", "$(date) $((1+2))"},
		{"${A:-default}", "${A:-default}"},
		{"${", "${"},
		{"${A", "${A"},
		{"${}", "${}"},
		{"${1A}", "${1A}"},
		{"'$A' \"$A\"", "'x' \"x\""},
		{"é$Aé", "éxé"},
	}
	for _, tt := range tests {
		if got := ExpandCommand(tt.in, env); got != tt.want {
			t.Errorf("ExpandCommand(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := ExpandCommand("$A", nil); got != "" {
		t.Errorf("ExpandCommand with nil env = %q", got)
	}
}
