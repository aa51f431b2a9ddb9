package app

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"
)

func TestErrorKinds(t *testing.T) {
	sentinel := errors.New("thing not found")
	err := fmt.Errorf("context: %w", Errorf(sentinel, "Thing %s does not exist", "x"))
	if !errors.Is(err, sentinel) || errors.Is(err, ErrNotFound) {
		t.Errorf("errors.Is: %v should match its kind only", err)
	}
	if msg, ok := Message(err); !ok || msg != "Thing x does not exist" {
		t.Errorf("Message = %q, %v", msg, ok)
	}
	inv := Errorf(ErrInvalid, "bad %d", 1)
	var ie *InvalidError
	if !errors.As(inv, &ie) || !errors.Is(inv, ErrInvalid) || inv.Error() != "bad 1" {
		t.Errorf("Errorf(ErrInvalid) = %#v, want an *InvalidError", inv)
	}
	if _, ok := Message(errors.New("plain")); ok {
		t.Error("a plain error has no user message")
	}
	if (&Error{Msg: "no kind"}).Is(nil) {
		t.Error("an error without a kind matches nothing")
	}
}

func TestNoSpace(t *testing.T) {
	full := fmt.Errorf("write x: %w", &os.PathError{Op: "write", Path: "/d/x", Err: syscall.ENOSPC})
	err := NoSpace(full, "the source", "/d", "push again")
	if !errors.Is(err, ErrNoSpace) || err.Error() != "The disk is full writing the source in /d; free space there (df -h /d) and push again" {
		t.Errorf("NoSpace(ENOSPC) = %v", err)
	}
	if err := NoSpace(&os.PathError{Op: "write", Path: "/d/x", Err: syscall.EDQUOT}, "x", "/d", "retry"); !errors.Is(err, ErrNoSpace) {
		t.Errorf("NoSpace(EDQUOT) = %v", err)
	}
	other := errors.New("permission denied")
	if NoSpace(other, "x", "/d", "retry") != other || NoSpace(nil, "x", "/d", "retry") != nil {
		t.Error("NoSpace changed an error that is not a full disk")
	}
}
