package docker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

func TestContainerLifecycle(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	name := f.name("web")
	// The whole process tree ignores SIGTERM, so stopping must fall back to
	// SIGKILL after the stop timeout.
	script := `trap "" TERM; mkdir -p /www && echo "hello from $BERTH_GREETING" > /www/index.html; ` +
		`echo "started $BERTH_GREETING"; echo "to stderr" >&2; httpd -f -p 8080 -h /www`
	id := f.create(ContainerSpec{
		Name:          name,
		Cmd:           []string{"sh", "-c", script},
		Env:           []string{"BERTH_GREETING=berth-" + f.id},
		Labels:        map[string]string{"berth.test.role": "web"},
		Init:          true,
		RestartPolicy: "unless-stopped",
		StopTimeout:   30,
		PublishPort:   8080,
	})

	d, err := f.c.InspectContainer(f.ctx, name)
	if err != nil {
		t.Fatalf("InspectContainer(%s): %v", name, err)
	}
	if d.ID != id || d.Name != name || d.State != "created" || d.Status != "Created" || d.Running || d.HostPort != 0 || !d.StartedAt.IsZero() {
		t.Errorf("created container: %+v", d.ContainerInfo)
	}

	f.start(id)
	// Starting a running container is fine.
	if err := f.c.StartContainer(f.ctx, id); err != nil {
		t.Errorf("StartContainer on a running container: %v", err)
	}

	d, err = f.c.InspectContainer(f.ctx, id)
	if err != nil {
		t.Fatalf("InspectContainer: %v", err)
	}
	if !d.Running || d.State != "running" || !strings.HasPrefix(d.Status, "Up ") || d.HostPort == 0 || d.Image != testImage ||
		!strings.HasPrefix(d.ImageID, "sha256:") || d.Labels["berth.test.role"] != "web" || d.StartedAt.IsZero() || d.TTY {
		t.Errorf("running container: %+v", d)
	}
	if time.Since(d.Created) > time.Minute {
		t.Errorf("Created = %v, want about now", d.Created)
	}
	var raw struct {
		HostConfig struct {
			Init          bool
			RestartPolicy struct{ Name string }
			PortBindings  map[string][]struct{ HostIP, HostPort string }
		}
		Config struct {
			StopTimeout int
			Env         []string
		}
	}
	if err := json.Unmarshal(d.Raw, &raw); err != nil {
		t.Fatalf("Raw is not the inspect JSON: %v", err)
	}
	if !raw.HostConfig.Init || raw.HostConfig.RestartPolicy.Name != "unless-stopped" || raw.Config.StopTimeout != 30 ||
		!slices.Contains(raw.Config.Env, "BERTH_GREETING=berth-"+f.id) {
		t.Errorf("engine's view of the container: %+v", raw)
	}
	if b := raw.HostConfig.PortBindings["8080/tcp"]; len(b) != 1 || b[0].HostIP != "127.0.0.1" {
		t.Errorf("port bindings %+v, want 8080/tcp on 127.0.0.1 only", raw.HostConfig.PortBindings)
	}

	t.Run("List", func(t *testing.T) {
		for _, all := range []bool{false, true} {
			list, err := f.c.ListContainers(f.ctx, f.labels("berth.test.role", "web"), all)
			if err != nil {
				t.Fatalf("ListContainers: %v", err)
			}
			if len(list) != 1 {
				t.Fatalf("ListContainers(all=%v) = %+v, want the one container", all, list)
			}
			got := list[0]
			if got.ID != id || got.Name != name || got.State != "running" || !strings.HasPrefix(got.Status, "Up ") ||
				got.HostPort != d.HostPort || got.Image != testImage || got.ImageID != d.ImageID || got.Labels[testLabel] != f.id {
				t.Errorf("listed as %+v, inspected as %+v", got, d.ContainerInfo)
			}
		}
		if list, err := f.c.ListContainers(f.ctx, f.labels("berth.test.role", "worker"), true); err != nil || len(list) != 0 {
			t.Errorf("ListContainers(other role) = %+v, %v; want none", list, err)
		}
	})

	t.Run("PublishedPort", func(t *testing.T) {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(d.HostPort))
		var body string
		ok := waitFor(10*time.Second, func() bool {
			resp, err := http.Get("http://" + addr + "/")
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			body = string(b)
			return resp.StatusCode == http.StatusOK
		})
		if !ok || body != "hello from berth-"+f.id+"\n" {
			t.Fatalf("GET http://%s/: body %q, ok %v", addr, body, ok)
		}
		// Published on loopback only: the host's other addresses refuse.
		if ip := nonLoopbackIP(); ip != "" {
			conn, err := net.DialTimeout("tcp", net.JoinHostPort(ip, strconv.Itoa(d.HostPort)), time.Second)
			if err == nil {
				conn.Close()
				t.Errorf("port %d is reachable on %s, want 127.0.0.1 only", d.HostPort, ip)
			}
		}
	})

	t.Run("Exec", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		code, err := f.c.Exec(f.ctx, id, ExecOptions{
			Cmd:    []string{"sh", "-c", `echo "out $BERTH_GREETING $EXTRA"; echo err >&2; exit 4`},
			Env:    []string{"EXTRA=extra"},
			Stdout: &stdout,
			Stderr: &stderr,
		})
		if err != nil || code != 4 {
			t.Errorf("Exec = %d, %v; want 4", code, err)
		}
		if want := "out berth-" + f.id + " extra\n"; stdout.String() != want || stderr.String() != "err\n" {
			t.Errorf("Exec output %q / %q, want %q / %q", stdout.String(), stderr.String(), want, "err\n")
		}

		// Stdin, to its end.
		stdout.Reset()
		code, err = f.c.Exec(f.ctx, id, ExecOptions{
			Cmd:    []string{"sh", "-c", "tr a-z A-Z; echo after-eof"},
			Stdin:  strings.NewReader("piped\ninput"),
			Stdout: &stdout,
		})
		if err != nil || code != 0 || stdout.String() != "PIPED\nINPUTafter-eof\n" {
			t.Errorf("Exec with stdin = %d, %v, output %q", code, err, stdout.String())
		}

		// A TTY, with stdin and a resize.
		stdout.Reset()
		resize := make(chan [2]uint, 1)
		resize <- [2]uint{33, 77}
		code, err = f.c.Exec(f.ctx, id, ExecOptions{
			Cmd:    []string{"sh", "-c", "sleep 0.3; stty size; tty; read line; echo got:$line; exit 2"},
			TTY:    true,
			Stdin:  strings.NewReader("typed\n"),
			Stdout: &stdout,
			Resize: resize,
		})
		out := stdout.String()
		if err != nil || code != 2 || !strings.Contains(out, "33 77\r\n") || !strings.Contains(out, "/dev/pts/") || !strings.Contains(out, "got:typed\r\n") {
			t.Errorf("Exec with TTY = %d, %v, output %q", code, err, out)
		}

		// PID 1 is the init process (--init).
		stdout.Reset()
		if _, err := f.c.Exec(f.ctx, id, ExecOptions{Cmd: []string{"cat", "/proc/1/cmdline"}, Stdout: &stdout}); err != nil {
			t.Fatal(err)
		}
		if pid1 := strings.ReplaceAll(stdout.String(), "\x00", " "); !strings.Contains(pid1, "init") {
			t.Errorf("PID 1 is %q, want docker's init", pid1)
		}

		if _, err := f.c.Exec(f.ctx, id, ExecOptions{Cmd: []string{"/no/such/command"}}); err != nil {
			t.Logf("Exec of a missing command: %v", err)
		}
	})

	t.Run("Logs", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		if err := f.c.Logs(f.ctx, id, LogsOptions{}, &stdout, &stderr); err != nil {
			t.Fatalf("Logs: %v", err)
		}
		if stdout.String() != "started berth-"+f.id+"\n" || stderr.String() != "to stderr\n" {
			t.Errorf("Logs = %q / %q", stdout.String(), stderr.String())
		}
		stdout.Reset()
		stderr.Reset()
		if err := f.c.Logs(f.ctx, id, LogsOptions{Tail: "1", Timestamps: true}, &stdout, &stderr); err != nil {
			t.Fatalf("Logs: %v", err)
		}
		// The last line is either stream's (they are written concurrently).
		last := stdout.String() + stderr.String()
		ts, line, _ := strings.Cut(last, " ")
		if _, err := time.Parse(time.RFC3339Nano, ts); err != nil || (line != "to stderr\n" && line != "started berth-"+f.id+"\n") {
			t.Errorf("Logs(tail 1, timestamps) = %q / %q", stdout.String(), stderr.String())
		}
		stdout.Reset()
		stderr.Reset()
		if err := f.c.Logs(f.ctx, id, LogsOptions{Since: time.Now().Add(time.Hour)}, &stdout, &stderr); err != nil || stdout.Len()+stderr.Len() != 0 {
			t.Errorf("Logs(since the future) = %q / %q, %v; want nothing", stdout.String(), stderr.String(), err)
		}
		// Following a running container until ctx ends.
		ctx, cancel := context.WithTimeout(f.ctx, 300*time.Millisecond)
		defer cancel()
		stdout.Reset()
		err := f.c.Logs(ctx, id, LogsOptions{Follow: true}, &stdout, nil)
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(stdout.String(), "started") {
			t.Errorf("Logs(follow) ended by ctx: %v, output %q", err, stdout.String())
		}
	})

	start := time.Now()
	if err := f.c.StopContainer(f.ctx, id, time.Second); err != nil {
		t.Fatalf("StopContainer: %v", err)
	}
	if took := time.Since(start); took > 8*time.Second {
		t.Errorf("StopContainer with a 1 s timeout took %v", took)
	}
	d, err = f.c.InspectContainer(f.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if d.Running || d.State != "exited" || d.ExitCode != 137 || !strings.HasPrefix(d.Status, "Exited (137) ") || d.FinishedAt.Before(d.StartedAt) {
		t.Errorf("stopped container: %+v", d)
	}
	if err := f.c.StopContainer(f.ctx, id, time.Second); err != nil {
		t.Errorf("StopContainer on a stopped container: %v", err)
	}
	if list, err := f.c.ListContainers(f.ctx, f.labels(), false); err != nil || len(list) != 0 {
		t.Errorf("running containers after stop: %+v, %v", list, err)
	}
	if code, err := f.c.Wait(f.ctx, id); err != nil || code != 137 {
		t.Errorf("Wait on the stopped container = %d, %v; want 137", code, err)
	}

	if err := f.c.RemoveContainer(f.ctx, id, false); err != nil {
		t.Fatalf("RemoveContainer: %v", err)
	}
	if err := f.c.RemoveContainer(f.ctx, id, false); err != nil {
		t.Errorf("RemoveContainer of a removed container: %v", err)
	}
	for what, err := range map[string]error{
		"InspectContainer": func() error { _, err := f.c.InspectContainer(f.ctx, id); return err }(),
		"StartContainer":   f.c.StartContainer(f.ctx, id),
		"StopContainer":    f.c.StopContainer(f.ctx, id, time.Second),
		"Logs":             f.c.Logs(f.ctx, id, LogsOptions{}, io.Discard, io.Discard),
		"Wait":             func() error { _, err := f.c.Wait(f.ctx, id); return err }(),
		"Exec":             func() error { _, err := f.c.Exec(f.ctx, id, ExecOptions{Cmd: []string{"true"}}); return err }(),
		"Attach":           func() error { _, err := f.c.Attach(f.ctx, id, false); return err }(),
		"ResizeTTY":        f.c.ResizeTTY(f.ctx, id, 10, 10),
		"Commit":           func() error { _, err := f.c.Commit(f.ctx, id, "", nil); return err }(),
	} {
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("%s on a removed container: %v, want ErrNotFound", what, err)
		} else {
			checkOneLine(t, err)
		}
	}
}

