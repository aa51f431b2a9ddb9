package appfile

import (
	"bytes"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"
)

// AppJSON is the part of an app.json that Berth uses. Heroku's app.json has
// many more keys (name, description, addons, buildpacks, ...); they are
// ignored.
type AppJSON struct {
	// Scripts are commands run around a deploy.
	Scripts Scripts
	// Formation maps a process type to its scale. A type listed here with a
	// quantity is scaled by app.json, and ps:scale refuses to change it.
	Formation map[string]Formation
	// Healthchecks maps a process type to its checks, in file order.
	Healthchecks map[string][]Healthcheck
	// Env declares config vars the app expects, with defaults.
	Env map[string]EnvSpec
	// Cron lists scheduled commands, in file order.
	Cron []Cron
	// Review is environments.review: what a preview app (previews:*)
	// changes of the app's settings; nil when absent.
	Review *ReviewEnvironment
}

// Scripts holds app.json "scripts". Each is a shell command line run in a
// container of the new image; empty means none.
type Scripts struct {
	// Dokku holds the scripts under "scripts.dokku".
	Dokku DokkuScripts
	// Postdeploy runs once, after the app's first deploy (Heroku's meaning).
	Postdeploy string
}

// DokkuScripts holds app.json "scripts.dokku".
type DokkuScripts struct {
	// Predeploy runs before any new container starts; its changes to the
	// filesystem are committed into the release image, and its failure
	// aborts the deploy.
	Predeploy string
	// Postdeploy runs after every deploy, once traffic has switched.
	Postdeploy string
}

// Formation is the scale of one process type in app.json "formation".
type Formation struct {
	// Quantity is the number of containers; nil when the file does not set
	// it (the scale is then left to ps:scale).
	Quantity *int
	// Size is Heroku's dyno size; kept for reports, Berth ignores it.
	Size string
}

// GeneratorSecret is the only generator app.json "env" allows: a random
// secret (Dokku makes 64 hex characters).
const GeneratorSecret = "secret"

// EnvSpec is one entry of app.json "env". In the file it is either a plain
// string (the default value) or an object.
type EnvSpec struct {
	// Value is the default value, set when the var is unset; nil when the
	// file gives none. An empty string is a value.
	Value *string
	// Description says what the var is for.
	Description string
	// Required means the deploy needs a value: from config, Value or
	// Generator. It defaults to true, as in Dokku and Heroku.
	Required bool
	// Generator is "" or GeneratorSecret. ParseAppJSON refuses an entry
	// that sets both Value and Generator.
	Generator string
	// Sync means Value is set on every deploy, overwriting the current one
	// (Dokku's "sync"); otherwise it only fills an unset var.
	Sync bool
}

// Cron is one entry of app.json "cron": a command run in a one-off container
// of the app on a schedule.
type Cron struct {
	// Command is the command line (a Procfile type's command may be used).
	Command string
	// Schedule is a standard five-field cron expression or a descriptor
	// such as "@daily" or "@every 1h30m", in the server's time zone.
	Schedule string
	// ConcurrencyPolicy is "", "allow", "forbid" or "replace" (Dokku's
	// concurrency_policy: what a run does while another is running).
	ConcurrencyPolicy string
	// Maintenance suspends the entry (Dokku's "maintenance").
	Maintenance bool
}

// ParseAppJSON parses an app.json file. Only the keys Berth uses are read
// (scripts, formation, healthchecks, env, cron); other keys are ignored, at
// the top level and inside those objects (Dokku's own documentation adds
// "description" to checks, for example). Keys are matched as encoding/json
// does: exactly, else ignoring case. A null value counts as absent.
//
// It refuses, with an *Error giving the line and column:
//
//   - an empty file, invalid JSON, or a top level that is not an object;
//   - a known key given twice (encoding/json would silently keep the last);
//   - a value of the wrong type, named by its path, e.g.
//     "formation.web.quantity must be a non-negative integer";
//   - process types (formation, healthchecks) that are not DNS labels, and
//     env names that do not match [A-Za-z_][A-Za-z0-9_]*;
//   - healthchecks that mix kinds (path, command, uptime, listening), that
//     set content, scheme or httpHeaders without a path, or whose type,
//     scheme, path, port or header is invalid;
//   - an env generator other than "secret", or one given with a value;
//   - a cron entry without a command or with an invalid schedule.
//
// Numbers (quantity, attempts, seconds, port) must be whole, non-negative
// and at most 2^31-1.
func ParseAppJSON(data []byte) (AppJSON, error) {
	data = blankComments(stripBOM(data)) // Dokku reads JSON with comments
	if len(bytes.TrimSpace(data)) == 0 {
		return AppJSON{}, &Error{File: AppJSONName, Msg: "file is empty; write {} for an app.json without settings, or remove the file"}
	}
	d := &jsonDoc{file: AppJSONName, data: data}
	root, err := d.parse()
	if err != nil {
		return AppJSON{}, err
	}
	if root.kind != jsonObject {
		return AppJSON{}, d.errAt(root.off, "the top level must be an object ({...}), not %s", root.kind)
	}
	f, err := d.fields(root, "", "scripts", "formation", "healthchecks", "env", "cron", "environments")
	if err != nil {
		return AppJSON{}, err
	}
	var a AppJSON
	if n := f["scripts"]; n != nil {
		if a.Scripts, err = d.scripts(n); err != nil {
			return AppJSON{}, err
		}
	}
	if n := f["formation"]; n != nil {
		if a.Formation, err = d.formation(n); err != nil {
			return AppJSON{}, err
		}
	}
	if n := f["healthchecks"]; n != nil {
		if a.Healthchecks, err = d.healthchecks(n); err != nil {
			return AppJSON{}, err
		}
	}
	if n := f["env"]; n != nil {
		if a.Env, err = d.env(n); err != nil {
			return AppJSON{}, err
		}
	}
	if n := f["cron"]; n != nil {
		if a.Cron, err = d.cron(n); err != nil {
			return AppJSON{}, err
		}
	}
	if n := f["environments"]; n != nil {
		if a.Review, err = d.environments(n); err != nil {
			return AppJSON{}, err
		}
	}
	return a, nil
}

