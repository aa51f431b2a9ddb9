// Package app holds the rules of Berth's nouns (app names, config keys and
// values, settings, docker options) and the file formats config is exported
// and imported in.
// It does no I/O.
package app

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"
)

// MaxNameLength bounds app names to a DNS label's 63 characters: an app's
// name is the first label of its default host name ("NAME.<domain>") and of
// its network aliases ("NAME.web"). It was 48, which refused names Dokku
// takes (its own tests clone and rename 47-character apps to "-renamed").
const MaxNameLength = 63

var nameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*$`) })

// ErrInvalid marks errors caused by bad user input; the message is meant to
// be shown to the user as is.
var ErrInvalid = errors.New("invalid input")

// InvalidError is a user-facing validation error. It matches ErrInvalid with
// errors.Is.
type InvalidError struct{ Msg string }

func (e *InvalidError) Error() string { return e.Msg }

// Is reports whether target is ErrInvalid.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

// Invalidf returns an InvalidError with a formatted message.
func Invalidf(format string, args ...any) error {
	return &InvalidError{Msg: fmt.Sprintf(format, args...)}
}

// ValidateName checks a new app name against Dokku's rule
// (^[a-z0-9][a-z0-9.-]*$) and Berth's length limit.
func ValidateName(name string) error {
	if name == "" {
		return Invalidf("Please specify an app name")
	}
	if !nameRE().MatchString(name) {
		return Invalidf("App name must begin with lowercase alphanumeric character, and may only contain lowercase alphanumerics, dots, and hyphens")
	}
	if len(name) > MaxNameLength {
		return Invalidf("App name is too long: %d characters, at most %d", len(name), MaxNameLength)
	}
	if strings.Contains(name, "..") || strings.HasSuffix(name, ".") || strings.HasSuffix(name, "-") {
		return Invalidf("App name %q is not a valid host name: no consecutive dots and no trailing dot or hyphen", name)
	}
	return nil
}

var keyRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`) })

// ValidateKey checks a config var name.
func ValidateKey(key string) error {
	if !keyRE().MatchString(key) {
		return Invalidf("Invalid key name: %q; keys must match [a-zA-Z_][a-zA-Z0-9_]*", key)
	}
	return nil
}

// ValidateValue checks that a config value can reach a process environment:
// valid UTF-8 (the Docker API carries env as JSON strings) and no NUL byte.
func ValidateValue(key, value string) error {
	if !utf8.ValidString(value) {
		return Invalidf("Invalid value for %s: not valid UTF-8", key)
	}
	if strings.IndexByte(value, 0) >= 0 {
		return Invalidf("Invalid value for %s: contains a NUL byte", key)
	}
	return nil
}

// ValidateVars checks every key and value of a set of config vars.
func ValidateVars(vars map[string]string) error {
	for _, k := range SortedKeys(vars) {
		if err := ValidateKey(k); err != nil {
			return err
		}
		if err := ValidateValue(k, vars[k]); err != nil {
			return err
		}
	}
	return nil
}
