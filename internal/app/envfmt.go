package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// ExportFormats lists the formats config:export accepts, in the order help
// shows them.
var ExportFormats = []string{"exports", "envfile", "docker-args", "docker-args-keys", "shell", "json", "json-list", "pretty"}

// SortedKeys returns the keys of vars in byte order (upper case first), the
// order every listing uses.
func SortedKeys(vars map[string]string) []string {
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ShellQuote quotes s for a POSIX shell with single quotes, writing each
// single quote inside s as
//
//	'\''
func ShellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Export renders vars in one of ExportFormats. The result carries no trailing
// newline except where the format itself ends lines; callers add the
// terminator Dokku prints.
func Export(vars map[string]string, format string) (string, error) {
	keys := SortedKeys(vars)
	var b strings.Builder
	switch format {
	case "exports":
		for i, k := range keys {
			if i > 0 {
				b.WriteByte('\n')
			}
			b.WriteString("export " + k + "=" + ShellQuote(vars[k]))
		}
	case "envfile":
		for i, k := range keys {
			if i > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(k + "=" + envfileQuote(vars[k]))
		}
	case "docker-args":
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString("--env=" + k + "=" + ShellQuote(vars[k]))
		}
	case "docker-args-keys":
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString("--env=" + k)
		}
	case "shell":
		for _, k := range keys {
			b.WriteString(k + "=" + ShellQuote(vars[k]) + " ")
		}
	case "json":
		if vars == nil {
			vars = map[string]string{} // "{}", not "null"
		}
		out, err := marshalJSON(vars)
		if err != nil {
			return "", err
		}
		b.Write(out)
	case "json-list":
		type pair struct {
			Name  string `json:"name"`
			Value string `json:"value"`
		}
		list := make([]pair, 0, len(keys))
		for _, k := range keys {
			list = append(list, pair{k, vars[k]})
		}
		out, err := marshalJSON(list)
		if err != nil {
			return "", err
		}
		b.Write(out)
	case "pretty":
		b.WriteString(Pretty(vars, ""))
	default:
		return "", Invalidf("Unknown export format: %s; use one of %s", format, strings.Join(ExportFormats, ", "))
	}
	return b.String(), nil
}

// marshalJSON encodes v without HTML escaping, so values print as typed.
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Pretty renders vars as "KEY:  value" lines with the values aligned in one
// column, each line starting with prefix, as config:show prints them.
func Pretty(vars map[string]string, prefix string) string {
	keys := SortedKeys(vars)
	width := 0
	for _, k := range keys {
		width = max(width, len(k)+1)
	}
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s%-*s  %s", prefix, width, k+":", vars[k])
	}
	return b.String()
}

