package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Handler serves one operation. It writes progress to out and returns the
// response or an error.
type handler func(ctx context.Context, req json.RawMessage, out Output) (any, error)

// Mux maps operation names to handlers. It is a Caller (in-process) and an
// http.Handler (the control socket).
type Mux struct {
	handlers map[string]handler
	sessions map[string]sessionHandler
	ops      map[string]OpInfo // what each operation declares (Access)
	log      *slog.Logger
	mapErr   ErrorMapper
	observe  Observer // the audit log (Observe)
	tee      Tee      // the deploy-log hub (SetTee)
}

// ErrorMapper turns a domain error (a package's sentinel, a validation
// error, a failed deploy step) into the API error a caller sees: its code
// and the one line the user reads. It returns nil for errors it does not
// know; those pass through if they are API errors already, and are
// internal errors otherwise.
type ErrorMapper func(err error) *Error

var _ Caller = (*Mux)(nil)
var _ http.Handler = (*Mux)(nil)

// NewMux returns an empty Mux that turns handlers' errors into API errors
// with mapErr (nil: only API errors pass) and logs unexpected ones to log.
func NewMux(log *slog.Logger, mapErr ErrorMapper) *Mux {
	return &Mux{handlers: map[string]handler{}, log: log, mapErr: mapErr}
}

// Handle registers fn as the handler of op.
func Handle[Req, Resp any](m *Mux, op Op[Req, Resp], fn func(ctx context.Context, req Req, out Output) (Resp, error)) {
	if _, dup := m.handlers[op.Name]; dup {
		panic("api: duplicate handler for " + op.Name)
	}
	declare[Req, Resp](m, op.Name, op.Access, false)
	m.handlers[op.Name] = func(ctx context.Context, raw json.RawMessage, out Output) (any, error) {
		var req Req
		if len(raw) > 0 {
			if err := json.Unmarshal(raw, &req); err != nil {
				return nil, Errorf(CodeInvalid, "malformed request for %s: %v", op.Name, err)
			}
		}
		started := time.Now()
		out, ended := m.teed(ctx, op.Name, raw, out)
		resp, err := callTeed(ended, func() (Resp, error) { return fn(ctx, req, out) })
		m.observed(ctx, op.Name, raw, started, err)
		return resp, err
	}
}

// toAPIError turns any handler error into an *Error, the one place where
// that happens: the mapper's answer first, then API errors pass through, a
// cancelled request says so, and anything else is internal and logged (its
// text may hold details a user should not need).
func (m *Mux) toAPIError(op string, err error) *Error {
	e, internal := m.describe(op, err)
	if internal {
		m.log.Error("operation failed", "op", op, "err", err)
	}
	return e
}

// Call runs op in-process. The request and response go through JSON so that
// in-process and socket callers see exactly the same behaviour.
func (m *Mux) Call(ctx context.Context, op string, req, resp any, out Output) error {
	h, ok := m.handlers[op]
	if !ok {
		return Errorf(CodeNotFound, "unknown operation %s", op)
	}
	raw, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("encode %s request: %w", op, err)
	}
	// Handlers write to their output: an in-process caller that wants
	// none gets it discarded, not a nil writer.
	if out.Stdout == nil {
		out.Stdout = io.Discard
	}
	if out.Stderr == nil {
		out.Stderr = io.Discard
	}
	res, err := h(ctx, raw, out)
	if err != nil {
		return m.toAPIError(op, err)
	}
	b, err := json.Marshal(res)
	if err != nil {
		return fmt.Errorf("encode %s response: %w", op, err)
	}
	if resp == nil {
		return nil
	}
	return json.Unmarshal(b, resp)
}

// frame is one line of a response stream: output, then exactly one result or
// error.
type frame struct {
	Stdout []byte          `json:"stdout,omitempty"`
	Stderr []byte          `json:"stderr,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  *Error          `json:"error,omitempty"`
}

// frameWriter serializes frames onto an HTTP response, flushing each.
type frameWriter struct {
	mu  sync.Mutex
	enc *json.Encoder
	fl  http.Flusher
	err error
}

func (w *frameWriter) write(f frame) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if w.err = w.enc.Encode(f); w.err == nil && w.fl != nil {
		w.fl.Flush()
	}
	return w.err
}

type streamWriter struct {
	fw     *frameWriter
	stderr bool
}

func (s streamWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		// An empty frame would read as the final result.
		return 0, nil
	}
	b := append([]byte(nil), p...)
	f := frame{Stdout: b}
	if s.stderr {
		f = frame{Stderr: b}
	}
	if err := s.fw.write(f); err != nil {
		return 0, err
	}
	return len(p), nil
}

// ServeHTTP serves POST /v1/OP with a JSON request body; the response is a
// stream of JSON frames, one per line.
func (m *Mux) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op, ok := strings.CutPrefix(r.URL.Path, "/v1/")
	if !ok || r.Method != http.MethodPost {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if sh, ok := m.sessions[op]; ok && r.Header.Get("Upgrade") == sessionProtocol {
		m.serveSession(w, r, op, sh)
		return
	}
	h, ok := m.handlers[op]
	w.Header().Set("Content-Type", "application/x-ndjson")
	fl, _ := w.(http.Flusher)
	fw := &frameWriter{enc: json.NewEncoder(w), fl: fl}
	if !ok {
		if _, isSession := m.sessions[op]; isSession {
			fw.write(frame{Error: Errorf(CodeInvalid, "%s is interactive: call it as a session", op)})
			return
		}
		fw.write(frame{Error: Errorf(CodeNotFound, "unknown operation %s: the daemon may be older than this client", op)})
		return
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	if err != nil {
		fw.write(frame{Error: Errorf(CodeInvalid, "read request: %v", err)})
		return
	}
	out := Output{Stdout: streamWriter{fw: fw}, Stderr: streamWriter{fw: fw, stderr: true}}
	res, err := h(r.Context(), raw, out)
	if err != nil {
		fw.write(frame{Error: m.toAPIError(op, err)})
		return
	}
	b, err := json.Marshal(res)
	if err != nil {
		fw.write(frame{Error: m.toAPIError(op, err)})
		return
	}
	fw.write(frame{Result: b})
}

// readFrames reads a response stream, writing output to out and decoding the
// result into resp.
func readFrames(body io.Reader, resp any, out Output) error {
	dec := json.NewDecoder(bufio.NewReader(body))
	for {
		var f frame
		if err := dec.Decode(&f); err != nil {
			if errors.Is(err, io.EOF) {
				return errors.New("the daemon closed the connection before answering (did it stop?)")
			}
			return fmt.Errorf("read daemon response: %w", err)
		}
		switch {
		case f.Stdout != nil:
			if out.Stdout != nil {
				out.Stdout.Write(f.Stdout)
			}
		case f.Stderr != nil:
			if out.Stderr != nil {
				out.Stderr.Write(f.Stderr)
			}
		case f.Error != nil:
			return f.Error
		default:
			if resp == nil || len(f.Result) == 0 {
				return nil
			}
			return json.Unmarshal(f.Result, resp)
		}
	}
}
