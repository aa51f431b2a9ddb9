package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/quick"
	"unicode/utf8"
)

func TestSortedKeysByteOrder(t *testing.T) {
	t.Parallel()
	got := SortedKeys(map[string]string{"b": "", "B": "", "_a": "", "A1": "", "a": "", "A": "", "Z": "", "_": ""})
	// Byte order: digits < upper case < '_' < lower case.
	want := []string{"A", "A1", "B", "Z", "_", "_a", "a", "b"}
	if !slices.Equal(got, want) {
		t.Errorf("SortedKeys = %q, want %q", got, want)
	}
	if got := SortedKeys(nil); len(got) != 0 {
		t.Errorf("SortedKeys(nil) = %q", got)
	}
}

func TestShellQuote(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"", `''`},
		{"abc", `'abc'`},
		{"it's", `'it'\''s'`},
		{"'", `''\'''`},
		{"''", `''\'''\'''`},
		{`a\b "c" $d`, `'a\b "c" $d'`},
	}
	for _, tt := range tests {
		if got := ShellQuote(tt.in); got != tt.want {
			t.Errorf("ShellQuote(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// TestExportOneValue pins the rendering of single values with awkward
// characters in each format, written out by hand.
func TestExportOneValue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		value   string
		exports string // also docker-args and shell, which quote the same way
		envfile string
		json    string // the encoded value
	}{
		{"plain", `'plain'`, `"plain"`, `"plain"`},
		{"", `''`, `""`, `""`},
		{"a b  c", `'a b  c'`, `"a b  c"`, `"a b  c"`},
		{"$HOME ${X}", `'$HOME ${X}'`, `"\$HOME \${X}"`, `"$HOME ${X}"`},
		{"it's", `'it'\''s'`, `"it's"`, `"it's"`},
		{`say "hi"`, `'say "hi"'`, `"say \"hi\""`, `"say \"hi\""`},
		{`C:\dir\new`, `'C:\dir\new'`, `"C:\\dir\\new"`, `"C:\\dir\\new"`},
		{"l1\nl2", "'l1\nl2'", `"l1\nl2"`, `"l1\nl2"`},
		{"a\r\nb", "'a\r\nb'", `"a\r\nb"`, `"a\r\nb"`},
		{"a\tb", "'a\tb'", "\"a\tb\"", `"a\tb"`},
		{"caf\u00e9 \u65e5\u672c \U0001F600", "'caf\u00e9 \u65e5\u672c \U0001F600'", "\"caf\u00e9 \u65e5\u672c \U0001F600\"", "\"caf\u00e9 \u65e5\u672c \U0001F600\""},
		{"a=b #c", `'a=b #c'`, `"a=b #c"`, `"a=b #c"`},
		{"`id`", "'`id`'", "\"\\`id\\`\"", "\"`id`\""},
		{"<&>", `'<&>'`, `"<&>"`, `"<&>"`}, // no HTML escaping in JSON
		{`'"\`, `''\''"\'`, `"'\"\\"`, `"'\"\\"`},
	}
	for _, tt := range tests {
		vars := map[string]string{"K": tt.value}
		want := map[string]string{
			"exports":          "export K=" + tt.exports,
			"envfile":          "K=" + tt.envfile,
			"docker-args":      "--env=K=" + tt.exports,
			"docker-args-keys": "--env=K",
			"shell":            "K=" + tt.exports + " ",
			"json":             `{"K":` + tt.json + `}`,
			"json-list":        `[{"name":"K","value":` + tt.json + `}]`,
			"pretty":           "K:  " + tt.value,
		}
		for format, w := range want {
			got, err := Export(vars, format)
			if err != nil {
				t.Errorf("Export(%q, %s) error: %v", tt.value, format, err)
				continue
			}
			if got != w {
				t.Errorf("Export(%q, %s)\n got: %s\nwant: %s", tt.value, format, got, w)
			}
		}
	}
}

// TestExportManyKeys checks key order (byte order, upper case first) and the
// separators of every format.
func TestExportManyKeys(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"b": "2", "B": "1", "_": "u", "A1": "x y"}
	want := map[string]string{
		"exports":          "export A1='x y'\nexport B='1'\nexport _='u'\nexport b='2'",
		"envfile":          "A1=\"x y\"\nB=\"1\"\n_=\"u\"\nb=\"2\"",
		"docker-args":      "--env=A1='x y' --env=B='1' --env=_='u' --env=b='2'",
		"docker-args-keys": "--env=A1 --env=B --env=_ --env=b",
		"shell":            "A1='x y' B='1' _='u' b='2' ",
		"json":             `{"A1":"x y","B":"1","_":"u","b":"2"}`,
		"json-list":        `[{"name":"A1","value":"x y"},{"name":"B","value":"1"},{"name":"_","value":"u"},{"name":"b","value":"2"}]`,
		"pretty":           "A1:  x y\nB:   1\n_:   u\nb:   2",
	}
	if len(want) != len(ExportFormats) {
		t.Fatalf("test covers %d formats, ExportFormats has %d", len(want), len(ExportFormats))
	}
	for _, format := range ExportFormats {
		got, err := Export(vars, format)
		if err != nil {
			t.Errorf("Export(%s) error: %v", format, err)
			continue
		}
		if got != want[format] {
			t.Errorf("Export(%s)\n got: %s\nwant: %s", format, got, want[format])
		}
	}
}

func TestPrettyAlignsValues(t *testing.T) {
	t.Parallel()
	got := Pretty(map[string]string{"DATABASE_URL": "postgres://x", "RACK_ENV": "production", "A": ""}, "       ")
	want := "       A:             \n" +
		"       DATABASE_URL:  postgres://x\n" +
		"       RACK_ENV:      production"
	if got != want {
		t.Errorf("Pretty\n got: %q\nwant: %q", got, want)
	}
}

func TestExportEmpty(t *testing.T) {
	t.Parallel()
	want := map[string]string{
		"exports": "", "envfile": "", "docker-args": "", "docker-args-keys": "", "shell": "",
		"json": "{}", "json-list": "[]", "pretty": "",
	}
	for _, vars := range []map[string]string{{}, nil} {
		for _, format := range ExportFormats {
			got, err := Export(vars, format)
			if err != nil {
				t.Errorf("Export(%#v, %s) error: %v", vars, format, err)
			} else if got != want[format] {
				t.Errorf("Export(%#v, %s) = %q, want %q", vars, format, got, want[format])
			}
		}
	}
}

func TestExportUnknownFormat(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"", "yaml", "JSON", "env"} {
		got, err := Export(map[string]string{"A": "1"}, format)
		if err == nil {
			t.Errorf("Export(%q) = %q, want an error", format, got)
			continue
		}
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "exports, envfile") {
			t.Errorf("Export(%q) error = %v, want an ErrInvalid listing the formats", format, err)
		}
	}
}

// nastyPieces are the fragments random values are made of: every character
// some quoting scheme treats specially, and some that only look harmless.
var nastyPieces = []string{
	"a", "Z", "0", " ", "  ", "\t", "\n", "\r", "\r\n", "\n\n", "'", "\"", "\\", "\\\\",
	"$", "${A}", "$(id)", "`", "=", "#", " #", "# ", "!", "&", ";", "|", "*", "?", "~", "%",
	"\\n", "\\t", "\\'", "\\\"", "'\\''", "\"'\"", "export ", "\u00e9", "\u65e5\u672c", "\U0001F600",
	"\uFEFF", "\u2028", "\u00a0", "\x01", "\x1b[0m", "\x7f", "{", "}", "[", "]", ",", ":",
}

// randomValue returns a random valid value built from nastyPieces.
func randomValue(r *rand.Rand) string {
	var b strings.Builder
	for n := r.Intn(12); n > 0; n-- {
		b.WriteString(nastyPieces[r.Intn(len(nastyPieces))])
	}
	return b.String()
}

const keyStart = "ABCXYZabcxyz_"
const keyRest = keyStart + "0123456789"

// randomVars returns up to 6 random vars; keys start with prefix.
func randomVars(r *rand.Rand, prefix string) map[string]string {
	vars := map[string]string{}
	for n := r.Intn(7); n > 0; n-- {
		k := prefix + string(keyStart[r.Intn(len(keyStart))])
		for m := r.Intn(4); m > 0; m-- {
			k += string(keyRest[r.Intn(len(keyRest))])
		}
		vars[k] = randomValue(r)
	}
	return vars
}

// nastyVars is a testing/quick generator of valid config vars.
type nastyVars map[string]string

func (nastyVars) Generate(r *rand.Rand, _ int) reflect.Value {
	return reflect.ValueOf(nastyVars(randomVars(r, "")))
}

func TestRoundTripQuick(t *testing.T) {
	t.Parallel()
	envfile := func(v nastyVars) bool {
		vars := map[string]string(v)
		if err := ValidateVars(vars); err != nil {
			t.Fatalf("generator made invalid vars: %v", err)
		}
		out, err := Export(vars, "envfile")
		if err != nil {
			t.Fatalf("Export envfile: %v", err)
		}
		got, err := ParseEnvfile([]byte(out))
		if err != nil {
			t.Logf("ParseEnvfile(%q): %v", out, err)
			return false
		}
		if !maps.Equal(got, vars) {
			t.Logf("envfile %q\nparsed %q\n  want %q", out, got, vars)
			return false
		}
		return true
	}
	jsonObj := func(v nastyVars) bool {
		vars := map[string]string(v)
		out, err := Export(vars, "json")
		if err != nil {
			t.Fatalf("Export json: %v", err)
		}
		got, err := ParseJSONVars([]byte(out))
		if err != nil || !maps.Equal(got, vars) {
			t.Logf("json %q\nparsed %q, %v\n  want %q", out, got, err, vars)
			return false
		}
		return true
	}
	jsonList := func(v nastyVars) bool {
		vars := map[string]string(v)
		out, err := Export(vars, "json-list")
		if err != nil {
			t.Fatalf("Export json-list: %v", err)
		}
		var list []struct{ Name, Value string }
		if err := json.Unmarshal([]byte(out), &list); err != nil {
			t.Logf("json-list %q: %v", out, err)
			return false
		}
		keys := SortedKeys(vars)
		if len(list) != len(keys) {
			return false
		}
		for i, p := range list {
			if p.Name != keys[i] || p.Value != vars[keys[i]] {
				t.Logf("json-list %q: entry %d is %q", out, i, p)
				return false
			}
		}
		return true
	}
	cfg := &quick.Config{MaxCount: 2000}
	for name, f := range map[string]func(nastyVars) bool{"envfile": envfile, "json": jsonObj, "json-list": jsonList} {
		if err := quick.Check(f, cfg); err != nil {
			t.Errorf("%s round trip: %v", name, err)
		}
	}
}

// TestRoundTripSingleValues checks the round trip for each nasty piece alone
// and for every pair of pieces, which random values might miss.
func TestRoundTripSingleValues(t *testing.T) {
	t.Parallel()
	var values []string
	for _, a := range nastyPieces {
		values = append(values, a, a+a, " "+a, a+" ")
		for _, b := range nastyPieces {
			values = append(values, a+b)
		}
	}
	for _, v := range values {
		vars := map[string]string{"K": v, "L": "after"}
		out, _ := Export(vars, "envfile")
		got, err := ParseEnvfile([]byte(out))
		if err != nil || !maps.Equal(got, vars) {
			t.Errorf("envfile round trip of %q: wrote %q, read %q, %v", v, out, got, err)
		}
		out, _ = Export(vars, "json")
		got, err = ParseJSONVars([]byte(out))
		if err != nil || !maps.Equal(got, vars) {
			t.Errorf("json round trip of %q: wrote %q, read %q, %v", v, out, got, err)
		}
	}
}

// splitNUL splits the output of printf '%s\0' ... into its fields.
func splitNUL(b []byte) []string {
	s := string(b)
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\x00"), "\x00")
}

// TestShellFormatsEvaluate evaluates the exports, shell and docker-args
// outputs with a real /bin/sh and checks that every value comes back byte for
// byte. One sh process runs every case without forking (sourcing each file,
// then unsetting its vars), writing one output file per case, to keep the
// test fast.
func TestShellFormatsEvaluate(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh")
	}
	r := rand.New(rand.NewSource(1))
	cases := []map[string]string{
		{},
		{"V_A": ""},
		{"V_A": "it's", "V_B": `"dq" \ $HOME $(id) ` + "`id`", "V_C": "l1\nl2\n\n", "V_D": "\r\t \u00e9\U0001F600", "V_E": "a=b # c"},
	}
	for _, p := range nastyPieces {
		cases = append(cases, map[string]string{"V_P": p, "V_Q": p + p})
	}
	for range 200 {
		cases = append(cases, randomVars(r, "V_"))
	}

	type check struct {
		vars   map[string]string
		format string
		input  string
		out    string // output file
		want   []string
	}
	dir := t.TempDir()
	var script strings.Builder
	var checks []check
	for i, vars := range cases {
		keys := SortedKeys(vars)
		var refs []string
		for _, k := range keys {
			refs = append(refs, `"$`+k+`"`)
		}
		for _, format := range []string{"exports", "shell", "docker-args"} {
			input, err := Export(vars, format)
			if err != nil {
				t.Fatal(err)
			}
			c := check{vars: vars, format: format, input: input, out: fmt.Sprintf("%s.%d.out", format, i)}
			in := fmt.Sprintf("%s.%d", format, i)
			if err := os.WriteFile(filepath.Join(dir, in), []byte(input), 0o600); err != nil {
				t.Fatal(err)
			}
			if format == "docker-args" {
				// docker-args is word-split by a shell into one
				// --env=K=V argument per var.
				for _, k := range keys {
					c.want = append(c.want, "--env="+k+"="+vars[k])
				}
				fmt.Fprintf(&script, "set -- %s\n{ [ $# -eq 0 ] || printf '%%s\\0' \"$@\"; } >%s\n", input, c.out)
			} else {
				for _, k := range keys {
					c.want = append(c.want, vars[k])
				}
				fmt.Fprintf(&script, ". ./%s\n{ [ %d -eq 0 ] || printf '%%s\\0' %s; } >%s\n", in, len(refs), strings.Join(refs, " "), c.out)
				if len(keys) > 0 {
					fmt.Fprintf(&script, "unset %s\n", strings.Join(keys, " "))
				}
			}
			checks = append(checks, c)
		}
	}
	cmd := exec.Command("/bin/sh", "-e", "-c", script.String())
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C"}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sh: %v\n%s", err, out)
	}
	for _, c := range checks {
		b, err := os.ReadFile(filepath.Join(dir, c.out))
		if err != nil {
			t.Fatal(err)
		}
		if got := splitNUL(b); !slices.Equal(got, c.want) {
			t.Errorf("%s %q evaluated by sh gives %q, want %q", c.format, c.input, got, c.want)
		}
	}
}

