package app

import (
	"slices"
	"strings"
	"unicode"
)

// DockerOptionPhases are the phases docker-options apply to.
var DockerOptionPhases = []string{"build", "deploy", "run"}

// DockerOption is one option stored by docker-options:add.
type DockerOption struct {
	Name  string // "--build-arg"
	Value string // "KEY" or "KEY=VALUE"; "" for flags
}

// String is the option as it is stored: "--build-arg KEY".
func (o DockerOption) String() string {
	if o.Value == "" {
		return o.Name
	}
	return o.Name + " " + o.Value
}

// supportedDockerOptions lists, per phase, the docker options Berth applies
// (the deploy pipeline's build step reads them), and whether each takes a
// value.
var supportedDockerOptions = map[string]map[string]bool{
	"build":  {"--build-arg": true, "--no-cache": false},
	"deploy": {},
	"run":    {},
}

// ParseDockerOptions reads stored options (one per line).
func ParseDockerOptions(stored string) ([]DockerOption, error) {
	var out []DockerOption
	for line := range strings.SplitSeq(stored, "\n") {
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		name, value, _ := strings.Cut(line, " ")
		out = append(out, DockerOption{Name: name, Value: strings.TrimSpace(value)})
	}
	return out, nil
}

// ParseDockerOptionArg validates an option given to docker-options:add for
// a phase ("--build-arg KEY", "--build-arg=KEY=V", "--no-cache").
func ParseDockerOptionArg(phase, arg string) (DockerOption, error) {
	arg = strings.TrimSpace(arg)
	// Options are stored one per line: a line break would smuggle in a
	// second option that was never checked.
	if strings.IndexFunc(arg, func(r rune) bool { return r != '\t' && unicode.IsControl(r) }) >= 0 {
		return DockerOption{}, Invalidf("Invalid docker option %q: it may not contain line breaks or other control characters", arg)
	}
	name, value, hasValue := strings.Cut(arg, "=")
	if sp := strings.IndexAny(arg, " \t"); sp >= 0 && (!hasValue || sp < len(name)) {
		name, value, hasValue = arg[:sp], strings.TrimSpace(arg[sp+1:]), true
	}
	takesValue, ok := supportedDockerOptions[phase][name]
	if !ok {
		var names []string
		for p, opts := range supportedDockerOptions {
			for n := range opts {
				names = append(names, p+" "+n)
			}
		}
		return DockerOption{}, Invalidf("Berth does not apply the docker option %q in phase %s; supported: %s", name, phase, strings.Join(slices.Sorted(slices.Values(names)), ", "))
	}
	if takesValue != hasValue || (takesValue && value == "") {
		if takesValue {
			return DockerOption{}, Invalidf("%s needs a value, e.g. %s KEY or %s KEY=VALUE", name, name, name)
		}
		return DockerOption{}, Invalidf("%s takes no value", name)
	}
	if name == "--build-arg" {
		key, _, _ := strings.Cut(value, "=")
		if err := ValidateKey(key); err != nil {
			return DockerOption{}, err
		}
	}
	return DockerOption{Name: name, Value: value}, nil
}
