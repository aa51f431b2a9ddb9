package appfile

import (
	"strconv"
	"strings"
)

// ParseScale parses a legacy DOKKU_SCALE file: one "type=count" line per
// process type, e.g. "web=1". Blank lines and "#" comments (whole-line or
// trailing) are ignored, as are blanks around the type and the count; CRLF
// line endings are accepted. The type must be a DNS label (see
// ValidateProcessType) and may not be repeated; the count must be a whole
// number from 0 to 2^31-1. Errors are *Error values naming the line.
//
// The result maps each type to its count; it is empty (not nil) for a file
// without entries.
func ParseScale(data []byte) (map[string]int, error) {
	out := map[string]int{}
	seen := map[string]int{}
	for i, raw := range splitLines(data) {
		n := i + 1
		line := raw
		if j := strings.IndexByte(line, '#'); j >= 0 {
			line = line[:j]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		typ, count, ok := strings.Cut(line, "=")
		if !ok {
			return nil, lineErr(ScaleFileName, n, "expected \"type=count\", found no '=' in %s", quote(line))
		}
		typ, count = strings.TrimSpace(typ), strings.TrimSpace(count)
		if err := ValidateProcessType(typ); err != nil {
			return nil, lineErr(ScaleFileName, n, "%s", err)
		}
		if first, dup := seen[typ]; dup {
			return nil, lineErr(ScaleFileName, n, "duplicate process type %q (first set on line %d)", typ, first)
		}
		if count == "" {
			return nil, lineErr(ScaleFileName, n, "missing count for process type %q", typ)
		}
		c, ok := parseCount(count)
		if !ok {
			return nil, lineErr(ScaleFileName, n, "invalid count %s for process type %q: must be a whole number from 0 to %d", quote(count), typ, maxJSONInt)
		}
		seen[typ] = n
		out[typ] = c
	}
	return out, nil
}

// parseCount parses a non-negative decimal number of at most maxJSONInt,
// written with digits only (no sign, no spaces).
func parseCount(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v > maxJSONInt {
		return 0, false
	}
	return int(v), true
}
