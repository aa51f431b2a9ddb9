package logs

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/berthpaas/berth/internal/docker"
)

// keptLines is how many lines of a failed container's output are kept for
// `logs`; TailLines how many a deploy error shows.
const (
	keptLines = 200
	TailLines = 10
)

// FailedContainer is what a container of a failed deploy left: why it
// stopped and its last output, kept for `logs` after the container is
// removed.
type FailedContainer struct {
	Dyno string `json:"dyno"`
	// Status is "exited with code 0", "restarting after exiting with code
	// 1, restarted 3 times", "running again after 2 restarts" or "running".
	Status string `json:"status"`
	// Lines are its last output lines, each starting with the engine's
	// RFC 3339 timestamp.
	Lines []string `json:"lines"`
}

// Failure is the output kept from the last failed deploy of an app.
type Failure struct {
	Release    int               `json:"release"`
	At         time.Time         `json:"at"`
	Containers []FailedContainer `json:"containers"`
}

// Failed collects the failed containers of one deploy (checks run in
// parallel). The zero value is ready to use.
type Failed struct {
	mu         sync.Mutex
	containers []FailedContainer
}

// Add records a failed container.
func (f *Failed) Add(c FailedContainer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.containers = append(f.containers, c)
}

// Containers returns the failed containers recorded so far.
func (f *Failed) Containers() []FailedContainer {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.containers
}

// FailureReader is what explaining a failed container reads: its state and
// its last output.
type FailureReader interface {
	InspectContainer(ctx context.Context, idOrName string) (docker.ContainerDetails, error)
	Logs(ctx context.Context, id string, opts docker.LogsOptions, stdout, stderr io.Writer) error
}

// Explain inspects a container whose checks failed and returns how it
// ended and its last output lines (with timestamps), for the deploy error
// and for `logs`.
func Explain(ctx context.Context, eng FailureReader, id, dyno string) FailedContainer {
	fc := FailedContainer{Dyno: dyno, Status: "in an unknown state"}
	det, err := eng.InspectContainer(ctx, id)
	// A crash-looping container that is running again has no exit code to
	// show: catch it between two runs (the engine's restart delay starts at
	// 100 ms and doubles), for up to 3 s.
	for i := 0; err == nil && det.Running && det.State != "restarting" && det.RestartCount > 0 && i < 60; i++ {
		time.Sleep(50 * time.Millisecond)
		det, err = eng.InspectContainer(ctx, id)
	}
	if err == nil {
		switch {
		case det.State == "restarting":
			fc.Status = fmt.Sprintf("restarting after exiting with code %d, restarted %d times", det.ExitCode, det.RestartCount)
		case det.Running && det.RestartCount > 0:
			fc.Status = fmt.Sprintf("running again after %d restarts", det.RestartCount)
		case det.Running:
			fc.Status = "running"
		default:
			fc.Status = fmt.Sprintf("exited with code %d", det.ExitCode)
			if det.RestartCount > 0 {
				fc.Status += fmt.Sprintf(" after %d restarts", det.RestartCount)
			}
		}
	}
	var buf strings.Builder
	eng.Logs(ctx, id, docker.LogsOptions{Tail: fmt.Sprint(keptLines), Timestamps: true}, &buf, &buf)
	sc := bufio.NewScanner(strings.NewReader(buf.String()))
	for sc.Scan() {
		fc.Lines = append(fc.Lines, sc.Text())
	}
	return fc
}

// Tail returns the container's last n output lines without timestamps.
func (fc FailedContainer) Tail(n int) []string {
	lines := fc.Lines[max(0, len(fc.Lines)-n):]
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = stripTimestamp(l)
	}
	return out
}

// stripTimestamp removes the engine's leading RFC 3339 timestamp.
func stripTimestamp(line string) string {
	ts, rest, ok := strings.Cut(line, " ")
	if ok && len(ts) > 20 && ts[4] == '-' && ts[10] == 'T' {
		return rest
	}
	return line
}

// KeepFailure records the output of a failed deploy's containers at path,
// for `logs` (nothing is recorded when no container failed).
func KeepFailure(path string, f Failure) error {
	if len(f.Containers) == 0 {
		return nil
	}
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

// ForgetFailure drops the output kept at path (once a deploy succeeds);
// nothing kept is no error.
func ForgetFailure(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// WriteFailure writes the output kept at path as `logs` shows it: "TIME
// APP[web.1, failed release 2]: line" (the bare lines with Quiet), limited
// to the last lines of each container (0: all). Nothing kept writes
// nothing.
func WriteFailure(path, app string, opts Options, out io.Writer) {
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	var fd Failure
	if json.Unmarshal(b, &fd) != nil {
		return
	}
	for _, c := range fd.Containers {
		typ, _, _ := strings.Cut(c.Dyno, ".")
		if opts.Process != "" && typ != opts.Process {
			continue
		}
		prefix := fmt.Sprintf("%s[%s, failed release %d]: ", app, c.Dyno, fd.Release)
		lines := c.Lines
		if opts.Lines > 0 {
			lines = lines[max(0, len(lines)-opts.Lines):]
		}
		if len(lines) == 0 && !opts.Quiet {
			fmt.Fprintf(out, "%s%s(no output; %s)\n", fd.At.UTC().Format(time.RFC3339Nano)+" ", prefix, c.Status)
		}
		w := &lineWriter{mu: &sync.Mutex{}, out: out, prefix: prefix, quiet: opts.Quiet}
		for _, l := range lines {
			if opts.Quiet {
				l = stripTimestamp(l)
			}
			w.emit(l)
		}
	}
}
