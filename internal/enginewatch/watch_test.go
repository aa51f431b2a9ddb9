package enginewatch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/docker"
)

// fakeEngine is an engine that can go down and come back; each Events
// call is one stream, ended by down.
type fakeEngine struct {
	mu     sync.Mutex
	up     bool
	events chan docker.Event
	errc   chan error
	end    func(error) // ends the current stream
	subs   int
}

func (f *fakeEngine) Ping(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.up {
		return errors.New("docker: the engine is not running")
	}
	return nil
}

func (f *fakeEngine) Events(ctx context.Context, _ map[string]string) (<-chan docker.Event, <-chan error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.subs++
	events, errc := make(chan docker.Event), make(chan error, 1)
	var once sync.Once
	end := func(err error) {
		once.Do(func() {
			close(events)
			if err != nil {
				errc <- err
			}
			close(errc)
		})
	}
	f.events, f.errc, f.end = events, errc, end
	if !f.up {
		end(errors.New("docker: events: connection refused"))
	}
	// As the real stream: the channels close when ctx ends.
	go func() { <-ctx.Done(); end(nil) }()
	return events, errc
}

func (f *fakeEngine) send(ev docker.Event) {
	f.mu.Lock()
	ch := f.events
	f.mu.Unlock()
	ch <- ev
}

// down ends the stream as a stopping dockerd does.
func (f *fakeEngine) down() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.up = false
	f.end(errors.New("docker: events: unexpected EOF"))
}

func (f *fakeEngine) setUp() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.up = true
}

// recorder counts Lost and Restore calls in order.
type recorder struct {
	mu    sync.Mutex
	calls []string
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, s)
}

func (r *recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.calls, " ")
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestWatcherRestoresAtStartAndWhenTheEngineComesBack(t *testing.T) {
	eng := &fakeEngine{}
	rec, changed, exited := &recorder{}, &recorder{}, &recorder{}
	var logs bytes.Buffer
	var logMu sync.Mutex
	exits := NewExits()
	w := New(Config{
		Connect:    func(context.Context) (Engine, error) { return eng, nil },
		Lost:       func(context.Context) { rec.add("lost") },
		Restore:    func(context.Context) { rec.add("restore") },
		WebStopped: func(_ context.Context, app, container string) { changed.add("stopped:" + app + ":" + container) },
		WebStarted: func(_ context.Context, app, id string) { changed.add("started:" + app + ":" + id) },
		Exits:      exits,
		Exited: func(_ context.Context, e ExitEvent) {
			exited.add(fmt.Sprintf("%s:%s:%s:%d:%v", e.App, e.Process, e.ID, e.Code, e.OOMKilled))
		},
		Log:   slog.New(slog.NewTextHandler(lockedBuffer{&logMu, &logs}, nil)),
		Retry: 5 * time.Millisecond,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()

	// Down at the start: lost once (however many retries), no restore.
	waitFor(t, "lost at the start", func() bool { return rec.String() == "lost" })
	time.Sleep(30 * time.Millisecond)
	if got := rec.String(); got != "lost" {
		t.Fatalf("while down: %q", got)
	}
	eng.setUp()
	waitFor(t, "the first restore", func() bool { return rec.String() == "lost restore" })

	// A container is OOM-killed, then another dies of a SIGKILL.
	eng.send(docker.Event{Action: "oom", ContainerID: "c1"})
	eng.send(docker.Event{Action: "die", ContainerID: "c1", ExitCode: 137, Name: "shop.web.1",
		Labels: map[string]string{"berth.app": "shop", "berth.process": "web", "berth.index": "1"}})
	eng.send(docker.Event{Action: "die", ContainerID: "c2", ExitCode: 137, Name: "shop.worker.1",
		Labels: map[string]string{"berth.app": "shop", "berth.process": "worker", "berth.index": "1"}})
	eng.send(docker.Event{Action: "die", ContainerID: "c2", ExitCode: 0})
	waitFor(t, "the exits", func() bool { x, ok := exits.Last("c2"); return ok && x.Count == 2 })
	if x, _ := exits.Last("c1"); x.Code != 137 || !x.OOMKilled || x.Count != 1 {
		t.Errorf("c1's last exit = %+v", x)
	}
	if x, _ := exits.Last("c2"); x.Code != 0 || x.OOMKilled {
		t.Errorf("c2's last exit = %+v", x)
	}
	// Exited is told after the exit is recorded: wait for the last one.
	const told = "shop:web.1:c1:137:true shop:worker.1:c2:137:false :.:c2:0:false"
	waitFor(t, "Exited told of every exit", func() bool { return exited.String() == told })
	logMu.Lock()
	l := logs.String()
	logMu.Unlock()
	if !strings.Contains(l, `msg="process container exited" app=shop process=web.1 container=shop.web.1 exit_code=137 oom_killed=true`) {
		t.Errorf("the OOM kill is not logged with app, process, code and oom:\n%s", l)
	}
	eng.send(docker.Event{Action: "start", ContainerID: "c1", Labels: map[string]string{"berth.app": "shop", "berth.process": "web", "berth.index": "1"}})
	eng.send(docker.Event{Action: "destroy", ContainerID: "c1"})
	// A web container's stop and start move the app's route; a worker's
	// do not.
	if got := changed.String(); got != "stopped:shop:shop.web.1 started:shop:c1" {
		t.Errorf("web container calls = %q, want web.1 stopped, then started", got)
	}

	// dockerd restarts: lost once, restored once when it answers again.
	eng.down()
	waitFor(t, "lost", func() bool { return rec.String() == "lost restore lost" })
	eng.setUp()
	waitFor(t, "restored", func() bool { return rec.String() == "lost restore lost restore" })
	if _, ok := exits.Last("c1"); ok {
		t.Error("a destroyed container's exit is still recorded")
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if got := rec.String(); got != "lost restore lost restore" {
		t.Errorf("calls = %q", got)
	}
}

func TestWatcherWaitsForARestoreBeforeTheNext(t *testing.T) {
	eng := &fakeEngine{up: true}
	var running, overlapped sync.Mutex
	release := make(chan struct{})
	var n int
	var nMu sync.Mutex
	w := New(Config{
		Connect: func(context.Context) (Engine, error) { return eng, nil },
		Restore: func(context.Context) {
			if !running.TryLock() {
				overlapped.Lock()
				return
			}
			defer running.Unlock()
			nMu.Lock()
			n++
			first := n == 1
			nMu.Unlock()
			if first {
				<-release
			}
		},
		Retry: 5 * time.Millisecond,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	waitFor(t, "a subscription", func() bool { eng.mu.Lock(); defer eng.mu.Unlock(); return eng.subs == 1 })
	eng.down()
	eng.setUp()
	waitFor(t, "a second subscription", func() bool { eng.mu.Lock(); defer eng.mu.Unlock(); return eng.subs >= 2 })
	close(release)
	waitFor(t, "the second restore", func() bool { nMu.Lock(); defer nMu.Unlock(); return n == 2 })
	cancel()
	<-done
	if !overlapped.TryLock() {
		t.Error("two restores ran at once")
	}
}

type lockedBuffer struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (l lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
