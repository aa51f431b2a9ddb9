package appfile

import (
	"fmt"
	"strings"
)

// MaxProcessTypeLength is the longest process type accepted: a DNS label.
const MaxProcessTypeLength = 63

// Process is one "type: command" line of a Procfile.
type Process struct {
	// Type is the process type, a DNS label such as "web" or "worker".
	Type string
	// Command is the command line with surrounding blanks and a trailing
	// shell comment removed; $VARS are not expanded (see ExpandCommand).
	Command string
	// Line is the 1-based line of the Procfile the process was declared on.
	Line int
}

// Procfile is a parsed Procfile: its process types in file order. The zero
// value is an empty Procfile (an app without one runs the image's CMD as
// web).
type Procfile struct {
	Processes []Process
}

// Lookup returns the process of the given type, if the Procfile declares it.
func (p Procfile) Lookup(processType string) (Process, bool) {
	for _, proc := range p.Processes {
		if proc.Type == processType {
			return proc, true
		}
	}
	return Process{}, false
}

// Types returns the declared process types in file order.
func (p Procfile) Types() []string {
	types := make([]string, len(p.Processes))
	for i, proc := range p.Processes {
		types[i] = proc.Type
	}
	return types
}

// ParseProcfile parses a Procfile. The rules are Dokku's (procfile-util in
// strict mode):
//
//   - each line is "type: command"; blank lines and lines starting with "#"
//     (or "//", as procfile-util allows) are ignored; CRLF line endings and a
//     UTF-8 byte order mark are accepted;
//   - the type is everything before the first ":" and must be a DNS label
//     (see ValidateProcessType); it may not be repeated;
//   - the command may not be empty. A shell comment at its end (a "#" that
//     starts a word outside quotes, as in `web: ./serve # the site`) is
//     removed, as Dokku does; "a#b", "'#'" and "a\ #b" keep their "#".
//     Unlike procfile-util, a trailing " //..." is kept: it would cut
//     arguments such as "//srv";
//   - the command must be valid UTF-8 without control characters (tab is
//     fine);
//   - a Procfile must declare at least one process type.
//
// Errors are *Error values naming the line.
func ParseProcfile(data []byte) (Procfile, error) {
	var p Procfile
	seen := map[string]int{}
	for i, raw := range splitLines(data) {
		n := i + 1
		line := strings.TrimSpace(raw)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "//") {
			continue
		}
		typ, cmd, ok := strings.Cut(line, ":")
		if !ok {
			return Procfile{}, lineErr(ProcfileName, n, "expected \"type: command\", found no ':' in %s", quote(line))
		}
		if err := ValidateProcessType(typ); err != nil {
			return Procfile{}, lineErr(ProcfileName, n, "%s", err)
		}
		if first, dup := seen[typ]; dup {
			return Procfile{}, lineErr(ProcfileName, n, "duplicate process type %q (first declared on line %d)", typ, first)
		}
		cmd = strings.TrimSpace(stripShellComment(strings.TrimSpace(cmd)))
		if cmd == "" {
			return Procfile{}, lineErr(ProcfileName, n, "empty command for process type %q", typ)
		}
		if why := checkText(cmd); why != "" {
			return Procfile{}, lineErr(ProcfileName, n, "command for process type %q %s", typ, why)
		}
		seen[typ] = n
		p.Processes = append(p.Processes, Process{Type: typ, Command: cmd, Line: n})
	}
	if len(p.Processes) == 0 {
		return Procfile{}, &Error{File: ProcfileName, Msg: "no process types declared; add a line such as \"web: ./start-server\" or remove the file"}
	}
	return p, nil
}

