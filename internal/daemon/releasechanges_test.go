package daemon

import (
	"reflect"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/store"
)

func TestReleaseChanges(t *testing.T) {
	rels := []store.Release{ // newest first
		{Number: 3, Config: map[string]string{"A": "1", "B": "3", "D": "4"}, Steps: []store.StepTime{{Step: "build", Duration: 1500 * time.Millisecond}, {Step: "start", Duration: 500 * time.Millisecond}}, StartedBy: "a git push by key me"},
		{Number: 2, Config: map[string]string{"A": "1", "B": "2", "C": "x"}},
		{Number: 1, Config: map[string]string{"A": "1"}},
	}
	got := releaseChanges(rels).Releases
	if len(got) != 3 {
		t.Fatalf("got %d releases", len(got))
	}
	r3 := got[0]
	if r3.Number != 3 || r3.Previous != 2 || !reflect.DeepEqual(r3.Added, []string{"D"}) || !reflect.DeepEqual(r3.Removed, []string{"C"}) ||
		!reflect.DeepEqual(r3.Changed, []string{"B"}) || r3.DeployMS != 2000 || r3.StartedBy != "a git push by key me" {
		t.Errorf("release 3: %+v", r3)
	}
	if r1 := got[2]; r1.Previous != 0 || !reflect.DeepEqual(r1.Added, []string{"A"}) || r1.Removed != nil || r1.Changed != nil {
		t.Errorf("release 1: %+v", r1)
	}
}
