package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/berthpaas/berth/internal/api"
)

// IsEventStream reports whether the request asks for server-sent events
// (Accept: text/event-stream).
func IsEventStream(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/event-stream")
}

// buffers collect an operation's output for a JSON answer, up to a bound.
type buffers struct {
	stdout, stderr limitedBuffer
}

// maxBuffered bounds the output a JSON answer carries; streams (logs -t)
// belong in server-sent events.
const maxBuffered = 16 << 20

type limitedBuffer struct {
	mu sync.Mutex
	bytes.Buffer
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.Buffer.Len()+len(p) > maxBuffered {
		return 0, fmt.Errorf("more than %d bytes of output: ask for text/event-stream", maxBuffered)
	}
	return b.Buffer.Write(p)
}

// sse writes server-sent events, one at a time, flushing each.
type sse struct {
	mu sync.Mutex
	w  http.ResponseWriter
	fl http.Flusher
}

// event writes one event whose data is JSON.
func (s *sse) event(name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := fmt.Fprintf(s.w, "event: %s\ndata: %s\n\n", name, b); err != nil {
		return err
	}
	if s.fl != nil {
		s.fl.Flush()
	}
	return nil
}

// keepAliveEvery is how often a quiet stream (logs -t) sends a comment,
// so that nothing between the client and the daemon closes it as idle.
var keepAliveEvery = 25 * time.Second

// keepAlive writes a comment line every interval until done is closed.
func (s *sse) keepAlive(done <-chan struct{}, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			s.mu.Lock()
			_, err := io.WriteString(s.w, ": keep-alive\n\n")
			if err == nil && s.fl != nil {
				s.fl.Flush()
			}
			s.mu.Unlock()
			if err != nil {
				return
			}
		}
	}
}

// sseWriter turns output into "stdout" or "stderr" events whose data is
// a JSON string.
type sseWriter struct {
	s    *sse
	name string
}

func (w sseWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if err := w.s.event(w.name, string(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// serveEvents calls op with its output as events: "stdout" and "stderr"
// while it runs, then one "result" (the response) or "error" ({"error",
// "code"}). The status is 200 once the stream started: a refusal is an
// "error" event too.
// ServeEvents answers with op's output as server-sent events, as the API
// does for a stream (the dashboard's log tail and deploy log).
func ServeEvents(w http.ResponseWriter, r *http.Request, c api.Caller, op string, req any) {
	serveEvents(w, r, c, op, req)
}

func serveEvents(w http.ResponseWriter, r *http.Request, c api.Caller, op string, req any) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fl, _ := w.(http.Flusher)
	s := &sse{w: w, fl: fl}
	if fl != nil {
		fl.Flush()
	}
	// The comments stop before the handler returns (LIFO: close, then wait).
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); s.keepAlive(done, keepAliveEvery) }()
	// The keep-alives stop before the last event: nothing follows it.
	var once sync.Once
	stopKeepAlive := func() { once.Do(func() { close(done); wg.Wait() }) }
	defer stopKeepAlive()
	var resp json.RawMessage
	err := c.Call(r.Context(), op, req, &resp, api.Output{Stdout: sseWriter{s, "stdout"}, Stderr: sseWriter{s, "stderr"}})
	stopKeepAlive()
	if err != nil {
		e := asAPIError(err)
		s.event("error", map[string]string{"error": firstLine(e.Message), "code": string(e.Code)})
		return
	}
	if resp == nil {
		resp = json.RawMessage("null")
	}
	s.event("result", resp)
}
