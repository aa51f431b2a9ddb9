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
