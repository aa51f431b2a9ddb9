package api

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Who is the caller of an operation, as the audit log names it: the local
// root on the control socket, an ssh key or an API token.
type Who struct {
	Kind string `json:"kind"` // "root", "key" or "token"
	Name string `json:"name,omitempty"`
}

func (w Who) String() string {
	if w.Kind == "" || w.Kind == "root" {
		return "root"
	}
	return w.Kind + ":" + w.Name
}

type whoKey struct{}

// WithWho returns ctx carrying the caller of the operations made with it.
func WithWho(ctx context.Context, w Who) context.Context {
	return context.WithValue(ctx, whoKey{}, w)
}

// WhoFrom is the caller ctx carries; the local root when it carries none
// (the control socket is root-only).
func WhoFrom(ctx context.Context) Who {
	if w, ok := ctx.Value(whoKey{}).(Who); ok {
		return w
	}
	return Who{Kind: "root"}
}

// CallRecord is one finished call of an operation, as an Observer sees it.
type CallRecord struct {
	Op      string
	Who     Who
	Request json.RawMessage
	Started time.Time
	// Err is nil when the call succeeded.
	Err *Error
}

// Observer is told about every call a Mux handled (in-process, over the
// control socket, sessions alike), once it finished: the audit log.
type Observer func(ctx context.Context, rec CallRecord)

// Observe makes fn see every call handled from now on. Set it before the
// Mux serves.
func (m *Mux) Observe(fn Observer) { m.observe = fn }

// observed tells the observer, if any, about a finished call.
func (m *Mux) observed(ctx context.Context, op string, raw json.RawMessage, started time.Time, err error) {
	if m.observe == nil {
		return
	}
	rec := CallRecord{Op: op, Who: WhoFrom(ctx), Request: raw, Started: started}
	if err != nil {
		rec.Err, _ = m.describe(op, err)
	}
	m.observe(ctx, rec)
}

// describe turns a handler's error into an *Error (toAPIError without its
// log line): the mapper's answer first, then API errors pass through, a
// cancelled request says so; internal reports an error that was none of
// those (toAPIError logs it).
func (m *Mux) describe(op string, err error) (e *Error, internal bool) {
	if m.mapErr != nil {
		if e := m.mapErr(err); e != nil {
			return e, false
		}
	}
	if errors.As(err, &e) {
		return e, false
	}
	if errors.Is(err, context.Canceled) {
		return Errorf(CodeUnavailable, "%s was cancelled", op), false
	}
	return Errorf(CodeInternal, "%s failed: %v", op, err), true
}
