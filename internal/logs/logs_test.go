package logs

import (
	"context"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/naming"
)

// fakeEngine serves fixed output per container and, once, a start event.
type fakeEngine struct {
	mu         sync.Mutex
	containers []docker.ContainerInfo
	output     map[string]string // id -> output, lines with timestamps
	details    map[string]docker.ContainerDetails
	events     chan docker.Event
	asked      []docker.LogsOptions
}

func (f *fakeEngine) ListContainers(_ context.Context, _ map[string]string, _ bool) ([]docker.ContainerInfo, error) {
	return slices.Clone(f.containers), nil
}

func (f *fakeEngine) InspectContainer(_ context.Context, id string) (docker.ContainerDetails, error) {
	return f.details[id], nil
}

func (f *fakeEngine) Logs(_ context.Context, id string, opts docker.LogsOptions, stdout, _ io.Writer) error {
	f.mu.Lock()
	f.asked = append(f.asked, opts)
	f.mu.Unlock()
	_, err := io.WriteString(stdout, f.output[id])
	return err
}

func (f *fakeEngine) Events(ctx context.Context, _ map[string]string) (<-chan docker.Event, <-chan error) {
	errc := make(chan error, 1)
	go func() { <-ctx.Done(); errc <- ctx.Err() }()
	return f.events, errc
}

func proc(id, name, typ, index string) docker.ContainerInfo {
	return docker.ContainerInfo{ID: id, Name: name, Labels: map[string]string{naming.LabelProcess: typ, naming.LabelIndex: index}}
}

func TestStream(t *testing.T) {
	eng := &fakeEngine{
		containers: []docker.ContainerInfo{proc("w", "shop.worker.1", "worker", "1"), proc("a", "shop.web.1", "web", "1")},
		output: map[string]string{
			"a": "2026-12-06T06:00:00.000000001Z listening\r\n2026-12-06T06:00:01.000000001Z no newline",
			"w": "2026-12-06T06:00:00.000000002Z working\n",
		},
	}
	var out strings.Builder
	if err := Stream(context.Background(), eng, "shop", nil, Options{Lines: 5}, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	slices.Sort(lines)
	want := []string{
		"2026-12-06T06:00:00.000000001Z shop[web.1]: listening",
		"2026-12-06T06:00:00.000000002Z shop[worker.1]: working",
		"2026-12-06T06:00:01.000000001Z shop[web.1]: no newline",
	}
	if !slices.Equal(lines, want) {
		t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	for _, o := range eng.asked {
		if o.Tail != "5" || !o.Timestamps || o.Follow {
			t.Errorf("asked the engine for %+v, want the last 5 lines with timestamps", o)
		}
	}

	out.Reset()
	eng.containers = eng.containers[:1]
	eng.output["w"] = "working\n" // without timestamps, as asked when quiet
	if err := Stream(context.Background(), eng, "shop", nil, Options{Quiet: true}, &out); err != nil {
		t.Fatal(err)
	}
	if out.String() != "working\n" {
		t.Errorf("quiet: %q", out.String())
	}
}

// Following picks up a container started later, from a second before it
// started, and ends with the context.
func TestStreamFollow(t *testing.T) {
	started := time.Date(2026, 12, 6, 6, 0, 10, 0, time.UTC)
	eng := &fakeEngine{
		containers: []docker.ContainerInfo{proc("a", "shop.web.1", "web", "1")},
		output:     map[string]string{"a": "2026-12-06T06:00:00.000000001Z old\n", "b": "2026-12-06T06:00:10.000000001Z new\n"},
		details: map[string]docker.ContainerDetails{
			"a": {ContainerInfo: proc("a", "shop.web.1", "web", "1")},
			"b": {ContainerInfo: proc("b", "shop.web.2", "web", "2"), StartedAt: started},
		},
		events: make(chan docker.Event, 3),
	}
	eng.events <- docker.Event{Action: "create", ContainerID: "b"}
	eng.events <- docker.Event{Action: "start", ContainerID: "b"}
	eng.events <- docker.Event{Action: "start", ContainerID: "a"} // already followed
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	var out lockedBuilder
	if err := Stream(ctx, eng, "shop", nil, Options{Follow: true, Lines: 1}, &out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	if !strings.Contains(got, "shop[web.1]: old") || !strings.Contains(got, "shop[web.2]: new") || strings.Count(got, "old") != 1 {
		t.Errorf("followed output:\n%s", got)
	}
	// The first container gets its last line; the new one everything since
	// a second before it started.
	slices.SortFunc(eng.asked, func(a, b docker.LogsOptions) int { return a.Since.Compare(b.Since) })
	if len(eng.asked) != 2 || eng.asked[0].Tail != "1" || eng.asked[1].Tail != "" || !eng.asked[1].Since.Equal(started.Add(-time.Second)) || !eng.asked[1].Follow {
		t.Errorf("asked the engine for %+v", eng.asked)
	}
}

type lockedBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuilder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuilder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestExplain(t *testing.T) {
	eng := &fakeEngine{
		output:  map[string]string{"a": "2026-12-06T06:00:00.000000001Z one\n2026-12-06T06:00:00.000000002Z two\n"},
		details: map[string]docker.ContainerDetails{"a": {ExitCode: 3, RestartCount: 2}},
	}
	fc := Explain(context.Background(), eng, "a", "web.1")
	if fc.Dyno != "web.1" || fc.Status != "exited with code 3 after 2 restarts" || len(fc.Lines) != 2 {
		t.Errorf("explained %+v", fc)
	}
	if got := fc.Tail(1); !slices.Equal(got, []string{"two"}) {
		t.Errorf("Tail(1) = %q", got)
	}
	if eng.asked[0].Tail != "200" || !eng.asked[0].Timestamps {
		t.Errorf("asked the engine for %+v, want the last 200 lines with timestamps", eng.asked[0])
	}
	eng.details["a"] = docker.ContainerDetails{ContainerInfo: docker.ContainerInfo{State: "restarting"}, ExitCode: 1, RestartCount: 3}
	if fc := Explain(context.Background(), eng, "a", "web.1"); fc.Status != "restarting after exiting with code 1, restarted 3 times" {
		t.Errorf("restarting: %q", fc.Status)
	}
}
