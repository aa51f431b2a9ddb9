package api

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
)

var errDomain = errors.New("domain")

// The mux asks its mapper first, then lets API errors through, then says a
// cancelled call was cancelled, and calls anything else internal.
func TestMuxErrorMapper(t *testing.T) {
	mapper := func(err error) *Error {
		if errors.Is(err, errDomain) {
			return Errorf(CodeConflict, "mapped")
		}
		return nil
	}
	m := NewMux(slog.New(slog.NewTextHandler(io.Discard, nil)), mapper)
	op := Op[string, Empty]{Name: "test.fail"}
	Handle(m, op, func(_ context.Context, req string, _ Output) (Empty, error) {
		switch req {
		case "domain":
			return Empty{}, errDomain
		case "api":
			return Empty{}, Errorf(CodeForbidden, "as is")
		case "cancel":
			return Empty{}, context.Canceled
		}
		return Empty{}, errors.New("boom")
	})
	for req, want := range map[string]*Error{
		"domain": {Code: CodeConflict, Message: "mapped"},
		"api":    {Code: CodeForbidden, Message: "as is"},
		"cancel": {Code: CodeUnavailable, Message: "test.fail was cancelled"},
		"other":  {Code: CodeInternal, Message: "test.fail failed: boom"},
	} {
		_, err := op.Call(context.Background(), m, req)
		var e *Error
		if !errors.As(err, &e) || *e != *want {
			t.Errorf("%s: err = %v, want %+v", req, err, want)
		}
	}
}
