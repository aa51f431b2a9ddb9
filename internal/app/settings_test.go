package app

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestLookupSettingScopes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		namespace, key string
		global         bool
		want           string // "" for success, else a substring of the error
	}{
		// apps deploy-source is per app only.
		{"apps", "deploy-source", false, ""},
		{"apps", "deploy-source", true, "Property cannot be specified globally: deploy-source is set per app"},
		{"apps", "deploy-source-metadata", false, ""},
		{"apps", "deploy-source-metadata", true, "Property cannot be specified globally"},
		// apps disable-autocreation is global only.
		{"apps", "disable-autocreation", true, ""},
		{"apps", "disable-autocreation", false, "Property can only be specified globally: use apps:set --global disable-autocreation"},
		// Unknown keys and namespaces.
		{"apps", "nope", false, `Invalid key for apps:set: "nope"`},
		{"apps", "nope", true, `Invalid key for apps:set: "nope"`},
		{"apps", "Deploy-Source", false, "Invalid key for apps:set"},
		{"apps", "", false, "Invalid key for apps:set"},
		{"no-such-namespace", "deploy-source", false, "Invalid key for no-such-namespace:set"},
	}
	for _, tt := range tests {
		s, err := LookupSetting(tt.namespace, tt.key, tt.global)
		if tt.want == "" {
			if err != nil {
				t.Errorf("LookupSetting(%q, %q, global=%v) = %v, want success", tt.namespace, tt.key, tt.global, err)
			} else if s.Namespace != tt.namespace || s.Key != tt.key {
				t.Errorf("LookupSetting(%q, %q) returned setting %s %s", tt.namespace, tt.key, s.Namespace, s.Key)
			}
			continue
		}
		if err == nil {
			t.Errorf("LookupSetting(%q, %q, global=%v) succeeded, want an error containing %q", tt.namespace, tt.key, tt.global, tt.want)
			continue
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("LookupSetting(%q, %q): %v does not match ErrInvalid", tt.namespace, tt.key, err)
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("LookupSetting(%q, %q, global=%v) = %q, want it to contain %q", tt.namespace, tt.key, tt.global, err, tt.want)
		}
		if s.Namespace != "" || s.Key != "" || s.Validate != nil {
			t.Errorf("LookupSetting(%q, %q) returned %+v with its error, want the zero Setting", tt.namespace, tt.key, s)
		}
	}
}

func TestLookupSettingUnknownListsValidKeys(t *testing.T) {
	t.Parallel()
	_, err := LookupSetting("apps", "nope", false)
	if err == nil {
		t.Fatal("no error for an unknown key")
	}
	// Every registered key of the namespace is listed, sorted.
	want := "valid keys: deploy-source, deploy-source-metadata, disable-autocreation"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not contain %q", err, want)
	}
}

func TestSettingKeysSorted(t *testing.T) {
	t.Parallel()
	keys := SettingKeys("apps")
	for _, want := range []string{"deploy-source", "deploy-source-metadata", "disable-autocreation"} {
		found := false
		for _, k := range keys {
			found = found || k == want
		}
		if !found {
			t.Errorf("SettingKeys(apps) = %v, missing %s", keys, want)
		}
	}
	for i := 1; i < len(keys); i++ {
		if keys[i-1] >= keys[i] {
			t.Errorf("SettingKeys(apps) = %v, not strictly sorted", keys)
		}
	}
	if got := SettingKeys("no-such-namespace"); len(got) != 0 {
		t.Errorf("SettingKeys(unknown) = %v, want none", got)
	}
}

// registerRuns makes the namespace TestRegisterBothScopesAndDuplicate uses
// unique per run, so that -count=N works.
var registerRuns int

func TestRegisterBothScopesAndDuplicate(t *testing.T) {
	// Not parallel: it adds to the package registry (under its own
	// namespace), and sequential tests finish before parallel ones run.
	registerRuns++
	ns := fmt.Sprintf("zz-test-register-%d", registerRuns)
	Register(Setting{Namespace: ns, Key: "both", Scope: ScopeBoth, Default: "d", Validate: ValidateBool})
	for _, global := range []bool{false, true} {
		s, err := LookupSetting(ns, "both", global)
		if err != nil {
			t.Fatalf("LookupSetting(both, global=%v) = %v", global, err)
		}
		if s.Default != "d" || s.Validate == nil {
			t.Errorf("LookupSetting returned %+v, lost its fields", s)
		}
	}
	if s, ok := LookupSettingAny(ns, "both"); !ok || s.Key != "both" {
		t.Errorf("LookupSettingAny(both) = %+v, %v", s, ok)
	}
	if _, ok := LookupSettingAny(ns, "missing"); ok {
		t.Error("LookupSettingAny(missing) found something")
	}
	// A global-only setting is still found by LookupSettingAny.
	if s, ok := LookupSettingAny("apps", "disable-autocreation"); !ok || s.Scope != ScopeGlobal || s.Default != "false" {
		t.Errorf("LookupSettingAny(apps disable-autocreation) = %+v, %v", s, ok)
	}

	defer func() {
		p := recover()
		if p == nil {
			t.Fatal("Register of a duplicate did not panic")
		}
		if msg, _ := p.(string); !strings.Contains(msg, ns) || !strings.Contains(msg, "both") {
			t.Errorf("panic %v does not name the setting", p)
		}
	}()
	Register(Setting{Namespace: ns, Key: "both", Scope: ScopeApp})
}

func TestValidateBool(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"true", "false"} {
		if err := ValidateBool(v); err != nil {
			t.Errorf("ValidateBool(%q) = %v", v, err)
		}
	}
	for _, v := range []string{"", "TRUE", "True", "1", "0", "yes", "true ", " false"} {
		err := ValidateBool(v)
		if err == nil || !errors.Is(err, ErrInvalid) {
			t.Errorf("ValidateBool(%q) = %v, want an ErrInvalid", v, err)
		}
	}
	s, _ := LookupSettingAny("apps", "disable-autocreation")
	if s.Validate == nil || s.Validate("maybe") == nil || s.Validate("true") != nil {
		t.Error("apps disable-autocreation does not validate as a bool")
	}
}
