package deploy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/logs"
	"github.com/berthpaas/berth/internal/naming"
)

// fakeServiceLogs serves service logs as the engine writes them with
// timestamps and details.
type fakeServiceLogs struct {
	mu       sync.Mutex
	services []docker.ServiceInfo
	tasks    map[string][]docker.TaskInfo // by service ID
	out      map[string]string            // by service ID
	asked    []docker.LogsOptions
	listed   int
}

func (f *fakeServiceLogs) ListServices(context.Context, map[string]string) ([]docker.ServiceInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.services, nil
}

func (f *fakeServiceLogs) ServiceTasks(_ context.Context, id string) ([]docker.TaskInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.listed++
	return f.tasks[id], nil
}

func (f *fakeServiceLogs) ServiceLogs(ctx context.Context, id string, opts docker.LogsOptions, stdout, _ io.Writer) error {
	f.mu.Lock()
	f.asked = append(f.asked, opts)
	out := f.out[id]
	f.mu.Unlock()
	io.WriteString(stdout, out)
	if opts.Follow {
		<-ctx.Done()
	}
	return nil
}

func svc(id, typ string) docker.ServiceInfo {
	return docker.ServiceInfo{ID: id, Name: "shop-" + typ + "-g1", Labels: map[string]string{naming.LabelProcess: typ}}
}

func twoServices() *fakeServiceLogs {
	return &fakeServiceLogs{
		services: []docker.ServiceInfo{svc("s-web", "web"), svc("s-worker", "worker")},
		tasks: map[string][]docker.TaskInfo{
			"s-web":    {{ID: "t-web1", Slot: 1}, {ID: "t-web2", Slot: 2}},
			"s-worker": {{ID: "t-wk1", Slot: 1}},
		},
		out: map[string]string{
			"s-web": "2026-12-07T02:00:01.000000000Z com.docker.swarm.node.id=n1,com.docker.swarm.service.id=s-web,com.docker.swarm.task.id=t-web1 listening on :5000\n" +
				"2026-12-07T02:00:03.000000000Z com.docker.swarm.node.id=n2,com.docker.swarm.service.id=s-web,com.docker.swarm.task.id=t-web2 listening on :5000\n",
			"s-worker": "2026-12-07T02:00:02.000000000Z com.docker.swarm.node.id=n2,com.docker.swarm.service.id=s-worker,com.docker.swarm.task.id=t-wk1 heartbeat 0\n" +
				"2026-12-07T02:00:04.500000000Z com.docker.swarm.node.id=n2,com.docker.swarm.service.id=s-worker,com.docker.swarm.task.id=t-wk1 heartbeat 1",
		},
	}
}

func TestSwarmLogsPrefixAndMerge(t *testing.T) {
	f := twoServices()
	var out bytes.Buffer
	if err := streamServices(context.Background(), f, "shop", nil, f.services, logs.Options{Lines: 5}, &out); err != nil {
		t.Fatal(err)
	}
	want := "2026-12-07T02:00:01.000000000Z shop[web.1]: listening on :5000\n" +
		"2026-12-07T02:00:02.000000000Z shop[worker.1]: heartbeat 0\n" +
		"2026-12-07T02:00:03.000000000Z shop[web.2]: listening on :5000\n" +
		"2026-12-07T02:00:04.500000000Z shop[worker.1]: heartbeat 1\n"
	if out.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", out.String(), want)
	}
	for _, o := range f.asked {
		if !o.Details || !o.Timestamps || o.Tail != "5" || o.Follow {
			t.Errorf("asked the engine %+v: want details, timestamps, tail 5, no follow", o)
		}
	}
	// One listing per service, not one per line.
	if f.listed != 2 {
		t.Errorf("listed tasks %d times, want 2", f.listed)
	}
}

func TestSwarmLogsProcessAndQuiet(t *testing.T) {
	f := twoServices()
	var out bytes.Buffer
	if err := streamServices(context.Background(), f, "shop", nil, f.services, logs.Options{Process: "worker", Quiet: true}, &out); err != nil {
		t.Fatal(err)
	}
	if want := "heartbeat 0\nheartbeat 1\n"; out.String() != want {
		t.Fatalf("got %q, want %q", out.String(), want)
	}
}