func TestParseEnvfile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want map[string]string
	}{
		{"empty", "", map[string]string{}},
		{"only comments and blanks", "# a\n\n   \n\t# b\n#C=1\n", map[string]string{}},
		{"simple", "A=1\nB=two", map[string]string{"A": "1", "B": "two"}},
		{"trailing newline", "A=1\n", map[string]string{"A": "1"}},
		{"export prefix", "export A=1\nexport  B='x'\n  export C=\"y\"\n", map[string]string{"A": "1", "B": "x", "C": "y"}},
		{"key named export", "export=1\nexport export=2\n", map[string]string{"export": "2"}},
		{"spaces around", "  A = spaced value  \n", map[string]string{"A": "spaced value"}},
		{"empty values", "A=\nB=''\nC=\"\"\nD=", map[string]string{"A": "", "B": "", "C": "", "D": ""}},
		{"equals in value", "A=b=c==\nB='x=y'", map[string]string{"A": "b=c==", "B": "x=y"}},
		{"unquoted comment", "A=value # comment\nB=val#ue\nC=#x\n", map[string]string{"A": "value", "B": "val#ue", "C": "#x"}},
		{"quoted comment", "A='v # not a comment' # comment\nB=\"w\"#c\n", map[string]string{"A": "v # not a comment", "B": "w"}},
		{"unquoted keeps quotes inside", `A=it's "x"`, map[string]string{"A": `it's "x"`}},
		{"unquoted no escapes", `A=a\nb $HOME`, map[string]string{"A": `a\nb $HOME`}},
		{"single quoted literal", `A='a\nb $HOME \"x\" \'`, map[string]string{"A": `a\nb $HOME \"x\" \`}},
		{"single quoted keeps blanks", "A='  x  '", map[string]string{"A": "  x  "}},
		{"double quoted escapes", `A="n\n r\r t\t q\" b\\ d\$ g\` + "`" + ` e\! s\'"`, map[string]string{"A": "n\n r\r t\t q\" b\\ d$ g` e! s'"}},
		{"double quoted unknown escape kept", `A="\q\x41\0"`, map[string]string{"A": `\q\x41\0`}},
		{"double quoted no expansion", `A="$HOME ${X} $(id)"`, map[string]string{"A": "$HOME ${X} $(id)"}},
		{"double quoted multi-line", "A=\"line1\nline2\n\"\nB=2\n", map[string]string{"A": "line1\nline2\n", "B": "2"}},
		{"single quoted multi-line", "A='line1\n\nline3'\nB=2", map[string]string{"A": "line1\n\nline3", "B": "2"}},
		{"CRLF", "A=1\r\nB='two'\r\nC=\"three\"\r\n\r\n# c\r\nD=four # c\r\n", map[string]string{"A": "1", "B": "two", "C": "three", "D": "four"}},
		{"CRLF inside quotes", "A=\"l1\r\nl2\"\r\nB='m1\r\nm2'\r\n", map[string]string{"A": "l1\nl2", "B": "m1\nm2"}},
		{"escaped CR kept", `A="a\r\nb"`, map[string]string{"A": "a\r\nb"}},
		{"BOM", "\uFEFFA=1\nB=2", map[string]string{"A": "1", "B": "2"}},
		{"BOM then comment", "\uFEFF# c\nA=1", map[string]string{"A": "1"}},
		{"unicode", "A=caf\u00e9\nB=\"\u65e5\u672c\U0001F600\"", map[string]string{"A": "caf\u00e9", "B": "\u65e5\u672c\U0001F600"}},
		{"tabs", "A=\tx\t\nB=\"\ty\t\"", map[string]string{"A": "x", "B": "\ty\t"}},
		{"last wins", "A=1\nA=2", map[string]string{"A": "2"}},
		{"case sensitive keys", "a=1\nA=2", map[string]string{"a": "1", "A": "2"}},
	}
	for _, tt := range tests {
		got, err := ParseEnvfile([]byte(tt.in))
		if err != nil {
			t.Errorf("%s: ParseEnvfile(%q) error: %v", tt.name, tt.in, err)
			continue
		}
		if !maps.Equal(got, tt.want) || got == nil {
			t.Errorf("%s: ParseEnvfile(%q)\n got %q\nwant %q", tt.name, tt.in, got, tt.want)
		}
	}
}

func TestParseEnvfileErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		line int
		want string // substring of the message besides the line
	}{
		{"no equals", "A=1\nnoequals\n", 2, `expected KEY=value, got "noequals"`},
		{"no equals at end", "A=1\n\nB", 3, "expected KEY=value"},
		{"export without value", "export A\n", 1, "expected KEY=value"},
		{"bad key digit", "A=1\n\n1BAD=x\n", 3, "Invalid key name"},
		{"bad key dash", "# c\nA-B=1", 2, "Invalid key name"},
		{"bad key space", "A B=1", 1, "Invalid key name"},
		{"empty key", "=1", 1, "Invalid key name"},
		{"quoted key", `"A"=1`, 1, "Invalid key name"},
		{"unterminated single", "A=1\nB='abc\nC=2\n", 2, "unterminated single-quoted"},
		{"unterminated double", "A=1\n# c\nB=\"abc\nmore\n", 3, "unterminated double-quoted"},
		{"unterminated double after escape", "A=\"abc\\", 1, "unterminated double-quoted"},
		{"junk after double", "A=\"x\"junk", 1, "unexpected text after the closing quote"},
		{"junk after single", "A=1\nB='x' junk\n", 2, "unexpected text after the closing quote"},
		{"junk after multi-line", "A='l1\nl2'x\n", 2, "unexpected text after the closing quote"},
		{"error after multi-line value", "A=\"l1\nl2\"\nB='x\ny'\nbad line\n", 5, "expected KEY=value"},
		{"CRLF error line", "A=1\r\n\r\nbad\r\n", 3, "expected KEY=value"},
		{"NUL in value", "A=1\nB=a\x00b\n", 2, "NUL"},
		{"invalid UTF-8", "A=1\nB=\"\xff\"\n", 2, "not valid UTF-8"},
		{"bad value in multi-line double", "A=1\nB=\"l1\nl2\xff\nl3\"\nC=2\n", 2, "not valid UTF-8"},
		{"NUL in multi-line single", "A=1\nB='l1\nl2\x00'\n", 2, "NUL"},
		{"unterminated double ending in backslash", "A=1\nB=\"l1\nl2\\", 2, "unterminated double-quoted"},
	}
	for _, tt := range tests {
		got, err := ParseEnvfile([]byte(tt.in))
		if err == nil {
			t.Errorf("%s: ParseEnvfile(%q) = %q, want an error", tt.name, tt.in, got)
			continue
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: error %v does not match ErrInvalid", tt.name, err)
		}
		msg := err.Error()
		if !strings.Contains(msg, fmt.Sprintf("line %d:", tt.line)) || !strings.Contains(msg, tt.want) {
			t.Errorf("%s: ParseEnvfile(%q) error %q, want line %d and %q", tt.name, tt.in, msg, tt.line, tt.want)
		}
		if got != nil {
			t.Errorf("%s: ParseEnvfile returned %q with its error", tt.name, got)
		}
	}
}

