// Package api is the typed interface between Berth's command table and its
// daemon: operations with request and response types, errors with codes, and
// two transports for the same calls (HTTP over the control socket, and
// in-process for the ssh server).
package api

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// Code classifies an API error; clients map it to exit codes and sentinels.
type Code string

// Error codes.
const (
	CodeInvalid     Code = "invalid"       // bad input; the message says what to do
	CodeAppNotFound Code = "app_not_found" // the named app does not exist (exit 20)
	CodeNotFound    Code = "not_found"     // something else named does not exist
	CodeConflict    Code = "conflict"      // the name is taken, or the state forbids it
	CodeLocked      Code = "locked"        // the app is locked for deploys
	CodeForbidden   Code = "forbidden"     // the caller may not do this
	CodeUnavailable Code = "unavailable"   // a component (engine, daemon) is not reachable
	CodeInternal    Code = "internal"      // a bug or an unexpected failure
)

// Error is an error carried across the API. Its message is the one line a
// user sees.
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Message }

// Is matches any *Error with the same code, so errors.Is(err, ErrAppNotFound)
// works across the wire.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Code == e.Code
}

// Sentinels for errors.Is; they match any error of their code.
var (
	ErrInvalid     = &Error{Code: CodeInvalid}
	ErrAppNotFound = &Error{Code: CodeAppNotFound}
	ErrNotFound    = &Error{Code: CodeNotFound}
	ErrConflict    = &Error{Code: CodeConflict}
	ErrLocked      = &Error{Code: CodeLocked}
	ErrForbidden   = &Error{Code: CodeForbidden}
	ErrUnavailable = &Error{Code: CodeUnavailable}
	ErrInternal    = &Error{Code: CodeInternal}
)

// Errorf returns an *Error with a code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// AppNotFound is the error for a missing app, worded as Dokku words it.
func AppNotFound(name string) *Error {
	return Errorf(CodeAppNotFound, "App %s does not exist", name)
}

// ErrDaemonNotRunning is returned by the socket client when nothing answers
// on the control socket.
var ErrDaemonNotRunning = errors.New("berth daemon is not running")

// Output receives what an operation prints while it runs (build logs, deploy
// progress). Either writer may be nil.
type Output struct {
	Stdout io.Writer
	Stderr io.Writer
}

// Caller performs an operation by name. req is marshalled to JSON and the
// result unmarshalled into resp; output produced while the call runs is
// written to out as it arrives.
type Caller interface {
	Call(ctx context.Context, op string, req, resp any, out Output) error
}

// Op names an operation, fixes its request and response types and
// declares which ssh keys may call it (see Access).
type Op[Req, Resp any] struct {
	Name   string
	Access Access
}

// Call performs the operation through c, discarding streamed output.
func (o Op[Req, Resp]) Call(ctx context.Context, c Caller, req Req) (Resp, error) {
	return o.Stream(ctx, c, req, Output{})
}

// Stream performs the operation through c, writing output as it arrives.
func (o Op[Req, Resp]) Stream(ctx context.Context, c Caller, req Req, out Output) (Resp, error) {
	var resp Resp
	err := c.Call(ctx, o.Name, req, &resp, out)
	return resp, err
}