// ValidateProcessType checks a process type name: a DNS label of lower-case
// letters, digits and "-", 1 to 63 characters, not starting or ending with
// "-". The same rule applies to process types in app.json, DOKKU_SCALE and
// ps:scale.
func ValidateProcessType(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("empty process type")
	case len(name) > MaxProcessTypeLength:
		return fmt.Errorf("invalid process type %s: longer than %d characters", quote(name), MaxProcessTypeLength)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("invalid process type %s: use only lower-case letters, digits and '-' (a DNS label, such as \"web\" or \"worker-2\")", quote(name))
		}
	}
	if name[0] == '-' || name[len(name)-1] == '-' {
		return fmt.Errorf("invalid process type %s: must not start or end with '-'", quote(name))
	}
	return nil
}

// stripShellComment removes a trailing comment the way a POSIX shell would
// see it: a "#" at the start of a word (at the start of s, or after an
// unescaped blank) that is not inside single or double quotes.
func stripShellComment(s string) string {
	var inSingle, inDouble, escaped bool
	wordStart := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		blank := false
		switch {
		case escaped:
			escaped = false
		case inSingle:
			inSingle = c != '\''
		case c == '\\':
			escaped = true
		case inDouble:
			inDouble = c != '"'
		case c == '\'':
			inSingle = true
		case c == '"':
			inDouble = true
		case c == '#' && wordStart:
			return s[:i]
		case c == ' ' || c == '\t':
			blank = true
		}
		wordStart = blank
	}
	return s
}

// ExpandCommand expands config vars in a Procfile command before it is run,
// as Dokku does for $PORT and the app's config:
//
//   - $NAME and ${NAME}, where NAME matches [A-Za-z_][A-Za-z0-9_]*, become
//     env[NAME]; a name not in env becomes the empty string (as in Dokku,
//     which expands with Go's os.Expand);
//   - $$ becomes a single "$". This is Berth's escape for a "$" meant for
//     the container's shell ("$$HOME" reaches the shell as "$HOME"). Dokku's
//     os.Expand turns "$$" into an empty string, which nobody relies on;
//   - anything else after "$" is left as is for the shell: "$(cmd)", "$1",
//     "$@", "${VAR:-default}", a "$" at the end, an unclosed "${".
//
// Expansion does not look at quotes: '$VAR' is expanded too, as in Dokku.
func ExpandCommand(cmd string, env map[string]string) string {
	if !strings.Contains(cmd, "$") {
		return cmd
	}
	var b strings.Builder
	b.Grow(len(cmd))
	for i := 0; i < len(cmd); {
		c := cmd[i]
		if c != '$' || i+1 == len(cmd) {
			b.WriteByte(c)
			i++
			continue
		}
		next := cmd[i+1]
		switch {
		case next == '$':
			b.WriteByte('$')
			i += 2
		case next == '{':
			end := strings.IndexByte(cmd[i+2:], '}')
			if end >= 0 && isVarName(cmd[i+2:i+2+end]) {
				b.WriteString(env[cmd[i+2:i+2+end]])
				i += 2 + end + 1
			} else {
				b.WriteByte('$')
				i++
			}
		case isVarStart(next):
			j := i + 2
			for j < len(cmd) && isVarChar(cmd[j]) {
				j++
			}
			b.WriteString(env[cmd[i+1:j]])
			i = j
		default:
			b.WriteByte('$')
			i++
		}
	}
	return b.String()
}

func isVarStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

func isVarChar(c byte) bool {
	return isVarStart(c) || c >= '0' && c <= '9'
}

func isVarName(s string) bool {
	if s == "" || !isVarStart(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isVarChar(s[i]) {
			return false
		}
	}
	return true
}

// maxQuoted bounds how much of a user's text is repeated in an error
// message, so that a bad line cannot flood the deploy output.
const maxQuoted = 64

// quote returns s as a Go-quoted string, cut to maxQuoted bytes (on a rune
// boundary) with "..." appended when longer.
func quote(s string) string {
	if len(s) <= maxQuoted {
		return fmt.Sprintf("%q", s)
	}
	cut := maxQuoted
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%q...", s[:cut])
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