// nonLoopbackIP returns one of the host's IPv4 addresses other than
// loopback, or "".
func nonLoopbackIP() string {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && ipn.IP.To4() != nil {
			return ipn.IP.String()
		}
	}
	return ""
}

func TestWaitAndFollowLogs(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id := f.create(ContainerSpec{Cmd: []string{"sh", "-c", "echo one; sleep 1; echo two; echo err >&2; exit 7"}})

	type result struct {
		code int
		err  error
	}
	waited := make(chan result, 1)
	go func() {
		// Called before StartContainer: waits for the coming exit.
		code, err := f.c.Wait(f.ctx, id)
		waited <- result{code, err}
	}()
	f.start(id)

	var stdout, stderr bytes.Buffer
	if err := f.c.Logs(f.ctx, id, LogsOptions{Follow: true}, &stdout, &stderr); err != nil {
		t.Fatalf("Logs(follow): %v", err)
	}
	// Following returned because the container exited.
	if d, err := f.c.InspectContainer(f.ctx, id); err != nil || d.Running {
		t.Errorf("Logs(follow) returned while the container runs (%v)", err)
	}
	if stdout.String() != "one\ntwo\n" || stderr.String() != "err\n" {
		t.Errorf("followed logs %q / %q", stdout.String(), stderr.String())
	}
	if r := <-waited; r.err != nil || r.code != 7 {
		t.Errorf("Wait = %d, %v; want 7", r.code, r.err)
	}
	// After the exit, Wait reports the recorded exit code at once.
	if code, err := f.c.Wait(f.ctx, id); err != nil || code != 7 {
		t.Errorf("second Wait = %d, %v; want 7", code, err)
	}

	t.Run("AutoRemove", func(t *testing.T) {
		id := f.create(ContainerSpec{Cmd: []string{"sh", "-c", "sleep 0.5; exit 5"}, AutoRemove: true})
		go func() {
			code, err := f.c.Wait(f.ctx, id)
			waited <- result{code, err}
		}()
		f.start(id)
		if r := <-waited; r.err != nil || r.code != 5 {
			t.Errorf("Wait on an AutoRemove container = %d, %v; want 5", r.code, r.err)
		}
		gone := waitFor(10*time.Second, func() bool {
			_, err := f.c.InspectContainer(f.ctx, id)
			return errors.Is(err, ErrNotFound)
		})
		if !gone {
			t.Errorf("AutoRemove container still there after exiting")
		}
		if _, err := f.c.Wait(f.ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Wait on a removed AutoRemove container: %v, want ErrNotFound", err)
		}
	})

	t.Run("RestartPolicy", func(t *testing.T) {
		id := f.create(ContainerSpec{Cmd: []string{"sh", "-c", "exit 1"}, RestartPolicy: "on-failure:2"})
		f.start(id)
		restarted := waitFor(15*time.Second, func() bool {
			d, err := f.c.InspectContainer(f.ctx, id)
			return err == nil && d.RestartCount == 2 && d.State == "exited"
		})
		if !restarted {
			d, _ := f.c.InspectContainer(f.ctx, id)
			t.Errorf("on-failure:2 container: restart count %d, state %s", d.RestartCount, d.State)
		}
		if _, err := f.c.CreateContainer(f.ctx, ContainerSpec{Image: testImage, RestartPolicy: "sometimes"}); err == nil {
			t.Errorf("CreateContainer accepted restart policy \"sometimes\"")
		}
	})
}