func (d *jsonDoc) scripts(n *jsonNode) (Scripts, error) {
	var s Scripts
	if err := d.wantKind(n, "scripts", jsonObject); err != nil {
		return s, err
	}
	f, err := d.fields(n, "scripts", "dokku", "postdeploy")
	if err != nil {
		return s, err
	}
	if v := f["postdeploy"]; v != nil {
		if s.Postdeploy, err = d.command(v, "scripts.postdeploy"); err != nil {
			return s, err
		}
	}
	if dn := f["dokku"]; dn != nil {
		if err := d.wantKind(dn, "scripts.dokku", jsonObject); err != nil {
			return s, err
		}
		df, err := d.fields(dn, "scripts.dokku", "predeploy", "postdeploy")
		if err != nil {
			return s, err
		}
		if v := df["predeploy"]; v != nil {
			if s.Dokku.Predeploy, err = d.command(v, "scripts.dokku.predeploy"); err != nil {
				return s, err
			}
		}
		if v := df["postdeploy"]; v != nil {
			if s.Dokku.Postdeploy, err = d.command(v, "scripts.dokku.postdeploy"); err != nil {
				return s, err
			}
		}
	}
	return s, nil
}

// command reads a shell command line: a string that is valid UTF-8 without
// NUL bytes (newlines are fine: a script may span lines). Blank commands
// count as none and are returned as "".
func (d *jsonDoc) command(n *jsonNode, path string) (string, error) {
	s, err := d.str(n, path)
	if err != nil {
		return "", err
	}
	if why := checkArg(s); why != "" {
		return "", d.errAt(n.off, "%s %s", path, why)
	}
	if strings.TrimSpace(s) == "" {
		return "", nil
	}
	return s, nil
}

// checkArg reports why s cannot be passed to a process as an argument or an
// environment value: invalid UTF-8 or a NUL byte. It returns "" when s is
// fine.
func checkArg(s string) string {
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	if strings.IndexByte(s, 0) >= 0 {
		return "contains a NUL byte"
	}
	return ""
}

// processTypeMap walks an object keyed by process type, checking each key,
// and calls fn for each member whose value is not null.
func (d *jsonDoc) processTypeMap(n *jsonNode, what string, fn func(typ string, v *jsonNode) error) error {
	if err := d.wantKind(n, what, jsonObject); err != nil {
		return err
	}
	seen := map[string]int{}
	for _, m := range n.obj {
		if err := ValidateProcessType(m.key); err != nil {
			return d.errAt(m.keyOff, "%s: %s", what, err)
		}
		if first, dup := seen[m.key]; dup {
			return d.errAt(m.keyOff, "%s: process type %q is given twice (first at %s)", what, m.key, d.where(first))
		}
		seen[m.key] = m.keyOff
		if err := fn(m.key, m.val); err != nil {
			return err
		}
	}
	return nil
}

func (d *jsonDoc) formation(n *jsonNode) (map[string]Formation, error) {
	out := map[string]Formation{}
	err := d.processTypeMap(n, "formation", func(typ string, v *jsonNode) error {
		path := "formation." + typ
		var fm Formation
		if v.kind != jsonNull {
			if err := d.wantKind(v, path, jsonObject); err != nil {
				return err
			}
			f, err := d.fields(v, path, "quantity", "size")
			if err != nil {
				return err
			}
			if q := f["quantity"]; q != nil {
				n, err := d.nonNegInt(q, path+".quantity")
				if err != nil {
					return err
				}
				fm.Quantity = &n
			}
			if s := f["size"]; s != nil {
				if fm.Size, err = d.text(s, path+".size"); err != nil {
					return err
				}
			}
		}
		out[typ] = fm
		return nil
	})
	return out, err
}

