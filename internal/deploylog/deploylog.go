// Package deploylog keeps the output of each app's running deploy, whoever
// started it (a git push, the CLI, the dashboard), so that others can
// watch it (deploys.follow: the dashboard's live deploy log). It sees the
// deploying operations' output through the API's Tee; it keeps no history:
// a finished deploy's output is dropped once its followers have read it.
package deploylog

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"sync"

	"github.com/berthpaas/berth/internal/api"
)

// maxBytes bounds the output kept of one deploy: a follower who comes
// later sees the last maxBytes (to 2*maxBytes) of it.
const maxBytes = 256 << 10

// deploying are the operations whose output is a deploy's.
var deploying = map[string]bool{
	"git.push-deploy": true, "git.from-archive": true, "git.from-image": true,
	"ps.rebuild": true, "ps.restart": true, "ps.scale": true,
	"releases.rollback": true, "config.update": true,
}

// Hub holds the running deploys' output.
type Hub struct {
	mu      sync.Mutex
	running map[string]*run // by app
	started chan struct{}   // closed (and replaced) when a deploy starts
}

// run is one deploy's output.
type run struct {
	op      string
	buf     []byte
	base    int // how many bytes were dropped before buf
	done    bool
	err     string
	changed chan struct{} // closed (and replaced) on each write and at the end
}

// New returns an empty hub.
func New() *Hub {
	return &Hub{running: map[string]*run{}, started: make(chan struct{})}
}

// Tee is the API's tee: it copies the deploying operations' output.
func (h *Hub) Tee(_ context.Context, op string, raw json.RawMessage, out api.Output) (api.Output, func(error)) {
	if !deploying[op] {
		return out, func(error) {}
	}
	var req struct {
		App string `json:"app"`
	}
	if json.Unmarshal(raw, &req) != nil || req.App == "" {
		return out, func(error) {}
	}
	r := &run{op: op, changed: make(chan struct{})}
	h.mu.Lock()
	h.running[req.App] = r
	close(h.started)
	h.started = make(chan struct{})
	h.mu.Unlock()
	out = api.Output{Stdout: &tee{h: h, r: r, w: out.Stdout}, Stderr: &tee{h: h, r: r, w: out.Stderr}}
	return out, func(err error) {
		h.mu.Lock()
		defer h.mu.Unlock()
		r.done = true
		if err != nil {
			r.err, _, _ = strings.Cut(strings.TrimSpace(err.Error()), "\n")
		}
		close(r.changed)
		if h.running[req.App] == r {
			delete(h.running, req.App)
		}
	}
}

// tee writes to the caller's writer (if any) and to the run.
type tee struct {
	h *Hub
	r *run
	w io.Writer
}

func (t *tee) Write(p []byte) (int, error) {
	t.h.mu.Lock()
	if !t.r.done {
		t.r.buf = append(t.r.buf, p...)
		if over := len(t.r.buf) - maxBytes; len(t.r.buf) > 2*maxBytes {
			t.r.buf = append([]byte(nil), t.r.buf[over:]...)
			t.r.base += over
		}
		close(t.r.changed)
		t.r.changed = make(chan struct{})
	}
	t.h.mu.Unlock()
	if t.w == nil {
		return len(p), nil
	}
	return t.w.Write(p)
}

// Register adds deploys.follow to the mux.
func (h *Hub) Register(m *api.Mux) {
	api.Handle(m, api.DeploysFollow, h.follow)
}

// follow writes the app's running deploy's output (or, with Wait, the
// next one's) to out until it ends.
func (h *Hub) follow(ctx context.Context, req api.DeployFollow, out api.Output) (api.DeployFollowed, error) {
	w := out.Stdout
	if w == nil {
		w = io.Discard
	}
	var r *run
	for {
		h.mu.Lock()
		r = h.running[req.App]
		started := h.started
		h.mu.Unlock()
		if r != nil {
			break
		}
		if !req.Wait {
			return api.DeployFollowed{}, nil
		}
		select {
		case <-ctx.Done():
			return api.DeployFollowed{}, ctx.Err()
		case <-started:
		}
	}
	sent := 0
	for {
		h.mu.Lock()
		var chunk []byte
		if sent < r.base {
			chunk = []byte("[earlier output left out]\n")
			sent = r.base
		}
		chunk = append(chunk, r.buf[sent-r.base:]...)
		sent = r.base + len(r.buf)
		done, changed := r.done, r.changed
		res := api.DeployFollowed{Running: true, Op: r.op, OK: r.err == "", Error: r.err}
		h.mu.Unlock()
		if len(chunk) > 0 {
			if _, err := w.Write(chunk); err != nil {
				return res, err
			}
		}
		if done {
			return res, nil
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-changed:
		}
	}
}