func TestAttach(t *testing.T) {
	t.Parallel()
	f := newFixture(t)

	t.Run("NoTTY", func(t *testing.T) {
		t.Parallel()
		id := f.create(ContainerSpec{Cmd: []string{"sh", "-c", "cat; sleep 0.2; echo done >&2; exit 3"}, OpenStdin: true})
		a, err := f.c.Attach(f.ctx, id, false)
		if err != nil {
			t.Fatalf("Attach: %v", err)
		}
		defer a.Close()
		f.start(id)
		if _, err := io.WriteString(a, "hello\nworld"); err != nil {
			t.Fatal(err)
		}
		if err := a.CloseWrite(); err != nil {
			t.Fatalf("CloseWrite: %v", err)
		}
		var stdout, stderr bytes.Buffer
		if err := f.c.Demux(a, &stdout, &stderr); err != nil {
			t.Fatalf("Demux: %v", err)
		}
		if stdout.String() != "hello\nworld" || stderr.String() != "done\n" {
			t.Errorf("attached output %q / %q", stdout.String(), stderr.String())
		}
		if code, err := f.c.Wait(f.ctx, id); err != nil || code != 3 {
			t.Errorf("Wait = %d, %v; want 3", code, err)
		}
	})

	t.Run("TTY", func(t *testing.T) {
		t.Parallel()
		id := f.create(ContainerSpec{Cmd: []string{"cat"}, TTY: true, OpenStdin: true})
		a, err := f.c.Attach(f.ctx, id, true)
		if err != nil {
			t.Fatalf("Attach: %v", err)
		}
		defer a.Close()
		var out syncBuffer
		copied := make(chan error, 1)
		go func() {
			_, err := io.Copy(&out, a)
			copied <- err
		}()
		f.start(id)
		if err := f.c.ResizeTTY(f.ctx, id, 40, 100); err != nil {
			t.Errorf("ResizeTTY: %v", err)
		}
		var size bytes.Buffer
		if _, err := f.c.Exec(f.ctx, id, ExecOptions{Cmd: []string{"stty", "-F", "/proc/1/fd/0", "size"}, Stdout: &size, Stderr: &size}); err != nil || size.String() != "40 100\n" {
			t.Errorf("terminal size after ResizeTTY: %q, %v; want \"40 100\"", size.String(), err)
		}
		if _, err := io.WriteString(a, "hello\npartial"); err != nil {
			t.Fatal(err)
		}
		if err := a.CloseWrite(); err != nil {
			t.Fatalf("CloseWrite: %v", err)
		}
		select {
		case err := <-copied:
			if err != nil {
				t.Errorf("reading the attachment: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("output did not end after CloseWrite; got %q", out.String())
		}
		// The terminal echoes the input, then cat writes it back, with
		// "\r\n" line ends; the partial line comes back once Ctrl-D submits it.
		if got := out.String(); got != "hello\r\npartialhello\r\npartial" {
			t.Errorf("TTY output %q", got)
		}
		if code, err := f.c.Wait(f.ctx, id); err != nil || code != 0 {
			t.Errorf("Wait = %d, %v; want 0", code, err)
		}
		var logs bytes.Buffer
		if err := f.c.Logs(f.ctx, id, LogsOptions{}, &logs, nil); err != nil || !strings.Contains(logs.String(), "hello\r\n") {
			t.Errorf("Logs of a TTY container: %q, %v", logs.String(), err)
		}
	})
}

func TestCommit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	base, err := f.c.InspectImage(f.ctx, testImage)
	if err != nil {
		t.Fatal(err)
	}
	// A predeploy-like container: another command, extra env and labels.
	id := f.create(ContainerSpec{
		Cmd:        []string{"sh", "-c", "echo kept > /berth-file"},
		Entrypoint: []string{"/bin/busybox"},
		WorkingDir: "/tmp",
		Env:        []string{"PREDEPLOY=1", "SECRET_KEY=s3cr3t-value"},
	})
	f.start(id)
	if code, err := f.c.Wait(f.ctx, id); err != nil || code != 0 {
		t.Fatalf("predeploy container: %d, %v", code, err)
	}
	ref := "berth-test/commit-" + f.id + ":1"
	imageID, err := f.c.Commit(f.ctx, id, ref, map[string]string{"berth.stage": "release"})
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	f.removeImageLater(ref)
	f.removeImageLater(imageID)
	info, err := f.c.InspectImage(f.ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("committed image config: Cmd %q Entrypoint %q WorkingDir %q Env %q Labels %v", info.Cmd, info.Entrypoint, info.WorkingDir, info.Env, info.Labels)
	wantDir := base.WorkingDir
	if wantDir == "" {
		wantDir = "/"
	}
	if info.ID != imageID || !slices.Equal(info.Cmd, base.Cmd) || len(info.Entrypoint) != 0 || info.WorkingDir != wantDir {
		t.Errorf("committed image %s: Cmd %q Entrypoint %q WorkingDir %q; want the base image's Cmd %q, no Entrypoint, WorkingDir %q",
			info.ID, info.Cmd, info.Entrypoint, info.WorkingDir, base.Cmd, wantDir)
	}
	if info.Labels["berth.stage"] != "release" || info.Labels["org.berthpaas.test.source"] != base.Labels["org.berthpaas.test.source"] {
		t.Errorf("committed image labels %v", info.Labels)
	}
	for _, e := range base.Env {
		if !slices.Contains(info.Env, e) {
			t.Errorf("committed image lost %s (Env %q)", e, info.Env)
		}
	}
	// No value set on the container reaches the image (issue 13): only
	// the base image's Env, and the container's names with empty values.
	for _, e := range info.Env {
		if !slices.Contains(base.Env, e) && e != "PREDEPLOY=" && e != "SECRET_KEY=" {
			t.Errorf("committed image carries %q, not in the base image (Env %q)", e, info.Env)
		}
	}

	run := f.create(ContainerSpec{Image: ref, Cmd: []string{"cat", "/berth-file"}})
	f.start(run)
	if code, err := f.c.Wait(f.ctx, run); err != nil || code != 0 {
		t.Fatalf("container from the committed image: %d, %v", code, err)
	}
	var out bytes.Buffer
	if err := f.c.Logs(f.ctx, run, LogsOptions{}, &out, &out); err != nil || out.String() != "kept\n" {
		t.Errorf("file written before the commit: %q, %v", out.String(), err)
	}
}

func TestEvents(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx, cancel := context.WithCancel(f.ctx)
	defer cancel()
	events, errc := f.c.Events(ctx, f.labels())

	// Another test's container must not show up.
	other := newFixture(t)
	other.start(other.create(ContainerSpec{Cmd: []string{"true"}}))

	name := f.name("events")
	id := f.create(ContainerSpec{Name: name, Cmd: []string{"sh", "-c", "exit 2"}})
	f.start(id)
	if _, err := f.c.Wait(f.ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := f.c.RemoveContainer(f.ctx, id, false); err != nil {
		t.Fatal(err)
	}

	var actions []string
	timeout := time.After(15 * time.Second)
collect:
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatalf("event stream ended early: %v", <-errc)
			}
			if ev.ContainerID != id {
				t.Errorf("event for another container: %+v", ev)
				continue
			}
			actions = append(actions, ev.Action)
			if ev.Name != name || ev.Image != testImage || ev.Labels[testLabel] != f.id || time.Since(ev.Time) > time.Minute {
				t.Errorf("event %+v", ev)
			}
			if _, ok := ev.Labels["name"]; ok {
				t.Errorf("event labels include the engine's attributes: %v", ev.Labels)
			}
			if ev.Action == "die" && ev.ExitCode != 2 {
				t.Errorf("die event with exit code %d, want 2", ev.ExitCode)
			}
			if ev.Action == "destroy" {
				break collect
			}
		case <-timeout:
			t.Fatalf("no destroy event; saw %q", actions)
		}
	}
	t.Logf("actions: %q", actions)
	for i, want := range []string{"create", "start", "die", "destroy"} {
		at := slices.Index(actions, want)
		if at < 0 || (i > 0 && at < slices.Index(actions, []string{"create", "start", "die"}[i-1])) {
			t.Errorf("actions %q: want create, start, die, destroy in that order", actions)
			break
		}
	}

	cancel()
	select {
	case _, ok := <-events:
		for ok {
			_, ok = <-events
		}
	case <-time.After(5 * time.Second):
		t.Fatal("event channel not closed after cancelling")
	}
	if err, ok := <-errc; ok && err != nil {
		t.Errorf("error after cancelling: %v", err)
	}
}

