package deploy

// SplitWords splits a command line into words with POSIX shell quoting rules
// (no expansion): remote commands over ssh arrive as one string.
func SplitWords(s string) ([]string, error) { return splitWords(s) }
