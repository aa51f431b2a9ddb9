package deploy

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/logs"
	"github.com/berthpaas/berth/internal/naming"
)

// The logs of an app whose live release runs on Swarm: its services'
// output read through the manager (every node's tasks), each line named
// by its task's slot, "APP[TYPE.SLOT]: ", as `logs` prints a container's.

// swarmLogSource is what reading a Swarm app's logs asks of the manager.
type swarmLogSource interface {
	ListServices(ctx context.Context, labels map[string]string) ([]docker.ServiceInfo, error)
	ServiceTasks(ctx context.Context, serviceID string) ([]docker.TaskInfo, error)
	ServiceLogs(ctx context.Context, serviceID string, opts docker.LogsOptions, stdout, stderr io.Writer) error
}

// swarmLogsPoll is how often a followed Swarm app's services are listed
// again to pick up those a later deploy made.
var swarmLogsPoll = time.Second

// swarmTaskAttr is the detail naming a log line's task.
const swarmTaskAttr = "com.docker.swarm.task.id"

// swarmLogs writes the logs of app's services when its live release runs
// on Swarm, and reports whether it does (false: its containers here have
// the logs).
func (d *Deployer) swarmLogs(ctx context.Context, st state, eng Engine, opts logs.Options, out io.Writer) (bool, error) {
	sw, svcs, err := d.swarmServices(ctx, st.app.Name)
	if err != nil || sw == nil {
		return false, err
	}
	set, err := d.settings(ctx, st.app)
	if err != nil {
		return true, err
	}
	cs, err := eng.ListContainers(ctx, d.names.KindLabels(st.app.Name, naming.KindProcess), true)
	if err != nil {
		return true, err
	}
	if !onSwarm(svcs, cs, set) {
		return false, nil
	}
	var pick []docker.ServiceInfo
	for _, s := range svcs {
		// Not following: the live generation's, as for containers (an
		// old one draining does not mix in). Following takes every
		// service, to carry on across deploys.
		if opts.Follow || s.Labels[naming.LabelGeneration] == set.generation {
			pick = append(pick, s)
		}
	}
	labels := d.names.KindLabels(st.app.Name, naming.KindProcess)
	return true, streamServices(ctx, sw, st.app.Name, labels, pick, opts, out)
}

// streamServices writes the output of services (those of opts.Process
// only), each line prefixed "APP[TYPE.SLOT]: " after its time (no prefix,
// no time with Quiet). Without Follow the lines of all services are
// merged in the order of their times; with Follow they are written as
// they come, and services carrying labels that appear later are followed
// too, until ctx ends.
func streamServices(ctx context.Context, src swarmLogSource, appName string, labels map[string]string, svcs []docker.ServiceInfo, opts logs.Options, out io.Writer) error {
	slots := &taskSlots{src: src, slot: map[string]int{}, listed: map[string]time.Time{}}
	lo := docker.LogsOptions{Follow: opts.Follow, Timestamps: true, Details: true}
	if opts.Lines > 0 {
		lo.Tail = strconv.Itoa(opts.Lines)
	}
	wanted := func(s docker.ServiceInfo) bool {
		return opts.Process == "" || s.Labels[naming.LabelProcess] == opts.Process
	}
	if !opts.Follow {
		var mu sync.Mutex
		var lines []serviceLine
		var wg sync.WaitGroup
		var firstErr error
		for _, s := range svcs {
			if !wanted(s) {
				continue
			}
			w := &splitWriter{line: func(l string) {
				sl := parseServiceLine(l)
				sl.prefix = slots.prefix(ctx, appName, s, sl.task)
				mu.Lock()
				lines = append(lines, sl)
				mu.Unlock()
			}}
			wg.Go(func() {
				err := src.ServiceLogs(ctx, s.ID, lo, w, w)
				w.flush()
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			})
		}
		wg.Wait()
		// Time order; lines of one time (or none) as they came.
		sort.SliceStable(lines, func(i, j int) bool { return lines[i].at.Before(lines[j].at) })
		for _, l := range lines {
			l.write(out, opts.Quiet)
		}
		return firstErr
	}

	var mu sync.Mutex
	var wg sync.WaitGroup
	following := map[string]bool{}
	follow := func(s docker.ServiceInfo, tail string) {
		if following[s.ID] || !wanted(s) {
			return
		}
		following[s.ID] = true
		o := lo
		o.Tail = tail
		w := &splitWriter{line: func(l string) {
			sl := parseServiceLine(l)
			sl.prefix = slots.prefix(ctx, appName, s, sl.task)
			mu.Lock()
			sl.write(out, opts.Quiet)
			mu.Unlock()
		}}
		wg.Go(func() {
			src.ServiceLogs(ctx, s.ID, o, w, w)
			w.flush()
		})
	}
	for _, s := range svcs {
		follow(s, lo.Tail)
	}
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return nil
		case <-time.After(swarmLogsPoll):
		}
		later, err := src.ListServices(ctx, labels)
		if err != nil {
			continue // the manager busy or a moment away: next time
		}
		for _, s := range later {
			// A service made after logs began: all of its output.
			follow(s, "")
		}
	}
}