// envNameRE is the rule for config var names (as config:set).
var envNameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`) })

func (d *jsonDoc) env(n *jsonNode) (map[string]EnvSpec, error) { return d.envAt(n, "env") }

// envAt reads an env object found at path (env, environments.review.env).
func (d *jsonDoc) envAt(n *jsonNode, at string) (map[string]EnvSpec, error) {
	if err := d.wantKind(n, at, jsonObject); err != nil {
		return nil, err
	}
	out := map[string]EnvSpec{}
	seen := map[string]int{}
	for _, m := range n.obj {
		if !envNameRE().MatchString(m.key) {
			return nil, d.errAt(m.keyOff, "%s: invalid variable name %s: names must match [A-Za-z_][A-Za-z0-9_]*", at, quote(m.key))
		}
		if first, dup := seen[m.key]; dup {
			return nil, d.errAt(m.keyOff, "%s: %s is given twice (first at %s)", at, m.key, d.where(first))
		}
		seen[m.key] = m.keyOff
		path := at + "." + m.key
		spec := EnvSpec{Required: true}
		switch v := m.val; v.kind {
		case jsonNull:
			continue
		case jsonString:
			s, err := d.value(v, path)
			if err != nil {
				return nil, err
			}
			spec.Value = &s
		case jsonObject:
			f, err := d.fields(v, path, "value", "description", "required", "generator", "sync")
			if err != nil {
				return nil, err
			}
			if fv := f["value"]; fv != nil {
				s, err := d.value(fv, path+".value")
				if err != nil {
					return nil, err
				}
				spec.Value = &s
			}
			if fv := f["description"]; fv != nil {
				if spec.Description, err = d.str(fv, path+".description"); err != nil {
					return nil, err
				}
			}
			if fv := f["required"]; fv != nil {
				if spec.Required, err = d.boolean(fv, path+".required"); err != nil {
					return nil, err
				}
			}
			if fv := f["sync"]; fv != nil {
				if spec.Sync, err = d.boolean(fv, path+".sync"); err != nil {
					return nil, err
				}
			}
			if fv := f["generator"]; fv != nil {
				if spec.Generator, err = d.str(fv, path+".generator"); err != nil {
					return nil, err
				}
				if spec.Generator != GeneratorSecret {
					return nil, d.errAt(fv.off, "%s.generator must be %q (the only generator), not %s", path, GeneratorSecret, quote(spec.Generator))
				}
				if spec.Value != nil {
					return nil, d.errAt(fv.off, "%s sets both a value and a generator; keep one", path)
				}
			}
		default:
			return nil, d.errAt(v.off, "%s must be a string or an object, not %s", path, v.kind)
		}
		out[m.key] = spec
	}
	return out, nil
}

// value reads a config value: valid UTF-8 without NUL bytes.
func (d *jsonDoc) value(n *jsonNode, path string) (string, error) {
	s, err := d.str(n, path)
	if err != nil {
		return "", err
	}
	if why := checkArg(s); why != "" {
		return "", d.errAt(n.off, "%s %s", path, why)
	}
	return s, nil
}

func (d *jsonDoc) cron(n *jsonNode) ([]Cron, error) {
	if err := d.wantKind(n, "cron", jsonArray); err != nil {
		return nil, err
	}
	var out []Cron
	for i, cn := range n.arr {
		path := index("cron", i)
		if err := d.wantKind(cn, path, jsonObject); err != nil {
			return nil, err
		}
		f, err := d.fields(cn, path, "command", "schedule", "concurrency_policy", "maintenance")
		if err != nil {
			return nil, err
		}
		var c Cron
		v := f["command"]
		if v == nil {
			return nil, d.errAt(cn.off, "%s.command is missing", path)
		}
		if c.Command, err = d.command(v, path+".command"); err != nil {
			return nil, err
		}
		if c.Command == "" {
			return nil, d.errAt(v.off, "%s.command must not be empty", path)
		}
		if why := checkCronCommand(c.Command); why != "" {
			return nil, d.errAt(v.off, "%s.command %s", path, why)
		}
		v = f["schedule"]
		if v == nil {
			return nil, d.errAt(cn.off, "%s.schedule is missing", path)
		}
		if c.Schedule, err = d.text(v, path+".schedule"); err != nil {
			return nil, err
		}
		c.Schedule = strings.TrimSpace(c.Schedule)
		if why := checkSchedule(c.Schedule); why != "" {
			return nil, d.errAt(v.off, "%s %s", path+".schedule", why)
		}
		if v := f["concurrency_policy"]; v != nil {
			if c.ConcurrencyPolicy, err = d.text(v, path+".concurrency_policy"); err != nil {
				return nil, err
			}
			switch c.ConcurrencyPolicy {
			case "", "allow", "forbid", "replace":
			default:
				return nil, d.errAt(v.off, "%s.concurrency_policy must be allow, forbid or replace, not %s", path, quote(c.ConcurrencyPolicy))
			}
		}
		if v := f["maintenance"]; v != nil {
			if c.Maintenance, err = d.boolean(v, path+".maintenance"); err != nil {
				return nil, err
			}
		}
		out = append(out, c)
	}
	return out, nil
}
