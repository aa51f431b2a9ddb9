package app

import (
	"strings"
	"unicode"
)

// DockerOptionPhases are the phases docker-options apply to: build (the
// image build), deploy (every process container) and run (one-off
// containers).
var DockerOptionPhases = []string{"build", "deploy", "run"}

// DefaultProcessType is the scope of docker options, resources and mounts
// that apply to every process type (Dokku's name for it).
const DefaultProcessType = "_default_"

// SplitDockerOptions reads what was given to docker-options:add or :remove
// as Dokku does: the words are split as a shell would (quotes group, nothing
// is expanded), grouped on flag boundaries (every word starting with "-"
// opens an option) and written back in their canonical, shell-quoted form,
// one string per option. A "--process TYPE" among them is lifted out into
// processes instead of being stored as an option.
func SplitDockerOptions(input string) (options, processes []string, err error) {
	if strings.TrimSpace(input) == "" {
		return nil, nil, nil
	}
	if strings.IndexFunc(input, func(r rune) bool { return r != '\t' && r != ' ' && unicode.IsControl(r) }) >= 0 {
		return nil, nil, Invalidf("Invalid docker option %q: it may not contain line breaks or other control characters", input)
	}
	words, err := SplitWords(input)
	if err != nil {
		return nil, nil, Invalidf("Unable to parse docker option: %s", err)
	}
	for _, g := range groupOptionWords(words) {
		switch {
		case g[0] == "--process":
			if len(g) != 2 {
				return nil, nil, Invalidf("--process takes one process type")
			}
			processes = append(processes, g[1])
		case strings.HasPrefix(g[0], "--process="):
			if len(g) != 1 {
				return nil, nil, Invalidf("--process=value cannot be followed by additional words")
			}
			processes = append(processes, strings.TrimPrefix(g[0], "--process="))
		default:
			options = append(options, JoinWords(g))
		}
	}
	return options, processes, nil
}

// groupOptionWords groups words so that each group is one flag and the
// values after it; words before the first flag form a group of their own
// (so malformed input is never dropped).
func groupOptionWords(words []string) [][]string {
	var groups [][]string
	var cur []string
	for _, w := range words {
		if len(w) > 1 && w[0] == '-' && len(cur) > 0 {
			groups = append(groups, cur)
			cur = nil
		}
		cur = append(cur, w)
	}
	if len(cur) > 0 {
		groups = append(groups, cur)
	}
	return groups
}

// OptionWords splits a stored option back into its words ("--label",
// "a=b c"). A line that does not parse is one word.
func OptionWords(option string) []string {
	w, err := SplitWords(option)
	if err != nil || len(w) == 0 {
		return []string{option}
	}
	return w
}

// SameOption reports whether two stored options are the same words.
func SameOption(a, b string) bool {
	if a == b {
		return true
	}
	wa, wb := OptionWords(a), OptionWords(b)
	if len(wa) != len(wb) {
		return false
	}
	for i := range wa {
		if wa[i] != wb[i] {
			return false
		}
	}
	return true
}

// OptionFlag splits an option's words into its flag and value: "--memory
// 1g", "--memory=1g" and "-m 1g" give ("--memory"|"-m", "1g", true). Values
// in several words are joined by a space.
func OptionFlag(words []string) (flag, value string, hasValue bool) {
	flag = words[0]
	if f, v, ok := strings.Cut(flag, "="); ok && strings.HasPrefix(flag, "--") {
		flag, value, hasValue = f, v, true
		if len(words) > 1 {
			value += " " + strings.Join(words[1:], " ")
		}
		return flag, value, hasValue
	}
	if len(words) > 1 {
		return flag, strings.Join(words[1:], " "), true
	}
	return flag, "", false
}

// JoinWords writes words back as one line a shell splits into the same
// words, quoting only those that need it.
func JoinWords(words []string) string {
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = QuoteWord(w)
	}
	return strings.Join(out, " ")
}

// QuoteWord single-quotes w when a shell would otherwise read it as
// something else than one literal word.
func QuoteWord(w string) string {
	if w == "" {
		return "''"
	}
	if !strings.ContainsAny(w, " \t\n\"'$`\\*?[]<>|&;(){}!#~") {
		return w
	}
	return "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
}

// BuildOptions reads the build phase's stored options (one per line): the
// build arguments and --no-cache the build applies, and the options it
// does not apply (Berth builds through the engine's build API, which takes
// no run options such as -v or --link).
func BuildOptions(stored string) (buildArgs []string, noCache bool, skipped []string) {
	for _, line := range strings.Split(stored, "\n") {
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		flag, value, has := OptionFlag(OptionWords(line))
		switch {
		case flag == "--build-arg" && has && value != "":
			buildArgs = append(buildArgs, value)
		case flag == "--no-cache" && !has:
			noCache = true
		default:
			skipped = append(skipped, line)
		}
	}
	return buildArgs, noCache, skipped
}

// DockerOptionsKey is the property key of a phase's options in a process
// scope: the phase for the default scope ("deploy"), "deploy.TYPE" for one
// process type.
func DockerOptionsKey(phase, process string) string {
	if process == "" || process == DefaultProcessType {
		return phase
	}
	return phase + "." + process
}

// ValidDockerOptionPhase checks a phase name.
func ValidDockerOptionPhase(phase string) error {
	for _, p := range DockerOptionPhases {
		if p == phase {
			return nil
		}
	}
	return Invalidf("Phase must be one of [%s], not %q", strings.Join(DockerOptionPhases, " "), phase)
}

// ParseDockerOptionPhases reads "build,deploy": every phase must be known.
func ParseDockerOptionPhases(arg string) ([]string, error) {
	if arg == "" {
		return nil, Invalidf("Please specify phase(s) (%s)", strings.Join(DockerOptionPhases, ", "))
	}
	var out []string
	for _, p := range strings.Split(arg, ",") {
		if err := ValidDockerOptionPhase(p); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// ValidProcessScope checks the --process values of docker-options: only
// the deploy phase has process scopes, and _default_ is reserved.
func ValidProcessScope(processes, phases []string) error {
	if len(processes) == 0 {
		return nil
	}
	for _, p := range processes {
		if p == DefaultProcessType {
			return Invalidf("%q is reserved and cannot be used as a --process value", DefaultProcessType)
		}
		if err := ValidProcessType(p); err != nil {
			return err
		}
	}
	for _, ph := range phases {
		if ph != "deploy" {
			return Invalidf("--process is only supported for the deploy phase, got %q", ph)
		}
	}
	return nil
}

// ValidProcessType checks a process type name as Procfiles allow them.
func ValidProcessType(p string) error {
	if p == "" || len(p) > 63 || strings.IndexFunc(p, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
	}) >= 0 {
		return Invalidf("Invalid process type %q: use letters, digits, - and _", p)
	}
	return nil
}
