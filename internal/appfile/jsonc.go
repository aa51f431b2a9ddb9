package appfile

// Dokku reads app.json with comments (its own test apps have `//` lines
// above scripts): JSON with comments, as tsconfig.json and hujson have it.
// The comments are blanked to spaces (newlines kept) before the document is
// parsed, so every error still points at the right line and column.

// blankComments returns data with `//` line comments and `/* */` block
// comments outside strings replaced by spaces. An unterminated block
// comment is left as it is, for the parser to refuse where it starts.
func blankComments(data []byte) []byte {
	var out []byte // copied on the first comment only
	inString, escaped := false, false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		if c == '"' {
			inString = true
			continue
		}
		if c != '/' || i+1 >= len(data) || (data[i+1] != '/' && data[i+1] != '*') {
			continue
		}
		end := commentEnd(data, i)
		if end < 0 {
			break
		}
		if out == nil {
			out = append([]byte(nil), data...)
		}
		for j := i; j < end; j++ {
			if out[j] != '\n' && out[j] != '\r' {
				out[j] = ' '
			}
		}
		i = end - 1
	}
	if out == nil {
		return data
	}
	return out
}

// commentEnd is the offset just past the comment starting at data[i]
// (`//` to the end of its line, `/*` to its `*/`), or -1 for a block
// comment that never ends.
func commentEnd(data []byte, i int) int {
	if data[i+1] == '/' {
		for j := i + 2; j < len(data); j++ {
			if data[j] == '\n' {
				return j
			}
		}
		return len(data)
	}
	for j := i + 2; j+1 < len(data); j++ {
		if data[j] == '*' && data[j+1] == '/' {
			return j + 2
		}
	}
	return -1
}
