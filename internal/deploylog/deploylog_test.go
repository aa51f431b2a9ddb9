package deploylog

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/api"
)

// syncBuf is a bytes.Buffer safe for a writer and a reader.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestFollow: a follower waiting for the next deploy sees all of its
// output and how it ended; the deploy's own caller still gets its output;
// other operations are not copied; without Wait nothing runs.
func TestFollow(t *testing.T) {
	m := api.NewMux(slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	h := New()
	m.SetTee(h.Tee)
	h.Register(m)
	step := make(chan struct{})
	api.Handle(m, api.PSRebuild, func(ctx context.Context, req api.PSRequest, out api.Output) (api.Empty, error) {
		out.Stdout.Write([]byte("-----> Building\n"))
		<-step
		out.Stdout.Write([]byte("-----> Done\n"))
		return api.Empty{}, errors.New("checks failed\nmore")
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	if res, err := api.DeploysFollow.Call(ctx, m, api.DeployFollow{App: "shop"}); err != nil || res.Running {
		t.Fatalf("no deploy, no wait: %+v %v", res, err)
	}
	var watched syncBuf
	type result struct {
		res api.DeployFollowed
		err error
	}
	got := make(chan result, 1)
	go func() {
		res, err := api.DeploysFollow.Stream(ctx, m, api.DeployFollow{App: "shop", Wait: true}, api.Output{Stdout: &watched})
		got <- result{res, err}
	}()
	time.Sleep(50 * time.Millisecond) // the follower waits
	var own syncBuf
	done := make(chan error, 1)
	go func() {
		_, err := api.PSRebuild.Stream(ctx, m, api.PSRequest{App: "shop"}, api.Output{Stdout: &own})
		done <- err
	}()
	for !strings.Contains(watched.String(), "Building") {
		time.Sleep(10 * time.Millisecond)
		if ctx.Err() != nil {
			t.Fatalf("the follower never saw the start: %q", watched.String())
		}
	}
	close(step)
	<-done
	r := <-got
	if r.err != nil || !r.res.Running || r.res.OK || r.res.Op != "ps.rebuild" || r.res.Error != "checks failed" {
		t.Errorf("the followed deploy ended: %+v %v", r.res, r.err)
	}
	if w := watched.String(); w != "-----> Building\n-----> Done\n" {
		t.Errorf("the follower saw %q", w)
	}
	if o := own.String(); o != "-----> Building\n-----> Done\n" {
		t.Errorf("the caller saw %q", o)
	}
	if len(h.running) != 0 {
		t.Errorf("a finished deploy is kept: %v", h.running)
	}
}

// TestLateFollowerAndPanic: a follower who comes late to a long deploy
// sees its last part (the start left out, said so); a deploy whose
// handler panics still ends for its followers; other operations and
// calls without an app are not copied.
func TestLateFollowerAndPanic(t *testing.T) {
	h := New()
	out, ended := h.Tee(context.Background(), "ps.rebuild", []byte(`{"app":"shop"}`), api.Output{})
	line := bytes.Repeat([]byte("x"), 1023)
	line = append(line, '\n')
	for range 3 * maxBytes / len(line) {
		out.Stdout.Write(line)
	}
	out.Stdout.Write([]byte("the end\n"))
	var got syncBuf
	res := make(chan api.DeployFollowed, 1)
	go func() {
		r, _ := h.follow(context.Background(), api.DeployFollow{App: "shop"}, api.Output{Stdout: &got})
		res <- r
	}()
	for !strings.Contains(got.String(), "the end") {
		time.Sleep(10 * time.Millisecond)
	}
	ended(nil)
	if r := <-res; !r.Running || !r.OK {
		t.Errorf("the late follower's result: %+v", r)
	}
	s := got.String()
	if !strings.HasPrefix(s, "[earlier output left out]\n") || len(s) > 2*maxBytes+100 || len(s) < maxBytes {
		t.Errorf("the late follower got %d bytes starting %q", len(s), s[:min(len(s), 40)])
	}

	for _, c := range []struct{ op, req string }{{"ps.report", `{"app":"shop"}`}, {"ps.rebuild", `{"all":true}`}} {
		o, end := h.Tee(context.Background(), c.op, []byte(c.req), api.Output{})
		if o.Stdout != nil {
			t.Errorf("%s %s is copied", c.op, c.req)
		}
		end(nil)
	}

	m := api.NewMux(slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	m.SetTee(h.Tee)
	started := make(chan struct{})
	api.Handle(m, api.PSRestart, func(ctx context.Context, req api.PSRequest, out api.Output) (api.Empty, error) {
		close(started)
		time.Sleep(50 * time.Millisecond)
		panic("boom")
	})
	go func() {
		defer func() { recover() }()
		api.PSRestart.Call(context.Background(), m, api.PSRequest{App: "blog"})
	}()
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := h.follow(ctx, api.DeployFollow{App: "blog"}, api.Output{})
	if err != nil || r.OK || !strings.Contains(r.Error, "abnormally") {
		t.Errorf("after a panic the follower got %+v %v", r, err)
	}
}