func TestSwarmLogsFollowPicksUpNewServices(t *testing.T) {
	f := twoServices()
	f.services = f.services[:1]
	old := swarmLogsPoll
	swarmLogsPoll = 20 * time.Millisecond
	defer func() { swarmLogsPoll = old }()
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var out bytes.Buffer
	w := writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return out.Write(p) })
	done := make(chan error)
	go func() { done <- streamServices(ctx, f, "shop", nil, f.services, logs.Options{Follow: true}, w) }()
	time.Sleep(50 * time.Millisecond)
	f.mu.Lock()
	f.services = append(f.services, svc("s-worker", "worker"))
	f.mu.Unlock()
	deadline := time.Now().Add(2 * time.Second)
	for {
		mu.Lock()
		got := out.String()
		mu.Unlock()
		if strings.Contains(got, "shop[worker.1]: heartbeat 0") && strings.Contains(got, "shop[web.2]: listening") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("following did not pick up the new service:\n%s", got)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestParseServiceLine(t *testing.T) {
	for _, c := range []struct {
		in, task, text, stamp string
	}{
		{"2026-12-07T02:00:01.5Z com.docker.swarm.task.id=abc hello world", "abc", "hello world", "2026-12-07T02:00:01.5Z"},
		{"2026-12-07T02:00:01.5Z  no attributes", "", "no attributes", "2026-12-07T02:00:01.5Z"},
		{"2026-12-07T02:00:01.5Z plain text=1 line", "", "plain text=1 line", "2026-12-07T02:00:01.5Z"},
		{"no time at all", "", "no time at all", ""},
		{"2026-12-07T02:00:01.5Z a%3Db=c,com.docker.swarm.task.id=t%2C1 x\r", "t,1", "x", "2026-12-07T02:00:01.5Z"},
	} {
		l := parseServiceLine(c.in)
		if l.task != c.task || l.text != c.text || l.stamp != c.stamp {
			t.Errorf("parseServiceLine(%q) = task %q text %q stamp %q, want %q %q %q", c.in, l.task, l.text, l.stamp, c.task, c.text, c.stamp)
		}
	}
}

// tasksOnly is a Swarm whose services have the given tasks.
type tasksOnly struct {
	Swarm
	tasks map[string][]docker.TaskInfo
}

func (s tasksOnly) ServiceTasks(_ context.Context, id string) ([]docker.TaskInfo, error) {
	return s.tasks[id], nil
}

func TestFindTask(t *testing.T) {
	gen := func(id, typ, g string) docker.ServiceInfo {
		return docker.ServiceInfo{ID: id, Labels: map[string]string{naming.LabelProcess: typ, naming.LabelGeneration: g}}
	}
	run := func(slot int, c string) docker.TaskInfo {
		return docker.TaskInfo{ID: "t" + c, Slot: slot, State: "running", DesiredState: "running", ContainerID: c}
	}
	sw := tasksOnly{tasks: map[string][]docker.TaskInfo{
		"old": {run(1, "old1")},
		"web": {run(3, "c3"), run(2, "c2"), {ID: "gone", Slot: 1, State: "failed", DesiredState: "shutdown", ContainerID: "c1"}},
	}}
	svcs := []docker.ServiceInfo{gen("old", "web", "g1"), gen("web", "web", "g2")}
	for target, want := range map[string]string{"web": "c2", "web.3": "c3", "web.2": "c2", "web.1": "", "worker": ""} {
		got, err := findTask(context.Background(), sw, "shop", svcs, "g2", target)
		if want == "" {
			if err == nil || !strings.Contains(err.Error(), "No running task "+target+" for shop") {
				t.Errorf("findTask(%s) = %+v, %v; want no task", target, got, err)
			}
			continue
		}
		if err != nil || got.task.ContainerID != want || got.dyno != "web."+strings.TrimPrefix(want, "c") {
			t.Errorf("findTask(%s) = %+v, %v; want container %s", target, got, err, want)
		}
	}
}

func TestShellWords(t *testing.T) {
	if got := shellWords([]string{"echo", "a b", "it's", "$HOME", ""}); got != `echo 'a b' 'it'\''s' '$HOME' ''` {
		t.Fatalf("shellWords: %s", got)
	}
}

type fakeNodeShell struct {
	code int
	err  error
	line string
}

func (f *fakeNodeShell) Run(_ context.Context, nodeID, line string, _ bool, _ Streams) (int, error) {
	f.line = nodeID + ": " + line
	return f.code, f.err
}

func TestEnterOnNode(t *testing.T) {
	task := swarmTask{dyno: "worker.2", task: docker.TaskInfo{NodeID: "n2", NodeAddr: "10.0.0.2", NodeHostname: "box2", ContainerID: "0123456789abcdef"}}
	cmd := []string{"sh", "-c", "echo $DYNO"}
	ns := &fakeNodeShell{code: 3}
	d := &Deployer{nodeShell: ns}
	if code, err := d.enterOnNode(context.Background(), task, cmd, true, Streams{}); code != 3 || err != nil {
		t.Fatalf("enterOnNode = %d, %v; want the command's exit 3", code, err)
	}
	if want := `n2: docker exec -it 0123456789abcdef sh -c 'echo $DYNO'`; ns.line != want {
		t.Fatalf("ran %q, want %q", ns.line, want)
	}
	ns.err = errors.New("cannot reach 10.0.0.2 over ssh (port 22): Connection timed out")
	if _, err := d.enterOnNode(context.Background(), task, cmd, false, Streams{}); err == nil || err.Error() != "Cannot enter worker.2: it runs on node box2 (10.0.0.2), and cannot reach 10.0.0.2 over ssh (port 22): Connection timed out" {
		t.Fatalf("unreachable: %v", err)
	}
	for _, d := range []*Deployer{{nodeShell: &fakeNodeShell{err: ErrNoNodeShell}}, {}} {
		_, err := d.enterOnNode(context.Background(), task, cmd, false, Streams{})
		if err == nil || !strings.Contains(err.Error(), "worker.2 runs on box2 (10.0.0.2): use ssh root@10.0.0.2 docker exec -i 0123456789ab sh -c 'echo $DYNO'") {
			t.Fatalf("no ssh to the node: %v", err)
		}
	}
}
