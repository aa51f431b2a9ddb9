// Package enginewatch follows the Docker Engine for the daemon: its event
// stream tells when the engine goes away (a dockerd restart or stop) and
// comes back, and how Berth's process containers end (exit codes, OOM
// kills). When the connection drops, the watcher says so once (Lost: the
// daemon takes every app's targets out of the proxy, so that it answers
// 503 rather than send requests to host ports that other containers may
// take); when the engine answers again, and at the daemon's start, it
// restores (Restore: services, then apps, then routes). It knows nothing
// of those parts: the daemon passes them in.
package enginewatch

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/naming"
)

// Engine is what the watcher asks of the Docker Engine.
type Engine interface {
	Ping(ctx context.Context) error
	Events(ctx context.Context, labels map[string]string) (<-chan docker.Event, <-chan error)
}

// Config is what a Watcher is built with.
type Config struct {
	// Connect returns the engine (the daemon's client); its error says the
	// engine is unavailable.
	Connect func(ctx context.Context) (Engine, error)
	// Labels select the containers whose events are followed (this
	// instance's process containers).
	Labels map[string]string
	// Lost is called once each time the engine becomes unreachable (also
	// when it is down at the start).
	Lost func(ctx context.Context)
	// Restore is called once the engine answers: at the start and each
	// time it comes back. The event stream is subscribed first, so no exit
	// during a restore goes unseen. A restore still running when the engine
	// goes away again finishes (its calls fail) before the next begins.
	Restore func(ctx context.Context)
	// WebStopped is called when one of an app's web containers stopped
	// (crashed, OOM-killed, stopped by the engine's shutdown), so that it
	// leaves the app's route at once; WebStarted when one started, with
	// its ID: when the engine restarted it (it has a new host port) the
	// route should follow, but a container a deploy or ps:scale started
	// gets traffic only once its checks pass. nil: nothing is called.
	WebStopped func(ctx context.Context, app, container string)
	WebStarted func(ctx context.Context, app, id string)
	// Exits records how containers ended (nil: not recorded).
	Exits *Exits
	// Exited, if set, is told of each process container's end (the
	// daemon's crash-loop notifications).
	Exited func(ctx context.Context, e ExitEvent)
	Log    *slog.Logger
	// Retry is the wait between attempts to reach the engine (default 1 s).
	Retry time.Duration
}

// Watcher follows the engine; see the package documentation.
type Watcher struct {
	cfg Config
	// restoring serializes restores.
	restoring sync.Mutex
	wg        sync.WaitGroup
}

// New returns a Watcher; Run starts it.
func New(cfg Config) *Watcher {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Retry <= 0 {
		cfg.Retry = time.Second
	}
	if cfg.Lost == nil {
		cfg.Lost = func(context.Context) {}
	}
	if cfg.Restore == nil {
		cfg.Restore = func(context.Context) {}
	}
	return &Watcher{cfg: cfg}
}

// Run watches until ctx ends, and waits for a restore in progress.
func (w *Watcher) Run(ctx context.Context) {
	defer w.wg.Wait()
	up := false   // the engine answered since the last loss
	lost := false // Lost was called and the engine has not come back
	for ctx.Err() == nil {
		eng, err := w.cfg.Connect(ctx)
		if err == nil {
			err = eng.Ping(ctx)
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if !lost {
				w.cfg.Log.Warn("docker engine unavailable: apps answer 503 until it is back", "err", err)
				w.cfg.Lost(ctx)
				lost = true
			}
			sleep(ctx, w.cfg.Retry)
			continue
		}
		sctx, cancel := context.WithCancel(ctx)
		events, errc := eng.Events(sctx, w.cfg.Labels)
		if !up {
			if lost {
				w.cfg.Log.Info("docker engine is back: restoring services, apps and routes")
			}
			up, lost = true, false
			w.restore(ctx)
		}
		for ev := range events {
			w.handle(ctx, ev)
		}
		err = <-errc
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = errors.New("the event stream ended")
		}
		w.cfg.Log.Warn("lost the connection to the docker engine: apps answer 503 until it is back", "err", err)
		w.cfg.Lost(ctx)
		up, lost = false, true
		sleep(ctx, w.cfg.Retry)
	}
}

