package deploy

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/store"
)

func TestDescribeSteps(t *testing.T) {
	steps := []store.StepTime{
		{Step: "source", Duration: 2 * time.Millisecond}, // under 5 ms: not shown, but counted
		{Step: "build", Duration: 410 * time.Millisecond},
		{Step: "start", Duration: 110 * time.Millisecond},
		{Step: "check", Duration: 520 * time.Millisecond},
		{Step: "switch", Duration: 70 * time.Millisecond},
		{Step: "retire", Duration: 8 * time.Millisecond},
	}
	if got, want := Overhead(steps), 190*time.Millisecond; got != want {
		t.Errorf("Overhead = %v, want %v (all but build and check)", got, want)
	}
	got := DescribeSteps(1123*time.Millisecond, steps)
	want := "Deploy took 1.12s: build 0.41s, start 0.11s, check 0.52s, switch 0.07s, retire 0.01s (Berth's own share 0.19s)"
	if got != want {
		t.Errorf("DescribeSteps = %q\nwant %q", got, want)
	}
}

// A deploy keeps each step's time with its release, in the order the steps
// ran, and ends its log with them; a redeploy of the release replaces them.
func TestDeployRecordsStepTimes(t *testing.T) {
	h := newHarness(t)
	h.mustDeploy(twoTypes...)
	names := func() []string {
		var out []string
		for _, s := range h.releases()[0].Steps {
			out = append(out, s.Step)
		}
		return out
	}
	want := []string{"source", "build", "release", "env", "predeploy", "release-command", "start", "check", "switch", "drain", "retire", "postdeploy"}
	if got := names(); !reflect.DeepEqual(got, want) {
		t.Errorf("steps of the first deploy = %q, want %q", got, want)
	}
	lines := strings.Split(strings.TrimSpace(h.out.String()), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "-----> Deploy took ") || !strings.Contains(last, "Berth's own share") {
		t.Errorf("last line = %q", last)
	}
	h.out.Reset()
	if ok, err := h.d.Redeploy(context.Background(), "shop", h.out, "config:set"); !ok || err != nil {
		t.Fatalf("redeploy: %v %v", ok, err)
	}
	want = []string{"release", "start", "check", "switch", "drain", "retire"}
	if got := names(); !reflect.DeepEqual(got, want) {
		t.Errorf("steps after a redeploy = %q, want %q", got, want)
	}
	if !strings.Contains(h.out.String(), "-----> Deploy took ") {
		t.Errorf("the redeploy's log lacks its times:\n%s", h.out)
	}
}
