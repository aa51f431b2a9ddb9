package deploy

import (
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

// failedLogLines is how many lines of a failed container's output are kept
// for `logs`; failedTailLines how many the deploy error shows.
const (
	failedLogLines  = 200
	failedTailLines = 10
)

// failedContainer is what a container of a failed deploy left: why it
// stopped and its last output, kept for `logs` after the container is
// removed.
type failedContainer struct {
	Dyno string `json:"dyno"`
	// Status is "exited with code 0", "restarting after exiting with code
	// 1, restarted 3 times", "running again after 2 restarts" or "running".
	Status string `json:"status"`
	// Lines are its last output lines, each starting with the engine's
	// RFC 3339 timestamp.
	Lines []string `json:"lines"`
}

// failedDeploy is the output kept from the last failed deploy of an app.
type failedDeploy struct {
	Release    int               `json:"release"`
	At         time.Time         `json:"at"`
	Containers []failedContainer `json:"containers"`
}

// failedLogPath is where the output of an app's last failed deploy is kept.
func (d *Deployer) failedLogPath(app string) string {
	return filepath.Join(d.dataDir, "apps", app, "failed-deploy.json")
}

// failedOutputs collects the failed containers of one deploy (checks run
// in parallel).
type failedOutputs struct {
	mu         sync.Mutex
	containers []failedContainer
}

func (f *failedOutputs) add(c failedContainer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.containers = append(f.containers, c)
}

// failureReader is what explaining a failed container reads: its state and
// its last output.
type failureReader interface {
	InspectContainer(ctx context.Context, idOrName string) (docker.ContainerDetails, error)
	Logs(ctx context.Context, id string, opts docker.LogsOptions, stdout, stderr io.Writer) error
}

// explainFailure inspects a container whose checks failed and returns how
// it ended and its last output lines (with timestamps), for the deploy
// error and for `logs`.
func explainFailure(ctx context.Context, eng failureReader, id, dyno string) failedContainer {
	fc := failedContainer{Dyno: dyno, Status: "in an unknown state"}
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
	eng.Logs(ctx, id, docker.LogsOptions{Tail: fmt.Sprint(failedLogLines), Timestamps: true}, &buf, &buf)
	fc.Lines = splitLines(buf.String())
	return fc
}

// tail returns the container's last n output lines without timestamps.
func (fc failedContainer) tail(n int) []string {
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

// keepFailedOutput records the output of a failed deploy's containers for
// `logs` (nothing is recorded when no container failed).
func (d *Deployer) keepFailedOutput(app string, release int, cs []failedContainer) error {
	if len(cs) == 0 {
		return nil
	}
	b, err := json.Marshal(failedDeploy{Release: release, At: d.now(), Containers: cs})
	if err != nil {
		return err
	}
	p := d.failedLogPath(app)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	return os.WriteFile(p, b, 0o600)
}

// forgetFailedOutput drops the kept output once a deploy succeeds.
func (d *Deployer) forgetFailedOutput(app string) {
	if err := os.Remove(d.failedLogPath(app)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		d.log.Warn("remove failed deploy output", "app", app, "err", err)
	}
}

// writeFailedOutput writes the kept output of the app's last failed deploy
// as `logs` shows it: "TIME APP[web.1, failed release 2]: line" (the bare
// lines with quiet), limited to the last lines of each container (0: all).
func (d *Deployer) writeFailedOutput(app string, opts LogsOptions, out io.Writer) {
	b, err := os.ReadFile(d.failedLogPath(app))
	if err != nil {
		return
	}
	var fd failedDeploy
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
		w := &logWriter{mu: &sync.Mutex{}, out: out, prefix: prefix, quiet: opts.Quiet}
		for _, l := range lines {
			if opts.Quiet {
				l = stripTimestamp(l)
			}
			w.emit(l)
		}
	}
}
