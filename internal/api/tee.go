package api

import (
	"context"
	"encoding/json"
	"errors"
)

// Tee is told when a call starts and may wrap its output: the deploy-log
// hub copies deploys' output there, so that a browser can watch a deploy
// another client started (a git push). It returns the output the handler
// writes to, and a func called with the call's error when it ends.
type Tee func(ctx context.Context, op string, req json.RawMessage, out Output) (Output, func(err error))

// SetTee makes t see every call handled from now on. Set it before the
// Mux serves.
func (m *Mux) SetTee(t Tee) { m.tee = t }

// teed wraps out with the tee, if any.
func (m *Mux) teed(ctx context.Context, op string, raw json.RawMessage, out Output) (Output, func(error)) {
	if m.tee == nil {
		return out, func(error) {}
	}
	return m.tee(ctx, op, raw, out)
}

// callTeed runs fn and tells the tee's ended how it went, even when fn
// panics (net/http recovers a handler's panic: a follower must not wait
// for an end that never comes).
func callTeed[R any](ended func(error), fn func() (R, error)) (resp R, err error) {
	finished := false
	defer func() {
		if !finished {
			ended(errors.New("the operation stopped abnormally"))
		}
	}()
	resp, err = fn()
	finished = true
	ended(err)
	return resp, err
}