// serviceLine is one line of a service's output.
type serviceLine struct {
	at     time.Time // zero: the engine gave none
	stamp  string    // the engine's timestamp, as it wrote it
	task   string    // the task's ID ("" unknown)
	text   string
	prefix string
}

func (l serviceLine) write(out io.Writer, quiet bool) {
	switch {
	case quiet:
		fmt.Fprintln(out, l.text)
	case l.stamp != "":
		fmt.Fprintf(out, "%s %s%s\n", l.stamp, l.prefix, l.text)
	default:
		fmt.Fprintf(out, "%s%s\n", l.prefix, l.text)
	}
}

// parseServiceLine splits a line of service logs asked with timestamps and
// details, "TIME k=v,k=v TEXT", into its parts. A line without them is
// all text.
func parseServiceLine(line string) serviceLine {
	line = strings.TrimRight(line, "\r")
	var l serviceLine
	rest := line
	if ts, after, ok := strings.Cut(line, " "); ok {
		if at, err := time.Parse(time.RFC3339Nano, ts); err == nil {
			l.at, l.stamp, rest = at, ts, after
		}
	}
	if attrs, text, ok := strings.Cut(rest, " "); ok && (attrs == "" || strings.Contains(attrs, "=")) {
		parsed := true
		task := ""
		for _, kv := range strings.Split(attrs, ",") {
			if kv == "" {
				continue
			}
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				parsed = false
				break
			}
			if uk, err := url.QueryUnescape(k); err == nil && uk == swarmTaskAttr {
				task, _ = url.QueryUnescape(v)
			}
		}
		if parsed {
			l.task, rest = task, text
		}
	}
	l.text = rest
	return l
}

// taskSlots maps tasks to their slots, listing a service's tasks again
// (at most once a second) when a line names a task not seen yet.
type taskSlots struct {
	src    swarmLogSource
	mu     sync.Mutex
	slot   map[string]int       // task ID -> slot
	listed map[string]time.Time // service ID -> when its tasks were listed
}

func (t *taskSlots) prefix(ctx context.Context, appName string, s docker.ServiceInfo, task string) string {
	typ := s.Labels[naming.LabelProcess]
	t.mu.Lock()
	defer t.mu.Unlock()
	n, ok := t.slot[task]
	if !ok && task != "" && time.Since(t.listed[s.ID]) > time.Second {
		t.listed[s.ID] = time.Now()
		if tasks, err := t.src.ServiceTasks(ctx, s.ID); err == nil {
			for _, tk := range tasks {
				t.slot[tk.ID] = tk.Slot
			}
		}
		n, ok = t.slot[task]
	}
	if !ok {
		return fmt.Sprintf("%s[%s]: ", appName, typ)
	}
	return fmt.Sprintf("%s[%s.%d]: ", appName, typ, n)
}

// splitWriter hands whole lines to line.
type splitWriter struct {
	line    func(string)
	pending []byte
}

func (w *splitWriter) Write(p []byte) (int, error) {
	w.pending = append(w.pending, p...)
	for {
		i := strings.IndexByte(string(w.pending), '\n')
		if i < 0 {
			return len(p), nil
		}
		w.line(string(w.pending[:i]))
		w.pending = w.pending[i+1:]
	}
}

func (w *splitWriter) flush() {
	if len(w.pending) > 0 {
		w.line(string(w.pending))
		w.pending = nil
	}
}
