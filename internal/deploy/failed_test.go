package deploy

import (
	"errors"
	"testing"
)

func TestStepErrorMoreLines(t *testing.T) {
	e := &StepError{Step: "check", Err: errors.New("web.1: check \"default\" failed: container not running (web.1 exited with code 0)\nignored"), More: []string{"web.1 printed nothing"}}
	want := "Deploy failed at step check: web.1: check \"default\" failed: container not running (web.1 exited with code 0)\nweb.1 printed nothing"
	if e.Error() != want {
		t.Errorf("got %q", e.Error())
	}
}