func TestNetwork(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	name := f.name("net")
	t.Cleanup(func() {
		ctx, cancel := cleanupCtx()
		defer cancel()
		if err := f.c.RemoveNetwork(ctx, name); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	for range 2 {
		if err := f.c.EnsureNetwork(f.ctx, name, f.labels(), SubnetPool{}); err != nil {
			t.Fatalf("EnsureNetwork: %v", err)
		}
	}
	list, err := f.c.api.NetworkList(f.ctx, client.NetworkListOptions{Filters: client.Filters{}.Add("label", testLabel+"="+f.id)})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 || list.Items[0].Name != name || list.Items[0].Driver != "bridge" {
		t.Fatalf("networks labelled %s: %+v, want one bridge named %s", f.id, list.Items, name)
	}

	alias := "svc-" + f.id
	server := f.create(ContainerSpec{Cmd: []string{"sleep", "30"}, Network: name, NetworkAliases: []string{alias}})
	f.start(server)
	probe := f.create(ContainerSpec{Cmd: []string{"ping", "-c", "1", "-W", "3", alias}, Network: name})
	f.start(probe)
	if code, err := f.c.Wait(f.ctx, probe); err != nil || code != 0 {
		var out bytes.Buffer
		_ = f.c.Logs(f.ctx, probe, LogsOptions{}, &out, &out)
		t.Errorf("pinging %s from the same network: exit %d, %v; output:\n%s", alias, code, err, out.String())
	}
	if err := f.c.RemoveContainer(f.ctx, server, true); err != nil {
		t.Fatal(err)
	}
	if err := f.c.RemoveContainer(f.ctx, probe, true); err != nil {
		t.Fatal(err)
	}
	if err := f.c.RemoveNetwork(f.ctx, name); err != nil {
		t.Fatalf("RemoveNetwork: %v", err)
	}
	if err := f.c.RemoveNetwork(f.ctx, name); err != nil {
		t.Errorf("RemoveNetwork of a removed network: %v", err)
	}
}

func TestNotFoundAndUnavailable(t *testing.T) {
	t.Parallel()
	t.Run("NotFound", func(t *testing.T) {
		f := newFixture(t)
		missing := "berth-test-missing-" + f.id
		for what, err := range map[string]error{
			"InspectContainer": func() error { _, err := f.c.InspectContainer(f.ctx, missing); return err }(),
			"InspectImage":     func() error { _, err := f.c.InspectImage(f.ctx, missing); return err }(),
			"RemoveImage":      f.c.RemoveImage(f.ctx, missing, true),
			"CreateContainer": func() error {
				_, err := f.c.CreateContainer(f.ctx, ContainerSpec{Image: "berth-test/missing:" + f.id})
				return err
			}(),
		} {
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("%s: %v, want ErrNotFound", what, err)
				continue
			}
			t.Logf("%s: %v", what, err)
			checkOneLine(t, err)
		}
		if err := f.c.RemoveContainer(f.ctx, missing, true); err != nil {
			t.Errorf("RemoveContainer of a missing container: %v", err)
		}
	})

	t.Run("Unavailable", func(t *testing.T) {
		api, err := client.New(client.WithHost("unix:///nonexistent/docker.sock"))
		if err != nil {
			t.Fatal(err)
		}
		c := &Client{api: api}
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		events, errc := c.Events(ctx, nil)
		for what, err := range map[string]error{
			"InspectImage":   func() error { _, err := c.InspectImage(ctx, testImage); return err }(),
			"ListContainers": func() error { _, err := c.ListContainers(ctx, nil, true); return err }(),
			"Build": func() error {
				_, err := c.Build(ctx, tarContext(t, map[string]string{"Dockerfile": "FROM scratch\n"}), BuildOptions{}, nil)
				return err
			}(),
			"Attach": func() error { _, err := c.Attach(ctx, "x", false); return err }(),
			"Exec":   func() error { _, err := c.Exec(ctx, "x", ExecOptions{Cmd: []string{"true"}}); return err }(),
			"Events": func() error {
				for range events {
				}
				return <-errc
			}(),
		} {
			if !errors.Is(err, ErrEngineUnavailable) {
				t.Errorf("%s: %v, want ErrEngineUnavailable", what, err)
				continue
			}
			var be *BuildError
			if errors.As(err, &be) {
				t.Errorf("%s: an unreachable engine gave a BuildError", what)
			}
			t.Logf("%s: %v", what, err)
			checkOneLine(t, err)
		}
	})
}

// A container that publishes other ports on 127.0.0.1 too (docker-options
// -p) keeps its HostPort: the binding of its PublishPort, in a listing and
// an inspect alike, whatever order the engine gives the bindings in.
func TestHostPortIsThePublishedPort(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	other := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	id := f.create(ContainerSpec{
		Cmd:         []string{"sleep", "60"},
		PublishPort: 8080,
		Ports:       []PortBinding{{HostIP: "127.0.0.1", HostPort: other, ContainerPort: 9090}},
	})
	f.start(id)
	d, err := f.c.InspectContainer(f.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if d.HostPort == 0 || d.HostPort == other || d.Labels[LabelPublishedPort] != "8080" {
		t.Errorf("inspect: HostPort %d (the other binding is %d), label %q", d.HostPort, other, d.Labels[LabelPublishedPort])
	}
	list, err := f.c.ListContainers(f.ctx, f.labels(), false)
	if err != nil || len(list) != 1 {
		t.Fatalf("list = %+v, %v", list, err)
	}
	if list[0].HostPort != d.HostPort {
		t.Errorf("list: HostPort %d, inspect %d (the other binding is %d)", list[0].HostPort, d.HostPort, other)
	}
}
