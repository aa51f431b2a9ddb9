package appfile

import (
	"regexp"
	"strings"
	"sync"
)

func (d *jsonDoc) healthchecks(n *jsonNode) (map[string][]Healthcheck, error) {
	out := map[string][]Healthcheck{}
	err := d.processTypeMap(n, "healthchecks", func(typ string, v *jsonNode) error {
		path := "healthchecks." + typ
		var checks []Healthcheck
		if v.kind != jsonNull {
			if err := d.wantKind(v, path, jsonArray); err != nil {
				return err
			}
			for i, cn := range v.arr {
				hc, err := d.healthcheck(cn, index(path, i))
				if err != nil {
					return err
				}
				checks = append(checks, hc)
			}
		}
		out[typ] = checks
		return nil
	})
	return out, err
}

func (d *jsonDoc) healthcheck(n *jsonNode, path string) (Healthcheck, error) {
	var h Healthcheck
	if err := d.wantKind(n, path, jsonObject); err != nil {
		return h, err
	}
	f, err := d.fields(n, path, "type", "name", "path", "content", "attempts", "timeout", "wait",
		"initialDelay", "port", "scheme", "httpHeaders", "command", "uptime", "listening", "warn")
	if err != nil {
		return h, err
	}
	if v := f["type"]; v != nil {
		if h.Type, err = d.str(v, path+".type"); err != nil {
			return h, err
		}
		switch h.Type {
		case "", HealthcheckStartup, HealthcheckLiveness, HealthcheckReadiness:
		default:
			return h, d.errAt(v.off, "%s.type must be %q, %q or %q, not %s", path,
				HealthcheckStartup, HealthcheckLiveness, HealthcheckReadiness, quote(h.Type))
		}
	}
	if v := f["name"]; v != nil {
		if h.Name, err = d.text(v, path+".name"); err != nil {
			return h, err
		}
	}
	if v := f["path"]; v != nil {
		if h.Path, err = d.text(v, path+".path"); err != nil {
			return h, err
		}
		if h.Path != "" && !strings.HasPrefix(h.Path, "/") {
			return h, d.errAt(v.off, "%s.path must start with \"/\", not %s", path, quote(h.Path))
		}
	}
	if v := f["content"]; v != nil {
		if h.Content, err = d.str(v, path+".content"); err != nil {
			return h, err
		}
	}
	for _, p := range []struct {
		name string
		dst  **int
	}{{"attempts", &h.Attempts}, {"timeout", &h.Timeout}, {"wait", &h.Wait}, {"initialDelay", &h.InitialDelay}} {
		if v := f[p.name]; v != nil {
			n, err := d.nonNegInt(v, path+"."+p.name)
			if err != nil {
				return h, err
			}
			*p.dst = &n
		}
	}
	if v := f["uptime"]; v != nil {
		if h.Uptime, err = d.nonNegInt(v, path+".uptime"); err != nil {
			return h, err
		}
	}
	if v := f["port"]; v != nil {
		if h.Port, err = d.nonNegInt(v, path+".port"); err != nil {
			return h, err
		}
		if h.Port > 65535 {
			return h, d.errAt(v.off, "%s.port must be a port number (1 to 65535)", path)
		}
	}
	if v := f["scheme"]; v != nil {
		if h.Scheme, err = d.str(v, path+".scheme"); err != nil {
			return h, err
		}
		switch strings.ToLower(h.Scheme) {
		case "", "http", "https":
			h.Scheme = strings.ToLower(h.Scheme)
		default:
			return h, d.errAt(v.off, "%s.scheme must be \"http\" or \"https\", not %s", path, quote(h.Scheme))
		}
	}
	if v := f["httpHeaders"]; v != nil {
		if h.HTTPHeaders, err = d.headers(v, path+".httpHeaders"); err != nil {
			return h, err
		}
	}
	if v := f["command"]; v != nil {
		if h.Command, err = d.argv(v, path+".command"); err != nil {
			return h, err
		}
	}
	if v := f["listening"]; v != nil {
		if h.Listening, err = d.boolean(v, path+".listening"); err != nil {
			return h, err
		}
	}
	if v := f["warn"]; v != nil {
		if h.Warn, err = d.boolean(v, path+".warn"); err != nil {
			return h, err
		}
	}

	// One kind per check, as docker-container-healthchecker requires.
	var kinds []string
	if h.Path != "" {
		kinds = append(kinds, "path")
	}
	if len(h.Command) > 0 {
		kinds = append(kinds, "command")
	}
	if h.Uptime > 0 {
		kinds = append(kinds, "uptime")
	}
	if h.Listening {
		kinds = append(kinds, "listening")
	}
	if len(kinds) > 1 {
		return h, d.errAt(n.off, "%s sets both %q and %q; a check does one thing: split it into two checks", path, kinds[0], kinds[1])
	}
	if h.Path == "" {
		for _, name := range []string{"content", "scheme", "httpHeaders"} {
			if v := f[name]; v != nil {
				return h, d.errAt(v.off, "%s.%s is only used by path checks; set %s.path too", path, name, path)
			}
		}
	}
	return h, nil
}

// headerNameRE is an HTTP header field name (a token, RFC 9110).
var headerNameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$") })

func (d *jsonDoc) headers(n *jsonNode, path string) ([]HTTPHeader, error) {
	if err := d.wantKind(n, path, jsonArray); err != nil {
		return nil, err
	}
	var out []HTTPHeader
	for i, hn := range n.arr {
		p := index(path, i)
		if err := d.wantKind(hn, p, jsonObject); err != nil {
			return nil, err
		}
		f, err := d.fields(hn, p, "name", "value")
		if err != nil {
			return nil, err
		}
		var h HTTPHeader
		if v := f["name"]; v != nil {
			if h.Name, err = d.str(v, p+".name"); err != nil {
				return nil, err
			}
		}
		if !headerNameRE().MatchString(h.Name) {
			return nil, d.errAt(hn.off, "%s.name must be an HTTP header name such as \"Host\", not %s", p, quote(h.Name))
		}
		if v := f["value"]; v != nil {
			if h.Value, err = d.text(v, p+".value"); err != nil {
				return nil, err
			}
		}
		out = append(out, h)
	}
	return out, nil
}

// argv reads a check's command: a list of strings (the argv), or a string,
// which is a shell command line run as /bin/sh -c.
func (d *jsonDoc) argv(n *jsonNode, path string) ([]string, error) {
	switch n.kind {
	case jsonString:
		s, err := d.command(n, path)
		if err != nil {
			return nil, err
		}
		if s == "" {
			return nil, d.errAt(n.off, "%s must not be empty", path)
		}
		return []string{"/bin/sh", "-c", s}, nil
	case jsonArray:
		var out []string
		for i, an := range n.arr {
			p := index(path, i)
			s, err := d.str(an, p)
			if err != nil {
				return nil, err
			}
			if why := checkArg(s); why != "" {
				return nil, d.errAt(an.off, "%s %s", p, why)
			}
			if i == 0 && strings.TrimSpace(s) == "" {
				return nil, d.errAt(an.off, "%s (the program) must not be empty", p)
			}
			out = append(out, s)
		}
		return out, nil
	default:
		return nil, d.errAt(n.off, "%s must be a list of strings or a string, not %s", path, n.kind)
	}
}