// envfileQuote writes v as a double-quoted envfile value that ParseEnvfile
// reads back byte for byte.
func envfileQuote(v string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range v {
		switch r {
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		case '$':
			b.WriteString(`\$`)
		case '`':
			b.WriteString("\\`")
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// ParseEnvfile reads a dotenv file: KEY=value lines, optionally prefixed by
// "export ", with # comments and blank lines. Values may be unquoted (trimmed,
// a " #" starts a comment), single-quoted (literal) or double-quoted (escapes
// \n \r \t \" \\ \$ \` and literal newlines). CRLF line ends are read as
// LF, inside quotes too. Variables are never expanded: what is in the file is
// what is stored.
func ParseEnvfile(data []byte) (map[string]string, error) {
	p := &envParser{src: strings.ReplaceAll(string(data), "\r\n", "\n"), line: 1}
	return p.parse()
}

type envParser struct {
	src  string
	pos  int
	line int
}

func (p *envParser) errorf(format string, args ...any) error {
	return Invalidf("Invalid envfile at line %d: %s", p.line, fmt.Sprintf(format, args...))
}

func (p *envParser) peek() byte {
	if p.pos < len(p.src) {
		return p.src[p.pos]
	}
	return 0
}

func (p *envParser) eof() bool { return p.pos >= len(p.src) }

func (p *envParser) skipBlanks() {
	for !p.eof() && (p.peek() == ' ' || p.peek() == '\t') {
		p.pos++
	}
}

func (p *envParser) skipLine() {
	for !p.eof() && p.peek() != '\n' {
		p.pos++
	}
	if !p.eof() {
		p.pos++
		p.line++
	}
}

func (p *envParser) parse() (map[string]string, error) {
	out := map[string]string{}
	if strings.HasPrefix(p.src, "\uFEFF") {
		p.pos = len("\uFEFF")
	}
	for !p.eof() {
		p.skipBlanks()
		switch p.peek() {
		case '\n', '\r':
			p.skipLine()
			continue
		case '#':
			p.skipLine()
			continue
		case 0:
			if p.eof() {
				return out, nil
			}
		}
		start, keyLine := p.pos, p.line
		for !p.eof() && p.peek() != '=' && p.peek() != '\n' {
			p.pos++
		}
		if p.eof() || p.peek() != '=' {
			return nil, p.errorf("expected KEY=value, got %q", strings.TrimSpace(p.src[start:p.pos]))
		}
		key := strings.TrimSpace(p.src[start:p.pos])
		if rest, ok := strings.CutPrefix(key, "export "); ok {
			key = strings.TrimSpace(rest)
		}
		if err := ValidateKey(key); err != nil {
			return nil, p.errorf("%v", err)
		}
		p.pos++ // '='
		p.skipBlanks()
		value, err := p.value()
		if err != nil {
			return nil, err
		}
		if err := ValidateValue(key, value); err != nil {
			p.line = keyLine // the line the value starts on, not where it ends
			return nil, p.errorf("%v", err)
		}
		out[key] = value
	}
	return out, nil
}

func (p *envParser) value() (string, error) {
	switch p.peek() {
	case '\'':
		p.pos++
		end := strings.IndexByte(p.src[p.pos:], '\'')
		if end < 0 {
			return "", p.errorf("unterminated single-quoted value")
		}
		v := p.src[p.pos : p.pos+end]
		p.line += strings.Count(v, "\n")
		p.pos += end + 1
		return v, p.endOfValue()
	case '"':
		p.pos++
		startLine := p.line
		var b strings.Builder
		for {
			if p.eof() {
				p.line = startLine
				return "", p.errorf("unterminated double-quoted value")
			}
			c := p.peek()
			p.pos++
			switch c {
			case '"':
				return b.String(), p.endOfValue()
			case '\\':
				if p.eof() {
					p.line = startLine
					return "", p.errorf("unterminated double-quoted value")
				}
				e := p.peek()
				p.pos++
				switch e {
				case 'n':
					b.WriteByte('\n')
				case 'r':
					b.WriteByte('\r')
				case 't':
					b.WriteByte('\t')
				case '"', '\\', '$', '`', '!', '\'':
					b.WriteByte(e)
				default:
					b.WriteByte('\\')
					b.WriteByte(e)
				}
			case '\n':
				p.line++
				b.WriteByte(c)
			default:
				b.WriteByte(c)
			}
		}
	default:
		start := p.pos
		for !p.eof() && p.peek() != '\n' {
			p.pos++
		}
		v := p.src[start:p.pos]
		if i := strings.Index(v, " #"); i >= 0 {
			v = v[:i]
		}
		v = strings.TrimRight(v, " \t\r")
		return v, nil
	}
}

// endOfValue accepts blanks and a comment after a quoted value.
func (p *envParser) endOfValue() error {
	p.skipBlanks()
	switch {
	case p.eof():
		return nil
	case p.peek() == '\r' || p.peek() == '\n' || p.peek() == '#':
		p.skipLine()
		return nil
	}
	return p.errorf("unexpected text after the closing quote")
}

// ParseJSONVars reads a JSON object of string values, as config:import
// --format json takes and config:export --format json writes.
func ParseJSONVars(data []byte) (map[string]string, error) {
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, Invalidf("Invalid JSON: %v; expected an object of string values", err)
	}
	if raw == nil { // the input was null
		return nil, Invalidf("Invalid JSON: null; expected an object of string values")
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		s, ok := v.(string)
		if !ok {
			return nil, Invalidf("Invalid JSON: value of %s is not a string", k)
		}
		out[k] = s
	}
	return out, ValidateVars(out)
}
