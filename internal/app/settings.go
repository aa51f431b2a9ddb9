package app

import (
	"sort"
	"strings"
)

// Scope says where a setting may be set: on one app, globally, or both.
type Scope int

// Setting scopes.
const (
	ScopeApp Scope = 1 << iota
	ScopeGlobal
	ScopeBoth = ScopeApp | ScopeGlobal
)

// Setting describes one key of a NAMESPACE:set command: where it may be set,
// its default, and how its value is checked.
type Setting struct {
	Namespace string
	Key       string
	Scope     Scope
	Default   string
	// Validate checks a value before it is stored; nil accepts anything.
	Validate func(value string) error
	// Internal settings are written by Berth itself, never set by
	// NAMESPACE:set; they are in reports only if Report says so.
	Internal bool
	// Report says which lines the setting has in NAMESPACE:report; zero
	// means the default of its Scope (see Forms).
	Report ReportForms
}

// ReportForms says which lines a setting has in its NAMESPACE:report, as
// Dokku's reports have them: --NS-KEY (the app's own value),
// --NS-computed-KEY (the app's, else the global one, else the default)
// and --NS-global-KEY. A report with --global shows only the computed and
// global lines of the settings that may be set globally.
type ReportForms int

// The lines of a setting in its report.
const (
	ReportRaw ReportForms = 1 << iota
	ReportComputed
	ReportGlobal
	// ReportHidden keeps the setting out of reports.
	ReportHidden
	ReportAll = ReportRaw | ReportComputed | ReportGlobal
)

// Forms returns the setting's report lines: Report if set, else hidden for
// an Internal setting, all three for ScopeBoth, the raw one for ScopeApp and
// the global one for ScopeGlobal.
func (s Setting) Forms() ReportForms {
	switch {
	case s.Report&ReportHidden != 0:
		return 0
	case s.Report != 0:
		return s.Report
	case s.Internal:
		return 0
	case s.Scope == ScopeBoth:
		return ReportAll
	case s.Scope == ScopeGlobal:
		return ReportGlobal
	}
	return ReportRaw
}

// Settings is the registry of every NAMESPACE:set key Berth knows. Later
// parts add to it in their own files with Register.
var settings = map[string]map[string]Setting{}

// Register adds s to the registry. It panics on a duplicate, which is a
// programming error caught by any test.
func Register(s Setting) {
	ns := settings[s.Namespace]
	if ns == nil {
		ns = map[string]Setting{}
		settings[s.Namespace] = ns
	}
	if _, dup := ns[s.Key]; dup {
		panic("duplicate setting " + s.Namespace + " " + s.Key)
	}
	ns[s.Key] = s
}

// LookupSetting returns the setting NAMESPACE KEY, checking it may be set in
// the given scope (global or not).
func LookupSetting(namespace, key string, global bool) (Setting, error) {
	s, ok := settings[namespace][key]
	if !ok || s.Internal {
		var keys []string
		for _, k := range SettingKeys(namespace) {
			if !settings[namespace][k].Internal {
				keys = append(keys, k)
			}
		}
		return Setting{}, Invalidf("Invalid key for %s:set: %q; valid keys: %s", namespace, key, strings.Join(keys, ", "))
	}
	if global && s.Scope&ScopeGlobal == 0 {
		return Setting{}, Invalidf("Property cannot be specified globally: %s is set per app", key)
	}
	if !global && s.Scope&ScopeApp == 0 {
		return Setting{}, Invalidf("Property can only be specified globally: use %s:set --global %s", namespace, key)
	}
	return s, nil
}

// SettingKeys lists the keys of a namespace in order.
func SettingKeys(namespace string) []string {
	keys := make([]string, 0, len(settings[namespace]))
	for k := range settings[namespace] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ValidateBool accepts "true" and "false".
func ValidateBool(v string) error {
	if v != "true" && v != "false" {
		return Invalidf("Invalid value %q: expected true or false", v)
	}
	return nil
}

func init() {
	Register(Setting{Namespace: "apps", Key: "deploy-source", Scope: ScopeApp})
	Register(Setting{Namespace: "apps", Key: "deploy-source-metadata", Scope: ScopeApp})
	Register(Setting{Namespace: "apps", Key: "disable-autocreation", Scope: ScopeGlobal, Default: "false", Validate: ValidateBool})
}

// LookupSettingAny returns a setting whatever its scope.
func LookupSettingAny(namespace, key string) (Setting, bool) {
	s, ok := settings[namespace][key]
	return s, ok
}
