package deploy

import (
	"context"
	"strings"
	"testing"

	"github.com/berthpaas/berth/internal/store"
)

// ps:set skip-deploy true: a deploy builds and keeps its release but starts
// nothing, and the running release stays; the release can be deployed
// later by releases:rollback; unset, deploys run again.
func TestSkipDeploy(t *testing.T) {
	h := newHarness(t)
	first := h.mustDeploy(twoTypes...)
	before := h.eng.names()
	shop := h.app()
	h.tx(func(tx *store.Tx) error { return tx.SetProperty(shop.Scope(), "ps", "skip-deploy", "true") })
	h.out.Reset()
	rel, err := h.deploy(twoTypes...)
	if err != nil {
		t.Fatalf("deploy with skip-deploy: %v\n%s", err, h.out)
	}
	if !strings.Contains(h.out.String(), "Skipping deployment") {
		t.Errorf("output:\n%s", h.out)
	}
	if got := h.eng.names(); got != before {
		t.Errorf("containers changed: %s, were %s", got, before)
	}
	var live store.Release
	h.tx(func(tx *store.Tx) (err error) { live, err = tx.LiveRelease(shop); return err })
	if live.Number != first.Number {
		t.Errorf("live release = %d, want %d", live.Number, first.Number)
	}
	for _, r := range h.releases() {
		if r.Number == rel.Number && (r.Status != store.ReleaseSuperseded || r.Error != skippedDeploy || r.Image == "") {
			t.Errorf("skipped release = %+v", r)
		}
	}
	// releases:rollback APP N deploys the skipped build (a rollback is not
	// skipped).
	if _, err := h.d.Rollback(context.Background(), "shop", rel.Number, h.out, "test"); err != nil {
		t.Fatalf("rollback to the skipped release: %v\n%s", err, h.out)
	}
	h.tx(func(tx *store.Tx) error { return tx.UnsetProperty(shop.Scope(), "ps", "skip-deploy") })
	last := h.mustDeploy(twoTypes...)
	h.tx(func(tx *store.Tx) (err error) { live, err = tx.LiveRelease(shop); return err })
	if live.Number != last.Number || !strings.Contains(h.out.String(), "Switched") {
		t.Errorf("deploy after unset: live %d, want %d\n%s", live.Number, last.Number, h.out)
	}
}

// ps:set dockerfile-start-cmd replaces the image's CMD of the types without
// a Procfile command; cleared, the image's CMD runs again.
func TestDockerfileStartCmd(t *testing.T) {
	h := newHarness(t)
	shop := h.app()
	h.tx(func(tx *store.Tx) error {
		return tx.SetProperty(shop.Scope(), "ps", "dockerfile-start-cmd", "node server.js --port $PORT")
	})
	h.mustDeploy()
	if got := strings.Join(h.eng.byName()["shop.web.1"].spec.Cmd, " "); got != "node server.js --port 5000" {
		t.Errorf("web.1 command = %q", got)
	}
	h.tx(func(tx *store.Tx) error { return tx.UnsetProperty(shop.Scope(), "ps", "dockerfile-start-cmd") })
	h.mustDeploy()
	if got := h.eng.byName()["shop.web.1"].spec.Cmd; len(got) != 0 {
		t.Errorf("web.1 command after unset = %q, want the image's CMD", got)
	}
}
