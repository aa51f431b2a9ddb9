package deploy

import (
	"context"
	"io"
	"testing"

	"github.com/berthpaas/berth/internal/docker"
)

// Config.Ended hears how each deploy, redeploy and rollback ended.
func TestEndedIsToldOfEachDeploy(t *testing.T) {
	h := newHarness(t)
	var got []DeployEnd
	h.d.ended = func(e DeployEnd) { got = append(got, e) }
	h.mustDeploy(twoTypes...)
	h.mustDeploy(twoTypes...)
	h.eng.buildErr = &docker.BuildError{Msg: "make failed"}
	if _, err := h.deploy(twoTypes...); err == nil {
		t.Fatal("the build did not fail")
	}
	h.eng.buildErr = nil
	if _, err := h.d.Redeploy(context.Background(), "shop", io.Discard, "config:set"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.d.Rollback(context.Background(), "shop", 1, io.Discard, "releases:rollback"); err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 {
		t.Fatalf("told %d times: %+v", len(got), got)
	}
	if e := got[0]; e.App != "shop" || e.Release != 1 || e.Err != nil || e.Redeploy || e.RollbackOf != 0 || e.Took <= 0 || e.By != "test" {
		t.Errorf("first deploy: %+v", e)
	}
	if e := got[2]; e.Release != 3 || e.Err == nil || e.Err.Step != "build" {
		t.Errorf("failed deploy: %+v", e)
	}
	if e := got[3]; !e.Redeploy || e.Release != 2 || e.Err != nil || e.By != "config:set" {
		t.Errorf("redeploy: %+v", e)
	}
	if e := got[4]; e.RollbackOf != 1 || e.Release != 4 || e.Err != nil {
		t.Errorf("rollback: %+v", e)
	}
}
