package app

import (
	"errors"
	"fmt"
)

// Kinds of domain error besides ErrInvalid. Packages below the daemon
// return them (through Errorf) instead of API errors; the daemon's error
// mapper gives each kind its API code. A package's own sentinels (such as
// store.ErrAppNotFound) are kinds too.
var (
	// ErrNotFound: something the user named (other than an app) does not exist.
	ErrNotFound = errors.New("not found")
	// ErrLocked: the app is busy (a deploy holds it) or locked (apps:lock).
	ErrLocked = errors.New("locked")
	// ErrConflict: the state forbids what was asked.
	ErrConflict = errors.New("conflict")
)

// Error is a domain error of a kind, carrying the one line a user sees. It
// matches its kind with errors.Is.
type Error struct {
	Kind error
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

// Is reports whether target is the error's kind.
func (e *Error) Is(target error) bool { return e.Kind != nil && target == e.Kind }

// Errorf returns an *Error of a kind with a formatted message. A kind of
// ErrInvalid gives an *InvalidError, so that validation errors have one type.
func Errorf(kind error, format string, args ...any) error {
	if kind == ErrInvalid {
		return Invalidf(format, args...)
	}
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// Message returns the one line a user sees of a domain error in err's chain
// (an *Error or an *InvalidError), and false when there is none.
func Message(err error) (string, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e.Msg, true
	}
	var ie *InvalidError
	if errors.As(err, &ie) {
		return ie.Msg, true
	}
	return "", false
}
