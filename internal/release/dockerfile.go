package release

import (
	"strings"
)

// DockerfileImages returns the images a Dockerfile builds from: each FROM's
// image and each `COPY --from=` (or `RUN --mount=...,from=`) that names an
// image rather than an earlier stage, in order, each once. ARG defaults
// declared before the first FROM (and args, the build arguments, which
// override them) are substituted for $NAME and ${NAME} simply; a reference
// still holding a "$" after that is returned as it is. "scratch" is left
// out. Continuation lines (a trailing backslash) are joined; comments are
// skipped.
func DockerfileImages(dockerfile []byte, args map[string]string) []string {
	vars := map[string]string{}
	stages := map[string]bool{}
	var out []string
	seen := map[string]bool{}
	add := func(ref string) {
		ref = expandArgs(ref, vars)
		if ref == "" || strings.EqualFold(ref, "scratch") || stages[strings.ToLower(ref)] || seen[ref] {
			return
		}
		if isDigits(ref) {
			return // a stage by index
		}
		seen[ref] = true
		out = append(out, ref)
	}
	sawFrom := false
	for _, line := range dockerfileLines(string(dockerfile)) {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		switch strings.ToUpper(fields[0]) {
		case "ARG":
			if sawFrom {
				continue
			}
			for _, f := range fields[1:] {
				k, v, hasDefault := strings.Cut(f, "=")
				if a, ok := args[k]; ok {
					vars[k] = a
				} else if hasDefault {
					vars[k] = strings.Trim(v, `"'`)
				}
			}
		case "FROM":
			sawFrom = true
			rest := fields[1:]
			for len(rest) > 0 && strings.HasPrefix(rest[0], "--") {
				rest = rest[1:]
			}
			if len(rest) == 0 {
				continue
			}
			add(rest[0])
			if len(rest) >= 3 && strings.EqualFold(rest[1], "AS") {
				stages[strings.ToLower(rest[2])] = true
			}
		case "COPY", "ADD", "RUN":
			for _, f := range fields[1:] {
				if !strings.HasPrefix(f, "--") {
					break
				}
				if v, ok := strings.CutPrefix(f, "--from="); ok {
					add(v)
				}
				if v, ok := strings.CutPrefix(f, "--mount="); ok {
					for _, kv := range strings.Split(v, ",") {
						if from, ok := strings.CutPrefix(kv, "from="); ok {
							add(from)
						}
					}
				}
			}
		}
	}
	return out
}

// dockerfileLines joins continuation lines and drops comments and blanks.
func dockerfileLines(s string) []string {
	var lines []string
	var cur strings.Builder
	for _, l := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "#") {
			continue
		}
		if strings.HasSuffix(t, "\\") {
			cur.WriteString(strings.TrimSuffix(t, "\\"))
			cur.WriteByte(' ')
			continue
		}
		cur.WriteString(t)
		if s := strings.TrimSpace(cur.String()); s != "" {
			lines = append(lines, s)
		}
		cur.Reset()
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		lines = append(lines, s)
	}
	return lines
}

// expandArgs replaces $NAME and ${NAME} (also ${NAME:-default}) with vars.
func expandArgs(s string, vars map[string]string) string {
	s = strings.Trim(s, `"'`)
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		if s[i+1] == '{' {
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				b.WriteString(s[i:])
				break
			}
			name := s[i+2 : i+end]
			def := ""
			if n, d, ok := strings.Cut(name, ":-"); ok {
				name, def = n, d
			}
			if v, ok := vars[name]; ok && v != "" {
				b.WriteString(v)
			} else if def != "" {
				b.WriteString(def)
			} else if ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+end+1])
			}
			i += end
			continue
		}
		j := i + 1
		for j < len(s) && (s[j] == '_' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9') {
			j++
		}
		if v, ok := vars[s[i+1:j]]; ok && j > i+1 {
			b.WriteString(v)
		} else {
			b.WriteString(s[i:j])
		}
		i = j - 1
	}
	return b.String()
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}
