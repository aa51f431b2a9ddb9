package store

import (
	"reflect"
	"testing"
	"time"
)

func TestReleaseSteps(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	var rel Release
	mustTx(t, s, func(tx *Tx) error {
		a, err := tx.CreateApp("shop", fixedNow)
		if err != nil {
			return err
		}
		rel, err = tx.CreateRelease(a, Release{Source: "archive", CreatedAt: fixedNow})
		return err
	})
	read := func() []StepTime {
		var got []StepTime
		mustTx(t, s, func(tx *Tx) error {
			rs, err := tx.Releases(App{ID: rel.AppID, Name: "shop"})
			if err != nil || len(rs) != 1 {
				t.Fatalf("releases = %+v, %v", rs, err)
			}
			got = rs[0].Steps
			return nil
		})
		return got
	}
	if got := read(); len(got) != 0 {
		t.Errorf("a new release has steps %+v", got)
	}
	first := []StepTime{{"build", 1500 * time.Millisecond}, {"check", 250 * time.Millisecond}, {"switch", 1234567 * time.Microsecond}}
	mustTx(t, s, func(tx *Tx) error { return tx.SetReleaseSteps(rel, first) })
	want := []StepTime{{"build", 1500 * time.Millisecond}, {"check", 250 * time.Millisecond}, {"switch", 1234 * time.Millisecond}}
	if got := read(); !reflect.DeepEqual(got, want) {
		t.Errorf("steps = %+v, want %+v (whole milliseconds, in order)", got, want)
	}
	// A redeploy of the release replaces them; UpdateRelease keeps them.
	again := []StepTime{{"start", 100 * time.Millisecond}}
	mustTx(t, s, func(tx *Tx) error {
		if err := tx.SetReleaseSteps(rel, again); err != nil {
			return err
		}
		rel.Status = ReleaseLive
		return tx.UpdateRelease(rel)
	})
	if got := read(); !reflect.DeepEqual(got, again) {
		t.Errorf("steps after a redeploy = %+v, want %+v", got, again)
	}
}