func TestParseJSONVars(t *testing.T) {
	t.Parallel()
	good := []struct {
		in   string
		want map[string]string
	}{
		{`{}`, map[string]string{}},
		{` { "A" : "1" } `, map[string]string{"A": "1"}},
		{`{"A":"","B":"l1\nl2","C":"\u00e9\ud83d\ude00","D":"\"'\\$"}`, map[string]string{"A": "", "B": "l1\nl2", "C": "\u00e9\U0001F600", "D": `"'\$`}},
		{"{\"A\":\"1\"}\n", map[string]string{"A": "1"}},
	}
	for _, tt := range good {
		got, err := ParseJSONVars([]byte(tt.in))
		if err != nil || !maps.Equal(got, tt.want) || got == nil {
			t.Errorf("ParseJSONVars(%s) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	bad := []struct{ in, want string }{
		{``, "Invalid JSON"},
		{`null`, "Invalid JSON"},
		{`[]`, "Invalid JSON"},
		{`[{"name":"A","value":"1"}]`, "Invalid JSON"},
		{`"A=1"`, "Invalid JSON"},
		{`42`, "Invalid JSON"},
		{`true`, "Invalid JSON"},
		{`{"A":1}`, "value of A is not a string"},
		{`{"A":null}`, "value of A is not a string"},
		{`{"A":true}`, "value of A is not a string"},
		{`{"A":["x"]}`, "value of A is not a string"},
		{`{"A":{"B":"c"}}`, "value of A is not a string"},
		{`{"A":"1"`, "Invalid JSON"},
		{`{"A":"1"} {}`, "Invalid JSON"},
		{`{"A-B":"1"}`, "Invalid key name"},
		{`{"":"1"}`, "Invalid key name"},
		{`{"A":"a\u0000b"}`, "NUL"},
	}
	for _, tt := range bad {
		got, err := ParseJSONVars([]byte(tt.in))
		if err == nil {
			t.Errorf("ParseJSONVars(%s) = %q, want an error", tt.in, got)
			continue
		}
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseJSONVars(%s) error %q, want an ErrInvalid containing %q", tt.in, err, tt.want)
		}
	}
}

// validVars turns arbitrary fuzz input into valid vars: a bad key becomes K,
// and values are made valid UTF-8 without NUL.
func validVars(key, v1, v2 string) map[string]string {
	if ValidateKey(key) != nil {
		key = "K"
	}
	fix := func(v string) string {
		return strings.ReplaceAll(strings.ToValidUTF8(v, "\uFFFD"), "\x00", "0")
	}
	return map[string]string{key: fix(v1), "Z_OTHER": fix(v2)}
}

func FuzzEnvfileRoundTrip(f *testing.F) {
	for _, p := range nastyPieces {
		f.Add("K", p, p+p)
	}
	f.Add("A", "it's \"quoted\" \\ $x `y`", "l1\r\nl2\n")
	f.Add("export", "export A=1", "# not a comment")
	f.Add("_", "\uFEFF\x00\xff", "'\\''")
	f.Add("Z_OTHER", "x", "y")
	f.Fuzz(func(t *testing.T, key, v1, v2 string) {
		vars := validVars(key, v1, v2)
		if err := ValidateVars(vars); err != nil {
			t.Fatalf("validVars made invalid vars: %v", err)
		}
		out, err := Export(vars, "envfile")
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseEnvfile([]byte(out))
		if err != nil {
			t.Fatalf("ParseEnvfile(%q): %v", out, err)
		}
		if !maps.Equal(got, vars) {
			t.Fatalf("envfile %q\nparsed %q\n  want %q", out, got, vars)
		}
		out, err = Export(vars, "json")
		if err != nil {
			t.Fatal(err)
		}
		got, err = ParseJSONVars([]byte(out))
		if err != nil || !maps.Equal(got, vars) {
			t.Fatalf("json %q\nparsed %q, %v\n  want %q", out, got, err, vars)
		}
	})
}

// FuzzParseEnvfile feeds arbitrary bytes to ParseEnvfile: it must not panic,
// whatever it accepts must be valid, and what it accepts must survive an
// export and a second parse unchanged.
func FuzzParseEnvfile(f *testing.F) {
	for _, s := range []string{
		"A=1\n", "export A='x'\n", "A=\"a\\nb\"\r\n", "\uFEFF# c\nA=b # c\n", "A='x\ny'\nB=\"\\\"\"",
		"A=\"", "A='", "A=\"x\"y", "=", "\n\r\n", "A=\\", "A=\"\\", "\x00=", "A=\xff",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		vars, err := ParseEnvfile(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "line ") {
				t.Fatalf("ParseEnvfile(%q) error %v: not an ErrInvalid naming a line", data, err)
			}
			return
		}
		if err := ValidateVars(vars); err != nil {
			t.Fatalf("ParseEnvfile(%q) accepted invalid vars %q: %v", data, vars, err)
		}
		for k, v := range vars {
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				t.Fatalf("invalid UTF-8 in %q=%q", k, v)
			}
		}
		out, _ := Export(vars, "envfile")
		again, err := ParseEnvfile([]byte(out))
		if err != nil || !maps.Equal(again, vars) {
			t.Fatalf("ParseEnvfile(%q) = %q; exported %q; reparsed %q, %v", data, vars, out, again, err)
		}
	})
}
