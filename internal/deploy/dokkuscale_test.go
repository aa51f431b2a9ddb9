package deploy

import (
	"context"
	"testing"
)

// DOKKU_SCALE sets the formation at a deploy; a redeploy of the live
// release (config:set, ps:restart) keeps what ps:scale set since.
func TestRedeployKeepsScaleOverDokkuScale(t *testing.T) {
	h := newHarness(t)
	h.mustDeploy(twoTypes...) // DOKKU_SCALE web=1 worker=1
	ctx := context.Background()
	if _, err := h.d.Scale(ctx, "shop", map[string]int{"web": 3}, false, h.out, "test"); err != nil {
		t.Fatal(err)
	}
	if ok, err := h.d.Redeploy(ctx, "shop", h.out, "config:set"); !ok || err != nil {
		t.Fatalf("redeploy: %v %v\n%s", ok, err, h.out)
	}
	if f := h.formation(); f["web"] != 3 {
		t.Errorf("after a redeploy web=%d, want the 3 ps:scale set", f["web"])
	}
	h.mustDeploy(twoTypes...)
	if f := h.formation(); f["web"] != 1 {
		t.Errorf("after a deploy web=%d, want DOKKU_SCALE's 1", f["web"])
	}
}