// restore runs Restore in the background: events are read meanwhile (the
// engine drops subscribers that fall behind).
func (w *Watcher) restore(ctx context.Context) {
	w.wg.Go(func() {
		w.restoring.Lock()
		defer w.restoring.Unlock()
		if ctx.Err() != nil {
			return
		}
		start := time.Now()
		w.cfg.Restore(ctx)
		w.cfg.Log.Info("restore finished", "took", time.Since(start).Round(time.Millisecond))
	})
}

// handle logs how a process container ended and records it, and has a
// web container's route follow its stops and starts.
func (w *Watcher) handle(ctx context.Context, ev docker.Event) {
	if ev.Labels[naming.LabelProcess] == "web" {
		switch app := ev.Labels[naming.LabelApp]; {
		case ev.Action == "die" && w.cfg.WebStopped != nil:
			defer w.cfg.WebStopped(ctx, app, ev.Name)
		case ev.Action == "start" && w.cfg.WebStarted != nil:
			defer w.cfg.WebStarted(ctx, app, ev.ContainerID)
		}
	}
	switch ev.Action {
	case "oom":
		w.cfg.Exits.oom(ev.ContainerID)
	case "die":
		oom := w.cfg.Exits.died(ev.ContainerID, ev.ExitCode, ev.Time)
		level := slog.LevelInfo
		if ev.ExitCode != 0 || oom {
			level = slog.LevelWarn
		}
		w.cfg.Log.Log(context.Background(), level, "process container exited",
			"app", ev.Labels[naming.LabelApp], "process", ev.Labels[naming.LabelProcess]+"."+ev.Labels[naming.LabelIndex],
			"container", ev.Name, "exit_code", ev.ExitCode, "oom_killed", oom)
		if w.cfg.Exited != nil {
			w.cfg.Exited(ctx, ExitEvent{App: ev.Labels[naming.LabelApp], Process: ev.Labels[naming.LabelProcess] + "." + ev.Labels[naming.LabelIndex],
				ID: ev.ContainerID, Name: ev.Name, Code: ev.ExitCode, OOMKilled: oom, At: ev.Time})
		}
	case "destroy":
		w.cfg.Exits.forget(ev.ContainerID)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// ExitEvent is a process container's end, as Config.Exited hears of it.
type ExitEvent struct {
	App     string
	Process string // TYPE.N
	ID      string
	Name    string
	Code    int
	// OOMKilled: the kernel's OOM killer ended it.
	OOMKilled bool
	At        time.Time
}

// Exit is how a container last ended, as the engine's events told.
type Exit struct {
	Code      int
	OOMKilled bool
	At        time.Time
	// Count is how many times the container ended while the daemon
	// watched.
	Count int
}

// Exits records the last exit of each container (in memory: a daemon
// restart forgets them; the engine's restart count stays).
type Exits struct {
	mu   sync.Mutex
	last map[string]Exit
	oomd map[string]bool // an oom event came, its die not yet
}

// NewExits returns an empty record.
func NewExits() *Exits {
	return &Exits{last: map[string]Exit{}, oomd: map[string]bool{}}
}

// Last is the last exit of the container with the given ID.
func (e *Exits) Last(id string) (Exit, bool) {
	if e == nil {
		return Exit{}, false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.last[id]
	return x, ok
}

func (e *Exits) oom(id string) {
	if e == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.oomd[id] = true
}

// died records an exit and reports whether the kernel's OOM killer ended it.
func (e *Exits) died(id string, code int, at time.Time) bool {
	if e == nil {
		return false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	oom := e.oomd[id]
	delete(e.oomd, id)
	e.last[id] = Exit{Code: code, OOMKilled: oom, At: at, Count: e.last[id].Count + 1}
	return oom
}

func (e *Exits) forget(id string) {
	if e == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.last, id)
	delete(e.oomd, id)
}
