package app

import (
	"errors"
	"fmt"
	"syscall"
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
	// ErrNoSpace: a disk (its blocks, its inodes or a quota) is full.
	ErrNoSpace = errors.New("no space left")
)

// IsNoSpace reports whether err is a full disk: ENOSPC (no blocks or no
// inodes left) or EDQUOT (a quota reached).
func IsNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// NoSpace returns err as an ErrNoSpace error when it is a full disk, and
// err otherwise. The one line names what could not be written and where,
// and what to do: free space there and then (todo) do it again.
func NoSpace(err error, what, dir, todo string) error {
	if err == nil || !IsNoSpace(err) {
		return err
	}
	return &Error{Kind: ErrNoSpace, Msg: fmt.Sprintf("The disk is full writing %s in %s; free space there (df -h %s) and %s", what, dir, dir, todo)}
}

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
