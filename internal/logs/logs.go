// Package logs is the output of an app's process containers as `logs`
// shows it: read from the container engine, followed across deploys, each
// line prefixed "APP[TYPE.N]: ", and the output the containers of a failed
// deploy left (why each stopped, its last lines), kept after they are
// removed. The deploy pipeline records failures here; the Deployer's Logs
// streams through it.
package logs

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/naming"
)

// Options select what logs shows.
type Options struct {
	Follow  bool
	Lines   int    // per container; 0 = all
	Process string // only this process type
	Quiet   bool   // no prefix
}

// Engine is what reading logs asks of the container engine: the
// containers, their output, and (to follow) the events of new ones.
type Engine interface {
	ListContainers(ctx context.Context, labels map[string]string, all bool) ([]docker.ContainerInfo, error)
	InspectContainer(ctx context.Context, idOrName string) (docker.ContainerDetails, error)
	Logs(ctx context.Context, id string, opts docker.LogsOptions, stdout, stderr io.Writer) error
	Events(ctx context.Context, labels map[string]string) (<-chan docker.Event, <-chan error)
}

var _ Engine = (*docker.Client)(nil)

// Stream writes the output of app's containers that match labels, each
// line prefixed by "APP[TYPE.N]: " (with its time unless Quiet). With
// Follow it keeps going, picking up containers started later, until ctx
// ends.
func Stream(ctx context.Context, eng Engine, app string, labels map[string]string, opts Options, out io.Writer) error {
	var events <-chan docker.Event
	var evErr <-chan error
	if opts.Follow {
		events, evErr = eng.Events(ctx, labels)
	}
	cs, err := eng.ListContainers(ctx, labels, !opts.Follow)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	following := map[string]bool{}
	follow := func(c docker.ContainerInfo, since time.Time) {
		if following[c.ID] {
			return
		}
		following[c.ID] = true
		prefix := fmt.Sprintf("%s[%s.%s]: ", app, c.Labels[naming.LabelProcess], c.Labels[naming.LabelIndex])
		w := &lineWriter{mu: &mu, out: out, prefix: prefix, quiet: opts.Quiet}
		lo := docker.LogsOptions{Follow: opts.Follow, Timestamps: !opts.Quiet, Since: since}
		if opts.Lines > 0 && since.IsZero() {
			lo.Tail = strconv.Itoa(opts.Lines)
		}
		wg.Go(func() {
			eng.Logs(ctx, c.ID, lo, w, w)
			w.flush()
		})
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].Name < cs[j].Name })
	for _, c := range cs {
		follow(c, time.Time{})
	}
	if !opts.Follow {
		wg.Wait()
		return nil
	}
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return nil
		case err := <-evErr:
			wg.Wait()
			if err != nil && ctx.Err() == nil {
				return err
			}
			return nil
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if ev.Action != "start" {
				continue
			}
			det, err := eng.InspectContainer(ctx, ev.ContainerID)
			if err != nil {
				continue
			}
			follow(det.ContainerInfo, det.StartedAt.Add(-time.Second))
		}
	}
}

// lineWriter writes whole lines with a prefix, one writer per container,
// serialized across containers.
type lineWriter struct {
	mu      *sync.Mutex
	out     io.Writer
	prefix  string
	quiet   bool
	pending []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.pending = append(w.pending, p...)
	for {
		i := strings.IndexByte(string(w.pending), '\n')
		if i < 0 {
			return len(p), nil
		}
		w.emit(string(w.pending[:i]))
		w.pending = w.pending[i+1:]
	}
}

func (w *lineWriter) flush() {
	if len(w.pending) > 0 {
		w.emit(string(w.pending))
		w.pending = nil
	}
}

func (w *lineWriter) emit(line string) {
	line = strings.TrimRight(line, "\r")
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.quiet {
		fmt.Fprintln(w.out, line)
		return
	}
	// With timestamps the engine starts each line with one: keep it first.
	ts, rest, ok := strings.Cut(line, " ")
	if ok && len(ts) > 20 && ts[4] == '-' {
		fmt.Fprintf(w.out, "%s %s%s\n", ts, w.prefix, rest)
		return
	}
	fmt.Fprintf(w.out, "%s%s\n", w.prefix, line)
}
