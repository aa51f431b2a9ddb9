package appfile

import "strings"

// checkCronCommand reports why s is not a command Dokku's cron plugin
// accepts, or "" when it is one. A cron command is a list of shell words
// (Dokku splits it with mvdan.cc/sh's shell.Fields and runs the words
// without a shell): quotes and backslashes are fine, but operators (;, &,
// |, <, >, parentheses) and command substitution ($(...), `...`) would
// need a shell, so a deploy refuses them instead of running something
// other than what the entry says.
func checkCronCommand(s string) string {
	const hint = "; wrap a pipeline or a sequence in a script, or in sh -c '...'"
	inSingle, inDouble := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inSingle:
			if c == '\'' {
				inSingle = false
			}
		case c == '\\':
			i++
		case inDouble && c == '"':
			inDouble = false
		case c == '`' || (c == '$' && i+1 < len(s) && s[i+1] == '('):
			return "uses command substitution, which needs a shell" + hint
		case inDouble:
		case c == '\'':
			inSingle = true
		case c == '"':
			inDouble = true
		case strings.IndexByte(";&|<>()", c) >= 0:
			return "has the shell operator " + quote(string(c)) + ", which needs a shell" + hint
		}
	}
	if inSingle || inDouble {
		return "has an unterminated quote"
	}
	return ""
}
