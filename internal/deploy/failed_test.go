package deploy

import (
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestFailedOutputKeptForLogs(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	d := &Deployer{dataDir: t.TempDir(), now: func() time.Time { return at }, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	cs := []failedContainer{
		{Dyno: "web.1", Status: "exited with code 3", Lines: []string{"2026-01-02T03:04:01.000000001Z starting", "2026-01-02T03:04:02.000000001Z boom"}},
		{Dyno: "worker.1", Status: "exited with code 0"},
	}
	if err := d.keepFailedOutput("shop", 7, cs); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	d.writeFailedOutput("shop", LogsOptions{Lines: 1}, &out)
	want := "2026-01-02T03:04:02.000000001Z shop[web.1, failed release 7]: boom\n" +
		"2026-01-02T03:04:05Z shop[worker.1, failed release 7]: (no output; exited with code 0)\n"
	if out.String() != want {
		t.Errorf("logs:\n%s\nwant:\n%s", out.String(), want)
	}
	out.Reset()
	d.writeFailedOutput("shop", LogsOptions{Quiet: true, Process: "web"}, &out)
	if out.String() != "starting\nboom\n" {
		t.Errorf("logs -q -p web: %q", out.String())
	}
	d.forgetFailedOutput("shop")
	out.Reset()
	d.writeFailedOutput("shop", LogsOptions{}, &out)
	if out.String() != "" {
		t.Errorf("after a successful deploy: %q", out.String())
	}
	if got := cs[0].tail(1); len(got) != 1 || got[0] != "boom" {
		t.Errorf("tail = %q", got)
	}
}

func TestStepErrorMoreLines(t *testing.T) {
	e := &StepError{Step: "check", Err: errors.New("web.1: check \"default\" failed: container not running (web.1 exited with code 0)\nignored"), More: []string{"web.1 printed nothing"}}
	want := "Deploy failed at step check: web.1: check \"default\" failed: container not running (web.1 exited with code 0)\nweb.1 printed nothing"
	if e.Error() != want {
		t.Errorf("got %q", e.Error())
	}
}
