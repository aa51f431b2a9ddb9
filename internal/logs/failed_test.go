package logs

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFailedOutputKeptForLogs(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	path := filepath.Join(t.TempDir(), "apps", "shop", "failed-deploy.json")
	cs := []FailedContainer{
		{Dyno: "web.1", Status: "exited with code 3", Lines: []string{"2026-01-02T03:04:01.000000001Z starting", "2026-01-02T03:04:02.000000001Z boom"}},
		{Dyno: "worker.1", Status: "exited with code 0"},
	}
	if err := KeepFailure(path, Failure{Release: 7, At: at, Containers: cs}); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	WriteFailure(path, "shop", Options{Lines: 1}, &out)
	want := "2026-01-02T03:04:02.000000001Z shop[web.1, failed release 7]: boom\n" +
		"2026-01-02T03:04:05Z shop[worker.1, failed release 7]: (no output; exited with code 0)\n"
	if out.String() != want {
		t.Errorf("logs:\n%s\nwant:\n%s", out.String(), want)
	}
	out.Reset()
	WriteFailure(path, "shop", Options{Quiet: true, Process: "web"}, &out)
	if out.String() != "starting\nboom\n" {
		t.Errorf("logs -q -p web: %q", out.String())
	}
	if err := ForgetFailure(path); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	WriteFailure(path, "shop", Options{}, &out)
	if out.String() != "" {
		t.Errorf("after a successful deploy: %q", out.String())
	}
	if got := cs[0].Tail(1); len(got) != 1 || got[0] != "boom" {
		t.Errorf("tail = %q", got)
	}
}
