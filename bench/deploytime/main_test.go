package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestParseSteps(t *testing.T) {
	out := "-----> Switched shop to release 2\n-----> Deploy took 1.42s: release 0.01s, start 1.08s, check 0.29s, switch 0.03s (Berth's own share 1.13s)\n"
	steps, total := parseSteps(out)
	if total != 1420*time.Millisecond || steps["start"] != 1080*time.Millisecond || steps["check"] != 290*time.Millisecond || len(steps) != 4 {
		t.Errorf("steps %v, total %v", steps, total)
	}
	if steps, total := parseSteps("-----> Application deployed\n"); len(steps) != 0 || total != 0 {
		t.Errorf("no line: steps %v, total %v", steps, total)
	}
}

func TestEarlier(t *testing.T) {
	file := filepath.Join(t.TempDir(), "deploy.md")
	report := "## Deploy time\n\n| scenario | wall | × by hand |\n|---|---:|---:|\n| by hand (docker build + run + first 200) | 1.97 s (1.66–2.24) | 1.00× |\n| config:set | 6.94 s (6.83–6.95) | 3.52× |\n"
	if err := os.WriteFile(file, []byte(report), 0o644); err != nil {
		t.Fatal(err)
	}
	got := earlier(file)
	if got["config:set"] != 6940*time.Millisecond || got["by hand (docker build + run + first 200)"] != 1970*time.Millisecond || len(got) != 2 {
		t.Errorf("earlier = %v", got)
	}
}

func TestMedian(t *testing.T) {
	if got := median([]time.Duration{3, 1, 2}); got != 2 {
		t.Errorf("median of 3 = %v", got)
	}
	if got := median([]time.Duration{4, 1, 2, 3}); got != 2 {
		t.Errorf("median of 4 = %v", got)
	}
}
