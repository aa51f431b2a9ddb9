package docker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// ErrNotFound reports that the container, image or network named in a call
// does not exist on the engine. Errors returned by this package for that case
// satisfy errors.Is(err, ErrNotFound).
var ErrNotFound = errors.New("not found")

// opError is a one-line error for a failed engine operation. It unwraps
// to the client's error (so errors.As still finds the original) and, when
// kind is set, also matches kind (ErrNotFound) with errors.Is.
type opError struct {
	msg   string
	kind  error
	cause error
}

func (e *opError) Error() string { return e.msg }

func (e *opError) Is(target error) bool { return e.kind != nil && target == e.kind }

func (e *opError) Unwrap() error { return e.cause }

// wrap turns an error from the moby client into this package's shape: a
// one-line message prefixed with "docker: <op>: ", matching ErrNotFound for
// missing objects and ErrEngineUnavailable when the engine cannot be reached.
// Context errors stay matchable with errors.Is. wrap(nil) is nil.
func (c *Client) wrap(err error, op string, args ...any) error {
	if err == nil {
		return nil
	}
	if len(args) > 0 {
		op = fmt.Sprintf(op, args...)
	}
	op = "docker: " + op
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: %w", op, err)
	case isUnavailable(err):
		u := c.unavailable(client.PingResult{}, err, false)
		return &opError{msg: op + ": " + u.Error(), cause: u}
	case cerrdefs.IsNotFound(err), strings.Contains(err.Error(), "unable to upgrade to tcp, received 404"):
		// (The second form is how the client reports a 404 from an
		// attach or exec request, without the engine's message.)
		return &opError{msg: op + ": " + engineMessage(err), kind: ErrNotFound, cause: err}
	}
	return &opError{msg: op + ": " + engineMessage(err), cause: err}
}

// isUnavailable reports whether err means the engine could not be reached at
// all (as opposed to the engine answering with an error).
func isUnavailable(err error) bool {
	var u *unavailableError
	if errors.As(err, &u) || client.IsErrConnectionFailed(err) {
		return true
	}
	// Hijacked connections (attach, exec) report dial failures as they are.
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// engineMessage is the first line of err's message, without the "Error: " or
// "Error response from daemon: " prefixes some client errors carry.
func engineMessage(err error) string {
	msg := firstLine(err.Error())
	for _, p := range []string{"Error response from daemon: ", "Error: "} {
		msg = strings.TrimPrefix(msg, p)
	}
	return msg
}
