package app

import (
	"errors"
	"fmt"
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
