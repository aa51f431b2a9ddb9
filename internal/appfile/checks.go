package appfile

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// Checks is a parsed legacy CHECKS file: its settings and its HTTP checks.
// Current Dokku converts such a file into app.json healthchecks for the web
// process type; ToHealthchecks does the same, so a check runner has one
// model.
type Checks struct {
	// Wait is the WAIT setting: seconds slept before each attempt
	// (including the first); nil when the file does not set it.
	Wait *int
	// Timeout is the TIMEOUT setting: seconds before an attempt times out;
	// nil when not set.
	Timeout *int
	// Attempts is the ATTEMPTS setting; nil when not set.
	Attempts *int
	// Checks are the check lines, in file order.
	Checks []Check
}

// Check is one check line of a CHECKS file: an HTTP GET sent to the web
// container, whose body must contain Content.
type Check struct {
	// Line is the 1-based line of the CHECKS file.
	Line int
	// Scheme is "http" or "https".
	Scheme string
	// Host is sent as the Host header; empty for a plain "/path" line.
	Host string
	// Path is the request path, starting with "/" (query included).
	Path string
	// Content must appear in the response body; empty means any body.
	Content string
}

// settingRE matches the start of a "NAME=VALUE" settings line.
var settingRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)\s*=`) })

// hostRE is what may follow "//" up to the path: a host name or address,
// with an optional port.
var hostRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9._\-\[\]:]+$`) })

// ParseChecks parses a legacy CHECKS file. Its lines are, after blanks are
// trimmed:
//
//   - empty, or a comment starting with "#";
//   - a setting: WAIT=n (seconds before each attempt, n >= 0), TIMEOUT=n
//     (seconds, n >= 1) or ATTEMPTS=n (n >= 1), optionally followed by a
//     "#" comment. Each may appear once and applies to every check;
//   - a check: a target, then optionally blanks and the expected content,
//     which is the rest of the line (trimmed, "#" included: Dokku never
//     treated it as a comment there). Targets are "/path", "//host/path"
//     (host sent as the Host header), "http://host/path" or
//     "https://host/path" (also choosing the scheme); "http:/path" and
//     "https:/path" give a scheme without a host. A missing path is "/".
//
// Dokku skipped lines it did not understand and ignored unknown settings;
// Berth reports them, with the line, so that a typo cannot silently drop a
// check. Dokku's templating of CHECKS ({{ var "X" }}) is done before, by
// RenderChecks; a template left in data is an error.
// A file with no checks is valid: the default uptime check applies.
func ParseChecks(data []byte) (Checks, error) {
	var c Checks
	settingLine := map[string]int{}
	for i, raw := range splitLines(data) {
		n := i + 1
		line := strings.TrimSpace(raw)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.Contains(line, "{{") {
			return Checks{}, lineErr(ChecksFileName, n, "a template ({{ ... }}) that was not expanded")
		}
		if m := settingRE().FindStringSubmatch(line); m != nil {
			name := m[1]
			value := line[len(m[0]):]
			if j := strings.IndexByte(value, '#'); j >= 0 {
				value = value[:j]
			}
			value = strings.TrimSpace(value)
			var dst **int
			least := 1
			switch name {
			case "WAIT":
				dst, least = &c.Wait, 0
			case "TIMEOUT":
				dst = &c.Timeout
			case "ATTEMPTS":
				dst = &c.Attempts
			default:
				return Checks{}, lineErr(ChecksFileName, n, "unknown setting %s: the settings are WAIT, TIMEOUT and ATTEMPTS", quote(name))
			}
			if first, dup := settingLine[name]; dup {
				return Checks{}, lineErr(ChecksFileName, n, "%s is set twice (first on line %d)", name, first)
			}
			v, ok := parseCount(value)
			if !ok || v < least {
				return Checks{}, lineErr(ChecksFileName, n, "invalid %s value %s: must be a whole number from %d to %d", name, quote(value), least, maxJSONInt)
			}
			settingLine[name] = n
			*dst = &v
			continue
		}
		check, err := parseCheckLine(line, n)
		if err != nil {
			return Checks{}, err
		}
		c.Checks = append(c.Checks, check)
	}
	return c, nil
}

func parseCheckLine(line string, n int) (Check, error) {
	target, content := line, ""
	if j := strings.IndexAny(line, " \t"); j >= 0 {
		target, content = line[:j], strings.TrimSpace(line[j:])
	}
	ch := Check{Line: n, Scheme: "http", Content: content}
	rest := target
	switch {
	case hasPrefixFold(target, "https:"):
		ch.Scheme, rest = "https", target[len("https:"):]
	case hasPrefixFold(target, "http:"):
		rest = target[len("http:"):]
	}
	if !strings.HasPrefix(rest, "/") {
		return Check{}, lineErr(ChecksFileName, n, "expected a check (\"/path\", \"//host/path\" or \"https://host/path\", then the expected content) or a setting (WAIT=, TIMEOUT=, ATTEMPTS=), found %s", quote(line))
	}
	if hostPath, ok := strings.CutPrefix(rest, "//"); ok {
		host, path := hostPath, "/"
		if j := strings.IndexByte(hostPath, '/'); j >= 0 {
			host, path = hostPath[:j], hostPath[j:]
		}
		if host == "" {
			return Check{}, lineErr(ChecksFileName, n, "missing host name after \"//\" in %s", quote(target))
		}
		if !hostRE().MatchString(host) {
			return Check{}, lineErr(ChecksFileName, n, "invalid host name %s in %s", quote(host), quote(target))
		}
		ch.Host, rest = host, path
	}
	if why := checkText(rest); why != "" {
		return Check{}, lineErr(ChecksFileName, n, "path %s %s", quote(rest), why)
	}
	ch.Path = rest
	return ch, nil
}

// ToHealthchecks converts the checks to app.json healthchecks for the web
// process type, as Dokku's CHECKS conversion does: one startup path check per
// line, named "check-1", "check-2", ..., with the Host header and scheme of
// its target, and the file's settings.
//
// WAIT keeps its legacy meaning, a pause before every attempt, so it sets
// both Wait and InitialDelay (DefaultWait, 5 s, when the file has no WAIT:
// legacy Dokku also waited 5 s before the first attempt). TIMEOUT and
// ATTEMPTS are copied when set; otherwise the healthcheck defaults apply
// (5 s and 3 attempts, as in current Dokku; Dokku before 0.31 used 30 s and
// 5 attempts). It returns nil when there are no checks.
func (c Checks) ToHealthchecks() []Healthcheck {
	if len(c.Checks) == 0 {
		return nil
	}
	wait := DefaultWait
	if c.Wait != nil {
		wait = *c.Wait
	}
	out := make([]Healthcheck, 0, len(c.Checks))
	for i, ch := range c.Checks {
		h := Healthcheck{
			Type:         HealthcheckStartup,
			Name:         fmt.Sprintf("check-%d", i+1),
			Path:         ch.Path,
			Content:      ch.Content,
			Scheme:       ch.Scheme,
			Attempts:     clonePtr(c.Attempts),
			Timeout:      clonePtr(c.Timeout),
			Wait:         clonePtr(&wait),
			InitialDelay: clonePtr(&wait),
			DefaultDelay: c.Wait == nil,
		}
		if ch.Host != "" {
			h.HTTPHeaders = []HTTPHeader{{Name: "Host", Value: ch.Host}}
		}
		out = append(out, h)
	}
	return out
}

// hasPrefixFold reports whether s starts with the lower-case ASCII prefix,
// ignoring ASCII case.
func hasPrefixFold(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}

func clonePtr(p *int) *int {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
